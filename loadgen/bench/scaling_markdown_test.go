package bench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// scalingFixture is a made-up scaling benchmark: C_true 450 ev/s, the default policy right on steady and
// slow on the bursts, the seed formula with learned C twice the oracle on steady, a failed run and a run
// that lost events.
func scalingFixture() *ScalingResult {
	pol := func(key string) ScalingPolicy {
		for _, p := range ScalingPolicies {
			if p.Key == key {
				return p
			}
		}
		panic(key)
	}
	steady := func(key, formula string, ws float64, meanC float64) ScalingRun {
		return ScalingRun{Policy: pol(key), Trace: TraceSteady, Settle: 30 * time.Second, Length: 300 * time.Second,
			Tr: 2 * time.Second, Formula: formula, Utilization: 0.8, EndCapacity: meanC, EndSource: "auto",
			Report: RunSummary{Sent: 210000, Delivered: 210000, P50: 20 * time.Millisecond, P99: 80 * time.Millisecond},
			Metrics: ScalingMetrics{Samples: 150, WorkerSeconds: ws, OracleSeconds: 600, Ratio: ws / 600, Offered: 700 * 300,
				Changes: 1, MeanCapacity: meanC, Excess: map[string]float64{"hold": ws - 600}, Deficit: map[string]float64{},
				Log: []PoolChange{{After: 2 * time.Second, From: 1, To: 2, Reason: "scale_up"}}}}
	}
	good := steady("new", "utilization", 600, 455)
	good.Convergence = &Convergence{CTrue: 450, Within: 2, Min: 440, Max: 470, Window: 240 * time.Second, First: []CapacityPoint{
		{After: 1200 * time.Millisecond, Value: 1000, Source: "auto-initial"},
		{After: 3200 * time.Millisecond, Value: 470, Source: "auto", Reports: 2},
		{After: 5200 * time.Millisecond, Value: 455, Source: "auto", Reports: 4}}}
	seed := steady("seed-learned", "seed", 1200, 450)
	lossy := steady("seed-1000", "seed", 600, 1000)
	lossy.Report.Lost, lossy.Metrics.EndBacklog, lossy.Metrics.EndWorkers = 3, 120, 2
	bursts := ScalingRun{Policy: pol("new"), Trace: TracePoissonBursts, Settle: 30 * time.Second, Length: 180 * time.Second,
		Tr: 2 * time.Second, Formula: "utilization", Utilization: 0.8, PlannedPeak: 3190, EndCapacity: 448, EndSource: "auto",
		Report: RunSummary{Sent: 100000, Delivered: 100000, P50: 30 * time.Millisecond, P99: 5200 * time.Millisecond},
		Metrics: ScalingMetrics{Samples: 90, WorkerSeconds: 390, OracleSeconds: 300, Ratio: 1.3, Offered: 100000, Changes: 14,
			ChangesAfterSettle: 12, MeanCapacity: 450, PeakBacklog: 9000, PeakBacklogAt: 30 * time.Second, PeakWorkers: 8, AtMax: 3,
			Excess: map[string]float64{"hold_stabilizing": 80, "min": 10}, Deficit: map[string]float64{"scale_up": 20, "start": 1}}}
	failed := ScalingRun{Policy: pol("seed-1000"), Trace: TraceClientSteps, Err: errors.New("boom")}
	cfg := ScalingConfig{Policies: ScalingPolicies, Traces: ScalingTraces, Steady: 300 * time.Second, SteadyRate: 700,
		Settle: 30 * time.Second, Scale: 1, OutDir: "out/bench/scaling"}
	cfg.Calibration.For, cfg.Calibration.Warmup, cfg.Calibration.Backlog = 20*time.Second, 5*time.Second, 5000
	return &ScalingResult{Config: cfg, Calibration: Calibration{CTrue: 450, Window: 15 * time.Second, MinSecond: 440, MaxSecond: 460},
		Runs: []ScalingRun{good, lossy, seed, failed, bursts}}
}

