package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/warren-mq/warren/loadgen/bench/flood"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/shared/topology"
)

// SpeedupConfig is the work each worker does and how hard it is driven.
type SpeedupConfig struct {
	// WorkDelay is the simulated I/O per event and Concurrency the handlers per worker: one worker then
	// manages at most Concurrency/WorkDelay events per second, far below what the broker moves, so the
	// benchmark measures how the pool scales rather than the broker.
	WorkDelay   time.Duration
	Concurrency int
	// Workers lists the pool sizes measured, the first being the reference for the speedup.
	Workers []int
	// Publishers is how many publishers the driver runs.
	Publishers int
	// WindowPerWorker is the events in the system per worker: more than a worker's prefetch, so no worker
	// waits for work.
	WindowPerWorker int
	// Duration is each measurement's length and Warmup the start of it that is not measured.
	Duration, Warmup time.Duration
}

// SpeedupPoint is the throughput with a number of workers.
type SpeedupPoint struct {
	// Workers is the pool size and Throughput the events per second it completed.
	Workers    int
	Throughput float64
	// Speedup is Throughput over the one-worker throughput; Efficiency is Speedup per worker.
	Speedup, Efficiency float64
	// BrokerCores and HarnessCores are the cores the broker and this process used.
	BrokerCores, HarnessCores float64
}

// SpeedupResult is the speedup curve.
type SpeedupResult struct {
	// Config is how the curve was measured.
	Config SpeedupConfig
	// Points holds one measurement per pool size, in the order of Config.Workers.
	Points []SpeedupPoint
	// Ideal is one worker's bound, Concurrency/WorkDelay events per second.
	Ideal float64
}

// Speedup measures throughput with 1, 2, 4 and 8 filter workers, each with a fixed per-event delay and one
// handler, under the same closed-loop driver as Stress.
func Speedup(ctx context.Context, env *Env) (SpeedupResult, error) {
	cfg := SpeedupConfig{WorkDelay: 5 * time.Millisecond, Concurrency: 1, Workers: []int{1, 2, 4, 8}, Publishers: 2,
		WindowPerWorker: 500, Duration: env.d(14 * time.Second), Warmup: env.d(4 * time.Second)}
	res := SpeedupResult{Config: cfg, Ideal: float64(cfg.Concurrency) / cfg.WorkDelay.Seconds()}
	broker := env.brokerPid(ctx)
	for _, n := range cfg.Workers {
		env.Log.Info().Int("workers", n).Msg("speedup")
		err := env.vhost(ctx, "speedup", func(url string) error {
			ws, err := env.workers(ctx, url, n, "WARREN_FILTER_WORK_DELAY="+cfg.WorkDelay.String(),
				fmt.Sprintf("WARREN_FILTER_CONCURRENCY=%d", cfg.Concurrency))
			if err != nil {
				return err
			}
			defer stopAll(ctx, ws)
			m := newCPUMeter(map[string]int{"broker": broker, "harness": selfPid})
			r, err := flood.Run(ctx, flood.Options{URL: url, Exchange: topology.FilterExchange, Publishers: cfg.Publishers,
				Window: cfg.WindowPerWorker * n, Size: publish.DefaultSize, Duration: cfg.Duration, Warmup: cfg.Warmup,
				Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}, OnSteady: m.mark})
			if err != nil {
				return err
			}
			res.Points = append(res.Points, SpeedupPoint{Workers: n, Throughput: r.Throughput,
				BrokerCores: m.Cores["broker"], HarnessCores: m.Cores["harness"]})
			env.Log.Info().Int("workers", n).Float64("throughput", r.Throughput).Msg("speedup")
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("speedup with %d workers: %w", n, err)
		}
	}
	if len(res.Points) > 0 && res.Points[0].Throughput > 0 {
		for i := range res.Points {
			p := &res.Points[i]
			p.Speedup = p.Throughput / res.Points[0].Throughput
			p.Efficiency = p.Speedup / float64(p.Workers)
		}
	}
	return res, nil
}
