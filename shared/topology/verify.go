package topology

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Checker is the part of *amqp.Channel that Verify needs. Passive declarations need no permission at all, so
// a service without configure rights can still check that the topology it uses exists.
type Checker interface {
	ExchangeDeclarePassive(name, kind string, durable, autoDelete, internal, noWait bool, args amqp.Table) error
	QueueDeclarePassive(name string, durable, autoDelete, exclusive, noWait bool, args amqp.Table) (amqp.Queue, error)
}

// Verify checks passively that every exchange and queue Declare creates exists. A missing one closes the
// channel (404), so Verify stops at the first and names it. It cannot see arguments or bindings: those are
// the business of whoever ran Declare (`warren topology apply`).
func Verify(ch Checker) error {
	for _, ex := range Exchanges() {
		if err := ch.ExchangeDeclarePassive(ex.Name, ex.Kind, true, false, false, false, nil); err != nil {
			return fmt.Errorf("exchange %s: %w", ex.Name, err)
		}
	}
	for _, q := range Queues() {
		if _, err := ch.QueueDeclarePassive(q, true, false, false, false, nil); err != nil {
			return fmt.Errorf("queue %s: %w", q, err)
		}
	}
	return nil
}

// Exchange is a declared exchange's name and kind.
type Exchange struct{ Name, Kind string }

// Exchanges lists the exchanges Declare creates, in declaration order.
func Exchanges() []Exchange {
	return []Exchange{
		{DeadExchange, amqp.ExchangeFanout},
		{FilterExchange, amqp.ExchangeFanout},
		{BroadcasterExchange, amqp.ExchangeFanout},
		{BroadcastExchange, amqp.ExchangeFanout},
		{InsultExchange, amqp.ExchangeDirect},
		{StatusExchange, amqp.ExchangeFanout},
		{StatsExchange, amqp.ExchangeFanout},
	}
}

// Queues lists the durable queues Declare creates.
func Queues() []string {
	qs := []string{Dead}
	for _, p := range Pools {
		qs = append(qs, p.Work, p.Count)
	}
	return append(qs, MasterState, Results, InsultRPC, InsultLog)
}
