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
	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/loadgen/bench"
	"github.com/warren-mq/warren/loadgen/bench/mgmt"
	"github.com/warren-mq/warren/shared/command"
)

const name = "warren-bench"

// defaultURL is the broker when neither --amqp-url nor WARREN_AMQP_URL names one: the local broker
// compose/broker-up.sh starts.
const defaultURL = "amqp://guest:guest@127.0.0.1:5672/"

// header starts a new results file.
const header = `# Warren benchmark results

` + "`make bench`" + ` appends one section per run, newest last. Every number is measured on the machine named in its
section, with the broker on that same machine; targets and whether each was met are in each section's table.

`

var all = []string{"stress", "speedup", "reaction", "overhead", "scaling", "catalog", "fairness"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := newProgram().Execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// newProgram builds warren-bench's command line; each program parses once, so tests build one per run.
func newProgram() *command.Program {
	p := command.New(name, "Run Warren's benchmark suite against a broker and append the results to results.md",
		`Runs Warren's benchmarks against a broker: `+strings.Join(all, ", ")+`
(--only picks some). Every benchmark runs in a fresh vhost of its own, deleted afterwards, and starts
the warren-filter and warren-master binaries from --bin with configurations it writes itself. The
results section goes to stdout and, unless --no-append, is appended to --results (the catalog
benchmark's in a section of its own). Progress is logged on stderr. `+"`make bench`"+` runs it through
scripts/bench.sh, which builds the binaries first.

The broker is --amqp-url, else WARREN_AMQP_URL, else `+defaultURL+`;
the management API is --mgmt-url, else WARREN_MGMT_URL, else port 15672 on the broker's host.

Exit status: 0 when every benchmark ran; 1 when one failed, the run was interrupted (nothing is then
appended), the management API does not answer or the results cannot be appended; 2 for a usage error.`)
	p.Root.Example = `  warren-bench --only speedup --no-append
  warren-bench --only scaling --scaling-policies new --scaling-steady 2m --scale 0.3`
	var (
		mgmtURL, bin, results, work, imageTag string
		only, runtimes                        []string
		scale                                 float64
		dryRun                                bool
		scaling                               bench.ScalingOptions
	)
	// The global --amqp-url is the broker here too, with its own default; --config and --set configure nothing,
	// since every benchmark writes its children's configuration, so they are hidden and refused.
	global := p.Root.PersistentFlags()
	global.Lookup("amqp-url").Usage = "broker; each benchmark runs in a fresh vhost of its own on it " +
		"(default: WARREN_AMQP_URL, else " + defaultURL + ")"
	global.Lookup("log-level").Usage = "least level of the progress logged on stderr: trace, debug, info, warn, error (default: all)"
	_ = global.MarkHidden("config")
	_ = global.MarkHidden("set")
	fs := p.Root.Flags()
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
	p.Root.Args = command.NoArgs
	p.Root.RunE = func(cmd *cobra.Command, args []string) error {
		if p.Flags.ConfigFile != "" || len(p.Flags.Sets) > 0 {
			return command.Usagef("--config and --set do not apply: every benchmark writes its children's configuration")
		}
		for _, o := range only {
			if !slices.Contains(all, o) {
				return command.Usagef("--only: unknown benchmark %q (want %s)", o, strings.Join(all, ", "))
			}
		}
		if err := scaling.Validate(); err != nil {
			return &command.UsageError{Err: err}
		}
		level := zerolog.TraceLevel
		switch p.Flags.LogLevel {
		case "":
		case "trace", "debug", "info", "warn", "error":
			level, _ = zerolog.ParseLevel(p.Flags.LogLevel)
		default:
			return command.Usagef("--log-level: want trace, debug, info, warn or error, got %q", p.Flags.LogLevel)
		}
		url := p.Flags.AMQPURL
		if url == "" {
			url = os.Getenv("WARREN_AMQP_URL")
		}
		if url == "" {
			url = defaultURL
		}
		m, err := mgmt.New(url, mgmtURL)
		if err != nil {
			return &command.UsageError{Err: err}
		}
		log := zerolog.New(zerolog.ConsoleWriter{Out: cmd.ErrOrStderr(), TimeFormat: "15:04:05"}).Level(level).With().Timestamp().Logger()
		// The benchmarks have logged why they failed; the status alone ends the run.
		failed := &command.ExitError{Code: command.ExitFail}
		if err := os.MkdirAll(work, 0o755); err != nil {
			log.Error().Err(err).Msg("work directory")
			return failed
		}
		absBin, _ := filepath.Abs(bin)
		absWork, _ := filepath.Abs(work)
		env := &bench.Env{URL: url, Mgmt: m, Bin: absBin, Work: absWork, Scale: scale, Log: log}

		ctx := cmd.Context()
		started := time.Now()
		suite := bench.Suite{Machine: bench.Describe(ctx, env)}
		if suite.Machine.RabbitMQ == "" {
			log.Error().Str("mgmt", mgmtURL).Msg("the management API does not answer; run compose/broker-up.sh")
			return failed
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
		// The catalogue and fairness benchmarks report in sections of their own, after the suite's.
		var own []string
		var ownErr error
		standalone := func(name string, run func() (bench.Sectioned, error)) {
			if !want(name) {
				return
			}
			began := time.Now()
			r, err := run()
			ownErr = errors.Join(ownErr, err)
			if err == nil {
				own = append(own, r.Section(suite.Machine, time.Since(began)))
			}
		}
		standalone("catalog", func() (bench.Sectioned, error) { return bench.Catalog(ctx, env) })
		standalone("fairness", func() (bench.Sectioned, error) { return bench.Fairness(ctx, env) })
		suite.Took = time.Since(started)
		if ctx.Err() != nil {
			log.Warn().Msg("interrupted; nothing appended")
			return failed
		}
		var section string
		if slices.ContainsFunc(only, func(b string) bool { return b != "catalog" && b != "fairness" }) {
			section = suite.Markdown()
		}
		for _, o := range own {
			section = strings.TrimPrefix(section+"\n"+o, "\n")
		}
		fmt.Fprint(cmd.OutOrStdout(), section)
		benchErr := errors.Join(suite.StressErr, suite.SpeedupErr, suite.ReactionErr, suite.OverheadErr, suite.ScalingErr, ownErr)
		if benchErr != nil {
			log.Error().Err(benchErr).Msg("benchmarks failed")
		}
		if !dryRun {
			if err := appendSection(results, section); err != nil {
				log.Error().Err(err).Msg("append results")
				return failed
			}
			log.Info().Str("file", results).Dur("took", suite.Took.Round(time.Second)).Msg("results appended")
		}
		if benchErr != nil {
			return failed
		}
		return nil
	}
	return p
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
