package runtime

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"
)

// LabelSpec is the service label holding a hash of the task template the runtime last gave the service, so a
// Start with a different spec (new image tag, env, limits) is noticed without comparing the engine's
// normalised copy of the spec field by field.
const LabelSpec = "warren.spec"

// swarmTaskNameEnv is the Swarm template a task's container sees expanded to its own task name,
// "<service>.<slot>.<task id>": the name List reports, so worker reports match the workers the master lists.
const swarmTaskNameEnv = WorkerNameEnv + "={{.Task.Name}}"

// Timings of the Swarm runtime. The orchestrator acts asynchronously on every change, so each operation polls
// the tasks until they show the change.
const (
	swarmPoll = 100 * time.Millisecond
	// swarmSettle bounds how long the manager may take to record a change it has already accepted (a task
	// leaving a slot, a stopped container's task turning complete): seconds at most on a healthy swarm.
	swarmSettle = 30 * time.Second
	// swarmUpdateRetries bounds the retries of a service update that lost a race with another writer.
	swarmUpdateRetries = 5
)

// WorkerHealthcheck is the health check of Warren's worker images, which have no shell: every Warren binary
// answers `healthcheck` by asking its own /healthz. A Swarm task failing it is stopped by Swarm and, as it is
// not restarted, replaced by the master. Failures in the first 15 s, while a worker connects, do not count.
func WorkerHealthcheck() *container.HealthConfig {
	return &container.HealthConfig{
		Test:     []string{"CMD", "/warren", "healthcheck"},
		Interval: 2 * time.Second, Timeout: 2 * time.Second, StartPeriod: 15 * time.Second, Retries: 3,
	}
}

// SwarmOptions configures a Swarm runtime.
type SwarmOptions struct {
	// Host overrides the engine address; it must be a manager of the swarm. Empty means DOCKER_HOST or the
	// platform default.
	Host string
	// Network is what the tasks join: empty or "host" means host networking on whichever node runs them; any
	// other name is a swarm-scoped overlay network, created (attachable) if missing.
	Network string
	// ImagePrefix is prepended to the service name to form the image name; default "warren/".
	ImagePrefix string
	// Tag is the image tag; default "latest".
	Tag string
	// Owner is the value of the warren.owner label on the services and their containers; a runtime lists and
	// scales only its owner's services. Default "warren-master".
	Owner string
	// Env holds KEY=VALUE pairs given to every worker.
	Env []string
	// StopGracePeriod is the grace Swarm itself gives a task it stops (when a scale-down has to let Swarm
	// pick the task, or a service is removed); Stop gives the grace it is called with. Default 10 s.
	StopGracePeriod time.Duration
	// StartTimeout bounds how long Start waits for the new task to run, e.g. while no node has room for it.
	// Default 60 s.
	StartTimeout time.Duration
	// PullImages makes tasks refer to the image by name so every node pulls it from a registry. By default
	// the image must exist on the manager's engine and tasks refer to it by ID: no node then contacts a
	// registry (there may be none), and every task runs exactly the image the master checked. Other nodes
	// need the same image (docker save | docker load keeps the ID).
	PullImages bool
	// Healthcheck, when set, replaces the image's health check. Swarm stops a task whose check fails and,
	// with no restart policy, the master sees it exited and replaces it.
	Healthcheck *container.HealthConfig
	// Log receives the runtime's structured log lines.
	Log zerolog.Logger
}

// Swarm runs each pool as one replicated Swarm service, "warren-<pool>", and maps the runtime's per-worker
// contract onto the service's tasks: a worker is the newest task of a slot, Start adds a replica, and Stop
// and Remove take one away.
//
// Swarm cannot be told which task to drop when replicas go down; it prefers tasks that are not running.
// So Stop first stops the chosen task's own container (SIGTERM, then SIGKILL after the grace, as the Docker
// runtime does) and, once the manager sees that task ended, lowers the replica count: Swarm then removes
// exactly that slot. This needs the task's container on the engine the runtime talks to (the manager); a task
// on another node cannot be stopped individually, so Stop then lowers the count and lets Swarm pick, using the
// service's StopGracePeriod, and logs which task it picked.
//
// The restart policy is "none": a crashed task stays in its slot as exited until the master notices it in
// List and removes it, so the master alone decides how many workers run, as with the Docker runtime. Because
// List reads the swarm's state, a restarted master with the same Owner adopts the running services. A service
// scaled to zero is removed, so idle pools leave nothing behind.
type Swarm struct {
	cli    *client.Client
	opts   SwarmOptions
	log    zerolog.Logger
	nodeID string
	// mu serialises this instance's replica changes: each one must learn which task it created or removed.
	// Another master changing the same service is caught by the service version (see updateService).
	mu sync.Mutex
}

