package bench

import (
	"fmt"
	"strings"
	"time"
)

// Targets the suite checks.
const (
	// TargetRatio is the least share of the bare broker's throughput the one-worker pipeline should reach.
	TargetRatio = 0.70
	// TargetSpeedup is the least speedup of 8 workers over 1.
	TargetSpeedup = 6.5
	// TargetReactionProcess and TargetReactionDocker bound the reaction to a tenfold step.
	TargetReactionProcess = 4 * time.Second
	TargetReactionDocker  = 6 * time.Second
	// TargetMasterCores bounds the master's CPU at 20 000 events/s offered.
	TargetMasterCores = 0.05
	// TargetObservabilityCores bounds what the status server, metrics and dashboard add to the master's CPU at
	// 20 000 events/s offered, scraped every second with the dashboard open.
	TargetObservabilityCores = 0.01
)

// Suite is one run of the benchmark suite. A benchmark that failed has its error set instead of its result.
type Suite struct {
	// Machine is where the suite ran.
	Machine Machine
	// Took is how long the whole suite took.
	Took time.Duration
	// Stress is the stress benchmark's result, or StressErr why it failed.
	Stress    *StressResult
	StressErr error
	// Speedup is the speedup benchmark's result, or SpeedupErr why it failed.
	Speedup    *SpeedupResult
	SpeedupErr error
	// Reactions holds one result per runtime, and ReactionErr why the benchmark stopped early, if it did.
	Reactions   []ReactionResult
	ReactionErr error
	// Overhead is the master-overhead benchmark's result, or OverheadErr why it failed.
	Overhead    *OverheadResult
	OverheadErr error
	// Scaling is the scaling-quality benchmark's result, as far as it got, and ScalingErr what failed in it.
	Scaling    *ScalingResult
	ScalingErr error
}

// commitLabel names the commit measured, as a results.md heading gives it.
func (m Machine) commitLabel() string {
	commit := m.Commit
	if commit == "" {
		commit = "unknown"
	}
	if m.Dirty {
		commit += " (with uncommitted changes in tracked files)"
	}
	return commit
}

// sentence describes the machine and the broker on it, as every results.md section opens.
func (m Machine) sentence() string {
	return fmt.Sprintf("Machine: %d cores (%s), %.1f GiB RAM, Linux %s. RabbitMQ %s on Erlang %s, on the same machine. %s.",
		m.Cores, orUnknown(m.CPU), float64(m.Memory)/(1<<30), orUnknown(m.Kernel), orUnknown(m.RabbitMQ), orUnknown(m.Erlang), m.Go)
}

