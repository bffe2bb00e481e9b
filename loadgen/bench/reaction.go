package bench

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// ReactionConfig is the load step and the workers it meets.
type ReactionConfig struct {
	// Low and High are the offered rates before and after the step, in events per second.
	Low, High float64
	// LowFor and HighFor are how long each rate is offered.
	LowFor, HighFor time.Duration
	// WorkerEnv slows the workers so that High needs several of them.
	WorkerEnv []string
	// DrainedBelow is the ready count under which the backlog counts as drained: a tenth of a second of
	// the high load.
	DrainedBelow int
}

// poll is one reading of the work queue.
type poll struct {
	At               time.Time
	Ready, Consumers int
}

// ReactionResult is what one runtime did after the step.
type ReactionResult struct {
	// Runtime is the master's worker runtime: process or docker.
	Runtime string
	// Skipped says why the runtime was not measured, if it was not.
	Skipped string
	// Before is the desired count before the step, Target the most the master wanted during the high load.
	Before, Target int
	// Decision is the time from the step to the first status that asks for more workers.
	Decision time.Duration
	// Reaction is the time from the step until the work queue has Target consumers (polled every 100 ms);
	// StatusReaction until a status shows current == desired == Target with as many consumers, which can
	// only be seen at the master's interval. Zero when never reached.
	Reaction, StatusReaction time.Duration
	// Drained is the time from the step until the ready count fell below DrainedBelow after its peak.
	Drained time.Duration
	// PeakReady is the most events that waited in the work queue after the step.
	PeakReady int
	// Timeline is every status from the step until the target was reached, and a little after.
	Timeline []StatusPoint
	// Report is loadgen's account of the run.
	Report RunSummary
}

// StatusPoint is one master status, timed from the step.
type StatusPoint struct {
	// After is the status's arrival, from the step; negative before it.
	After time.Duration
	// Lambda, Capacity, Backlog, Current, Desired, Consumers, CapacitySource and Reason are the status's
	// own fields (see event.PoolStatus).
	Lambda, Capacity                     float64
	Backlog, Current, Desired, Consumers int
	CapacitySource, Reason               string
}

// RunSummary is the part of a loadgen report a benchmark quotes.
type RunSummary struct {
	// Sent, Delivered and Lost count events as the loadgen report does.
	Sent, Delivered, Lost int64
	// P50 and P99 are percentiles of the latency from send to result.
	P50, P99 time.Duration
}

// Reaction measures, for each runtime, how fast the master answers a tenfold step in load. Runtimes whose
// engine is missing are reported as skipped, not failed.
func Reaction(ctx context.Context, env *Env, runtimes []string, imageTag string) ([]ReactionResult, error) {
	cfg := ReactionConfig{Low: 200, High: 2000, LowFor: env.d(15 * time.Second), HighFor: env.d(25 * time.Second),
		WorkerEnv:    []string{"WARREN_FILTER_WORK_DELAY=10ms", "WARREN_FILTER_CONCURRENCY=5", "WARREN_LOG_LEVEL=warn"},
		DrainedBelow: 200}
	var out []ReactionResult
	for _, rt := range runtimes {
		env.Log.Info().Str("runtime", rt).Msg("reaction")
		if rt == "docker" {
			if why := dockerMissing(ctx, imageTag); why != "" {
				out = append(out, ReactionResult{Runtime: rt, Skipped: why})
				continue
			}
		}
		var r ReactionResult
		err := env.vhost(ctx, "reaction", func(url string) error {
			var err error
			r, err = reaction(ctx, env, url, rt, imageTag, cfg)
			return err
		})
		if err != nil {
			return out, fmt.Errorf("reaction with the %s runtime: %w", rt, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func reaction(ctx context.Context, env *Env, url, rt, imageTag string, cfg ReactionConfig) (ReactionResult, error) {
	res := ReactionResult{Runtime: rt}
	st, err := followStatus(ctx, url)
	if err != nil {
		return res, err
	}
	defer st.close()
	m, err := env.startMaster(url, masterSpec{Runtime: rt, WorkerEnv: cfg.WorkerEnv, ImageTag: imageTag})
	if err != nil {
		return res, err
	}
	defer func() {
		if err := m.stop(context.WithoutCancel(ctx)); err != nil {
			env.Log.Warn().Err(err).Msg("stop master")
		}
	}()
	// A first container start can take a while; after that the pool sits at its minimum of one worker.
	if err := st.waitFor(ctx, 90*time.Second, "one consuming worker", func(s event.PoolStatus) bool {
		return s.Current == 1 && s.Desired == 1 && s.Consumers == 1
	}); err != nil {
		return res, err
	}

	probe, err := newQueueProbe(ctx, url)
	if err != nil {
		return res, err
	}
	defer probe.close()
	var (
		mu    sync.Mutex
		polls []poll
	)
	pctx, pstop := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				ready, consumers, err := probe.depth(topology.FilterWork)
				if err != nil {
					continue
				}
				mu.Lock()
				polls = append(polls, poll{time.Now(), ready, consumers})
				mu.Unlock()
			}
		}
	}()

	sc := &scenario.Scenario{Name: fmt.Sprintf("reaction %s: %g/s → %g/s", rt, cfg.Low, cfg.High), DrainTimeout: 60 * time.Second,
		Steps: []scenario.Step{
			{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: cfg.Low, Duration: cfg.LowFor}, Publishers: 1, Target: scenario.Filter},
			{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: cfg.High, Duration: cfg.HighFor}, Publishers: 1, Target: scenario.Filter},
		}}
	var start time.Time
	out, err := run.Run(ctx, run.Options{URL: url, Scenario: sc, Log: zerolog.New(io.Discard),
		OnStart: func(t time.Time) { start = t }})
	pstop()
	<-pollDone
	if err != nil {
		return res, err
	}
	rep := out.Report
	res.Report = RunSummary{Sent: rep.Sent, Delivered: rep.Delivered, Lost: rep.Lost, P50: rep.Latency.P50, P99: rep.Latency.P99}
	analyze(&res, start.Add(cfg.LowFor), cfg, st.snapshot(), polls)
	return res, nil
}

