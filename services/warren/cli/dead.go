package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// dead lists, shows and requeues dead letters. Listing peeks: it takes every message without acking and closes
// its channel, so the broker puts them all back.
func dead(ctx context.Context, c *client, args []string) error {
	sub := "ls"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "ls", "list":
		if len(args) > 0 {
			return usagef("dead ls takes no arguments")
		}
		return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
			if len(ds) == 0 {
				c.printf("no dead letters\n")
			}
			for i, d := range ds {
				c.printf("#%d\t%s\t%s\t%s\n", i+1, orDash(d.MessageId), header(d, topology.HeaderQueue), reason(d))
			}
			return nil, nil
		})
	case "show":
		if len(args) != 1 {
			return usagef("dead show: give one #N or message id")
		}
		return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
			d, err := pick(ds, args[0])
			if err != nil {
				return nil, err
			}
			c.printf("message id:   %s\nreason:       %s\nattempts:     %s\nfailed at:    %s\nqueue:        %s\n"+
				"from:         exchange %q, routing key %q\ncontent type: %s\nbody (%d bytes): %s\n",
				orDash(d.MessageId), reason(d), header(d, topology.HeaderAttempts), header(d, topology.HeaderFailedAt),
				header(d, topology.HeaderQueue), header(d, topology.HeaderOrigExchange), header(d, topology.HeaderOrigRouting),
				orDash(d.ContentType), len(d.Body), preview(d.Body))
			return nil, nil
		})
	case "requeue":
		if len(args) != 1 {
			return usagef("dead requeue: give one #N, a message id, or --all")
		}
		pub, err := amqpx.NewPublisher(c.conn)
		if err != nil {
			return err
		}
		defer pub.Close()
		return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
			chosen := ds
			if args[0] != "--all" {
				d, err := pick(ds, args[0])
				if err != nil {
					return nil, err
				}
				chosen = []amqp.Delivery{d}
			}
			var done []amqp.Delivery
			for _, d := range chosen {
				if err := requeue(ctx, pub, d); err != nil {
					return done, err
				}
				done = append(done, d)
				c.printf("requeued %s to %s\n", orDash(d.MessageId), orDash(header(d, topology.HeaderOrigExchange)))
			}
			return done, nil
		})
	default:
		return usagef("dead: unknown subcommand %q (want ls, show, requeue)", sub)
	}
}

// withDead fetches every dead letter, calls fn, acks the ones fn returns, and lets the rest go back.
func (c *client) withDead(ctx context.Context, fn func([]amqp.Delivery) ([]amqp.Delivery, error)) error {
	ch, err := c.conn.Channel()
	if err != nil {
		return fmt.Errorf("dead: %w", err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(topology.Dead, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		return fmt.Errorf("dead: %w", err)
	}
	var ds []amqp.Delivery
	deadline := time.Now().Add(c.timeout)
	for len(ds) < q.Messages && time.Now().Before(deadline) && ctx.Err() == nil {
		d, ok, err := ch.Get(topology.Dead, false)
		if err != nil {
			return fmt.Errorf("dead: get: %w", err)
		}
		if !ok {
			break
		}
		ds = append(ds, d)
	}
	acks, err := fn(ds)
	for _, d := range acks {
		_ = d.Ack(false)
	}
	return err
}

func requeue(ctx context.Context, pub *amqpx.Publisher, d amqp.Delivery) error {
	exchange := header(d, topology.HeaderOrigExchange)
	key := header(d, topology.HeaderOrigRouting)
	if exchange == "" && key == "" {
		key = header(d, topology.HeaderQueue)
	}
	if exchange == "" && key == "" {
		return fmt.Errorf("dead requeue: %s has no original destination", orDash(d.MessageId))
	}
	headers := amqp.Table{}
	for k, v := range d.Headers {
		if !strings.HasPrefix(k, "x-warren-") || k == topology.HeaderSentAt {
			headers[k] = v
		}
	}
	msg := amqp.Publishing{Headers: headers, ContentType: d.ContentType, DeliveryMode: amqp.Persistent,
		MessageId: d.MessageId, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo, Body: d.Body}
	if err := pub.Publish(ctx, exchange, key, msg); err != nil {
		return fmt.Errorf("dead requeue: %w", err)
	}
	return nil
}

func pick(ds []amqp.Delivery, ref string) (amqp.Delivery, error) {
	if n, err := strconv.Atoi(strings.TrimPrefix(ref, "#")); err == nil && strings.HasPrefix(ref, "#") {
		if n < 1 || n > len(ds) {
			return amqp.Delivery{}, fmt.Errorf("dead: no dead letter %s (there are %d)", ref, len(ds))
		}
		return ds[n-1], nil
	}
	for _, d := range ds {
		if d.MessageId == ref {
			return d, nil
		}
	}
	return amqp.Delivery{}, fmt.Errorf("dead: no dead letter with message id %q", ref)
}

func header(d amqp.Delivery, k string) string {
	if v, ok := d.Headers[k]; ok {
		return fmt.Sprint(v)
	}
	return ""
}

// reason is Warren's reason header, or the broker's own x-death reason for messages the broker dead-lettered
// (for example after the delivery limit).
func reason(d amqp.Delivery) string {
	if r := header(d, topology.HeaderReason); r != "" {
		return r
	}
	if deaths, ok := d.Headers["x-death"].([]any); ok && len(deaths) > 0 {
		if t, ok := deaths[0].(amqp.Table); ok {
			return fmt.Sprintf("broker: %v from %v", t["reason"], t["queue"])
		}
	}
	if r := header(d, "x-first-death-reason"); r != "" {
		return "broker: " + r
	}
	return "-"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func preview(b []byte) string {
	const n = 200
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