// Markdown renders the run as a dated section for results.md: a summary table with targets, then how each
// number was measured and the detail behind it.
func (s Suite) Markdown() string {
	var b strings.Builder
	m := s.Machine
	commit := m.commitLabel()
	fmt.Fprintf(&b, "## %s — commit %s\n\n", m.At.Format("2006-01-02 15:04 MST"), commit)
	fmt.Fprintf(&b, "%s\n", m.sentence())
	fmt.Fprintf(&b, "Load average when the suite started: %.2f (everything — broker, workers, master, harness and any other work on the machine — shares these cores). The suite took %s.\n\n",
		m.Load, s.Took.Round(time.Second))

	b.WriteString("| benchmark | measured | target | |\n|---|---|---|---|\n")
	if s.Stress != nil {
		st := s.Stress
		fmt.Fprintf(&b, "| stress: 1 worker end to end vs bare broker | %s vs %s ev/s = **%.0f %%** | ≥ %.0f %% | %s |\n",
			num(st.Pipeline.Throughput()), num(st.Baseline.Throughput()), 100*st.Ratio, 100*TargetRatio, verdict(st.Ratio >= TargetRatio))
	} else if s.StressErr != nil {
		fmt.Fprintf(&b, "| stress | failed: %v | ≥ %.0f %% | — |\n", s.StressErr, 100*TargetRatio)
	}
	if sp := s.Speedup; sp != nil && len(sp.Points) > 0 {
		last := sp.Points[len(sp.Points)-1]
		fmt.Fprintf(&b, "| speedup: %d workers vs 1 | %s vs %s ev/s = **%.2f×** | ≥ %.1f× | %s |\n", last.Workers,
			num(last.Throughput), num(sp.Points[0].Throughput), last.Speedup, TargetSpeedup, verdict(last.Speedup >= TargetSpeedup))
	} else if s.SpeedupErr != nil || s.Speedup != nil {
		fmt.Fprintf(&b, "| speedup | failed: %v | ≥ %.1f× | — |\n", s.SpeedupErr, TargetSpeedup)
	}
	for _, r := range s.Reactions {
		target := TargetReactionProcess
		if r.Runtime == "docker" {
			target = TargetReactionDocker
		}
		switch {
		case r.Skipped != "":
			fmt.Fprintf(&b, "| reaction, %s runtime | not measured: %s | ≤ %s | — |\n", r.Runtime, r.Skipped, secs(target))
		case r.Reaction == 0:
			fmt.Fprintf(&b, "| reaction, %s runtime | the target of %d workers was never reached | ≤ %s | missed |\n", r.Runtime, r.Target, secs(target))
		default:
			fmt.Fprintf(&b, "| reaction, %s runtime | **%s** to %d consuming workers; backlog drained at %s | ≤ %s | %s |\n",
				r.Runtime, secs(r.Reaction), r.Target, drained(r), secs(target), verdict(r.Reaction <= target))
		}
	}
	if s.ReactionErr != nil {
		fmt.Fprintf(&b, "| reaction | failed: %v | | — |\n", s.ReactionErr)
	}
	if o := s.Overhead; o != nil {
		fmt.Fprintf(&b, "| master CPU, %s ev/s offered (%s achieved) | **%.2f %%** of a core, RSS %.1f MiB | < %.0f %% | %s |\n",
			num(o.Offered), num(o.Sent), 100*o.MasterCores, float64(o.MasterRSS)/(1<<20), 100*TargetMasterCores,
			verdict(o.MasterCores < TargetMasterCores))
		if ob := o.Observed; ob != nil {
			fmt.Fprintf(&b, "| metrics + dashboard on the master (scraped every 1 s, dashboard open) | **+%.2f %%** of a core (%.2f %% in all), RSS %.1f MiB | < +%.0f %% | %s |\n",
				100*o.ObservabilityCores(), 100*ob.MasterCores, float64(ob.MasterRSS)/(1<<20), 100*TargetObservabilityCores,
				verdict(o.ObservabilityCores() < TargetObservabilityCores))
		}
	} else if s.OverheadErr != nil {
		fmt.Fprintf(&b, "| master overhead | failed: %v | < %.0f %% | — |\n", s.OverheadErr, 100*TargetMasterCores)
	}
	if s.Scaling != nil || s.ScalingErr != nil {
		s.scalingSummary(&b)
	}
	b.WriteString("\n")

	if s.Stress != nil {
		s.stress(&b)
	}
	if s.Speedup != nil {
		s.speedup(&b)
	}
	if len(s.Reactions) > 0 {
		s.reaction(&b)
	}
	if s.Overhead != nil {
		s.overhead(&b)
	}
	if s.Scaling != nil && s.Scaling.Calibration.CTrue > 0 {
		s.scaling(&b)
	}
	return b.String()
}

