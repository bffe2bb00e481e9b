//go:build integration

package master_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// Messages a master logs when it acts on workers; a standby must log none of them.
var actions = []string{"worker started", "worker stopped", "worker exited; replacing it", "worker unhealthy; replacing it",
	"worker stopped heartbeating; replacing it", "cannot start worker"}

// logLines collects a master's JSON log lines, so a test can wait for a message and count them. Each line is
// echoed to the test log too.
type logLines struct {
	name string
	t    *testing.T
	mu   sync.Mutex
	part []byte
	list []map[string]any
}

func newLogLines(t *testing.T, name string) *logLines { return &logLines{name: name, t: t} }

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		line := string(l.part[:i])
		l.part = append([]byte(nil), l.part[i+1:]...)
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			l.list = append(l.list, m)
		}
		l.t.Log(l.name + ": " + line)
	}
	return len(p), nil
}

// with returns the lines whose message is msg.
func (l *logLines) with(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, m := range l.list {
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// await waits up to d (an upper bound only) for a line with message msg and returns the first.
func (l *logLines) await(t *testing.T, d time.Duration, msg string) map[string]any {
	t.Helper()
	testkit.Eventually(t, d, l.name+" logging "+msg, func() bool { return len(l.with(msg)) > 0 })
	return l.with(msg)[0]
}

// acted returns the lines saying the master started, stopped or replaced a worker.
func (l *logLines) acted() []map[string]any {
	var out []map[string]any
	for _, msg := range actions {
		out = append(out, l.with(msg)...)
	}
	return out
}

// inProcessMaster runs master.Run in this process with the configuration sets give, logging into the returned
// lines; the runtime is built from the configuration, as warren-master builds it.
func inProcessMaster(t *testing.T, url, name string, sets []string) (*logLines, func()) {
	t.Helper()
	cfg, err := config.Load(config.Flags{AMQPURL: url, Sets: sets})
	if err != nil {
		t.Fatal(err)
	}
	logs := newLogLines(t, name)
	log := zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Str("service", name).Logger()
	stop := testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: log})
	})
	return logs, stop
}

var masterBinOnce sync.Once
var masterBinErr error

// processMaster runs the warren-master binary with the configuration sets give; the returned kill SIGKILLs it
// (no graceful shutdown of anything) and waits for it to be reaped.
func processMaster(t *testing.T, url, name string, sets []string) (*logLines, func()) {
	t.Helper()
	bin := filepath.Join(binDir, "warren-master")
	masterBinOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", bin, "./services/master")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			masterBinErr = &buildError{err: err, out: string(out)}
		}
	})
	if masterBinErr != nil {
		t.Fatal(masterBinErr)
	}
	args := []string{"--amqp-url", url}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = t.TempDir() // no configs/warren.yaml
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "WARREN_") { // only the flags configure it
			cmd.Env = append(cmd.Env, e)
		}
	}
	logs := newLogLines(t, name)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	var once sync.Once
	kill := func() {
		// Once only: after the wait the pid may belong to another process.
		once.Do(func() { _ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL) })
		<-done
	}
	t.Cleanup(kill)
	return logs, kill
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "build warren-master: " + e.err.Error() + "\n" + e.out }

// statusesFrom returns the statuses a master published, by the name it leads under.
func statusesFrom(st *statuses, leader string) []event.PoolStatus {
	var out []event.PoolStatus
	for _, s := range st.snapshot() {
		if s.Leader == leader {
			out = append(out, s)
		}
	}
	return out
}

