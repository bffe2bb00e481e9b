package bench

import (
	"fmt"
	"slices"
	"strings"
)

// run returns the result of policy key on trace, and false when it did not run.
func (r ScalingResult) run(policy, trace string) (ScalingRun, bool) {
	for _, run := range r.Runs {
		if run.Policy.Key == policy && run.Trace == trace {
			return run, true
		}
	}
	return ScalingRun{}, false
}

// scalingSummary writes the scaling benchmark's rows of the summary table: one per policy, with every bar
// of every trace, and one for the capacity convergence.
func (s Suite) scalingSummary(b *strings.Builder) {
	sc := s.Scaling
	if sc == nil || sc.Calibration.CTrue == 0 {
		fmt.Fprintf(b, "| scaling quality | failed: %v | see below | — |\n", s.ScalingErr)
		return
	}
	cTrue := sc.Calibration.CTrue
	var targets []string
	if slices.Contains(sc.Config.Traces, TraceSteady) {
		targets = append(targets, fmt.Sprintf("steady ≤ %.2f× and no change after %s", TargetSteadyRatio, secs(sc.Config.Settle)))
	}
	if slices.ContainsFunc(sc.Config.Traces, func(t string) bool { return t != TraceSteady }) {
		others := "each trace"
		if len(targets) > 0 {
			others = "the others"
		}
		targets = append(targets, fmt.Sprintf("%s ≤ %.1f× and p99 ≤ Tr + %s", others, TargetTraceRatio, secs(TargetP99Slack)))
	}
	target := strings.Join(append(targets, "lost 0"), "; ")
	for _, pol := range sc.Config.Policies {
		var ratios, p99s, lost, missed []string
		for _, tr := range sc.Config.Traces {
			r, ok := sc.run(pol.Key, tr)
			switch {
			case !ok:
				ratios, p99s, lost = append(ratios, "—"), append(p99s, "—"), append(lost, "—")
				continue
			case r.Err != nil:
				ratios, p99s, lost = append(ratios, "failed"), append(p99s, "—"), append(lost, "—")
				missed = append(missed, tr+" failed")
				continue
			}
			ratios = append(ratios, fmt.Sprintf("%.2f×", r.Metrics.Ratio))
			p99s = append(p99s, secs(r.Report.P99))
			lost = append(lost, fmt.Sprint(r.Report.Lost))
			for _, br := range r.Bars(cTrue) {
				if !br.Met {
					missed = append(missed, tr+" "+br.Name)
				}
			}
		}
		v := "met"
		if len(missed) > 0 {
			v = "**missed**: " + strings.Join(missed, ", ")
		}
		fmt.Fprintf(b, "| scaling, %s: worker-s ÷ oracle on %s | %s; p99 %s; lost %s | %s | %s |\n", pol.Name,
			strings.Join(sc.Config.Traces, " / "), strings.Join(ratios, " / "), strings.Join(p99s, " / "),
			strings.Join(lost, " / "), target, v)
	}
	if c := sc.Convergence(); c != nil {
		var vals []string
		for _, p := range c.First {
			vals = append(vals, fmt.Sprintf("%s (%+.0f %%)", num(p.Value), 100*relErr(p.Value, cTrue)))
		}
		fmt.Fprintf(b, "| scaling: learned C vs C_true = %s ev/s (new on steady) | evaluations 1–%d: %s | ±%.0f %% within %d evaluations | %s |\n",
			num(cTrue), len(c.First), strings.Join(vals, ", "), 100*TargetCapacityError, TargetCapacityEvaluations, verdict(c.Met()))
	}
	if s.ScalingErr != nil {
		fmt.Fprintf(b, "| scaling quality | failed in part: %v | | — |\n", s.ScalingErr)
	}
}

