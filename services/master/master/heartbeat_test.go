package master

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
)

// t0 is the unit tests' clock origin: workers start at t0 and the tests judge well after their startup grace.
var t0 = time.Unix(1_000_000, 0)

// unitMaster returns a master over the default configuration (stats every 1 s, so a 3 s silence window),
// with the startup grace 15 s, connected since t0 and not blocked, and no runtime.
func unitMaster(t *testing.T, env ...string) *master {
	t.Helper()
	t.Chdir(t.TempDir())
	c, err := config.Load(config.Flags{Sets: []string{"filter.stats_every=1s"}})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Master.Pools["filter"]
	f.Env = env
	c.Master.Pools["filter"] = f
	m, err := newMaster(Options{Config: c, Log: zerolog.Nop(), StartupGrace: 15 * time.Second, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	m.connectedAt = t0
	return m
}

func (m *master) poolNamed(name string) *pool {
	for _, p := range m.pools {
		if p.name == name {
			return p
		}
	}
	panic("no pool " + name)
}

// workers returns n running filter workers w0..w(n-1), started at t0.
func workers(n int) []runtime.Worker {
	ws := make([]runtime.Worker, n)
	for i := range ws {
		ws[i] = runtime.Worker{ID: fmt.Sprint(i), Pool: "filter", Name: fmt.Sprintf("w%d", i), StartedAt: t0, Running: true}
	}
	return ws
}

func TestJudge(t *testing.T) {
	now := t0.Add(time.Minute) // every worker and the connection are past their startup grace
	type report struct {
		ago       time.Duration
		unhealthy string
	}
	tests := []struct {
		name string
		// reports by worker name, received ago before now; a worker without one never reported.
		reports map[string]report
		workers int
		// env is the filter pool's env; setup changes the master's state before judging.
		env   []string
		setup func(m *master)
		// sick lists the workers whose runtime health check fails.
		sick    []int
		replace []string
		kind    verdict
	}{
		{name: "all fine", workers: 3, reports: map[string]report{"w0": {ago: time.Second}, "w1": {}, "w2": {}}},
		{name: "one silent is replaced", workers: 3, reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			replace: []string{"w0"}, kind: silent},
		{name: "a lone worker that never reported is replaced", workers: 1, replace: []string{"w0"}, kind: silent},
		{name: "two silent: nobody", workers: 3, reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {ago: 5 * time.Second}, "w2": {}}},
		{name: "all silent: nobody", workers: 3, reports: map[string]report{"w0": {ago: 9 * time.Second}, "w1": {ago: 9 * time.Second}, "w2": {ago: 9 * time.Second}}},
		{name: "one silent while another is late: nobody", workers: 3,
			reports: map[string]report{"w0": {ago: 3100 * time.Millisecond}, "w1": {ago: 2100 * time.Millisecond}, "w2": {}}},
		{name: "one silent while another pool has a suspect: nobody", workers: 2,
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}},
			setup:   func(m *master) { m.hb.otherSuspects("broadcaster", 1) }},
		{name: "one silent while another pool is fine: replaced", workers: 2,
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}},
			setup:   func(m *master) { m.hb.otherSuspects("broadcaster", 0) }, replace: []string{"w0"}, kind: silent},
		{name: "blocked: nobody", workers: 3, reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			setup: func(m *master) { m.hb.setBlocked(true, "low on memory", now.Add(-time.Minute)) }},
		{name: "unblocked within the silence window: nobody", workers: 3,
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			setup: func(m *master) {
				m.hb.setBlocked(true, "low on memory", now.Add(-time.Minute))
				m.hb.setBlocked(false, "", now.Add(-2*time.Second))
			}},
		{name: "unblocked a silence window ago: replaced", workers: 3,
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			setup: func(m *master) {
				m.hb.setBlocked(true, "low on memory", now.Add(-time.Minute))
				m.hb.setBlocked(false, "", now.Add(-4*time.Second))
			}, replace: []string{"w0"}, kind: silent},
		{name: "disconnected: nobody", workers: 3, reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			setup: func(m *master) { m.connectedAt = time.Time{} }},
		{name: "reconnected within the startup grace: nobody", workers: 3,
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}, "w2": {}},
			setup:   func(m *master) { m.connectedAt = now.Add(-10 * time.Second) }},
		{name: "reconnected within a long silence window: nobody", workers: 2, env: []string{config.StatsEveryEnv + "=10s"},
			reports: map[string]report{"w0": {ago: 31 * time.Second}, "w1": {}},
			setup:   func(m *master) { m.connectedAt = now.Add(-20 * time.Second) }},
		{name: "the pool's own interval: 4 s without a report is fine at 5 s", workers: 2, env: []string{config.StatsEveryEnv + "=5s"},
			reports: map[string]report{"w0": {ago: 4 * time.Second}, "w1": {}}},
		{name: "the pool's own interval: 16 s without a report is silent at 5 s", workers: 2, env: []string{config.StatsEveryEnv + "=5s"},
			reports: map[string]report{"w0": {ago: 16 * time.Second}, "w1": {}}, replace: []string{"w0"}, kind: silent},
		{name: "one reports unhealthy: replaced", workers: 3,
			reports: map[string]report{"w0": {unhealthy: "not consuming"}, "w1": {}, "w2": {}}, replace: []string{"w0"}, kind: unhealthy},
		{name: "two report unhealthy: nobody", workers: 3,
			reports: map[string]report{"w0": {unhealthy: "not consuming"}, "w1": {unhealthy: "not consuming"}, "w2": {}}},
		{name: "runtime health check fails: replaced", workers: 2, reports: map[string]report{"w0": {}, "w1": {}},
			sick: []int{1}, replace: []string{"w1"}, kind: unhealthy},
		{name: "runtime health check fails while disconnected: nobody", workers: 2,
			reports: map[string]report{"w0": {}, "w1": {}}, sick: []int{1},
			setup: func(m *master) { m.connectedAt = time.Time{} }},
		{name: "runtime health checks of two fail: nobody", workers: 3,
			reports: map[string]report{"w0": {}, "w1": {}, "w2": {}}, sick: []int{0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := unitMaster(t, tc.env...)
			p := m.poolNamed("filter")
			ws := workers(tc.workers)
			for _, i := range tc.sick {
				ws[i].Unhealthy = true
			}
			for name, r := range tc.reports {
				// A worker that reports unhealthy has reported healthy before: it is judged at once.
				m.board.put(event.WorkerStats{Pool: "filter", Worker: name}, now.Add(-r.ago-time.Second))
				m.board.put(event.WorkerStats{Pool: "filter", Worker: name, Unhealthy: r.unhealthy}, now.Add(-r.ago))
			}
			if tc.setup != nil {
				tc.setup(m)
			}
			keep, replace := m.judge(p, ws, now)
			var got []string
			for _, s := range replace {
				got = append(got, s.w.Name)
				if s.v != tc.kind {
					t.Errorf("%s replaced as %s, want %s", s.w.Name, s.v, tc.kind)
				}
			}
			if !slices.Equal(got, tc.replace) {
				t.Fatalf("replaced %v, want %v", got, tc.replace)
			}
			if len(keep)+len(replace) != len(ws) {
				t.Fatalf("kept %d and replaced %d of %d workers", len(keep), len(replace), len(ws))
			}
		})
	}
}