func containerIDs(t *testing.T, rt master.Runtime, onlyRunning bool) []string {
	t.Helper()
	ws, err := rt.List(context.Background(), "filter")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, w := range ws {
		if w.Running || !onlyRunning {
			ids = append(ids, w.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestStandbyNeverActsAndLeadsWhenTheLockIsFree: while someone else holds the leader lock (here the test
// itself), a master counts nothing, starts nothing and publishes nothing, and says once that it is a standby.
// When the lock is released it leads: it starts the pool's minimum, purges the count queue (a fresh window)
// and serves the events that waited.
func TestStandbyNeverActsAndLeadsWhenTheLockIsFree(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	release := holdLeaderLock(t, url)
	cfg := testConfig(t, url, "process", 1)
	rt := newRuntime(t, cfg, owner())
	st := watchStatus(t, conn)
	rc := testkit.CountResults(t, conn)
	logs := newLogLines(t, "master")
	log := zerolog.New(logs).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: log, Runtime: rt})
	})
	id, _ := logs.await(t, 30*time.Second, "standby: another master leads")["master"].(string)
	if id == "" {
		t.Fatal("the standby line names no master")
	}

	const n = 200
	testkit.PublishTexts(t, conn, "s", n)
	ch := testkit.Channel(t, conn)
	depth := func(queue string) int {
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q.Messages
	}
	// A negative cannot be awaited: watch for several evaluation intervals (and leader retries).
	time.Sleep(3 * cfg.Master.Interval)
	if got := depth(topology.FilterCount); got != n {
		t.Errorf("count queue holds %d, want the %d published (a standby must not purge it)", got, n)
	}
	if ws := running(t, rt); len(ws) != 0 {
		t.Errorf("the standby runs %d workers, want none", len(ws))
	}
	if s := st.snapshot(); len(s) != 0 {
		t.Errorf("the standby published %d statuses, want none: %+v", len(s), s[0])
	}
	if a := logs.acted(); len(a) != 0 {
		t.Errorf("the standby acted on workers: %v", a)
	}
	if k := len(logs.with("standby: another master leads")); k != 1 {
		t.Errorf("standby logged %d times, want once", k)
	}
	if l := logs.with("leading"); len(l) != 0 {
		t.Fatalf("leading while the lock is held: %v", l)
	}

	released := time.Now()
	release()
	lead := logs.await(t, 30*time.Second, "leading")
	t.Logf("led %v after the lock was released (waited %v as a standby)", time.Since(released).Round(time.Millisecond), lead["waited"])
	testkit.Eventually(t, 30*time.Second, "one worker", func() bool { return len(running(t, rt)) == 1 })
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("s", n); return missing == 0 })
	testkit.Eventually(t, 30*time.Second, "a status from the leader", func() bool { return len(statusesFrom(st, id)) > 0 })
	if got := depth(topology.FilterCount); got != 0 {
		t.Errorf("count queue holds %d after the takeover, want it purged", got)
	}
	for _, s := range st.snapshot() {
		if s.Leader != id {
			t.Errorf("status from %q, want only %q", s.Leader, id)
		}
		if s.LambdaRaw*cfg.Master.Interval.Seconds() > n/2 {
			// The events that waited are counted out by the fresh window, not as a burst of arrivals.
			t.Errorf("status counts %.0f/s of arrivals: the events that waited were not discarded", s.LambdaRaw)
		}
	}
}

