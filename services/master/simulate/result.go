package simulate

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/warren-mq/warren/loadgen/timeseries"
)

// Reaction is how fast the pool caught up with one step-up of the trace.
type Reaction struct {
	// At is when the rate stepped up, from From to To events per second.
	At       time.Duration
	From, To float64
	// Needed is the fewest workers that keep up with To: ceil(To / C_true).
	Needed int
	// Reached says whether Needed workers were serving before the rate fell below To again.
	Reached bool
	// FromStep is the time from the step until Needed workers were serving (or until the rate fell below To).
	// FromEvaluation is the same from the first evaluation after the step, leaving out the up to one
	// master.interval the master has to wait before it can see the step at all.
	FromStep, FromEvaluation time.Duration
}

// Result is what one simulation measured.
type Result struct {
	// Trace, Pool and Policy say what was simulated; Policy is the formula, target utilization and capacity
	// setting. Model is the model used, with defaults filled in.
	Trace, Pool, Policy string
	Model               Model
	// Start is time zero of the samples; Duration the trace's length.
	Start    time.Time
	Duration time.Duration
	// WorkerSeconds is ∫ workers alive dt over the trace (starting and retiring workers included);
	// OracleSeconds is what a clairvoyant pool with no start-up delay would spend (see
	// Trace.OracleWorkerSeconds); Ratio is the first over the second.
	WorkerSeconds, OracleSeconds, Ratio float64
	// DrainWorkerSeconds is ∫ workers alive dt after the trace, while the queue drained; Drain is how long that
	// took.
	DrainWorkerSeconds float64
	Drain              time.Duration
	// Changes counts the evaluations within the trace that changed the pool's size (desired ≠ current);
	// ChangesAfterSettle those after its first 30 s.
	Changes, ChangesAfterSettle int
	// WaitP50, WaitP99 and WaitMax are the queue waits of the events (arrival until service starts), weighted
	// by event, in whole simulation steps.
	WaitP50, WaitP99, WaitMax time.Duration
	// Arrived and Served count events (fractional with fluid arrivals); Lost is what was still queued when the
	// drain bound ran out.
	Arrived, Served, Lost float64
	// LastCapacity is the C the master used in its last evaluation within the trace.
	LastCapacity float64
	// Reactions are the trace's step-ups (the rate at least doubling, asking for more workers) and how fast
	// the pool caught up with each.
	Reactions []Reaction
	// Samples are one per evaluation, as loadgen records the master's status.
	Samples []timeseries.Sample
}

// WorstReaction returns the slowest reaction (one not reached counts as slowest), and false when the trace has
// no step-up.
func (r Result) WorstReaction() (Reaction, bool) {
	if len(r.Reactions) == 0 {
		return Reaction{}, false
	}
	worst := r.Reactions[0]
	for _, x := range r.Reactions[1:] {
		if (!x.Reached && worst.Reached) || (x.Reached == worst.Reached && x.FromStep > worst.FromStep) {
			worst = x
		}
	}
	return worst, true
}

// String returns the result as a one-row table (see Table).
func (r Result) String() string { return Table(r) }

// Table formats results one row each under a header: worker-seconds against the oracle, changes of the pool's
// size (in all and after the first 30 s), waits, lost events and the slowest reaction to a step-up.
func Table(results ...Result) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\tpolicy\tworker-s\toracle\tratio\tchanges\tafter 30s\tp50 wait\tp99 wait\tmax wait\tlost\treaction\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%.2f\t%d\t%d\t%s\t%s\t%s\t%.0f\t%s\t\n", r.Trace, r.Policy, r.WorkerSeconds,
			r.OracleSeconds, r.Ratio, r.Changes, r.ChangesAfterSettle, secs(r.WaitP50), secs(r.WaitP99), secs(r.WaitMax),
			r.Lost, reaction(r))
	}
	tw.Flush()
	return b.String()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// reaction formats the slowest reaction as "from the step / from the first evaluation after it".
func reaction(r Result) string {
	x, ok := r.WorstReaction()
	switch {
	case !ok:
		return "-"
	case !x.Reached:
		return fmt.Sprintf("never@%.0fs", x.At.Seconds())
	}
	return fmt.Sprintf("%s/%s@%.0fs", secs(x.FromStep), secs(x.FromEvaluation), x.At.Seconds())
}
