//go:build integration

package filter_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics/metricstest"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// startObserved runs a filter worker serving health on a free loopback port and returns the address it serves
// (once it consumes, when ready is true; else as soon as health listens).
func startObserved(t *testing.T, cfg config.Config, ready bool) (addr string, stop func()) {
	t.Helper()
	cfg.Health.Addr = "127.0.0.1:0"
	addrs := make(chan string, 1)
	run := func(ctx context.Context, readyFn func()) error {
		return filter.Run(ctx, filter.Options{Config: cfg, Log: testkit.Logger(t, "filter"), Ready: readyFn,
			OnHealth: func(s *health.Server) { addrs <- s.Addr() }})
	}
	if ready {
		stop = testkit.GoReady(t, "filter", run)
	} else {
		stop = testkit.Go(t, func(ctx context.Context) error { return run(ctx, nil) })
	}
	select {
	case addr = <-addrs:
	case <-time.After(30 * time.Second):
		t.Fatal("health server not started")
	}
	return addr, stop
}

// status answers GET http://addr+path's status code, or 0 when nothing answers.
func status(addr, path string) int {
	code, _ := testkit.HTTPGet("http://" + addr + path)
	return code
}

// TestMetricsCountTheWork: after n events and one poison event, the worker's /metrics (on the address its
// stats reports advertise) counts n processed, the poison one failed and dead-lettered, one connection and the
// default catalogue; the held and in-flight gauges are there. The poison event's dead letter keeps its trace
// context.
func TestMetricsCountTheWork(t *testing.T) {
	const n = 200
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	stats, ch, err := amqpx.Subscribe(conn, topology.StatsExchange, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	addr, _ := startObserved(t, cfg, true)
	if status(addr, "/healthz") != 200 || status(addr, "/readyz") != 200 {
		t.Fatalf("a consuming worker: /healthz %d, /readyz %d, want 200 and 200", status(addr, "/healthz"), status(addr, "/readyz"))
	}

	results := testkit.CountResults(t, conn)
	testkit.PublishTexts(t, conn, "m", n)
	poison := amqp.Publishing{ContentType: event.ContentJSON, MessageId: "poison", Body: []byte(`{"text": "unterminated`),
		Headers: amqp.Table{topology.HeaderTraceParent: traceParent, topology.HeaderTraceState: "congo=t61rcWkgMzE"}}
	testkit.Publish(t, conn, topology.FilterExchange, "", poison)
	testkit.Eventually(t, 30*time.Second, "every result", func() bool { missing, _ := results.Check("m", n); return missing == 0 })
	dead := deadLetters(t, conn, 1)
	if d := dead[0]; d.MessageId != "poison" || d.Headers[topology.HeaderTraceParent] != traceParent ||
		d.Headers[topology.HeaderTraceState] != "congo=t61rcWkgMzE" {
		t.Errorf("dead letter %s headers %v, want the poison event's trace context", d.MessageId, d.Headers)
	}

	want := map[string]float64{
		"warren_worker_events_processed_total": n, "warren_worker_events_failed_total": 1,
		"warren_worker_events_dead_lettered_total": 1, "warren_worker_connections_total": 1,
		"warren_worker_reconnects_total": 0, "warren_worker_catalogue_insults": float64(len(cfg.Insult.Defaults)),
		"warren_worker_deliveries_in_flight": 0, "warren_worker_deliveries_held": 0,
		"warren_worker_handler_duration_seconds": n + 1,
	}
	var f metricstest.Families
	testkit.Eventually(t, 10*time.Second, "metrics counting the work", func() bool {
		f = metricstest.Scrape(t, addr)
		for name, v := range want {
			if got, ok := f.Value(name, "pool", "filter"); !ok || got != v {
				return false
			}
		}
		return true
	})
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := f.Value(name); !ok {
			t.Errorf("%s not exported", name)
		}
	}

	// The address /metrics is served on is the one the reports advertise, for the master's service discovery.
	deadline := time.After(15 * time.Second)
	for {
		select {
		case d := <-stats:
			var s event.WorkerStats
			if json.Unmarshal(d.Body, &s) == nil && s.Pool == "filter" {
				if s.MetricsAddr != addr {
					t.Fatalf("report advertises metrics at %q, served at %q", s.MetricsAddr, addr)
				}
				return
			}
		case <-deadline:
			t.Fatal("no stats report")
		}
	}
}

