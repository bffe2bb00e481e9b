// Command warren-filter is the InsultFilter worker.
package main

import (
	"context"
	"os"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
	app.Main(app.Service{
		Name:  "filter",
		Short: "Warren's InsultFilter worker: censors every insult in the texts it consumes",
		Long: `Consumes the pool's work queue (warren.filter.work, or the WARREN_POOL's), replaces every catalogued
insult in each text with CENSORED and publishes the result to warren.results (or the reply_to queue).`,
		Run: func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
			return filter.Run(ctx, filter.Options{Config: cfg, Log: log, Pool: os.Getenv("WARREN_POOL")})
		},
	})
}
