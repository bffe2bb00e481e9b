//go:build integration

package amqpx_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// publishKeyed publishes n events of key (no header for "") to warren.filter, ids "<key>-<i>", with confirms.
func publishKeyed(t *testing.T, pub *amqpx.Publisher, key string, n int) {
	t.Helper()
	confirms := make([]*amqp.DeferredConfirmation, 0, n)
	for i := range n {
		msg := amqp.Publishing{MessageId: fmt.Sprintf("%s-%d", key, i), Body: []byte("x"), DeliveryMode: amqp.Persistent}
		if key != "" {
			msg.Headers = amqp.Table{topology.HeaderKey: key}
		}
		c, err := pub.PublishAsync(context.Background(), topology.FilterExchange, "", msg)
		if err != nil {
			t.Fatal(err)
		}
		confirms = append(confirms, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range confirms {
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish of %s not confirmed: %v", key, err)
		}
	}
}

func laned(count int, pins map[string]int) topology.Options {
	return topology.Options{DeliveryLimit: 5, Lanes: map[string]topology.Lanes{"filter": {Count: count, Pins: pins}}}
}

// TestLanesRouteEachKeyToOneLane: with 4 lanes every event reaches exactly one lane and the count queue, all
// of a key's events reach the same lane, a pinned key its lane; a tool declaring without the configuration
// leaves the lanes alone; two lanes without pins stop routing to lanes 2 and 3; going back to one lane sends
// everything to the work queue again.
func TestLanesRouteEachKeyToOneLane(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	if err := amqpx.DeclareTopology(conn, laned(4, map[string]int{"pinned": 3})); err != nil {
		t.Fatal(err)
	}
	// As loadgen would: no lanes in its options.
	if err := amqpx.DeclareTopology(conn, topology.Options{DeliveryLimit: 5}); err != nil {
		t.Fatal(err)
	}
	pub := testkit.Publisher(t, conn)
	keys := []string{"", "pinned"}
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("tenant-%d", i))
	}
	const perKey = 20
	for _, k := range keys {
		publishKeyed(t, pub, k, perKey)
	}
	laneOf := map[string]int{}
	total := 0
	used := map[int]bool{}
	for lane, q := range topology.Pools[0].Lanes(4) {
		for _, d := range testkit.Drain(t, conn, q, 300*time.Millisecond) {
			key := d.MessageId[:strings.LastIndex(d.MessageId, "-")]
			if prev, seen := laneOf[key]; seen && prev != lane {
				t.Errorf("key %q in lanes %d and %d", key, prev, lane)
			}
			laneOf[key] = lane
			used[lane] = true
			total++
		}
	}
	if total != perKey*len(keys) {
		t.Errorf("lanes got %d events, want %d (each event in exactly one lane)", total, perKey*len(keys))
	}
	if laneOf["pinned"] != 3 {
		t.Errorf("pinned key in lane %d, want 3", laneOf["pinned"])
	}
	if len(used) < 3 {
		t.Errorf("14 keys hashed to only %d of 4 lanes: %v", len(used), laneOf)
	}
	if n, _, err := amqpx.QueueDepth(conn, topology.FilterCount); err != nil || n != total {
		t.Errorf("count queue has %d (%v), want %d", n, err, total)
	}

	// Two lanes now: lanes 2 and 3 stop receiving.
	if err := amqpx.DeclareTopology(conn, laned(2, nil)); err != nil {
		t.Fatal(err)
	}
	// With no pins left in the configuration, the pinned key is hashed like any other.
	for _, k := range keys[1:] {
		publishKeyed(t, pub, k, perKey)
	}
	got := 0
	for lane, q := range topology.Pools[0].Lanes(4) {
		n := len(testkit.Drain(t, conn, q, 300*time.Millisecond))
		if lane >= 2 && n > 0 {
			t.Errorf("dropped lane %s got %d events", q, n)
		}
		got += n
	}
	if got != perKey*(len(keys)-1) {
		t.Errorf("got %d events after the change, want %d", got, perKey*(len(keys)-1))
	}

	// One lane: the work queue gets everything, the other lanes nothing.
	if err := amqpx.DeclareTopology(conn, laned(1, nil)); err != nil {
		t.Fatal(err)
	}
	publishKeyed(t, pub, "tenant-1", perKey)
	publishKeyed(t, pub, "", perKey)
	if n := len(testkit.Drain(t, conn, topology.FilterWork, 300*time.Millisecond)); n != 2*perKey {
		t.Errorf("work queue got %d, want %d", n, 2*perKey)
	}
	for _, q := range topology.Pools[0].Lanes(4)[1:] {
		if n, _, _ := amqpx.QueueDepth(conn, q); n != 0 {
			t.Errorf("%s got %d events with one lane", q, n)
		}
	}
}

