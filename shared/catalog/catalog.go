// Package catalog keeps the insult catalogue as an event log on a RabbitMQ stream (topology.InsultLog).
//
// Every replica of every service that needs the catalogue (insult, filter, broadcaster) loads the log's newest
// snapshot entry and the entries after it, then follows the log, so the catalogue survives restarts of every
// service and of the broker, every replica converges on the same state, and a change reaches running replicas
// as one message — no request per filtered text. Writers append entries and wait until their own follower has
// applied them.
//
// A replica's start reads one snapshot (the whole catalogue) and the entries written since it, never the log's
// whole history, and appends nothing (see Follow). Writers add a snapshot whenever the entries since the newest
// one weigh half of it, so the log past its newest snapshot stays shorter than the catalogue and the stream's
// byte retention (shared/topology) can drop everything older. The catalogue's encoded size is capped at MaxBytes so
// that the newest snapshot and what follows it always fit in what retention keeps.
package catalog

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// Log operations. Add, remove and the broadcast switch are what users ask for; seed writes the default list
// once in the log's life; sync is a marker a writer waits for (it changes nothing); snapshot records the whole
// catalogue so that replicas can start from it.
const (
	OpAdd          = "add"
	OpRemove       = "remove"
	OpBroadcastOn  = "broadcast_on"
	OpBroadcastOff = "broadcast_off"
	OpSeed         = "seed"
	OpSync         = "sync"
	OpSnapshot     = "snapshot"
)

// Sizes that keep the log small. The stream keeps 4 MiB (shared/topology); what a starting replica needs is
// the newest snapshot, the entries written between the state it captures and its own append, the entries
// written since (at most SnapshotEvery or half a snapshot's size before the next is written) and that next
// snapshot: with MaxBytes at an eighth of the retention, all of it fits with room to spare even though
// retention works in whole 256 KiB segments. A start reads the snapshot and what follows it, and the broker
// delivers a stream's entries one chunk at a time, so the fewer entries follow a snapshot the faster a start:
// SnapshotEvery is small for that.
const (
	// MaxBytes bounds the catalogue's encoded insult list; adding beyond it fails with ErrFull.
	MaxBytes = 512 << 10
	// SnapshotEvery is the least amount of entries, in bytes, between two snapshots; with a catalogue over
	// twice that, a snapshot is written once the entries since the last one weigh half the catalogue. A start
	// then reads about one and a half catalogues, and snapshots cost the log about twice what changes do.
	SnapshotEvery = 16 << 10
)

// EmptyWait is how long a starting replica waits for the log's last entry before it takes the log for empty
// and appends a marker to wait for instead. Only a new log is ever empty; a probe that is merely slow costs
// one harmless extra marker.
const EmptyWait = 500 * time.Millisecond

// ErrFull is returned by Append when an add would take the catalogue past MaxBytes.
var ErrFull = errors.New("the catalogue is full")

// Entry is one record of the log.
type Entry struct {
	Op      string    `json:"op"`
	Insult  string    `json:"insult,omitempty"`
	Insults []string  `json:"insults,omitempty"`
	Nonce   string    `json:"nonce,omitempty"`
	At      time.Time `json:"at"`
	// Broadcasting and Seeded are a snapshot's state besides its insults.
	Broadcasting bool `json:"broadcasting,omitempty"`
	Seeded       bool `json:"seeded,omitempty"`
	// Through is, on a snapshot, the stream offset of the last entry it reflects. Entries other writers
	// appended between that one and the snapshot itself are not in it, so a replica starting from the
	// snapshot applies everything after Through.
	Through *int64 `json:"through,omitempty"`
	// Resume is where a replica starting now begins to read: one past the last entry reflected by the newest
	// snapshot its writer knew of, so that a starting replica finds where to start from the log's last entry
	// alone. Absent while the log has no snapshot yet.
	Resume *int64 `json:"resume,omitempty"`
}

// Snapshot is an immutable view of the catalogue.
type Snapshot struct {
	// Insults in the order they were added, as first spelled.
	Insults      []string
	Broadcasting bool
	Seeded       bool
	// Version counts changes applied since this replica loaded the log; it lets a follower skip rebuilding
	// when nothing changed.
	Version uint64
	// size is the encoded size of Insults, kept up to date so that the MaxBytes check costs nothing.
	size int
	// keys holds Key of each insult, so a look-up compares strings instead of normalising every insult.
	keys []string
}

