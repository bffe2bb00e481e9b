package health

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// get answers GET http://addr+path with its status and body.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	// No keep-alive: an idle connection's goroutines would outlive the test and trip goleak.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func socketName(t *testing.T) string { return "test-" + strings.ReplaceAll(t.Name(), "/", "-") }

func TestReadinessOverSocket(t *testing.T) {
	fail := filepath.Join(t.TempDir(), "fail")
	t.Setenv(FailFileEnv, fail)
	name := socketName(t)
	s := start(t, Options{Socket: name, Log: zerolog.Nop()})
	if s.Addr() != "" {
		t.Errorf("Addr %q without a TCP address", s.Addr())
	}
	check := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return Check(ctx, name, "")
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("a probe never set ready answered %v", err)
	}
	s.Probe().SetReady(true)
	if err := check(); err != nil {
		t.Fatalf("ready probe: %v", err)
	}
	s.Probe().SetReady(false)
	if err := check(); err == nil || !strings.Contains(err.Error(), "not consuming") {
		t.Fatalf("a probe no longer consuming answered %v", err)
	}
	s.Probe().SetReady(true)
	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "failed on purpose") {
		t.Fatalf("forced-unhealthy probe answered %v", err)
	}
}

// TestAliveIsNotReady: /healthz says whether to restart the service, /readyz whether it does its work. A
// service waiting for the broker is alive and not ready; only the operator's fail file makes it not alive.
func TestAliveIsNotReady(t *testing.T) {
	fail := filepath.Join(t.TempDir(), "fail")
	t.Setenv(FailFileEnv, fail)
	s := start(t, Options{Addr: "127.0.0.1:0", Log: zerolog.Nop()})
	for _, c := range []struct {
		ready            bool
		failed           bool
		healthz, readyz  int
		readyWhy, health string
	}{
		{false, false, 200, 503, "starting", "alive"},
		{true, false, 200, 200, "consuming", "alive"},
		{true, true, 503, 503, "failed on purpose", "failed on purpose"},
	} {
		if c.ready {
			s.Probe().SetReady(true)
		}
		if c.failed {
			if err := os.WriteFile(fail, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if code, body := get(t, s.Addr(), "/healthz"); code != c.healthz || !strings.Contains(body, c.health) {
			t.Errorf("ready=%v failed=%v: /healthz %d %q, want %d %q", c.ready, c.failed, code, body, c.healthz, c.health)
		}
		if code, body := get(t, s.Addr(), "/readyz"); code != c.readyz || !strings.Contains(body, c.readyWhy) {
			t.Errorf("ready=%v failed=%v: /readyz %d %q, want %d %q", c.ready, c.failed, code, body, c.readyz, c.readyWhy)
		}
	}
}

func TestMetricsServedWhenSet(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "warren_test_things_total", Help: "Things."}))
	with := start(t, Options{Addr: "127.0.0.1:0", Metrics: reg, Log: zerolog.Nop()})
	if code, body := get(t, with.Addr(), "/metrics"); code != 200 || !strings.Contains(body, "warren_test_things_total 0") {
		t.Errorf("/metrics: %d %q", code, body)
	}
	without := start(t, Options{Addr: "127.0.0.1:0", Log: zerolog.Nop()})
	for _, path := range []string{"/metrics", "/", "/dashboard"} {
		if code, _ := get(t, without.Addr(), path); code != 404 {
			t.Errorf("%s without metrics or handler: %d, want 404", path, code)
		}
	}
	if code, _ := get(t, with.Addr(), "/nothing-here"); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

func TestHandlerServesTheRest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "dashboard "+r.URL.Path) })
	s := start(t, Options{Addr: "127.0.0.1:0", Handler: h, Log: zerolog.Nop()})
	if code, body := get(t, s.Addr(), "/pools"); code != 200 || body != "dashboard /pools" {
		t.Errorf("/pools: %d %q", code, body)
	}
	if code, body := get(t, s.Addr(), "/readyz"); code != 503 || !strings.Contains(body, "starting") {
		t.Errorf("the handler must not shadow /readyz: %d %q", code, body)
	}
}

func TestPortZeroIsResolved(t *testing.T) {
	s := start(t, Options{Addr: "127.0.0.1:0", Log: zerolog.Nop()})
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" || port == "" {
		t.Fatalf("Addr %q (%v), want 127.0.0.1 and the port picked", s.Addr(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.Probe().SetReady(true)
	if err := Check(ctx, "unused", s.Addr()); err != nil {
		t.Fatalf("Check over TCP: %v", err)
	}
	// An unspecified host is advertised as an address others can reach.
	all := start(t, Options{Addr: ":0", Log: zerolog.Nop()})
	host, port, err = net.SplitHostPort(all.Addr())
	if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsUnspecified() || port == "0" {
		t.Fatalf("Addr %q (%v) for :0, want a reachable host and the port picked", all.Addr(), err)
	}
	if code, _ := get(t, all.Addr(), "/healthz"); code != 200 {
		t.Fatalf("/healthz on the advertised address: %d", code)
	}
}

func TestBadAddrIsAnErrorNamingItsKey(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct{ addr, key, want string }{
		{"localhost", "health.addr", "health.addr: \"localhost\" is not host:port"},
		{"127.0.0.1:http-ish", "", "health.addr: cannot listen"},
		{busy.Addr().String(), "health.addr", "health.addr: cannot listen on"},
		{"127.0.0.1:99999", "master.status_addr", "master.status_addr: cannot listen"},
	} {
		s, err := Start(context.Background(), Options{Addr: c.addr, AddrKey: c.key, Log: zerolog.Nop()})
		if err == nil {
			s.Stop()
			t.Errorf("%q: started", c.addr)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.addr, err, c.want)
		}
	}
}

func TestStopEndsServing(t *testing.T) {
	s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", Socket: socketName(t), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Stop()
	s.Stop() // idempotent
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Stop")
	}
	// The socket name is free again.
	again := start(t, Options{Socket: socketName(t), Log: zerolog.Nop()})
	s.Probe().SetReady(true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := Check(ctx, socketName(t), ""); err == nil || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("new server's probe answered %v", err)
	}
	_ = again
}
