//go:build integration

// Package compose_test brings the compose stack (docker-compose.yml, through stack.sh as `make up` and `make
// down` do) up under a unique project name, sends a burst through the stack's own broker, watches the master
// scale its filter containers, and checks that `down` leaves nothing behind.
package compose_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// The burst and the workers' simulated slowness: one filter worker (5 handlers, 10 ms each) manages about
// 500 events/s, so the burst is several seconds of work for one worker and the master must add workers. The
// master is told a worker handles 200/s (a static capacity) so its decision does not wait for learning.
const (
	burst         = 5000
	workDelay     = "10ms"
	concurrency   = 5
	maxFilters    = 4
	stackUpWithin = 3 * time.Minute
	resultsWithin = 2 * time.Minute
)

// masterConfig is the stack master's configuration for the test, mounted in place of compose/master.yaml.
const masterConfig = `log:
  level: info
master:
  interval: 1s
  reconcile: 500ms
  runtime: docker
  pools:
    filter:
      min: 1
      max: %d
      capacity: "200"
      tr: 2s
      max_step: 4
      stabilization: 5s
      env: [WARREN_FILTER_WORK_DELAY=%s, WARREN_FILTER_CONCURRENCY=%d]
    broadcaster:
      min: 1
      max: 1
`

func TestComposeStack(t *testing.T) {
	cli := dockerClient(t)
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if err := exec.Command("docker", "compose", "version").Run(); err != nil {
			skipOrFail(t, "neither docker-compose nor `docker compose` is installed")
		}
	}
	lockEngine(t)
	ctx := context.Background()
	project := "warren-test-" + randomHex(t)
	owner := "compose-" + project
	cfg := filepath.Join(t.TempDir(), "master.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, masterConfig, maxFilters, workDelay, concurrency), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(),
		"COMPOSE_PROJECT_NAME="+project,
		// Empty: the engine picks free host ports, still bound to 127.0.0.1 only.
		"WARREN_STACK_AMQP_PORT=", "WARREN_STACK_MANAGEMENT_PORT=", "WARREN_STACK_STATUS_PORT=",
		"WARREN_MASTER_CONFIG="+cfg,
	)
	// The locally built broker image unless the caller chose another one (e.g. the official image, where it
	// can be pulled).
	brokerImage := os.Getenv("WARREN_RABBITMQ_IMAGE")
	if brokerImage == "" {
		brokerImage = "warren/rabbitmq:3.10-local"
		env = append(env, "WARREN_RABBITMQ_IMAGE="+brokerImage)
	}
	began := time.Now()
	if strings.HasPrefix(brokerImage, "warren/rabbitmq:") {
		// About a minute to build on a fresh machine, cached afterwards; built on its own first so the log
		// says which it was.
		out := run(t, env, 10*time.Minute, "bash", "rabbitmq-image.sh")
		t.Logf("broker image ready in %v: %s", time.Since(began).Round(time.Second), lastLine(out))
	}

	downDone := false
	t.Cleanup(func() {
		if t.Failed() {
			logStack(t, env, project)
		}
		if !downDone {
			if _, err := runErr(env, 3*time.Minute, "bash", "stack.sh", "down"); err != nil {
				t.Errorf("stack.sh down in cleanup: %v", err)
			}
		}
		forceRemove(t, cli, project, owner)
	})

	began = time.Now()
	run(t, env, stackUpWithin, "bash", "stack.sh", "up")
	t.Logf("stack %s up in %v", project, time.Since(began).Round(time.Second))
	hostPort := strings.TrimSpace(run(t, env, time.Minute, "bash", "stack.sh", "compose", "port", "rabbitmq", "5672"))
	if !strings.HasPrefix(hostPort, "127.0.0.1:") {
		t.Fatalf("broker published on %q, want 127.0.0.1 only", hostPort)
	}

	conn := dialBroker(t, "amqp://guest:guest@"+hostPort+"/")
	waitConsumers(t, conn, topology.FilterWork)
	t.Logf("filter worker consuming %v after `up` began", time.Since(began).Round(time.Second))

	sampler := newSampler(cli, owner)
	go sampler.run(ctx)
	defer sampler.stop()

	results := publishBurst(t, conn)
	waitResults(t, results)
	peak, timeline := sampler.stop()
	t.Logf("filter containers over time: %s", timeline)
	if peak < 2 {
		t.Errorf("the master never ran more than %d filter container(s) for a burst of %d", peak, burst)
	}
	_ = conn.Close()
	waitHealthy(t, cli, project, "rabbitmq", "insult", "master")
	statusPort := strings.TrimSpace(run(t, env, time.Minute, "bash", "stack.sh", "compose", "port", "master", "8080"))
	for _, path := range []string{"/readyz", "/metrics", "/"} {
		if err := get("http://" + statusPort + path); err != nil {
			t.Errorf("the stack's master on its published status port: %v", err)
		}
	}

	began = time.Now()
	run(t, env, 3*time.Minute, "bash", "stack.sh", "down")
	downDone = true
	t.Logf("stack down in %v", time.Since(began).Round(time.Second))
	assertNothingLeft(t, cli, project, owner)
}