func TestScalingBars(t *testing.T) {
	sc := scalingFixture()
	tests := []struct {
		policy, trace string
		missed        []string
		why           []string
	}{
		{"new", TraceSteady, nil, nil},
		{"seed-learned", TraceSteady, []string{"ratio"}, []string{"averaged 4.00 workers where the oracle needed 2.00",
			"600 worker-s (100 %) were the formula's own sizing (hold)", "ceil(1 400 / 450) = 4 workers with the C it used",
			"provisions 2× what the oracle does"}},
		{"seed-1000", TraceSteady, []string{"lost"}, []string{"3 of the 210 000 events sent had no result", "backlog of 120 events with 2 workers"}},
		{"new", TracePoissonBursts, []string{"p99"}, []string{"peaked at 9 000 events 30.0 s into the trace, with 8 workers running: about 2.5 s",
			"3 evaluations wanted more than the pool's max of 8 workers", "peaks at 3 190 ev/s, within the 3 600 ev/s",
			"below the oracle's size for 21 worker-s: 20 worker-s (95 %) after scale-ups"}},
	}
	for _, tt := range tests {
		r, ok := sc.run(tt.policy, tt.trace)
		if !ok {
			t.Fatalf("no run %s on %s", tt.policy, tt.trace)
		}
		var missed []string
		var why string
		for _, b := range r.Bars(450) {
			if !b.Met {
				missed = append(missed, b.Name)
				why += b.Why
			} else if b.Why != "" {
				t.Errorf("%s on %s: met bar %s explained: %s", tt.policy, tt.trace, b.Name, b.Why)
			}
		}
		if strings.Join(missed, ",") != strings.Join(tt.missed, ",") {
			t.Errorf("%s on %s: missed %v, want %v", tt.policy, tt.trace, missed, tt.missed)
		}
		for _, w := range tt.why {
			if !strings.Contains(why, w) {
				t.Errorf("%s on %s: explanation lacks %q:\n%s", tt.policy, tt.trace, w, why)
			}
		}
	}
	if r, _ := sc.run("seed-1000", TraceClientSteps); r.Bars(450) != nil {
		t.Error("a failed run has bars")
	}
}

func TestWhyChanges(t *testing.T) {
	r := ScalingRun{Settle: 30 * time.Second, Tr: 2 * time.Second, Metrics: ScalingMetrics{Log: []PoolChange{
		{After: 2 * time.Second, From: 1, To: 2, Reason: "scale_up", Capacity: 1000},
		{After: 84 * time.Second, From: 2, To: 3, Reason: "scale_up", Lambda: 712, Backlog: 230, Capacity: 389},
		{After: 130 * time.Second, From: 3, To: 2, Reason: "scale_down", Lambda: 700, Backlog: 10, Capacity: 455},
		{After: 200 * time.Second, From: 2, To: 3, Reason: "scale_up", Lambda: 700, Backlog: 10, Capacity: 300},
	}}}
	got := whyChanges(r)
	for _, want := range []string{
		"3 times after the first 30.0 s",
		"at 84.0 s 2 → 3 (scale_up; λ 712 ev/s, backlog 230, C 389): λ rose from 0 to 712 ev/s since the change at 2.0 s",
		"at 130.0 s 3 → 2 (scale_down; λ 700 ev/s, backlog 10, C 455): the backlog fell from 230 to 10 since the change at 84.0 s",
		"at 200.0 s 2 → 3 (scale_up; λ 700 ev/s, backlog 10, C 300): C moved from 455 to 300 ev/s since the change at 130.0 s.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("whyChanges lacks %q:\n%s", want, got)
		}
	}
	r.Metrics.Log = r.Metrics.Log[:1]
	if got := whyChanges(r); got != "" {
		t.Errorf("no late change explained as %q", got)
	}
	r.Settle = 0
	if got := whyChanges(r); !strings.Contains(got, "once after the first 0.0 s: at 2.0 s 1 → 2 (scale_up; λ 0 ev/s, backlog 0, C 1 000): the first change") {
		t.Errorf("a first change: %q", got)
	}
}

