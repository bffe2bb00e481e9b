//go:build integration

package master_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
)

// testConfig is a master scaling only the filter pool, whose workers are made slow on purpose (10 ms of work,
// 5 at a time: about 500 events/s each) so that a 20 000-event burst is far above one worker's capacity.
func testConfig(t *testing.T, url, rt string, min int) config.Config {
	cfg := testkit.Config(t, url)
	cfg.Master.Runtime = rt
	cfg.Master.Bin = binDir
	cfg.Master.Interval = 2 * time.Second
	cfg.Master.Reconcile = time.Second
	f := cfg.Master.Pools["filter"]
	f.Min, f.Max, f.MaxStep = min, 6, 0
	f.Capacity = "auto"
	f.Stabilization = 6 * time.Second
	f.Grace = 10 * time.Second
	f.Env = []string{"WARREN_FILTER_WORK_DELAY=10ms", "WARREN_FILTER_CONCURRENCY=5", "WARREN_LOG_LEVEL=warn"}
	cfg.Master.Pools = map[string]config.Pool{"filter": f}
	return cfg
}

func newRuntime(t *testing.T, cfg config.Config, owner string) master.Runtime {
	t.Helper()
	var rt master.Runtime
	var err error
	switch cfg.Master.Runtime {
	case "process":
		rt, err = runtime.NewProcess(runtime.ProcessOptions{BinDir: binDir, Env: []string{"WARREN_AMQP_URL=" + cfg.AMQP.URL},
			Log: testkit.Logger(t, "runtime")})
	case "docker":
		buildImages(t)
		rt, err = runtime.NewDocker(context.Background(), runtime.DockerOptions{Owner: owner,
			Env: []string{"WARREN_AMQP_URL=" + cfg.AMQP.URL}, Log: testkit.Logger(t, "runtime")})
	}
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

func owner() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "warren-test-" + hex.EncodeToString(b)
}

func startMaster(t *testing.T, cfg config.Config, rt master.Runtime) (stop func()) {
	return testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: testkit.Logger(t, "master"), Runtime: rt})
	})
}

func running(t *testing.T, rt master.Runtime) []runtime.Worker {
	t.Helper()
	ws, err := rt.List(context.Background(), "filter")
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Worker
	for _, w := range ws {
		if w.Running {
			out = append(out, w)
		}
	}
	return out
}

func TestBurstScalesUpDrainsAndReturnsToMin(t *testing.T) {
	for _, rtName := range []string{"process", "docker"} {
		t.Run(rtName, func(t *testing.T) {
			url := testkit.Broker(t)
			conn := testkit.Conn(t, url)
			cfg := testConfig(t, url, rtName, 1)
			cfg.Master.Docker.StopOnExit = true
			rt := newRuntime(t, cfg, owner())
			st := watchStatus(t, conn)
			rc := testkit.CountResults(t, conn)
			startMaster(t, cfg, rt)
			testkit.Eventually(t, 30*time.Second, "one consuming worker", func() bool {
				s, ok := st.last()
				return ok && s.Consumers >= 1 && s.Current == 1
			})

			before := len(st.snapshot())
			const n = 20000
			start := time.Now()
			testkit.PublishTexts(t, conn, "b", n)
			t.Logf("published %d events in %v", n, time.Since(start).Round(time.Millisecond))

			testkit.Eventually(t, 10*time.Second, "a scale-up decision", func() bool {
				for _, s := range st.snapshot()[before:] {
					if s.Desired > 1 {
						return true
					}
				}
				return false
			})
			after := st.snapshot()[before:]
			first := 0
			for first < len(after) && after[first].Desired <= 1 {
				first++
			}
			if first >= 2 {
				t.Fatalf("scale-up only at evaluation %d after the burst started (want within 2): %+v", first+1, after[:first+1])
			}
			t.Logf("evaluation %d after the burst: λ=%.0f/s backlog=%d C=%.0f (%s) → desired %d (%s)", first+1,
				after[first].Lambda, after[first].Backlog, after[first].Capacity, after[first].CapacitySource,
				after[first].Desired, after[first].Reason)
			testkit.Eventually(t, 10*time.Second, "more than one worker running", func() bool { return len(running(t, rt)) > 1 })

			peak := 0
			testkit.Eventually(t, 120*time.Second, "every result", func() bool {
				peak = max(peak, len(running(t, rt)))
				missing, _ := rc.Check("b", n)
				return missing == 0
			})
			t.Logf("all %d results after %v; peak %d workers", n, time.Since(start).Round(time.Millisecond), peak)
			testkit.Eventually(t, 90*time.Second, "the pool back at min", func() bool {
				s, ok := st.last()
				return ok && s.Current == 1 && s.Desired == 1 && len(running(t, rt)) == 1
			})
			t.Logf("back at min %v after the burst started", time.Since(start).Round(time.Millisecond))
			if missing, dups := rc.Check("b", n); missing != 0 || dups != 0 {
				t.Fatalf("%d events without result, %d with more than one", missing, dups)
			}
		})
	}
}

