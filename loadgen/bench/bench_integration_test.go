//go:build integration

package bench

import (
	"context"
	"os"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/bench/flood"
	"github.com/warren-mq/warren/loadgen/bench/mgmt"
	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestTempVhostAndBaseline creates a vhost through the management API, runs a short bare-broker flood in
// it, and deletes it.
func TestTempVhostAndBaseline(t *testing.T) {
	testkit.Broker(t) // skips without a broker
	ctx := context.Background()
	m, err := mgmt.New(testkit.BaseURL(), os.Getenv("WARREN_MGMT_URL"))
	if err != nil {
		t.Fatal(err)
	}
	o, err := m.Overview(ctx)
	if err != nil || o.RabbitMQ == "" {
		t.Fatalf("overview %+v: %v", o, err)
	}
	if pid, err := m.BrokerPid(ctx); err != nil || pid <= 0 {
		t.Fatalf("broker pid %d: %v", pid, err)
	}
	env := &Env{URL: testkit.BaseURL(), Mgmt: m, Log: testkit.Logger(t, "bench")}
	var vhostURL string
	err = env.vhost(ctx, "test", func(url string) error {
		vhostURL = url
		if err := declareBaseline(ctx, url); err != nil {
			return err
		}
		r, err := flood.Run(ctx, flood.Options{URL: url, Key: baselineQueue, Publishers: 2, Window: 500, Size: 200,
			Duration: 2 * time.Second, Warmup: 500 * time.Millisecond,
			Consumer: flood.Consumer{Queue: baselineQueue, Prefetch: 200, AckEach: true}})
		if err != nil {
			return err
		}
		t.Logf("baseline: %.0f events/s, %d published, %d completed", r.Throughput, r.Published, r.Completed)
		if r.Throughput < 100 || r.Completed < r.Published-500 || r.Nacked != 0 || len(r.PerSecond) != 2 {
			t.Errorf("result %+v", r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if conn, err := amqpx.Dial(dctx, amqpx.Options{URL: vhostURL}); err == nil {
		_ = conn.Close()
		t.Errorf("vhost %s still accepts connections after the benchmark", vhostURL)
	}
}

// BenchmarkFilterPipeline runs one filter worker in-process under the stress harness, so that
//
//	go test -tags integration -run '^$' -bench FilterPipeline -benchtime 1x -cpuprofile cpu.prof ./loadgen/bench/
//	go tool pprof -tagfocus role=filter -top cpu.prof
//
// shows where the worker's own time goes; every goroutine the worker starts carries the label role=filter.
func BenchmarkFilterPipeline(b *testing.B) {
	url := testkit.Broker(b)
	testkit.Conn(b, url)
	cfg := testkit.Config(b, url)
	ready := make(chan struct{}, 4)
	testkit.Go(b, func(ctx context.Context) error {
		var err error
		pprof.Do(ctx, pprof.Labels("role", "filter"), func(ctx context.Context) {
			err = filter.Run(ctx, filter.Options{Config: cfg, Log: testkit.Logger(b, "filter").Level(1), Ready: func() { ready <- struct{}{} }})
		})
		return err
	})
	<-ready
	b.ResetTimer()
	for range b.N {
		r, err := flood.Run(context.Background(), flood.Options{URL: url, Exchange: topology.FilterExchange, Publishers: 4,
			Window: 4000, Size: 200, Duration: 12 * time.Second, Warmup: 2 * time.Second,
			Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Throughput, "events/s")
	}
}
