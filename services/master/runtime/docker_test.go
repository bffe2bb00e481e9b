//go:build integration

package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/rs/zerolog"
)

// sleeperImageTag is what the Docker tests run: ImagePrefix "warren/" + service "sleeper" + Tag "test".
const sleeperImageTag = "test"

// testDockerClient returns a client for the test's own checks, skipping only when there is no engine at all.
func testDockerClient(t *testing.T) *client.Client {
	t.Helper()
	if os.Getenv("DOCKER_HOST") == "" {
		if _, err := os.Stat("/var/run/docker.sock"); errors.Is(err, os.ErrNotExist) {
			t.Skip("no Docker engine: /var/run/docker.sock is absent and DOCKER_HOST is unset")
		}
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

var (
	sleeperImageOnce sync.Once
	sleeperImageErr  error
)

// ensureSleeperImage builds warren/sleeper:test FROM scratch out of the static sleeper binary, which needs no
// pull: this machine cannot reach any image registry.
func ensureSleeperImage(t *testing.T) {
	t.Helper()
	bin := filepath.Join(sleeperBinDir(t), "warren-sleeper")
	sleeperImageOnce.Do(func() {
		cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			sleeperImageErr = err
			return
		}
		defer func() { _ = cli.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sleeperImageErr = buildScratchImage(ctx, cli, bin, "warren/sleeper:"+sleeperImageTag)
		if sleeperImageErr == nil {
			registerAfterAll(func() {
				cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
				if err != nil {
					return
				}
				defer func() { _ = cli.Close() }()
				_, _ = cli.ImageRemove(context.Background(), "warren/sleeper:"+sleeperImageTag, image.RemoveOptions{PruneChildren: true})
			})
		}
	})
	if sleeperImageErr != nil {
		t.Fatal(sleeperImageErr)
	}
}

// buildScratchImage builds tag from a context holding only the binary, the same shape compose/Dockerfile.worker
// uses for the real services.
func buildScratchImage(ctx context.Context, cli *client.Client, bin, tag string) error {
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	dockerfile := "FROM scratch\nCOPY warren-sleeper /warren\nUSER 65534:65534\nSTOPSIGNAL SIGTERM\nENTRYPOINT [\"/warren\"]\n"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{"Dockerfile", 0o644, []byte(dockerfile)}, {"warren-sleeper", 0o755, data}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	resp, err := cli.ImageBuild(ctx, &buf, build.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("build %s: %w", tag, err)
	}
	defer func() { _ = resp.Body.Close() }()
	// A failed build still answers 200; the failure is a message in the JSON stream.
	dec := json.NewDecoder(resp.Body)
	for {
		var msg struct {
			Stream string `json:"stream"`
			Error  string `json:"error"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("build %s: read progress: %w", tag, err)
		}
		if msg.Error != "" {
			return fmt.Errorf("build %s: %s", tag, msg.Error)
		}
	}
}

func newTestDocker(t *testing.T, opts DockerOptions) *Docker {
	t.Helper()
	testDockerClient(t)
	ensureSleeperImage(t)
	if opts.Tag == "" {
		opts.Tag = sleeperImageTag
	}
	opts.Log = zerolog.New(zerolog.NewTestWriter(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := NewDocker(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDockerSuite(t *testing.T) {
	cli := testDockerClient(t)
	owner := "warren-test-" + randomSuffix(t)
	runSuite(t, suiteConfig{
		newRuntime: func(t *testing.T) Runtime {
			return newTestDocker(t, DockerOptions{Network: HostNetwork, Owner: owner})
		},
		spec: Spec{Service: "sleeper", CPUs: 0.25, MemoryMB: 32},
		signal: func(t *testing.T, w Worker, sig syscall.Signal) {
			t.Helper()
			name := map[syscall.Signal]string{syscall.SIGKILL: "KILL", syscall.SIGTERM: "TERM"}[sig]
			if err := cli.ContainerKill(context.Background(), w.ID, name); err != nil {
				t.Fatalf("docker kill -s %s %s: %v", name, w.Name, err)
			}
		},
		adopts: true,
	})
}

// TestDockerContainerShape checks what the engine actually got: labels, name, limits, no restart policy, and on
// a user bridge network the host-gateway alias through which a worker reaches the host's broker.
func TestDockerContainerShape(t *testing.T) {
	cli := testDockerClient(t)
	suffix := randomSuffix(t)
	netName := "warren-test-" + suffix
	owner := "warren-test-" + suffix
	t.Cleanup(func() { _ = cli.NetworkRemove(context.Background(), netName) })
	d := newTestDocker(t, DockerOptions{Network: netName, Owner: owner})
	defer func() { _ = d.Close() }()
	ctx := context.Background()

	if _, err := cli.NetworkInspect(ctx, netName, network.InspectOptions{}); err != nil {
		t.Fatalf("NewDocker did not create network %s: %v", netName, err)
	}
	if d.HostAddress() != HostAlias {
		t.Errorf("HostAddress on a bridge network = %q, want %q", d.HostAddress(), HostAlias)
	}
	spec := Spec{Pool: "shape-" + suffix, Service: "sleeper", Env: []string{"WARREN_POOL=shape"}, CPUs: 0.5, MemoryMB: 64}
	w, err := d.Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(ctx, w, generousGrace); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()

	info, err := cli.ContainerInspect(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(w.Name, "warren-"+spec.Pool+"-") {
		t.Errorf("name %q lacks prefix warren-%s-", w.Name, spec.Pool)
	}
	wantLabels := map[string]string{LabelPool: spec.Pool, LabelOwner: owner, LabelService: "sleeper"}
	for k, v := range wantLabels {
		if got := info.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	if info.Config.Image != "warren/sleeper:"+sleeperImageTag {
		t.Errorf("image = %q", info.Config.Image)
	}
	if hc := info.HostConfig; hc.NanoCPUs != 500_000_000 || hc.Memory != 64<<20 {
		t.Errorf("limits: NanoCPUs %d, Memory %d", hc.NanoCPUs, hc.Memory)
	}
	if p := info.HostConfig.RestartPolicy.Name; p != "" && p != "no" {
		t.Errorf("restart policy = %q, want none", p)
	}
	if got := strings.Join(info.HostConfig.ExtraHosts, ","); got != HostAlias+":host-gateway" {
		t.Errorf("extra hosts = %q", got)
	}
	if _, ok := info.NetworkSettings.Networks[netName]; !ok {
		t.Errorf("container not on network %s: %v", netName, info.NetworkSettings.Networks)
	}
	env := " " + strings.Join(info.Config.Env, " ") + " "
	if !strings.Contains(env, " WARREN_POOL=shape ") || !strings.Contains(env, " "+WorkerNameEnv+"="+w.Name+" ") {
		t.Errorf("env lacks spec.Env or the worker name: %v", info.Config.Env)
	}
}

func TestDockerHostNetworkByDefault(t *testing.T) {
	d := newTestDocker(t, DockerOptions{Owner: "warren-test-" + randomSuffix(t)})
	defer func() { _ = d.Close() }()
	if d.HostAddress() != "127.0.0.1" {
		t.Errorf("HostAddress = %q, want 127.0.0.1 with host networking", d.HostAddress())
	}
}

func TestDockerMissingImage(t *testing.T) {
	d := newTestDocker(t, DockerOptions{Tag: "missing-" + randomSuffix(t), Owner: "warren-test-" + randomSuffix(t)})
	defer func() { _ = d.Close() }()
	_, err := d.Start(context.Background(), Spec{Pool: "missing", Service: "sleeper"})
	if err == nil || !strings.Contains(err.Error(), d.Image("sleeper")) || !strings.Contains(err.Error(), "make images") {
		t.Fatalf("start with a missing image: %v, want an error naming %s and `make images`", err, d.Image("sleeper"))
	}
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("error does not wrap the engine's not-found: %v", err)
	}
}
