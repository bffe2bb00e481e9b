// Package topology declares Warren's exchanges and queues in one place. Their names are the public API:
// users publish to and subscribe on them with any AMQP client.
package topology

import (
	"fmt"
	"maps"
	"slices"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Public names.
const (
	FilterExchange      = "warren.filter"
	FilterWork          = "warren.filter.work"
	FilterCount         = "warren.filter.count"
	BroadcasterExchange = "warren.broadcaster"
	BroadcasterWork     = "warren.broadcaster.work"
	BroadcasterCount    = "warren.broadcaster.count"
	BroadcastExchange   = "warren.broadcast"
	Results             = "warren.results"
	InsultRPC           = "warren.insult.rpc"
	// InsultExchange routes to InsultRPC, so a client can call the insult service with write permission on this
	// exchange alone: publishing through the default exchange would let it write into every queue.
	InsultExchange = "warren.insult"
	DeadExchange   = "warren.dlx"
	Dead           = "warren.dead"
	// InsultLog is the stream holding the insult catalogue's event log; replicas replay and follow it.
	InsultLog = "warren.insults.log"
	// StatusExchange carries the master's view of every pool, once per evaluation.
	StatusExchange = "warren.status"
	// StatsExchange carries the workers' reports of what they processed, used to learn capacity.
	StatsExchange = "warren.stats"
	// MasterState holds the master's latest learned state (one message: each pool's capacity), so a restarted
	// master starts from what its predecessor had learned instead of the initial guess.
	MasterState = "warren.master.state"
	// BroadcasterLeader is an exclusive queue whose holder is the one broadcaster sending periodic insults.
	BroadcasterLeader = "warren.broadcaster.leader"
	// MasterLeader is an exclusive queue whose holder is the one master that scales the pools; other masters
	// wait as standbys and take it over when the holder's connection closes.
	MasterLeader = "warren.master.leader"
)

// Dead-letter headers set by Warren.
const (
	HeaderReason       = "x-warren-reason"
	HeaderAttempts     = "x-warren-attempts"
	HeaderFailedAt     = "x-warren-failed-at"
	HeaderQueue        = "x-warren-queue"
	HeaderOrigExchange = "x-warren-original-exchange"
	HeaderOrigRouting  = "x-warren-original-routing-key"
	HeaderSentAt       = "x-warren-sent-at"
	// HeaderKey carries an event's fairness key (see Key): a laned pool routes events to its lanes by it.
	HeaderKey = "x-warren-key"
)

// W3C trace context headers (https://www.w3.org/TR/trace-context/), carried from an event to its result,
// reply, broadcast or dead letter so a trace started by the publisher continues through Warren.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Count queue bounds: while no master counts, a count queue keeps at most this many messages and bytes of
// bodies (the oldest are dropped), so a stopped master cannot fill the broker's memory or disk.
const (
	CountQueueMaxLength = 1_000_000
	CountQueueMaxBytes  = 64 << 20
)

// Bounds of the queues that hold what must not be dropped (work, results, dead letters, insult requests): when one
// is full the broker refuses new messages (reject-publish), the publisher's confirm fails and the message stays
// where it was (the work queue, or the publisher), instead of the broker dropping the oldest.
const (
	HoldingQueueMaxLength = 1_000_000
	HoldingQueueMaxBytes  = 512 << 20
)

// bounded adds the holding-queue bounds to a queue's arguments.
func bounded(args amqp.Table) amqp.Table {
	args["x-max-length"] = int64(HoldingQueueMaxLength)
	args["x-max-length-bytes"] = int64(HoldingQueueMaxBytes)
	args["x-overflow"] = "reject-publish"
	return args
}

// Options are the tunables of the declared topology.
type Options struct {
	// DeliveryLimit is the quorum queues' redelivery bound before the broker dead-letters a message.
	DeliveryLimit int
	// Lanes configures the pools that dispatch fairly across fairness keys, by pool name ("filter",
	// "broadcaster"); a pool not named has one lane, its single work queue. Every declarer on a vhost must
	// pass the same lanes (they come from the shared configuration's `lanes` section): a declarer with fewer
	// rewires the pool back to fewer lanes.
	Lanes map[string]Lanes
	// AtLeastOnceDeadLettering makes the quorum work queues dead-letter at-least-once (the broker keeps a
	// message until warren.dead confirms it) instead of the default at-most-once. It needs RabbitMQ 3.10 or
	// later, which DeclareTopology checks; the strategy requires the reject-publish overflow.
	AtLeastOnceDeadLettering bool
}

// Pool names a worker pool's exchange and queues.
type Pool struct {
	Name, Exchange, Work, Count string
}

// Pools are the two worker pools.
var Pools = []Pool{
	{"filter", FilterExchange, FilterWork, FilterCount},
	{"broadcaster", BroadcasterExchange, BroadcasterWork, BroadcasterCount},
}

// PoolNamed returns the pool called name ("filter" or "broadcaster").
func PoolNamed(name string) (Pool, bool) {
	for _, p := range Pools {
		if p.Name == name {
			return p, true
		}
	}
	return Pool{}, false
}

// Declarer is the part of *amqp.Channel that Declare needs.
type Declarer interface {
	ExchangeDeclare(name, kind string, durable, autoDelete, internal, noWait bool, args amqp.Table) error
	QueueDeclare(name string, durable, autoDelete, exclusive, noWait bool, args amqp.Table) (amqp.Queue, error)
	QueueBind(name, key, exchange string, noWait bool, args amqp.Table) error
	QueueUnbind(name, key, exchange string, args amqp.Table) error
	ExchangeBind(destination, key, source string, noWait bool, args amqp.Table) error
	ExchangeUnbind(destination, key, source string, noWait bool, args amqp.Table) error
}

// Declare declares every exchange, queue and binding. It is idempotent. `warren topology apply` runs it with an
// operator's user; services whose user may configure Warren's names run it on each (re)connection too, so a
// broker wiped or restarted gets the topology back, and services without that right Verify it instead.
func Declare(ch Declarer, o Options) error {
	if o.DeliveryLimit <= 0 {
		o.DeliveryLimit = 5
	}
	for _, ex := range Exchanges() {
		if err := ch.ExchangeDeclare(ex.Name, ex.Kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", ex.Name, err)
		}
	}
	if err := queue(ch, Dead, bounded(amqp.Table{"x-queue-type": "quorum"})); err != nil {
		return err
	}
	if err := ch.QueueBind(Dead, "", DeadExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", Dead, err)
	}
	for _, p := range Pools {
		if err := declarePool(ch, p, o.Lanes[p.Name], o); err != nil {
			return err
		}
	}
	// Only the newest state matters: older ones are dropped from the head.
	if err := queue(ch, MasterState, amqp.Table{"x-queue-type": "classic", "x-max-length": int64(1)}); err != nil {
		return err
	}
	if err := queue(ch, Results, bounded(amqp.Table{"x-queue-type": "classic"})); err != nil {
		return err
	}
	if err := queue(ch, InsultRPC, bounded(amqp.Table{"x-queue-type": "classic", "x-dead-letter-exchange": DeadExchange})); err != nil {
		return err
	}
	if err := ch.QueueBind(InsultRPC, "", InsultExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", InsultRPC, InsultExchange, err)
	}
	// The catalogue log keeps only recent history: replicas start from its newest snapshot entry (see
	// shared/catalog), so older entries are never read again. Retention drops whole segments, and the default
	// segment is 500 MB, so segments are made small for the byte bound to bite. The bound must hold the newest
	// snapshot and everything after it: catalog.MaxBytes (512 KiB) is sized for these 4 MiB. No x-max-age:
	// with no changes for a while, age would drop the newest snapshot too.
	return queue(ch, InsultLog, amqp.Table{
		"x-queue-type":                    "stream",
		"x-max-length-bytes":              int64(4 << 20),
		"x-stream-max-segment-size-bytes": int64(256 << 10),
	})
}

// declarePool declares a pool's count queue and its lanes, and routes the pool's exchange to them: straight to
// the work queue with one lane, else through the pool's lane exchanges (see Lanes).
func declarePool(ch Declarer, p Pool, l Lanes, o Options) error {
	// The count queue exists only to be counted (purged) by the master. It is durable because RabbitMQ 4
	// refuses transient non-exclusive queues by default; the bounds keep it small while no master runs.
	// Version 2 of the classic queue writes persistent copies cheaply enough that publishers keep the rate
	// they had with a transient queue (measured: 11.4–12.0k vs 10.5–15.1k confirmed msg/s; v1: 8.7–9.5k).
	count := amqp.Table{"x-queue-type": "classic", "x-queue-version": int64(2),
		"x-max-length": int64(CountQueueMaxLength), "x-max-length-bytes": int64(CountQueueMaxBytes)}
	if err := queue(ch, p.Count, count); err != nil {
		return err
	}
	if err := ch.QueueBind(p.Count, "", p.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", p.Count, p.Exchange, err)
	}
	lanes := p.Lanes(l.Count)
	for _, q := range lanes {
		work := bounded(amqp.Table{
			"x-queue-type":           "quorum",
			"x-delivery-limit":       int64(o.DeliveryLimit),
			"x-dead-letter-exchange": DeadExchange,
		})
		if o.AtLeastOnceDeadLettering {
			work["x-dead-letter-strategy"] = "at-least-once"
		}
		if err := queue(ch, q, work); err != nil {
			return err
		}
	}
	switch {
	case l.Count == 0 && l.WasLaned:
		// A declarer without the configuration (a tool) leaves a laned pool's routing as it is.
		return nil
	case len(lanes) == 1:
		if err := ch.QueueBind(p.Work, "", p.Exchange, false, nil); err != nil {
			return fmt.Errorf("bind %s to %s: %w", p.Work, p.Exchange, err)
		}
		if l.WasLaned {
			return unbindExchanges(ch, p.Exchange, p.PinExchange(), p.HashExchange())
		}
		return nil
	}
	if err := ch.ExchangeDeclare(p.PinExchange(), amqp.ExchangeHeaders, true, false, false, false,
		amqp.Table{"alternate-exchange": p.HashExchange()}); err != nil {
		return fmt.Errorf("declare exchange %s: %w", p.PinExchange(), err)
	}
	if err := ch.ExchangeDeclare(p.HashExchange(), HashExchangeKind, true, false, false, false,
		amqp.Table{"hash-header": HeaderKey}); err != nil {
		return fmt.Errorf("declare exchange %s (the rabbitmq_consistent_hash_exchange plugin must be enabled "+
			"for lanes): %w", p.HashExchange(), err)
	}
	for _, q := range lanes {
		// The binding key is the lane's share of the hash ring: equal, so keys spread evenly.
		if err := ch.QueueBind(q, "1", p.HashExchange(), false, nil); err != nil {
			return fmt.Errorf("bind %s to %s: %w", q, p.HashExchange(), err)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(l.Pins)) {
		lane := l.Pins[key]
		if lane < 0 || lane >= len(lanes) {
			return fmt.Errorf("pin key %q to lane %d: the pool has lanes 0 to %d", key, lane, len(lanes)-1)
		}
		// all-with-x (RabbitMQ 3.10+): plain "all" ignores x- headers, so it would match every event.
		if err := ch.QueueBind(lanes[lane], "", p.PinExchange(), false,
			amqp.Table{"x-match": "all-with-x", HeaderKey: key}); err != nil {
			return fmt.Errorf("pin key %q to %s: %w", key, lanes[lane], err)
		}
	}
	// Without pins the pool's exchange feeds the hash exchange directly: the pin exchange would only pass
	// every event on to its alternate exchange, a routing step the broker pays for on every publish.
	entry, other := p.HashExchange(), p.PinExchange()
	if len(l.Pins) > 0 {
		entry, other = other, entry
	}
	if err := ch.ExchangeBind(entry, "", p.Exchange, false, nil); err != nil {
		return fmt.Errorf("bind %s to %s: %w", entry, p.Exchange, err)
	}
	// Unbound last, once the lanes are wired: an event published meanwhile goes to both, never to neither.
	if err := ch.QueueUnbind(p.Work, "", p.Exchange, nil); err != nil {
		return fmt.Errorf("unbind %s from %s: %w", p.Work, p.Exchange, err)
	}
	return unbindExchanges(ch, p.Exchange, other)
}

// unbindExchanges unbinds each of destinations from source.
func unbindExchanges(ch Declarer, source string, destinations ...string) error {
	for _, d := range destinations {
		if err := ch.ExchangeUnbind(d, "", source, false, nil); err != nil {
			return fmt.Errorf("unbind %s from %s: %w", d, source, err)
		}
	}
	return nil
}

func queue(ch Declarer, name string, args amqp.Table) error {
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		return &QueueError{Queue: name, Err: err}
	}
	return nil
}

// QueueError is a queue declaration the broker refused; it names the queue so that a caller can act on it
// (e.g. recreate an empty queue declared with other arguments by an earlier version).
type QueueError struct {
	Queue string
	Err   error
}

func (e *QueueError) Error() string { return fmt.Sprintf("declare queue %s: %v", e.Queue, e.Err) }

// Unwrap returns the broker's error.
func (e *QueueError) Unwrap() error { return e.Err }
