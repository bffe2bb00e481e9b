package master

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
)

// TestBadStatusAddrIsAStartupErrorNamingTheKey checks that a status address that is malformed or in use ends
// Run at once, before any broker connection, with an error naming master.status_addr.
func TestBadStatusAddrIsAStartupErrorNamingTheKey(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	// Malformed addresses are refused by config.Load already (see its tests); Run checks again, for callers
	// that build the configuration themselves.
	for _, tc := range []struct{ addr, want string }{
		{"8080", "not host:port"},
		{"127.0.0.1:99999", "invalid port"},
		{"192.0.2.1:8080", "cannot assign requested address"},
		{busy.Addr().String(), "address already in use"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			c, err := config.Load(config.Flags{AMQPURL: "amqp://guest:guest@127.0.0.1:1/"})
			if err != nil {
				t.Fatal(err)
			}
			c.Master.StatusAddr = tc.addr
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = Run(ctx, Options{Config: c, Log: zerolog.Nop(), Runtime: &fakeRuntime{stopped: map[string]time.Duration{}}})
			if err == nil || !strings.Contains(err.Error(), "master.status_addr") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run with status_addr %q returned %v, want an error naming master.status_addr and saying %q", tc.addr, err, tc.want)
			}
		})
	}
}

// TestMasterMetricsFollowConventions lints every master metric, with every series a pool creates, against
// Prometheus' naming conventions (units, _total, base units).
func TestMasterMetricsFollowConventions(t *testing.T) {
	reg, mm := newRegistry(func() bool { return false }, func() bool { return true })
	mm.initPool("filter")
	mm.evaluated(event.PoolStatus{Pool: "filter", Lambda: 10, Capacity: 100, CapacitySource: scaler.SourceAuto,
		Current: 1, Desired: 2, Reason: scaler.ReasonScaleUp}, 0.001)
	mm.startLatency.WithLabelValues("filter").Observe(0.5)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "warren_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
	// A change of capacity source replaces the pool's capacity series instead of leaving the old one behind.
	mm.evaluated(event.PoolStatus{Pool: "filter", Capacity: 120, CapacitySource: scaler.SourceAutoLastKnown, Reason: scaler.ReasonHold}, 0.001)
	if n := testutil.CollectAndCount(mm.capacity); n != 1 {
		t.Errorf("%d capacity series for one pool, want 1", n)
	}
	if got := testutil.ToFloat64(mm.decisions.WithLabelValues("filter", scaler.ReasonScaleUp)); got != 1 {
		t.Errorf("scale_up decisions = %v, want 1", got)
	}
}

// TestDashboardWorkerStates is how the dashboard shows a worker, from its runtime state and its reports.
func TestDashboardWorkerStates(t *testing.T) {
	c, err := config.Load(config.Flags{Sets: []string{"filter.stats_every=1s"}})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	m, err := newMaster(Options{Config: c, Log: zerolog.Nop(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	p := m.pools[0]
	report := func(name string, at time.Time, unhealthy string, held int) {
		m.board.put(event.WorkerStats{Pool: p.name, Worker: name, Held: held, InFlight: 1, Unhealthy: unhealthy}, at)
	}
	report("fine", now.Add(-time.Second), "", 7)
	report("sick", now.Add(-time.Second), "not consuming", 0)
	report("quiet", now.Add(-10*time.Second), "", 0)
	report("leaving", now.Add(-time.Second), "", 3)
	p.markRetiring("leaving", true)
	for _, tc := range []struct {
		w                runtime.Worker
		state            string
		healthy          bool
		unhealthy        string
		held             int
		reportedRecently bool
	}{
		{runtime.Worker{ID: "fine", Name: "fine", Running: true}, "running", true, "", 7, true},
		{runtime.Worker{ID: "new", Name: "new", Running: true}, "starting", true, "", 0, false},
		{runtime.Worker{ID: "sick", Name: "sick", Running: true}, "running", false, "not consuming", 1, true},
		{runtime.Worker{ID: "quiet", Name: "quiet", Running: true}, "running", false, "no report for 10s", 1, true},
		{runtime.Worker{ID: "leaving", Name: "leaving", Running: true}, "retiring", true, "", 3, true},
		{runtime.Worker{ID: "gone", Name: "gone", Running: false}, "exited", false, "exited", 0, false},
		{runtime.Worker{ID: "ill", Name: "ill", Running: true, Unhealthy: true}, "starting", false, "runtime health check fails", 0, false},
	} {
		t.Run(tc.w.Name, func(t *testing.T) {
			got := m.dashboardWorker(p, tc.w, now)
			if got.State != tc.state || got.Healthy != tc.healthy || got.Unhealthy != tc.unhealthy || got.Held != tc.held {
				t.Errorf("got state %q healthy %v (%q) held %d, want %q %v (%q) %d", got.State, got.Healthy, got.Unhealthy,
					got.Held, tc.state, tc.healthy, tc.unhealthy, tc.held)
			}
			if got.LastReport.IsZero() == tc.reportedRecently {
				t.Errorf("last report %v", got.LastReport)
			}
		})
	}
}
