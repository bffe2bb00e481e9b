package simulate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/warren-mq/warren/shared/config"
)

// startDir is the test binary's working directory, the package directory, taken before any test changes it.
var startDir, startDirErr = os.Getwd()

// repoConfig returns the path of the repository's configs/warren.yaml, found by walking up from the package
// directory to go.mod.
func repoConfig(t *testing.T) string {
	t.Helper()
	if startDirErr != nil {
		t.Fatal(startDirErr)
	}
	dir := startDir
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "configs", "warren.yaml")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// loadConfig loads the repository's configuration with sets applied.
func loadConfig(t *testing.T, sets ...string) config.Config {
	t.Helper()
	c, err := config.Load(config.Flags{ConfigFile: repoConfig(t), Sets: sets})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seedSets turn the default configuration into the seed system: its formula with a fixed C of 1000 events/s.
var seedSets = []string{"master.pools.filter.formula=seed", "master.pools.filter.capacity=1000"}
