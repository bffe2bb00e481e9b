package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/bench/flood"
	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/loadgen/report"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/shared/topology"
)

// FairnessConfig is the fixed pool the fairness benchmark loads and how hard.
type FairnessConfig struct {
	// Workers filter workers, each with Concurrency handlers that take WorkDelay per event: a pool whose
	// capacity is far below what the broker moves, so a flood builds a real backlog.
	Workers     int
	WorkDelay   time.Duration
	Concurrency int
	// Lanes is the pool's lane count in the laned runs; the two sources' keys are pinned to lanes 0 and 1.
	Lanes int
	// Flood is how long source A floods at FloodFactor times the pool's measured capacity, while source B
	// sends QuietShare of A's rate.
	Flood       time.Duration
	FloodFactor float64
	QuietShare  float64
	// Rounds is how many times B alone and noisy-neighbour on lanes run, alternately: one p99 on this shared
	// machine is too noisy to judge a 2× bar by.
	Rounds int
	// PairFor is how long the two equal-demand sources send, each at PairFactor times the capacity.
	PairFor    time.Duration
	PairFactor float64
	// SatLanes and SatKeys shape the saturation runs: a closed-loop flood over SatKeys keys into pools of 1
	// and 2 unthrottled workers, with one lane and with SatLanes lanes, SatRounds times each.
	SatLanes, SatKeys, SatRounds int
	SatDuration, SatWarmup       time.Duration
}

// FairnessRun is one multi-source run.
type FairnessRun struct {
	// Name says what ran; Lanes is the pool's lane count.
	Name  string
	Lanes int
	// Report is loadgen's account, per source included.
	Report report.Report
}

// p99 returns source name's p99 latency in the run (zero when absent).
func (r FairnessRun) p99(name string) time.Duration {
	s, _ := r.Report.Source(name)
	return s.Latency.P99
}

// SaturationPoint is a closed-loop throughput with a pool size and lane count, one per round.
type SaturationPoint struct {
	Workers, Lanes int
	Throughput     float64
}

// FairnessResult is what the fairness benchmark measured.
type FairnessResult struct {
	Machine Machine
	Took    time.Duration
	Config  FairnessConfig
	// Capacity is the throttled pool's measured capacity in events/s, which sizes the sources.
	Capacity float64
	// Alone is source B by itself on the laned pool and Laned noisy-neighbour on lanes, once per round;
	// OneQueue is noisy-neighbour without lanes; Pair is two equal-demand sources on the laned pool.
	Alone, Laned   []FairnessRun
	OneQueue, Pair FairnessRun
	Saturation     []SaturationPoint
}

const (
	keyA = "tenant-a"
	keyB = "tenant-b"
)