// TestResultCarriesTraceContext: a result continues its event's trace (traceparent and tracestate, beside the
// send time), and an invalid traceparent is not passed on, nor the tracestate that goes with it.
func TestResultCarriesTraceContext(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startFilter(t, url, "")
	traced := testkit.JSON(event.Text{ID: "traced", Text: "idiot"})
	traced.Headers = amqp.Table{topology.HeaderTraceParent: traceParent, topology.HeaderTraceState: "rojo=00f067aa0ba902b7",
		topology.HeaderSentAt: "2025-01-01T00:00:00Z", "x-other": "not carried"}
	invalid := testkit.JSON(event.Text{ID: "invalid", Text: "idiot"})
	invalid.Headers = amqp.Table{topology.HeaderTraceParent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		topology.HeaderTraceState: "rojo=00f067aa0ba902b7"}
	testkit.Publish(t, conn, topology.FilterExchange, "", traced)
	testkit.Publish(t, conn, topology.FilterExchange, "", invalid)
	byID := map[string]amqp.Delivery{}
	testkit.Eventually(t, 15*time.Second, "both results", func() bool {
		for _, d := range testkit.Drain(t, conn, topology.Results, 100*time.Millisecond) {
			byID[d.MessageId] = d
		}
		return len(byID) == 2
	})
	h := byID["traced"].Headers
	if h[topology.HeaderTraceParent] != traceParent || h[topology.HeaderTraceState] != "rojo=00f067aa0ba902b7" ||
		h[topology.HeaderSentAt] != "2025-01-01T00:00:00Z" || h["x-other"] != nil {
		t.Errorf("traced result headers %v", h)
	}
	if h := byID["invalid"].Headers; len(h) != 0 {
		t.Errorf("result of an event with an invalid traceparent carries %v, want no trace context", h)
	}
}

// TestReadiness: /healthz says the worker lives, /readyz that it consumes: not before it has reached the
// broker, and no longer once it has lost it, while /healthz stays 200 throughout (a worker waiting for the
// broker must not be restarted for it).
func TestReadiness(t *testing.T) {
	t.Run("before the broker", func(t *testing.T) {
		cfg := testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/")
		addr, _ := startObserved(t, cfg, false)
		if h, r := status(addr, "/healthz"), status(addr, "/readyz"); h != 200 || r != 503 {
			t.Fatalf("a worker that never reached the broker: /healthz %d, /readyz %d, want 200 and 503", h, r)
		}
	})
	t.Run("after losing the broker", func(t *testing.T) {
		u := testkit.Broker(t)
		p := newProxy(t, u)
		addr, _ := startObserved(t, testkit.Config(t, p.url), true)
		if h, r := status(addr, "/healthz"), status(addr, "/readyz"); h != 200 || r != 200 {
			t.Fatalf("consuming: /healthz %d, /readyz %d, want 200 and 200", h, r)
		}
		p.close()
		testkit.Eventually(t, 15*time.Second, "/readyz 503 once the connection is gone", func() bool { return status(addr, "/readyz") == 503 })
		if h := status(addr, "/healthz"); h != 200 {
			t.Fatalf("/healthz %d without a broker, want 200", h)
		}
		// Given the broker back, it reconnects, is ready again and counts the reconnection.
		p.open(t, p.addr)
		testkit.Eventually(t, 30*time.Second, "/readyz 200 once reconnected", func() bool { return status(addr, "/readyz") == 200 })
		f := metricstest.Scrape(t, addr)
		if c, _ := f.Value("warren_worker_connections_total"); c != 2 {
			t.Errorf("%g connections, want 2", c)
		}
		if r, _ := f.Value("warren_worker_reconnects_total"); r != 1 {
			t.Errorf("%g reconnects, want 1", r)
		}
	})
}

// TestBadHealthAddrStopsTheStart: an operator's health.addr that is malformed or taken is an error naming the
// key, at once, not a worker running without the endpoints asked for.
func TestBadHealthAddrStopsTheStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, addr := range []string{"nonsense", busy.Addr().String()} {
		cfg := testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/")
		cfg.Health.Addr = addr
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := filter.Run(ctx, filter.Options{Config: cfg, Log: testkit.Logger(t, "filter")})
		cancel()
		if err == nil || !strings.Contains(err.Error(), "health.addr") || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Errorf("health.addr %q: Run returned %v, want an error naming health.addr at once", addr, err)
		}
	}
}

// proxy forwards TCP connections to the broker until closed, so a test can take the broker away from one
// service, and give it back, without touching the broker every test shares.
type proxy struct {
	url, addr, target string
	mu                sync.Mutex
	ln                net.Listener
	conns             []net.Conn
	closed            bool
	wg                sync.WaitGroup
}

func newProxy(t *testing.T, brokerURL string) *proxy {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u.Host}
	if u.Port() == "" {
		p.target += ":5672"
	}
	p.open(t, "127.0.0.1:0")
	u.Host = p.addr
	p.url = u.String()
	t.Cleanup(p.close)
	return p
}

// open listens on addr (the proxy's own address again, when reopening) and forwards what it accepts.
func (p *proxy) open(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln, p.addr, p.closed, p.conns = ln, ln.Addr().String(), false, nil
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				_, _ = c.Close(), b.Close()
				return
			}
			p.conns = append(p.conns, c, b)
			p.wg.Add(2)
			p.mu.Unlock()
			go func() { defer p.wg.Done(); _, _ = io.Copy(b, c); _ = b.Close() }()
			go func() { defer p.wg.Done(); _, _ = io.Copy(c, b); _ = c.Close() }()
		}
	}()
}

// close stops accepting and cuts every connection, as a broker that went away would.
func (p *proxy) close() {
	p.mu.Lock()
	_ = p.ln.Close()
	p.closed = true
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
