package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mq/warren/shared/command/commandtest"
)

// TestUsageErrors checks that bad input ends with one clear line, the usage hint and exit status 2, before any
// connection.
func TestUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nsteps:\n  - pattern: steady\n    rate: 10\n    duration: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	commandtest.CheckUsageErrors(t, newProgram, []commandtest.UsageError{
		{Args: nil, Want: "warren-loadgen: nothing to run"},
		{Args: []string{"--pattern", "sawtooth", "--rate", "5"}, Want: `warren-loadgen: --pattern: unknown pattern "sawtooth"`},
		{Args: []string{"--pattern", "steady", "--rate", "0"}, Want: "warren-loadgen: --rate: rate must be > 0, got 0"},
		{Args: []string{"--pattern", "steady", "--scenario", "demo-burst"}, Want: "warren-loadgen: give either --scenario or --pattern"},
		{Args: []string{"--scenario", bad}, Want: "warren-loadgen: " + bad + `:5: step 1: duration must be a duration such as "10s", got "soon"`},
		{Args: []string{"--rat", "5"}, Want: "warren-loadgen: unknown flag: --rat"},
		{Args: []string{"--pattern", "steady", "--rate", "5", "extra"}, Want: `warren-loadgen: unexpected argument "extra"`},
		{Args: []string{"--pattern", "steady", "--rate", "5", "--size", "0"}, Want: "warren-loadgen: --size must be between 1 and"},
		{Args: []string{"--pattern", "steady", "--rate", "5", "--set", "amqp.prefetch=0"}, Want: "warren-loadgen: config: amqp.prefetch"},
	})
}

func TestHelp(t *testing.T) {
	commandtest.CheckHelp(t, newProgram)
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"--help"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Errorf("--help exits %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"Exit status: 0 when every confirmed event", "1 when any was lost", "2 for a usage error",
		"--drain-timeout", "demo-burst", "--amqp-url"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
