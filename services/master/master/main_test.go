//go:build integration

package master_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

var binDir, repoRoot string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "warren-master-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "../../..")
	for _, svc := range []string{"filter", "broadcaster"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "warren-"+svc), "../../"+svc)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", svc, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var imagesOnce sync.Once
var imagesErr error

// buildImages builds the worker images from the current tree, once per test run.
func buildImages(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/var/run/docker.sock"); err != nil && os.Getenv("DOCKER_HOST") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("no Docker engine under CI")
		}
		t.Skip("no Docker engine")
	}
	imagesOnce.Do(func() {
		cmd := exec.Command("bash", filepath.Join(repoRoot, "compose/build-images.sh"), "filter", "broadcaster")
		if out, err := cmd.CombinedOutput(); err != nil {
			imagesErr = fmt.Errorf("build images: %v\n%s", err, out)
		}
	})
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
}

// statuses follows warren.status and keeps every filter-pool status.
type statuses struct {
	mu   sync.Mutex
	list []event.PoolStatus
}

func watchStatus(t *testing.T, conn *amqp.Connection) *statuses {
	t.Helper()
	msgs, ch, err := amqpx.Subscribe(conn, topology.StatusExchange, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	s := &statuses{}
	go func() {
		for d := range msgs {
			var st event.PoolStatus
			if json.Unmarshal(d.Body, &st) == nil && st.Pool == "filter" {
				s.mu.Lock()
				s.list = append(s.list, st)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *statuses) snapshot() []event.PoolStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]event.PoolStatus(nil), s.list...)
}

func (s *statuses) last() (event.PoolStatus, bool) {
	l := s.snapshot()
	if len(l) == 0 {
		return event.PoolStatus{}, false
	}
	return l[len(l)-1], true
}
