// Command warren-bench-catalog runs the catalogue benchmark (bench.Catalog: what a long catalogue history
// costs a new worker) against the local broker and appends a dated section to loadgen/bench/results.md.
// scripts/bench.sh runs it before the main suite; it takes about a minute.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/loadgen/bench"
	"github.com/warren-mq/warren/loadgen/bench/mgmt"
)

const name = "warren-bench-catalog"

func main() {
	os.Exit(run())
}

func run() int {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	defURL := os.Getenv("WARREN_AMQP_URL")
	if defURL == "" {
		defURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	var (
		url, mgmtURL, bin, results, work string
		dryRun                           bool
	)
	fs.StringVar(&url, "amqp-url", defURL, "broker; the benchmark runs in fresh vhosts of its own on it")
	fs.StringVar(&mgmtURL, "mgmt-url", os.Getenv("WARREN_MGMT_URL"), "management API (default: port 15672 on the broker's host)")
	fs.StringVar(&bin, "bin", "bin", "directory with warren-filter")
	fs.StringVar(&results, "results", "loadgen/bench/results.md", "file the results section is appended to")
	fs.StringVar(&work, "work", "out/bench", "scratch directory: children's working directory and logs")
	fs.BoolVar(&dryRun, "no-append", false, "print the section but do not append it to --results")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger()
	if err := os.MkdirAll(work, 0o755); err != nil {
		log.Error().Err(err).Msg("work directory")
		return 1
	}
	absBin, _ := filepath.Abs(bin)
	absWork, _ := filepath.Abs(work)
	m, err := mgmt.New(url, mgmtURL)
	if err != nil {
		log.Error().Err(err).Msg("management API")
		return 2
	}
	env := &bench.Env{URL: url, Mgmt: m, Bin: absBin, Work: absWork, Scale: 1, Log: log}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	machine := bench.Describe(ctx, env)
	if machine.RabbitMQ == "" {
		log.Error().Str("mgmt", mgmtURL).Msg("the management API does not answer; run compose/broker-up.sh")
		return 1
	}
	r, err := bench.Catalog(ctx, env)
	if err != nil {
		log.Error().Err(err).Msg("catalogue benchmark failed")
		return 1
	}
	r.Machine, r.Took = machine, time.Since(started)
	section := r.Markdown()
	fmt.Print(section)
	if dryRun {
		return 0
	}
	f, err := os.OpenFile(results, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Error().Err(err).Msg("open results")
		return 1
	}
	if _, err := f.WriteString(section + "\n"); err != nil {
		_ = f.Close()
		log.Error().Err(err).Msg("append results")
		return 1
	}
	if err := f.Close(); err != nil {
		log.Error().Err(err).Msg("close results")
		return 1
	}
	log.Info().Str("file", results).Dur("took", r.Took.Round(time.Second)).Msg("results appended")
	return 0
}
