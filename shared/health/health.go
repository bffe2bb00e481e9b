// Package health serves a service's operational endpoints: /healthz (alive), /readyz (ready: connected and
// consuming or leading), /metrics (Prometheus) and whatever else the service adds (the master's dashboard).
// Workers listen on an abstract unix socket named after the worker, so that any number of them can share a
// network namespace (host networking) without port clashes and a scratch image needs no writable directory,
// and, when configured, on a TCP address too. `<binary> healthcheck` asks /readyz, for Docker's HEALTHCHECK in
// images that have no shell.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// FailFileEnv names an environment variable holding a file path: while that file exists the probe reports
// unhealthy. Operators use it to have a worker replaced; tests use it to force one unhealthy.
const FailFileEnv = "WARREN_HEALTH_FAIL_FILE"

// WorkerName is this worker's name: WARREN_WORKER_NAME when a runtime set it, else host-pid.
func WorkerName() string {
	if n := os.Getenv("WARREN_WORKER_NAME"); n != "" {
		return n
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// SocketName is the abstract unix socket a worker's probe listens on.
func SocketName(worker string) string { return "@warren-health-" + worker }

// Probe holds a service's readiness and why. The zero value is not ready.
type Probe struct {
	mu       sync.Mutex
	ready    bool
	why      string
	failFile string
}

// NewProbe returns a probe that is not ready yet.
func NewProbe() *Probe { return &Probe{failFile: os.Getenv(FailFileEnv), why: "starting"} }

// SetReady records whether the worker consumes.
func (p *Probe) SetReady(ready bool) {
	if ready {
		p.Set(true, "consuming")
	} else {
		p.Set(false, "not consuming")
	}
}

// Set records readiness with the reason /readyz gives, for services whose readiness is more than consuming
// (the master: connected and leading).
func (p *Probe) Set(ready bool, why string) {
	p.mu.Lock()
	p.ready, p.why = ready, why
	p.mu.Unlock()
}

// failed reports the operator's forced failure, if any.
func (p *Probe) failed() (bool, string) {
	if p.failFile != "" {
		if _, err := os.Stat(p.failFile); err == nil {
			return true, "failed on purpose: " + p.failFile + " exists"
		}
	}
	return false, ""
}

// Alive is what /healthz answers: true unless the operator forced a failure. A live service that is not ready
// (the broker is down) must not be restarted for it: it reconnects on its own.
func (p *Probe) Alive() (bool, string) {
	if failed, why := p.failed(); failed {
		return false, why
	}
	return true, "alive"
}

// Healthy is what /readyz answers and what a worker reports to the master: ready, and why not.
func (p *Probe) Healthy() (bool, string) {
	if failed, why := p.failed(); failed {
		return false, why
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ready {
		return false, p.why
	}
	return true, p.why
}

// Options configure a Server.
type Options struct {
	// Socket, when not empty, is the worker whose abstract socket (SocketName) is served.
	Socket string
	// Addr, when not empty, is a TCP address served too; port 0 picks a free port (see Server.Addr).
	Addr string
	// AddrKey is the configuration key Addr came from, named in errors ("health.addr", "master.status_addr").
	AddrKey string
	// Metrics, when set, is served on /metrics.
	Metrics prometheus.Gatherer
	// Handler, when set, serves every other path (the master's dashboard); else they are not found.
	Handler http.Handler
	Log     zerolog.Logger
}

// Server serves a Probe, metrics and an optional handler until stopped.
type Server struct {
	probe *Probe
	srv   *http.Server
	addr  string
	done  chan struct{}
	stop  context.CancelFunc
}

// Handler returns the endpoints of o around p, for a caller that serves them itself.
func Handler(p *Probe, o Options) http.Handler {
	mux := http.NewServeMux()
	answer := func(check func() (bool, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			ok, why := check()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			_, _ = io.WriteString(w, why+"\n")
		}
	}
	mux.Handle("GET /healthz", answer(p.Alive))
	mux.Handle("GET /readyz", answer(p.Healthy))
	if o.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(o.Metrics, promhttp.HandlerOpts{}))
	}
	if o.Handler != nil {
		mux.Handle("/", o.Handler)
	}
	return mux
}

// Start serves a new probe as o says, in the background, until Stop. A TCP address that cannot be listened on
// is an error naming o.AddrKey: the operator asked for it, so a typo or a clash must not pass silently. The
// abstract socket is best effort: health is for the orchestrator, the work goes on without it.
func Start(ctx context.Context, o Options) (*Server, error) {
	var lns []net.Listener
	s := &Server{probe: NewProbe(), done: make(chan struct{})}
	if o.Addr != "" {
		if _, _, err := net.SplitHostPort(o.Addr); err != nil {
			return nil, fmt.Errorf("%s: %q is not host:port: %w", keyOr(o.AddrKey), o.Addr, err)
		}
		ln, err := net.Listen("tcp", o.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s: cannot listen on %q: %w", keyOr(o.AddrKey), o.Addr, err)
		}
		s.addr = Advertised(ln.Addr())
		lns = append(lns, ln)
		o.Log.Info().Str("addr", s.addr).Str("key", keyOr(o.AddrKey)).Msg("serving /healthz, /readyz, /metrics")
	}
	if o.Socket != "" {
		if ln, err := net.Listen("unix", SocketName(o.Socket)); err == nil {
			lns = append(lns, ln)
		} else {
			o.Log.Warn().Err(err).Msg("health socket not served")
		}
	}
	s.srv = &http.Server{Handler: Handler(s.probe, o), ReadHeaderTimeout: 2 * time.Second}
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.Log.Warn().Err(err).Msg("health server")
			}
		}()
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = cancel
	go func() {
		defer close(s.done)
		<-sctx.Done()
		shctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(shctx)
		wg.Wait()
	}()
	return s, nil
}

func keyOr(k string) string {
	if k == "" {
		return "health.addr"
	}
	return k
}

// Probe is the readiness the server answers with.
func (s *Server) Probe() *Probe { return s.probe }

// Addr is the TCP address served, as others can reach it (empty when none): a port of 0 is resolved to the
// port picked, and an unspecified host to this machine's first non-loopback address.
func (s *Server) Addr() string { return s.addr }

// Stop ends the server and waits for it. Call it last, after the service's consumers and connection are
// closed: health is the last thing to go.
func (s *Server) Stop() {
	s.stop()
	<-s.done
}

// Advertised turns a listener's address into one a scraper can reach: an unspecified host (0.0.0.0, ::)
// becomes this host's first non-loopback IPv4 address (a container's address on its network).
func Advertised(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	ip := "127.0.0.1"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ad := range addrs {
			if n, ok := ad.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				ip = n.IP.String()
				break
			}
		}
	}
	return net.JoinHostPort(ip, fmt.Sprint(tcp.Port))
}

// Check asks a service's /readyz, over the worker's socket or over tcpAddr when set (any service's health
// address: a worker's health.addr, the master's master.status_addr), and returns nil when it is ready.
func Check(ctx context.Context, worker, tcpAddr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	url := "http://" + tcpAddr + "/readyz"
	name := tcpAddr
	if tcpAddr == "" {
		name = worker
		url = "http://worker/readyz"
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", SocketName(worker))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: tr, Timeout: 2 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("health of %s: %w", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s not ready: %s", name, strings.TrimSpace(string(body)))
	}
	return nil
}
