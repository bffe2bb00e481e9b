//go:build integration

package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

var defaults = []string{"fool", "idiot", "moron"}

// start runs a catalogue replica on conn until the test ends or stop is called, and waits until it is ready.
func start(t *testing.T, conn *amqp.Connection, defaults []string) (*catalog.Catalog, func()) {
	t.Helper()
	c := catalog.New(defaults, testkit.Logger(t, "catalog"), nil)
	stop := testkit.Go(t, func(ctx context.Context) error { return c.Follow(ctx, conn) })
	select {
	case <-c.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("catalogue replica not ready within 30s")
	}
	return c, stop
}

// logEntry is one entry of the log as stored.
type logEntry struct {
	offset int64
	size   int
	entry  catalog.Entry
}

// readLog appends a marker entry and returns every entry the log holds before it, oldest first, and the
// marker's offset. The marker makes the end of the log an event rather than a pause.
func readLog(t *testing.T, conn *amqp.Connection) ([]logEntry, int64) {
	t.Helper()
	return readLogFrom(t, conn, "first")
}

func readLogFrom(t *testing.T, conn *amqp.Connection, from any) ([]logEntry, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := testkit.Channel(t, conn)
	if err := ch.Qos(1000, 0, false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(topology.InsultLog, "", false, false, false, false, amqp.Table{"x-stream-offset": from})
	if err != nil {
		t.Fatal(err)
	}
	nonce := fmt.Sprintf("test-marker-%d", time.Now().UnixNano())
	pub := testkit.Publisher(t, conn)
	body, _ := json.Marshal(catalog.Entry{Op: catalog.OpSync, Nonce: nonce})
	if err := pub.Publish(ctx, "", topology.InsultLog, amqp.Publishing{ContentType: "application/json", Body: body}); err != nil {
		t.Fatal(err)
	}
	var out []logEntry
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("marker not read back within 30s (%d entries read)", len(out))
		case d := <-deliveries:
			_ = d.Ack(false)
			offset, _ := d.Headers["x-stream-offset"].(int64)
			var e catalog.Entry
			if err := json.Unmarshal(d.Body, &e); err != nil {
				t.Fatalf("entry at %d: %v", offset, err)
			}
			if e.Nonce == nonce {
				return out, offset
			}
			out = append(out, logEntry{offset, len(d.Body), e})
		}
	}
}

// TestStartAppendsNothing: once the log exists, replicas start without writing to it.
func TestStartAppendsNothing(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	writer, _ := start(t, conn, defaults)
	if err := writer.Append(context.Background(), catalog.Entry{Op: catalog.OpAdd, Insult: "popinjay"}); err != nil {
		t.Fatal(err)
	}
	_, before := readLog(t, conn)
	for range 20 {
		c, stop := start(t, conn, defaults)
		if s := c.Snapshot(); !s.Has("popinjay") || !s.Has("fool") {
			t.Fatalf("replica's catalogue %q misses entries", s.Insults)
		}
		stop()
	}
	if between, _ := readLogFrom(t, conn, before+1); len(between) != 0 {
		t.Fatalf("20 replica starts appended %d entries, want none: %+v", len(between), between[0].entry)
	}
}

// TestEmptyLog: on a log nobody wrote yet, a replica without defaults is ready with an empty catalogue, and
// one with defaults seeds it.
func TestEmptyLog(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	c, _ := start(t, conn, nil)
	if s := c.Snapshot(); len(s.Insults) != 0 || s.Seeded {
		t.Fatalf("empty log gave %+v", s)
	}
	seeded, _ := start(t, conn, defaults)
	if s := seeded.Snapshot(); !slices.Equal(s.Insults, defaults) {
		t.Fatalf("seeded catalogue %q, want %q", s.Insults, defaults)
	}
	testkit.Eventually(t, 10*time.Second, "the first replica to see the seed", func() bool { return c.Snapshot().Seeded })
}

// bigInsult is an insult of the longest kind the insult service accepts (200 characters of 4 bytes each),
// so that few changes fill the log.
func bigInsult(i int) string {
	p := fmt.Sprintf("insult %06d ", i)
	return p + strings.Repeat("😀", 200-len(p))
}

// Retention bound of the log (shared/topology): 4 MiB, in 256 KiB segments. Retention never drops the
// segment being written and works in whole segments, so stored bytes stay under the bound plus two segments.
const (
	retained = 4<<20 + 2*256<<10
	changes  = 10_000
	starts   = 100
)

