package runtime

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// cleanupTimeout bounds the removal of a container that was created but could not be started, which runs
// even when the caller's context has already ended.
const cleanupTimeout = 10 * time.Second

// Start creates and starts one worker container running the service's image with s.Args as its command.
func (d *Docker) Start(ctx context.Context, s Spec) (Worker, error) {
	if err := validateSpec(s); err != nil {
		return Worker{}, err
	}
	image := d.Image(s.Service)
	if _, err := d.cli.ImageInspect(ctx, image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return Worker{}, fmt.Errorf("start %s worker: image %s is missing: run `make images` to build it: %w", s.Pool, image, err)
		}
		return Worker{}, fmt.Errorf("start %s worker: inspect image %s: %w", s.Pool, image, err)
	}
	name, err := workerName(s.Pool)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", s.Pool, err)
	}

	cfg := &container.Config{
		Image: image,
		Cmd:   s.Args,
		Env:   slices.Concat([]string{WorkerNameEnv + "=" + name}, d.opts.Env, s.Env),
		Labels: map[string]string{
			LabelPool:    s.Pool,
			LabelOwner:   d.opts.Owner,
			LabelService: s.Service,
		},
		// Stop's contract is SIGTERM first, whatever the image declares.
		StopSignal: "SIGTERM",
		// Every Warren binary answers `healthcheck` (the images have no shell). Each check is an exec in the
		// container, which costs real CPU, so it runs every few seconds: the master learns of an unhealthy
		// worker faster from the worker's own reports, and this check is the backstop (and what `docker ps` shows).
		Healthcheck: WorkerHealthcheck(),
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(d.opts.Network),
		// No restart policy: the master replaces crashed workers itself, and must see them exit to do so.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Resources: container.Resources{
			NanoCPUs: int64(math.Round(s.CPUs * 1e9)),
			Memory:   int64(s.MemoryMB) << 20,
		},
	}
	if d.opts.Network != HostNetwork {
		host.ExtraHosts = []string{HostAlias + ":host-gateway"}
	}
	created, err := d.cli.ContainerCreate(ctx, cfg, host, nil, nil, name)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: create container %s from %s: %w", s.Pool, name, image, err)
	}
	for _, warning := range created.Warnings {
		d.log.Warn().Str("container", name).Str("warning", warning).Msg("engine warning on create")
	}
	if err := d.cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		d.discard(ctx, created.ID, name)
		return Worker{}, fmt.Errorf("start %s worker: start container %s: %w", s.Pool, name, err)
	}
	w, err := d.inspect(ctx, created.ID)
	if err != nil {
		return Worker{}, fmt.Errorf("start %s worker: %w", s.Pool, err)
	}
	d.log.Info().Str("pool", s.Pool).Str("worker", w.Name).Str("id", shortContainerID(w.ID)).Str("image", image).
		Msg("worker started")
	return w, nil
}

// discard removes a container that never became a worker, so it does not linger as an exited one.
func (d *Docker) discard(ctx context.Context, id, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := d.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		d.log.Warn().Err(err).Str("container", name).Msg("cannot remove container that failed to start")
	}
}

// Stop asks the engine to stop the container (SIGTERM, then SIGKILL after grace, rounded up to whole seconds
// because that is the engine's unit) and then removes it. ctx must outlast grace.
func (d *Docker) Stop(ctx context.Context, w Worker, grace time.Duration) error {
	secs := max(0, int(math.Ceil(grace.Seconds())))
	err := d.cli.ContainerStop(ctx, w.ID, container.StopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop %s: %w", w.Name, err)
	}
	if err := d.Remove(ctx, w); err != nil {
		return fmt.Errorf("stop %s: %w", w.Name, err)
	}
	d.log.Info().Str("pool", w.Pool).Str("worker", w.Name).Msg("worker stopped")
	return nil
}

// Remove removes the worker's container, killing it first if it still runs.
func (d *Docker) Remove(ctx context.Context, w Worker) error {
	err := d.cli.ContainerRemove(ctx, w.ID, container.RemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", w.Name, err)
	}
	return nil
}

// List returns the containers of pool that carry this runtime's owner label, running or exited, oldest first.
func (d *Docker) List(ctx context.Context, pool string) ([]Worker, error) {
	summaries, err := d.cli.ContainerList(ctx, container.ListOptions{
		All: true,
		Filters: filters.NewArgs(
			filters.Arg("label", LabelPool+"="+pool),
			filters.Arg("label", LabelOwner+"="+d.opts.Owner),
		),
	})
	if err != nil {
		return nil, fmt.Errorf("list %s workers: %w", pool, err)
	}
	workers := make([]Worker, 0, len(summaries))
	for _, s := range summaries {
		// The summary has neither the exit code nor a start time finer than a second, so each container is
		// inspected; pools are small enough for that to be cheap.
		w, err := d.inspect(ctx, s.ID)
		if cerrdefs.IsNotFound(err) {
			continue // removed since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("list %s workers: %w", pool, err)
		}
		workers = append(workers, w)
	}
	slices.SortFunc(workers, func(a, b Worker) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.Name, b.Name))
	})
	return workers, nil
}

// inspect reads one container's state into a Worker.
func (d *Docker) inspect(ctx context.Context, id string) (Worker, error) {
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return Worker{}, fmt.Errorf("inspect container %s: %w", shortContainerID(id), err)
	}
	w := Worker{ID: info.ID, Name: strings.TrimPrefix(info.Name, "/")}
	if info.Config != nil {
		w.Pool = info.Config.Labels[LabelPool]
	}
	if st := info.State; st != nil {
		w.Running = st.Running
		w.ExitCode = st.ExitCode
		w.StartedAt = parseDockerTime(st.StartedAt)
		w.Unhealthy = st.Running && st.Health != nil && st.Health.Status == "unhealthy"
	}
	if w.StartedAt.IsZero() {
		// Never started (created only): order it by creation instead.
		w.StartedAt = parseDockerTime(info.Created)
	}
	return w, nil
}

// parseDockerTime parses the engine's RFC 3339 timestamps; the engine reports "never" as year 1, which
// parses to the zero time as wanted.
func parseDockerTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t
}

// shortContainerID abbreviates a container ID the way the docker CLI prints it.
func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