// Has reports whether insult is catalogued, ignoring case and spacing.
func (s *Snapshot) Has(insult string) bool { return s.index(insult) >= 0 }

// Size returns the catalogue's encoded size in bytes, the quantity MaxBytes bounds.
func (s *Snapshot) Size() int { return s.size }

func (s *Snapshot) index(insult string) int { return slices.Index(s.keys, Key(insult)) }

// Random returns a random insult, or "" when the catalogue is empty.
func (s *Snapshot) Random() string {
	if len(s.Insults) == 0 {
		return ""
	}
	return s.Insults[rand.IntN(len(s.Insults))]
}

// Key is the de-duplication key of an insult: case-insensitive, whitespace-normalised.
func Key(insult string) string { return strings.ToLower(strings.Join(strings.Fields(insult), " ")) }

// encodedSize is what one insult adds to a JSON list: the string and its separator.
func encodedSize(insult string) int {
	b, _ := json.Marshal(insult)
	return len(b) + 1
}

// fromEntry returns the state a snapshot entry records.
func fromEntry(e Entry) *Snapshot {
	s := &Snapshot{Broadcasting: e.Broadcasting, Seeded: e.Seeded, Version: 1}
	for _, in := range e.Insults {
		s.Insults = append(s.Insults, in)
		s.keys = append(s.keys, Key(in))
		s.size += encodedSize(in)
	}
	return s
}

// apply returns the snapshot after e, and whether anything changed. Snapshot entries change nothing: a
// replica that has applied the entries before one already holds its state.
func (s *Snapshot) apply(e Entry) (*Snapshot, bool) {
	n := &Snapshot{Insults: s.Insults, Broadcasting: s.Broadcasting, Seeded: s.Seeded, Version: s.Version, size: s.size, keys: s.keys}
	add := func(in string) bool {
		in = strings.Join(strings.Fields(in), " ")
		if in == "" || n.index(in) >= 0 {
			return false
		}
		n.Insults = append(slices.Clip(n.Insults), in)
		n.keys = append(slices.Clip(n.keys), Key(in))
		n.size += encodedSize(in)
		return true
	}
	changed := false
	switch e.Op {
	case OpAdd:
		changed = add(e.Insult)
	case OpRemove:
		if i := n.index(e.Insult); i >= 0 {
			n.size -= encodedSize(n.Insults[i])
			n.Insults = slices.Delete(slices.Clone(n.Insults), i, i+1)
			n.keys = slices.Delete(slices.Clone(n.keys), i, i+1)
			changed = true
		}
	case OpSeed:
		if !n.Seeded {
			n.Seeded, changed = true, true
			for _, in := range e.Insults {
				add(in)
			}
		}
	case OpBroadcastOn, OpBroadcastOff:
		on := e.Op == OpBroadcastOn
		changed = n.Broadcasting != on
		n.Broadcasting = on
	}
	if changed {
		n.Version++
	}
	return n, changed
}

// Catalog follows the log. The zero value is not usable; call New.
type Catalog struct {
	defaults []string
	log      zerolog.Logger
	snap     atomic.Pointer[Snapshot]
	ready    chan struct{}
	readyOne sync.Once
	onChange func(*Snapshot)

	mu      sync.Mutex
	waiters map[string]chan struct{}
	pub     *amqpx.Publisher
	// resume is what this replica writes as every entry's Resume, or -1 for none.
	resume int64
	loaded atomic.Pointer[Load]
}

// Load describes what a replica read to load the log, the cost of its start.
type Load struct {
	// Entries and Bytes count the entries read until caught up (the probe of the last entry, the snapshot and
	// those after it) and their bodies' size.
	Entries, Bytes int
	// FromSnapshot is whether the state was built from a snapshot, rather than from the log's whole history.
	FromSnapshot bool
}

// New returns a catalogue that seeds the log with defaults the first time the log is found never seeded.
// onChange, if not nil, is called from the follower goroutine with each new snapshot once the replay is done.
func New(defaults []string, log zerolog.Logger, onChange func(*Snapshot)) *Catalog {
	c := &Catalog{defaults: defaults, log: log, ready: make(chan struct{}), onChange: onChange,
		waiters: map[string]chan struct{}{}, resume: -1}
	c.snap.Store(&Snapshot{})
	return c
}

