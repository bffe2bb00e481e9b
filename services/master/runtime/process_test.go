package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func newTestProcess(t *testing.T, logDir string) *Process {
	t.Helper()
	p, err := NewProcess(ProcessOptions{
		BinDir: sleeperBinDir(t),
		Env:    []string{"WARREN_TEST=1"},
		Log:    zerolog.New(zerolog.NewTestWriter(t)),
		LogDir: logDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func signalPid(t *testing.T, w Worker, sig syscall.Signal) {
	t.Helper()
	pid, err := strconv.Atoi(w.ID)
	if err != nil {
		t.Fatalf("worker id %q is not a pid: %v", w.ID, err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("kill -%d %d: %v", sig, pid, err)
	}
}

func TestProcessSuite(t *testing.T) {
	runSuite(t, suiteConfig{
		newRuntime: func(t *testing.T) Runtime { return newTestProcess(t, t.TempDir()) },
		spec:       Spec{Service: "sleeper"},
		signal:     signalPid,
		adopts:     false,
	})
}

// TestProcessLogsAndGracefulStop checks the worker's own account of the stop: it got SIGTERM and exited.
func TestProcessLogsAndGracefulStop(t *testing.T) {
	logDir := t.TempDir()
	p := newTestProcess(t, logDir)
	defer func() { _ = p.Close() }()
	ctx := context.Background()

	w, err := p.Start(ctx, Spec{Pool: "logs", Service: "sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(handlerSettle)
	if err := p.Stop(ctx, w, generousGrace); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(filepath.Join(logDir, "logs-"+w.ID+".log"))
	if err != nil {
		t.Fatalf("worker log: %v", err)
	}
	if !strings.Contains(string(out), "sleeper: ready as "+w.Name+"\n") {
		t.Errorf("worker was not told its name %s through %s:\n%s", w.Name, WorkerNameEnv, out)
	}
	if !strings.Contains(string(out), "sleeper: got SIGTERM, exiting") {
		t.Errorf("worker log does not show a graceful SIGTERM exit:\n%s", out)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(logDir, "*-starting-*")); len(leftovers) != 0 {
		t.Errorf("temporary log files left: %v", leftovers)
	}
}

// TestProcessOwnProcessGroup guards the Ctrl-C behaviour: a signal to the master's group must not reach workers.
func TestProcessOwnProcessGroup(t *testing.T) {
	p := newTestProcess(t, t.TempDir())
	defer func() { _ = p.Close() }()
	ctx := context.Background()
	w, err := p.Start(ctx, Spec{Pool: "pgid", Service: "sleeper"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = p.Remove(ctx, w) }()
	pid, _ := strconv.Atoi(w.ID)
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != pid || pgid == syscall.Getpgrp() {
		t.Errorf("worker pgid = %d, want its own group %d (master's is %d)", pgid, pid, syscall.Getpgrp())
	}
}

func TestProcessErrors(t *testing.T) {
	if _, err := NewProcess(ProcessOptions{}); err == nil {
		t.Error("NewProcess without BinDir succeeded")
	}
	p := newTestProcess(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Start(ctx, Spec{Pool: "errs", Service: "sleeper"}); !errors.Is(err, context.Canceled) {
		t.Errorf("start with cancelled context: %v, want context.Canceled", err)
	}
	_, err := p.Start(context.Background(), Spec{Pool: "errs", Service: "nosuch"})
	if err == nil || !strings.Contains(err.Error(), "warren-nosuch") {
		t.Errorf("start of missing binary: %v, want an error naming warren-nosuch", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(context.Background(), Spec{Pool: "errs", Service: "sleeper"}); err == nil {
		t.Error("start after Close succeeded")
	}
}
