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
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/logging"
)

// healthcheck asks this service's /readyz (for Docker's HEALTHCHECK in images without a shell): exit 0 when
// ready, 1 with one line saying why not. A worker is asked over its abstract socket (named after
// WARREN_WORKER_NAME), any service over TCP with --addr: a worker's health.addr, the master's
// master.status_addr (`warren-master healthcheck --addr 127.0.0.1:8080`).
func healthcheck(service string, args []string) int {
	fs := pflag.NewFlagSet(service+" healthcheck", pflag.ContinueOnError)
	addr := fs.String("addr", "", "ask /readyz over TCP at this host:port (a worker's health.addr, the master's "+
		"master.status_addr) instead of the worker's socket")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s healthcheck [--addr host:port]\n\nExits 0 when the service is ready (its /readyz "+
			"answers 200), else 1 with why.\n\n%s", service, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s healthcheck: %v\n", service, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := health.Check(ctx, health.WorkerName(), *addr); err != nil {
		fmt.Fprintf(os.Stderr, "%s healthcheck: %v\n", service, err)
		return 1
	}
	return 0
}

// RunFunc is a service's entry point.
type RunFunc func(ctx context.Context, cfg config.Config, log zerolog.Logger) error

// Main parses the common flags (plus any the service adds through extra), loads the configuration, builds the
// logger, and runs run until SIGINT or SIGTERM. It exits non-zero with one clear line on any error.
func Main(service string, extra func(fs *pflag.FlagSet), run RunFunc) {
	os.Exit(main(service, os.Args[1:], extra, run))
}

func main(service string, args []string, extra func(fs *pflag.FlagSet), run RunFunc) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(service, args[1:])
	}
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
