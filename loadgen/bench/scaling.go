package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ScalingPolicy is one way of configuring the master's filter pool for the scaling benchmark.
type ScalingPolicy struct {
	// Key names the policy on the command line and in output directories; Name is how the results call it.
	Key, Name string
	// Pool holds the filter pool's configuration keys that differ from the defaults (see masterSpec.Pool).
	Pool map[string]string
}

// ScalingPolicies are the policies compared, side by side: the default policy; the formula of the system
// Warren grew from with the fixed capacity it was run with; and that formula with the learned capacity, which
// separates what the formula does from what the capacity does.
var ScalingPolicies = []ScalingPolicy{
	{Key: "new", Name: "new"},
	{Key: "seed-1000", Name: "seed, C=1000", Pool: map[string]string{"formula": "seed", "capacity": `"1000"`}},
	{Key: "seed-learned", Name: "seed, learned C", Pool: map[string]string{"formula": "seed", "capacity": "auto"}},
}

// Trace names of the scaling benchmark. The steady trace is built here; the others are loadgen's shipped
// scenarios of the same name.
const (
	TraceSteady        = "steady"
	TraceClientSteps   = "client-steps"
	TracePoissonBursts = "poisson-bursts"
)

// ScalingTraces lists the traces in the order they run.
var ScalingTraces = []string{TraceSteady, TraceClientSteps, TracePoissonBursts}

// Defaults of the scaling benchmark.
const (
	// DefaultSteady is the steady trace's length before --scale.
	DefaultSteady = 5 * time.Minute
	// SteadyRate is the steady trace's rate: about 1.5 workers' worth, so the right pool is 2 and neither 1
	// nor 3 is close.
	SteadyRate = 700
)

// ScalingOptions select what the scaling benchmark runs; zero fields take the defaults.
type ScalingOptions struct {
	// Policies holds keys of ScalingPolicies and Traces names of ScalingTraces; empty means all of them.
	Policies, Traces []string
	// Steady is the steady trace's length before scaling; zero means DefaultSteady.
	Steady time.Duration
}

// Validate reports an unknown policy or trace, or a negative steady length.
func (o ScalingOptions) Validate() error {
	for _, p := range o.Policies {
		if !slices.ContainsFunc(ScalingPolicies, func(sp ScalingPolicy) bool { return sp.Key == p }) {
			return fmt.Errorf("unknown scaling policy %q (want %s)", p, strings.Join(policyKeys(), ", "))
		}
	}
	for _, t := range o.Traces {
		if !slices.Contains(ScalingTraces, t) {
			return fmt.Errorf("unknown scaling trace %q (want %s)", t, strings.Join(ScalingTraces, ", "))
		}
	}
	if o.Steady < 0 {
		return fmt.Errorf("steady trace length %s is negative", o.Steady)
	}
	return nil
}

func policyKeys() []string { return policyKeysOf(ScalingPolicies) }

// ScalingConfig is how the scaling benchmark ran, durations already scaled.
type ScalingConfig struct {
	// Policies and Traces are what ran, in order.
	Policies []ScalingPolicy
	Traces   []string
	// Steady is the steady trace's length and SteadyRate its rate.
	Steady     time.Duration
	SteadyRate float64
	// WorkerEnv makes every filter worker slow and of known capacity.
	WorkerEnv []string
	// Settle is the start of each trace whose changes of the pool do not count against the steady bar: the
	// first evaluations may still be learning C.
	Settle time.Duration
	// Calibration says how C_true is measured: one worker under a closed loop that keeps Backlog events in
	// the system, measured for For after Warmup.
	Calibration struct {
		For, Warmup time.Duration
		Backlog     int
	}
	// Scale is the factor every trace's steps were multiplied by.
	Scale float64
	// OutDir holds one directory of loadgen files per run, as the results name it: relative to the working
	// directory when it is below it.
	OutDir string
}

// ScalingRun is what one policy did on one trace.
type ScalingRun struct {
	// Policy and Trace say what ran; Dir holds loadgen's files for it (CSV, plot, report).
	Policy ScalingPolicy
	Trace  string
	Dir    string
	// Err says why the run failed, if it did.
	Err error
	// Settle is the start of the trace whose changes do not count against the steady bar.
	Settle time.Duration
	// Length is the trace's length; Planned the events it sends and PlannedPeak its highest rate, as planned.
	Length      time.Duration
	Planned     float64
	PlannedPeak float64
	// Metrics is the analysis of loadgen's samples; Report loadgen's account of the events.
	Metrics ScalingMetrics
	Report  RunSummary
	// Tr, Formula and Utilization are the pool's, as its statuses say.
	Tr          time.Duration
	Formula     string
	Utilization float64
	// EndCapacity and EndSource are the C of the last status within the trace and where it came from.
	EndCapacity float64
	EndSource   string
	// Convergence is set for the default policy on the steady trace.
	Convergence *Convergence
}

