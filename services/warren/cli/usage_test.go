package cli_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/warren-mq/warren/services/warren/cli"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/command/commandtest"
)

func newProgram() *command.Program { return cli.New(strings.NewReader("")) }

// TestHelpWithoutBroker: every command's --help, -h and `help <command>` print its usage on stdout and exit 0
// while no broker answers.
func TestHelpWithoutBroker(t *testing.T) {
	commandtest.CheckHelp(t, newProgram)
	r := commandtest.Run(t, newProgram)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Available Commands:") {
		t.Errorf("bare warren: exit %d, stdout %q; want the help", r.Code, r.Stdout)
	}
}

// TestUsageErrorsBeforeDialling: every usage error exits 2 with the mistake on stderr, although the broker URL
// points where nothing listens (dialling would exit 1).
func TestUsageErrorsBeforeDialling(t *testing.T) {
	missing := t.TempDir() + "/missing.txt"
	commandtest.CheckUsageErrors(t, newProgram, []commandtest.UsageError{
		{Args: []string{"nope"}, Want: `warren: unknown command "nope" for "warren"`},
		{Args: []string{"help", "nope"}, Want: `warren help: unknown help topic "nope"`},
		{Args: []string{"help", "insult", "nope"}, Want: `unknown help topic "insult nope"`},
		{Args: []string{"--bogus"}, Want: "unknown flag: --bogus"},
		{Args: []string{"publish", "--bogus", "x"}, Want: "warren publish: unknown flag: --bogus"},
		{Args: []string{"publish", "--to", "nowhere", "x"}, Want: `--to must be filter or broadcaster, got "nowhere"`},
		{Args: []string{"publish", "--to", "broadcaster", "--wait", "x"}, Want: "--wait works with --to filter only"},
		{Args: []string{"publish", "-f", missing, "x"}, Want: "give texts or --file, not both"},
		{Args: []string{"publish", "-f", missing}, Want: "no such file or directory"},
		{Args: []string{"publish"}, Want: "nothing to publish"},
		{Args: []string{"subscribe", "now"}, Want: `unknown command "now" for "warren subscribe"`},
		{Args: []string{"insult"}, Want: "warren insult: want a subcommand: add, ls, random, rm"},
		{Args: []string{"insult", "shout"}, Want: `unknown subcommand "shout"`},
		{Args: []string{"insult", "add"}, Want: "requires at least 1 arg(s)"},
		{Args: []string{"insult", "rm"}, Want: "requires at least 1 arg(s)"},
		{Args: []string{"insult", "ls", "extra"}, Want: `unknown command "extra" for "warren insult ls"`},
		{Args: []string{"insult", "ls", "-o", "yaml"}, Want: `-o must be text or json, got "yaml"`},
		{Args: []string{"insult", "random", "-o"}, Want: "flag needs an argument: 'o' in -o"},
		{Args: []string{"broadcast"}, Want: "want a subcommand: off, on"},
		{Args: []string{"broadcast", "maybe"}, Want: `unknown subcommand "maybe" (want off, on)`},
		{Args: []string{"results", "-n", "x"}, Want: `invalid argument "x" for "-n, --count"`},
		{Args: []string{"results", "-n", "-1"}, Want: "-n must be >= 0, got -1"},
		{Args: []string{"results", "-o", "xml"}, Want: `-o must be text or json, got "xml"`},
		{Args: []string{"watch", "--output", "csv"}, Want: `-o must be text or json, got "csv"`},
		{Args: []string{"lanes", "nope"}, Want: `no pool "nope": the pools are filter and broadcaster`},
		{Args: []string{"lanes", "filter", "broadcaster"}, Want: "accepts at most 1 arg(s), received 2"},
		{Args: []string{"lanes", "--wait", "-1s"}, Want: "--wait must not be negative"},
		{Args: []string{"publish", "--key", strings.Repeat("k", 256), "hi"}, Want: "--key: fairness key"},
		{Args: []string{"dead"}, Want: "want a subcommand: ls, requeue, show"},
		{Args: []string{"dead", "show"}, Want: "accepts 1 arg(s), received 0"},
		{Args: []string{"dead", "show", "#1", "-o", "yaml"}, Want: `-o must be text or json, got "yaml"`},
		{Args: []string{"dead", "requeue"}, Want: "give one '#N' or message id, or --all"},
		{Args: []string{"dead", "requeue", "#1", "--all"}, Want: "give one '#N' or message id, or --all"},
		{Args: []string{"topology"}, Want: "want a subcommand: apply, permissions, verify"},
		{Args: []string{"topology", "apply", "x"}, Want: `unknown command "x" for "warren topology apply"`},
		{Args: []string{"topology", "permissions"}, Want: "accepts 1 arg(s), received 0"},
		{Args: []string{"topology", "permissions", "nobody"}, Want: `unknown role "nobody"`},
		{Args: []string{"completion", "tcsh"}, Want: `warren completion: unknown subcommand "tcsh" (want bash, fish, powershell, zsh)`},
		{Args: []string{"--timeout", "soon", "insult", "ls"}, Want: `invalid argument "soon" for "--timeout"`},
		// The configuration is checked before dialling too: a wrong key or value is a usage error.
		{Args: []string{"--set", "amqp.prefetch=0", "insult", "ls"}, Want: "amqp.prefetch"},
		{Args: []string{"insult", "ls", "--set", "nonsense.key=1"}, Want: "config: nonsense: unknown key"},
		{Args: []string{"--log-level", "loud", "dead", "ls"}, Want: "log.level"},
		{Args: []string{"--config", missing, "watch"}, Want: "config: read " + missing},
	})
}

