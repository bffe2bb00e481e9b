package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mq/warren/shared/command/commandtest"
	"github.com/warren-mq/warren/shared/testkit"
)

// TestEveryBinaryFollowsTheConventions runs the real binaries, as a user would, with no broker: --help and
// `help` on stdout with exit 0, --version from the build info, and exit 2 with one line on stderr for a usage
// error. The commands' own tests cover each command line in process; this one covers the thin mains.
func TestEveryBinaryFollowsTheConventions(t *testing.T) {
	dir := testkit.BuildServices(t, "filter", "broadcaster", "insult", "master", "warren")
	loadgen := exec.Command("go", "build", "-o", filepath.Join(dir, "warren-loadgen"), "../../loadgen")
	if out, err := loadgen.CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, out)
	}
	run := func(bin string, args ...string) commandtest.Result {
		cmd := exec.Command(filepath.Join(dir, bin), args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "WARREN_AMQP_URL="+commandtest.Unreachable)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %v: %v", bin, args, err)
		}
		return commandtest.Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
	}
	for _, tc := range []struct {
		bin  string
		name string // as the binary calls itself
		sub  string // a subcommand whose help is asked with `help`
	}{
		{"warren-filter", "warren-filter", "healthcheck"},
		{"warren-broadcaster", "warren-broadcaster", "healthcheck"},
		{"warren-insult", "warren-insult", "healthcheck"},
		{"warren-master", "warren-master", "simulate"},
		{"warren-warren", "warren", "publish"},
		{"warren-loadgen", "warren-loadgen", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			helps := [][]string{{"--help"}, {"-h"}}
			if tc.sub != "" {
				helps = append(helps, []string{"help", tc.sub}, []string{tc.sub, "--help"})
			}
			for _, args := range helps {
				want := "Usage:\n  " + tc.name
				if len(args) == 2 { // help SUB, SUB --help
					want += " " + tc.sub
				}
				if r := run(tc.bin, args...); r.Code != 0 || r.Stderr != "" || !strings.Contains(r.Stdout, want) {
					t.Errorf("%v: exit %d, stderr %q, stdout lacks %q", args, r.Code, r.Stderr, want)
				}
			}
			if r := run(tc.bin, "--version"); r.Code != 0 || !strings.HasPrefix(r.Stdout, tc.name+" ") || !strings.Contains(r.Stdout, "go1.") {
				t.Errorf("--version: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
			}
			r := run(tc.bin, "--bogus")
			if want := tc.name + ": unknown flag: --bogus\nRun '" + tc.name + " --help' for usage.\n"; r.Code != 2 || r.Stdout != "" || r.Stderr != want {
				t.Errorf("--bogus: exit %d, stdout %q, stderr %q; want exit 2 and %q", r.Code, r.Stdout, r.Stderr, want)
			}
		})
	}
}