// NewSwarm connects to the engine, checks that it is a manager of an active swarm, and makes sure the
// workers' network exists.
func NewSwarm(ctx context.Context, opts SwarmOptions) (*Swarm, error) {
	engineDefaults(&opts.Network, &opts.ImagePrefix, &opts.Tag, &opts.Owner)
	if opts.StopGracePeriod <= 0 {
		opts.StopGracePeriod = 10 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = time.Minute
	}
	cli, err := dialEngine(ctx, opts.Host, "swarm")
	if err != nil {
		return nil, err
	}
	s := &Swarm{cli: cli, opts: opts, log: opts.Log.With().Str("runtime", "swarm").Str("owner", opts.Owner).Logger()}
	fail := func(err error) (*Swarm, error) {
		_ = cli.Close()
		return nil, err
	}
	info, err := cli.Info(ctx)
	if err != nil {
		return fail(fmt.Errorf("swarm runtime: engine info: %w", err))
	}
	if info.Swarm.LocalNodeState != swarm.LocalNodeStateActive || !info.Swarm.ControlAvailable {
		return fail(fmt.Errorf("swarm runtime: the engine at %s is not a swarm manager (node state %q, manager %t): "+
			"run `docker swarm init` there or point master.docker.host at a manager", cli.DaemonHost(),
			info.Swarm.LocalNodeState, info.Swarm.ControlAvailable))
	}
	s.nodeID = info.Swarm.NodeID
	if err := s.ensureNetwork(ctx); err != nil {
		return fail(err)
	}
	s.log.Info().Str("engine", cli.DaemonHost()).Str("api", cli.ClientVersion()).Str("node", s.nodeID).
		Str("network", opts.Network).Msg("swarm runtime ready")
	return s, nil
}

// Image returns the image a worker of service runs, e.g. "warren/filter:latest".
func (s *Swarm) Image(service string) string {
	return s.opts.ImagePrefix + service + ":" + s.opts.Tag
}

// SwarmServiceName returns the Swarm service that runs pool's workers.
func SwarmServiceName(pool string) string { return "warren-" + pool }

// Close closes the connection to the engine. Services and their tasks keep running.
func (s *Swarm) Close() error {
	if err := s.cli.Close(); err != nil {
		return fmt.Errorf("swarm runtime: close client: %w", err)
	}
	return nil
}

// ensureNetwork creates the overlay network tasks join unless it exists or host networking is asked for.
func (s *Swarm) ensureNetwork(ctx context.Context) error {
	name := s.opts.Network
	if name == HostNetwork {
		return nil
	}
	nw, err := s.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err == nil {
		if nw.Scope != "swarm" {
			return fmt.Errorf("swarm runtime: network %s is %s-scoped (driver %s): services need a swarm-scoped "+
				"overlay network", name, nw.Scope, nw.Driver)
		}
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("swarm runtime: inspect network %s: %w", name, err)
	}
	// Attachable, so plain containers (a broker, a debugging shell) can join the workers' network too.
	_, err = s.cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: "overlay", Attachable: true, Labels: map[string]string{LabelOwner: s.opts.Owner},
	})
	if err != nil {
		if _, again := s.cli.NetworkInspect(ctx, name, network.InspectOptions{}); again == nil {
			return nil // created by another master meanwhile
		}
		return fmt.Errorf("swarm runtime: create overlay network %s: %w", name, err)
	}
	s.log.Info().Str("network", name).Msg("created overlay network")
	return nil
}