// Snapshot returns the current view.
func (c *Catalog) Snapshot() *Snapshot { return c.snap.Load() }

// Ready is closed once the first load of the log has caught up.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

// Loaded returns what the latest load read, once it has caught up; the zero Load before.
func (c *Catalog) Loaded() Load {
	if l := c.loaded.Load(); l != nil {
		return *l
	}
	return Load{}
}

// Follow loads the log and follows it until ctx ends or the connection drops; call it again on each new
// connection. The previous snapshot stays in use until the new load has caught up.
//
// Loading appends nothing. It reads the log's last entry, which says where to start reading (Resume), or is
// a snapshot; reads from there, which takes in the newest snapshot and the entries after what it reflects;
// and has caught up once it has read the entry it first read as the last: everything acknowledged to anyone
// before this replica started is then applied, save entries the broker had stored in the same chunk as that
// last one, which arrive right after it. A log without a snapshot yet is young and small, and is read from
// its start. Only a log found empty gets a marker to wait for (the seed, when there are defaults).
func (c *Catalog) Follow(ctx context.Context, conn *amqp.Connection) error {
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	f := &follower{c: c, pub: pub, building: &Snapshot{}, resume: -1}
	tail, last, err := c.lastEntry(ctx, conn, pub, &f.load)
	if err != nil {
		return err
	}
	f.tail = tail
	from := any("first")
	switch {
	case last.Op == OpSnapshot && last.Through != nil:
		f.best, f.resume = &last, *last.Through+1
		from = f.resume
	case last.Resume != nil && *last.Resume <= tail:
		// A Resume beyond the tail was written for a log since deleted and declared anew.
		f.resume = *last.Resume
		from = f.resume
	}
	return f.run(ctx, conn, from)
}

// follower is one connection's pass over the log.
type follower struct {
	c        *Catalog
	pub      *amqpx.Publisher
	building *Snapshot
	tail     int64
	caughtUp bool
	load     Load
	// Until caught up, entries are collected and the state built once, at the end: from the snapshot that
	// reflects the most (best; concurrent writers may store snapshots out of order) and the entries after what
	// it reflects (recent). Read from the log's first entry, the state is only right from a snapshot on, as
	// retention may have dropped the log's beginning; without any snapshot, the log is whole and young.
	recent []offsetEntry
	best   *Entry
	// seeding is set once this replica has appended the seed; it is ready when the seed is applied.
	seeding bool
	// resume is where a replica starting now would read from; since counts the entry bytes applied after the
	// newest snapshot, and pending is set while a snapshot this replica wrote has not come back yet (so that
	// it writes one at a time).
	resume  int64
	since   int
	pending bool
}

func (f *follower) run(ctx context.Context, conn *amqp.Connection, from any) error {
	c := f.c
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open catalogue channel: %w", err)
	}
	defer ch.Close()
	// Streams need a prefetch over AMQP; acks only return credit.
	if err := ch.Qos(500, 0, false); err != nil {
		return fmt.Errorf("qos on %s: %w", topology.InsultLog, err)
	}
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	deliveries, err := ch.Consume(topology.InsultLog, "", false, false, false, false, amqp.Table{"x-stream-offset": from})
	if err != nil {
		return fmt.Errorf("consume %s: %w", topology.InsultLog, err)
	}
	c.setResume(f.resume)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-closed:
			return fmt.Errorf("catalogue channel closed: %v", e)
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("catalogue consumer ended")
			}
			_ = d.Ack(false)
			if err := f.handle(ctx, d); err != nil {
				return err
			}
		}
	}
}

// offsetEntry is an entry and its offset in the log.
type offsetEntry struct {
	offset int64
	e      Entry
}

// collect keeps an entry read while loading: the snapshot reflecting the most, and the entries after what
// it reflects.
func (f *follower) collect(offset int64, e Entry) {
	if e.Op != OpSnapshot {
		f.recent = append(f.recent, offsetEntry{offset, e})
		return
	}
	if e.Through == nil || (f.best != nil && *e.Through <= *f.best.Through) {
		return
	}
	f.best = &e
	f.recent = slices.DeleteFunc(f.recent, func(r offsetEntry) bool { return r.offset <= *e.Through })
}