func TestOutageIsLoggedOnce(t *testing.T) {
	m := unitMaster(t)
	var logs strings.Builder
	m.log = zerolog.New(&logs)
	p := m.poolNamed("filter")
	ws := workers(3)
	now := t0.Add(time.Minute)
	for i := range 5 { // every reconcile of a 5 s outage
		m.judge(p, ws, now.Add(time.Duration(i)*time.Second))
	}
	if n := strings.Count(logs.String(), "several workers look dead at once"); n != 1 {
		t.Fatalf("outage logged %d times, want once:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"workers":["w0","w1","w2"]`) || !strings.Contains(logs.String(), `"silent":3`) {
		t.Fatalf("outage log lacks its fields:\n%s", logs.String())
	}
	later := now.Add(10 * time.Second)
	for _, w := range ws {
		m.board.put(event.WorkerStats{Pool: "filter", Worker: w.Name}, later)
	}
	m.judge(p, ws, later)
	if !strings.Contains(logs.String(), "workers report again") {
		t.Fatalf("the outage's end is not logged:\n%s", logs.String())
	}
}

func TestFollowBlocked(t *testing.T) {
	clock := t0
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	var h heartbeats
	blocks := make(chan amqp.Blocking)
	done := make(chan struct{})
	go func() { defer close(done); h.follow(blocks, now, zerolog.Nop()) }()
	blocks <- amqp.Blocking{Active: true, Reason: "low on disk"}
	// The next send is taken only once the first notification is applied; the third once the second is.
	blocks <- amqp.Blocking{Active: true, Reason: "low on memory"}
	blocks <- amqp.Blocking{Active: false}
	close(blocks)
	<-done
	blocked, _, unblockedAt := h.blockedState()
	if blocked || !unblockedAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("blocked %v, unblocked at %v; want unblocked at the third notification, %v", blocked, unblockedAt, t0.Add(3*time.Second))
	}

	// A connection that closes while blocked ends the block.
	h = heartbeats{}
	blocks = make(chan amqp.Blocking, 1)
	blocks <- amqp.Blocking{Active: true, Reason: "low on memory"}
	close(blocks)
	h.follow(blocks, now, zerolog.Nop())
	if blocked, _, at := h.blockedState(); blocked || at.IsZero() {
		t.Fatalf("blocked %v, unblocked at %v after the connection closed", blocked, at)
	}
}

