package runtime

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"
)

// Labels the Docker runtime puts on every container; List finds a master's containers by them, which is what
// lets a restarted master adopt the workers of its previous run.
const (
	LabelPool    = "warren.pool"
	LabelOwner   = "warren.owner"
	LabelService = "warren.service"
)

// HostNetwork is the Docker network mode in which containers share the host's network stack, so a worker
// reaches a broker listening on the host's 127.0.0.1 unchanged.
const HostNetwork = "host"

// HostAlias is the name under which a container on a bridge network reaches the host: the runtime maps it to
// the host gateway (Docker 20.10 and newer).
const HostAlias = "host.docker.internal"

// DockerOptions configures a Docker runtime.
type DockerOptions struct {
	// Host overrides the engine address (e.g. unix:///var/run/docker.sock); empty means DOCKER_HOST or the
	// platform default.
	Host string
	// Network is the Docker network workers join. Empty or "host" means host networking; "bridge" is Docker's
	// default bridge; any other name is a user network, created as a bridge network if missing.
	Network string
	// ImagePrefix is prepended to the service name to form the image name; default "warren/".
	ImagePrefix string
	// Tag is the image tag; default "latest".
	Tag string
	// Owner is the value of the warren.owner label: a runtime lists and adopts only its owner's containers;
	// default "warren-master".
	Owner string
	// Env holds KEY=VALUE pairs given to every worker container.
	Env []string
	// Log receives the runtime's structured log lines.
	Log zerolog.Logger
}

// Docker runs workers as containers on a Docker engine.
//
// Containers carry labels naming their pool, service and owner, and no restart policy: a crashed worker stays
// exited until the master notices it in List and replaces it, so the master alone decides how many run. Because
// List asks the engine rather than memory, a restarted master with the same Owner adopts the containers its
// previous run left behind.
type Docker struct {
	cli  *client.Client
	opts DockerOptions
	log  zerolog.Logger
}

// NewDocker connects to the engine, checks that it answers and makes sure the worker network exists.
func NewDocker(ctx context.Context, opts DockerOptions) (*Docker, error) {
	engineDefaults(&opts.Network, &opts.ImagePrefix, &opts.Tag, &opts.Owner)
	cli, err := dialEngine(ctx, opts.Host, "docker")
	if err != nil {
		return nil, err
	}
	d := &Docker{
		cli:  cli,
		opts: opts,
		log:  opts.Log.With().Str("runtime", "docker").Str("owner", opts.Owner).Logger(),
	}
	if err := d.ensureNetwork(ctx); err != nil {
		_ = cli.Close()
		return nil, err
	}
	d.log.Info().Str("engine", cli.DaemonHost()).Str("api", cli.ClientVersion()).Str("network", opts.Network).
		Msg("docker runtime ready")
	return d, nil
}

// HostAddress returns the host name under which a worker container reaches services on the master's host,
// such as the broker: 127.0.0.1 with host networking, HostAlias on a bridge network. A broker reached through
// HostAlias must listen on the bridge's gateway address, not only on 127.0.0.1.
func (d *Docker) HostAddress() string {
	if d.opts.Network == HostNetwork {
		return "127.0.0.1"
	}
	return HostAlias
}

// Image returns the image a worker of service runs, e.g. "warren/filter:latest".
func (d *Docker) Image(service string) string {
	return d.opts.ImagePrefix + service + ":" + d.opts.Tag
}

// Close closes the connection to the engine. Containers keep running.
func (d *Docker) Close() error {
	if err := d.cli.Close(); err != nil {
		return fmt.Errorf("docker runtime: close client: %w", err)
	}
	return nil
}

// ensureNetwork creates the user network workers join unless it exists or is one of Docker's built-ins.
func (d *Docker) ensureNetwork(ctx context.Context) error {
	name := d.opts.Network
	switch name {
	case HostNetwork, "bridge", "none", "default":
		return nil
	}
	_, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if err == nil {
		return nil
	}
	if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker runtime: inspect network %s: %w", name, err)
	}
	_, err = d.cli.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: "bridge",
		Labels: map[string]string{LabelOwner: d.opts.Owner},
	})
	if err != nil {
		// Another master may have created it between our inspect and create: that is just as good.
		if _, again := d.cli.NetworkInspect(ctx, name, network.InspectOptions{}); again == nil {
			return nil
		}
		return fmt.Errorf("docker runtime: create network %s: %w", name, err)
	}
	d.log.Info().Str("network", name).Msg("created worker network")
	return nil
}
