// Command warren-master is Warren's autoscaler.
package main

import (
	"context"
	"os"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/services/master/simulate"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
	// The simulator needs no broker, logger or signals, so it bypasses app.Main and its flags.
	if len(os.Args) > 1 && os.Args[1] == "simulate" {
		os.Exit(simulate.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	var dryRun bool
	var rt string
	flags := func(fs *pflag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "decide and log without starting or stopping workers")
		fs.StringVar(&rt, "runtime", "", "worker runtime: process, docker or swarm (overrides master.runtime)")
	}
	app.Main("master", flags, func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
		if dryRun {
			cfg.Master.DryRun = true
		}
		if rt != "" {
			cfg.Master.Runtime = rt
			if err := cfg.Validate(); err != nil {
				return err
			}
		}
		return master.Run(ctx, master.Options{Config: cfg, Log: log})
	})
}