// ScalingResult is the scaling benchmark's outcome.
type ScalingResult struct {
	// Config is how it ran.
	Config ScalingConfig
	// Calibration is the measured capacity of one worker, C_true.
	Calibration Calibration
	// Runs holds one result per trace and policy, traces outer.
	Runs []ScalingRun
}

// Convergence returns the capacity convergence of the default policy on the steady trace, if it ran.
func (r ScalingResult) Convergence() *Convergence {
	for _, run := range r.Runs {
		if run.Convergence != nil {
			return run.Convergence
		}
	}
	return nil
}

// Scaling measures the quality of the master's scaling: for each trace and policy, a real master (process
// runtime) scales filter workers of known capacity while loadgen plays the trace, and the worker-seconds it
// spent are compared with an oracle that knows the offered rate and the true capacity, next to the latency and
// losses loadgen saw. C_true is measured first, on one saturated worker. A run that fails is reported as such
// and the others still run; the error joins every failure.
func Scaling(ctx context.Context, env *Env, o ScalingOptions) (ScalingResult, error) {
	if err := o.Validate(); err != nil {
		return ScalingResult{}, err
	}
	cfg := newScalingConfig(env, o)
	res := ScalingResult{Config: cfg}
	env.Log.Info().Msg("scaling: measuring one worker's true capacity")
	cal, err := env.calibrate(ctx, cfg)
	if err != nil {
		return res, fmt.Errorf("scaling: true capacity: %w", err)
	}
	res.Calibration = cal
	env.Log.Info().Float64("c_true", cal.CTrue).Msg("scaling: true capacity")
	var errs []error
	// Traces outer, so the policies compared on a trace run minutes apart, not half an hour.
	for _, trace := range cfg.Traces {
		for _, pol := range cfg.Policies {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			r := env.scalingRun(ctx, cfg, pol, trace, cal.CTrue)
			res.Runs = append(res.Runs, r)
			if r.Err != nil {
				env.Log.Error().Err(r.Err).Str("policy", pol.Name).Str("trace", trace).Msg("scaling")
				errs = append(errs, fmt.Errorf("scaling, %s on %s: %w", pol.Name, trace, r.Err))
				continue
			}
			env.Log.Info().Str("policy", pol.Name).Str("trace", trace).Float64("worker_s", r.Metrics.WorkerSeconds).
				Float64("oracle_s", r.Metrics.OracleSeconds).Int("changes", r.Metrics.Changes).Dur("p99", r.Report.P99).
				Int64("lost", r.Report.Lost).Msg("scaling")
		}
	}
	return res, errors.Join(errs...)
}

func newScalingConfig(env *Env, o ScalingOptions) ScalingConfig {
	cfg := ScalingConfig{Steady: o.Steady, SteadyRate: SteadyRate, Settle: env.d(30 * time.Second), Scale: env.Scale,
		WorkerEnv: []string{"WARREN_FILTER_WORK_DELAY=10ms", "WARREN_FILTER_CONCURRENCY=5", "WARREN_LOG_LEVEL=warn"}}
	if cfg.Steady == 0 {
		cfg.Steady = DefaultSteady
	}
	if cfg.Scale <= 0 {
		cfg.Scale = 1
	}
	cfg.Steady = env.d(cfg.Steady)
	cfg.OutDir = filepath.Join(env.Work, "scaling")
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, cfg.OutDir); err == nil && !strings.HasPrefix(rel, "..") {
			cfg.OutDir = rel
		}
	}
	for _, p := range ScalingPolicies {
		if len(o.Policies) == 0 || slices.Contains(o.Policies, p.Key) {
			cfg.Policies = append(cfg.Policies, p)
		}
	}
	for _, t := range ScalingTraces {
		if len(o.Traces) == 0 || slices.Contains(o.Traces, t) {
			cfg.Traces = append(cfg.Traces, t)
		}
	}
	// The reference number of the whole benchmark: never shorter than a few seconds, whatever the scale.
	cfg.Calibration.For, cfg.Calibration.Warmup = max(env.d(20*time.Second), 8*time.Second), max(env.d(5*time.Second), 2*time.Second)
	cfg.Calibration.Backlog = 5000
	return cfg
}
