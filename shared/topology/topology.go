// Package topology declares Warren's exchanges and queues in one place. Their names are the public API:
// users publish to and subscribe on them with any AMQP client.
package topology

import (
	"fmt"

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
	DeadExchange        = "warren.dlx"
	Dead                = "warren.dead"
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
)

// Dead-letter headers set by Warren.
const (
	HeaderReason        = "x-warren-reason"
	HeaderAttempts      = "x-warren-attempts"
	HeaderFailedAt      = "x-warren-failed-at"
	HeaderQueue         = "x-warren-queue"
	HeaderOrigExchange  = "x-warren-original-exchange"
	HeaderOrigRouting   = "x-warren-original-routing-key"
	HeaderSentAt        = "x-warren-sent-at"
	CountQueueMaxLength = 1_000_000
)

// Options are the tunables of the declared topology.
type Options struct {
	// DeliveryLimit is the quorum queues' redelivery bound before the broker dead-letters a message.
	DeliveryLimit int
}

// Pool names a worker pool's exchange and queues.
type Pool struct {
	Exchange, Work, Count string
}

// Pools are the two worker pools.
var Pools = []Pool{
	{FilterExchange, FilterWork, FilterCount},
	{BroadcasterExchange, BroadcasterWork, BroadcasterCount},
}

// Declarer is the part of *amqp.Channel that Declare needs.
type Declarer interface {
	ExchangeDeclare(name, kind string, durable, autoDelete, internal, noWait bool, args amqp.Table) error
	QueueDeclare(name string, durable, autoDelete, exclusive, noWait bool, args amqp.Table) (amqp.Queue, error)
	QueueBind(name, key, exchange string, noWait bool, args amqp.Table) error
}

// Declare declares every exchange, queue and binding. It is idempotent, and every service calls it on each
// (re)connection, so the broker can be wiped or restarted and the topology comes back.
func Declare(ch Declarer, o Options) error {
	if o.DeliveryLimit <= 0 {
		o.DeliveryLimit = 5
	}
	for _, ex := range []struct{ name, kind string }{
		{DeadExchange, amqp.ExchangeFanout},
		{FilterExchange, amqp.ExchangeFanout},
		{BroadcasterExchange, amqp.ExchangeFanout},
		{BroadcastExchange, amqp.ExchangeFanout},
		{StatusExchange, amqp.ExchangeFanout},
		{StatsExchange, amqp.ExchangeFanout},
	} {
		if err := ch.ExchangeDeclare(ex.name, ex.kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare exchange %s: %w", ex.name, err)
		}
	}
	if err := queue(ch, Dead, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		return err
	}
	if err := ch.QueueBind(Dead, "", DeadExchange, false, nil); err != nil {
		return fmt.Errorf("bind %s: %w", Dead, err)
	}
	for _, p := range Pools {
		work := amqp.Table{
			"x-queue-type":           "quorum",
			"x-delivery-limit":       int64(o.DeliveryLimit),
			"x-dead-letter-exchange": DeadExchange,
		}
		if err := queue(ch, p.Work, work); err != nil {
			return err
		}
		// The count queue exists only to be counted by the master, which consumes it. The length bound keeps
		// it from growing without limit while no master runs; its messages need not survive a restart.
		count := amqp.Table{"x-queue-type": "classic", "x-max-length": int64(CountQueueMaxLength)}
		if _, err := ch.QueueDeclare(p.Count, false, false, false, false, count); err != nil {
			return fmt.Errorf("declare queue %s: %w", p.Count, err)
		}
		for _, q := range []string{p.Work, p.Count} {
			if err := ch.QueueBind(q, "", p.Exchange, false, nil); err != nil {
				return fmt.Errorf("bind %s to %s: %w", q, p.Exchange, err)
			}
		}
	}
	// Only the newest state matters: older ones are dropped from the head.
	if err := queue(ch, MasterState, amqp.Table{"x-queue-type": "classic", "x-max-length": int64(1)}); err != nil {
		return err
	}
	if err := queue(ch, Results, amqp.Table{"x-queue-type": "classic"}); err != nil {
		return err
	}
	if err := queue(ch, InsultRPC, amqp.Table{"x-queue-type": "classic", "x-dead-letter-exchange": DeadExchange}); err != nil {
		return err
	}
	return queue(ch, InsultLog, amqp.Table{"x-queue-type": "stream"})
}

func queue(ch Declarer, name string, args amqp.Table) error {
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		return fmt.Errorf("declare queue %s: %w", name, err)
	}
	return nil
}