func TestWhyConvergence(t *testing.T) {
	tests := []struct {
		c    Convergence
		want []string
	}{
		{Convergence{CTrue: 450, Within: 5, First: []CapacityPoint{{After: time.Second, Value: 1000, Source: "auto-initial"}}},
			[]string{"Evaluation 1, 1.0 s after the load started", "initial guess of 1 000 ev/s", "first came within ±15 % at evaluation 5"}},
		{Convergence{CTrue: 450, Min: 560, Max: 600, Window: 240 * time.Second, First: []CapacityPoint{{Value: 580, Source: "auto"}}},
			[]string{"No evaluation of the trace came within ±15 %", "between 560 and 600 ev/s (+24 % to +33 %)", "outside the handlers' measured busy"}},
	}
	for _, tt := range tests {
		got := whyConvergence(tt.c)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("whyConvergence lacks %q:\n%s", w, got)
			}
		}
	}
}

func TestScalingMarkdown(t *testing.T) {
	s := Suite{Machine: Machine{At: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), Commit: "abc1234"}, Scaling: scalingFixture(),
		ScalingErr: errors.New("scaling, seed, C=1000 on client-steps: boom")}
	md := s.Markdown()
	for _, want := range []string{
		"| scaling, new: worker-s ÷ oracle on steady / client-steps / poisson-bursts | 1.00× / — / 1.30×; p99 80 ms / — / 5.2 s; lost 0 / — / 0 |",
		"| **missed**: poisson-bursts p99 |",
		"| scaling, seed, learned C: worker-s ÷ oracle on steady / client-steps / poisson-bursts | 2.00× / — / —; p99 80 ms / — / —; lost 0 / — / — |",
		"| **missed**: steady lost, client-steps failed |",
		"| scaling: learned C vs C_true = 450 ev/s (new on steady) | evaluations 1–3: 1 000 (+122 %), 470 (+4 %), 455 (+1 %) | ±15 % within 3 evaluations | met |",
		"| scaling quality | failed in part: scaling, seed, C=1000 on client-steps: boom | | — |",
		"### Scaling quality",
		"**C_true = 450 ev/s**",
		"| steady | new | 600 | 600 | 1.00× (≤ 1.25×, met) | 1 | 0 (0 after 30.0 s, met) | 20 ms | 80 ms | 0 (met) | 455 (auto) |",
		"| steady | seed, learned C | 1 200 | 600 | 2.00× (≤ 1.25×, **missed**) |",
		"| client-steps | seed, C=1000 | failed: boom |",
		"| poisson-bursts | new | 390 | 300 | 1.30× (≤ 1.50×, met) | 14 | 12 | 30 ms | 5.2 s (≤ 3.0 s, **missed**) |",
		"| 1 | 1.2 s | 1 000 | auto-initial | 0 | +122 % |",
		"Within ±15 %: first at evaluation 2; the bar (by evaluation 3) is met.",
		"- **seed, learned C on steady, ratio** (≤ 1.25×): The pool averaged",
		"- **new on poisson-bursts, p99** (≤ 3.0 s): The backlog peaked",
		"- **seed, C=1000 on steady, lost** (0): 3 of the",
		"`out/bench/scaling/<policy>-<trace>/` (policies new, seed-1000, seed-learned)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	// Benchmarks that did not run have no row, rather than one that says they failed with no error.
	for _, absent := range []string{"| stress |", "| speedup |", "| master overhead |", "Every bar was met"} {
		if strings.Contains(md, absent) {
			t.Errorf("markdown has %q:\n%s", absent, md)
		}
	}
	// With only the changing traces, the summary names only their bars.
	sc := scalingFixture()
	sc.Config.Traces = []string{TracePoissonBursts}
	md = Suite{Scaling: sc}.Markdown()
	if !strings.Contains(md, "| each trace ≤ 1.5× and p99 ≤ Tr + 1.0 s; lost 0 |") || strings.Contains(md, "**steady**") {
		t.Errorf("only poisson-bursts:\n%s", md)
	}
	if md := (Suite{ScalingErr: errors.New("true capacity: no broker")}).Markdown(); !strings.Contains(md,
		"| scaling quality | failed: true capacity: no broker | see below | — |") || strings.Contains(md, "### Scaling quality") {
		t.Errorf("failed calibration:\n%s", md)
	}
}
