package main

import (
	"io"
	"strings"
	"testing"

	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/command/commandtest"
)

func newProgram() *command.Program { return app.Program(service(), io.Discard) }

func TestHelp(t *testing.T) {
	commandtest.CheckHelp(t, newProgram)
	r := commandtest.Run(t, newProgram, "simulate", "--help")
	for _, want := range []string{"Exit status: 0 on success, 1 when the outputs cannot be written, 2 for", "--trace", "--list", "--config"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("simulate --help lacks %q", want)
		}
	}
}

// TestUsageErrors checks that mistakes exit 2 before the master dials the (unreachable) broker.
func TestUsageErrors(t *testing.T) {
	commandtest.CheckUsageErrors(t, newProgram, []commandtest.UsageError{
		{Args: []string{"--runtime", "nope"}, Want: `unknown runtime "nope" (one of process, docker, swarm)`},
		{Args: []string{"--set", "master.runtime=nope"}, Want: `master.runtime: unknown runtime "nope"`},
		{Args: []string{"--bogus"}, Want: "unknown flag: --bogus"},
		{Args: []string{"extra"}, Want: `unknown command "extra"`},
		{Args: []string{"simulate"}, Want: "--trace is required"},
		{Args: []string{"simulate", "--trace", "steady-20", "--seed", "3"}, Want: "--seed only applies with --poisson"},
		{Args: []string{"simulate", "--trace", "steady-20", "extra"}, Want: `unexpected argument "extra"`},
		{Args: []string{"simulate", "--dry-run"}, Want: "unknown flag: --dry-run"},
		{Args: []string{"--set", "master.interval=0", "simulate", "--trace", "steady-20"}, Want: "master.interval: must be positive"},
	})
}

// TestSimulateList checks that the simulator runs with no broker, taking the global flags before or after it.
func TestSimulateList(t *testing.T) {
	for _, args := range [][]string{{"simulate", "--list"}, {"--log-level", "debug", "simulate", "--list"}} {
		r := commandtest.Run(t, newProgram, args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "step-10x ") || r.Stderr != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 0 and the traces", args, r.Code, r.Stdout, r.Stderr)
		}
	}
}