func (s Suite) stress(b *strings.Builder) {
	st := s.Stress
	c := st.Config
	fmt.Fprintf(b, "### Stress\n\n")
	fmt.Fprintf(b, "\"Maximum sustained\" here means: %d publishers, each on its own connection with publisher confirms, send %d-byte "+
		"persistent text events as fast as confirms allow while at most %s events are in the system (sent, not yet "+
		"completed), so queues stay short instead of growing without bound; throughput is the completions per second "+
		"from %s to %s of each %s run. The bare broker and the pipeline ran %d times each, interleaved with the "+
		"two diagnostics, and the table gives the mean. "+
		"The bare-broker baseline publishes to a quorum queue declared like `warren.filter.work` (delivery limit 5, "+
		"dead-lettering) and consumes it with manual acks, one per message, at prefetch %d — what a worker does, minus "+
		"the worker. The pipeline is the real path: `warren.filter` (fanout to the work queue and the master's count "+
		"queue) → one `warren-filter` with default settings (prefetch 200, 200 handlers, no work delay) → result "+
		"published with a confirm to `warren.results` → the harness, which counts.\n\n",
		c.Publishers, c.Size, num(float64(c.Window)), secs(c.Warmup), secs(c.Duration), secs(c.Duration), c.Rounds, c.Prefetch)
	b.WriteString("| variant | events/s per round | mean events/s | broker cores | filter cores | harness cores | broker CPU per event |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, v := range []Variant{st.Baseline, st.Pipeline, st.NoCount, st.WideFilter} {
		if len(v.Runs) == 0 {
			continue
		}
		var rounds []string
		for _, r := range v.Runs {
			rounds = append(rounds, num(r.Throughput))
		}
		filter := "—"
		if v.MeanCores("filter") > 0 {
			filter = fmt.Sprintf("%.2f", v.MeanCores("filter"))
		}
		perEvent := "—"
		if tp := v.Throughput(); tp > 0 && v.MeanCores("broker") > 0 {
			perEvent = fmt.Sprintf("%.0f µs", 1e6*v.MeanCores("broker")/tp)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %.2f | %s | %.2f | %s |\n", v.Name, strings.Join(rounds, ", "), num(v.Throughput()),
			v.MeanCores("broker"), filter, v.MeanCores("harness"), perEvent)
	}
	fmt.Fprintf(b, "\nRatio pipeline / baseline: %.0f %% (target ≥ %.0f %%). The diagnostics are not configurations the "+
		"ratio is computed from: the first unbinds the count queue from `warren.filter` in the benchmark's vhost, to "+
		"show what the master's arrival counting costs the broker; the second gives the worker as many handlers as "+
		"its prefetch, to show what each handler's wait for its result's confirm costs.\n\n", 100*st.Ratio, 100*TargetRatio)
}

func (s Suite) speedup(b *strings.Builder) {
	sp := s.Speedup
	c := sp.Config
	fmt.Fprintf(b, "### Speedup\n\n")
	fmt.Fprintf(b, "Each worker sleeps %s per event (`WARREN_FILTER_WORK_DELAY=%s`, I/O-like work) with %d handler(s) "+
		"(`WARREN_FILTER_CONCURRENCY=%d`), so one worker is work-bound at no more than %s events/s — far below what "+
		"the broker moves — and the curve shows how the pool scales, not the broker. Same closed-loop driver as the "+
		"stress test (%d publishers, %s events in the system per worker), %s runs measured after %s, a fresh vhost "+
		"and fresh worker processes per point.\n\n",
		secs(c.WorkDelay), c.WorkDelay, c.Concurrency, c.Concurrency, num(sp.Ideal), c.Publishers, num(float64(c.WindowPerWorker)),
		secs(c.Duration), secs(c.Warmup))
	b.WriteString("| workers | events/s | speedup | efficiency | per worker | broker cores |\n|---|---|---|---|---|---|\n")
	for _, p := range sp.Points {
		fmt.Fprintf(b, "| %d | %s | %.2f× | %.0f %% | %s/s | %.2f |\n", p.Workers, num(p.Throughput), p.Speedup,
			100*p.Efficiency, num(p.Throughput/float64(p.Workers)), p.BrokerCores)
	}
	b.WriteString("\n")
}

