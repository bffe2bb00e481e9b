//go:build integration

package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// swarmLockWait bounds how long the test waits for another test process that uses the swarm.
const swarmLockWait = 5 * time.Minute

// TestSwarm runs every Swarm runtime test on a single-node swarm of the local engine. It makes the engine a
// swarm manager when it is not one and, only then, leaves the swarm afterwards. It skips only when the engine
// refuses to become a manager, with the engine's own error.
func TestSwarm(t *testing.T) {
	cli := testDockerClient(t)
	ensureSleeperImage(t)
	lockSwarm(t)
	ensureSwarm(t, cli)

	t.Run("suite", func(t *testing.T) {
		owner := "warren-test-" + randomSuffix(t)
		t.Cleanup(func() { removeOwnerServices(t, cli, owner) })
		runSuite(t, suiteConfig{
			newRuntime: func(t *testing.T) Runtime {
				return newTestSwarm(t, SwarmOptions{Owner: owner})
			},
			spec: Spec{Service: "sleeper", CPUs: 0.25, MemoryMB: 32},
			signal: func(t *testing.T, w Worker, sig syscall.Signal) {
				t.Helper()
				name := map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM"}[sig]
				id := taskContainer(t, cli, w)
				if err := cli.ContainerKill(context.Background(), id, name); err != nil {
					t.Fatalf("docker kill -s %s %s: %v", name, w.Name, err)
				}
			},
			adopts: true,
		})
	})
	t.Run("service shape", func(t *testing.T) { testSwarmShape(t, cli) })
	t.Run("stop picks the worker asked for", func(t *testing.T) { testSwarmStopPicks(t, cli) })
	t.Run("concurrent stops", func(t *testing.T) { testSwarmConcurrentStops(t, cli) })
	t.Run("owners do not see each other", func(t *testing.T) { testSwarmOwners(t, cli) })
	t.Run("real filter worker", func(t *testing.T) { testSwarmFilterWorker(t, cli) })
	t.Run("missing image", func(t *testing.T) {
		s := newTestSwarm(t, SwarmOptions{Tag: "missing-" + randomSuffix(t), Owner: "warren-test-" + randomSuffix(t)})
		_, err := s.Start(context.Background(), Spec{Pool: "missing-" + randomSuffix(t), Service: "sleeper"})
		if err == nil || !strings.Contains(err.Error(), s.Image("sleeper")) || !strings.Contains(err.Error(), "make images") {
			t.Fatalf("start with a missing image: %v, want an error naming %s and `make images`", err, s.Image("sleeper"))
		}
		if !cerrdefs.IsNotFound(err) {
			t.Errorf("error does not wrap the engine's not-found: %v", err)
		}
	})
}