// TestLanedConsumerServesAQuietKeyFirst: a key that floods its lane with 3000 events before a quiet key sends
// 30 does not delay the quiet key behind its backlog. The worker holds a few of each lane and alternates, so
// the quiet key's last event is handled within the first few hundred, not after the flood (one FIFO queue
// would put it at 3030). Positions are counted, not timed.
func TestLanedConsumerServesAQuietKeyFirst(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	if err := amqpx.DeclareTopology(conn, laned(2, map[string]int{"noisy": 0, "quiet": 1})); err != nil {
		t.Fatal(err)
	}
	pub := testkit.Publisher(t, conn)
	publishKeyed(t, pub, "noisy", 3000)
	publishKeyed(t, pub, "quiet", 30)

	var mu sync.Mutex
	var order []string
	lanesSeen := map[int]int{}
	ready := make(chan struct{})
	cons := &amqpx.Consumer{
		Lanes:  []amqpx.Lane{{Queue: topology.FilterWork, Weight: 1}, {Queue: topology.FilterWork + ".1", Weight: 1}},
		Credit: 10, Concurrency: 2, Log: testkit.Logger(t, "consumer"),
		Seen: func(lane int, d amqp.Delivery) {
			mu.Lock()
			lanesSeen[lane]++
			mu.Unlock()
		},
		Handler: func(_ context.Context, d amqp.Delivery) error {
			time.Sleep(200 * time.Microsecond) // some work, so that deliveries queue up in the worker
			mu.Lock()
			order = append(order, d.MessageId)
			mu.Unlock()
			return nil
		},
		OnConsuming: func() { close(ready) },
	}
	testkit.Go(t, func(ctx context.Context) error {
		if err := cons.Run(ctx, conn, pub); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	})
	<-ready
	testkit.Eventually(t, 60*time.Second, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(order) == 3030
	})
	mu.Lock()
	defer mu.Unlock()
	last := -1
	for i, id := range order {
		if strings.HasPrefix(id, "quiet-") {
			last = i
		}
	}
	t.Logf("the quiet key's last event was handled %d of 3030", last+1)
	if last < 0 || last >= 300 {
		t.Errorf("the quiet key's last event was handled at position %d of 3030: it waited behind the flood", last+1)
	}
	if lanesSeen[0] != 3000 || lanesSeen[1] != 30 {
		t.Errorf("Seen lanes %v, want 3000 from lane 0 and 30 from lane 1", lanesSeen)
	}
}

// TestLanedConsumerStopsWithoutLoss: a laned consumer stopped while it holds deliveries of every lane
// finishes or returns them; nothing is lost and nothing handled twice is acked twice.
func TestLanedConsumerStopsWithoutLoss(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	if err := amqpx.DeclareTopology(conn, laned(3, nil)); err != nil {
		t.Fatal(err)
	}
	pub := testkit.Publisher(t, conn)
	const perKey = 300
	for i := range 6 {
		publishKeyed(t, pub, fmt.Sprintf("k%d", i), perKey)
	}
	var lanes []amqpx.Lane
	for i, q := range topology.Pools[0].Lanes(3) {
		lanes = append(lanes, amqpx.Lane{Queue: q, Weight: 1 + i%2})
	}
	var mu sync.Mutex
	handled := map[string]int{}
	started := make(chan struct{}, 1)
	cons := &amqpx.Consumer{
		Lanes: lanes, Credit: 20, Concurrency: 4, Grace: 5 * time.Second, Log: testkit.Logger(t, "consumer"),
		Handler: func(_ context.Context, d amqp.Delivery) error {
			select {
			case started <- struct{}{}:
			default:
			}
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			handled[d.MessageId]++
			mu.Unlock()
			return nil
		},
	}
	stop := testkit.Go(t, func(ctx context.Context) error { return cons.Run(ctx, conn, pub) })
	<-started
	time.Sleep(100 * time.Millisecond)
	stop()
	rest := 0
	for _, q := range topology.Pools[0].Lanes(3) {
		for _, d := range testkit.Drain(t, conn, q, 300*time.Millisecond) {
			mu.Lock()
			if handled[d.MessageId] > 0 {
				t.Errorf("%s handled and acked, yet back in %s", d.MessageId, q)
			}
			mu.Unlock()
			rest++
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(handled)+rest != 6*perKey {
		t.Errorf("handled %d + left %d = %d, want %d", len(handled), rest, len(handled)+rest, 6*perKey)
	}
	t.Logf("handled %d before the stop, %d left in the lanes", len(handled), rest)
}
