// Command warren-bench runs Warren's benchmark suite against the local broker and appends a dated section
// with the results to loadgen/bench/results.md. `make bench` runs it through scripts/bench.sh.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/loadgen/bench"
	"github.com/warren-mq/warren/loadgen/bench/mgmt"
)

const name = "warren-bench"

// header starts a new results file.
const header = `# Warren benchmark results

` + "`make bench`" + ` appends one section per run, newest last. Every number is measured on the machine named in its
section, with the broker on that same machine; targets and whether each was met are in each section's table.

`

var all = []string{"stress", "speedup", "reaction", "overhead", "scaling", "catalog"}

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
		url, mgmtURL, bin, results, work, imageTag string
		only, runtimes                             []string
		scale                                      float64
		dryRun                                     bool
		scaling                                    bench.ScalingOptions
	)
	fs.StringVar(&url, "amqp-url", defURL, "broker; each benchmark runs in a fresh vhost of its own on it")
	fs.StringVar(&mgmtURL, "mgmt-url", os.Getenv("WARREN_MGMT_URL"), "management API (default: port 15672 on the broker's host)")
	fs.StringVar(&bin, "bin", "bin", "directory with warren-filter and warren-master")
	fs.StringVar(&results, "results", "loadgen/bench/results.md", "file the results section is appended to")
	fs.StringVar(&work, "work", "out/bench", "scratch directory: children's working directory and logs")
	fs.StringSliceVar(&only, "only", all, "benchmarks to run: "+strings.Join(all, ", "))
	fs.StringSliceVar(&runtimes, "runtimes", []string{"process", "docker"}, "runtimes for the reaction benchmark")
	fs.StringVar(&imageTag, "image-tag", "latest", "worker image tag for the docker runtime")
	fs.Float64Var(&scale, "scale", 1, "multiply every duration, e.g. 0.3 for a quick check of the suite (numbers then mean little)")
	fs.BoolVar(&dryRun, "no-append", false, "print the section but do not append it to --results")
	fs.StringSliceVar(&scaling.Policies, "scaling-policies", nil,
		"policies for the scaling benchmark (default all): "+strings.Join(scalingPolicyKeys(), ", "))
	fs.StringSliceVar(&scaling.Traces, "scaling-traces", nil,
		"traces for the scaling benchmark (default all): "+strings.Join(bench.ScalingTraces, ", "))
	fs.DurationVar(&scaling.Steady, "scaling-steady", bench.DefaultSteady, "length of the scaling benchmark's steady trace, before --scale")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return 2
	}
	for _, o := range only {
		if !slices.Contains(all, o) {
			fmt.Fprintf(os.Stderr, "%s: --only: unknown benchmark %q (want %s)\n", name, o, strings.Join(all, ", "))
			return 2
		}
	}
	if err := scaling.Validate(); err != nil {
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
	env := &bench.Env{URL: url, Mgmt: m, Bin: absBin, Work: absWork, Scale: scale, Log: log}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	started := time.Now()
	suite := bench.Suite{Machine: bench.Describe(ctx, env)}
	if suite.Machine.RabbitMQ == "" {
		log.Error().Str("mgmt", mgmtURL).Msg("the management API does not answer; run compose/broker-up.sh")
		return 1
	}
	log.Info().Str("commit", suite.Machine.Commit).Float64("load", suite.Machine.Load).Strs("benchmarks", only).Msg("benchmarks starting")
	want := func(b string) bool { return slices.Contains(only, b) && ctx.Err() == nil }
	if want("stress") {
		r, err := bench.Stress(ctx, env)
		suite.StressErr = err
		if err == nil {
			suite.Stress = &r
		}
	}
	if want("speedup") {
		r, err := bench.Speedup(ctx, env)
		suite.SpeedupErr = err
		if err == nil {
			suite.Speedup = &r
		}
	}
	if want("reaction") {
		suite.Reactions, suite.ReactionErr = bench.Reaction(ctx, env, runtimes, imageTag)
	}
	if want("overhead") {
		r, err := bench.Overhead(ctx, env)
		suite.OverheadErr = err
		if err == nil {
			suite.Overhead = &r
		}
	}
	if want("scaling") {
		r, err := bench.Scaling(ctx, env, scaling)
		suite.Scaling, suite.ScalingErr = &r, err
	}
	// The catalogue benchmark reports in a section of its own, after the suite's.
	var catalog *bench.CatalogResult
	var catalogErr error
	if want("catalog") {
		began := time.Now()
		r, err := bench.Catalog(ctx, env)
		r.Machine, r.Took, catalogErr = suite.Machine, time.Since(began), err
		if err == nil {
			catalog = &r
		}
	}
	suite.Took = time.Since(started)
	if ctx.Err() != nil {
		log.Warn().Msg("interrupted; nothing appended")
		return 1
	}
	var section string
	if slices.ContainsFunc(only, func(b string) bool { return b != "catalog" }) {
		section = suite.Markdown()
	}
	if catalog != nil {
		section = strings.TrimPrefix(section+"\n"+catalog.Markdown(), "\n")
	}
	fmt.Print(section)
	failed := errors.Join(suite.StressErr, suite.SpeedupErr, suite.ReactionErr, suite.OverheadErr, suite.ScalingErr, catalogErr)
	if failed != nil {
		log.Error().Err(failed).Msg("benchmarks failed")
	}
	if !dryRun {
		if err := appendSection(results, section); err != nil {
			log.Error().Err(err).Msg("append results")
			return 1
		}
		log.Info().Str("file", results).Dur("took", suite.Took.Round(time.Second)).Msg("results appended")
	}
	if failed != nil {
		return 1
	}
	return 0
}

// scalingPolicyKeys lists the scaling benchmark's policies for the help text.
func scalingPolicyKeys() []string {
	var keys []string
	for _, p := range bench.ScalingPolicies {
		keys = append(keys, p.Key)
	}
	return keys
}

// appendSection adds section to the results file, starting the file with its header if it is new.
func appendSection(path, section string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(path, []byte(header), 0o644); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := f.WriteString(section + "\n"); err != nil {
		_ = f.Close()
		return fmt.Errorf("append to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}
