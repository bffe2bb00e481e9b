// Package master is Warren's autoscaler. Every interval it measures each pool's arrival rate λ (from the pool's
// count queue), its backlog B (ready messages plus work the workers hold) and one worker's capacity C, sizes the
// pool with package scaler (by default N = clamp(ceil((λ + B/Tr) / (u·C)), min, max), with a tolerance both ways,
// scale-down stabilization and a scale-down rate limit), and makes the runtime match:
// it starts workers, retires extra ones gracefully, and replaces workers that crash or stop heartbeating.
//
// The roles follow a source → strategy → target split: probe and statsBoard measure, package scaler decides,
// package runtime acts. Every decision is logged with its inputs and published on warren.status.
package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/services/master/dashboard"
	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/topology"
)

// Runtime is what the master needs from a worker runtime (process, docker, swarm).
type Runtime interface {
	Start(ctx context.Context, s runtime.Spec) (runtime.Worker, error)
	Stop(ctx context.Context, w runtime.Worker, grace time.Duration) error
	Remove(ctx context.Context, w runtime.Worker) error
	List(ctx context.Context, pool string) ([]runtime.Worker, error)
	Close() error
}

// Options configure the master.
type Options struct {
	Config config.Config
	Log    zerolog.Logger
	// Runtime, when nil, is built from Config.Master.Runtime.
	Runtime Runtime
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StartupGrace is how long a new worker may take before its first report (default 15 s).
	StartupGrace time.Duration
}

// Run scales the configured pools until ctx ends. It returns an error at once when the configuration or the
// runtime cannot work (for example the Docker engine is unreachable with the docker runtime).
//
// One master acts at a time: Run scales only while it holds the leader lock (topology.MasterLeader) on its broker
// connection. Any other master waits as a standby, neither counting arrivals nor touching workers, and takes the
// lock over when the leader's connection closes; it then adopts the running workers. Losing the connection
// loses the lock, so a master stops acting as soon as its connection is gone.
func Run(ctx context.Context, o Options) error {
	m, err := newMaster(o)
	if err != nil {
		return err
	}
	o, c := m.o, m.o.Config
	names := c.Master.PoolNames()
	// The status server starts before the runtime and the broker connection: a bad address is reported at
	// once, and the dashboard can show a broker that cannot be reached.
	stopStatus, err := m.startStatus(ctx)
	if err != nil {
		return err
	}
	defer stopStatus()
	m.connectionState(false, errNotConnectedYet)
	// The runtime comes last: it is the one resource that needs closing when a later step fails.
	m.rt = o.Runtime
	if m.rt == nil {
		var err error
		if m.rt, err = NewRuntime(ctx, c, o.Log); err != nil {
			return err
		}
	}
	// Workers are adopted only on taking the lead, but a runtime that cannot even list them fails now, not then.
	for _, p := range m.pools {
		if _, err := m.rt.List(ctx, p.name); err != nil {
			_ = m.rt.Close()
			return fmt.Errorf("list %s workers: %w", p.name, err)
		}
	}
	o.Log.Info().Str("master", m.id).Str("runtime", c.Master.Runtime).Bool("dry_run", c.Master.DryRun).
		Dur("interval", c.Master.Interval).Strs("pools", names).Msg("master starting")

	err = amqpx.Serve(ctx, c, "warren-master "+m.id, o.Log, func(sctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
		err := m.session(sctx, conn, pub)
		// A session that ends while the master keeps running lost its connection, and with it the lead; one
		// that ends because the master stops leaves the flag set, so shutdown knows the workers are its own.
		if ctx.Err() == nil {
			m.leading.Store(false)
		}
		return err
	}, amqpx.OnConnectionState(m.connectionState))
	m.probe.Set(false, "stopping")
	m.shutdown()
	return err
}

// errNotConnectedYet is the broker state before the first dial has answered.
var errNotConnectedYet = errors.New("not connected yet")