// scaling writes the scaling benchmark's section: how it measures, the table of runs with their bars, the
// capacity convergence, and why each missed bar was missed.
func (s Suite) scaling(b *strings.Builder) {
	sc := s.Scaling
	cfg, cal := sc.Config, sc.Calibration
	fmt.Fprintf(b, "### Scaling quality\n\n")
	fmt.Fprintf(b, "A real master (process runtime, in a fresh vhost per run) scales filter workers that each sleep 10 ms per event "+
		"with 5 handlers (`WARREN_FILTER_WORK_DELAY=10ms`, `WARREN_FILTER_CONCURRENCY=5`) while loadgen plays a trace. "+
		"**C_true = %s ev/s** is one such worker's throughput while saturated: a closed loop keeps %s events waiting for it, "+
		"and its results are counted over %s after %s of warm-up (%s–%s per second).\n\n",
		num(cal.CTrue), num(float64(cfg.Calibration.Backlog)), secs(cal.Window), secs(cfg.Calibration.Warmup),
		num(float64(cal.MinSecond)), num(float64(cal.MaxSecond)))
	traces := map[string]string{
		TraceSteady: fmt.Sprintf("**steady** %s ev/s for %s", num(cfg.SteadyRate), secs(cfg.Steady)),
		TraceClientSteps: "**client-steps** (`loadgen/scenarios/client-steps.yaml`: 1, 2, 3, 1, 2, 0, 1 publishers of 300 ev/s, " +
			"changing at 0, 6, 10, 20, 30, 40 and 50 s)",
		TracePoissonBursts: "**poisson-bursts** (`loadgen/scenarios/poisson-bursts.yaml`: 200 ev/s with bursts of 5–10 s at " +
			"60–90 % of 8 × 450 ev/s at exponential gaps, 3 min)",
	}
	policies := map[string]string{
		"new":          "**new** (the pool's defaults, as in `configs/warren.yaml`: formula utilization, capacity auto)",
		"seed-1000":    "**seed, C=1000** (`formula: seed`, `capacity: \"1000\"`: the system Warren grew from)",
		"seed-learned": "**seed, learned C** (`formula: seed`, `capacity: auto`)",
	}
	var ts, ps []string
	for _, t := range cfg.Traces {
		ts = append(ts, traces[t])
	}
	for _, p := range cfg.Policies {
		ps = append(ps, policies[p.Key])
	}
	fmt.Fprintf(b, "Traces: %s. Policies: %s.", strings.Join(ts, "; "), strings.Join(ps, "; "))
	if cfg.Scale != 1 {
		fmt.Fprintf(b, " Every trace's steps ran at %.2g× their length (`--scale`).", cfg.Scale)
	}
	b.WriteString("\n\n")
	fmt.Fprintf(b, "*Worker-s* is ∫ running workers dt over the trace, from the master's status samples as loadgen received them "+
		"(one per evaluation): over each window the pool had the workers the closing status counts, and after the last status the "+
		"count its decision set. *Oracle* is ∫ ceil(offered rate / C_true) dt with loadgen's own send rate over the same "+
		"windows: the fewest workers that keep up at every moment, with no start-up delay, headroom or minimum. "+
		"*Changes* counts the decisions that changed the desired worker count during the trace (*after %s*: those later). "+
		"p50/p99 are loadgen's end-to-end latencies, *lost* the events without a result after its drain, *C at end* the "+
		"capacity of the master's last status within the trace, with its source.\n\n", secs(cfg.Settle))

	b.WriteString("| trace | policy | worker-s | oracle | ratio | changes | after settle | p50 | p99 | lost | C at end |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	var misses []string
	for _, r := range sc.Runs {
		if r.Err != nil {
			fmt.Fprintf(b, "| %s | %s | failed: %v | | | | | | | | |\n", r.Trace, r.Policy.Name, r.Err)
			continue
		}
		m := r.Metrics
		bars := r.Bars(cal.CTrue)
		cell := func(name, value string) string {
			br, ok := bar(bars, name)
			if !ok {
				return value
			}
			if br.Name == "lost" {
				return fmt.Sprintf("%s (%s)", value, verdict(br.Met))
			}
			return fmt.Sprintf("%s (%s, %s)", value, br.Target, verdict(br.Met))
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s (%s) |\n", r.Trace, r.Policy.Name,
			workerSecs(m.WorkerSeconds), workerSecs(m.OracleSeconds), cell("ratio", fmt.Sprintf("%.2f×", m.Ratio)), m.Changes,
			cell("changes", fmt.Sprint(m.ChangesAfterSettle)), secs(r.Report.P50), cell("p99", secs(r.Report.P99)),
			cell("lost", fmt.Sprint(r.Report.Lost)), num(r.EndCapacity), orUnknown(r.EndSource))
		for _, br := range bars {
			if !br.Met {
				misses = append(misses, fmt.Sprintf("- **%s on %s, %s** (%s): %s", r.Policy.Name, r.Trace, br.Name, br.Target, br.Why))
			}
		}
	}
	b.WriteString("\n")

	if c := sc.Convergence(); c != nil {
		fmt.Fprintf(b, "**Capacity convergence** (new on steady) against C_true = %s ev/s:\n\n", num(cal.CTrue))
		b.WriteString("| evaluation | after the load started | C | source | reports | error |\n|---|---|---|---|---|---|\n")
		for i, p := range c.First {
			fmt.Fprintf(b, "| %d | %s | %s | %s | %d | %+.0f %% |\n", i+1, secs(p.After), num(p.Value), orUnknown(p.Source), p.Reports,
				100*relErr(p.Value, cal.CTrue))
		}
		within := "never"
		if c.Within > 0 {
			within = fmt.Sprintf("first at evaluation %d", c.Within)
		}
		fmt.Fprintf(b, "\nOver the last %s of the trace C stayed between %s and %s ev/s (%+.0f %% to %+.0f %%). Within ±%.0f %%: %s; "+
			"the bar (by evaluation %d) is %s.\n\n", secs(c.Window), num(c.Min), num(c.Max), 100*relErr(c.Min, cal.CTrue),
			100*relErr(c.Max, cal.CTrue), 100*TargetCapacityError, within, TargetCapacityEvaluations, verdict(c.Met()))
		if !c.Met() {
			misses = append(misses, fmt.Sprintf("- **capacity convergence** (±%.0f %% within %d evaluations): %s",
				100*TargetCapacityError, TargetCapacityEvaluations, whyConvergence(*c)))
		}
	}

	if len(misses) == 0 {
		b.WriteString("Every bar was met.\n\n")
	} else {
		b.WriteString("**Missed bars, and their causes as far as the data shows:**\n\n")
		b.WriteString(strings.Join(misses, "\n"))
		b.WriteString("\n\n")
	}
	fmt.Fprintf(b, "Each run's plot, CSV and loadgen report are in `%s/<policy>-<trace>/` (policies %s).\n\n", cfg.OutDir,
		strings.Join(policyKeysOf(cfg.Policies), ", "))
}

func policyKeysOf(ps []ScalingPolicy) []string {
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.Key)
	}
	return keys
}