func TestKilledWorkerIsReplacedAndNothingLost(t *testing.T) {
	for _, rtName := range []string{"process", "docker"} {
		t.Run(rtName, func(t *testing.T) {
			url := testkit.Broker(t)
			conn := testkit.Conn(t, url)
			cfg := testConfig(t, url, rtName, 2)
			cfg.Master.Docker.StopOnExit = true
			rt := newRuntime(t, cfg, owner())
			rc := testkit.CountResults(t, conn)
			startMaster(t, cfg, rt)
			testkit.Eventually(t, 30*time.Second, "two workers", func() bool { return len(running(t, rt)) == 2 })
			time.Sleep(2 * time.Second) // let both connect and consume

			const n = 4000
			done := make(chan struct{})
			go func() { defer close(done); testkit.PublishTexts(t, conn, "k", n) }()
			time.Sleep(500 * time.Millisecond)
			victim := running(t, rt)[0]
			killed := time.Now()
			if rtName == "process" {
				pid, _ := strconv.Atoi(victim.ID)
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			} else if out, err := exec.Command("docker", "kill", victim.ID).CombinedOutput(); err != nil {
				t.Fatalf("docker kill: %v %s", err, out)
			}
			// The bound tells "replaced" from "never"; how fast is logged and benchmarked.
			testkit.Eventually(t, 30*time.Second, "a replacement worker", func() bool {
				ws := running(t, rt)
				if len(ws) != 2 {
					return false
				}
				for _, w := range ws {
					if w.ID == victim.ID {
						return false
					}
				}
				return true
			})
			t.Logf("killed worker replaced after %v", time.Since(killed).Round(time.Millisecond))
			<-done
			testkit.Eventually(t, 60*time.Second, "every result", func() bool {
				missing, _ := rc.Check("k", n)
				return missing == 0
			})
			_, dups := rc.Check("k", n)
			t.Logf("%d events, 0 lost, %d redelivered after the kill", n, dups)
		})
	}
}

func TestRestartedMasterAdoptsContainers(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	cfg := testConfig(t, url, "docker", 2)
	own := owner()
	stop := startMaster(t, cfg, newRuntime(t, cfg, own))
	probe := newRuntime(t, cfg, own)
	defer probe.Close()
	testkit.Eventually(t, 30*time.Second, "two containers", func() bool { return len(running(t, probe)) == 2 })
	before := running(t, probe)
	stop() // containers outlive the master (stop_on_exit false)
	if got := running(t, probe); len(got) != 2 {
		t.Fatalf("%d containers after the master stopped, want 2 left running", len(got))
	}

	cfg.Master.Docker.StopOnExit = true
	stop = startMaster(t, cfg, newRuntime(t, cfg, own))
	for range 5 { // several reconcile rounds: no duplicate started, none stopped
		time.Sleep(time.Second)
		ws, err := probe.List(context.Background(), "filter")
		if err != nil {
			t.Fatal(err)
		}
		if len(ws) != 2 || ws[0].ID != before[0].ID || ws[1].ID != before[1].ID {
			t.Fatalf("after restart the master has %v, want the two adopted containers %v", ws, before)
		}
	}
	stop()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=warren.owner="+own).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("containers left behind: %q %v", out, err)
	}
}

