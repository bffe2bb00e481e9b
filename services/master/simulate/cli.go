package simulate

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/config"
)

// Exit codes of Main.
const (
	exitOK    = 0
	exitFail  = 1 // the simulation ran but its outputs could not be written
	exitUsage = 2 // bad flags, configuration, trace or model
)

// Main runs the simulate subcommand of warren-master with args (after "simulate") and returns its exit code:
// 0 on success, 2 for a usage, configuration, trace or model error, 1 when the outputs cannot be written. Errors
// are one line on stderr.
func Main(args []string, stdout, stderr io.Writer) int {
	const name = "warren-master simulate"
	fail := func(code int, err error) int {
		// Configuration errors list every bad key on its own line; one line reads better in a terminal.
		fmt.Fprintf(stderr, "%s: %s\n", name, strings.ReplaceAll(err.Error(), "\n", "; "))
		return code
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf config.Flags
	config.AddFlags(fs, &cf)
	// The simulator talks to no broker and logs nothing; the flags stay accepted so a master's command line works.
	_ = fs.MarkHidden("amqp-url")
	_ = fs.MarkHidden("log-level")
	m := DefaultModel()
	trace := fs.String("trace", "", "arrival trace: a seconds,rate CSV file, a loadgen timeseries.csv, or a shipped trace name (see --list)")
	list := fs.Bool("list", false, "list the shipped traces and exit")
	pool := fs.String("pool", "filter", "pool to simulate (its master.pools settings apply; also picks a loadgen trace's pool)")
	fs.Float64Var(&m.Capacity, "capacity", m.Capacity, "C_true: events/s one simulated worker really processes")
	fs.IntVar(&m.Slots, "slots", m.Slots, "handler slots (concurrency) per simulated worker")
	fs.DurationVar(&m.SpawnDelay, "spawn-delay", m.SpawnDelay, "time from the decision to start a worker until it serves (process ~500ms, docker ~1.5s)")
	fs.DurationVar(&m.Grace, "grace", 0, "most time a retiring worker finishes what it holds (default: the pool's grace)")
	fs.IntVar(&m.Prefetch, "prefetch", 0, "most deliveries a worker holds (default: amqp.prefetch)")
	poisson := fs.Bool("poisson", false, "Poisson arrivals (default: deterministic fluid)")
	fs.Uint64Var(&m.Seed, "seed", m.Seed, "seed of the Poisson arrivals")
	fs.DurationVar(&m.Step, "step", DefaultStep, "simulation time step")
	fs.DurationVar(&m.Drain, "drain", DefaultDrain, "most time simulated after the trace to drain the queue")
	out := fs.String("out", "", "write timeseries.csv and plot.png into this directory")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s --trace FILE|NAME [flags]\n\nReplays an arrival trace through the master's scaling code on a simulated clock.\n\n%s",
			name, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		return fail(exitUsage, err)
	}
	switch {
	case *list:
		for _, n := range TraceNames() {
			fmt.Fprintf(stdout, "%-16s %s\n", n, TraceDescription(n))
		}
		return exitOK
	case fs.NArg() > 0:
		return fail(exitUsage, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	case *trace == "":
		return fail(exitUsage, errors.New("--trace is required: a CSV file or a shipped trace name (--list shows them)"))
	case fs.Changed("seed") && !*poisson:
		return fail(exitUsage, errors.New("--seed only applies with --poisson"))
	}
	if *poisson {
		m.Arrivals = Poisson
	}
	cfg, err := config.Load(cf)
	if err != nil {
		return fail(exitUsage, err)
	}
	tr, err := OpenTrace(*trace, *pool)
	if err != nil {
		return fail(exitUsage, err)
	}
	res, err := Run(cfg, *pool, tr, m)
	if err != nil {
		return fail(exitUsage, err)
	}
	fmt.Fprint(stdout, Summary(tr, res))
	if *out != "" {
		files, err := WriteOutputs(*out, tr, res)
		for _, f := range files {
			fmt.Fprintf(stdout, "wrote %s\n", f)
		}
		if err != nil {
			return fail(exitFail, err)
		}
	}
	return exitOK
}

// Summary is what the subcommand prints: what was simulated, the result table, the events and every step-up's
// reaction.
func Summary(tr Trace, r Result) string {
	var b strings.Builder
	m := r.Model
	fmt.Fprintf(&b, "trace %s: %v, peak %.0f ev/s; pool %s; C_true %.0f ev/s, %d slots, spawn delay %v, %s arrivals\n\n",
		r.Trace, tr.End, tr.Peak(), r.Pool, m.Capacity, m.Slots, m.SpawnDelay, m.Arrivals)
	b.WriteString(r.String())
	fmt.Fprintf(&b, "\nevents: %.0f arrived, %.0f served, %.0f lost; drained in %v; last C %.1f ev/s\n",
		r.Arrived, r.Served, r.Lost, r.Drain, r.LastCapacity)
	for _, x := range r.Reactions {
		state := "reached"
		if !x.Reached {
			state = "NOT reached"
		}
		fmt.Fprintf(&b, "step at %v: %.0f → %.0f ev/s needs %d workers: %s %.2fs after the step, %.2fs after the first evaluation\n",
			x.At, x.From, x.To, x.Needed, state, x.FromStep.Seconds(), x.FromEvaluation.Seconds())
	}
	return b.String()
}
