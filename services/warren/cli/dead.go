package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/topology"
)

// deadLetter is one dead letter in -o json output of `dead ls` and `dead show`.
type deadLetter struct {
	// N is its place in the queue, as `dead show '#N'` takes it.
	N         int    `json:"n"`
	MessageID string `json:"message_id"`
	Reason    string `json:"reason"`
	// Attempts is how many times a worker tried it (0 when the broker dead-lettered it).
	Attempts int    `json:"attempts"`
	FailedAt string `json:"failed_at"`
	Queue    string `json:"queue"`
	// Exchange and RoutingKey are where it was first published: where `dead requeue` sends it back.
	Exchange    string `json:"exchange"`
	RoutingKey  string `json:"routing_key"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Body        string `json:"body"`
}

func newDeadLetter(n int, d amqp.Delivery) deadLetter {
	attempts, _ := strconv.Atoi(header(d, topology.HeaderAttempts))
	return deadLetter{N: n, MessageID: d.MessageId, Reason: reason(d), Attempts: attempts,
		FailedAt: header(d, topology.HeaderFailedAt), Queue: header(d, topology.HeaderQueue),
		Exchange: header(d, topology.HeaderOrigExchange), RoutingKey: header(d, topology.HeaderOrigRouting),
		ContentType: d.ContentType, Size: len(d.Body), Body: string(d.Body)}
}

// deadCmd lists, shows and requeues dead letters. Listing peeks: it takes every message without acking and
// closes its channel, so the broker puts them all back.
func deadCmd(c *client) *cobra.Command {
	cmd := command.Group(&cobra.Command{
		Use:   "dead",
		Short: "Inspect dead letters and their reasons, or send them back to be processed",
		Long: `Messages that cannot be processed (malformed JSON, a wrong schema, an oversized body, a handler that keeps
failing) end in warren.dead with their reason. ls and show only look: every dead letter stays in the queue.
A dead letter is named by its place, '#N' as ls numbers them, or by its message id.`,
	})
	var lsOut, showOut output
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List dead letters: #N, message id, queue, reason",
		Long: `Lists every dead letter: #N TAB message id TAB queue TAB reason. With -o json, one object per dead
letter: {"n","message_id","reason","attempts","failed_at","queue","exchange","routing_key","content_type",
"size","body"} (the same object as dead show).`,
		Args: cobra.NoArgs,
	}
	ls.RunE = func(cmd *cobra.Command, args []string) error {
		if err := lsOut.check(); err != nil {
			return err
		}
		return c.connected(cmd, func(ctx context.Context) error {
			return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
				if len(ds) == 0 && !lsOut.json {
					c.printf("no dead letters\n")
				}
				for i, d := range ds {
					if lsOut.json {
						lsOut.emit(c.out, newDeadLetter(i+1, d))
						continue
					}
					c.printf("#%d\t%s\t%s\t%s\n", i+1, orDash(d.MessageId), header(d, topology.HeaderQueue), reason(d))
				}
				return nil, nil
			})
		})
	}
	lsOut.add(ls)
	show := &cobra.Command{
		Use:   "show '#N'|MESSAGE-ID",
		Short: "Show one dead letter: reason, attempts, origin and body",
		Long: `Shows one dead letter: its reason, attempts, when it failed, its queue, where it was published, its content
type and body (the first 200 bytes). With -o json, the object dead ls -o json prints, with the whole body.`,
		Args: cobra.ExactArgs(1),
	}
	show.RunE = func(cmd *cobra.Command, args []string) error {
		if err := showOut.check(); err != nil {
			return err
		}
		return c.connected(cmd, func(ctx context.Context) error {
			return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
				n, err := pick(ds, args[0])
				if err != nil {
					return nil, err
				}
				d := ds[n-1]
				if showOut.json {
					showOut.emit(c.out, newDeadLetter(n, d))
					return nil, nil
				}
				c.printf("message id:   %s\nreason:       %s\nattempts:     %s\nfailed at:    %s\nqueue:        %s\n"+
					"from:         exchange %q, routing key %q\ncontent type: %s\nbody (%d bytes): %s\n",
					orDash(d.MessageId), reason(d), header(d, topology.HeaderAttempts), header(d, topology.HeaderFailedAt),
					header(d, topology.HeaderQueue), header(d, topology.HeaderOrigExchange), header(d, topology.HeaderOrigRouting),
					orDash(d.ContentType), len(d.Body), preview(d.Body))
				return nil, nil
			})
		})
	}
	showOut.add(show)
	var all bool
	requeueCmd := &cobra.Command{
		Use:   "requeue '#N'|MESSAGE-ID|--all",
		Short: "Send dead letters back to where they were first published",
		Long: `Publishes a dead letter again to the exchange and routing key it was first published to (Warren's
x-warren-* headers dropped, its trace kept) and removes it from warren.dead once the broker confirms.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if all != (len(args) == 0) || len(args) > 1 {
				return command.Usagef("give one '#N' or message id, or --all")
			}
			return c.connected(cmd, func(ctx context.Context) error { return c.requeue(ctx, args, all) })
		},
	}
	requeueCmd.Flags().BoolVar(&all, "all", false, "requeue every dead letter")
	cmd.AddCommand(ls, show, requeueCmd)
	return cmd
}

func (c *client) requeue(ctx context.Context, args []string, all bool) error {
	pub, err := amqpx.NewPublisher(c.conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	return c.withDead(ctx, func(ds []amqp.Delivery) ([]amqp.Delivery, error) {
		chosen := ds
		if !all {
			n, err := pick(ds, args[0])
			if err != nil {
				return nil, err
			}
			chosen = ds[n-1 : n]
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
}

// withDead fetches every dead letter, calls fn, acks the ones fn returns, and lets the rest go back.
func (c *client) withDead(ctx context.Context, fn func([]amqp.Delivery) ([]amqp.Delivery, error)) error {
	ch, err := c.conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(topology.Dead, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	if err != nil {
		return err
	}
	var ds []amqp.Delivery
	deadline := time.Now().Add(c.timeout)
	for len(ds) < q.Messages && time.Now().Before(deadline) && ctx.Err() == nil {
		d, ok, err := ch.Get(topology.Dead, false)
		if err != nil {
			return fmt.Errorf("get: %w", err)
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
		return fmt.Errorf("%s has no original destination", orDash(d.MessageId))
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
		return err
	}
	return nil
}

// pick finds ref ('#N' or a message id) among ds and returns its place, counted from 1.
func pick(ds []amqp.Delivery, ref string) (int, error) {
	if n, err := strconv.Atoi(strings.TrimPrefix(ref, "#")); err == nil && strings.HasPrefix(ref, "#") {
		if n < 1 || n > len(ds) {
			return 0, fmt.Errorf("no dead letter %s (there are %d)", ref, len(ds))
		}
		return n, nil
	}
	for i, d := range ds {
		if d.MessageId == ref {
			return i + 1, nil
		}
	}
	return 0, fmt.Errorf("no dead letter with message id %q", ref)
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
