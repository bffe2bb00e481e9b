package master

import (
	"slices"
	"sort"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/runtime"
)

// A worker is replaced for silence or ill-health only when the master can tell a broken worker from a broken
// broker:
//
//   - the master itself hears the broker, and has for a whole silence window (three of the pool's stats
//     intervals, and at least the startup grace): while it is disconnected, and just after it reconnects or
//     takes the lead, its view of the reports is empty or stale;
//   - the broker does not block publishers (connection.blocked: a memory or disk alarm), and has not for a
//     whole silence window: a blocked worker cannot report, however well it is;
//   - the worker is the only suspect among all the master's workers: a single silent worker is a broken
//     worker, but several silent (or unhealthy, or late with a report) in the same window point to the broker
//     or the network, which replacing workers cannot fix and a kill storm would only make worse (every held
//     delivery redelivered, every worker starting cold). The master logs that once and replaces nobody.
//
// Workers that exited are replaced regardless: an exit is unambiguous.

// verdict is what a worker's reports (and its runtime's health check) say about it.
type verdict int

const (
	fine verdict = iota
	// late: a report is overdue by half an interval. Not replaced, but counted as a suspect, so that a
	// worker silent for a whole window is not replaced while others are falling silent with it.
	late
	// silent: no report for a whole silence window, or none at all since its startup grace ended.
	silent
	// unhealthy: the worker reports itself unhealthy, or its runtime's health check fails.
	unhealthy
)

func (v verdict) String() string {
	return [...]string{"fine", "late", "silent", "unhealthy"}[v]
}

// suspect is a worker that is not fine, and why.
type suspect struct {
	w   runtime.Worker
	v   verdict
	why string
}

// heartbeats is the master's state for judging workers: whether the broker blocks publishers, and, per pool,
// the suspects of the pool's last reconcile and whether a shared outage is being reported. The zero value is
// ready to use.
type heartbeats struct {
	mu sync.Mutex
	// blocked and why describe the master's connection as the broker last said; unblockedAt is when a block
	// last ended (zero when none did).
	blocked     bool
	why         string
	unblockedAt time.Time
	suspects    map[string]int  // by pool, as of its last reconcile
	outage      map[string]bool // pools whose shared-outage episode has been logged
}

// setBlocked records a connection.blocked (active) or connection.unblocked notification received at now.
func (h *heartbeats) setBlocked(active bool, why string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.blocked && !active {
		h.unblockedAt = now
	}
	h.blocked, h.why = active, why
}

// blockedState reports whether the broker blocks publishers now and why, else when it last stopped doing so.
func (h *heartbeats) blockedState() (blocked bool, why string, unblockedAt time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.blocked, h.why, h.unblockedAt
}

// follow applies the broker's blocked/unblocked notifications until blocks is closed (the library closes it
// with the connection). It drains blocks always, as the client library requires; a connection that ends while
// blocked ends the block, since a disconnected master judges nobody anyway and a new connection starts afresh.
func (h *heartbeats) follow(blocks <-chan amqp.Blocking, now func() time.Time, log zerolog.Logger) {
	for b := range blocks {
		h.setBlocked(b.Active, b.Reason, now())
		if b.Active {
			log.Warn().Str("reason", b.Reason).Msg("broker blocks publishers (resource alarm); no worker is replaced for silence until it has unblocked for a silence window")
		} else {
			log.Info().Msg("broker unblocked publishers")
		}
	}
	h.setBlocked(false, "", now())
}

// otherSuspects records pool's suspects of this reconcile and returns the other pools' latest counts, summed.
func (h *heartbeats) otherSuspects(pool string, n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.suspects == nil {
		h.suspects = map[string]int{}
	}
	h.suspects[pool] = n
	others := 0
	for name, k := range h.suspects {
		if name != pool {
			others += k
		}
	}
	return others
}

// markOutage sets whether pool is in a shared-outage episode and reports whether that changed, so that an
// episode is logged once when it begins and once when it ends.
func (h *heartbeats) markOutage(pool string, on bool) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outage == nil {
		h.outage = map[string]bool{}
	}
	changed = h.outage[pool] != on
	h.outage[pool] = on
	return changed
}

// watchBlocked follows the broker's connection.blocked notifications on conn until conn closes.
func (m *master) watchBlocked(conn *amqp.Connection) {
	blocks := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	go m.hb.follow(blocks, m.o.Now, m.log)
}

// statsEvery is how often the workers of p report (see config.Config.WorkerStatsEvery).
func (m *master) statsEvery(p *pool) time.Duration {
	return m.o.Config.WorkerStatsEvery(p.name)
}

