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
	app.Main("insult", nil, func(ctx context.Context, cfg config.Config, log zerolog.Logger) error {
		return insult.Run(ctx, insult.Options{Config: cfg, Log: log})
	})
}
