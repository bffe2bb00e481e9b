// Command warren-insult is the InsultService.
package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/app"
	"github.com/warren-mq/warren/shared/config"
)

func main() {
	app.Main(app.Service{
		Name:  "insult",
		Short: "Warren's InsultService: add, remove, list and pick insults",
		Long: `Answers requests on warren.insult (add, remove, list, random, broadcast on/off). The catalogue lives in
the broker, so it survives restarts and every replica sees each change.`,
		Run: func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
			return insult.Run(ctx, insult.Options{Config: cfg, Log: log})
		},
	})
}