// dockerMissing says why the docker runtime cannot run, or "" when the engine answers and has the image.
func dockerMissing(ctx context.Context, tag string) string {
	if err := exec.CommandContext(ctx, "docker", "version", "--format", "{{.Server.Version}}").Run(); err != nil {
		return "no Docker engine answers"
	}
	image := "warren/filter:" + tag
	if err := exec.CommandContext(ctx, "docker", "image", "inspect", image).Run(); err != nil {
		return "image " + image + " is missing (compose/build-images.sh builds it)"
	}
	return ""
}

// analyze reads the reaction off the statuses and polls around the step at step.
func analyze(res *ReactionResult, step time.Time, cfg ReactionConfig, statuses []statusAt, polls []poll) {
	end := step.Add(cfg.HighFor)
	res.Before = 1
	for _, s := range statuses {
		if s.At.Before(step) {
			res.Before = s.Desired
		}
	}
	for _, s := range statuses {
		if !s.At.Before(step) && s.At.Before(end) {
			res.Target = max(res.Target, s.Desired)
			if res.Decision == 0 && s.Desired > res.Before {
				res.Decision = s.At.Sub(step)
			}
		}
	}
	if res.Target <= res.Before {
		return
	}
	for _, s := range statuses {
		if !s.At.Before(step) && s.Current == res.Target && s.Desired == res.Target && s.Consumers >= res.Target {
			res.StatusReaction = s.At.Sub(step)
			break
		}
	}
	peakAt := step
	for _, p := range polls {
		if p.At.Before(step) {
			continue
		}
		if res.Reaction == 0 && p.Consumers >= res.Target {
			res.Reaction = p.At.Sub(step)
		}
		if p.Ready > res.PeakReady {
			res.PeakReady, peakAt = p.Ready, p.At
		}
	}
	for _, p := range polls {
		if p.At.After(peakAt) && p.Ready < cfg.DrainedBelow {
			res.Drained = p.At.Sub(step)
			break
		}
	}
	until := max(res.Reaction, res.StatusReaction) + 4*time.Second
	for _, s := range statuses {
		if after := s.At.Sub(step); after >= -2*time.Second && after <= until {
			res.Timeline = append(res.Timeline, StatusPoint{After: after, Lambda: s.Lambda, Capacity: s.Capacity,
				Backlog: s.Backlog, Current: s.Current, Desired: s.Desired, Consumers: s.Consumers,
				CapacitySource: s.CapacitySource, Reason: s.Reason})
		}
	}
}
