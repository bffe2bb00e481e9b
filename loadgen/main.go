// Command warren-loadgen plays a traffic scenario against a running Warren and reports what came back: every
// event sent, confirmed, answered, dead-lettered or lost, the end-to-end latency, and a time series of the
// master's scaling next to the offered load.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/logging"
)

const name = "warren-loadgen"

// long is the help text; %s is the list of shipped scenarios.
const long = `Plays a traffic scenario against a running Warren: publishers send text events to warren.filter (or
broadcast requests to warren.broadcaster) on an exact schedule, a reader matches the results to the ids
sent, and the master's pool status is sampled. After the last step loadgen drains until every confirmed
event is answered or the drain timeout passes, then prints the report on stdout. A progress line goes to
stderr every second on a terminal, every 5 s otherwise, never with --quiet.

Give either --scenario FILE|NAME, or --pattern steady|poisson|ramp|random with --rate and --duration.
A scenario is a YAML file (see loadgen/scenario) or the name of a shipped one: %s.
Rates are per publisher: --rate 500 --publishers 4 offers 2000 events/s. A scenario with several sources,
each with its own fairness key, sends them at once; its report adds each source's account and Jain's
fairness index over their throughput while all of them send.

With --out DIR: timeseries.csv, plot.png, plot.svg, report.json, report.txt (and sources.csv with several
sources).

Ctrl-C stops publishing, drains for up to 5 s and still prints the report; a second Ctrl-C quits at once.

Exit status: 0 when every confirmed event got a result (or a dead letter); 1 when any was lost, or the run
failed; 2 for a usage error (bad flag, pattern or scenario file).`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second Ctrl-C ends the drain at once.
		<-ctx.Done()
		stop()
	}()
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs one command line and returns its exit status; ctx ending is Ctrl-C.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newProgram().Execute(ctx, args, stdout, stderr)
}

// newProgram builds loadgen's command line; each program parses once, so tests build one per run.
func newProgram() *command.Program {
	p := command.New(name, "Play a traffic scenario against a running Warren and report what came back",
		fmt.Sprintf(long, run.Shipped()))
	p.Root.Example = `  warren-loadgen --scenario demo-burst --out out/burst
  warren-loadgen --pattern steady --rate 500 --publishers 4 --duration 30s
  warren-loadgen --pattern ramp --rate 100 --slope 20 --duration 1m --target broadcaster`
	var (
		pf       run.PatternFlags
		scenFile string
		out      string
		drain    time.Duration
		size     int
		quiet    bool
		seed     uint64
	)
	fs := p.Root.Flags()
	fs.StringVar(&scenFile, "scenario", "", "scenario file, or the name of a shipped scenario")
	fs.StringVar(&pf.Pattern, "pattern", "", "one-step run: steady, poisson, ramp or random")
	fs.Float64Var(&pf.Rate, "rate", 0, "events/s per publisher (ramp: the starting rate)")
	fs.Float64Var(&pf.Slope, "slope", 0, "ramp: change of the rate, events/s per second")
	fs.Float64Var(&pf.Min, "min", 0, "random: lowest rate drawn")
	fs.Float64Var(&pf.Max, "max", 0, "random: highest rate drawn")
	fs.DurationVar(&pf.Interval, "interval", 0, "random: how long each drawn rate holds (default 1s)")
	fs.DurationVar(&pf.Duration, "duration", 10*time.Second, "one-step run: how long to send")
	fs.IntVar(&pf.Publishers, "publishers", 1, "one-step run: publishers, each with its own connection")
	fs.StringVar(&pf.Target, "target", "filter", "one-step run: filter or broadcaster")
	fs.StringVar(&out, "out", "", "directory for timeseries.csv, plot.png/.svg, report.json/.txt")
	fs.DurationVar(&drain, "drain-timeout", 0, "how long to wait for results after the last step (default: the scenario's, 30s)")
	fs.IntVar(&size, "size", publish.DefaultSize, "text size per event in bytes")
	fs.BoolVarP(&quiet, "quiet", "q", false, "no progress line")
	fs.Uint64Var(&seed, "seed", 0, "seed for poisson and random patterns (default: fresh each run)")
	p.Root.Args = command.NoArgs
	p.Root.RunE = func(cmd *cobra.Command, args []string) error {
		stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
		if size < 1 || size > publish.MaxSize {
			return command.Usagef("--size must be between 1 and %d bytes, got %d", publish.MaxSize, size)
		}
		var o run.Options
		var err error
		switch {
		case scenFile != "" && pf.Pattern != "":
			return command.Usagef("give either --scenario or --pattern, not both")
		case scenFile != "":
			o.Scenario, err = run.LoadScenario(scenFile)
		case pf.Pattern != "":
			o.Scenario, err = pf.Scenario(drain)
		default:
			return command.Usagef("nothing to run: give --scenario FILE or --pattern with --rate and --duration")
		}
		if err != nil {
			return &command.UsageError{Err: err}
		}
		cfg, err := p.Config()
		if err != nil {
			return err
		}
		log, err := logging.New(stderr, "loadgen", cfg.Log.Level, cfg.Log.Format)
		if err != nil {
			return &command.UsageError{Err: err}
		}
		o.URL, o.DrainTimeout, o.Size, o.Seed, o.Out, o.Log = cfg.AMQP.URL, drain, size, seed, out, log
		if !quiet {
			o.Progress, o.ProgressEvery = stderr, time.Second
			if !isTerminal(stderr) {
				o.ProgressEvery = 5 * time.Second
			}
		}

		res, err := run.Run(cmd.Context(), o)
		if res.Report.Start.IsZero() && err != nil {
			if errors.Is(err, run.ErrUsage) {
				return &command.UsageError{Err: err}
			}
			return err
		}
		if err := res.Report.WriteText(stdout); err != nil {
			return err
		}
		for _, f := range res.Files {
			fmt.Fprintf(stdout, "wrote %s\n", f)
		}
		if res.Interrupted {
			fmt.Fprintln(stderr, name+": interrupted; the report covers what was sent until then")
		}
		if err != nil {
			return err
		}
		if res.Report.Lost > 0 {
			return fmt.Errorf("%d events lost", res.Report.Lost)
		}
		return nil
	}
	return p
}

// isTerminal reports whether w is a terminal, where a progress line every second is welcome.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
