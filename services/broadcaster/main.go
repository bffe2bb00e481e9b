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
	app.Main(app.Service{
		Name:  "broadcaster",
		Short: "Warren's broadcaster worker: delivers broadcast requests to every subscriber",
		Long: `Consumes warren.broadcaster.work and publishes each request to the warren.broadcast fanout; while
broadcasting is on, one broadcaster (whichever holds the lock) sends a random insult every 5 s.`,
		Run: func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
			return broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: log})
		},
	})
}
