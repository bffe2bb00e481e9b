// Package catalog keeps the insult catalogue as an event log on a RabbitMQ stream (topology.InsultLog).
//
// Every replica of every service that needs the catalogue (insult, filter, broadcaster) replays the log from
// its first entry and then follows it, so the catalogue survives restarts of every service and of the broker,
// every replica converges on the same state, and a change reaches running replicas as one message — no request
// per filtered text. Writers append entries and wait until their own follower has applied them.
package catalog

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
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
// once in the log's life; sync marks the point a replica has replayed up to.
const (
	OpAdd          = "add"
	OpRemove       = "remove"
	OpBroadcastOn  = "broadcast_on"
	OpBroadcastOff = "broadcast_off"
	OpSeed         = "seed"
	OpSync         = "sync"
)

// Entry is one record of the log.
type Entry struct {
	Op      string    `json:"op"`
	Insult  string    `json:"insult,omitempty"`
	Insults []string  `json:"insults,omitempty"`
	Nonce   string    `json:"nonce,omitempty"`
	At      time.Time `json:"at"`
}

// Snapshot is an immutable view of the catalogue.
type Snapshot struct {
	// Insults in the order they were added, as first spelled.
	Insults      []string
	Broadcasting bool
	Seeded       bool
	// Version counts applied changes; it lets a follower skip rebuilding when nothing changed.
	Version uint64
}

// Has reports whether insult is catalogued, ignoring case and spacing.
func (s *Snapshot) Has(insult string) bool { return s.index(insult) >= 0 }

func (s *Snapshot) index(insult string) int {
	k := Key(insult)
	return slices.IndexFunc(s.Insults, func(x string) bool { return Key(x) == k })
}

// Random returns a random insult, or "" when the catalogue is empty.
func (s *Snapshot) Random() string {
	if len(s.Insults) == 0 {
		return ""
	}
	return s.Insults[rand.IntN(len(s.Insults))]
}

// Key is the de-duplication key of an insult: case-insensitive, whitespace-normalised.
func Key(insult string) string { return strings.ToLower(strings.Join(strings.Fields(insult), " ")) }

// apply returns the snapshot after e, and whether anything changed.
func (s *Snapshot) apply(e Entry) (*Snapshot, bool) {
	n := &Snapshot{Insults: s.Insults, Broadcasting: s.Broadcasting, Seeded: s.Seeded, Version: s.Version}
	add := func(in string) bool {
		in = strings.Join(strings.Fields(in), " ")
		if in == "" || n.index(in) >= 0 {
			return false
		}
		n.Insults = append(slices.Clip(n.Insults), in)
		return true
	}
	changed := false
	switch e.Op {
	case OpAdd:
		changed = add(e.Insult)
	case OpRemove:
		if i := n.index(e.Insult); i >= 0 {
			n.Insults = slices.Delete(slices.Clone(n.Insults), i, i+1)
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
}

// New returns a catalogue that seeds the log with defaults the first time the log is found never seeded.
// onChange, if not nil, is called from the follower goroutine with each new snapshot once the replay is done.
func New(defaults []string, log zerolog.Logger, onChange func(*Snapshot)) *Catalog {
	c := &Catalog{defaults: defaults, log: log, ready: make(chan struct{}), onChange: onChange, waiters: map[string]chan struct{}{}}
	c.snap.Store(&Snapshot{})
	return c
}

// Snapshot returns the current view.
func (c *Catalog) Snapshot() *Snapshot { return c.snap.Load() }

// Ready is closed once the first full replay of the log has been applied.
func (c *Catalog) Ready() <-chan struct{} { return c.ready }

// Follow replays the log from the start and follows it until ctx ends or the connection drops; call it again
// on each new connection. The previous snapshot stays in use until the new replay has caught up.
func (c *Catalog) Follow(ctx context.Context, conn *amqp.Connection) error {
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		return err
	}
	defer pub.Close()
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
	deliveries, err := ch.Consume(topology.InsultLog, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		return fmt.Errorf("consume %s: %w", topology.InsultLog, err)
	}
	nonce := newNonce()
	if err := appendEntry(ctx, pub, Entry{Op: OpSync, Nonce: nonce}); err != nil {
		return err
	}
	building, caughtUp := &Snapshot{}, false
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
			var e Entry
			if err := json.Unmarshal(d.Body, &e); err != nil {
				c.log.Warn().Err(err).Msg("skipping unreadable catalogue entry")
				continue
			}
			next, changed := building.apply(e)
			building = next
			if !caughtUp {
				if e.Op != OpSync || e.Nonce != nonce {
					continue
				}
				caughtUp = true
				c.mu.Lock()
				c.pub = pub
				c.mu.Unlock()
				if !building.Seeded && len(c.defaults) > 0 {
					// Two replicas starting together may both seed; seeding is idempotent, so that is harmless.
					if err := appendEntry(ctx, pub, Entry{Op: OpSeed, Insults: c.defaults}); err != nil {
						return err
					}
				}
				changed = true
				c.log.Debug().Int("insults", len(building.Insults)).Bool("broadcasting", building.Broadcasting).Msg("catalogue replayed")
			}
			if changed {
				c.snap.Store(building)
				if c.onChange != nil {
					c.onChange(building)
				}
			}
			if caughtUp {
				c.readyOne.Do(func() { close(c.ready) })
			}
			c.release(e.Nonce)
		}
	}
}

// Append writes an entry to the log and waits until this replica has applied it, so that a reply sent after
// Append already reflects the change.
func (c *Catalog) Append(ctx context.Context, e Entry) error {
	select {
	case <-c.ready:
	case <-ctx.Done():
		return fmt.Errorf("catalogue not ready: %w", ctx.Err())
	}
	c.mu.Lock()
	pub := c.pub
	e.Nonce = newNonce()
	applied := make(chan struct{})
	c.waiters[e.Nonce] = applied
	c.mu.Unlock()
	defer c.release(e.Nonce)
	if err := appendEntry(ctx, pub, e); err != nil {
		return err
	}
	select {
	case <-applied:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for catalogue entry to apply: %w", ctx.Err())
	}
}

func (c *Catalog) release(nonce string) {
	if nonce == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.waiters[nonce]; ok {
		close(ch)
		delete(c.waiters, nonce)
	}
}

func appendEntry(ctx context.Context, pub *amqpx.Publisher, e Entry) error {
	if pub == nil {
		return fmt.Errorf("catalogue has no connection")
	}
	e.At = time.Now().UTC()
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