// Start adds one replica to the pool's service, creating the service if needed, and returns the new task
// once it runs.
func (s *Swarm) Start(ctx context.Context, sp Spec) (Worker, error) {
	if err := validateSpec(sp); err != nil {
		return Worker{}, err
	}
	ref, err := s.imageRef(ctx, sp)
	if err != nil {
		return Worker{}, err
	}
	tmpl := s.taskTemplate(sp, ref)
	hash, err := specHash(tmpl)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", sp.Pool, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	name := SwarmServiceName(sp.Pool)
	svc, found, err := s.service(ctx, sp.Pool)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", sp.Pool, err)
	}
	known := map[string]bool{}
	if !found {
		one := uint64(1)
		spec := swarm.ServiceSpec{
			Annotations:  swarm.Annotations{Name: name, Labels: s.serviceLabels(sp, hash)},
			TaskTemplate: tmpl,
			Mode:         swarm.ServiceMode{Replicated: &swarm.ReplicatedService{Replicas: &one}},
		}
		created, err := s.cli.ServiceCreate(ctx, spec, swarm.ServiceCreateOptions{QueryRegistry: s.opts.PullImages})
		if err != nil {
			return Worker{}, fmt.Errorf("start %s worker: create service %s from %s: %w", sp.Pool, name, ref, err)
		}
		for _, warning := range created.Warnings {
			s.log.Warn().Str("service", name).Str("warning", warning).Msg("engine warning on service create")
		}
		s.log.Info().Str("pool", sp.Pool).Str("service", name).Str("image", s.Image(sp.Service)).Msg("created service")
		svc.ID = created.ID
	} else {
		tasks, err := s.tasks(ctx, svc.ID)
		if err != nil {
			return Worker{}, fmt.Errorf("start %s worker: %w", sp.Pool, err)
		}
		for _, t := range tasks {
			known[t.ID] = true
		}
		err = s.updateService(ctx, sp.Pool, func(spec *swarm.ServiceSpec) {
			*spec.Mode.Replicated.Replicas++
			if spec.Labels[LabelSpec] != hash {
				// A changed spec rolls every running task over to it, one at a time: the pool's workers
				// then all run what the master asks for, as after a `docker service update`.
				s.log.Warn().Str("pool", sp.Pool).Str("service", name).Msg("worker spec changed; Swarm rolls the running tasks over to it")
				spec.TaskTemplate = tmpl
				spec.Labels = s.serviceLabels(sp, hash)
			}
		})
		if err != nil {
			return Worker{}, fmt.Errorf("start %s worker: %w", sp.Pool, err)
		}
	}

	w, err := s.awaitNewTask(ctx, svc.ID, sp.Pool, known)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", sp.Pool, err)
	}
	s.log.Info().Str("pool", sp.Pool).Str("worker", w.Name).Str("task", w.ID).Msg("worker started")
	return w, nil
}

// imageRef checks that the worker image exists and returns how tasks refer to it (see SwarmOptions.PullImages).
func (s *Swarm) imageRef(ctx context.Context, sp Spec) (string, error) {
	image := s.Image(sp.Service)
	if s.opts.PullImages {
		return image, nil
	}
	info, err := s.cli.ImageInspect(ctx, image)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("start %s worker: image %s is missing: run `make images` to build it: %w", sp.Pool, image, err)
		}
		return "", fmt.Errorf("start %s worker: inspect image %s: %w", sp.Pool, image, err)
	}
	return info.ID, nil
}

// taskTemplate is what every task of the pool's service runs.
func (s *Swarm) taskTemplate(sp Spec, ref string) swarm.TaskSpec {
	grace := s.opts.StopGracePeriod
	return swarm.TaskSpec{
		ContainerSpec: &swarm.ContainerSpec{
			Image:  ref,
			Args:   sp.Args,
			Env:    slices.Concat([]string{swarmTaskNameEnv}, s.opts.Env, sp.Env),
			Labels: map[string]string{LabelPool: sp.Pool, LabelOwner: s.opts.Owner, LabelService: sp.Service},
			// Stop's contract is SIGTERM first, whatever the image declares.
			StopSignal:      "SIGTERM",
			StopGracePeriod: &grace,
			Healthcheck:     s.opts.Healthcheck,
		},
		Resources: &swarm.ResourceRequirements{Limits: &swarm.Limit{
			NanoCPUs:    int64(math.Round(sp.CPUs * 1e9)),
			MemoryBytes: int64(sp.MemoryMB) << 20,
		}},
		// No restarts: the master replaces crashed workers itself and must see them exit to do so.
		RestartPolicy: &swarm.RestartPolicy{Condition: swarm.RestartPolicyConditionNone},
		Networks:      []swarm.NetworkAttachmentConfig{{Target: s.opts.Network}},
	}
}

