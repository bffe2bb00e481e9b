package simulate

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/command"
)

// Command returns warren-master's simulate subcommand. It takes the pool's settings from p's configuration
// (the global --config and --set) and dials nothing. Its exit status is 0 on success, 2 for a usage,
// configuration, trace or model error, and 1 when the outputs cannot be written.
func Command(p *command.Program) *cobra.Command {
	m := DefaultModel()
	var (
		trace, pool, out string
		list, poisson    bool
	)
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE|NAME",
		Short: "Replay an arrival trace through the master's scaling code on a simulated clock, with no broker",
		Long: `Replays an arrival trace through the master's real scaling code on a simulated clock, against a queue
and a pool of simulated workers that each serve --capacity events/s from --spawn-delay after the master
starts them. It prints what was simulated, the result table (worker-seconds against an oracle that knows
the load, changes of the pool's size, waits, lost events), the event counts and how fast each step-up was
met; --out also writes timeseries.csv and plot.png, as loadgen does.

A trace is a seconds,rate CSV file, a loadgen timeseries.csv, or a shipped trace (--list). The pool's
master.pools settings come from the configuration (--config, --set, WARREN_* variables). It dials no
broker and logs nothing, so --amqp-url and --log-level change nothing.

Exit status: 0 on success, 1 when the outputs cannot be written, 2 for a usage, configuration, trace or
model error.`,
		Example: `  warren-master simulate --list
  warren-master simulate --trace step-10x --spawn-delay 1.5s
  warren-master simulate --trace out/burst/timeseries.csv --set master.pools.filter.target_utilization=0.7 --out out/sim`,
		Args: command.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stdout := cmd.OutOrStdout()
			switch {
			case list:
				for _, n := range TraceNames() {
					fmt.Fprintf(stdout, "%-16s %s\n", n, TraceDescription(n))
				}
				return nil
			case trace == "":
				return command.Usagef("--trace is required: a CSV file or a shipped trace name (--list shows them)")
			case cmd.Flags().Changed("seed") && !poisson:
				return command.Usagef("--seed only applies with --poisson")
			}
			if poisson {
				m.Arrivals = Poisson
			}
			cfg, err := p.Config()
			if err != nil {
				return err
			}
			tr, err := OpenTrace(trace, pool)
			if err != nil {
				return &command.UsageError{Err: err}
			}
			res, err := Run(cfg, pool, tr, m)
			if err != nil {
				return &command.UsageError{Err: err}
			}
			fmt.Fprint(stdout, Summary(tr, res))
			if out != "" {
				files, err := WriteOutputs(out, tr, res)
				for _, f := range files {
					fmt.Fprintf(stdout, "wrote %s\n", f)
				}
				if err != nil {
					return &command.ExitError{Code: command.ExitFail, Err: err}
				}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&trace, "trace", "", "arrival trace: a seconds,rate CSV file, a loadgen timeseries.csv, or a shipped trace name (see --list)")
	fs.BoolVar(&list, "list", false, "list the shipped traces and exit")
	fs.StringVar(&pool, "pool", "filter", "pool to simulate (its master.pools settings apply; also picks a loadgen trace's pool)")
	fs.Float64Var(&m.Capacity, "capacity", m.Capacity, "C_true: events/s one simulated worker really processes")
	fs.IntVar(&m.Slots, "slots", m.Slots, "handler slots (concurrency) per simulated worker")
	fs.DurationVar(&m.SpawnDelay, "spawn-delay", m.SpawnDelay, "time from the decision to start a worker until it serves (process ~500ms, docker ~1.5s)")
	fs.DurationVar(&m.Grace, "grace", 0, "most time a retiring worker finishes what it holds (default: the pool's grace)")
	fs.IntVar(&m.Prefetch, "prefetch", 0, "most deliveries a worker holds (default: amqp.prefetch)")
	fs.BoolVar(&poisson, "poisson", false, "Poisson arrivals (default: deterministic fluid)")
	fs.Uint64Var(&m.Seed, "seed", m.Seed, "seed of the Poisson arrivals")
	fs.DurationVar(&m.Step, "step", DefaultStep, "simulation time step")
	fs.DurationVar(&m.Drain, "drain", DefaultDrain, "most time simulated after the trace to drain the queue")
	fs.StringVar(&out, "out", "", "write timeseries.csv and plot.png into this directory")
	return cmd
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