// TestLogStaysSmall makes 10 000 changes of the largest insults from two writer replicas (four appenders each)
// while 100 replicas start, then checks that the log holds no more than retention allows, that a new replica
// reads only a snapshot and what follows it, and that its catalogue is exactly the result of the changes.
//
// Each change is a log entry of at least 850 bytes, so the log holds at most retained/850 ≈ 5 550 of them:
// about half the changes written. Snapshots (one per 16 KiB of changes, about 19 of them) add about 5 %: the
// bound on entries is 10 % over that, some 6 100.
func TestLogStaysSmall(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	w1, _ := start(t, conn, defaults)
	w2, _ := start(t, testkit.Conn(t, url), defaults)

	// Insult i is added, then removed by the next appender that gets to it, save every 1 000th: the
	// catalogue stays small, so that snapshots are cheap and the log is mostly changes.
	type change struct {
		op string
		i  int
		// added is closed once the add of insult i has applied at its writer.
		added chan struct{}
	}
	work := make(chan change)
	var kept []string
	go func() {
		defer close(work)
		n := 0
		for i := 0; n < changes; i++ {
			added := make(chan struct{})
			work <- change{catalog.OpAdd, i, added}
			n++
			if i%1000 == 0 {
				kept = append(kept, bigInsult(i))
				continue
			}
			work <- change{catalog.OpRemove, i, added}
			n++
		}
	}()
	var wg sync.WaitGroup
	var failed error
	var mu sync.Mutex
	// An insult's removal is dequeued after its add, but by another appender that may append first: such a
	// removal would find nothing to remove and leave the insult behind. So each removal waits until the add
	// has applied at its writer, and then at the removal's writer.
	for a := range 8 {
		w := []*catalog.Catalog{w1, w2}[a%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				in := bigInsult(c.i)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				if c.op == catalog.OpRemove {
					<-c.added
					for !w.Snapshot().Has(in) && ctx.Err() == nil {
						time.Sleep(time.Millisecond) // the other writer's add is on its way to this one
					}
				}
				err := w.Append(ctx, catalog.Entry{Op: c.op, Insult: in})
				cancel()
				if c.op == catalog.OpAdd {
					close(c.added)
				}
				if err != nil {
					mu.Lock()
					failed = errors.Join(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	// Replicas start while the changes go on, each on a connection of its own as a worker's would be.
	for range starts {
		rc := testkit.Conn(t, url)
		_, stop := start(t, rc, defaults)
		stop()
		_ = rc.Close()
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}

	c, _ := start(t, testkit.Conn(t, url), defaults)
	load := c.Loaded()
	t.Logf("a new replica read %d entries, %d bytes", load.Entries, load.Bytes)
	// A snapshot is written once SnapshotEvery bytes of entries (the catalogue is small) follow the last one.
	// The last entry's writer may not have seen the newest snapshot yet and name the one before, and the
	// snapshots themselves and the appenders in flight come on top: four times that is a safe bound, against
	// some 9 MB of history written.
	if bound := 4 * catalog.SnapshotEvery; !load.FromSnapshot || load.Bytes > bound {
		t.Fatalf("new replica's load %+v, want it from a snapshot and under %d bytes", load, bound)
	}
	want := append(slices.Clone(defaults), kept...)
	// Read last: the marker readLog appends names no snapshot, so replicas starting after it load the whole
	// log (correctly, but not cheaply).
	entries, _ := readLog(t, conn)
	var bytes, snapshots int
	for _, e := range entries {
		bytes += e.size
		if e.entry.Op == catalog.OpSnapshot {
			snapshots++
		}
	}
	t.Logf("after %d changes and %d starts the log holds %d entries (%d snapshots), %d bytes of bodies, offsets %d-%d",
		changes, starts, len(entries), snapshots, bytes, entries[0].offset, entries[len(entries)-1].offset)
	if bound := retained / 850 * 110 / 100; len(entries) > bound || bytes > retained {
		t.Fatalf("log holds %d entries, %d bytes; want at most %d entries, %d bytes", len(entries), bytes, bound, retained)
	}
	// The marker is the log's last entry now and names no snapshot, as an entry from a writer outside this
	// package would: the next replica loads what is left of the log from its first entry, which retention has
	// cut, and must still come out right by adopting the snapshots it meets.
	late, _ := start(t, testkit.Conn(t, url), defaults)
	if l := late.Loaded(); !l.FromSnapshot || l.Entries < len(entries) {
		t.Fatalf("replica after a foreign entry loaded %+v, want the whole log (%d entries) and a snapshot in it", l, len(entries))
	}
	for name, got := range map[string]*catalog.Snapshot{"new replica": c.Snapshot(), "writer 1": w1.Snapshot(),
		"writer 2": w2.Snapshot(), "replica loading the cut log": late.Snapshot()} {
		if !slices.Equal(sorted(got.Insults), sorted(want)) {
			t.Errorf("%s holds %d insults, want %d", name, len(got.Insults), len(want))
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestFullCatalogue: adds beyond MaxBytes fail with ErrFull; the full catalogue (the largest snapshot) still
// loads in a new replica.
func TestFullCatalogue(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	w, _ := start(t, conn, nil)
	n := 0
	for ; ; n++ {
		err := w.Append(context.Background(), catalog.Entry{Op: catalog.OpAdd, Insult: bigInsult(n)})
		if errors.Is(err, catalog.ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n > catalog.MaxBytes/761 {
			t.Fatalf("%d insults of 758 bytes added, over MaxBytes", n)
		}
	}
	if s := w.Snapshot(); s.Size() > catalog.MaxBytes || s.Size() < catalog.MaxBytes-1000 {
		t.Fatalf("full at %d bytes, want just under %d", s.Size(), catalog.MaxBytes)
	}
	// Removing makes room again.
	if err := w.Append(context.Background(), catalog.Entry{Op: catalog.OpRemove, Insult: bigInsult(0)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(context.Background(), catalog.Entry{Op: catalog.OpAdd, Insult: "short"}); err != nil {
		t.Fatal(err)
	}
	c, _ := start(t, testkit.Conn(t, url), nil)
	if got, want := c.Snapshot(), w.Snapshot(); !slices.Equal(got.Insults, want.Insults) {
		t.Fatalf("new replica holds %d insults, writer %d", len(got.Insults), len(want.Insults))
	}
	t.Logf("%d insults fill the catalogue; a new replica read %+v", n, c.Loaded())
}
