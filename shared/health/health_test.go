package health

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestProbeOverSocket(t *testing.T) {
	fail := filepath.Join(t.TempDir(), "fail")
	t.Setenv(FailFileEnv, fail)
	p := NewProbe()
	name := "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, p, name, "127.0.0.1:0", zerolog.Nop()); close(done) }()
	defer func() { cancel(); <-done }()

	check := func() error {
		c, cc := context.WithTimeout(context.Background(), time.Second)
		defer cc()
		return Check(c, name, "")
	}
	deadline := time.Now().Add(2 * time.Second)
	for err := check(); err == nil || !strings.Contains(err.Error(), "not consuming"); err = check() {
		if time.Now().After(deadline) {
			t.Fatalf("not-ready probe answered %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.SetReady(true)
	if err := check(); err != nil {
		t.Fatalf("ready probe: %v", err)
	}
	if err := os.WriteFile(fail, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := check(); err == nil || !strings.Contains(err.Error(), "failed on purpose") {
		t.Fatalf("forced-unhealthy probe answered %v", err)
	}
}
