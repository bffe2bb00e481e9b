// Package app is the thin main every Warren service binary shares: command line, configuration, logger, signals,
// exit status. The service's own Run never touches OS signals, so tests embed it with a plain context.
package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/logging"
)

// RunFunc is a service's entry point.
type RunFunc func(ctx context.Context, cfg config.Config, log zerolog.Logger) error

// Service is one service binary.
type Service struct {
	// Name is the service's name in logs and metrics; the binary is warren-Name.
	Name string
	// Short is one line saying what the service does; Long may say more.
	Short, Long string
	// Flags adds the service's own flags (beside the global ones).
	Flags func(fs *pflag.FlagSet)
	// Commands returns subcommands beside `healthcheck` (the master's `simulate`); they share the program's
	// global flags.
	Commands func(p *command.Program) []*cobra.Command
	// Run is the service.
	Run RunFunc
}

// Main runs the service's command line with os.Args until SIGINT or SIGTERM and exits with its status.
func Main(s Service) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := Execute(ctx, s, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Execute runs one command line of the service and returns the exit status: the service itself (0 when ctx
// ends, 1 when it fails), `healthcheck`, a subcommand, help or --version; 2 for a usage or configuration error.
func Execute(ctx context.Context, s Service, args []string, stdout, stderr io.Writer) int {
	p := Program(s, stderr)
	return p.Execute(ctx, args, stdout, stderr)
}

// Program builds the service's command tree; logs go to logs.
func Program(s Service, logs io.Writer) *command.Program {
	name := "warren-" + s.Name
	p := command.New(name, s.Short, s.Long+`

Configuration: the global flags, then WARREN_* variables (WARREN_AMQP_URL, ...), then the file (--config,
WARREN_CONFIG, or configs/warren.yaml when present), then the defaults. Logs are JSON on stderr.

Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 when the service fails, 2 for a usage or
configuration error.`)
	p.Root.Args = cobra.NoArgs
	if s.Flags != nil {
		s.Flags(p.Root.Flags())
	}
	p.Root.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := p.Config()
		if err != nil {
			return err
		}
		log, err := logging.New(logs, s.Name, cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return &command.UsageError{Err: err}
		}
		if err := s.Run(cmd.Context(), cfg, log); err != nil {
			log.Error().Err(err).Msg("exiting")
			return &command.ExitError{Code: command.ExitFail}
		}
		return nil
	}
	p.Root.AddCommand(healthcheck(name))
	if s.Commands != nil {
		p.Root.AddCommand(s.Commands(p)...)
	}
	return p
}

// healthcheck asks this service's /readyz (for Docker's HEALTHCHECK in images without a shell): exit 0 when
// ready, 1 with one line saying why not. A worker is asked over its abstract socket (named after
// WARREN_WORKER_NAME), any service over TCP with --addr: a worker's health.addr, the master's
// master.status_addr (`warren-master healthcheck --addr 127.0.0.1:8080`).
func healthcheck(name string) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the service is ready (its /readyz answers 200), else 1 with why",
		Long: `Asks the service's /readyz: a worker over its abstract socket (named after WARREN_WORKER_NAME), any
service over TCP with --addr (a worker's health.addr, the master's master.status_addr). Images have no
shell, so Docker's HEALTHCHECK runs this.

Exit status: 0 when ready, 1 when not (with why on stderr), 2 for a usage error.`,
		Example: "  " + name + " healthcheck --addr 127.0.0.1:8080",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 3*time.Second)
			defer cancel()
			if err := health.Check(ctx, health.WorkerName(), addr); err != nil {
				return fmt.Errorf("not ready: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "ask /readyz over TCP at this host:port instead of the worker's socket")
	return cmd
}