// newMaster builds a master's state from o: its pools, metrics, dashboard and worker reports; nothing runs yet.
func newMaster(o Options) (*master, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StartupGrace <= 0 {
		o.StartupGrace = 15 * time.Second
	}
	m := &master{o: o, log: o.Log, kick: make(chan struct{}, 1), id: masterID(), pending: map[string]time.Time{},
		probe: health.NewProbe()}
	m.reg, m.metrics = newRegistry(m.leading.Load, m.brokerConnected)
	m.dash = dashboard.New(dashboardHistory, o.Now)
	m.board = newStatsBoard(m.observe)
	for _, name := range o.Config.Master.PoolNames() {
		p, err := newPool(name, o.Config, o.Now())
		if err != nil {
			return nil, err
		}
		m.pools = append(m.pools, p)
		m.metrics.initPool(name)
	}
	return m, nil
}

// NewRuntime builds the runtime named by the configuration.
func NewRuntime(ctx context.Context, c config.Config, log zerolog.Logger) (Runtime, error) {
	switch c.Master.Runtime {
	case "process":
		bin := c.Master.Bin
		if bin == "" {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("master.bin: not set and the master's own directory is unknown: %w", err)
			}
			bin = filepath.Dir(exe)
		}
		rt, err := runtime.NewProcess(runtime.ProcessOptions{BinDir: bin, Env: []string{"WARREN_AMQP_URL=" + c.AMQP.URL},
			Log: log, LogDir: c.Master.LogDir})
		if err != nil {
			return nil, fmt.Errorf("master.runtime process: %w", err)
		}
		return rt, nil
	case "docker":
		url := c.Master.Docker.AMQPURL
		if url == "" {
			url = c.AMQP.URL
		}
		rt, err := runtime.NewDocker(ctx, runtime.DockerOptions{Host: c.Master.Docker.Host, Network: c.Master.Docker.Network,
			Tag: c.Master.Docker.ImageTag, Owner: c.Master.Docker.Owner, Env: []string{"WARREN_AMQP_URL=" + url}, Log: log})
		if err != nil {
			return nil, fmt.Errorf("master.runtime docker: %w", err)
		}
		return rt, nil
	case "swarm":
		url := c.Master.Docker.AMQPURL
		if url == "" {
			url = c.AMQP.URL
		}
		rt, err := runtime.NewSwarm(ctx, runtime.SwarmOptions{Host: c.Master.Docker.Host, Network: c.Master.Docker.Network,
			Tag: c.Master.Docker.ImageTag, Owner: c.Master.Docker.Owner, Env: []string{"WARREN_AMQP_URL=" + url},
			Healthcheck: runtime.WorkerHealthcheck(), Log: log})
		if err != nil {
			return nil, fmt.Errorf("master.runtime swarm: %w", err)
		}
		return rt, nil
	default:
		return nil, fmt.Errorf("master.runtime: %q is not available (process, docker, swarm)", c.Master.Runtime)
	}
}

type master struct {
	o     Options
	rt    Runtime
	log   zerolog.Logger
	pools []*pool
	board *statsBoard
	// kick asks the control loop to reconcile now, after an evaluation changed a pool's desired size.
	kick chan struct{}
	// id names this master in logs, connection names and published statuses.
	id string
	// leading is set while this master holds the leader lock, and stays set when the master stops while leading.
	leading atomic.Bool
	// connectedAt is when the master's current term as leader began (zero while it does not lead): heartbeats
	// are judged only while the master itself hears the workers' reports, so a broker outage or a takeover
	// (which starts with no reports) does not look like dead workers.
	mu          sync.Mutex
	connectedAt time.Time
	retiring    sync.WaitGroup
	// hb tells silent workers from a broker problem (see heartbeat.go).
	hb heartbeats
	// broker is the connection's state as the dashboard shows it (guarded by mu); pending holds when each
	// worker not yet heard from was asked for, for the start-latency histogram (guarded by mu).
	broker  dashboard.Broker
	pending map[string]time.Time

	reg     *prometheus.Registry
	metrics *masterMetrics
	dash    *dashboard.Dashboard
	probe   *health.Probe
}