func TestUnhealthyWorkerIsReplaced(t *testing.T) {
	for _, rtName := range []string{"process", "docker"} {
		t.Run(rtName, func(t *testing.T) {
			url := testkit.Broker(t)
			testkit.Conn(t, url)
			cfg := testConfig(t, url, rtName, 1)
			cfg.Master.Docker.StopOnExit = true
			// Inside a container the file lives in the container; for processes, in a directory of the test.
			failFile := "/unhealthy"
			if rtName == "process" {
				failFile = filepath.Join(t.TempDir(), "unhealthy")
			}
			f := cfg.Master.Pools["filter"]
			f.Env = append(f.Env, "WARREN_HEALTH_FAIL_FILE="+failFile)
			f.Grace = 2 * time.Second
			cfg.Master.Pools["filter"] = f
			rt := newRuntime(t, cfg, owner())
			startMaster(t, cfg, rt)
			var victim runtime.Worker
			testkit.Eventually(t, 30*time.Second, "one worker", func() bool {
				ws := running(t, rt)
				if len(ws) == 1 {
					victim = ws[0]
				}
				return len(ws) == 1
			})
			time.Sleep(2 * time.Second) // consuming, and reported healthy at least once
			empty := filepath.Join(t.TempDir(), "empty")
			if err := os.WriteFile(empty, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if rtName == "process" {
				if err := os.WriteFile(failFile, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			} else if out, err := exec.Command("docker", "cp", empty, victim.ID+":"+failFile).CombinedOutput(); err != nil {
				// The image has no shell, but docker cp still writes into the container.
				t.Fatalf("docker cp: %v %s", err, out)
			}
			forced := time.Now()
			testkit.Eventually(t, 30*time.Second, "a replacement", func() bool {
				for _, w := range running(t, rt) {
					if w.ID != victim.ID {
						return true
					}
				}
				return false
			})
			t.Logf("unhealthy worker replaced %v after its health check was made to fail", time.Since(forced).Round(time.Millisecond))
		})
	}
}

// TestIdlePoolGoesToZeroAndWakes runs a pool with min 0: it reaches zero workers within one stabilization
// window of evaluations after its last event (no smoothing tail holds a worker), and the first event afterwards
// brings a worker that answers it.
func TestIdlePoolGoesToZeroAndWakes(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testConfig(t, url, "process", 0)
	rt := newRuntime(t, cfg, owner())
	st := watchStatus(t, conn)
	rc := testkit.CountResults(t, conn)
	startMaster(t, cfg, rt)
	testkit.Eventually(t, 30*time.Second, "a first evaluation at zero workers", func() bool {
		s, ok := st.last()
		return ok && s.Current == 0 && s.Desired == 0
	})

	testkit.PublishTexts(t, conn, "z", 500)
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("z", 500); return missing == 0 })
	testkit.Eventually(t, 90*time.Second, "the pool back at zero", func() bool {
		s, ok := st.last()
		return ok && s.Current == 0 && s.Desired == 0 && len(running(t, rt)) == 0
	})
	// Counted in evaluations, not seconds, so a slow machine cannot fail it: from the last evaluation that saw
	// arrivals or backlog to the first that wants zero, at most one stabilization window of evaluations plus
	// the one that sees the queue empty.
	list := st.snapshot()
	lastBusy, firstZero := -1, -1
	for i, s := range list {
		if s.LambdaRaw > 0 || s.Backlog > 0 {
			lastBusy, firstZero = i, -1
		} else if lastBusy >= 0 && firstZero < 0 && s.Desired == 0 {
			firstZero = i
		}
	}
	window := int(cfg.Master.Pools["filter"].Stabilization / cfg.Master.Interval)
	if lastBusy < 0 || firstZero < 0 || firstZero-lastBusy > window+1 {
		t.Fatalf("last busy evaluation %d, first wanting zero %d: want at most %d evaluations apart", lastBusy, firstZero, window+1)
	}
	t.Logf("zero workers %d evaluations after the last busy one (window %d)", firstZero-lastBusy, window)

	woke := time.Now()
	testkit.PublishTexts(t, conn, "w", 1)
	testkit.Eventually(t, 60*time.Second, "the first event after idling answered", func() bool {
		missing, _ := rc.Check("w", 1)
		return missing == 0
	})
	t.Logf("first event after idling answered %v after it was published", time.Since(woke).Round(time.Millisecond))
}

// TestRestartedMasterRestoresCapacity: a master that learned C leaves it in warren.master.state, and its
// successor starts from that value instead of the initial guess.
func TestRestartedMasterRestoresCapacity(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testConfig(t, url, "process", 1)
	st := watchStatus(t, conn)
	rc := testkit.CountResults(t, conn)
	stop := startMaster(t, cfg, newRuntime(t, cfg, owner()))
	testkit.Eventually(t, 30*time.Second, "one worker", func() bool { s, ok := st.last(); return ok && s.Current == 1 })
	testkit.PublishTexts(t, conn, "r", 1000)
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("r", 1000); return missing == 0 })
	var learned event.PoolStatus
	testkit.Eventually(t, 30*time.Second, "a learned capacity", func() bool {
		s, ok := st.last()
		learned = s
		return ok && s.CapacitySource == scaler.SourceAuto
	})
	time.Sleep(cfg.Master.Interval) // one more evaluation saves the state
	last, _ := st.last()
	stop()
	before := len(st.snapshot())

	startMaster(t, cfg, newRuntime(t, cfg, owner()))
	testkit.Eventually(t, 30*time.Second, "a status from the new master", func() bool { return len(st.snapshot()) > before })
	first := st.snapshot()[before]
	switch first.CapacitySource {
	case scaler.SourceAutoRestored:
		if first.Capacity != last.Capacity {
			t.Errorf("restored C = %.1f, the previous master last had %.1f", first.Capacity, last.Capacity)
		}
	default:
		t.Errorf("the new master's first status has C = %.1f (%s), want the previous %.1f restored",
			first.Capacity, first.CapacitySource, last.Capacity)
	}
	t.Logf("learned C = %.0f from %d reports; restarted master starts from %.0f (%s, %.0f s old)",
		learned.Capacity, learned.CapacityReports, first.Capacity, first.CapacitySource, first.CapacityAge)
}
