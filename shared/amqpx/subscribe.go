package amqpx

import (
	"context"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Subscribe follows a fanout exchange the way its subscribers should: a server-named, exclusive, auto-delete
// queue of its own (bounded to maxLength messages when maxLength > 0, so a slow subscriber cannot grow it
// without limit), bound to exchange and consumed with auto-ack. The queue goes when the returned channel is
// closed; close it when done.
func Subscribe(conn *amqp.Connection, exchange string, maxLength int) (<-chan amqp.Delivery, *amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, nil, fmt.Errorf("subscribe to %s: open channel: %w", exchange, err)
	}
	var args amqp.Table
	if maxLength > 0 {
		args = amqp.Table{"x-max-length": int64(maxLength)}
	}
	q, err := ch.QueueDeclare("", false, true, true, false, args)
	if err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("subscribe to %s: declare queue: %w", exchange, err)
	}
	if err := ch.QueueBind(q.Name, "", exchange, false, nil); err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("subscribe to %s: bind: %w", exchange, err)
	}
	msgs, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		_ = ch.Close()
		return nil, nil, fmt.Errorf("subscribe to %s: consume: %w", exchange, err)
	}
	return msgs, ch, nil
}

// Follow subscribes to exchange (see Subscribe) and hands every message to handle until ctx ends, when it
// returns nil; it returns an error when the subscription ends first (the connection was lost).
func Follow(ctx context.Context, conn *amqp.Connection, exchange string, maxLength int, handle func(amqp.Delivery)) error {
	msgs, ch, err := Subscribe(conn, exchange, maxLength)
	if err != nil {
		return err
	}
	defer ch.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-msgs:
			if !ok {
				return fmt.Errorf("subscription to %s ended: connection lost", exchange)
			}
			handle(d)
		}
	}
}
