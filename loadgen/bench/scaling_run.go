package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/scenarios"
	"github.com/warren-mq/warren/shared/event"
)

// scenario returns the trace called name, its steps scaled.
func (c ScalingConfig) scenario(name string) (*scenario.Scenario, error) {
	if name == TraceSteady {
		// Steady is already scaled: its length is configurable on its own.
		return &scenario.Scenario{File: "warren-bench", Name: fmt.Sprintf("steady %g ev/s", c.SteadyRate),
			DrainTimeout: scenario.DefaultDrainTimeout, Steps: []scenario.Step{{
				Pattern:    pattern.Spec{Kind: pattern.Steady, Rate: c.SteadyRate, Duration: c.Steady},
				Publishers: 1, Target: scenario.Filter}}}, nil
	}
	data, err := scenarios.FS.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	sc, err := scenario.Parse(name+".yaml", data)
	if err != nil {
		return nil, fmt.Errorf("trace %s: %w", name, err)
	}
	return scaleScenario(sc, c.Scale), nil
}

// scaleScenario multiplies every step's duration by scale, to the millisecond and never to nothing. The
// drain timeout stays: it bounds a wait for results, which a shorter trace does not shorten.
func scaleScenario(sc *scenario.Scenario, scale float64) *scenario.Scenario {
	if scale == 1 {
		return sc
	}
	out := *sc
	out.Steps = slices.Clone(sc.Steps)
	for i := range out.Steps {
		d := time.Duration(float64(out.Steps[i].Pattern.Duration) * scale).Round(time.Millisecond)
		out.Steps[i].Pattern.Duration = max(d, time.Millisecond)
	}
	return &out
}

// peakRate is the highest total rate a scenario plans.
func peakRate(sc *scenario.Scenario) float64 {
	peak := 0.0
	for _, st := range sc.Steps {
		if d := st.Duration().Seconds(); d > 0 {
			peak = max(peak, st.ExpectedEvents()/d)
		}
	}
	return peak
}

// scalingRun plays one trace under one policy in a fresh vhost.
func (e *Env) scalingRun(ctx context.Context, cfg ScalingConfig, pol ScalingPolicy, trace string, cTrue float64) ScalingRun {
	r := ScalingRun{Policy: pol, Trace: trace, Dir: filepath.Join(e.Work, "scaling", pol.Key+"-"+trace), Settle: cfg.Settle}
	sc, err := cfg.scenario(trace)
	if err != nil {
		r.Err = err
		return r
	}
	r.Length, r.Planned, r.PlannedPeak = sc.Duration(), sc.ExpectedEvents(), peakRate(sc)
	e.Log.Info().Str("policy", pol.Name).Str("trace", trace).Dur("length", r.Length).Msg("scaling")
	r.Err = e.vhost(ctx, "scaling", func(url string) error { return e.scalingTrace(ctx, url, cfg, sc, cTrue, &r) })
	return r
}

// scalingTrace runs the master with the policy, waits for its one idle worker, plays the trace and reads the
// outcome into r.
func (e *Env) scalingTrace(ctx context.Context, url string, cfg ScalingConfig, sc *scenario.Scenario, cTrue float64, r *ScalingRun) error {
	st, err := followStatus(ctx, url)
	if err != nil {
		return err
	}
	defer st.close()
	name := "scaling-" + r.Policy.Key + "-" + r.Trace
	m, err := e.startMaster(url, masterSpec{Runtime: "process", WorkerEnv: cfg.WorkerEnv, Name: name, Pool: r.Policy.Pool})
	if err != nil {
		return err
	}
	defer func() {
		if err := m.stop(context.WithoutCancel(ctx)); err != nil {
			e.Log.Warn().Err(err).Msg("stop master")
		}
	}()
	if err := st.waitFor(ctx, 60*time.Second, "one consuming worker", func(s event.PoolStatus) bool {
		return s.Current == 1 && s.Desired == 1 && s.Consumers == 1
	}); err != nil {
		return err
	}
	var start time.Time
	out, err := run.Run(ctx, run.Options{URL: url, Scenario: sc, Log: zerolog.Nop(), Out: r.Dir, Seed: 1,
		OnStart: func(t time.Time) { start = t }})
	if err != nil {
		return err
	}
	if out.Interrupted {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	rep := out.Report
	r.Report = RunSummary{Sent: rep.Sent, Delivered: rep.Delivered, Lost: rep.Lost, P50: rep.Latency.P50, P99: rep.Latency.P99}
	r.Metrics = analyzeScaling(start, r.Length, cfg.Settle, cTrue, out.Samples)
	if r.Metrics.Samples == 0 {
		return fmt.Errorf("no master status arrived during the trace (see %s)", filepath.Join(e.Work, "master-"+name+".log"))
	}
	statuses := st.snapshot()
	if last, ok := lastStatus(statuses, start.Add(r.Length)); ok {
		r.EndCapacity, r.EndSource = last.Capacity, last.CapacitySource
		r.Tr = time.Duration(last.Tr * float64(time.Second))
		r.Formula, r.Utilization = last.Formula, last.TargetUtilization
	}
	if r.Policy.Key == "new" && r.Trace == TraceSteady {
		c := converge(start, r.Length, cTrue, statuses)
		r.Convergence = &c
	}
	return nil
}
