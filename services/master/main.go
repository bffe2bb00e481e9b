// Command warren-master is Warren's autoscaler.
package main

import (
	"context"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
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