// observe feeds a worker report to its pool's capacity learner, and times the first report of a worker the
// master started.
func (m *master) observe(s event.WorkerStats) {
	m.mu.Lock()
	asked, ok := m.pending[s.Worker]
	delete(m.pending, s.Worker)
	m.mu.Unlock()
	if ok {
		m.metrics.startLatency.WithLabelValues(s.Pool).Observe(m.o.Now().Sub(asked).Seconds())
	}
	for _, p := range m.pools {
		if p.name == s.Pool {
			p.Observe(s, m.o.Now())
		}
	}
}

// adopt takes over the workers running when this master takes the lead: those a previous leader left (docker
// and swarm find them by label), or this master's own from an earlier term (the process runtime sees only its
// own children). A takeover thus neither duplicates nor orphans workers: each pool starts from the count it
// finds, within its bounds. It returns the running workers per pool.
func (m *master) adopt(ctx context.Context) (map[string]int, error) {
	adopted := make(map[string]int, len(m.pools))
	for _, p := range m.pools {
		ws, err := m.rt.List(ctx, p.name)
		if err != nil {
			return nil, fmt.Errorf("list %s workers: %w", p.name, err)
		}
		running := 0
		for _, w := range ws {
			if w.Running {
				running++
			}
		}
		p.setDesired(min(max(running, p.cfg.Min), p.cfg.Max))
		adopted[p.name] = running
		if running > 0 {
			m.log.Info().Str("pool", p.name).Int("workers", running).Msg("adopted running workers")
		}
	}
	return adopted, nil
}

// session runs while the master is connected. As a standby it only waits for the leader lock. Once it leads,
// it adopts the running workers, restores the saved state and starts a fresh arrival window, and only then
// follows worker reports, evaluates every interval and reconciles. The lock lives exactly as long as the
// connection, and ctx ends with the connection, so all of that stops at once when the lead is lost.
func (m *master) session(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
	c := m.o.Config
	m.watchBlocked(conn)
	standbySince := m.o.Now()
	lock, err := m.awaitLeadership(ctx, conn, leaderRetry)
	if err != nil || lock == nil {
		return err
	}
	defer lock.Close()
	m.leading.Store(true)
	m.leadership(true)

	adopted, err := m.adopt(ctx)
	if err != nil {
		return err
	}
	pr, err := newProbe(conn)
	if err != nil {
		return err
	}
	defer pr.close()
	if err := m.restoreState(conn); err != nil {
		return err
	}
	// What piled up in the count queues while no master counted is not an arrival rate: start a fresh window.
	now := m.o.Now()
	for _, p := range m.pools {
		if _, err := pr.arrivals(p.cfg.CountQueue); err != nil {
			return err
		}
		p.ResetWindow(now)
	}
	m.mu.Lock()
	m.connectedAt = now
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.connectedAt = time.Time{}
		m.mu.Unlock()
	}()
	m.log.Info().Str("master", m.id).Str("lock", topology.MasterLeader).Dur("waited", now.Sub(standbySince)).
		Interface("adopted", adopted).Msg("leading")

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { m.controlLoop(gctx); return nil })
	g.Go(func() error { return m.board.listen(gctx, conn, m.o.Now) })
	g.Go(func() error {
		t := time.NewTicker(c.Master.Interval)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
				state := make(map[string]event.PoolStatus, len(m.pools))
				for _, p := range m.pools {
					st, err := m.evaluate(gctx, p, pr, pub)
					if err != nil {
						return err
					}
					state[p.name] = st
				}
				m.saveState(gctx, pub, state)
				m.publishDashboard()
			}
		}
	})
	return g.Wait()
}

