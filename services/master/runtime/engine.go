package runtime

import (
	"context"
	"fmt"

	"github.com/docker/docker/client"
)

// engineDefaults fills the settings the docker and swarm runtimes share.
func engineDefaults(network, imagePrefix, tag, owner *string) {
	for _, f := range []struct {
		v   *string
		def string
	}{{network, HostNetwork}, {imagePrefix, "warren/"}, {tag, "latest"}, {owner, "warren-master"}} {
		if *f.v == "" {
			*f.v = f.def
		}
	}
}

// dialEngine returns a client of the engine at host (empty: DOCKER_HOST or the platform default) that has
// checked the engine answers. The client module speaks a newer API than engines such as 20.10 (API 1.41), so
// the version is negotiated — once, here: left to the first request, negotiation writes client state that
// concurrent requests read (a data race inside the client).
func dialEngine(ctx context.Context, host, runtimeName string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("%s runtime: create client: %w", runtimeName, err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("%s runtime: engine unreachable at %s: %w", runtimeName, cli.DaemonHost(), err)
	}
	cli.NegotiateAPIVersion(ctx)
	return cli, nil
}
