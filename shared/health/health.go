// Package health serves a worker's /healthz: ready (200) only while the worker consumes, 503 otherwise. It
// listens on an abstract unix socket named after the worker, so that any number of workers can share a network
// namespace (host networking) without port clashes and a scratch image needs no writable directory, and, when
// configured, on a TCP address too. `<binary> healthcheck` asks it, for Docker's HEALTHCHECK in images that have
// no shell.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

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

// Probe holds a worker's readiness. The zero value is not ready.
type Probe struct {
	ready    atomic.Bool
	failFile string
}

// NewProbe returns a probe that is not ready yet.
func NewProbe() *Probe { return &Probe{failFile: os.Getenv(FailFileEnv)} }

// SetReady records whether the worker consumes.
func (p *Probe) SetReady(ready bool) { p.ready.Store(ready) }

// Healthy reports readiness, and why not.
func (p *Probe) Healthy() (bool, string) {
	if p.failFile != "" {
		if _, err := os.Stat(p.failFile); err == nil {
			return false, "failed on purpose: " + p.failFile + " exists"
		}
	}
	if !p.ready.Load() {
		return false, "not consuming"
	}
	return true, "consuming"
}

// ServeHTTP answers /healthz.
func (p *Probe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" {
		http.NotFound(w, r)
		return
	}
	ok, why := p.Healthy()
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, why+"\n")
}

// Serve answers /healthz on the worker's abstract socket and, if tcpAddr is not empty, on tcpAddr, until ctx
// ends. A socket that cannot be opened is logged, not fatal: health is for the orchestrator, the work goes on.
func Serve(ctx context.Context, p *Probe, worker, tcpAddr string, log zerolog.Logger) {
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 2 * time.Second}
	var lns []net.Listener
	if ln, err := net.Listen("unix", SocketName(worker)); err == nil {
		lns = append(lns, ln)
	} else {
		log.Warn().Err(err).Msg("health socket not served")
	}
	if tcpAddr != "" {
		if ln, err := net.Listen("tcp", tcpAddr); err == nil {
			lns = append(lns, ln)
			log.Info().Str("addr", ln.Addr().String()).Msg("serving /healthz")
		} else {
			log.Warn().Err(err).Str("addr", tcpAddr).Msg("health address not served")
		}
	}
	done := make(chan struct{}, len(lns))
	for _, ln := range lns {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn().Err(err).Msg("health server")
			}
		}()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	for range lns {
		<-done
	}
}

// Check asks a worker's probe, over its socket or over tcpAddr when set, and returns nil when it is healthy.
func Check(ctx context.Context, worker, tcpAddr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	url := "http://" + tcpAddr + "/healthz"
	if tcpAddr == "" {
		url = "http://worker/healthz"
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
		return fmt.Errorf("health of %s: %w", worker, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s unhealthy: %s", worker, string(body))
	}
	return nil
}

// Start serves a new probe for worker in the background; stop ends the server and waits for it. Call stop
// last, after the worker's consumers and connection are closed: health is the last thing to go.
func Start(ctx context.Context, worker, tcpAddr string, log zerolog.Logger) (p *Probe, stop func()) {
	p = NewProbe()
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); Serve(sctx, p, worker, tcpAddr, log) }()
	return p, func() { cancel(); <-done }
}