// shownKeys is how many of each lane's recent keys a status lists.
const shownKeys = 8

// evaluate measures one pool, decides its size, logs and publishes the decision.
func (m *master) evaluate(ctx context.Context, p *pool, pr *probe, pub *amqpx.Publisher) (event.PoolStatus, error) {
	now := m.o.Now()
	began := time.Now() // the evaluation's own duration, on the real clock whatever m.o.Now is
	arrived, err := pr.arrivals(p.cfg.CountQueue)
	if err != nil {
		return event.PoolStatus{}, err
	}
	// With lanes, the backlog is every lane's: λ still comes from the one count queue.
	ready, consumers := 0, 0
	var lanes []event.LaneStatus
	for i, q := range p.lanes {
		r, c, err := pr.ready(q)
		if err != nil {
			return event.PoolStatus{}, err
		}
		ready += r
		if i == 0 {
			consumers = c
		}
		lanes = append(lanes, event.LaneStatus{Lane: i, Queue: q, Ready: r})
	}
	held := m.board.held(p.name, now, 3*m.statsEvery(p))
	current := p.alive()
	st, dec := p.Evaluate(now, arrived, ready, held, current)
	st.Consumers = consumers
	if len(lanes) > 1 {
		keys, other := m.board.laneKeys(p.name, now, shownKeys)
		for i := range lanes {
			lanes[i].Keys, lanes[i].Other = keys[i], other[i]
		}
		st.Lanes = lanes
	}
	st.DryRun = m.o.Config.Master.DryRun
	st.Leader = m.id

	ev := m.log.Debug()
	if dec.Desired != current || dec.Err != nil {
		ev = m.log.Info()
	}
	if dec.Err != nil {
		ev = ev.Err(dec.Err)
	}
	if len(st.Lanes) > 1 {
		readies := make([]int, len(st.Lanes))
		for i, l := range st.Lanes {
			readies[i] = l.Ready
		}
		ev = ev.Ints("lane_ready", readies)
	}
	ev.Str("pool", p.name).Float64("lambda", round(st.Lambda)).Float64("lambda_raw", round(st.LambdaRaw)).
		Int("backlog", st.Backlog).Int("ready", ready).Int("held", held).Float64("capacity", round(st.Capacity)).
		Str("capacity_source", st.CapacitySource).Int("capacity_reports", st.CapacityReports).
		Float64("capacity_age_s", round(st.CapacityAge)).Str("formula", st.Formula).Float64("tr_s", st.Tr).Int("current", current).Int("raw", dec.Raw).
		Int("desired", dec.Desired).Str("reason", dec.Reason).Bool("dry_run", st.DryRun).Msg("evaluation")

	if dec.Desired != current && !m.o.Config.Master.DryRun {
		p.setDesired(dec.Desired)
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	p.recordStatus(st)
	body, _ := json.Marshal(st)
	// Status is advisory and published every interval, so a lost one is replaced by the next.
	if _, err := pub.PublishAsync(ctx, topology.StatusExchange, "", amqp.Publishing{ContentType: event.ContentJSON, Body: body, Expiration: "60000"}); err != nil {
		m.log.Debug().Err(err).Msg("status not published")
	}
	m.metrics.evaluated(st, time.Since(began).Seconds())
	return st, nil
}

// saveState keeps the pools' latest statuses in warren.master.state, for the next master to restore from.
func (m *master) saveState(ctx context.Context, pub *amqpx.Publisher, state map[string]event.PoolStatus) {
	body, _ := json.Marshal(state)
	msg := amqp.Publishing{ContentType: event.ContentJSON, DeliveryMode: amqp.Persistent, Body: body}
	if _, err := pub.PublishAsync(ctx, "", topology.MasterState, msg); err != nil {
		m.log.Debug().Err(err).Msg("state not saved")
	}
}

// restoreState seeds each pool's learned capacity from the state an earlier master saved. The message is
// left in the queue, so a master that dies before saving its own still leaves it for the next one.
func (m *master) restoreState(conn *amqp.Connection) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel to restore state: %w", err)
	}
	defer ch.Close()
	d, ok, err := ch.Get(topology.MasterState, false)
	if err != nil || !ok {
		return err
	}
	defer func() { _ = d.Nack(false, true) }()
	var state map[string]event.PoolStatus
	if err := json.Unmarshal(d.Body, &state); err != nil {
		m.log.Warn().Err(err).Msg("ignoring an unreadable saved state")
		return nil
	}
	for _, p := range m.pools {
		if st, ok := state[p.name]; ok {
			p.Restore(st)
			c := p.capacity.Capacity(m.o.Now())
			m.log.Info().Str("pool", p.name).Float64("capacity", round(c.Value)).Str("capacity_source", c.Source).
				Float64("capacity_age_s", round(c.Age(m.o.Now()).Seconds())).Msg("capacity restored from the previous master")
		}
	}
	return nil
}