// holdLeaderLock takes the master leader lock on a connection of its own, as another master would; release
// closes that connection, which frees the lock.
func holdLeaderLock(t *testing.T, url string) (release func()) {
	t.Helper()
	holder := testkit.Conn(t, url)
	ch, err := holder.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(topology.MasterLeader, false, true, true, false, nil); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := holder.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKilledLeaderIsReplacedByStandbyThatAdoptsItsWorkers runs the real warren-master binary as the leader of
// a docker pool of two workers, and in-process masters with the same configuration as standbys. A standby
// stopped while the leader runs leaves the leader's containers alone; the leader is then SIGKILLed, and the
// remaining standby takes over, adopts the two containers as they are (none started, none stopped), and
// publishes the statuses from then on.
func TestKilledLeaderIsReplacedByStandbyThatAdoptsItsWorkers(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	own := owner()
	t.Cleanup(func() { // whatever the outcome, no container outlives the test
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=warren.owner="+own).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})
	cfg := testConfig(t, url, "docker", 2)
	probe := newRuntime(t, cfg, own) // builds the images; lists the owner's containers
	defer probe.Close()
	sets := []string{"amqp.shutdown_grace=5s", "amqp.reconnect_max=1s", "log.format=json",
		"master.runtime=docker", "master.docker.owner=" + own, "master.docker.network=host", "master.docker.stop_on_exit=true",
		"master.interval=1s", "master.reconcile=1s",
		"master.pools.filter.min=2", "master.pools.filter.max=2",
		"master.pools.broadcaster.min=0", "master.pools.broadcaster.max=1"}
	st := watchStatus(t, conn)

	a, killA := processMaster(t, url, "A", sets)
	idA, _ := a.await(t, 60*time.Second, "leading")["master"].(string)
	testkit.Eventually(t, 60*time.Second, "the leader's two containers", func() bool { return len(containerIDs(t, probe, true)) == 2 })
	before := containerIDs(t, probe, true)
	testkit.Eventually(t, 30*time.Second, "a status from the leader", func() bool { return len(statusesFrom(st, idA)) > 0 })

	// A standby that stops (stop_on_exit is on) must not stop the leader's containers.
	c, stopC := inProcessMaster(t, url, "C", sets)
	c.await(t, 30*time.Second, "standby: another master leads")
	stopC()
	if len(c.with("leading")) != 0 || len(c.acted()) != 0 {
		t.Fatalf("standby C led or acted: %v", c.acted())
	}
	if got := containerIDs(t, probe, false); !slices.Equal(got, before) {
		t.Fatalf("after standby C stopped the owner has containers %v, want the leader's %v", got, before)
	}

	b, stopB := inProcessMaster(t, url, "B", sets)
	idB, _ := b.await(t, 30*time.Second, "standby: another master leads")["master"].(string)
	// A negative cannot be awaited: watch B through several of A's evaluations.
	seen := len(statusesFrom(st, idA))
	testkit.Eventually(t, 30*time.Second, "three more evaluations by the leader", func() bool { return len(statusesFrom(st, idA)) >= seen+3 })
	if got := statusesFrom(st, idB); len(got) != 0 {
		t.Fatalf("standby B published %d statuses", len(got))
	}
	if len(b.with("leading")) != 0 || len(b.acted()) != 0 {
		t.Fatalf("standby B led or acted: %v", b.acted())
	}
	if k := len(b.with("standby: another master leads")); k != 1 {
		t.Errorf("standby B logged standby %d times, want once", k)
	}
	if got := containerIDs(t, probe, false); !slices.Equal(got, before) {
		t.Fatalf("while B stands by the owner has containers %v, want the leader's %v", got, before)
	}

	killed := time.Now()
	killA()
	lead := b.await(t, 30*time.Second, "leading")
	t.Logf("standby led %v after the leader was SIGKILLed (it had waited %v as a standby)", time.Since(killed).Round(time.Millisecond), lead["waited"])
	adopted, _ := lead["adopted"].(map[string]any)
	if adopted["filter"] != float64(2) {
		t.Errorf("B adopted %v, want the 2 filter workers", lead["adopted"])
	}
	// Several evaluations and reconcile rounds by the new leader: the same two containers, nothing started.
	testkit.Eventually(t, 30*time.Second, "three evaluations by the new leader", func() bool { return len(statusesFrom(st, idB)) >= 3 })
	if got := containerIDs(t, probe, false); !slices.Equal(got, before) {
		t.Fatalf("after the takeover the owner has containers %v, want the adopted %v", got, before)
	}
	if a := b.acted(); len(a) != 0 {
		t.Fatalf("the new leader started or stopped workers: %v", a)
	}
	list := st.snapshot()
	first := slices.IndexFunc(list, func(s event.PoolStatus) bool { return s.Leader == idB })
	for i, s := range list {
		if (i < first && s.Leader != idA) || (i >= first && s.Leader != idB) {
			t.Fatalf("status %d is from %q: want %q's before the takeover and %q's after", i, s.Leader, idA, idB)
		}
	}
	if last := list[len(list)-1]; last.Current != 2 || last.Desired != 2 {
		t.Errorf("the new leader's latest status has current %d desired %d, want 2 and 2", last.Current, last.Desired)
	}

	// B leads at exit with stop_on_exit: it stops the containers it adopted.
	stopB()
	if got := containerIDs(t, probe, false); len(got) != 0 {
		t.Errorf("containers left after the leader stopped with stop_on_exit: %v", got)
	}
}
