// Package runtime starts, stops and lists the master's worker processes or containers.
//
// Three implementations share one contract, Runtime: Process runs workers as child processes of the master,
// Docker runs them as containers on one Docker engine, and Swarm runs them as the tasks of one Swarm service per
// pool, for users who outgrow one machine. The master decides how many workers each pool gets; a
// runtime only carries those decisions out and reports what is actually running, including workers that have
// exited on their own, so the master can notice crashes and replace them.
package runtime

import (
	"context"
	"time"
)

// Spec says what worker to start.
type Spec struct {
	// Pool is the name of the pool the worker belongs to, e.g. "filter".
	Pool string
	// Service selects the worker binary or image, e.g. "filter" or "broadcaster".
	Service string
	// Args are extra command-line arguments for the worker binary.
	Args []string
	// Env holds KEY=VALUE pairs added to the worker's environment after the runtime's base environment, so
	// they win over it.
	Env []string
	// CPUs limits a container to this many CPUs; 0 means no limit. The process runtime ignores it.
	CPUs float64
	// MemoryMB limits a container's memory in MiB; 0 means no limit. The process runtime ignores it.
	MemoryMB int
}

// Worker is one running, or exited but not yet removed, worker.
type Worker struct {
	// ID identifies the worker within its runtime: the pid for processes, the container ID for Docker.
	ID string
	// Pool is the pool the worker was started for.
	Pool string
	// Name is unique per worker, "warren-<pool>-<random hex>"; it is also the container name. The runtime
	// hands it to the worker as WorkerNameEnv, so the master can match the worker's stats reports to it.
	Name string
	// StartedAt is when the worker was started.
	StartedAt time.Time
	// Running turns false once the worker has exited (crashed or killed). List keeps reporting exited workers
	// until Remove is called so the master can notice and replace them.
	Running bool
	// Unhealthy is true while the worker runs but fails its health check (Docker's HEALTHCHECK); the master
	// treats it as dead and replaces it.
	Unhealthy bool
	// ExitCode is the worker's exit status once it is no longer running; a worker ended by a signal reports
	// 128 plus the signal number, as shells and Docker do.
	ExitCode int
}

// Runtime starts and stops workers of pools. Implementations are safe for concurrent use.
type Runtime interface {
	// Start launches one worker as described by s and returns it once it is running.
	Start(ctx context.Context, s Spec) (Worker, error)
	// Stop sends SIGTERM, waits up to grace for the worker to exit, then sends SIGKILL; the worker is removed
	// afterwards, so List no longer reports it. Stopping a worker the runtime no longer knows is not an error.
	Stop(ctx context.Context, w Worker, grace time.Duration) error
	// Remove forgets an exited worker (for containers: removes the container). A worker that still runs is
	// killed first. Removing a worker the runtime no longer knows is not an error.
	Remove(ctx context.Context, w Worker) error
	// List returns all workers of pool owned by this runtime's owner, running or exited but not removed,
	// oldest first.
	List(ctx context.Context, pool string) ([]Worker, error)
	// Close releases the runtime's own resources. It stops no worker: that is the master's decision.
	Close() error
}

var (
	_ Runtime = (*Process)(nil)
	_ Runtime = (*Docker)(nil)
	_ Runtime = (*Swarm)(nil)
)

// WorkerNameEnv is the environment variable through which a worker learns its Worker.Name (see
// shared/workerstats). The runtime sets it before the base and spec environments, so they can override it.
const WorkerNameEnv = "WARREN_WORKER_NAME"

// exitCode128 is the offset shells and Docker add to a signal number to report death by that signal.
const exitCode128 = 128
