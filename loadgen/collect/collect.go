// Package collect reads what comes back from Warren during a load run: results on warren.results and, for
// broadcaster traffic, broadcasts, both matched to the run's ids; copies of dead letters; and the master's
// pool status. It runs on its own connection and reconnects after a broker restart.
//
// warren.results is a shared queue, so the reader takes every result in it: those whose id does not carry
// the run's prefix count as stray. Broadcasts, dead letters and status are read from exclusive queues of the
// collector's own, bound to the fanout exchanges, so reading them takes nothing from anyone else.
package collect

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/loadgen/report"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// DefaultPrefetch is the results consumer's prefetch: high, because the reader does almost nothing per
// result and must never be what limits a run's throughput.
const DefaultPrefetch = 2000

// ackEvery and ackIdle bound how many results are acknowledged in one multiple-ack and how long an ack may
// wait: one ack frame per batch instead of per result.
const (
	ackEvery = 256
	ackIdle  = 50 * time.Millisecond
)

// Options configure a collector.
type Options struct {
	// URL is the broker.
	URL string
	// RunID is the prefix of every id the run sends ("<RunID>-...").
	RunID string
	// Recorder receives results and dead letters of the run's ids.
	Recorder *report.Recorder
	// Broadcasts makes the collector also read warren.broadcast, for runs that send to the broadcaster.
	Broadcasts bool
	// Prefetch is the results consumer's prefetch; zero means DefaultPrefetch.
	Prefetch int
	// OnResult, if set, is called for each result or broadcast of the run's ids, with the target it answers.
	OnResult func(scenario.Target)
	// OnStatus, if set, is called with each pool status the master publishes.
	OnStatus func(event.PoolStatus)
	// Ready, if set, is called each time every consumer is in place, after each (re)connection.
	Ready func()
	// Log receives reconnects and unreadable messages.
	Log zerolog.Logger
}

// Run collects until ctx ends, reconnecting as needed; it returns nil then, or an error that reconnecting
// cannot fix, such as wrong credentials.
func Run(ctx context.Context, o Options) error {
	if o.Prefetch <= 0 {
		o.Prefetch = DefaultPrefetch
	}
	c := &collector{o: o, prefix: o.RunID + "-"}
	return amqpx.Run(ctx, amqpx.Options{URL: o.URL, Name: "warren-loadgen collector " + o.RunID, Heartbeat: 10 * time.Second,
		ReconnectMax: 2 * time.Second}, o.Log, c.session)
}

type collector struct {
	o      Options
	prefix string
}

// session sets up every consumer on a fresh connection, then serves them until one fails or ctx ends.
func (c *collector) session(ctx context.Context, conn *amqp.Connection) error {
	if err := amqpx.DeclareTopology(conn, topology.Options{}); err != nil {
		return err
	}
	type feed struct {
		name string
		run  func(ctx context.Context, d <-chan amqp.Delivery, ch *amqp.Channel) error
		open func(ch *amqp.Channel) (<-chan amqp.Delivery, error)
	}
	feeds := []feed{
		{"results", c.results, func(ch *amqp.Channel) (<-chan amqp.Delivery, error) {
			if err := ch.Qos(c.o.Prefetch, 0, false); err != nil {
				return nil, fmt.Errorf("qos on %s: %w", topology.Results, err)
			}
			return ch.Consume(topology.Results, "", false, false, false, false, nil)
		}},
		{"dead letters", c.deadLetters, tap(topology.DeadExchange)},
	}
	if c.o.OnStatus != nil {
		feeds = append(feeds, feed{"status", c.status, tap(topology.StatusExchange)})
	}
	if c.o.Broadcasts {
		feeds = append(feeds, feed{"broadcasts", c.broadcasts, tap(topology.BroadcastExchange)})
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, f := range feeds {
		ch, err := conn.Channel()
		if err != nil {
			return fmt.Errorf("open channel for %s: %w", f.name, err)
		}
		defer ch.Close()
		d, err := f.open(ch)
		if err != nil {
			return fmt.Errorf("consume %s: %w", f.name, err)
		}
		g.Go(func() error { return f.run(gctx, d, ch) })
	}
	if c.o.Ready != nil {
		c.o.Ready()
	}
	return g.Wait()
}

// tap returns an opener for an exclusive, server-named queue bound to a fanout exchange: a private copy of
// everything published there, gone when the connection closes.
func tap(exchange string) func(ch *amqp.Channel) (<-chan amqp.Delivery, error) {
	return func(ch *amqp.Channel) (<-chan amqp.Delivery, error) {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			return nil, fmt.Errorf("declare a queue for %s: %w", exchange, err)
		}
		if err := ch.QueueBind(q.Name, "", exchange, false, nil); err != nil {
			return nil, fmt.Errorf("bind to %s: %w", exchange, err)
		}
		return ch.Consume(q.Name, "", true, true, false, false, nil)
	}
}