// waitHealthy waits until the named compose services of project report healthy through their health checks.
func waitHealthy(t *testing.T, cli *client.Client, project string, services ...string) {
	t.Helper()
	status := map[string]string{}
	testkit.Eventually(t, 90*time.Second, "every service healthy", func() bool {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
		if err != nil {
			t.Logf("list: %v", err)
			return false
		}
		for _, c := range list {
			ins, err := cli.ContainerInspect(context.Background(), c.ID)
			if err != nil || ins.State == nil || ins.State.Health == nil {
				status[c.Labels["com.docker.compose.service"]] = "no health check"
				continue
			}
			status[c.Labels["com.docker.compose.service"]] = ins.State.Health.Status
		}
		for _, s := range services {
			if status[s] != "healthy" {
				return false
			}
		}
		return true
	})
	t.Logf("compose services healthy: %v", status)
}

// dockerClient returns a client for the engine, skipping when there is none (failing under CI).
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); errors.Is(err, os.ErrNotExist) {
			skipOrFail(t, "no Docker engine: /var/run/docker.sock is absent and DOCKER_HOST is unset")
		}
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		skipOrFail(t, fmt.Sprintf("Docker engine does not answer: %v", err))
	}
	cli.NegotiateAPIVersion(ctx)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (under CI)")
	}
	t.Skip(why)
}

