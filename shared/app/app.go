// Package app is the thin main every Warren binary shares: flags, configuration, logger, signals, exit code.
// The service's own Run never touches OS signals, so tests embed it with a plain context.
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/logging"
)

// RunFunc is a service's entry point.
type RunFunc func(ctx context.Context, cfg config.Config, log zerolog.Logger) error

// Main parses the common flags (plus any the service adds through extra), loads the configuration, builds the
// logger, and runs run until SIGINT or SIGTERM. It exits non-zero with one clear line on any error.
func Main(service string, extra func(fs *pflag.FlagSet), run RunFunc) {
	os.Exit(main(service, os.Args[1:], extra, run))
}

func main(service string, args []string, extra func(fs *pflag.FlagSet), run RunFunc) int {
	fs := pflag.NewFlagSet(service, pflag.ContinueOnError)
	var f config.Flags
	config.AddFlags(fs, &f)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		return 2
	}
	cfg, err := config.Load(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		return 2
	}
	log, err := logging.New(os.Stderr, service, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("exiting")
		return 1
	}
	return 0
}