// Fairness measures how lanes protect a quiet source from a flooding one on a fixed pool, how evenly two
// equal-demand sources share it, and what lanes cost and gain at saturation.
func Fairness(ctx context.Context, env *Env) (FairnessResult, error) {
	cfg := FairnessConfig{Workers: 2, WorkDelay: 5 * time.Millisecond, Concurrency: 1, Lanes: 2,
		Flood: env.d(30 * time.Second), FloodFactor: 5, QuietShare: 0.02, Rounds: 2, PairFor: env.d(20 * time.Second), PairFactor: 1,
		SatLanes: 4, SatKeys: 8, SatRounds: 2, SatDuration: env.d(12 * time.Second), SatWarmup: env.d(3 * time.Second)}
	res := FairnessResult{Config: cfg}
	throttled := []string{"WARREN_FILTER_WORK_DELAY=" + cfg.WorkDelay.String(), fmt.Sprintf("WARREN_FILTER_CONCURRENCY=%d", cfg.Concurrency)}
	laned := append(lanesEnv(cfg.Lanes, keyA+"=0,"+keyB+"=1"), throttled...)

	env.Log.Info().Msg("fairness: the throttled pool's capacity")
	err := env.vhost(ctx, "fairness", func(url string) error {
		return env.withWorkers(ctx, url, cfg.Workers, throttled, func() error {
			r, err := flood.Run(ctx, flood.Options{URL: url, Exchange: topology.FilterExchange, Publishers: 1,
				Window: 500 * cfg.Workers, Size: publish.DefaultSize, Duration: env.d(10 * time.Second), Warmup: env.d(3 * time.Second),
				Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}})
			res.Capacity = r.Throughput
			return err
		})
	})
	if err != nil {
		return res, fmt.Errorf("fairness capacity: %w", err)
	}
	if res.Capacity <= 0 {
		return res, fmt.Errorf("fairness: the pool completed nothing")
	}
	floodRate := cfg.FloodFactor * res.Capacity
	quietRate := cfg.QuietShare * floodRate
	// A's backlog, (factor − 1)·Flood seconds of the pool's work, drains after the flood; the rest is margin.
	drain := time.Duration(cfg.FloodFactor*float64(cfg.Flood)) + env.d(60*time.Second)
	a := steady("A", keyA, floodRate, 2, cfg.Flood)
	b := steady("B", keyB, quietRate, 1, cfg.Flood)

	type plannedRun struct {
		into    *FairnessRun
		name    string
		lanes   int
		env     []string
		sources []scenario.Source
		drain   time.Duration
	}
	var runs []plannedRun
	res.Alone, res.Laned = make([]FairnessRun, cfg.Rounds), make([]FairnessRun, cfg.Rounds)
	for i := range cfg.Rounds {
		runs = append(runs, plannedRun{&res.Alone[i], fmt.Sprintf("B alone (round %d)", i+1), cfg.Lanes, laned, []scenario.Source{b}, env.d(30 * time.Second)},
			plannedRun{&res.Laned[i], fmt.Sprintf("noisy-neighbour (round %d)", i+1), cfg.Lanes, laned, []scenario.Source{a, b}, drain})
	}
	runs = append(runs, plannedRun{&res.OneQueue, "noisy-neighbour", 1, throttled, []scenario.Source{a, b}, drain},
		plannedRun{&res.Pair, "equal demand", cfg.Lanes, laned, []scenario.Source{
			steady("A", keyA, cfg.PairFactor*res.Capacity, 1, cfg.PairFor),
			steady("B", keyB, cfg.PairFactor*res.Capacity, 1, cfg.PairFor)},
			time.Duration(2*cfg.PairFactor*float64(cfg.PairFor)) + env.d(30*time.Second)})
	for _, r := range runs {
		env.Log.Info().Str("run", r.name).Int("lanes", r.lanes).Msg("fairness")
		sc, err := scenario.NewMultiSource(r.name, r.drain, r.sources...)
		if err != nil {
			return res, err
		}
		err = env.vhost(ctx, "fairness", func(url string) error {
			return env.withWorkers(ctx, url, cfg.Workers, r.env, func() error {
				out, err := run.Run(ctx, run.Options{URL: url, Scenario: sc, Log: zerolog.Nop()})
				*r.into = FairnessRun{Name: r.name, Lanes: r.lanes, Report: out.Report}
				if err == nil && out.Interrupted {
					err = fmt.Errorf("interrupted: %w", context.Cause(ctx))
				}
				return err
			})
		})
		if err != nil {
			return res, fmt.Errorf("fairness %s with %d lane(s): %w", r.name, r.lanes, err)
		}
		for _, s := range r.into.Report.Sources {
			env.Log.Info().Str("run", r.name).Int("lanes", r.lanes).Str("source", s.Name).Int64("lost", s.Lost).
				Dur("p99", s.Latency.P99).Msg("fairness")
		}
	}

	keys := make([]string, cfg.SatKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("sat-%d", i)
	}
	// Rounds alternate one queue and lanes, so that a slow minute of this shared machine does not land on one.
	for round := 0; round < cfg.SatRounds; round++ {
		for _, workers := range []int{1, 2} {
			for _, lanes := range []int{1, cfg.SatLanes} {
				env.Log.Info().Int("workers", workers).Int("lanes", lanes).Msg("fairness: saturation")
				err := env.vhost(ctx, "fairness", func(url string) error {
					return env.withWorkers(ctx, url, workers, lanesEnv(lanes, ""), func() error {
						r, err := flood.Run(ctx, flood.Options{URL: url, Exchange: topology.FilterExchange, Publishers: 4,
							Window: 4000, Size: publish.DefaultSize, Duration: cfg.SatDuration, Warmup: cfg.SatWarmup, Keys: keys,
							Consumer: flood.Consumer{Queue: topology.Results, Prefetch: 2000}})
						res.Saturation = append(res.Saturation, SaturationPoint{Workers: workers, Lanes: lanes, Throughput: r.Throughput})
						return err
					})
				})
				if err != nil {
					return res, fmt.Errorf("fairness saturation, %d workers, %d lanes: %w", workers, lanes, err)
				}
			}
		}
	}
	return res, nil
}

