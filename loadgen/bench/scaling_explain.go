package bench

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/warren-mq/warren/services/master/scaler"
)

// The explanations below read causes off what a run recorded; they say what the data shows and no more.

// excessWords says why workers above the oracle were running, by the reason of the decision that set them.
var excessWords = map[string]string{
	reasonStart:                  "came before the master's first evaluation of the load",
	reasonMin:                    "were the pool's minimum of one worker while nothing was offered (the oracle has no minimum)",
	scaler.ReasonHoldStabilizing: "were kept after a fall in load while the stabilization window ran",
	scaler.ReasonHoldRateLimited: "were kept by the scale-down rate limit (scale_down_rate)",
	scaler.ReasonHoldDeadBand:    "were kept within the dead band",
	scaler.ReasonScaleDown:       "followed scale-downs that stopped above the oracle (stabilization, dead band or rate limit)",
	scaler.ReasonScaleUp:         "were the formula's own sizing (scale_up)",
	scaler.ReasonHold:            "were the formula's own sizing (hold)",
	scaler.ReasonAtMin:           "were the pool's minimum of one worker (at_min)",
	scaler.ReasonAtMax:           "were the pool's max (at_max)",
	scaler.ReasonBelowMin:        "replaced a missing worker (below_min)",
	scaler.ReasonInvalidInput:    "were kept while the master could not use its measurements (invalid_input)",
	scaler.ReasonAboveMax:        "were above the pool's max (above_max)",
	"":                           "followed decisions without a reason",
}

// deficitWords says why the pool had fewer workers than the oracle, by the same reasons.
var deficitWords = map[string]string{
	reasonStart:                  "before the master's first evaluation of the load",
	scaler.ReasonScaleUp:         "after scale-ups that had not reached the oracle's size yet (growth per evaluation is capped by max_step, or the formula asked for fewer)",
	scaler.ReasonAtMax:           fmt.Sprintf("at the pool's max of %d workers", poolMax),
	scaler.ReasonHoldDeadBand:    "held within the dead band below the need",
	scaler.ReasonHold:            "when the formula asked for no more (its λ or C lagging a rise in load)",
	scaler.ReasonAtMin:           "at the pool's minimum while the formula asked for no more (its λ lagging a rise in load)",
	scaler.ReasonScaleDown:       "after scale-downs below the need of the next seconds",
	scaler.ReasonHoldStabilizing: "while holding after a fall in load",
	scaler.ReasonBelowMin:        "while a missing worker was replaced (below_min)",
}

// workerSecs writes worker-seconds with a decimal when they are few, as in a short run.
func workerSecs(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return num(v)
}

// shares names the largest parts of buckets (at least a tenth of the total each, at most three), largest
// first, with the words for each.
func shares(buckets map[string]float64, words map[string]string) string {
	total := 0.0
	for _, v := range buckets {
		total += v
	}
	keys := slices.SortedFunc(maps.Keys(buckets), func(a, b string) int {
		return cmp.Or(cmp.Compare(buckets[b], buckets[a]), cmp.Compare(a, b))
	})
	var parts []string
	for i, k := range keys {
		v := buckets[k]
		if i >= 3 || (i > 0 && v < total/10) || v <= 0 {
			break
		}
		w, ok := words[k]
		if !ok {
			w = "followed decisions with reason " + k
		}
		parts = append(parts, fmt.Sprintf("%s worker-s (%.0f %%) %s", workerSecs(v), 100*v/total, w))
	}
	return strings.Join(parts, "; ")
}

