package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"syscall"
	"testing"
	"time"
)

// suiteConfig describes one runtime to runSuite.
type suiteConfig struct {
	// newRuntime returns a fresh runtime instance; instances made by one config share an owner, so a second
	// instance is what a restarted master would be.
	newRuntime func(t *testing.T) Runtime
	// spec starts the sleeper worker; runSuite replaces its Pool with a unique one.
	spec Spec
	// signal delivers sig to the worker from outside the runtime, as a crash, an OOM kill or an operator would.
	signal func(t *testing.T, w Worker, sig syscall.Signal)
	// adopts says a fresh instance lists and controls the workers an earlier instance started.
	adopts bool
}

// Timings of the suite: how long List may take to notice an exit, and the grace periods Stop is given. They are
// bounds that tell a working runtime from a broken one on a busy machine (a missed SIGTERM costs the whole
// generous grace, a missed exit is never noticed), not latency targets: those are measured by make bench.
const (
	noticeWithin  = 10 * time.Second
	generousGrace = 30 * time.Second
	shortGrace    = 1 * time.Second
	// handlerSettle lets the sleeper install its SIGTERM handler before the test relies on it.
	handlerSettle = time.Second
)

// runSuite is the behaviour every Runtime must show; each implementation's test calls it with its own config.
func runSuite(t *testing.T, cfg suiteConfig) {
	spec := cfg.spec
	spec.Pool = "suite-" + randomSuffix(t)
	rt := cfg.newRuntime(t)
	ctx := context.Background()

	t.Cleanup(func() {
		// Whatever a failed step left behind goes, and the test fails if something survives.
		left, err := rt.List(ctx, spec.Pool)
		if err != nil {
			t.Errorf("cleanup list: %v", err)
		}
		for _, w := range left {
			if err := rt.Remove(ctx, w); err != nil {
				t.Errorf("cleanup remove %s: %v", w.Name, err)
			}
		}
		if left, _ := rt.List(ctx, spec.Pool); len(left) != 0 {
			t.Errorf("cleanup left %d workers: %+v", len(left), left)
		}
		if err := rt.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	start := func(s Spec) Worker {
		t.Helper()
		w, err := rt.Start(ctx, s)
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		if !w.Running || w.ID == "" || w.Pool != s.Pool || w.Name == "" || w.StartedAt.IsZero() {
			t.Fatalf("start returned %+v", w)
		}
		return w
	}

	t.Run("start two, list oldest first", func(t *testing.T) {
		a := start(spec)
		b := start(spec)
		got := mustList(t, rt, spec.Pool)
		if ids(got) == nil || !slices.Equal(ids(got), []string{a.ID, b.ID}) {
			t.Fatalf("list = %v, want [%s %s]", ids(got), a.ID, b.ID)
		}
		for _, w := range got {
			if !w.Running {
				t.Errorf("worker %s not running: %+v", w.Name, w)
			}
		}
		if other := mustList(t, rt, spec.Pool+"-other"); len(other) != 0 {
			t.Errorf("another pool lists %d workers", len(other))
		}
	})

	t.Run("stop sends SIGTERM and forgets the worker", func(t *testing.T) {
		a := mustList(t, rt, spec.Pool)[0]
		time.Sleep(handlerSettle)
		began := time.Now()
		if err := rt.Stop(ctx, a, generousGrace); err != nil {
			t.Fatalf("stop: %v", err)
		}
		// The sleeper exits only on SIGTERM or SIGKILL, and SIGKILL would come after the whole grace period.
		if took := time.Since(began); took >= generousGrace/2 {
			t.Errorf("stop took %v: the worker did not exit on SIGTERM", took)
		}
		got := mustList(t, rt, spec.Pool)
		if slices.Contains(ids(got), a.ID) || len(got) != 1 {
			t.Fatalf("after stop list = %+v", got)
		}
		if err := rt.Stop(ctx, a, shortGrace); err != nil {
			t.Errorf("stopping a stopped worker again: %v", err)
		}
	})

	t.Run("external kill shows as exited, remove forgets it", func(t *testing.T) {
		b := mustList(t, rt, spec.Pool)[0]
		cfg.signal(t, b, syscall.SIGKILL)
		w := waitExited(t, rt, b)
		if w.ExitCode != 137 {
			t.Errorf("exit code after SIGKILL = %d, want 137", w.ExitCode)
		}
		if err := rt.Remove(ctx, w); err != nil {
			t.Fatalf("remove: %v", err)
		}
		if got := mustList(t, rt, spec.Pool); len(got) != 0 {
			t.Fatalf("after remove list = %+v", got)
		}
		if err := rt.Remove(ctx, w); err != nil {
			t.Errorf("removing a removed worker again: %v", err)
		}
	})

	t.Run("worker exits 0 on SIGTERM", func(t *testing.T) {
		w := start(spec)
		time.Sleep(handlerSettle)
		cfg.signal(t, w, syscall.SIGTERM)
		got := waitExited(t, rt, w)
		if got.ExitCode != 0 {
			t.Errorf("exit code after SIGTERM = %d, want 0", got.ExitCode)
		}
		if err := rt.Remove(ctx, got); err != nil {
			t.Fatalf("remove: %v", err)
		}
	})

	t.Run("stop escalates to SIGKILL after grace", func(t *testing.T) {
		stubborn := spec
		stubborn.Args = append(slices.Clone(spec.Args), "-ignore-term")
		w := start(stubborn)
		time.Sleep(handlerSettle)
		began := time.Now()
		if err := rt.Stop(ctx, w, shortGrace); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if took := time.Since(began); took < shortGrace {
			t.Errorf("stop took %v, less than the %v grace a SIGTERM-ignoring worker should get", took, shortGrace)
		}
		if got := mustList(t, rt, spec.Pool); len(got) != 0 {
			t.Fatalf("after stop list = %+v", got)
		}
	})

	t.Run("a fresh instance of the same owner", func(t *testing.T) {
		w := start(spec)
		fresh := cfg.newRuntime(t)
		defer func() {
			if err := fresh.Close(); err != nil {
				t.Errorf("close fresh runtime: %v", err)
			}
		}()
		got := mustList(t, fresh, spec.Pool)
		if !cfg.adopts {
			if len(got) != 0 {
				t.Fatalf("runtime documented as not adopting lists %+v", got)
			}
			if err := rt.Stop(ctx, w, generousGrace); err != nil {
				t.Fatalf("stop: %v", err)
			}
			return
		}
		if !slices.Equal(ids(got), []string{w.ID}) || !got[0].Running || got[0].Name != w.Name {
			t.Fatalf("fresh instance lists %+v, want %+v", got, w)
		}
		if err := fresh.Stop(ctx, got[0], generousGrace); err != nil {
			t.Fatalf("stop through fresh instance: %v", err)
		}
		if left := mustList(t, rt, spec.Pool); len(left) != 0 {
			t.Fatalf("original instance still lists %+v", left)
		}
	})

	t.Run("bad specs are refused", func(t *testing.T) {
		for _, bad := range []Spec{
			{Pool: "", Service: spec.Service},
			{Pool: "../escape", Service: spec.Service},
			{Pool: spec.Pool, Service: "no/such"},
			{Pool: spec.Pool, Service: spec.Service, CPUs: -1},
		} {
			if w, err := rt.Start(ctx, bad); err == nil {
				t.Errorf("start %+v succeeded: %+v", bad, w)
				_ = rt.Remove(ctx, w)
			}
		}
		missing := spec
		missing.Service = "missing-" + randomSuffix(t)
		if w, err := rt.Start(ctx, missing); err == nil {
			t.Errorf("start of a service without binary or image succeeded: %+v", w)
			_ = rt.Remove(ctx, w)
		}
	})
}

func mustList(t *testing.T, rt Runtime, pool string) []Worker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, err := rt.List(ctx, pool)
	if err != nil {
		t.Fatalf("list %s: %v", pool, err)
	}
	return ws
}

// waitExited polls List until it reports w as exited, failing if that takes longer than noticeWithin.
func waitExited(t *testing.T, rt Runtime, w Worker) Worker {
	t.Helper()
	deadline := time.Now().Add(noticeWithin)
	for {
		for _, got := range mustList(t, rt, w.Pool) {
			if got.ID == w.ID && !got.Running {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker %s still listed as running after %v", w.Name, noticeWithin)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ids(ws []Worker) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.ID
	}
	return out
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
