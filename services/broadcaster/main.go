// Command warren-broadcaster is the broadcaster worker.
package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/broadcaster/broadcaster"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
	app.Main("broadcaster", nil, func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
		return broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: log})
	})
}
