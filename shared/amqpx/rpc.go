package amqpx

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DirectReplyTo is RabbitMQ's pseudo-queue for replies: no reply queue is declared, so none can leak.
const DirectReplyTo = "amq.rabbitmq.reply-to"

var correlation atomic.Uint64

// Call publishes body to the default exchange with routing key queue (or to exchange when set) and waits for
// the one reply, using direct reply-to. It opens and closes its own channel.
func Call(ctx context.Context, conn *amqp.Connection, exchange, key string, msg amqp.Publishing) (amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return amqp.Delivery{}, fmt.Errorf("open rpc channel: %w", err)
	}
	defer ch.Close()
	replies, err := ch.Consume(DirectReplyTo, "", true, true, false, false, nil)
	if err != nil {
		return amqp.Delivery{}, fmt.Errorf("consume %s: %w", DirectReplyTo, err)
	}
	if msg.CorrelationId == "" {
		msg.CorrelationId = strconv.FormatUint(correlation.Add(1), 10)
	}
	msg.ReplyTo = DirectReplyTo
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	if err := ch.PublishWithContext(ctx, exchange, key, true, false, msg); err != nil {
		return amqp.Delivery{}, fmt.Errorf("publish request to %q/%q: %w", exchange, key, err)
	}
	for {
		select {
		case d, ok := <-replies:
			if !ok {
				return amqp.Delivery{}, fmt.Errorf("reply channel closed")
			}
			if d.CorrelationId == msg.CorrelationId {
				return d, nil
			}
		case r := <-returns:
			return amqp.Delivery{}, fmt.Errorf("request to %q/%q unroutable: %s", exchange, key, r.ReplyText)
		case <-ctx.Done():
			return amqp.Delivery{}, fmt.Errorf("waiting for reply from %q/%q: %w", exchange, key, ctx.Err())
		}
	}
}