// lanesEnv configures a worker's filter lanes.
func lanesEnv(count int, pins string) []string {
	return []string{fmt.Sprintf("WARREN_LANES_FILTER_COUNT=%d", count), "WARREN_LANES_FILTER_PIN=" + pins}
}

// steady is a source sending rate events/s (over publishers) for d.
func steady(name, key string, rate float64, publishers int, d time.Duration) scenario.Source {
	return scenario.Source{Name: name, Key: key, Steps: []scenario.Step{{
		Pattern:    pattern.Spec{Kind: pattern.Steady, Rate: rate / float64(publishers), Duration: d},
		Publishers: publishers, Target: scenario.Filter}}}
}

// withWorkers runs f while n filter workers with env consume on url.
func (e *Env) withWorkers(ctx context.Context, url string, n int, env []string, f func() error) error {
	ws, err := e.workers(ctx, url, n, env...)
	if err != nil {
		return err
	}
	defer stopAll(ctx, ws)
	return f()
}

// saturation returns the mean throughput measured with workers and lanes over the rounds (zero when not
// measured).
func (r FairnessResult) saturation(workers, lanes int) float64 {
	var xs []float64
	for _, p := range r.Saturation {
		if p.Workers == workers && p.Lanes == lanes {
			xs = append(xs, p.Throughput)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	return mean(xs)
}

// Section renders the result as its own results.md section, for a run on m that took took.
func (r FairnessResult) Section(m Machine, took time.Duration) string {
	r.Machine, r.Took = m, took
	return r.Markdown()
}

// Markdown renders the fairness section of results.md.
func (r FairnessResult) Markdown() string {
	var b strings.Builder
	m, c := r.Machine, r.Config
	fmt.Fprintf(&b, "## %s — fairness — commit %s\n\n", m.At.Format("2006-01-02 15:04 MST"), m.commitLabel())
	fmt.Fprintf(&b, "%s Load average at the start: %.2f. The benchmark took %s.\n\n", m.sentence(), m.Load, r.Took.Round(time.Second))
	fmt.Fprintf(&b, "A fixed pool of %d filter workers, each with %d handler taking %v per event: capacity measured at **%s ev/s** (closed loop). "+
		"*noisy-neighbour*: source A (key `%s`) floods at %g× that, %s ev/s, for %s while source B (key `%s`) sends %g %% of A, %s ev/s. "+
		"With lanes the pool has %d lanes and the keys are pinned to lanes 0 and 1; *one queue* is today's single work queue. "+
		"*equal demand*: A and B each at %g× the capacity for %s, on lanes. Latency is publish → result, per source. "+
		"B alone and noisy-neighbour on lanes run %d times, alternately, and each round is judged against its own B alone.\n\n",
		c.Workers, c.Concurrency, c.WorkDelay, num(r.Capacity), keyA, c.FloodFactor, num(c.FloodFactor*r.Capacity), secs(c.Flood),
		keyB, c.QuietShare*100, num(c.QuietShare*c.FloodFactor*r.Capacity), c.Lanes, c.PairFactor, secs(c.PairFor), c.Rounds)
	b.WriteString("| run | lanes | source | sent | delivered | lost | dead | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|\n")
	all := append(append(append([]FairnessRun{}, r.Alone...), r.Laned...), r.OneQueue, r.Pair)
	var lost int64
	for _, run := range all {
		lost += run.Report.Lost
		for _, s := range run.Report.Sources {
			fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %d | %d | %s | %s | %s |\n", run.Name, run.Lanes, s.Name, num(float64(s.Sent)),
				num(float64(s.Delivered)), s.Lost, s.DeadLettered, latency(s.Latency.P50), latency(s.Latency.P99), latency(s.Latency.Max))
		}
	}
	b.WriteString("\n| bar | measured | verdict |\n|---|---|---|\n")
	// Each round's B with lanes against the same round's B alone; a bar is met when every round meets it.
	var ratios, p99s []string
	within2, within1s := len(r.Laned) > 0, len(r.Laned) > 0
	for i := range r.Laned {
		alone, laned := r.Alone[i].p99("B"), r.Laned[i].p99("B")
		ratio := 0.0
		if alone > 0 {
			ratio = float64(laned) / float64(alone)
		}
		ratios = append(ratios, fmt.Sprintf("%s vs %s (%.2f×)", latency(laned), latency(alone), ratio))
		p99s = append(p99s, latency(laned))
		within2 = within2 && alone > 0 && ratio <= 2
		within1s = within1s && laned > 0 && laned <= time.Second
	}
	fmt.Fprintf(&b, "| B's p99 with lanes ≤ 2× its p99 alone, each round | %s | %s |\n", strings.Join(ratios, "; "), verdict(within2))
	fmt.Fprintf(&b, "| B's p99 with lanes ≤ 1 s, each round | %s | %s |\n", strings.Join(p99s, "; "), verdict(within1s))
	one := r.OneQueue.p99("B")
	fmt.Fprintf(&b, "| B's p99 with one queue (for comparison) | %s | — |\n", latency(one))
	if f := r.Pair.Report.Fairness; f != nil && f.Defined {
		fmt.Fprintf(&b, "| equal demand: Jain's index ≥ 0.99 | %.4f over a %s window | %s |\n", f.Index, secs(f.Window()), verdict(f.Index >= 0.99))
	} else {
		b.WriteString("| equal demand: Jain's index ≥ 0.99 | not measured | **missed** |\n")
	}
	one1, lanes1 := r.saturation(1, 1), r.saturation(1, c.SatLanes)
	cost := 0.0
	if one1 > 0 {
		cost = 1 - lanes1/one1
	}
	fmt.Fprintf(&b, "| throughput cost of %d lanes at saturation (1 unthrottled worker, %d keys, mean of %d rounds) ≤ 10 %% | %s vs %s ev/s: %.1f %% | %s |\n",
		c.SatLanes, c.SatKeys, c.SatRounds, num(lanes1), num(one1), cost*100, verdict(one1 > 0 && cost <= 0.10))
	fmt.Fprintf(&b, "| lost, every run | %d | %s |\n", lost, verdict(lost == 0))
	one2, lanes2 := r.saturation(2, 1), r.saturation(2, c.SatLanes)
	gain := 0.0
	if one2 > 0 {
		gain = lanes2/one2 - 1
	}
	fmt.Fprintf(&b, "\nPeak throughput with 2 unthrottled workers: %s ev/s on one queue, %s ev/s on %d lanes (%+.1f %%): ",
		num(one2), num(lanes2), c.SatLanes, gain*100)
	if gain > 0.05 {
		b.WriteString("lanes raise the peak on this broker, as spreading the quorum queues' work over more processes lets it use both cores.\n\n")
	} else {
		b.WriteString("lanes do not raise the peak on this 2-core machine: the broker's cores, not one queue's process, are the limit.\n\n")
	}
	return b.String()
}

// latency writes a latency in milliseconds below a second, else in seconds.
func latency(d time.Duration) string {
	if d < time.Second {
		return secsMs(d)
	}
	return secs(d)
}
