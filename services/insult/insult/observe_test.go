//go:build integration

package insult_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics/metricstest"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// startObserved runs a replica serving health on a free loopback port and returns that address: once it
// serves requests when ready is true, else as soon as health listens.
func startObserved(t *testing.T, cfg config.Config, ready bool) string {
	t.Helper()
	cfg.Health.Addr = "127.0.0.1:0"
	addrs := make(chan string, 1)
	run := func(ctx context.Context, readyFn func()) error {
		return insult.Run(ctx, insult.Options{Config: cfg, Log: testkit.Logger(t, "insult"), Ready: readyFn,
			OnHealth: func(s *health.Server) { addrs <- s.Addr() }})
	}
	if ready {
		testkit.GoReady(t, "insult service", run)
	} else {
		testkit.Go(t, func(ctx context.Context) error { return run(ctx, nil) })
	}
	select {
	case addr := <-addrs:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("health server not started")
		return ""
	}
}

func status(addr, path string) int {
	code, _ := testkit.HTTPGet("http://" + addr + path)
	return code
}

// TestRequestMetrics: requests are counted by op and outcome, those that cannot be parsed as op "invalid";
// every op is exported from the start; the catalogue size follows the adds.
func TestRequestMetrics(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	addr := startObserved(t, cfg, true)
	if h, r := status(addr, "/healthz"), status(addr, "/readyz"); h != 200 || r != 200 {
		t.Fatalf("a serving replica: /healthz %d, /readyz %d, want 200 and 200", h, r)
	}
	for _, body := range []string{`{"op":"list"}`, `{"op":"add","insult":"Nincompoop"}`, `{"op":"random"}`,
		`{"op":"shout"}`, `not json`, `{"op":"add"}`} {
		call(t, conn, body)
	}
	want := []struct {
		op, outcome string
		n           float64
	}{
		{"list", "ok", 1}, {"add", "ok", 1}, {"random", "ok", 1}, {"invalid", "invalid", 3},
		{"broadcast_on", "ok", 0}, {"add", "error", 0}, {"remove", "refused", 0},
	}
	var f metricstest.Families
	testkit.Eventually(t, 10*time.Second, "requests counted", func() bool {
		f = metricstest.Scrape(t, addr)
		for _, w := range want {
			if got, ok := f.Value("warren_insult_requests_total", "op", w.op, "outcome", w.outcome); !ok || got != w.n {
				return false
			}
		}
		return true
	})
	if n, _ := f.Value("warren_insult_request_duration_seconds", "op", "add"); n != 1 {
		t.Errorf("%g add durations, want 1", n)
	}
	if n, _ := f.Value("warren_insult_catalogue_insults"); n != float64(len(cfg.Insult.Defaults)+1) {
		t.Errorf("catalogue of %g insults, want the defaults and the one added", n)
	}
	if n, _ := f.Value("warren_insult_connections_total"); n != 1 {
		t.Errorf("%g connections, want 1", n)
	}
}

// TestReplyCarriesTraceContext: the reply continues the request's trace.
func TestReplyCarriesTraceContext(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startReplica(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := amqpx.Call(ctx, conn, "", topology.InsultRPC, amqp.Publishing{ContentType: "application/json", Body: []byte(`{"op":"list"}`),
		Headers: amqp.Table{topology.HeaderTraceParent: tp, topology.HeaderTraceState: "congo=t61rcWkgMzE"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Headers[topology.HeaderTraceParent] != tp || d.Headers[topology.HeaderTraceState] != "congo=t61rcWkgMzE" {
		t.Fatalf("reply headers %v, want the request's trace context", d.Headers)
	}
}

// TestNotReadyBeforeServing: a replica that has not reached the broker is alive and not ready.
func TestNotReadyBeforeServing(t *testing.T) {
	addr := startObserved(t, testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/"), false)
	if h, r := status(addr, "/healthz"), status(addr, "/readyz"); h != 200 || r != 503 {
		t.Fatalf("/healthz %d, /readyz %d, want 200 and 503", h, r)
	}
}

func TestBadHealthAddrStopsTheStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/")
	cfg.Health.Addr = busy.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = insult.Run(ctx, insult.Options{Config: cfg, Log: testkit.Logger(t, "insult")})
	if err == nil || !strings.Contains(err.Error(), "health.addr") || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want an error naming health.addr at once", err)
	}
}
