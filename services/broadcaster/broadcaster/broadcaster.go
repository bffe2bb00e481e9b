// Package broadcaster is the broadcaster worker: it forwards broadcast requests from warren.broadcaster.work to
// every subscriber of the warren.broadcast fanout exchange, and, while broadcasting is switched on, the one
// replica holding the leader lock sends a random insult every period.
package broadcaster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics"
	"github.com/warren-mq/warren/shared/topology"
	"github.com/warren-mq/warren/shared/workerstats"
)

// Options configure a broadcaster worker.
type Options struct {
	Config config.Config
	Log    zerolog.Logger
	// Ready, if set, is called each time the worker starts consuming.
	Ready func()
	// LeaderRetry is how often a follower tries to take the leader lock (default 1 s).
	LeaderRetry time.Duration
	// OnHealth, if set, is called with the health server once it listens, before the worker connects; tests
	// read its address from it.
	OnHealth func(*health.Server)
}

// Run serves until ctx ends; it returns an error naming health.addr when that address cannot be served.
func Run(ctx context.Context, o Options) error {
	c := o.Config
	if o.LeaderRetry <= 0 {
		o.LeaderRetry = time.Second
	}
	stats := workerstats.New(poolName(), c.Broadcaster.Concurrency)
	id := stats.Worker()
	reg := metrics.NewRegistry()
	m := stats.Export(reg)
	cat := catalog.New(c.Insult.Defaults, o.Log, func(s *catalog.Snapshot) { m.Catalogue(len(s.Insults)) })
	srv, err := health.Start(ctx, health.Options{Socket: id, Addr: c.Health.Addr, AddrKey: "health.addr", Metrics: reg, Log: o.Log})
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: health goes after the consumer and the connection.
	defer srv.Stop()
	probe := srv.Probe()
	stats.Watch(probe.Healthy)
	stats.AdvertiseMetrics(srv.Addr())
	if o.OnHealth != nil {
		o.OnHealth(srv)
	}
	lanes := amqpx.PoolLanes(c, "broadcaster")
	o.Log.Info().Str("worker", id).Str("broker", amqpx.Redact(c.AMQP.URL)).Msg("broadcaster starting")
	return amqpx.Serve(ctx, c, "warren-broadcaster "+id, o.Log, func(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
		m.Connected()
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return cat.Follow(gctx, conn) })
		g.Go(func() error { return stats.Run(gctx, pub, c.Filter.StatsEvery, o.Log) })
		g.Go(func() error { return lead(gctx, conn, pub, cat, c.Broadcaster.Period, o.LeaderRetry, o.Log) })
		g.Go(func() error {
			cons := &amqpx.Consumer{
				Lanes: lanes, Credit: c.LaneCredit("broadcaster"), Concurrency: c.Broadcaster.Concurrency, Seen: stats.Seen,
				Retries: c.AMQP.Retries, Grace: c.AMQP.ShutdownGrace, Log: o.Log, Hold: stats.Hold,
				Handler: func(ctx context.Context, d amqp.Delivery) (err error) {
					end := stats.Begin()
					defer func() { end(err == nil) }()
					return forward(ctx, d, pub, c.AMQP.MaxBody)
				},
				OnDeadLetter: func(error) { m.DeadLettered() },
				OnConsuming: func() {
					probe.SetReady(true)
					o.Log.Info().Str("queue", topology.BroadcasterWork).Int("lanes", len(lanes)).Msg("consuming")
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
}

// poolName is the pool this worker belongs to, as the master says through WARREN_POOL.
func poolName() string {
	if p := os.Getenv("WARREN_POOL"); p != "" {
		return p
	}
	return "broadcaster"
}

// forward publishes one broadcast request to every subscriber, with the request's W3C trace context.
func forward(ctx context.Context, d amqp.Delivery, pub *amqpx.Publisher, maxBody int) error {
	t, err := event.ParseText(d.ContentType, d.MessageId, d.Body, maxBody)
	if err != nil {
		return err
	}
	b := event.Broadcast{Type: event.BroadcastMessage, ID: t.ID, Text: t.Text, At: time.Now().UTC()}
	return publish(ctx, pub, b, topology.CopyTrace(nil, d.Headers))
}

// publish sends b to every subscriber, with headers (nil for none).
func publish(ctx context.Context, pub *amqpx.Publisher, b event.Broadcast, headers amqp.Table) error {
	body, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode broadcast: %w", err)
	}
	msg := amqp.Publishing{ContentType: event.ContentJSON, MessageId: b.ID, Timestamp: b.At, Headers: headers, Body: body}
	return pub.Publish(ctx, topology.BroadcastExchange, "", msg)
}

// lead takes part in leader election: the replica that holds the exclusive queue topology.BroadcasterLeader
// is the one that sends periodic insults, so subscribers get one per period however many replicas run. The
// broker deletes an exclusive queue when its connection dies, so a crashed leader is replaced within
// LeaderRetry.
func lead(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher, cat *catalog.Catalog, period, retry time.Duration, log zerolog.Logger) error {
	for {
		held, err := amqpx.TryLock(conn, topology.BroadcasterLeader)
		if err != nil {
			return err
		}
		if held != nil {
			log.Info().Msg("leader: sending periodic broadcasts")
			err := tick(ctx, pub, cat, period, log)
			_ = held.Close()
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

func tick(ctx context.Context, pub *amqpx.Publisher, cat *catalog.Catalog, period time.Duration, log zerolog.Logger) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			snap := cat.Snapshot()
			if !snap.Broadcasting {
				continue
			}
			in := snap.Random()
			if in == "" {
				continue
			}
			if err := publish(ctx, pub, event.Broadcast{Type: event.BroadcastInsult, Text: in, At: time.Now().UTC()}, nil); err != nil {
				log.Warn().Err(err).Msg("periodic broadcast not sent")
				continue
			}
			log.Debug().Str("insult", in).Msg("broadcast")
		}
	}
}
