// Package commandtest checks a Warren binary's command line against the conventions of package command, with
// no broker: every command's help, and usage errors that must exit 2 before anything dials.
package commandtest

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/command"
)

// Unreachable is a broker URL nothing listens on: a command that dialled it would fail with exit status 1, so
// exit status 2 proves a usage error was found before any connection.
const Unreachable = "amqp://guest:guest@127.0.0.1:1/"

// Result is what one command line printed and its exit status.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run executes args on a fresh program from newProgram (cobra keeps parsed flags, so a program runs once).
func Run(t testing.TB, newProgram func() *command.Program, args ...string) Result {
	t.Helper()
	t.Setenv("WARREN_AMQP_URL", Unreachable)
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := newProgram().Execute(ctx, args, &out, &errOut)
	return Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}
}

// Paths lists the command path of every command below the root, hidden ones excluded, the root's name cut:
// {"publish"}, {"insult", "add"}, ...
func Paths(p *command.Program) [][]string {
	var paths [][]string
	p.Root.InitDefaultCompletionCmd() // where the program offers it; cobra adds it only when executing
	command.Walk(p.Root, func(c *cobra.Command) {
		if c == p.Root || c.Hidden || c.Name() == "__complete" || c.Name() == "__completeNoDesc" {
			return
		}
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
	})
	return paths
}

// CheckHelp runs `--help`, `-h` and `help` for the root and every command: each must exit 0, print its usage
// (with its one-line description) on stdout and nothing on stderr.
func CheckHelp(t *testing.T, newProgram func() *command.Program) {
	t.Helper()
	root := newProgram().Root
	paths := append([][]string{nil}, Paths(newProgram())...)
	for _, path := range paths {
		name := strings.Join(append([]string{root.Name()}, path...), " ")
		for _, args := range [][]string{append(path, "--help"), append(path, "-h"), append([]string{"help"}, path...)} {
			args = append([]string(nil), args...)
			r := Run(t, newProgram, args...)
			if r.Code != command.ExitOK || r.Stderr != "" || !strings.Contains(r.Stdout, "Usage:\n  "+name) {
				t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit 0, usage of %q on stdout and nothing on stderr",
					strings.Join(args, " "), r.Code, r.Stderr, head(r.Stdout), name)
			}
		}
	}
}

// UsageError is a command line that must fail with exit status 2, printing nothing on stdout and, on stderr,
// a first line "<command path>: <message>" containing Want, then where to find the usage.
type UsageError struct {
	Args []string
	Want string
}

// CheckUsageErrors runs every case with the broker unreachable.
func CheckUsageErrors(t *testing.T, newProgram func() *command.Program, cases []UsageError) {
	t.Helper()
	root := newProgram().Root.Name()
	for _, c := range cases {
		r := Run(t, newProgram, c.Args...)
		lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
		if r.Code != command.ExitUsage || r.Stdout != "" || !strings.HasPrefix(lines[0], root) ||
			!strings.Contains(r.Stderr, c.Want) || !strings.HasPrefix(lines[len(lines)-1], "Run '") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout, and on stderr %q then the usage hint",
				c.Args, r.Code, head(r.Stdout), r.Stderr, c.Want)
		}
	}
}

func head(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
