// Package bench holds Warren's benchmark suite: the five measurements behind `make bench` and the
// rendering of their results as a dated section of loadgen/bench/results.md.
//
//   - Stress: the most events per second one filter worker sustains end to end, against a bare-broker
//     baseline measured in the same run.
//   - Speedup: throughput with 1, 2, 4 and 8 workers whose work is I/O-like (a fixed delay per event).
//   - Reaction: after a tenfold step in load, how long until the master has the workers it wants consuming,
//     with the process and the Docker runtime, and how long until the backlog is gone.
//   - Overhead: the master's own CPU and memory while 20 000 events/s are offered.
//   - Scaling: how well the master sizes the pool on three traces (steady, client steps, Poisson bursts)
//     under three policies: worker-seconds against an oracle that knows the load and one worker's measured
//     capacity, changes of the pool, latency, losses, and how fast the learned capacity converges.
//
// Every measurement runs in a vhost of its own, created for it and deleted after, so leftovers of one never
// skew the next and nothing else on the broker is touched. Workers and the master run as separate
// processes, built from the tree, as they run in production.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/bench/mgmt"
	"github.com/warren-mq/warren/loadgen/bench/proc"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// Env is what every benchmark needs.
type Env struct {
	// URL is the broker; its vhost is replaced per benchmark.
	URL string
	// Mgmt is the broker's management API.
	Mgmt *mgmt.Client
	// Bin is the directory with warren-filter and warren-master.
	Bin string
	// Work is a scratch directory: the children's working directory (so no configuration file of the tree
	// applies) and their logs.
	Work string
	// Scale shortens every duration, for a quick check of the suite itself; 1 is the real thing.
	Scale float64
	// Log receives progress.
	Log zerolog.Logger
}

// d scales a duration.
func (e *Env) d(x time.Duration) time.Duration {
	if e.Scale <= 0 {
		return x
	}
	return time.Duration(float64(x) * e.Scale)
}

// vhost runs f with the URL of a fresh vhost, deleted afterwards whatever happens.
func (e *Env) vhost(ctx context.Context, name string, f func(url string) error) error {
	url, del, err := e.Mgmt.TempVhost(ctx, e.URL, "warren-bench-"+name)
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := del(dctx); err != nil {
			e.Log.Warn().Err(err).Msg("delete benchmark vhost")
		}
	}()
	// The topology the services would declare, so publishers and consumers can start in any order.
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench setup"})
	if err != nil {
		return err
	}
	err = amqpx.DeclareTopology(conn, topology.Options{DeliveryLimit: 5})
	_ = conn.Close()
	if err != nil {
		return err
	}
	return f(url)
}

// workers starts n filter workers on url with extra environment, and waits until all of them consume.
func (e *Env) workers(ctx context.Context, url string, n int, env ...string) ([]*proc.Child, error) {
	var out []*proc.Child
	for i := range n {
		c, err := proc.Start(proc.Spec{
			Name: fmt.Sprintf("filter-%d", i), Path: filepath.Join(e.Bin, "warren-filter"), Dir: e.Work,
			Log: filepath.Join(e.Work, "filter.log"),
			Env: append([]string{"WARREN_AMQP_URL=" + url, "WARREN_LOG_LEVEL=warn", "WARREN_LOG_FORMAT=json"}, env...),
		})
		if err != nil {
			stopAll(ctx, out)
			return nil, err
		}
		out = append(out, c)
	}
	if err := waitConsumers(ctx, url, topology.FilterWork, n, 30*time.Second); err != nil {
		stopAll(ctx, out)
		return nil, err
	}
	return out, nil
}

// stopAll stops children in parallel, each with a short grace: the benchmarks drop the vhost right after,
// so what the workers still hold does not matter.
func stopAll(ctx context.Context, cs []*proc.Child) {
	done := make(chan struct{}, len(cs))
	for _, c := range cs {
		go func() {
			_ = c.Stop(ctx, 5*time.Second)
			done <- struct{}{}
		}()
	}
	for range cs {
		<-done
	}
}

// waitConsumers polls queue until it has at least n consumers or d passes.
func waitConsumers(ctx context.Context, url, queue string, n int, d time.Duration) error {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench probe"})
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(d)
	for {
		_, consumers, err := amqpx.QueueDepth(conn, queue)
		if err != nil {
			return err
		}
		if consumers >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s has %d consumers after %s, want %d (see the logs in the work directory)", queue, consumers, d, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// brokerPid returns the broker's process id when it runs on this machine as a process this user can read,
// or zero (then the broker's CPU is not reported). The management API names the pid; /proc confirms it is
// the broker here and not one in a container or on another host.
func (e *Env) brokerPid(ctx context.Context) int {
	pid, err := e.Mgmt.BrokerPid(ctx)
	if err != nil {
		return 0
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err != nil || strings.TrimSpace(string(comm)) != "beam.smp" {
		return 0
	}
	if _, err := proc.Read(pid); err != nil {
		return 0
	}
	return pid
}

// cpuMeter reads the CPU of a set of processes at the start and end of a window.
type cpuMeter struct {
	pids   map[string]int
	before map[string]proc.Usage
	at     time.Time
	// Cores is the result: cores used per process over the window.
	Cores map[string]float64
}

func newCPUMeter(pids map[string]int) *cpuMeter {
	return &cpuMeter{pids: pids, Cores: map[string]float64{}}
}

// mark reads the counters: start begins the window, !start ends it and computes Cores.
func (m *cpuMeter) mark(start bool) {
	now := time.Now()
	if start {
		m.at, m.before = now, map[string]proc.Usage{}
	}
	for name, pid := range m.pids {
		if pid == 0 {
			continue
		}
		u, err := proc.Read(pid)
		if err != nil {
			continue
		}
		if start {
			m.before[name] = u
		} else if b, ok := m.before[name]; ok {
			m.Cores[name] = proc.Cores(b, u, now.Sub(m.at))
		}
	}
}

// queueProbe polls a queue's ready count and consumers on its own connection.
type queueProbe struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

func newQueueProbe(ctx context.Context, url string) (*queueProbe, error) {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench probe"})
	if err != nil {
		return nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("probe channel: %w", err)
	}
	return &queueProbe{conn: conn, ch: ch}, nil
}

func (p *queueProbe) depth(queue string) (ready, consumers int, err error) {
	q, err := p.ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("inspect %s: %w", queue, err)
	}
	return q.Messages, q.Consumers, nil
}

func (p *queueProbe) close() { _ = p.conn.Close() }

// selfPid is this process, which runs the publishers and consumers of the harness.
var selfPid = os.Getpid()
