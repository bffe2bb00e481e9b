package main

import (
	"testing"

	"github.com/warren-mq/warren/shared/command/commandtest"
)

func TestHelp(t *testing.T) {
	commandtest.CheckHelp(t, newProgram)
}

// TestUsageErrors checks that mistakes exit 2 before the suite asks the (unreachable) broker anything.
func TestUsageErrors(t *testing.T) {
	commandtest.CheckUsageErrors(t, newProgram, []commandtest.UsageError{
		{Args: []string{"--only", "speedup,nope"}, Want: `warren-bench: --only: unknown benchmark "nope"`},
		{Args: []string{"--scaling-policies", "nope"}, Want: `unknown scaling policy "nope"`},
		{Args: []string{"--no-append", "extra"}, Want: `warren-bench: unexpected argument "extra"`},
		{Args: []string{"--bogus"}, Want: "warren-bench: unknown flag: --bogus"},
		{Args: []string{"--set", "amqp.prefetch=1"}, Want: "--config and --set do not apply"},
		{Args: []string{"--log-level", "loud"}, Want: `warren-bench: --log-level: want trace, debug, info, warn or error, got "loud"`},
		{Args: []string{"--amqp-url", "amqp://%zz"}, Want: "warren-bench: management API: parse broker URL"},
	})
}