// TestGlobalFlagsAfterTheCommand: --amqp-url, --config, --set and --log-level are accepted after the command
// as before it; with the broker unreachable, the command then fails dialling (exit 1) naming the URL, its
// password hidden, and how to change it.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	for _, args := range [][]string{
		{"--amqp-url", "amqp://u:secret@127.0.0.1:1/", "insult", "ls"},
		{"insult", "ls", "--amqp-url", "amqp://u:secret@127.0.0.1:1/", "--log-level", "warn", "--set", "amqp.prefetch=5"},
	} {
		r := commandtest.Run(t, newProgram, args...)
		want := "warren insult ls: dial amqp://u:xxxxx@127.0.0.1:1/: "
		if r.Code != 1 || !strings.HasPrefix(r.Stderr, want) || !strings.Contains(r.Stderr, "--amqp-url or WARREN_AMQP_URL") ||
			strings.Contains(r.Stderr, "secret") || r.Stdout != "" {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and %q… naming --amqp-url and WARREN_AMQP_URL", args, r.Code, r.Stderr, want)
		}
	}
}

func TestVersionAndCompletion(t *testing.T) {
	r := commandtest.Run(t, newProgram, "--version")
	if r.Code != 0 || !regexp.MustCompile(`^warren \S+ \(commit \S+.*go1\.\d+`).MatchString(r.Stdout) || r.Stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	for shell, want := range map[string]string{"bash": "complete -o default -F __start_warren warren", "zsh": "#compdef warren",
		"fish": "complete -c warren "} {
		r := commandtest.Run(t, newProgram, "completion", shell)
		if r.Code != 0 || !strings.Contains(r.Stdout, want) || r.Stderr != "" {
			t.Errorf("completion %s: exit %d, stderr %q, stdout lacks %q", shell, r.Code, r.Stderr, want)
		}
	}
}

// TestREADMEShowsWarrenHelp: the README's CLI section quotes `warren --help` as it is.
func TestREADMEShowsWarrenHelp(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	help := commandtest.Run(t, newProgram, "--help").Stdout
	start := strings.Index(string(readme), "$ warren --help\n")
	if start < 0 {
		t.Fatal("README.md has no `$ warren --help` block")
	}
	quoted := string(readme)[start+len("$ warren --help\n"):]
	quoted, _, _ = strings.Cut(quoted, "```")
	if quoted != help {
		t.Errorf("README.md quotes an old `warren --help`; replace the block with:\n%s", help)
	}
}
