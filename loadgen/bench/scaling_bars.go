package bench

import (
	"fmt"
	"time"
)

// Bars of the scaling benchmark.
const (
	// TargetSteadyRatio bounds worker-seconds over the oracle's on the steady trace, where the right pool is
	// obvious and a policy should spend little more than it.
	TargetSteadyRatio = 1.25
	// TargetTraceRatio bounds the same on the traces whose load changes, where some lag costs worker-seconds.
	TargetTraceRatio = 1.5
	// TargetP99Slack is what the p99 latency may exceed the pool's drain time Tr by on those traces.
	TargetP99Slack = time.Second
	// defaultTr is the filter pool's drain time when no status said (configs/warren.yaml).
	defaultTr = 2 * time.Second
)

// Bar is one check of a scaling run: what it bounds, the bound, and whether the run kept it.
type Bar struct {
	// Name is the bar's column (ratio, changes, p99, lost); Target the bound as the table writes it.
	Name, Target string
	// Met says whether the run kept the bound.
	Met bool
	// Why explains, for a missed bar, the cause as far as the run's data shows it.
	Why string
}

// tr is the pool's drain time as its statuses said, or the default when none did.
func (r ScalingRun) tr() time.Duration {
	if r.Tr <= 0 {
		return defaultTr
	}
	return r.Tr
}

// p99Bar is the latency bound of the changing traces: the pool's Tr plus TargetP99Slack.
func (r ScalingRun) p99Bar() time.Duration { return r.tr() + TargetP99Slack }

// Bars returns the run's checks: on the steady trace no change after the settle time and worker-seconds
// within TargetSteadyRatio of the oracle; on the others within TargetTraceRatio and p99 within Tr plus
// TargetP99Slack; everywhere no event lost. A failed run has none.
func (r ScalingRun) Bars(cTrue float64) []Bar {
	if r.Err != nil {
		return nil
	}
	m := r.Metrics
	var bars []Bar
	ratio := TargetTraceRatio
	if r.Trace == TraceSteady {
		ratio = TargetSteadyRatio
		b := Bar{Name: "changes", Target: fmt.Sprintf("0 after %s", secs(r.Settle)), Met: m.ChangesAfterSettle == 0}
		if !b.Met {
			b.Why = whyChanges(r)
		}
		bars = append(bars, b)
	}
	b := Bar{Name: "ratio", Target: fmt.Sprintf("≤ %.2f×", ratio), Met: m.OracleSeconds > 0 && m.Ratio <= ratio}
	if !b.Met {
		b.Why = whyRatio(r, cTrue)
	}
	bars = append(bars, b)
	if r.Trace != TraceSteady {
		b := Bar{Name: "p99", Target: "≤ " + secs(r.p99Bar()), Met: r.Report.P99 <= r.p99Bar()}
		if !b.Met {
			b.Why = whyP99(r, cTrue)
		}
		bars = append(bars, b)
	}
	b = Bar{Name: "lost", Target: "0", Met: r.Report.Lost == 0}
	if !b.Met {
		b.Why = whyLost(r)
	}
	return append(bars, b)
}

// bar returns the run's bar called name, and false when the run has none.
func bar(bars []Bar, name string) (Bar, bool) {
	for _, b := range bars {
		if b.Name == name {
			return b, true
		}
	}
	return Bar{}, false
}
