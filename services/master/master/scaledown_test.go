//go:build integration

package master

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/testkit"
)

// TestScaleDownWhileWorkersHoldDeliveries lowers a pool's desired size from 3 to 1 while every worker holds a
// full prefetch of slow events, through the master's own reconcile (victims, retire, the process runtime's
// SIGTERM and grace), and checks that every event is answered exactly once: the retired workers finish and ack
// what they hold within their shutdown grace, which the pool's grace exceeds, so none is killed mid-publish.
func TestScaleDownWhileWorkersHoldDeliveries(t *testing.T) {
	bin := testkit.BuildServices(t, "filter")
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url) // the workers' amqp.shutdown_grace is 5 s
	cfg.Master.Runtime, cfg.Master.Bin, cfg.Master.LogDir = "process", bin, t.TempDir()
	f := cfg.Master.Pools["filter"]
	f.Min, f.Max = 1, 3
	f.Grace = cfg.AMQP.ShutdownGrace + 5*time.Second
	// 4 handlers of 100 ms each (40 events/s) and 40 prefetched: each worker holds about a second of work.
	f.Env = []string{"WARREN_FILTER_WORK_DELAY=100ms", "WARREN_FILTER_CONCURRENCY=4", "WARREN_AMQP_PREFETCH=40",
		"WARREN_LOG_LEVEL=info", "WARREN_LOG_FORMAT=json"}
	cfg.Master.Pools = map[string]config.Pool{"filter": f}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := testkit.Logger(t, "master")
	rt, err := NewRuntime(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMaster(Options{Config: cfg, Log: log, Now: time.Now, StartupGrace: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m.rt = rt
	p := m.pools[0]
	var shutdownOnce sync.Once
	shutdown := func() { shutdownOnce.Do(m.shutdown) } // stops the process workers and closes the runtime
	t.Cleanup(shutdown)
	testkit.Go(t, func(ctx context.Context) error { return m.board.listen(ctx, conn, time.Now) })
	results := testkit.CountResults(t, conn)
	ctx := context.Background()

	p.setDesired(3)
	m.reconcile(ctx, p)
	ws, err := rt.List(ctx, "filter")
	if err != nil || len(ws) != 3 {
		t.Fatalf("%d workers after reconcile (%v), want 3", len(ws), err)
	}
	testkit.Eventually(t, 60*time.Second, "three workers consuming", func() bool {
		for _, w := range ws {
			if s := m.board.latest(w.Name); s.Worker == "" || s.Unhealthy != "" {
				return false
			}
		}
		return true
	})

	const n = 600
	testkit.PublishTexts(t, conn, "sd", n)
	testkit.Eventually(t, 30*time.Second, "every worker holding prefetched deliveries", func() bool {
		for _, w := range ws {
			if s := m.board.latest(w.Name); s.Held <= s.InFlight {
				return false
			}
		}
		return true
	})

	p.setDesired(1)
	m.reconcile(ctx, p)
	var victims []runtime.Worker
	for _, w := range ws {
		if p.isRetiring(w.ID) {
			victims = append(victims, w)
			t.Logf("retiring %s, which held %d deliveries at its last report", w.Name, m.board.latest(w.Name).Held)
		}
	}
	if len(victims) != 2 {
		t.Fatalf("%d workers retiring after lowering the pool to 1, want 2", len(victims))
	}
	retired := make(chan struct{})
	go func() { m.retiring.Wait(); close(retired) }()
	select {
	case <-retired:
	case <-time.After(f.Grace + time.Minute):
		t.Fatal("the retired workers were not stopped within their grace")
	}
	for _, w := range victims {
		out, err := os.ReadFile(filepath.Join(cfg.Master.LogDir, "filter-"+w.ID+".log"))
		if err != nil {
			t.Fatal(err)
		}
		// A clean stop: the worker logged its own end, having finished what it held within its shutdown grace.
		if !strings.Contains(string(out), "filter stopped") || strings.Contains(string(out), "not finished in grace") {
			t.Errorf("retired worker %s did not stop cleanly; its log:\n%s", w.Name, out)
		}
	}

	testkit.Eventually(t, 2*time.Minute, "every event answered", func() bool { missing, _ := results.Check("sd", n); return missing == 0 })
	shutdown()
	results.Settle(t, conn)
	if missing, dups := results.Check("sd", n); missing != 0 || dups != 0 {
		t.Fatalf("%d of %d events without a result, %d with more than one", missing, n, dups)
	}
}
