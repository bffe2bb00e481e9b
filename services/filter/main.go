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
	app.Main("filter", nil, func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
		return filter.Run(ctx, filter.Options{Config: cfg, Log: log, Pool: os.Getenv("WARREN_POOL")})
	})
}
