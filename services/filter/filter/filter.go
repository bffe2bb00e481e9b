// Package filter is the InsultFilter worker: it consumes text events from warren.filter.work, replaces every
// catalogued insult by CENSORED, publishes the result (to reply_to, else warren.results) and acks only once that
// publish is confirmed, so a crash at any point loses nothing.
package filter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/services/filter/censor"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics"
	"github.com/warren-mq/warren/shared/topology"
	"github.com/warren-mq/warren/shared/workerstats"
)

// Options configure a filter worker.
type Options struct {
	Config config.Config
	Log    zerolog.Logger
	// Pool is the pool name reported in stats (the master sets WARREN_POOL); default "filter".
	Pool string
	// PanicOn, when not empty, makes the handler panic on a text equal to it. Tests use it to prove that a
	// crashing handler dead-letters the message and the worker keeps serving.
	PanicOn string
	// Ready, if set, is called each time the worker starts consuming.
	Ready func()
	// OnHealth, if set, is called with the health server once it listens, before the worker connects; tests
	// read its address from it.
	OnHealth func(*health.Server)
}

// Run serves until ctx ends; it returns nil then, or an error that reconnecting cannot fix, or one naming
// health.addr when that address cannot be served.
func Run(ctx context.Context, o Options) error {
	if o.Pool == "" {
		o.Pool = "filter"
	}
	c := o.Config
	w := &worker{o: o, stats: workerstats.New(o.Pool, c.Filter.Concurrency)}
	reg := metrics.NewRegistry()
	m := w.stats.Export(reg)
	srv, err := health.Start(ctx, health.Options{Socket: w.stats.Worker(), Addr: c.Health.Addr, AddrKey: "health.addr",
		Metrics: reg, Log: o.Log})
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: health goes after the consumer and the connection.
	defer srv.Stop()
	probe := srv.Probe()
	w.stats.Watch(probe.Healthy)
	w.stats.AdvertiseMetrics(srv.Addr())
	if o.OnHealth != nil {
		o.OnHealth(srv)
	}
	w.censor.Store(censor.New(nil))
	cat := catalog.New(o.Config.Insult.Defaults, o.Log, func(s *catalog.Snapshot) {
		w.censor.Store(censor.New(s.Insults))
		m.Catalogue(len(s.Insults))
		o.Log.Info().Int("insults", len(s.Insults)).Uint64("version", s.Version).Msg("catalogue updated")
	})
	lanes := amqpx.PoolLanes(c, "filter")
	o.Log.Info().Str("worker", w.stats.Worker()).Str("broker", amqpx.Redact(c.AMQP.URL)).Int("prefetch", c.AMQP.Prefetch).
		Int("concurrency", c.Filter.Concurrency).Msg("filter starting")
	err = amqpx.Serve(ctx, c, "warren-filter "+w.stats.Worker(), o.Log, func(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
		m.Connected()
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return cat.Follow(gctx, conn) })
		g.Go(func() error { return w.stats.Run(gctx, pub, c.Filter.StatsEvery, o.Log) })
		g.Go(func() error {
			// Censoring with an empty catalogue would pass insults through, so wait for the replay first.
			select {
			case <-cat.Ready():
			case <-gctx.Done():
				return nil
			}
			cons := &amqpx.Consumer{
				Lanes: lanes, Credit: c.LaneCredit("filter"), Concurrency: c.Filter.Concurrency, Seen: w.stats.Seen,
				Retries: c.AMQP.Retries, Grace: c.AMQP.ShutdownGrace, Log: o.Log, Hold: w.stats.Hold,
				Handler:      func(ctx context.Context, d amqp.Delivery) error { return w.handle(ctx, d, pub) },
				OnDeadLetter: func(error) { m.DeadLettered() },
				OnConsuming: func() {
					probe.SetReady(true)
					o.Log.Info().Str("queue", topology.FilterWork).Int("lanes", len(lanes)).Msg("consuming")
					if o.Ready != nil {
						o.Ready()
					}
				},
			}
			defer probe.SetReady(false)
			return cons.Run(gctx, conn, pub)
		})
		return g.Wait()
	})
	o.Log.Info().Int64("processed", w.stats.Total()).Msg("filter stopped")
	return err
}

type worker struct {
	o      Options
	stats  *workerstats.Reporter
	censor atomic.Pointer[censor.Censor]
}

func (w *worker) handle(ctx context.Context, d amqp.Delivery, pub *amqpx.Publisher) (err error) {
	end := w.stats.Begin()
	defer func() { end(err == nil) }()
	t, err := event.ParseText(d.ContentType, d.MessageId, d.Body, w.o.Config.AMQP.MaxBody)
	if err != nil {
		return err
	}
	if t.ID == "" {
		t.ID = newID()
	}
	if w.o.PanicOn != "" && t.Text == w.o.PanicOn {
		panic("test hook: panic on crafted message")
	}
	if delay := w.o.Config.Filter.WorkDelay; delay > 0 {
		// Simulated I/O-like work for the speedup benchmark.
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	text, n := w.censor.Load().Apply(t.Text)
	body, err := json.Marshal(event.Result{ID: t.ID, Text: text, Censored: n, SentAt: t.SentAt})
	if err != nil {
		return fmt.Errorf("encode result %s: %w", t.ID, err)
	}
	corr := d.CorrelationId
	if corr == "" {
		corr = t.ID
	}
	msg := amqp.Publishing{
		ContentType: event.ContentJSON, DeliveryMode: amqp.Persistent, MessageId: t.ID, CorrelationId: corr,
		Timestamp: time.Now(), Headers: resultHeaders(d.Headers), Body: body,
	}
	return publishResult(ctx, pub, d.ReplyTo, t.ID, msg)
}

// reasonUnroutableResult begins the dead-letter reason of an event whose result warren.results did not take.
const reasonUnroutableResult = "unroutable result"

// publishResult publishes a result mandatory, so one that no queue takes fails instead of being confirmed and
// dropped: to replyTo when the event named one, else to warren.results. Either failure is permanent, so the
// consumer dead-letters the original event at once, with a reason beginning "unroutable reply_to" (the
// caller's reply queue is gone) or "unroutable result" (warren.results was deleted; it comes back when the
// worker reconnects and redeclares the topology), and the text is kept in warren.dead to be replayed.
func publishResult(ctx context.Context, pub *amqpx.Publisher, replyTo, id string, msg amqp.Publishing) error {
	if replyTo != "" {
		return pub.Reply(ctx, replyTo, msg)
	}
	err := pub.PublishMandatory(ctx, "", topology.Results, msg)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, amqpx.ErrUnroutable):
		return amqpx.Permanent(fmt.Errorf("%s %s: %w", reasonUnroutableResult, id, err))
	default:
		return fmt.Errorf("publish result %s: %w", id, err)
	}
}

// resultHeaders carries the publisher's send time through to the result, for end-to-end latency, and the
// event's W3C trace context (when valid), so the result continues the publisher's trace.
func resultHeaders(in amqp.Table) amqp.Table {
	var out amqp.Table
	if v, ok := in[topology.HeaderSentAt]; ok {
		out = amqp.Table{topology.HeaderSentAt: v}
	}
	return topology.CopyTrace(out, in)
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