func (s Suite) reaction(b *strings.Builder) {
	fmt.Fprintf(b, "### Reaction\n\n")
	b.WriteString("A master with its default settings (evaluation every 2 s, capacity learned from the workers' " +
		"reports, max 8 workers, at most 4 added per evaluation) scales filter workers that each sleep 10 ms per event " +
		"with 5 handlers (`WARREN_FILTER_WORK_DELAY=10ms`, `WARREN_FILTER_CONCURRENCY=5`: a few hundred events/s each). " +
		"loadgen offers 200 events/s for 15 s, then 2 000 events/s for 25 s. *Reaction* is the time from the step until " +
		"the work queue has as many consumers as the most workers the master asked for during the high load (polled " +
		"every 100 ms); the master's own status, published every 2 s, shows the same moment at its coarser " +
		"resolution. *Drained* is when the ready count, after its peak, fell below 200 (0.1 s of the high load). The " +
		"docker runtime runs FROM-scratch images built from the tree by `compose/build-images.sh`, with host " +
		"networking.\n\n")
	for _, r := range s.Reactions {
		fmt.Fprintf(b, "**%s runtime**", r.Runtime)
		if r.Skipped != "" {
			fmt.Fprintf(b, ": not measured — %s.\n\n", r.Skipped)
			continue
		}
		fmt.Fprintf(b, ": first scale-up decision %s after the step; %d → %d workers, all consuming after **%s** "+
			"(status shows it at %s); ready peaked at %s and drained at %s. loadgen: %s sent, %s delivered, %d lost, "+
			"latency p50 %s, p99 %s.\n\n", secs(r.Decision), r.Before, r.Target, secs(r.Reaction), secs(r.StatusReaction),
			num(float64(r.PeakReady)), drained(r), num(float64(r.Report.Sent)), num(float64(r.Report.Delivered)), r.Report.Lost,
			secs(r.Report.P50), secs(r.Report.P99))
		if len(r.Timeline) > 0 {
			b.WriteString("| after step | λ (ev/s) | backlog | capacity C | current | desired | consumers | reason |\n|---|---|---|---|---|---|---|---|\n")
			for _, p := range r.Timeline {
				fmt.Fprintf(b, "| %s | %s | %s | %s (%s) | %d | %d | %d | %s |\n", secs(p.After), num(p.Lambda),
					num(float64(p.Backlog)), num(p.Capacity), p.CapacitySource, p.Current, p.Desired, p.Consumers, p.Reason)
			}
			b.WriteString("\n")
		}
	}
}

func (s Suite) overhead(b *strings.Builder) {
	o := s.Overhead
	fmt.Fprintf(b, "### Master overhead\n\n")
	fmt.Fprintf(b, "loadgen offers %s events/s (4 publishers) to `warren.filter` for %s; a master with the process "+
		"runtime and default pool settings scales the filter pool. The master's CPU is utime + stime from "+
		"/proc/<pid>/stat over %s after %s of settling, its memory the largest VmRSS sampled every second. "+
		"Achieved: %s events/s published (publishers wait when the broker applies flow control), arrivals as "+
		"the master counted them %s/s, results %s/s with up to %d workers. Master: %.2f %% of one core, RSS %.1f MiB, "+
		"%d evaluations in the window; for scale, the broker used %.2f cores and the harness %.2f.\n\n",
		num(o.Offered), secs(o.Duration), secs(o.Window), secs(o.Settle), num(o.Sent), num(o.Lambda), num(o.Results), o.PeakWorkers, 100*o.MasterCores,
		float64(o.MasterRSS)/(1<<20), o.Evaluations, o.BrokerCores, o.HarnessCores)
	if ob := o.Observed; ob != nil {
		fmt.Fprintf(b, "The same run again with `master.status_addr` set, `/metrics` and `/sd/workers` fetched every second "+
			"(as Prometheus would) and one dashboard following `/api/events`: %d scrapes and %d dashboard events "+
			"received. Achieved %s events/s published, results %s/s with up to %d workers. Master: %.2f %% of one core "+
			"(%+.2f %% against the run without), RSS %.1f MiB; the broker used %.2f cores and the harness %.2f.\n\n",
			ob.Scrapes, ob.DashboardEvents, num(ob.Sent), num(ob.Results), ob.PeakWorkers, 100*ob.MasterCores,
			100*o.ObservabilityCores(), float64(ob.MasterRSS)/(1<<20), ob.BrokerCores, ob.HarnessCores)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func drained(r ReactionResult) string {
	if r.Drained == 0 {
		return "— (never within the run)"
	}
	return secs(r.Drained)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// secs writes a duration in seconds with one decimal, or milliseconds below one second.
func secs(d time.Duration) string {
	if d > 0 && d < time.Second {
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// num writes a number rounded to a whole, with thin spaces between thousands as the rest of the file does.
func num(v float64) string {
	n := int64(v + 0.5)
	if v < 0 {
		n = int64(v - 0.5)
	}
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out.WriteString(" ")
		}
		out.WriteRune(c)
	}
	if neg {
		return "-" + out.String()
	}
	return out.String()
}