// controlLoop makes the runtime match each pool's desired size every reconcile interval, and at once after a
// decision. It runs only while this master leads (session starts it with the term's context), so a standby or
// a master cut off from the broker, which another master may have replaced, never starts or stops workers.
func (m *master) controlLoop(ctx context.Context) {
	t := time.NewTicker(m.o.Config.Master.Reconcile)
	defer t.Stop()
	for {
		for _, p := range m.pools {
			m.reconcile(ctx, p)
		}
		// Reports of workers long gone are dropped, so the master's memory does not grow with worker churn;
		// so are start times of workers that never reported.
		m.board.forget(m.o.Now(), 5*time.Minute)
		m.forgetPending(m.o.Now(), 5*time.Minute)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.kick:
		}
	}
}

func (m *master) reconcile(ctx context.Context, p *pool) {
	ws, err := m.rt.List(ctx, p.name)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn().Err(err).Str("pool", p.name).Msg("cannot list workers")
		}
		return
	}
	now := m.o.Now()
	dry := m.o.Config.Master.DryRun
	var live []runtime.Worker
	for _, w := range ws {
		switch {
		case p.isRetiring(w.ID):
		case !w.Running:
			m.log.Warn().Str("pool", p.name).Str("worker", w.Name).Int("exit_code", w.ExitCode).Msg("worker exited; replacing it")
			if !dry {
				m.metrics.replacements.WithLabelValues(p.name, causeExited).Inc()
				if err := m.rt.Remove(ctx, w); err != nil {
					m.log.Warn().Err(err).Str("worker", w.Name).Msg("cannot remove exited worker")
				}
			}
		default:
			live = append(live, w)
		}
	}
	alive, replace := m.judge(p, live, now)
	for _, s := range replace {
		msg, cause := "worker unhealthy; replacing it", causeUnhealthy
		if s.v == silent {
			msg, cause = "worker stopped heartbeating; replacing it", causeSilent
		}
		m.log.Warn().Str("pool", p.name).Str("worker", s.w.Name).Str("why", s.why).Msg(msg)
		if !dry {
			m.metrics.replacements.WithLabelValues(p.name, cause).Inc()
			// SIGTERM first, with the pool's grace, even for a silent worker: one whose reports are lost but
			// which still works then finishes and acks what it holds instead of having it redelivered.
			m.retire(ctx, p, s.w, p.cfg.Grace, cause)
		}
	}
	p.setAlive(len(alive))
	// The dashboard shows the workers as listed here: starts of this reconcile show from the next one, a
	// second later, which spares the runtime a second listing every reconcile.
	p.recordWorkers(ws)
	defer func() { m.metrics.workers.WithLabelValues(p.name).Set(float64(p.alive())) }()
	if dry {
		return
	}
	desired := p.getDesired()
	for i := len(alive); i < desired && ctx.Err() == nil; i++ {
		asked := m.o.Now()
		w, err := m.rt.Start(ctx, m.workerSpec(p))
		if err != nil {
			m.metrics.startFailures.WithLabelValues(p.name).Inc()
			m.log.Error().Err(err).Str("pool", p.name).Msg("cannot start worker")
			return
		}
		m.metrics.starts.WithLabelValues(p.name).Inc()
		m.mu.Lock()
		m.pending[w.Name] = asked
		m.mu.Unlock()
		m.log.Info().Str("pool", p.name).Str("worker", w.Name).Str("id", w.ID).Msg("worker started")
		p.setAlive(i + 1)
	}
	if extra := len(alive) - desired; extra > 0 {
		for _, w := range m.victims(alive, extra) {
			m.retire(ctx, p, w, p.cfg.Grace, causeScaleDown)
		}
		p.setAlive(desired)
	}
}

