package bench

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/loadgen/bench/flood"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// baselineQueue is the bare-broker benchmark's queue, declared like the filter's work queue.
const baselineQueue = "bench.baseline"

// StressConfig is how the stress benchmark drives every variant alike.
type StressConfig struct {
	// Publishers, Window and Size are the driver's (see flood.Options); Prefetch is the baseline
	// consumer's, the same as a worker's.
	Publishers, Window, Prefetch, Size int
	// Duration is each measurement's length and Warmup the start of it that is not measured.
	Duration, Warmup time.Duration
	// Rounds is how often each variant runs, interleaved, so a slow minute of a shared machine does not
	// land on one variant only.
	Rounds int
}

// Variant is one stress measurement, repeated Rounds times.
type Variant struct {
	// Name and What say what was measured.
	Name, What string
	// Runs holds each round's result and the cores each process used over its measured window: "broker",
	// "harness" (this process: publishers and counting consumer), "filter".
	Runs  []flood.Result
	Cores []map[string]float64
}

// Throughput returns the mean throughput over the rounds.
func (v Variant) Throughput() float64 {
	if len(v.Runs) == 0 {
		return 0
	}
	var sum float64
	for _, r := range v.Runs {
		sum += r.Throughput
	}
	return sum / float64(len(v.Runs))
}

// MeanCores returns the mean cores process name used over the rounds.
func (v Variant) MeanCores(name string) float64 {
	var sum float64
	n := 0
	for _, c := range v.Cores {
		if x, ok := c[name]; ok {
			sum += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// StressResult compares one filter worker's pipeline with the bare broker.
type StressResult struct {
	// Config is how every variant was driven.
	Config StressConfig
	// Baseline is the bare broker and Pipeline one filter worker end to end, each run Rounds times. Two
	// diagnostics run once each, to show where the pipeline's time goes: NoCount without the count-queue
	// copy of each event (what the master's counting costs), WideFilter with filter.concurrency raised to the
	// prefetch (what waiting for each result's confirm costs when handlers are fewer than the prefetch).
	Baseline, Pipeline, NoCount, WideFilter Variant
	// Ratio is the pipeline's throughput over the baseline's.
	Ratio float64
}

// Stress measures the most events per second one filter worker with default settings sustains end to end,
// and the same harness against the bare broker: publish to a quorum queue declared like the work queue,
// consume it with manual acks, one ack per message, at the filter's prefetch. Every variant runs
// closed-loop (see package flood) with the same publishers, window, message size and durations.
func Stress(ctx context.Context, env *Env) (StressResult, error) {
	cfg := StressConfig{Publishers: 4, Window: 4000, Prefetch: 200, Size: publish.DefaultSize,
		Duration: env.d(15 * time.Second), Warmup: env.d(4 * time.Second), Rounds: 2}
	res := StressResult{Config: cfg,
		Baseline: Variant{Name: "bare broker", What: "publish to a quorum queue, consume with manual acks"},
		Pipeline: Variant{Name: "pipeline, 1 worker", What: "warren.filter → work queue → filter → warren.results → harness"},
		NoCount:  Variant{Name: "diagnostic: pipeline without the count copy", What: "warren.filter.count unbound from warren.filter"},
		WideFilter: Variant{Name: "diagnostic: pipeline, filter.concurrency 200",
			What: "WARREN_FILTER_CONCURRENCY=200, as many handlers as the prefetch"},
	}
	broker := env.brokerPid(ctx)
	measure := func(v *Variant, url string, pids map[string]int, o flood.Options) error {
		o.URL, o.Publishers, o.Window, o.Size, o.Duration, o.Warmup = url, cfg.Publishers, cfg.Window, cfg.Size, cfg.Duration, cfg.Warmup
		pids["broker"], pids["harness"] = broker, selfPid
		m := newCPUMeter(pids)
		o.OnSteady = m.mark
		r, err := flood.Run(ctx, o)
		if err != nil {
			return err
		}
		v.Runs, v.Cores = append(v.Runs, r), append(v.Cores, m.Cores)
		env.Log.Info().Str("variant", v.Name).Float64("throughput", r.Throughput).Msg("stress")
		return nil
	}
	pipeline := func(v *Variant, count bool, workerEnv ...string) error {
		return env.vhost(ctx, "stress", func(url string) error {
			ws, err := env.workers(ctx, url, 1, workerEnv...)
			if err != nil {
				return err
			}
			defer stopAll(ctx, ws)
			if !count {
				// The worker declared the binding when it connected; it does not again until it reconnects.
				if err := unbindCount(ctx, url); err != nil {
					return err
				}
			}
			// The harness reads results in batches: it only counts, and must not be what limits the pipeline.
			return measure(v, url, map[string]int{"filter": ws[0].Pid()}, flood.Options{Exchange: topology.FilterExchange,
				Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}})
		})
	}
	for round := range cfg.Rounds {
		env.Log.Info().Int("round", round+1).Msg("stress: bare-broker baseline")
		err := env.vhost(ctx, "baseline", func(url string) error {
			if err := declareBaseline(ctx, url); err != nil {
				return err
			}
			return measure(&res.Baseline, url, map[string]int{}, flood.Options{Key: baselineQueue,
				Consumer: flood.Consumer{Queue: baselineQueue, Prefetch: cfg.Prefetch, AckEach: true}})
		})
		if err != nil {
			return res, fmt.Errorf("stress baseline: %w", err)
		}
		env.Log.Info().Int("round", round+1).Msg("stress: one filter worker")
		if err := pipeline(&res.Pipeline, true); err != nil {
			return res, fmt.Errorf("stress pipeline: %w", err)
		}
		// The diagnostics take turns, one per round, so the suite stays within its time budget.
		switch round {
		case 0:
			env.Log.Info().Msg("stress: diagnostic without the count copy")
			if err := pipeline(&res.NoCount, false); err != nil {
				return res, fmt.Errorf("stress pipeline without count copy: %w", err)
			}
		case 1:
			env.Log.Info().Msg("stress: diagnostic with 200 handlers")
			if err := pipeline(&res.WideFilter, true, "WARREN_FILTER_CONCURRENCY=200"); err != nil {
				return res, fmt.Errorf("stress pipeline with 200 handlers: %w", err)
			}
		}
	}
	if b := res.Baseline.Throughput(); b > 0 {
		res.Ratio = res.Pipeline.Throughput() / b
	}
	return res, nil
}

func declareBaseline(ctx context.Context, url string) error {
	return withChannel(ctx, url, func(ch *amqp.Channel) error {
		// The work queue's own arguments (see shared/topology), so the comparison is queue type for queue type.
		args := amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int64(5), "x-dead-letter-exchange": topology.DeadExchange}
		if _, err := ch.QueueDeclare(baselineQueue, true, false, false, false, args); err != nil {
			return fmt.Errorf("declare %s: %w", baselineQueue, err)
		}
		return nil
	})
}

func unbindCount(ctx context.Context, url string) error {
	return withChannel(ctx, url, func(ch *amqp.Channel) error {
		if err := ch.QueueUnbind(topology.FilterCount, "", topology.FilterExchange, nil); err != nil {
			return fmt.Errorf("unbind %s: %w", topology.FilterCount, err)
		}
		return nil
	})
}

// withChannel runs f on a short-lived channel of a short-lived connection.
func withChannel(ctx context.Context, url string, f func(ch *amqp.Channel) error) error {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench setup"})
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open setup channel: %w", err)
	}
	defer ch.Close()
	return f(ch)
}
