// Command warren-master is Warren's autoscaler.
package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/services/master/simulate"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
	app.Main(service())
}

// service returns the master's command line; each call has its own flag values, so tests build it afresh.
func service() app.Service {
	var dryRun bool
	var rt runtimeFlag
	return app.Service{
		Name:  "master",
		Short: "Warren's autoscaler: sizes every worker pool to its load",
		Long: `Every master.interval it measures each pool's arrival rate, backlog and one worker's capacity, decides
how many workers the pool needs, and makes the runtime (process, docker or swarm) match: it starts workers,
retires extra ones gracefully and replaces those that crash or stop heartbeating. Every decision is logged and
published on warren.status; master.status_addr serves /healthz, /readyz, /metrics and the dashboard.

'warren-master simulate' replays an arrival trace through the same scaling code with no broker.`,
		Flags: func(fs *pflag.FlagSet) {
			fs.BoolVar(&dryRun, "dry-run", false, "decide and log without starting or stopping workers")
			fs.Var(&rt, "runtime", "worker runtime: "+strings.Join(config.Runtimes, ", ")+" (overrides master.runtime)")
		},
		Commands: func(p *command.Program) []*cobra.Command {
			return []*cobra.Command{simulate.Command(p)}
		},
		Run: func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
			if dryRun {
				cfg.Master.DryRun = true
			}
			if rt != "" {
				cfg.Master.Runtime = string(rt)
			}
			return master.Run(ctx, master.Options{Config: cfg, Log: log})
		},
	}
}

// runtimeFlag is --runtime. It checks its value as the flag is parsed, so that a wrong runtime is a usage
// error (exit 2) found before the master dials the broker, as the same mistake in master.runtime is.
type runtimeFlag string

func (r *runtimeFlag) String() string { return string(*r) }

func (r *runtimeFlag) Type() string { return "string" }

func (r *runtimeFlag) Set(s string) error {
	if !slices.Contains(config.Runtimes, s) {
		return fmt.Errorf("unknown runtime %q (one of %s)", s, strings.Join(config.Runtimes, ", "))
	}
	*r = runtimeFlag(s)
	return nil
}
