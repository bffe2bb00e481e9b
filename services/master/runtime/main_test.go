package runtime

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// afterAll holds cleanups of resources shared by several tests (the sleeper binary, the sleeper image); TestMain
// runs them once every test is done.
var (
	afterAllMu sync.Mutex
	afterAll   []func()
)

func registerAfterAll(f func()) {
	afterAllMu.Lock()
	defer afterAllMu.Unlock()
	afterAll = append(afterAll, f)
}

func TestMain(m *testing.M) {
	code := m.Run()
	afterAllMu.Lock()
	for i := len(afterAll) - 1; i >= 0; i-- {
		afterAll[i]()
	}
	afterAllMu.Unlock()
	// Every runtime must leave no goroutine behind once its workers are stopped and it is closed.
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	sleeperOnce sync.Once
	sleeperDir  string
	sleeperErr  error
)

// sleeperBinDir returns a directory holding warren-sleeper, a static build of testdata/sleeper. It is built
// once per test run because every runtime test needs it and a build takes a while.
func sleeperBinDir(t *testing.T) string {
	t.Helper()
	sleeperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warren-runtime-test-")
		if err != nil {
			sleeperErr = err
			return
		}
		registerAfterAll(func() { _ = os.RemoveAll(dir) })
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", filepath.Join(dir, "warren-sleeper"), "./testdata/sleeper")
		// Static, so the same binary runs in a FROM scratch image.
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			sleeperErr = fmt.Errorf("build sleeper: %w\n%s", err, out)
			return
		}
		sleeperDir = dir
	})
	if sleeperErr != nil {
		t.Fatal(sleeperErr)
	}
	return sleeperDir
}
