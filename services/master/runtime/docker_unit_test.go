package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestDockerEngineUnreachable needs no engine: it points the runtime at a socket that does not exist.
func TestDockerEngineUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host := "unix://" + t.TempDir() + "/no-docker.sock"
	_, err := NewDocker(ctx, DockerOptions{Host: host, Log: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "docker runtime: engine unreachable at "+host) {
		t.Fatalf("NewDocker on a dead socket: %v, want an 'engine unreachable at %s' error", err, host)
	}
}