// testSwarmShape checks what the swarm actually got: service name and labels, restart policy, limits, grace,
// the overlay network, and a worker name that is the task's name inside the container too.
func testSwarmShape(t *testing.T, cli *client.Client) {
	ctx := context.Background()
	suffix := randomSuffix(t)
	owner := "warren-test-" + suffix
	netName := "warren-test-" + suffix
	t.Cleanup(func() {
		removeOwnerServices(t, cli, owner)
		// The network is freed once the tasks' containers are gone, which takes the agent a moment.
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := cli.NetworkRemove(context.Background(), netName)
			if err == nil || cerrdefs.IsNotFound(err) {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("remove network %s: %v", netName, err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	s := newTestSwarm(t, SwarmOptions{Network: netName, Owner: owner, StopGracePeriod: 7 * time.Second})
	// The manager fills in a new network's driver asynchronously; inspect may show it empty for a moment.
	var nw network.Inspect
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var err error
		if nw, err = cli.NetworkInspect(ctx, netName, network.InspectOptions{}); err != nil {
			t.Fatalf("NewSwarm did not create network %s: %v", netName, err)
		}
		if nw.Driver != "" || time.Now().After(deadline) {
			break
		}
	}
	if nw.Driver != "overlay" || nw.Scope != "swarm" || !nw.Attachable {
		t.Errorf("network %s: driver %q, scope %s, attachable %t", netName, nw.Driver, nw.Scope, nw.Attachable)
	}

	spec := Spec{Pool: "shape-" + suffix, Service: "sleeper", Env: []string{"WARREN_POOL=shape"}, CPUs: 0.5, MemoryMB: 64}
	w, err := s.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	svc, _, err := cli.ServiceInspectWithRaw(ctx, SwarmServiceName(spec.Pool), swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatalf("service %s: %v", SwarmServiceName(spec.Pool), err)
	}
	for k, v := range map[string]string{LabelPool: spec.Pool, LabelOwner: owner, LabelService: "sleeper"} {
		if got := svc.Spec.Labels[k]; got != v {
			t.Errorf("service label %s = %q, want %q", k, got, v)
		}
		if got := svc.Spec.TaskTemplate.ContainerSpec.Labels[k]; got != v {
			t.Errorf("container label %s = %q, want %q", k, got, v)
		}
	}
	if r := svc.Spec.Mode.Replicated; r == nil || r.Replicas == nil || *r.Replicas != 1 {
		t.Errorf("mode = %+v, want 1 replica", svc.Spec.Mode)
	}
	tt := svc.Spec.TaskTemplate
	if tt.RestartPolicy == nil || tt.RestartPolicy.Condition != swarm.RestartPolicyConditionNone {
		t.Errorf("restart policy = %+v, want none", tt.RestartPolicy)
	}
	if l := tt.Resources.Limits; l == nil || l.NanoCPUs != 500_000_000 || l.MemoryBytes != 64<<20 {
		t.Errorf("limits = %+v", l)
	}
	if g := tt.ContainerSpec.StopGracePeriod; g == nil || *g != 7*time.Second {
		t.Errorf("stop grace period = %v, want 7s", g)
	}

	id := taskContainer(t, cli, w)
	info, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	env := " " + strings.Join(info.Config.Env, " ") + " "
	if !strings.Contains(env, " WARREN_POOL=shape ") || !strings.Contains(env, " "+WorkerNameEnv+"="+w.Name+" ") {
		t.Errorf("container env lacks spec.Env or the worker name %s: %v", w.Name, info.Config.Env)
	}
	if got := strings.TrimPrefix(info.Name, "/"); got != w.Name {
		t.Errorf("container name %q, worker name %q: want the task name for both", got, w.Name)
	}
	if info.HostConfig.NanoCPUs != 500_000_000 || info.HostConfig.Memory != 64<<20 {
		t.Errorf("container limits: NanoCPUs %d, Memory %d", info.HostConfig.NanoCPUs, info.HostConfig.Memory)
	}
	if _, ok := info.NetworkSettings.Networks[netName]; !ok {
		t.Errorf("container not on network %s: %v", netName, info.NetworkSettings.Networks)
	}

	if err := s.Stop(ctx, w, generousGrace); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, _, err := cli.ServiceInspectWithRaw(ctx, SwarmServiceName(spec.Pool), swarm.ServiceInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("service of an emptied pool still exists (inspect: %v)", err)
	}
}

// startThreeSleepers starts three sleeper workers of a fresh pool under a fresh owner (removed at cleanup) and
// waits until their signal handlers are installed.
func startThreeSleepers(t *testing.T, cli *client.Client, poolPrefix string) (*Swarm, Spec, []Worker) {
	t.Helper()
	owner := "warren-test-" + randomSuffix(t)
	t.Cleanup(func() { removeOwnerServices(t, cli, owner) })
	s := newTestSwarm(t, SwarmOptions{Owner: owner})
	spec := Spec{Pool: poolPrefix + "-" + randomSuffix(t), Service: "sleeper"}
	var ws []Worker
	for range 3 {
		w, err := s.Start(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	time.Sleep(handlerSettle)
	return s, spec, ws
}

// testSwarmStopPicks stops the middle one of three workers: Swarm, which cannot be told which task to drop,
// must drop exactly that one.
func testSwarmStopPicks(t *testing.T, cli *client.Client) {
	ctx := context.Background()
	s, spec, ws := startThreeSleepers(t, cli, "picks")
	began := time.Now()
	if err := s.Stop(ctx, ws[1], generousGrace); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took >= generousGrace/2 {
		t.Errorf("stop took %v: the worker did not exit on SIGTERM", took)
	}
	got := mustList(t, s, spec.Pool)
	if want := []string{ws[0].ID, ws[2].ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("after stopping %s list = %v, want %v", ws[1].ID, ids(got), want)
	}
	for _, w := range got {
		if !w.Running {
			t.Errorf("worker %s not running after another was stopped: %+v", w.Name, w)
		}
	}
	defer func() {
		for _, w := range got {
			if err := s.Stop(ctx, w, generousGrace); err != nil {
				t.Errorf("stop %s: %v", w.Name, err)
			}
		}
	}()
	svc, _, err := cli.ServiceInspectWithRaw(ctx, SwarmServiceName(spec.Pool), swarm.ServiceInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := *svc.Spec.Mode.Replicated.Replicas; r != 2 {
		t.Errorf("replicas = %d, want 2", r)
	}
	// Swarm leaves no container of the stopped task behind once the slot is gone.
	deadline := time.Now().Add(noticeWithin * 3)
	for {
		cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("name", ws[1].Name))})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("container of the stopped task %s still exists: %s", ws[1].Name, cs[0].State)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testSwarmConcurrentStops stops two of three workers at once, as the master retires several in parallel:
// their grace periods overlap, and exactly the two go, though Swarm may drop their slots in either order.
func testSwarmConcurrentStops(t *testing.T, cli *client.Client) {
	ctx := context.Background()
	s, spec, ws := startThreeSleepers(t, cli, "concurrent")
	began := time.Now()
	errs := make(chan error, 2)
	for _, w := range ws[:2] {
		go func() { errs <- s.Stop(ctx, w, generousGrace) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent stop: %v", err)
		}
	}
	// Each stop that missed SIGTERM would wait out the whole grace, and serial stops would add up.
	if took := time.Since(began); took >= generousGrace/2 {
		t.Errorf("two concurrent stops took %v: they did not run in parallel or missed SIGTERM", took)
	}
	got := mustList(t, s, spec.Pool)
	if !slices.Equal(ids(got), []string{ws[2].ID}) {
		t.Fatalf("after stopping two of three, list = %+v, want only %s", got, ws[2].Name)
	}
	if err := s.Stop(ctx, ws[2], generousGrace); err != nil {
		t.Fatal(err)
	}
}

// testSwarmOwners checks that a runtime neither lists nor scales another owner's service of the same pool.
func testSwarmOwners(t *testing.T, cli *client.Client) {
	ctx := context.Background()
	a, b := "warren-test-"+randomSuffix(t), "warren-test-"+randomSuffix(t)
	t.Cleanup(func() { removeOwnerServices(t, cli, a); removeOwnerServices(t, cli, b) })
	ra := newTestSwarm(t, SwarmOptions{Owner: a})
	rb := newTestSwarm(t, SwarmOptions{Owner: b})
	spec := Spec{Pool: "owners-" + randomSuffix(t), Service: "sleeper"}
	w, err := ra.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustList(t, rb, spec.Pool); len(got) != 0 {
		t.Errorf("owner %s lists owner %s's workers: %+v", b, a, got)
	}
	if w2, err := rb.Start(ctx, spec); err == nil || !strings.Contains(err.Error(), a) {
		t.Errorf("owner %s started a worker in owner %s's service: %+v, %v", b, a, w2, err)
	}
	if err := ra.Stop(ctx, w, generousGrace); err != nil {
		t.Fatal(err)
	}
}

// testSwarmFilterWorker runs the real filter image as a Swarm task against the test's broker vhost: the task
// must report its stats under the worker name List gives it (the master matches heartbeats by that name),
// pass the worker health check, and censor.
func testSwarmFilterWorker(t *testing.T, cli *client.Client) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	build := exec.Command("bash", filepath.Join("..", "..", "..", "compose", "build-images.sh"), "filter")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the filter image: %v\n%s", err, out)
	}
	stats, statsCh, err := amqpx.Subscribe(conn, topology.StatsExchange, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = statsCh.Close() }()

	ctx := context.Background()
	owner := "warren-test-" + randomSuffix(t)
	t.Cleanup(func() { removeOwnerServices(t, cli, owner) })
	s := newTestSwarm(t, SwarmOptions{Owner: owner, Tag: "latest", Env: []string{"WARREN_AMQP_URL=" + url},
		Healthcheck: WorkerHealthcheck()})
	pool := "filter-" + randomSuffix(t)
	w, err := s.Start(ctx, Spec{Pool: pool, Service: "filter", Env: []string{"WARREN_POOL=" + pool}, MemoryMB: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Stop(ctx, w, generousGrace); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	deadline := time.After(30 * time.Second)
	for reported := false; !reported; {
		select {
		case d := <-stats:
			var st event.WorkerStats
			if json.Unmarshal(d.Body, &st) == nil && st.Worker == w.Name {
				reported = true
			}
		case <-deadline:
			t.Fatalf("no stats report from worker %s within 30 s", w.Name)
		}
	}

	// Healthy means consuming, so the event below is censored at once.
	id := taskContainer(t, cli, w)
	testkit.Eventually(t, 20*time.Second, "the worker's container turns healthy", func() bool {
		info, err := cli.ContainerInspect(ctx, id)
		return err == nil && info.State.Health != nil && info.State.Health.Status == container.Healthy
	})

	testkit.Publish(t, conn, topology.FilterExchange, "", testkit.JSON(map[string]string{"id": "swarm-1", "text": "you idiot"}))
	got := testkit.Drain(t, conn, topology.Results, 3*time.Second)
	if len(got) != 1 || !strings.Contains(string(got[0].Body), "you CENSORED") {
		t.Errorf("results = %d messages, want one with the censored text: %s", len(got), bodies(got))
	}
}

func bodies(ds []amqp.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		b.Write(d.Body)
		b.WriteByte(' ')
	}
	return b.String()
}

func newTestSwarm(t *testing.T, opts SwarmOptions) *Swarm {
	t.Helper()
	if opts.Tag == "" {
		opts.Tag = sleeperImageTag
	}
	opts.Log = zerolog.New(zerolog.NewTestWriter(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := NewSwarm(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// taskContainer returns the ID of the container running worker w's task (on this node).
func taskContainer(t *testing.T, cli *client.Client, w Worker) string {
	t.Helper()
	task, _, err := cli.TaskInspectWithRaw(context.Background(), w.ID)
	if err != nil {
		t.Fatalf("inspect task of %s: %v", w.Name, err)
	}
	if task.Status.ContainerStatus == nil || task.Status.ContainerStatus.ContainerID == "" {
		t.Fatalf("task of %s has no container: %+v", w.Name, task.Status)
	}
	return task.Status.ContainerStatus.ContainerID
}

// removeOwnerServices removes whatever services a failed test left behind, and fails the test if any was
// still there: a passing test leaves none.
func removeOwnerServices(t *testing.T, cli *client.Client, owner string) {
	t.Helper()
	ctx := context.Background()
	svcs, err := cli.ServiceList(ctx, swarm.ServiceListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelOwner+"="+owner))})
	if err != nil {
		t.Errorf("list services of %s: %v", owner, err)
		return
	}
	for _, svc := range svcs {
		if !t.Failed() {
			t.Errorf("service %s of %s left behind", svc.Spec.Name, owner)
		}
		if err := cli.ServiceRemove(ctx, svc.ID); err != nil && !cerrdefs.IsNotFound(err) {
			t.Errorf("remove service %s: %v", svc.Spec.Name, err)
		}
	}
	// Removing a service stops its containers asynchronously; wait so the test's network and the swarm can go.
	deadline := time.Now().Add(30 * time.Second)
	for {
		cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", LabelOwner+"="+owner))})
		if err != nil || len(cs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d containers of %s still exist 30 s after their services were removed", len(cs), owner)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockSwarm keeps every other test process on this machine that uses the engine's swarm, or runs a compose
// stack, out while this test runs (compose/compose_test.go takes the same lock, shared): this test may create
// the swarm and leave it at the end, and leaving a swarm disconnects containers from attachable networks,
// which is every network docker-compose 1.29 creates.
func lockSwarm(t *testing.T) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "warren-swarm.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open swarm test lock: %v", err)
	}
	deadline := time.Now().Add(swarmLockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			t.Fatalf("lock %s (another test process uses the swarm): %v", path, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Registered first, so it runs after the swarm cleanup below.
	t.Cleanup(func() { _ = f.Close() })
}

// ensureSwarm makes the local engine a single-node swarm manager unless it already is one; a swarm it created
// is left again (with the gateway bridge Swarm adds) when the test ends.
func ensureSwarm(t *testing.T, cli *client.Client) {
	t.Helper()
	ctx := context.Background()
	info, err := cli.Info(ctx)
	if err != nil {
		t.Fatalf("engine info: %v", err)
	}
	switch {
	case info.Swarm.LocalNodeState == swarm.LocalNodeStateActive && info.Swarm.ControlAvailable:
		t.Logf("using the engine's existing swarm (node %s)", info.Swarm.NodeID)
		return
	case info.Swarm.LocalNodeState != swarm.LocalNodeStateInactive:
		t.Fatalf("the engine is in swarm state %q (manager %t): neither usable nor safe to reinitialise",
			info.Swarm.LocalNodeState, info.Swarm.ControlAvailable)
	}

	// An inactive engine is also where NewSwarm must refuse to work, with advice.
	if _, err := NewSwarm(ctx, SwarmOptions{Log: zerolog.Nop()}); err == nil || !strings.Contains(err.Error(), "docker swarm init") {
		t.Errorf("NewSwarm on an engine outside any swarm: %v, want an error suggesting `docker swarm init`", err)
	}

	hadGateway := false
	if _, err := cli.NetworkInspect(ctx, "docker_gwbridge", network.InspectOptions{}); err == nil {
		hadGateway = true
	}
	// Loopback only: the swarm's ports (2377, 7946, 4789) answer on this machine alone.
	nodeID, err := cli.SwarmInit(ctx, swarm.InitRequest{ListenAddr: "127.0.0.1:2377", AdvertiseAddr: "127.0.0.1"})
	if err != nil {
		t.Skipf("the engine refuses swarm mode, so the swarm runtime cannot be tested here: docker swarm init --advertise-addr 127.0.0.1: %v", err)
	}
	t.Logf("created a single-node swarm (node %s); it is left when the test ends", nodeID)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if users := attachableNetworkUsers(t, cli); len(users) > 0 {
			// Docker 20.10 disconnects every container from attachable networks when the node leaves a swarm
			// (and deletes those networks): that would break, e.g., a compose stack someone started meanwhile.
			t.Logf("NOT leaving the swarm this test created: containers on attachable networks would be disconnected (%s); "+
				"run `docker swarm leave --force` once they are gone", strings.Join(users, ", "))
			return
		}
		if err := cli.SwarmLeave(ctx, true); err != nil {
			t.Errorf("leave the swarm this test created: %v", err)
			return
		}
		if !hadGateway {
			if err := cli.NetworkRemove(ctx, "docker_gwbridge"); err != nil && !cerrdefs.IsNotFound(err) {
				t.Errorf("remove docker_gwbridge created with the swarm: %v", err)
			}
		}
	})
}

// attachableNetworkUsers lists "network: container" pairs of containers on local attachable networks, which
// leaving a swarm would disconnect.
func attachableNetworkUsers(t *testing.T, cli *client.Client) []string {
	t.Helper()
	ctx := context.Background()
	nets, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Errorf("list networks: %v", err)
		return []string{"(networks unknown)"}
	}
	var users []string
	for _, n := range nets {
		if !n.Attachable || n.Scope == "swarm" {
			continue
		}
		full, err := cli.NetworkInspect(ctx, n.ID, network.InspectOptions{})
		if err != nil {
			continue
		}
		for _, c := range full.Containers {
			users = append(users, n.Name+": "+c.Name)
		}
	}
	slices.Sort(users)
	return users
}