// workerSpec is what the master starts a worker of p with: the pool's spec, plus the stats interval and
// shutdown grace the master judges it by, unless the pool's env sets them already.
func (m *master) workerSpec(p *pool) runtime.Spec {
	s := p.spec()
	s.Env = slices.Concat(s.Env, m.o.Config.WorkerEnv(p.name))
	return s
}

// canJudge reports whether the master can tell a dead worker from a broker problem now, for a pool whose
// silence window is window; when it cannot, why says why.
func (m *master) canJudge(now time.Time, window time.Duration) (ok bool, why string) {
	m.mu.Lock()
	since := m.connectedAt
	m.mu.Unlock()
	blocked, reason, unblockedAt := m.hb.blockedState()
	switch {
	case since.IsZero():
		return false, "master not connected"
	case now.Sub(since) < max(m.o.StartupGrace, window):
		return false, "master connected for less than a silence window"
	case blocked:
		return false, "broker blocks publishers: " + reason
	case !unblockedAt.IsZero() && now.Sub(unblockedAt) < window:
		return false, "broker unblocked publishers less than a silence window ago"
	}
	return true, ""
}

// judge sorts the running, not retiring, workers of p into those kept and those to replace (at most one).
func (m *master) judge(p *pool, ws []runtime.Worker, now time.Time) (keep []runtime.Worker, replace []suspect) {
	every := m.statsEvery(p)
	window := 3 * every
	var suspects []suspect
	dead := 0
	for _, w := range ws {
		v, why := m.verdict(w, now, every)
		if v == fine {
			continue
		}
		suspects = append(suspects, suspect{w: w, v: v, why: why})
		if v != late {
			dead++
		}
	}
	others := m.hb.otherSuspects(p.name, len(suspects))
	if dead == 0 {
		if m.hb.markOutage(p.name, false) {
			m.log.Info().Str("pool", p.name).Msg("workers report again; replacing silent workers one at a time as before")
		}
		return ws, nil
	}
	if ok, why := m.canJudge(now, window); !ok {
		m.log.Debug().Str("pool", p.name).Int("suspects", len(suspects)).Str("why", why).Msg("not judging workers")
		return ws, nil
	}
	if len(suspects) == 1 && others == 0 {
		m.hb.markOutage(p.name, false)
		s := suspects[0]
		for _, w := range ws {
			if w.ID != s.w.ID {
				keep = append(keep, w)
			}
		}
		return keep, suspects
	}
	if m.hb.markOutage(p.name, true) {
		names := make([]string, 0, len(suspects))
		kinds := map[string]int{}
		for _, s := range suspects {
			names = append(names, s.w.Name)
			kinds[s.v.String()]++
		}
		sort.Strings(names)
		m.log.Warn().Str("pool", p.name).Strs("workers", names).Int("silent", kinds["silent"]).
			Int("unhealthy", kinds["unhealthy"]).Int("late", kinds["late"]).Int("pool_size", len(ws)).
			Int("other_pools_suspects", others).Dur("silence_window", window).
			Msg("several workers look dead at once: suspecting the broker or the network, replacing none")
	}
	return ws, nil
}

// verdict judges one running worker from its runtime's health check and its reports, with every its pool's
// stats interval. A worker still within its startup grace is judged only by a health check that fails after
// it reported healthy, or by its runtime's.
func (m *master) verdict(w runtime.Worker, now time.Time, every time.Duration) (verdict, string) {
	if w.Unhealthy {
		return unhealthy, "runtime health check fails"
	}
	if why := m.reportsUnhealthy(w, now, 3*every); why != "" {
		return unhealthy, why
	}
	if now.Sub(w.StartedAt) < m.o.StartupGrace {
		return fine, ""
	}
	last, ok := m.board.lastSeen(w.Name)
	switch {
	case !ok:
		return silent, "never reported"
	case now.Sub(last) > 3*every:
		return silent, "no report for " + now.Sub(last).Round(time.Millisecond).String()
	case now.Sub(last) > every+every/2:
		return late, "report overdue"
	}
	return fine, ""
}

// reportsUnhealthy returns why a worker's latest report (if within maxAge) says it is unhealthy. A worker still
// starting up (never healthy yet, within the startup grace) is not judged: it is not consuming yet by design.
func (m *master) reportsUnhealthy(w runtime.Worker, now time.Time, maxAge time.Duration) string {
	why, everHealthy, recent := m.board.health(w.Name, now, maxAge)
	if !recent || (!everHealthy && now.Sub(w.StartedAt) < m.o.StartupGrace) {
		return ""
	}
	return why
}