func (s *Swarm) serviceLabels(sp Spec, hash string) map[string]string {
	return map[string]string{LabelPool: sp.Pool, LabelOwner: s.opts.Owner, LabelService: sp.Service, LabelSpec: hash}
}

// specHash fingerprints a task template.
func specHash(t swarm.TaskSpec) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("hash task template: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}

// errOtherOwner says the pool's service name is taken by another owner's service, whose workers this runtime
// must neither list nor touch.
var errOtherOwner = errors.New("belongs to another owner")

// service finds the pool's service; found is false when there is none.
func (s *Swarm) service(ctx context.Context, pool string) (swarm.Service, bool, error) {
	name := SwarmServiceName(pool)
	svc, _, err := s.cli.ServiceInspectWithRaw(ctx, name, swarm.ServiceInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return swarm.Service{}, false, nil
	}
	if err != nil {
		return swarm.Service{}, false, fmt.Errorf("inspect service %s: %w", name, err)
	}
	// Inspect by name also matches ID prefixes; only the exact name is the pool's service.
	if svc.Spec.Name != name {
		return swarm.Service{}, false, nil
	}
	if owner := svc.Spec.Labels[LabelOwner]; owner != s.opts.Owner {
		return swarm.Service{}, false, fmt.Errorf("service %s: label %s=%q, not %q: %w", name, LabelOwner, owner, s.opts.Owner, errOtherOwner)
	}
	if svc.Spec.Mode.Replicated == nil || svc.Spec.Mode.Replicated.Replicas == nil {
		return swarm.Service{}, false, fmt.Errorf("service %s is not a replicated service", name)
	}
	return svc, true, nil
}

// tasks returns every task the manager still holds for the service, history included.
func (s *Swarm) tasks(ctx context.Context, serviceID string) ([]swarm.Task, error) {
	ts, err := s.cli.TaskList(ctx, swarm.TaskListOptions{Filters: filters.NewArgs(filters.Arg("service", serviceID))})
	if err != nil {
		return nil, fmt.Errorf("list tasks of service %s: %w", serviceID, err)
	}
	return ts, nil
}

// updateService applies change to the pool's current service spec. Swarm rejects an update based on an
// outdated version (another master, or Swarm itself, changed the service meanwhile), so it re-reads and
// retries.
func (s *Swarm) updateService(ctx context.Context, pool string, change func(*swarm.ServiceSpec)) error {
	name := SwarmServiceName(pool)
	for attempt := 1; ; attempt++ {
		svc, found, err := s.service(ctx, pool)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("update service %s: %w", name, cerrdefs.ErrNotFound)
		}
		spec := svc.Spec
		change(&spec)
		resp, err := s.cli.ServiceUpdate(ctx, svc.ID, svc.Version, spec, swarm.ServiceUpdateOptions{QueryRegistry: s.opts.PullImages})
		if err == nil {
			for _, warning := range resp.Warnings {
				s.log.Warn().Str("service", name).Str("warning", warning).Msg("engine warning on service update")
			}
			return nil
		}
		if !strings.Contains(err.Error(), "update out of sequence") || attempt >= swarmUpdateRetries {
			return fmt.Errorf("update service %s: %w", name, err)
		}
		s.log.Debug().Err(err).Str("service", name).Int("attempt", attempt).Msg("service changed meanwhile; retrying")
	}
}

