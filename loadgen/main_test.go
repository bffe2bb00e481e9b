package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUsageErrors checks that bad input ends with one clear line and exit status 2, before any connection.
func TestUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nsteps:\n  - pattern: steady\n    rate: 10\n    duration: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "nothing to run"},
		{"unknown pattern", []string{"--pattern", "sawtooth", "--rate", "5"}, `--pattern: unknown pattern "sawtooth"`},
		{"rate zero", []string{"--pattern", "steady", "--rate", "0"}, "--rate: rate must be > 0, got 0"},
		{"both", []string{"--pattern", "steady", "--scenario", "demo-burst"}, "either --scenario or --pattern"},
		{"malformed scenario", []string{"--scenario", bad}, bad + `:5: step 1: duration must be a duration such as "10s", got "soon"`},
		{"unknown flag", []string{"--rat", "5"}, "unknown flag: --rat"},
		{"stray argument", []string{"--pattern", "steady", "--rate", "5", "extra"}, `unexpected argument "extra"`},
		{"bad size", []string{"--pattern", "steady", "--rate", "5", "--size", "0"}, "--size must be between 1 and"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(tt.args, &stdout, &stderr)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "warren-loadgen: ") || !strings.Contains(last, tt.want) {
				t.Errorf("stderr %q, want a line containing %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

func TestHelpListsExitStatus(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := realMain([]string{"--help"}, &stdout, &stderr); code != exitOK {
		t.Errorf("--help exits %d", code)
	}
	for _, want := range []string{"Exit status: 0 when every confirmed event", "1 when any was lost", "2 for a usage error", "--drain-timeout", "demo-burst"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
