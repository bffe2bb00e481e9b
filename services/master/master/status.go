package master

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/warren-mq/warren/services/master/dashboard"
	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
)

// dashboardHistory is how much of each pool's history the dashboard keeps and shows.
const dashboardHistory = 10 * time.Minute

// startStatus serves /healthz, /readyz, /metrics, the dashboard and worker discovery on master.status_addr,
// before anything else starts, so that an address in use or malformed fails the master at once, naming the
// key, and the page can say that the broker is down while the master cannot reach it. Without a status
// address the master keeps its probe and metrics in memory only.
func (m *master) startStatus(ctx context.Context) (stop func(), err error) {
	addr := m.o.Config.Master.StatusAddr
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sd/workers", m.serveDiscovery)
	mux.Handle("/", m.dash.Handler())
	srv, err := health.Start(ctx, health.Options{Addr: addr, AddrKey: "master.status_addr", Metrics: m.reg,
		Handler: mux, Log: m.log})
	if err != nil {
		return nil, err
	}
	m.probe = srv.Probe()
	return srv.Stop, nil
}

// target is one entry of Prometheus' HTTP service discovery.
type target struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// serveDiscovery lists the workers that reported a metrics address within three of their stats intervals,
// in the format of Prometheus' http_sd_configs, so Prometheus scrapes exactly the workers alive now.
func (m *master) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	now := m.o.Now()
	out := []target{}
	for _, p := range m.pools {
		for _, s := range m.board.reports(p.name, now, 3*m.statsEvery(p)) {
			if s.MetricsAddr == "" {
				continue
			}
			out = append(out, target{Targets: []string{s.MetricsAddr}, Labels: map[string]string{"pool": s.Pool, "worker": s.Worker}})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Targets[0] < out[j].Targets[0] })
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// connectionState follows the master's broker connection, for /readyz, the dashboard and the metrics.
func (m *master) connectionState(connected bool, err error) {
	now := m.o.Now()
	m.mu.Lock()
	if m.broker.Connected != connected || m.broker.Since.IsZero() {
		m.broker.Since = now.UTC()
	}
	m.broker.Connected = connected
	m.broker.Error = ""
	if err != nil {
		m.broker.Error = err.Error()
	}
	m.mu.Unlock()
	if !connected {
		why := "broker unreachable"
		if errors.Is(err, errNotConnectedYet) {
			why = "connecting to the broker"
		} else if err != nil {
			why += ": " + err.Error()
		}
		m.probe.Set(false, why)
	} else {
		m.probe.Set(false, "connected; not leading yet")
	}
	m.publishDashboard()
}

// brokerConnected reports whether the master is connected to the broker now.
func (m *master) brokerConnected() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.broker.Connected
}

// leadership records whether this master leads, for /readyz and the dashboard.
func (m *master) leadership(leading bool) {
	if leading {
		m.probe.Set(true, "leading")
	} else {
		m.probe.Set(false, "standby: another master leads")
	}
	m.publishDashboard()
}

// publishDashboard hands the dashboard the master's current view.
func (m *master) publishDashboard() {
	now := m.o.Now()
	m.mu.Lock()
	st := dashboard.State{At: now.UTC(), Master: m.id, Leading: m.leading.Load() && m.broker.Connected, Broker: m.broker}
	m.mu.Unlock()
	for _, p := range m.pools {
		status, workers := p.view()
		if status.Pool == "" {
			status.Pool = p.name
		}
		dp := dashboard.Pool{Status: status, Workers: make([]dashboard.Worker, 0, len(workers))}
		for _, w := range workers {
			dp.Workers = append(dp.Workers, m.dashboardWorker(p, w, now))
		}
		st.Pools = append(st.Pools, dp)
	}
	m.dash.Update(st)
}

// dashboardWorker is how the dashboard shows one worker: what its runtime says and what its reports say.
func (m *master) dashboardWorker(p *pool, w runtime.Worker, now time.Time) dashboard.Worker {
	s := m.board.latest(w.Name)
	seen, reported := m.board.lastSeen(w.Name)
	dw := dashboard.Worker{Name: w.Name, ID: w.ID, StartedAt: w.StartedAt.UTC(), Held: max(s.Held, s.InFlight),
		InFlight: s.InFlight, Utilization: s.Utilization, Healthy: true}
	if reported {
		dw.LastReport = seen.UTC()
	}
	switch {
	case p.isRetiring(w.ID):
		dw.State = "retiring"
	case !w.Running:
		dw.State, dw.Healthy, dw.Unhealthy = "exited", false, "exited"
	case !reported:
		dw.State = "starting"
	default:
		dw.State = "running"
	}
	window := 3 * m.statsEvery(p)
	switch {
	case w.Unhealthy:
		dw.Healthy, dw.Unhealthy = false, "runtime health check fails"
	case s.Unhealthy != "" && reported && now.Sub(seen) <= window:
		dw.Healthy, dw.Unhealthy = false, s.Unhealthy
	case reported && now.Sub(seen) > window && dw.State == "running":
		dw.Healthy, dw.Unhealthy = false, "no report for "+now.Sub(seen).Round(time.Second).String()
	}
	return dw
}

// recordStatus keeps a pool's latest status for the dashboard.
func (p *pool) recordStatus(st event.PoolStatus) {
	p.mu.Lock()
	p.last = st
	p.mu.Unlock()
}

// recordWorkers keeps the workers the pool's latest reconcile listed, for the dashboard.
func (p *pool) recordWorkers(ws []runtime.Worker) {
	p.mu.Lock()
	p.workers = ws
	p.mu.Unlock()
}

// view is the pool's latest status and workers.
func (p *pool) view() (event.PoolStatus, []runtime.Worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.workers
}
