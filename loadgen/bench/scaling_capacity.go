package bench

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/warren-mq/warren/loadgen/bench/flood"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/shared/topology"
)

// Calibration is the measured capacity of one filter worker as the scaling benchmark runs them.
type Calibration struct {
	// CTrue is the worker's steady throughput while saturated, in events per second: C_true.
	CTrue float64
	// Window is the measured stretch, after the warm-up.
	Window time.Duration
	// MinSecond and MaxSecond are the fewest and most completions in one whole second of the window, to show
	// how steady the worker was.
	MinSecond, MaxSecond int64
}

// calibrate measures C_true: one worker with the benchmark's settings, saturated by a closed loop that keeps
// a backlog of events waiting for it (more than its prefetch, so it never waits for work), and its
// completions per second over the measured window. The loop publishes a new event for every result, so the
// backlog neither drains nor grows into a queue the broker has to page out.
func (e *Env) calibrate(ctx context.Context, cfg ScalingConfig) (Calibration, error) {
	var c Calibration
	err := e.vhost(ctx, "scaling-capacity", func(url string) error {
		ws, err := e.workers(ctx, url, 1, cfg.WorkerEnv...)
		if err != nil {
			return err
		}
		defer stopAll(ctx, ws)
		cal := cfg.Calibration
		r, err := flood.Run(ctx, flood.Options{URL: url, Exchange: topology.FilterExchange, Publishers: 1,
			Window: cal.Backlog, Size: publish.DefaultSize, Duration: cal.For, Warmup: cal.Warmup,
			Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}})
		if err != nil {
			return err
		}
		c = Calibration{CTrue: r.Throughput, Window: r.Window}
		c.MinSecond, c.MaxSecond = secondsRange(r.PerSecond, cal.Warmup)
		return nil
	})
	if err != nil {
		return c, err
	}
	if !(c.CTrue > 0) {
		return c, fmt.Errorf("one saturated worker completed nothing in %s (see filter.log in the work directory)", c.Window)
	}
	return c, nil
}

// secondsRange returns the fewest and most completions in the whole seconds after warmup.
func secondsRange(perSecond []int64, warmup time.Duration) (lo, hi int64) {
	first := int(math.Ceil(warmup.Seconds()))
	lo = -1
	for i := first; i < len(perSecond); i++ {
		if lo < 0 || perSecond[i] < lo {
			lo = perSecond[i]
		}
		hi = max(hi, perSecond[i])
	}
	return max(lo, 0), hi
}