// awaitNewTask waits for the task a replica increase created (the one not in known) to run. A task that fails
// to start, or does not start in time, is taken away again so the pool does not keep a phantom slot.
func (s *Swarm) awaitNewTask(ctx context.Context, serviceID, pool string, known map[string]bool) (Worker, error) {
	wctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	defer cancel()
	var newest swarm.Task
	for {
		tasks, err := s.tasks(wctx, serviceID)
		if err != nil && wctx.Err() == nil {
			return Worker{}, err
		}
		for _, t := range tasks {
			if known[t.ID] || t.DesiredState != swarm.TaskStateRunning {
				continue
			}
			newest = t
			switch {
			case t.Status.State == swarm.TaskStateRunning:
				return s.worker(t, pool).Worker, nil
			case taskEnded(t.Status.State):
				s.abandon(ctx, pool, t)
				return Worker{}, fmt.Errorf("task %s %s: %s", t.ID, t.Status.State, cmp.Or(t.Status.Err, t.Status.Message))
			}
		}
		select {
		case <-wctx.Done():
			if newest.ID != "" {
				s.abandon(ctx, pool, newest)
				return Worker{}, fmt.Errorf("task %s still %s after %v (%s): %w", newest.ID, newest.Status.State,
					s.opts.StartTimeout, cmp.Or(newest.Status.Err, newest.Status.Message), wctx.Err())
			}
			return Worker{}, fmt.Errorf("no new task appeared within %v: %w", s.opts.StartTimeout, wctx.Err())
		case <-time.After(swarmPoll):
		}
	}
}

// abandon takes away the slot of a task that never became a worker; it runs even when ctx has ended.
func (s *Swarm) abandon(ctx context.Context, pool string, t swarm.Task) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout+swarmSettle)
	defer cancel()
	if _, err := s.retire(ctx, pool, t.ID, 0, false); err != nil {
		s.log.Warn().Err(err).Str("pool", pool).Str("task", t.ID).Msg("cannot take back the slot of a task that did not start")
	}
}

// Stop stops the worker's container (SIGTERM, then SIGKILL after grace, rounded up to whole seconds, the
// engine's unit) and takes its slot out of the service. ctx must outlast grace. Several Stops run their grace
// periods in parallel; only the replica changes take turns.
func (s *Swarm) Stop(ctx context.Context, w Worker, grace time.Duration) error {
	done, err := s.retire(ctx, w.Pool, w.ID, grace, true)
	if err != nil {
		return fmt.Errorf("stop %s: %w", w.Name, err)
	}
	if done {
		s.log.Info().Str("pool", w.Pool).Str("worker", w.Name).Msg("worker stopped")
	}
	return nil
}

// Remove takes an exited worker's slot out of the service, killing the worker first if it still runs.
func (s *Swarm) Remove(ctx context.Context, w Worker) error {
	if _, err := s.retire(ctx, w.Pool, w.ID, 0, true); err != nil {
		return fmt.Errorf("remove %s: %w", w.Name, err)
	}
	return nil
}

