package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/loadgen/bench/proc"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// masterSpec says how to run a master for a benchmark.
type masterSpec struct {
	// Runtime is process or docker.
	Runtime string
	// WorkerEnv is given to every filter worker the master starts.
	WorkerEnv []string
	// ImageTag is the worker image tag for the docker runtime.
	ImageTag string
	// Name tells one run's files (configuration, master log, worker logs) from another's; empty means Runtime,
	// so benchmarks with one master per runtime keep their file names.
	Name string
	// Pool sets keys of the filter pool's configuration (formula, capacity, ...) over the defaults. Values are
	// written into the file as they are, as YAML: a text key whose value looks like a number is quoted by the
	// caller, as configs/warren.yaml quotes a fixed capacity.
	Pool map[string]string
	// StatusAddr, when set, is the master's master.status_addr (dashboard, /metrics).
	StatusAddr string
}

// master is a running master and what it needs cleaned up.
type master struct {
	child *proc.Child
	owner string
}

// startMaster runs warren-master on url with the filter pool at its defaults but for the workers'
// environment, and the broadcaster pool at zero workers, since no benchmark sends it anything. The
// configuration goes through a file in the scratch directory, as an operator would write it.
func (e *Env) startMaster(url string, s masterSpec) (*master, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("master owner: %w", err)
	}
	owner := "warren-bench-" + hex.EncodeToString(b)
	env, _ := json.Marshal(s.WorkerEnv) // a JSON list is a YAML flow sequence
	tag := s.ImageTag
	if tag == "" {
		tag = "latest"
	}
	name := s.Name
	if name == "" {
		name = s.Runtime
	}
	cfg := fmt.Sprintf(`# Written by warren-bench for one benchmark run.
amqp:
  url: %q
log:
  level: info
  format: json
master:
  runtime: %s
  bin: %q
  log_dir: %q
  status_addr: %q
  docker:
    network: host
    image_tag: %q
    amqp_url: %q
    owner: %q
    stop_on_exit: true
  pools:
    filter:
      env: %s
%s    broadcaster:
      min: 0
`, url, s.Runtime, e.Bin, filepath.Join(e.Work, "workers-"+name), s.StatusAddr, tag, url, owner, env, poolKeys(s.Pool))
	path := filepath.Join(e.Work, "master-"+name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("write master configuration: %w", err)
	}
	c, err := proc.Start(proc.Spec{Name: "master", Path: filepath.Join(e.Bin, "warren-master"), Args: []string{"--config", path},
		Dir: e.Work, Log: filepath.Join(e.Work, "master-"+name+".log")})
	if err != nil {
		return nil, err
	}
	return &master{child: c, owner: owner}, nil
}

// poolKeys renders extra filter-pool keys as lines of the configuration file, sorted so the file is the same
// from run to run.
func poolKeys(keys map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(&b, "      %s: %s\n", k, keys[k])
	}
	return b.String()
}

// stop stops the master, which retires its workers, and removes any container it left behind.
func (m *master) stop(ctx context.Context) error {
	err := m.child.Stop(ctx, 60*time.Second)
	out, lerr := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=warren.owner="+m.owner).Output()
	if lerr == nil && len(strings.TrimSpace(string(out))) > 0 {
		args := append([]string{"rm", "-f"}, strings.Fields(string(out))...)
		_ = exec.CommandContext(ctx, "docker", args...).Run()
	}
	return err
}

// statusAt is a pool status with the time it arrived.
type statusAt struct {
	At time.Time
	event.PoolStatus
}

// statusLog follows the master's status feed for the filter pool.
type statusLog struct {
	conn *amqp.Connection
	mu   sync.Mutex
	list []statusAt
	done chan struct{}
}

func followStatus(ctx context.Context, url string) (*statusLog, error) {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench status"})
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("status channel: %w", err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err == nil {
		err = ch.QueueBind(q.Name, "", topology.StatusExchange, false, nil)
	}
	var deliveries <-chan amqp.Delivery
	if err == nil {
		deliveries, err = ch.Consume(q.Name, "", true, true, false, false, nil)
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("follow %s: %w", topology.StatusExchange, err)
	}
	s := &statusLog{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for d := range deliveries {
			var st event.PoolStatus
			if json.Unmarshal(d.Body, &st) == nil && st.Pool == "filter" {
				s.mu.Lock()
				s.list = append(s.list, statusAt{time.Now(), st})
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

func (s *statusLog) snapshot() []statusAt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]statusAt(nil), s.list...)
}

// waitFor polls the log until cond holds for the latest status or d passes.
func (s *statusLog) waitFor(ctx context.Context, d time.Duration, what string, cond func(event.PoolStatus) bool) error {
	deadline := time.Now().Add(d)
	for {
		if l := s.snapshot(); len(l) > 0 && cond(l[len(l)-1].PoolStatus) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no master status with %s within %s (see the master log in the work directory)", what, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *statusLog) close() {
	_ = s.conn.Close()
	<-s.done
}
