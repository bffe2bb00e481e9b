//go:build integration

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/metrics/metricstest"
	"github.com/warren-mq/warren/shared/testkit"
)

// TestBadCredentialsExitWithOneClearLine runs the real binary: refused credentials or vhost must end it at once
// with exit status 1 and one error line naming the cause, not a reconnect loop that hides it.
func TestBadCredentialsExitWithOneClearLine(t *testing.T) {
	good, _ := url.Parse(testkit.Broker(t))
	bin := filepath.Join(t.TempDir(), "warren-filter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	wrongPass := *good
	wrongPass.User = url.UserPassword(good.User.Username(), "wrong")
	noRights := *good
	noRights.Path = "/no-such-vhost"
	for name, tc := range map[string]struct{ url, want string }{
		"wrong password": {wrongPass.String(), "username or password not allowed"},
		"no vhost":       {noRights.String(), "NOT_ALLOWED"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Dir = t.TempDir()
			cmd.Env = append(os.Environ(), "WARREN_AMQP_URL="+tc.url, "WARREN_LOG_FORMAT=json")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v (ctx %v)\n%s", err, ctx.Err(), out)
			}
			var errorLines []string
			for _, l := range strings.Split(string(out), "\n") {
				if strings.Contains(l, `"level":"error"`) {
					errorLines = append(errorLines, l)
				}
			}
			if len(errorLines) != 1 || !strings.Contains(errorLines[0], tc.want) || strings.Contains(string(out), ":wrong@") {
				t.Fatalf("want one error line containing %q (and no password), got:\n%s", tc.want, out)
			}
		})
	}
}

// TestHealthAddrPortZero runs the real binary as the master starts it: WARREN_HEALTH_ADDR=127.0.0.1:0 serves
// health and metrics on a free port, which it logs; `healthcheck --addr` there, and `healthcheck` over the
// worker's socket, pass once it consumes.
func TestHealthAddrPortZero(t *testing.T) {
	url := testkit.Broker(t)
	bin := filepath.Join(t.TempDir(), "warren-filter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	name := "health-test-" + filepath.Base(t.TempDir())
	env := append(os.Environ(), "WARREN_AMQP_URL="+url, "WARREN_LOG_FORMAT=json", "WARREN_HEALTH_ADDR=127.0.0.1:0",
		"WARREN_WORKER_NAME="+name)
	cmd := exec.Command(bin)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	addrs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Addr, Key string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Key == "health.addr" && line.Addr != "" {
				addrs <- line.Addr
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrs:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker never said where it serves health")
	}
	if _, port, _ := net.SplitHostPort(addr); port == "0" || port == "" {
		t.Fatalf("served at %q: port 0 not resolved", addr)
	}
	healthcheck := func(args ...string) error {
		c := exec.Command(bin, append([]string{"healthcheck"}, args...)...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	testkit.Eventually(t, 30*time.Second, "healthcheck --addr to pass", func() bool { return healthcheck("--addr", addr) == nil })
	if err := healthcheck(); err != nil {
		t.Fatalf("healthcheck over the socket: %v", err)
	}
	f := metricstest.Scrape(t, addr)
	if _, ok := f.Value("warren_worker_events_processed_total", "worker", name); !ok {
		t.Fatalf("no warren_worker_events_processed_total for worker %s", name)
	}
}