// retire ends task taskID of pool's service and removes its slot; done is false when there was nothing left
// to do. With lock it takes s.mu for the slot removal; without, the caller holds it.
func (s *Swarm) retire(ctx context.Context, pool, taskID string, grace time.Duration, lock bool) (done bool, err error) {
	t, _, err := s.cli.TaskInspectWithRaw(ctx, taskID)
	if cerrdefs.IsNotFound(err) {
		return false, nil // already reaped: nothing left to stop
	}
	if err != nil {
		return false, fmt.Errorf("inspect task %s: %w", taskID, err)
	}
	if t.DesiredState == swarm.TaskStateRemove {
		return false, nil // its slot is already being removed
	}
	picked, err := s.endTask(ctx, t, grace)
	if err != nil {
		return false, err
	}
	if lock {
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	return s.dropSlot(ctx, pool, taskID, picked)
}

// endTask makes task t stop running, when it still does, so that Swarm drops its slot first when replicas go
// down. picked is false when that is impossible: the task runs on another node, whose engine this runtime
// cannot reach, so Swarm will pick the task to stop.
func (s *Swarm) endTask(ctx context.Context, t swarm.Task, grace time.Duration) (picked bool, err error) {
	if taskEnded(t.Status.State) {
		return true, nil
	}
	cs := t.Status.ContainerStatus
	switch {
	case t.NodeID == s.nodeID && cs != nil && cs.ContainerID != "":
		secs := max(0, int(math.Ceil(grace.Seconds())))
		err := s.cli.ContainerStop(ctx, cs.ContainerID, container.StopOptions{Timeout: &secs})
		if err != nil && !cerrdefs.IsNotFound(err) {
			return false, fmt.Errorf("stop container of task %s: %w", t.ID, err)
		}
		// Swarm prefers dropping slots whose task is not running, but judges by what the manager has
		// recorded: lowering the replicas before the manager knows the task ended could drop another worker.
		if err := s.awaitTask(ctx, t.ID, func(t swarm.Task) bool { return taskEnded(t.Status.State) }); err != nil {
			return false, fmt.Errorf("task %s did not end after its container stopped: %w", t.ID, err)
		}
		return true, nil
	case t.Status.State == swarm.TaskStateRunning:
		return false, nil
	default:
		// Not started yet (pending, assigned, preparing): no container to stop, and not running, so Swarm
		// drops it first.
		return true, nil
	}
}

// dropSlot lowers the service's replicas until the slot of task taskID is gone, or removes the service when
// that slot is its last. Swarm drops not-running slots first but may pick another ended one (a worker that
// crashed, or one a concurrent Stop ended): each decrement then accounts for that slot, whose own Stop or
// Remove finds it gone and does nothing, and the next decrement goes for this one. The caller holds s.mu.
func (s *Swarm) dropSlot(ctx context.Context, pool, taskID string, picked bool) (bool, error) {
	for attempt := 1; ; attempt++ {
		t, _, err := s.cli.TaskInspectWithRaw(ctx, taskID)
		if cerrdefs.IsNotFound(err) || (err == nil && t.DesiredState == swarm.TaskStateRemove) {
			return attempt > 1, nil // removed by an earlier decrement, ours or a concurrent caller's
		}
		if err != nil {
			return false, fmt.Errorf("inspect task %s: %w", taskID, err)
		}
		svc, found, err := s.service(ctx, pool)
		if err != nil {
			return false, err
		}
		if !found || svc.ID != t.ServiceID {
			return false, nil
		}
		if *svc.Spec.Mode.Replicated.Replicas <= 1 {
			// The last slot: removing the service leaves nothing behind for an idle pool.
			if err := s.cli.ServiceRemove(ctx, svc.ID); err != nil && !cerrdefs.IsNotFound(err) {
				return false, fmt.Errorf("remove service %s: %w", svc.Spec.Name, err)
			}
			s.log.Info().Str("pool", pool).Str("service", svc.Spec.Name).Msg("removed service of an empty pool")
			return true, nil
		}
		before, err := s.tasks(ctx, svc.ID)
		if err != nil {
			return false, err
		}
		err = s.updateService(ctx, pool, func(spec *swarm.ServiceSpec) {
			*spec.Mode.Replicated.Replicas = max(*spec.Mode.Replicated.Replicas, 1) - 1
		})
		if err != nil {
			return false, err
		}
		if !picked {
			s.log.Warn().Str("pool", pool).Str("task", taskID).Str("node", t.NodeID).
				Msg("task runs on another node: lowered the replicas and let Swarm pick which task stops")
			return true, nil
		}
		other, err := s.awaitSlotRemoval(ctx, svc.ID, taskID, before)
		if err != nil {
			return false, err
		}
		if other == "" {
			return true, nil
		}
		if attempt >= swarmUpdateRetries {
			return false, fmt.Errorf("swarm kept dropping other slots (last: task %s) instead of task %s's", other, taskID)
		}
		s.log.Info().Str("pool", pool).Str("task", taskID).Str("dropped", other).
			Msg("Swarm dropped another slot first; lowering the replicas once more")
	}
}

// awaitSlotRemoval waits until Swarm marks a slot for removal after a decrement: taskID's (other is empty) or
// another one (other names its task), telling them apart from the removals already under way in before.
func (s *Swarm) awaitSlotRemoval(ctx context.Context, serviceID, taskID string, before []swarm.Task) (other string, err error) {
	removing := map[string]bool{}
	for _, t := range before {
		if t.DesiredState == swarm.TaskStateRemove {
			removing[t.ID] = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, swarmSettle)
	defer cancel()
	for {
		tasks, err := s.tasks(ctx, serviceID)
		if err != nil && ctx.Err() == nil {
			return "", err
		}
		target := false // still listed: a reaped task is gone for good
		for _, t := range tasks {
			if t.ID == taskID {
				target = true
				if t.DesiredState == swarm.TaskStateRemove {
					return "", nil
				}
			}
		}
		if err == nil && !target {
			return "", nil
		}
		for _, t := range tasks {
			if t.ID != taskID && t.DesiredState == swarm.TaskStateRemove && !removing[t.ID] {
				return t.ID, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("slot of task %s not removed after lowering the replicas: %w", taskID, ctx.Err())
		case <-time.After(swarmPoll):
		}
	}
}

// awaitTask polls the task until done says so or the task is gone, for at most swarmSettle.
func (s *Swarm) awaitTask(ctx context.Context, taskID string, done func(swarm.Task) bool) error {
	ctx, cancel := context.WithTimeout(ctx, swarmSettle)
	defer cancel()
	for {
		t, _, err := s.cli.TaskInspectWithRaw(ctx, taskID)
		if cerrdefs.IsNotFound(err) || (err == nil && done(t)) {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("inspect task %s: %w", taskID, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("task %s still %s (desired %s): %w", taskID, t.Status.State, t.DesiredState, ctx.Err())
		case <-time.After(swarmPoll):
		}
	}
}

// List returns the workers of pool's service, one per slot (the slot's newest task), oldest first. Slots
// Swarm is removing are left out; a slot whose task ended is reported as exited until Remove.
func (s *Swarm) List(ctx context.Context, pool string) ([]Worker, error) {
	svc, found, err := s.service(ctx, pool)
	if errors.Is(err, errOtherOwner) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s workers: %w", pool, err)
	}
	if !found {
		return nil, nil
	}
	tasks, err := s.tasks(ctx, svc.ID)
	if err != nil {
		return nil, fmt.Errorf("list %s workers: %w", pool, err)
	}
	newest := map[int]swarm.Task{}
	for _, t := range tasks {
		if cur, ok := newest[t.Slot]; !ok || t.CreatedAt.After(cur.CreatedAt) {
			newest[t.Slot] = t
		}
	}
	workers := make([]swarmWorker, 0, len(newest))
	for _, t := range newest {
		if t.DesiredState == swarm.TaskStateRemove {
			continue
		}
		workers = append(workers, s.worker(t, pool))
	}
	slices.SortFunc(workers, func(a, b swarmWorker) int {
		return cmp.Or(a.createdAt.Compare(b.createdAt), cmp.Compare(a.Name, b.Name))
	})
	out := make([]Worker, len(workers))
	for i, w := range workers {
		out[i] = w.Worker
	}
	return out, nil
}

// swarmWorker is a Worker with the task's creation time, by which List orders workers: a task's start time
// is known only while it runs.
type swarmWorker struct {
	Worker
	createdAt time.Time
}

// worker describes task t of pool's service.
func (s *Swarm) worker(t swarm.Task, pool string) swarmWorker {
	if t.Spec.ContainerSpec != nil {
		if p := t.Spec.ContainerSpec.Labels[LabelPool]; p != "" {
			pool = p
		}
	}
	w := Worker{
		ID:   t.ID,
		Pool: pool,
		// Swarm's own task name, which the task's container also got as WorkerNameEnv.
		Name:      fmt.Sprintf("%s.%d.%s", SwarmServiceName(pool), t.Slot, t.ID),
		Running:   !taskEnded(t.Status.State),
		StartedAt: t.CreatedAt,
	}
	if t.Status.State == swarm.TaskStateRunning && !t.Status.Timestamp.IsZero() {
		w.StartedAt = t.Status.Timestamp
	}
	if !w.Running && t.Status.ContainerStatus != nil {
		w.ExitCode = t.Status.ContainerStatus.ExitCode
	}
	return swarmWorker{Worker: w, createdAt: t.CreatedAt}
}

// taskEnded reports whether a task in state st will never run again.
func taskEnded(st swarm.TaskState) bool {
	switch st {
	case swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected,
		swarm.TaskStateRemove, swarm.TaskStateOrphaned:
		return true
	}
	return false
}
