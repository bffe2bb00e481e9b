package master

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
	"github.com/warren-mq/warren/shared/workerstats"
)

// statsBoard keeps the latest report of every worker; the master reads it for heartbeats, in-flight work and
// capacity learning. It forgets workers that have not reported for a while so memory stays bounded.
type statsBoard struct {
	mu   sync.Mutex
	last map[string]event.WorkerStats // by worker name
	seen map[string]time.Time
	// healthy records workers that have reported healthy at least once: one that turns unhealthy after that is
	// judged at once, while one still starting up is left alone.
	healthy map[string]bool
	sink    func(event.WorkerStats)
	// lanes keeps each pool's recent lane reports, for the keys seen lately in each lane.
	lanes map[string][]laneReport
}

// keysWindow is how far back "the keys seen lately in a lane" looks.
const keysWindow = 30 * time.Second

type laneReport struct {
	at    time.Time
	lanes []event.LaneStats
}

func newStatsBoard(sink func(event.WorkerStats)) *statsBoard {
	return &statsBoard{last: map[string]event.WorkerStats{}, seen: map[string]time.Time{}, healthy: map[string]bool{}, sink: sink}
}

func (b *statsBoard) put(s event.WorkerStats, now time.Time) {
	b.mu.Lock()
	b.last[s.Worker] = s
	b.seen[s.Worker] = now
	if s.Unhealthy == "" {
		b.healthy[s.Worker] = true
	}
	if len(s.Lanes) > 0 {
		if b.lanes == nil {
			b.lanes = map[string][]laneReport{}
		}
		recent := b.lanes[s.Pool]
		for len(recent) > 0 && now.Sub(recent[0].at) > keysWindow {
			recent = recent[1:]
		}
		b.lanes[s.Pool] = append(recent, laneReport{now, s.Lanes})
	}
	b.mu.Unlock()
	if b.sink != nil {
		b.sink(s)
	}
}

// latest returns worker's latest report (zero when none).
func (b *statsBoard) latest(worker string) event.WorkerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last[worker]
}

// health returns why worker's latest report says it is unhealthy (empty when healthy), whether it has ever
// reported healthy, and whether its latest report is within maxAge.
func (b *statsBoard) health(worker string, now time.Time, maxAge time.Duration) (why string, everHealthy, recent bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen, ok := b.seen[worker]
	return b.last[worker].Unhealthy, b.healthy[worker], ok && now.Sub(seen) <= maxAge
}

// lastSeen returns when worker last reported.
func (b *statsBoard) lastSeen(worker string) (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.seen[worker]
	return t, ok
}

// held sums the deliveries held (in handlers and prefetched) by the pool's workers that reported within maxAge.
// A worker too old to report Held counts what its handlers held.
func (b *statsBoard) held(pool string, now time.Time, maxAge time.Duration) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for w, s := range b.last {
		if s.Pool == pool && now.Sub(b.seen[w]) <= maxAge {
			n += max(s.Held, s.InFlight)
		}
	}
	return n
}

// laneKeys returns, per lane of pool, the fairness keys its workers took within keysWindow, the most frequent
// first (at most n), and how many events of other keys they took.
func (b *statsBoard) laneKeys(pool string, now time.Time, n int) (keys map[int][]event.KeyCount, other map[int]int) {
	b.mu.Lock()
	counts := map[int]map[string]int{}
	other = map[int]int{}
	for _, r := range b.lanes[pool] {
		if now.Sub(r.at) > keysWindow {
			continue
		}
		for _, l := range r.lanes {
			if counts[l.Lane] == nil {
				counts[l.Lane] = map[string]int{}
			}
			for k, c := range l.Keys {
				counts[l.Lane][k] += c
			}
			other[l.Lane] += l.Other
		}
	}
	b.mu.Unlock()
	keys = map[int][]event.KeyCount{}
	for lane, c := range counts {
		top, rest := workerstats.TopKeys(c, n)
		keys[lane] = top
		other[lane] += rest
	}
	return keys, other
}

// reports returns the latest reports of the pool's workers that reported within maxAge.
func (b *statsBoard) reports(pool string, now time.Time, maxAge time.Duration) []event.WorkerStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []event.WorkerStats
	for w, s := range b.last {
		if s.Pool == pool && now.Sub(b.seen[w]) <= maxAge {
			out = append(out, s)
		}
	}
	return out
}

// forget drops workers silent for longer than maxAge.
func (b *statsBoard) forget(now time.Time, maxAge time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for w, t := range b.seen {
		if now.Sub(t) > maxAge {
			delete(b.seen, w)
			delete(b.last, w)
			delete(b.healthy, w)
		}
	}
}

// listen consumes worker reports from a private queue bound to warren.stats until ctx ends.
func (b *statsBoard) listen(ctx context.Context, conn *amqp.Connection, now func() time.Time) error {
	return amqpx.Follow(ctx, conn, topology.StatsExchange, 10000, func(d amqp.Delivery) {
		var s event.WorkerStats
		if json.Unmarshal(d.Body, &s) != nil || s.Worker == "" {
			return // a malformed report is ignored: reports are advisory
		}
		b.put(s, now())
	})
}