// victims picks the workers to retire: those holding the least work first (they finish soonest and put the
// least at risk), then the oldest (their replacements, if any, start with fresh state).
func (m *master) victims(alive []runtime.Worker, n int) []runtime.Worker {
	held := func(w runtime.Worker) int { s := m.board.latest(w.Name); return max(s.Held, s.InFlight) }
	sorted := append([]runtime.Worker(nil), alive...)
	sort.SliceStable(sorted, func(i, j int) bool {
		hi, hj := held(sorted[i]), held(sorted[j])
		if hi != hj {
			return hi < hj
		}
		return sorted[i].StartedAt.Before(sorted[j].StartedAt)
	})
	return sorted[:n]
}

// retire stops a worker in the background: SIGTERM, the worker finishes and acks what it holds, then exits.
func (m *master) retire(ctx context.Context, p *pool, w runtime.Worker, grace time.Duration, cause string) {
	p.markRetiring(w.ID, true)
	m.metrics.stops.WithLabelValues(p.name, cause).Inc()
	m.retiring.Add(1)
	go func() {
		defer m.retiring.Done()
		defer p.markRetiring(w.ID, false)
		// Retiring must finish even while the master shuts down, or a worker could be left half-stopped.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+30*time.Second)
		defer cancel()
		if err := m.rt.Stop(sctx, w, grace); err != nil {
			m.log.Error().Err(err).Str("pool", p.name).Str("worker", w.Name).Msg("cannot stop worker")
			return
		}
		m.log.Info().Str("pool", p.name).Str("worker", w.Name).Dur("grace", grace).Msg("worker stopped")
	}()
}

// shutdown waits for retirements in progress, then stops the workers that cannot outlive the master.
func (m *master) shutdown() {
	m.retiring.Wait()
	c := m.o.Config.Master
	// A process master's workers are its own children, invisible to any other master; containers are stopped
	// only by the master leading at exit, never by a standby, whose pool is the leader's.
	if c.Runtime == "process" || (c.Docker.StopOnExit && m.leading.Load()) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for _, p := range m.pools {
			ws, err := m.rt.List(ctx, p.name)
			if err != nil {
				m.log.Warn().Err(err).Str("pool", p.name).Msg("cannot list workers to stop")
				continue
			}
			for _, w := range ws {
				m.metrics.stops.WithLabelValues(p.name, causeShutdown).Inc()
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := m.rt.Stop(ctx, w, p.cfg.Grace); err != nil {
						m.log.Warn().Err(err).Str("worker", w.Name).Msg("cannot stop worker")
					}
				}()
			}
		}
		wg.Wait()
		m.log.Info().Msg("workers stopped")
	}
	if err := m.rt.Close(); err != nil {
		m.log.Warn().Err(err).Msg("close runtime")
	}
	m.log.Info().Msg("master stopped")
}

func (m *master) forgetPending(now time.Time, maxAge time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for w, t := range m.pending {
		if now.Sub(t) > maxAge {
			delete(m.pending, w)
		}
	}
}

func round(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
