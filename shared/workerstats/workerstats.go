// Package workerstats is what a worker tells the master about itself once per interval on warren.stats: how
// much it processed, how busy its handler slots were, and how much work it holds. The master learns capacity
// from it and treats a worker that stops reporting as dead.
package workerstats

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics"
	"github.com/warren-mq/warren/shared/topology"
)

// Reporter accumulates one worker's activity between reports, and records it as Prometheus metrics too when
// exported (see Export). It is safe for concurrent use.
type Reporter struct {
	pool, worker string
	// health, when set, is asked at each report; see Watch.
	health func() (bool, string)
	// metricsAddr is what reports give as MetricsAddr; see AdvertiseMetrics.
	metricsAddr string
	// metrics records every handler run; nil (which records nothing) until Export.
	metrics   *metrics.Worker
	slots     float64
	processed atomic.Int64
	busyNanos atomic.Int64
	inFlight  atomic.Int64
	held      atomic.Int64
	total     atomic.Int64
	lanes     laneKeys
}

// New returns a reporter for a worker of pool with slots concurrent handlers. The worker's name is
// WARREN_WORKER_NAME when the master set it, so the master can match reports to the workers it started.
func New(pool string, slots int) *Reporter {
	return &Reporter{pool: pool, worker: health.WorkerName(), slots: float64(max(slots, 1))}
}

// Watch makes every report carry the verdict of healthy (for example a health.Probe's Healthy), so the master
// learns of an unhealthy worker within one report interval. Call it before Run.
func (r *Reporter) Watch(healthy func() (bool, string)) { r.health = healthy }

// AdvertiseMetrics makes every report carry addr as where the worker serves /metrics (health.Server.Addr), so
// the master can tell Prometheus where its workers are. Call it before Run.
func (r *Reporter) AdvertiseMetrics(addr string) { r.metricsAddr = addr }

// Export registers the worker's metrics on reg (see metrics.NewWorker): from then on every handler run that
// Begin marks is counted and timed, and the held and in-flight gauges read the reporter's own counts. Call it
// before the consumer starts; the returned metrics take what the reporter does not see (dead letters,
// connections, the catalogue).
func (r *Reporter) Export(reg prometheus.Registerer) *metrics.Worker {
	r.metrics = metrics.NewWorker(reg, r.pool, r.worker, func() float64 { return float64(r.heldNow()) },
		func() float64 { return float64(r.inFlight.Load()) })
	return r.metrics
}

// heldNow is what the worker holds: every delivery taken and not settled, at least those in its handlers (a
// handler may start before the taking is counted).
func (r *Reporter) heldNow() int64 { return max(r.held.Load(), r.inFlight.Load()) }

// Worker is the name reports carry.
func (r *Reporter) Worker() string { return r.worker }

// Total is how many messages were processed since start.
func (r *Reporter) Total() int64 { return r.total.Load() }

// Hold counts deliveries taken (+1) and settled (−1); pass it as amqpx.Consumer.Hold.
func (r *Reporter) Hold(delta int) { r.held.Add(int64(delta)) }

// Seen records the fairness key of a delivery taken from lane; pass it as amqpx.Consumer.Seen.
func (r *Reporter) Seen(lane int, d amqp.Delivery) {
	_, invalid := r.lanes.seen(lane, d)
	if invalid != "" {
		r.metrics.InvalidKey()
	}
}

// Begin marks a handler starting; call the returned function when it ends, with ok true when it processed
// the message (false for a failure, which is not capacity).
func (r *Reporter) Begin() (end func(ok bool)) {
	start := time.Now()
	r.inFlight.Add(1)
	return func(ok bool) {
		took := time.Since(start)
		r.inFlight.Add(-1)
		r.busyNanos.Add(int64(took))
		r.metrics.Handled(took.Seconds(), ok)
		if ok {
			r.processed.Add(1)
			r.total.Add(1)
		}
	}
}

// Run publishes a report every interval until ctx ends. Reports are advisory: a lost one only delays the
// master's learning, so they are neither confirmed nor retried.
func (r *Reporter) Run(ctx context.Context, pub *amqpx.Publisher, every time.Duration, log zerolog.Logger) error {
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			s := r.snapshot(now, now.Sub(last))
			last = now
			body, err := json.Marshal(s)
			if err != nil {
				return fmt.Errorf("encode stats: %w", err)
			}
			msg := amqp.Publishing{ContentType: event.ContentJSON, Body: body, Expiration: "10000"}
			if _, err := pub.PublishAsync(ctx, topology.StatsExchange, "", msg); err != nil {
				log.Debug().Err(err).Msg("stats report not sent")
			}
		}
	}
}

func (r *Reporter) snapshot(now time.Time, interval time.Duration) event.WorkerStats {
	busy := time.Duration(r.busyNanos.Swap(0))
	inFlight := int(r.inFlight.Load())
	s := event.WorkerStats{
		Pool: r.pool, Worker: r.worker, Processed: int(r.processed.Swap(0)), Interval: interval.Seconds(),
		Utilization: min(1, float64(busy)/(float64(interval)*r.slots)),
		InFlight:    inFlight, Held: max(int(r.held.Load()), inFlight), Busy: busy.Seconds(), Slots: int(r.slots),
		MetricsAddr: r.metricsAddr, At: now.UTC(),
	}
	s.Lanes, s.InvalidKeys = r.lanes.take()
	if r.health != nil {
		if ok, why := r.health(); !ok {
			s.Unhealthy = why
		}
	}
	return s
}