// lockEngine holds, shared, the lock the swarm runtime test holds exclusively: that test may leave a swarm,
// and leaving a swarm disconnects every container from attachable networks, which is every network
// docker-compose 1.29 creates.
func lockEngine(t *testing.T) {
	t.Helper()
	path := filepath.Join(os.TempDir(), "warren-swarm.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			_ = f.Close()
			t.Fatalf("lock %s (the swarm test runs): %v", path, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Cleanup(func() { _ = f.Close() })
}

// run runs a command in compose/ and returns its stdout, failing the test with its output on error.
func run(t *testing.T, env []string, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := runErr(env, timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func runErr(env []string, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return stdout.String() + stderr.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// dialBroker connects to the stack's broker through its published port, which answers once the node is up.
func dialBroker(t *testing.T, url string) *amqp.Connection {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := amqp.Dial(url)
		if err == nil {
			t.Cleanup(func() { _ = conn.Close() })
			return conn
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack broker at %s: %v", url, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitConsumers waits until queue exists and has a consumer: the master's first filter worker is serving.
func waitConsumers(t *testing.T, conn *amqp.Connection, queue string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// A passive declare of a missing queue closes the channel, so each attempt gets its own.
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		_ = ch.Close()
		if err == nil && q.Consumers > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no consumer on %s within 2 minutes (last: %+v, %v)", queue, q, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// publishBurst publishes the burst with confirms, each event asking for its result on a private reply queue.
func publishBurst(t *testing.T, conn *amqp.Connection) <-chan amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	reply, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	results, err := ch.Consume(reply.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation, burst))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range burst {
		body, _ := json.Marshal(event.Text{ID: fmt.Sprintf("c-%d", i), Text: fmt.Sprintf("you idiot %d", i)})
		err := pub.PublishWithContext(ctx, topology.FilterExchange, "", false, false, amqp.Publishing{
			ContentType: event.ContentJSON, DeliveryMode: amqp.Persistent, ReplyTo: reply.Name, Body: body,
		})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range burst {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("broker nacked event %d", c.DeliveryTag)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d publishes confirmed: %v", i, burst, ctx.Err())
		}
	}
	return results
}

// waitResults collects one censored result per event of the burst.
func waitResults(t *testing.T, results <-chan amqp.Delivery) {
	t.Helper()
	seen := make(map[string]bool, burst)
	deadline := time.After(resultsWithin)
	for len(seen) < burst {
		select {
		case d, ok := <-results:
			if !ok {
				t.Fatalf("result consumer closed after %d of %d results", len(seen), burst)
			}
			var r event.Result
			if err := json.Unmarshal(d.Body, &r); err != nil {
				t.Fatalf("result %q: %v", d.Body, err)
			}
			if want := "you CENSORED " + strings.TrimPrefix(r.ID, "c-"); r.Text != want || r.Censored != 1 {
				t.Fatalf("result %+v, want text %q censored once", r, want)
			}
			seen[r.ID] = true
		case <-deadline:
			t.Fatalf("%d of %d results within %v", len(seen), burst, resultsWithin)
		}
	}
}

// sampler counts the stack's running filter containers a few times a second.
type sampler struct {
	cli   *client.Client
	owner string
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	peak  int
	steps []string
	last  int
	start time.Time
	exit  chan struct{}
}

func newSampler(cli *client.Client, owner string) *sampler {
	return &sampler{cli: cli, owner: owner, done: make(chan struct{}), exit: make(chan struct{}), last: -1, start: time.Now()}
}

func (s *sampler) run(ctx context.Context) {
	defer close(s.exit)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		cs, err := s.cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(
			filters.Arg("label", "warren.owner="+s.owner), filters.Arg("label", "warren.pool=filter"),
			filters.Arg("status", "running"))})
		if err == nil {
			s.mu.Lock()
			if n := len(cs); n != s.last {
				s.steps = append(s.steps, fmt.Sprintf("%.1fs:%d", time.Since(s.start).Seconds(), n))
				s.last = n
				s.peak = max(s.peak, n)
			}
			s.mu.Unlock()
		}
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}

// stop ends sampling and returns the peak and the changes of the count over time.
func (s *sampler) stop() (int, string) {
	s.once.Do(func() { close(s.done); <-s.exit })
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak, strings.Join(s.steps, " ")
}

// logStack prints the master's last log lines and the containers, to explain a failure.
func logStack(t *testing.T, env []string, project string) {
	t.Helper()
	if out, err := runErr(env, time.Minute, "bash", "stack.sh", "compose", "logs", "--no-color", "--tail=60", "master"); err == nil {
		t.Logf("master log:\n%s", out)
	}
	if out, err := runErr(env, time.Minute, "bash", "stack.sh", "ps"); err == nil {
		t.Logf("stack %s:\n%s", project, out)
	}
}

// forceRemove removes whatever a failed run left: the project's and its master's containers, its network
// and volume.
func forceRemove(t *testing.T, cli *client.Client, project, owner string) {
	t.Helper()
	ctx := context.Background()
	for _, label := range []string{"com.docker.compose.project=" + project, "warren.owner=" + owner} {
		cs, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
		for _, c := range cs {
			_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
	_ = cli.NetworkRemove(ctx, project+"_net")
	vs, _ := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
	for _, v := range vs.Volumes {
		_ = cli.VolumeRemove(ctx, v.Name, true)
	}
}

// assertNothingLeft checks that `down` removed every container, network and volume of the project and every
// worker its master spawned.
func assertNothingLeft(t *testing.T, cli *client.Client, project, owner string) {
	t.Helper()
	ctx := context.Background()
	for _, label := range []string{"com.docker.compose.project=" + project, "warren.owner=" + owner} {
		cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", label))})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			t.Errorf("container %s (%s) left behind after down", strings.Join(c.Names, ","), label)
		}
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if n.Name == project+"_net" || n.Labels["com.docker.compose.project"] == project {
			t.Errorf("network %s left behind after down", n.Name)
		}
	}
	vs, err := cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Volumes {
		t.Errorf("volume %s left behind after down", v.Name)
	}
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