// fakeRuntime is an in-memory Runtime for unit tests of reconcile's wiring (the integration tests use real ones).
type fakeRuntime struct {
	mu      sync.Mutex
	workers []runtime.Worker
	started []runtime.Spec
	stopped map[string]time.Duration // grace by worker name
}

func (f *fakeRuntime) Start(_ context.Context, s runtime.Spec) (runtime.Worker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, s)
	w := runtime.Worker{ID: fmt.Sprint("new", len(f.started)), Pool: s.Pool, Name: fmt.Sprint("new", len(f.started)), StartedAt: t0, Running: true}
	f.workers = append(f.workers, w)
	return w, nil
}

func (f *fakeRuntime) Stop(_ context.Context, w runtime.Worker, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped[w.Name] = grace
	f.workers = slices.DeleteFunc(f.workers, func(x runtime.Worker) bool { return x.ID == w.ID })
	return nil
}

func (f *fakeRuntime) Remove(context.Context, runtime.Worker) error { return nil }

func (f *fakeRuntime) List(_ context.Context, pool string) ([]runtime.Worker, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.Worker
	for _, w := range f.workers {
		if w.Pool == pool {
			out = append(out, w)
		}
	}
	return out, nil
}

func (f *fakeRuntime) Close() error { return nil }

func TestReconcileReplacesOnlyALoneSilentWorker(t *testing.T) {
	for _, silentOnes := range []int{1, 2} {
		t.Run(fmt.Sprint(silentOnes, " silent"), func(t *testing.T) {
			m := unitMaster(t)
			rt := &fakeRuntime{workers: workers(3), stopped: map[string]time.Duration{}}
			m.rt = rt
			now := t0.Add(time.Minute)
			m.o.Now = func() time.Time { return now }
			p := m.poolNamed("filter")
			p.setDesired(3)
			for i, w := range rt.workers {
				at := now
				if i < silentOnes {
					at = now.Add(-10 * time.Second)
				}
				m.board.put(event.WorkerStats{Pool: "filter", Worker: w.Name}, at)
			}
			m.reconcile(context.Background(), p)
			m.retiring.Wait()
			switch silentOnes {
			case 1:
				if g, ok := rt.stopped["w0"]; !ok || g != p.cfg.Grace || len(rt.stopped) != 1 {
					t.Fatalf("stopped %v, want only w0 with the pool's grace %v", rt.stopped, p.cfg.Grace)
				}
				if len(rt.started) != 1 {
					t.Fatalf("started %d workers, want 1 replacement", len(rt.started))
				}
				env := rt.started[0].Env
				if !slices.Contains(env, config.StatsEveryEnv+"=1s") || !slices.Contains(env, config.ShutdownGraceEnv+"=10s") {
					t.Fatalf("replacement env %v lacks the stats interval and shutdown grace the master judges by", env)
				}
			case 2:
				if len(rt.stopped) != 0 || len(rt.started) != 0 {
					t.Fatalf("stopped %v and started %d with two workers silent at once, want none", rt.stopped, len(rt.started))
				}
				if p.alive() != 3 {
					t.Fatalf("alive = %d, want the 3 workers kept", p.alive())
				}
			}
		})
	}
}

func TestUnknownPoolListsPools(t *testing.T) {
	m := unitMaster(t)
	_, err := NewEvaluator("filtr", m.o.Config, t0)
	if err == nil || !strings.Contains(err.Error(), `no pool "filtr" (configured: broadcaster, filter)`) {
		t.Fatalf("err = %v, want it to name the configured pools", err)
	}
}