func sum(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// meanRate is the mean send rate over the trace.
func (r ScalingRun) meanRate() float64 {
	if r.Length <= 0 {
		return 0
	}
	return r.Metrics.Offered / r.Length.Seconds()
}

// whyRatio explains worker-seconds above the bar: where the excess over the oracle went, what the formula
// provisions by design, and how far the C it sized with was from C_true.
func whyRatio(r ScalingRun, cTrue float64) string {
	m := r.Metrics
	if m.OracleSeconds == 0 {
		return "loadgen's samples show nothing sent within the trace, so there is no oracle to compare with."
	}
	l := r.Length.Seconds()
	s := []string{fmt.Sprintf("The pool averaged %.2f workers where the oracle needed %.2f.", m.WorkerSeconds/l, m.OracleSeconds/l)}
	if ex := sum(m.Excess); ex > 0 {
		s = append(s, fmt.Sprintf("Of the %s worker-s above the oracle's size: %s.", workerSecs(ex), shares(m.Excess, excessWords)))
	}
	if f := formulaSentence(r, cTrue); f != "" {
		s = append(s, f)
	}
	if c := capacitySentence(r, cTrue); c != "" {
		s = append(s, c)
	}
	return strings.Join(s, " ")
}

// formulaSentence says what the pool's formula provisions compared with the oracle, with the steady trace's
// numbers where there is one rate to quote.
func formulaSentence(r ScalingRun, cTrue float64) string {
	tr := r.tr()
	lambda := r.meanRate()
	oracle := oracleWorkers(lambda, cTrue)
	switch r.Formula {
	case scaler.FormulaSeed:
		s := fmt.Sprintf("The seed formula sizes the pool for (B + λ·Tr)/C: with Tr = %s that is %.0f× the arrival rate over C, so "+
			"even with C = C_true it provisions %.0f× what the oracle does.", secs(tr), tr.Seconds(), tr.Seconds())
		if r.Trace == TraceSteady && lambda > 0 {
			s += fmt.Sprintf(" At %s ev/s it asks ceil(%s / %s) = %d workers with the C it used and %d with C_true, where the oracle needs %d.",
				num(lambda), num(lambda*tr.Seconds()), num(r.Metrics.MeanCapacity),
				int(math.Ceil(lambda*tr.Seconds()/r.Metrics.MeanCapacity-1e-9)), int(math.Ceil(lambda*tr.Seconds()/cTrue-1e-9)), oracle)
		}
		return s
	case scaler.FormulaUtilization:
		u := r.Utilization
		if !(u > 0) {
			u = scaler.DefaultTargetUtilization
		}
		s := fmt.Sprintf("The utilization formula plans each worker at u = %.0f %% of C, %.2f× what the oracle provisions before rounding.",
			100*u, 1/u)
		if r.Trace == TraceSteady && lambda > 0 {
			s += fmt.Sprintf(" At %s ev/s it asks ceil(%s / (%.1f · %s)) = %d workers with C_true, where the oracle needs %d.",
				num(lambda), num(lambda), u, num(cTrue), int(math.Ceil(lambda/(u*cTrue)-1e-9)), oracle)
		}
		return s
	}
	return ""
}

// capacitySentence says how far the C the master sized with was from C_true, when it was further than the
// convergence bar allows.
func capacitySentence(r ScalingRun, cTrue float64) string {
	c := r.Metrics.MeanCapacity
	e := relErr(c, cTrue)
	switch {
	case e < -TargetCapacityError:
		return fmt.Sprintf("It sized with a C of %s ev/s on average, %.0f %% below C_true = %s ev/s, so it planned each worker "+
			"for less than it does and ran more of them.", num(c), -100*e, num(cTrue))
	case e > TargetCapacityError:
		return fmt.Sprintf("It sized with a C of %s ev/s on average, %.0f %% above C_true = %s ev/s, so it planned fewer workers "+
			"than the load needed and left the backlog term to catch up.", num(c), 100*e, num(cTrue))
	}
	return ""
}

// whyP99 explains a p99 latency above the bar: how large the backlog grew and why the pool was short of the
// oracle's size.
func whyP99(r ScalingRun, cTrue float64) string {
	m := r.Metrics
	var s []string
	if m.PeakBacklog > 0 && m.PeakWorkers > 0 {
		s = append(s, fmt.Sprintf("The backlog peaked at %s events %s into the trace, with %d workers running: about %s of work for them at C_true.",
			num(float64(m.PeakBacklog)), secs(m.PeakBacklogAt), m.PeakWorkers, secsF(float64(m.PeakBacklog)/(float64(m.PeakWorkers)*cTrue))))
	}
	if m.AtMax > 0 {
		most := float64(poolMax) * cTrue
		rel := "within"
		if r.PlannedPeak > most {
			rel = "above"
		}
		s = append(s, fmt.Sprintf("%d evaluations wanted more than the pool's max of %d workers; the trace peaks at %s ev/s, %s the %s ev/s that %d workers at C_true serve.",
			m.AtMax, poolMax, num(r.PlannedPeak), rel, num(most), poolMax))
	}
	if d := sum(m.Deficit); d > 0 {
		s = append(s, fmt.Sprintf("The pool was below the oracle's size for %s worker-s: %s.", workerSecs(d), shares(m.Deficit, deficitWords)))
	}
	if c := capacitySentence(r, cTrue); c != "" {
		s = append(s, c)
	}
	if len(s) == 0 {
		return "The samples show neither a backlog nor a shortfall of workers that would explain it; the wait is elsewhere " +
			"(the machine's load is in the section's header)."
	}
	return strings.Join(s, " ")
}

// whyChanges lists the changes after the settle time, each with what moved the need most since the change
// before it.
func whyChanges(r ScalingRun) string {
	log := r.Metrics.Log
	var list []string
	late := 0
	for i, c := range log {
		if c.After <= r.Settle {
			continue
		}
		if late++; late > 6 {
			continue
		}
		item := fmt.Sprintf("at %s %d → %d (%s; λ %s ev/s, backlog %s, C %s)", secs(c.After), c.From, c.To, c.Reason,
			num(c.Lambda), num(float64(c.Backlog)), num(c.Capacity))
		if i > 0 {
			item += ": " + needDriver(log[i-1], c, r.tr())
		} else {
			item += ": the first change of the trace"
		}
		list = append(list, item)
	}
	if late == 0 {
		return ""
	}
	s := fmt.Sprintf("The master changed the pool %s after the first %s: %s", times(late), secs(r.Settle), strings.Join(list, "; "))
	if late > len(list) {
		s += fmt.Sprintf("; and %d more", late-len(list))
	}
	return s + "."
}

// needDriver names what moved the need most between two decisions. Both formulas ask for workers in
// proportion to (λ + B/Tr) / C, so the load term and C are compared by how far each moved, as ratios.
func needDriver(prev, cur PoolChange, tr time.Duration) string {
	load := func(c PoolChange) float64 { return c.Lambda + float64(c.Backlog)/tr.Seconds() }
	since := "since the change at " + secs(prev.After)
	loadMove := math.Abs(math.Log((load(cur) + 1) / (load(prev) + 1)))
	capMove := math.Abs(math.Log(max(cur.Capacity, 1) / max(prev.Capacity, 1)))
	if capMove > loadMove {
		return fmt.Sprintf("C moved from %s to %s ev/s %s", num(prev.Capacity), num(cur.Capacity), since)
	}
	dl, db := cur.Lambda-prev.Lambda, float64(cur.Backlog-prev.Backlog)/tr.Seconds()
	if math.Abs(db) > math.Abs(dl) {
		return fmt.Sprintf("the backlog %s from %s to %s %s", moved(db), num(float64(prev.Backlog)), num(float64(cur.Backlog)), since)
	}
	return fmt.Sprintf("λ %s from %s to %s ev/s %s", moved(dl), num(prev.Lambda), num(cur.Lambda), since)
}

func moved(d float64) string {
	if d < 0 {
		return "fell"
	}
	return "rose"
}

// times writes a count of occurrences in words.
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// whyLost says how many events went unanswered and what the pool looked like when the trace ended.
func whyLost(r ScalingRun) string {
	m := r.Metrics
	return fmt.Sprintf("%d of the %s events sent had no result when loadgen's drain ended; the last status of the trace showed a backlog "+
		"of %s events with %d workers. The data does not show which events these were or where they stopped.",
		r.Report.Lost, num(float64(r.Report.Sent)), num(float64(m.EndBacklog)), m.EndWorkers)
}

// whyConvergence explains a learned capacity that missed the bar.
func whyConvergence(c Convergence) string {
	var s []string
	for i, p := range c.First {
		if p.Source == scaler.SourceAutoInitial {
			s = append(s, fmt.Sprintf("Evaluation %d, %s after the load started, came before the workers' reports carried the %d processed "+
				"events the learner needs within its %s window, so the initial guess of %s ev/s was still in use.",
				i+1, secs(p.After), scaler.DefaultMinEvents, secs(scaler.DefaultCapacityWindow), num(scaler.DefaultInitialCapacity)))
			break
		}
	}
	switch {
	case c.Within == 0:
		lo, hi := relErr(c.Min, c.CTrue), relErr(c.Max, c.CTrue)
		s = append(s, fmt.Sprintf("No evaluation of the trace came within ±%.0f %%: over its last %s C stayed between %s and %s ev/s (%+.0f %% to %+.0f %%).",
			100*TargetCapacityError, secs(c.Window), num(c.Min), num(c.Max), 100*lo, 100*hi))
		if lo > 0 {
			s = append(s, "The learner divides handler slots by busy handler time per event (Little's law); a learned C steadily above "+
				"a saturated worker's throughput says that much of each event's time is spent outside the handlers' measured busy "+
				"time (delivery, acknowledgement, result publishing), or that the worker cannot keep all its slots busy when saturated.")
		} else if hi < 0 {
			s = append(s, "The learner divides handler slots by busy handler time per event (Little's law); a learned C steadily below "+
				"a saturated worker's throughput says the handlers were busy longer per event at this load than when saturated "+
				"(for instance waiting longer on result confirms with more workers sharing the broker).")
		}
	case c.Within > TargetCapacityEvaluations:
		s = append(s, fmt.Sprintf("C first came within ±%.0f %% at evaluation %d.", 100*TargetCapacityError, c.Within))
	}
	return strings.Join(s, " ")
}

// secsF writes seconds given as a float like secs does durations.
func secsF(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0f ms", v*1000)
	}
	return fmt.Sprintf("%.1f s", v)
}