// materialize returns the state collect's entries describe.
func (f *follower) materialize() *Snapshot {
	s := &Snapshot{}
	if f.best != nil {
		s = fromEntry(*f.best)
	}
	for _, r := range f.recent {
		s, _ = s.apply(r.e)
	}
	return s
}

// handle applies one delivery.
func (f *follower) handle(ctx context.Context, d amqp.Delivery) error {
	c := f.c
	offset, ok := streamOffset(d)
	if !ok {
		return fmt.Errorf("catalogue entry without %s header", "x-stream-offset")
	}
	var e Entry
	if err := json.Unmarshal(d.Body, &e); err != nil {
		c.log.Warn().Err(err).Int64("offset", offset).Msg("skipping unreadable catalogue entry")
		return nil
	}
	changed := false
	if f.caughtUp {
		f.building, changed = f.building.apply(e)
	} else if !f.seeding {
		f.collect(offset, e)
	} else {
		f.building, _ = f.building.apply(e)
	}
	if e.Op == OpSnapshot && e.Through != nil {
		f.since, f.pending = 0, false
		if r := *e.Through + 1; r > f.resume {
			f.resume = r
			c.setResume(r)
		}
	} else {
		f.since += len(d.Body)
	}
	if !f.caughtUp {
		f.load.Entries++
		f.load.Bytes += len(d.Body)
		if offset < f.tail {
			return nil
		}
		if !f.seeding {
			f.building, f.recent = f.materialize(), nil
			f.load.FromSnapshot = f.best != nil
			if f.best == nil && f.resume >= 0 {
				// The log named a snapshot, so it had one; retention must have dropped it (see MaxBytes).
				c.log.Error().Int64("resume", f.resume).Msg("catalogue snapshot gone from the log; the catalogue may miss changes")
			}
		}
		if !f.building.Seeded && len(c.defaults) > 0 && !f.seeding {
			// Censoring with an unseeded catalogue would let the defaults through, so this replica is not ready
			// until a seed has applied. Two replicas starting together may both seed; seeding is idempotent.
			if err := appendEntry(ctx, f.pub, Entry{Op: OpSeed, Insults: c.defaults}, c.getResume()); err != nil {
				return err
			}
			f.seeding = true
		}
		if !f.building.Seeded && f.seeding {
			return nil
		}
		f.caughtUp = true
		load := f.load
		c.loaded.Store(&load)
		c.mu.Lock()
		c.pub = f.pub
		c.mu.Unlock()
		changed = true
		c.log.Debug().Int("insults", len(f.building.Insults)).Bool("broadcasting", f.building.Broadcasting).
			Int("entries_read", load.Entries).Int("bytes_read", load.Bytes).Bool("from_snapshot", load.FromSnapshot).Msg("catalogue loaded")
	}
	if changed {
		c.snap.Store(f.building)
		if c.onChange != nil {
			c.onChange(f.building)
		}
	}
	c.readyOne.Do(func() { close(c.ready) })
	own := c.release(e.Nonce)
	// The writer whose entry tips the balance writes the snapshot, after its caller has been released, so
	// one replica writes it and no reply waits for it.
	if own && !f.pending && f.since >= max(SnapshotEvery, f.building.size/2) {
		s := f.building
		snap := Entry{Op: OpSnapshot, Insults: s.Insults, Broadcasting: s.Broadcasting, Seeded: s.Seeded, Through: &offset}
		if err := appendEntry(ctx, f.pub, snap, c.getResume()); err != nil {
			return err
		}
		f.pending = true
		c.log.Debug().Int64("through", offset).Int("insults", len(s.Insults)).Int("entry_bytes", f.since).Msg("catalogue snapshot written")
	}
	return nil
}

