// Package command gives every Warren binary the same command line on spf13/cobra: the global flags (--amqp-url,
// --config, --set, --log-level) before or after a subcommand, help on stdout with exit 0 whether or not a broker
// runs, --version from the Go build info, and exit status 2 for every usage error, decided before anything
// dials a broker.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/config"
)

// Exit statuses every Warren binary uses.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed (a broker that cannot be reached, a lost event, ...)
	ExitUsage = 2 // a mistake in the command line or the configuration; nothing was dialled
)

// UsageError marks a mistake in the command line or the configuration: exit status 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns the mistake.
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitError ends a command with a chosen status; with a nil Err nothing more is printed (the command has said
// what happened, as loadgen's report does when events were lost).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *ExitError) Unwrap() error { return e.Err }

// Program is one binary's command line: its root command and the global flags every subcommand inherits.
type Program struct {
	// Root is the binary's command; add subcommands to it.
	Root *cobra.Command
	// Flags are the global flags once parsed.
	Flags config.Flags
}

// New returns a Program named name (the binary's name, as users type it) whose root command says short and long.
func New(name, short, long string) *Program {
	p := &Program{}
	p.Root = &cobra.Command{
		Use:     name,
		Short:   short,
		Long:    long,
		Version: Version(),
		// Errors and usage are printed once, by Execute, in Warren's one-line form.
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	p.Root.SetVersionTemplate(name + " {{.Version}}\n")
	p.Root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	p.Root.SetHelpCommand(helpCommand())
	config.AddFlags(p.Root.PersistentFlags(), &p.Flags)
	return p
}

// helpCommand is `help [command]`. cobra's own answers an unknown topic with the root's usage and exit status 0;
// this one makes it a usage error like any other unknown command.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the usage of any command: help publish, help insult add.",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return Usagef("unknown help topic %q", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// EnableCompletion adds `completion bash|zsh|fish|powershell`, which prints a shell completion script.
func (p *Program) EnableCompletion() {
	p.Root.CompletionOptions.DisableDefaultCmd = false
}

// Config loads the configuration from the global flags, the environment and the file. A bad configuration is
// a usage error: exit 2, before anything dials.
func (p *Program) Config() (config.Config, error) {
	cfg, err := config.Load(p.Flags)
	if err != nil {
		return cfg, &UsageError{Err: err}
	}
	return cfg, nil
}

// Group makes cmd a command that only holds subcommands: run alone, or with an unknown subcommand, it is a
// usage error naming the subcommands (cobra would print the help and exit 0, hiding the mistake from scripts).
func Group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		want := strings.Join(names, ", ")
		if len(args) == 0 {
			return Usagef("want a subcommand: %s", want)
		}
		return Usagef("unknown subcommand %q (want %s)", args[0], want)
	}
	return cmd
}

// Execute runs the command line args and returns the exit status. Help and --version go to stdout; an error is
// one line on stderr (a configuration's several mistakes one per line), followed for a usage error by where to
// find the usage.
func (p *Program) Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "help" && !p.Root.HasSubCommands() {
		// cobra adds `help` only to a command with subcommands; a binary without any answers it all the same.
		args = []string{"--help"}
	}
	p.Root.SetArgs(args)
	p.Root.SetOut(stdout)
	p.Root.SetErr(stderr)
	// cobra adds the completion command when it executes, writing to the output set then: add it now, after
	// SetOut, to make `completion` without a shell (or with an unknown one) a usage error like any group's.
	p.Root.InitDefaultCompletionCmd(args...)
	for _, c := range p.Root.Commands() {
		if c.Name() == "completion" {
			Group(c)
		}
	}
	// An error returned before any command's own code ran comes from cobra itself: an unknown command or flag,
	// a wrong number of arguments. Those are usage errors, whatever their type.
	reached := false
	Walk(p.Root, func(c *cobra.Command) {
		if c.RunE == nil {
			return
		}
		run := c.RunE
		c.RunE = func(c *cobra.Command, args []string) error {
			reached = true
			return run(c, args)
		}
	})
	cmd, err := p.Root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	code := ExitFail
	var usage *UsageError
	var exit *ExitError
	switch {
	case errors.As(err, &exit):
		if exit.Err == nil {
			return exit.Code
		}
		code = exit.Code
	case errors.As(err, &usage) || !reached:
		code = ExitUsage
	}
	if cmd == nil {
		cmd = p.Root
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	if code == ExitUsage {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// Walk calls fn for cmd and every command below it, the hidden ones included.
func Walk(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, sub := range cmd.Commands() {
		Walk(sub, fn)
	}
}

// NoArgs accepts no positional argument, saying "unexpected argument" (cobra's own NoArgs says "unknown
// command", which misleads on a binary that has no commands).
func NoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unexpected argument %q", args[0])
	}
	return nil
}