// idOf returns a delivery's event id: its message_id, which the filter and broadcaster set to the event id,
// or else the "id" of its JSON body.
func idOf(d amqp.Delivery) string {
	if d.MessageId != "" {
		return d.MessageId
	}
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(d.Body, &v)
	return v.ID
}

// results reads warren.results, acknowledging in batches.
func (c *collector) results(ctx context.Context, deliveries <-chan amqp.Delivery, _ *amqp.Channel) error {
	var last amqp.Delivery
	unacked := 0
	flush := func() error {
		if unacked == 0 {
			return nil
		}
		unacked = 0
		if err := last.Ack(true); err != nil {
			return fmt.Errorf("ack results: %w", err)
		}
		return nil
	}
	tick := time.NewTicker(ackIdle)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// Results read but not acknowledged go back to the queue when the channel closes; acknowledge
			// them, since they are counted already.
			_ = flush()
			return nil
		case <-tick.C:
			if err := flush(); err != nil {
				return err
			}
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("results consumer closed")
			}
			now := time.Now()
			if id := idOf(d); strings.HasPrefix(id, c.prefix) {
				if d.Redelivered {
					// Most likely read once already, before a reconnect: not a second result.
					c.o.Recorder.Redelivered(id, now)
				} else {
					c.o.Recorder.Result(id, now)
				}
				if c.o.OnResult != nil {
					c.o.OnResult(scenario.Filter)
				}
			} else {
				c.o.Recorder.Stray()
			}
			last = d
			if unacked++; unacked >= ackEvery {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
}

// broadcasts reads the run's broadcast requests as the broadcaster forwards them: their answer. Broadcasts of
// others, and the periodic insults, are not the run's business and are skipped.
func (c *collector) broadcasts(ctx context.Context, deliveries <-chan amqp.Delivery, _ *amqp.Channel) error {
	return each(ctx, deliveries, "broadcasts", func(d amqp.Delivery) {
		if id := idOf(d); strings.HasPrefix(id, c.prefix) {
			c.o.Recorder.Result(id, time.Now())
			if c.o.OnResult != nil {
				c.o.OnResult(scenario.Broadcaster)
			}
		}
	})
}

// deadLetters reads copies of every dead letter and records the run's.
func (c *collector) deadLetters(ctx context.Context, deliveries <-chan amqp.Delivery, _ *amqp.Channel) error {
	return each(ctx, deliveries, "dead letters", func(d amqp.Delivery) {
		if id := idOf(d); strings.HasPrefix(id, c.prefix) {
			c.o.Recorder.DeadLettered(id)
		}
	})
}

// status reads the master's pool status.
func (c *collector) status(ctx context.Context, deliveries <-chan amqp.Delivery, _ *amqp.Channel) error {
	return each(ctx, deliveries, "status", func(d amqp.Delivery) {
		var st event.PoolStatus
		if err := json.Unmarshal(d.Body, &st); err != nil {
			c.o.Log.Debug().Err(err).Msg("unreadable pool status")
			return
		}
		c.o.OnStatus(st)
	})
}

// each hands every delivery to f until ctx ends or the consumer closes.
func each(ctx context.Context, deliveries <-chan amqp.Delivery, name string, f func(amqp.Delivery)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("%s consumer closed", name)
			}
			f(d)
		}
	}
}