// lastEntry returns the offset and content of the first entry of the log's last chunk. When the log looks
// empty it appends a marker (the seed if there are defaults), which then is the last entry.
func (c *Catalog) lastEntry(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher, load *Load) (int64, Entry, error) {
	ch, deliveries, err := consumeAt(conn, "last")
	if err != nil {
		return 0, Entry{}, err
	}
	defer ch.Close()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	empty := time.NewTimer(EmptyWait)
	defer empty.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0, Entry{}, ctx.Err()
		case e := <-closed:
			return 0, Entry{}, fmt.Errorf("catalogue channel closed: %v", e)
		case <-empty.C:
			marker := Entry{Op: OpSync, Nonce: newNonce()}
			if len(c.defaults) > 0 {
				marker = Entry{Op: OpSeed, Insults: c.defaults}
			}
			if err := appendEntry(ctx, pub, marker, -1); err != nil {
				return 0, Entry{}, err
			}
			c.log.Debug().Str("op", marker.Op).Msg("catalogue log looks empty; appended a marker")
		case d, ok := <-deliveries:
			if !ok {
				return 0, Entry{}, fmt.Errorf("catalogue consumer ended")
			}
			offset, ok := streamOffset(d)
			if !ok {
				return 0, Entry{}, fmt.Errorf("catalogue entry without %s header", "x-stream-offset")
			}
			load.Entries++
			load.Bytes += len(d.Body)
			var e Entry
			_ = json.Unmarshal(d.Body, &e) // an unreadable last entry says nothing: the log is read from its start
			return offset, e, nil
		}
	}
}

// consumeAt opens a channel consuming the log from offset, one entry at a time.
func consumeAt(conn *amqp.Connection, offset any) (*amqp.Channel, <-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("open catalogue channel: %w", err)
	}
	if err := ch.Qos(1, 0, false); err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("qos on %s: %w", topology.InsultLog, err)
	}
	deliveries, err := ch.Consume(topology.InsultLog, "", false, false, false, false, amqp.Table{"x-stream-offset": offset})
	if err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("consume %s from %v: %w", topology.InsultLog, offset, err)
	}
	return ch, deliveries, nil
}

// streamOffset returns a stream delivery's offset.
func streamOffset(d amqp.Delivery) (int64, bool) {
	o, ok := d.Headers["x-stream-offset"].(int64)
	return o, ok
}

// Append writes an entry to the log and waits until this replica has applied it, so that a reply sent after
// Append already reflects the change. An add that would take the catalogue past MaxBytes fails with ErrFull.
func (c *Catalog) Append(ctx context.Context, e Entry) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return fmt.Errorf("catalogue not ready: %w", ctx.Err())
	}
	if e.Op == OpAdd {
		if s := c.Snapshot(); !s.Has(e.Insult) && s.size+encodedSize(e.Insult) > MaxBytes {
			return fmt.Errorf("add %q: %w (%d of %d bytes used)", e.Insult, ErrFull, s.size, MaxBytes)
		}
	}
	c.mu.Lock()
	pub, resume := c.pub, c.resume
	e.Nonce = newNonce()
	applied := make(chan struct{})
	c.waiters[e.Nonce] = applied
	c.mu.Unlock()
	defer c.release(e.Nonce)
	if err := appendEntry(ctx, pub, e, resume); err != nil {
		return err
	}
	select {
	case <-applied:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for catalogue entry to apply: %w", ctx.Err())
	}
}

// release wakes the Append waiting for nonce and reports whether there was one: whether the entry is this
// replica's own.
func (c *Catalog) release(nonce string) bool {
	if nonce == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.waiters[nonce]
	if ok {
		close(ch)
		delete(c.waiters, nonce)
	}
	return ok
}

func (c *Catalog) setResume(offset int64) {
	c.mu.Lock()
	c.resume = offset
	c.mu.Unlock()
}

func (c *Catalog) getResume() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.resume
}

// appendEntry publishes e with resume (if not negative) as its Resume.
func appendEntry(ctx context.Context, pub *amqpx.Publisher, e Entry, resume int64) error {
	if pub == nil {
		return fmt.Errorf("catalogue has no connection")
	}
	e.At = time.Now().UTC()
	if resume >= 0 {
		e.Resume = &resume
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode catalogue entry: %w", err)
	}
	msg := amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: body}
	if err := pub.Publish(ctx, "", topology.InsultLog, msg); err != nil {
		return fmt.Errorf("append %s to catalogue: %w", e.Op, err)
	}
	return nil
}

func newNonce() string {
	b := make([]byte, 8)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}
