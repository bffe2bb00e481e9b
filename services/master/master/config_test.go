package master_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/shared/config"
)

func TestDockerUnreachableIsAClearError(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := config.Load(config.Flags{Sets: []string{"master.runtime=docker", "master.docker.host=tcp://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	err = master.Run(context.Background(), master.Options{Config: cfg, Log: zerolog.Nop()})
	if err == nil || !strings.Contains(err.Error(), "master.runtime docker") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("err = %v, want a clear error naming master.runtime docker", err)
	}
}
