// Package run is loadgen's engine: it plays a scenario against a live Warren with several publishers, reads
// the results and the master's pool status while it does, drains, and returns the report. The command line
// is a thin wrapper around Run, and tests and benchmarks embed it.
package run

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warren-mq/warren/loadgen/collect"
	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/loadgen/report"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/timeseries"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// Outcome is what a run produced.
type Outcome struct {
	// RunID prefixes every id the run sent.
	RunID string
	// Report is the final accounting; events still unanswered after the drain are lost. A multi-source
	// run's report also has an account per source (Report.Sources) and the fairness across them
	// (Report.Fairness).
	Report report.Report
	// Samples are the master's pool status as the run saw it, with loadgen's own rates; without a master,
	// loadgen's rates alone, once a second.
	Samples []timeseries.Sample
	// SourceSeries are each source's sends, results and latency per second of a multi-source run, in the
	// scenario's order; nil for a single-source run.
	SourceSeries []timeseries.SourceSeries
	// Start is the scenario's time zero, and SendEnd when the last publisher finished its last step.
	Start, SendEnd time.Time
	// Interrupted says ctx ended before the scenario did.
	Interrupted bool
	// Files lists what was written to Options.Out.
	Files []string
}

// Run plays o.Scenario and returns its outcome. When ctx ends early it stops publishing at once, drains
// for at most o.InterruptDrain, and still returns the report, with Interrupted set and a nil error. An error
// means the run could not start (bad options, no broker) or could not write its files; the outcome is still
// filled in as far as it got.
func Run(ctx context.Context, o Options) (Outcome, error) {
	if err := o.validate(); err != nil {
		return Outcome{}, err
	}
	r, err := newRunner(o)
	if err != nil {
		return Outcome{}, err
	}
	return r.run(ctx)
}

// runner holds one run's state.
type runner struct {
	o     Options
	sc    *scenario.Scenario
	runID string
	msgs  *publish.Messages
	rec   *report.Recorder
	// sources are the scenario's sources (one for a single-source scenario) with their patterns.
	sources []source
	targets map[string]bool
	// mainPool is the pool of the first step that sends: the one the progress line follows.
	mainPool string

	sent, results atomic.Int64

	mu       sync.Mutex
	started  bool
	ts       *timeseries.Recorder
	local    []timeseries.Sample
	last     map[string]poolMark
	status   event.PoolStatus
	haveStat bool
}

// source is one source of the run with a pattern per step, nil for a pause.
type source struct {
	scenario.Source
	patterns []*pattern.Pattern
}

// poolMark is where loadgen's totals stood at a pool's previous status, so each sample carries the send and
// result rates over the same window as the master's own measurement.
type poolMark struct {
	t              time.Time
	sent, received int64
}

func newRunner(o Options) (*runner, error) {
	runID, err := newRunID()
	if err != nil {
		return nil, err
	}
	msgs, err := publish.NewMessages(runID, o.Size)
	if err != nil {
		return nil, usageError{err}
	}
	seed := o.Seed
	if seed == 0 {
		seed = mrand.Uint64()
	}
	rng := mrand.New(mrand.NewPCG(seed, seed^0x5eed))
	r := &runner{o: o, sc: o.Scenario, runID: runID, msgs: msgs, targets: map[string]bool{}, last: map[string]poolMark{}}
	var accounts []report.Source
	// Patterns are built source by source, step by step, so a seed draws the same rates for the same file.
	for _, s := range r.sc.AllSources() {
		src := source{Source: s}
		for i, st := range s.Steps {
			if st.IsPause() {
				src.patterns = append(src.patterns, nil)
				continue
			}
			p, err := pattern.New(st.Pattern, rng)
			if err != nil {
				return nil, usage("%s: %s: %w", r.sc.File, stepName(s.Name, i), err)
			}
			src.patterns = append(src.patterns, p)
			r.targets[string(st.Target)] = true
			if r.mainPool == "" {
				r.mainPool = string(st.Target)
			}
		}
		r.sources = append(r.sources, src)
		accounts = append(accounts, report.Source{Name: s.Name, Key: s.Key})
	}
	if r.sc.MultiSource() {
		r.rec = report.NewRecorder(accounts...)
	} else {
		r.rec = report.NewRecorder()
	}
	return r, nil
}

// stepName names a step in a message: "step 2", or "source B: step 2" in a multi-source scenario.
func stepName(source string, i int) string {
	if source == "" {
		return fmt.Sprintf("step %d", i+1)
	}
	return fmt.Sprintf("source %s: step %d", source, i+1)
}

func newRunID() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("run id: %w", err)
	}
	return "lg" + hex.EncodeToString(b), nil
}

func (r *runner) run(ctx context.Context) (Outcome, error) {
	out := Outcome{RunID: r.runID}
	log := r.o.Log.With().Str("run", r.runID).Logger()

	// The collector outlives ctx: after an interrupt it must still read the results of the drain.
	cctx, cstop := context.WithCancel(context.WithoutCancel(ctx))
	ready := make(chan struct{}, 1)
	cdone := make(chan error, 1)
	go func() {
		cdone <- collect.Run(cctx, collect.Options{
			URL: r.o.URL, RunID: r.runID, Recorder: r.rec, Broadcasts: r.targets[string(scenario.Broadcaster)],
			OnResult: func(scenario.Target) { r.results.Add(1) },
			OnStatus: r.onStatus, Log: log,
			Ready: func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			},
		})
	}()
	stopCollector := func() error {
		cstop()
		return <-cdone
	}
	timer := time.NewTimer(r.o.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case err := <-cdone:
		cstop()
		return out, fmt.Errorf("connect to %s: %w", amqpx.Redact(r.o.URL), err)
	case <-timer.C:
		_ = stopCollector()
		return out, fmt.Errorf("broker at %s not reachable within %s", amqpx.Redact(r.o.URL), r.o.ConnectTimeout)
	case <-ctx.Done():
		_ = stopCollector()
		out.Interrupted = true
		out.Report = r.rec.Report(r.sc.Name)
		return out, nil
	}

	start := time.Now()
	out.Start = start
	r.mu.Lock()
	r.started = true
	r.ts = timeseries.NewRecorder(start)
	r.mu.Unlock()
	if r.o.OnStart != nil {
		r.o.OnStart(start)
	}
	log.Info().Str("scenario", r.sc.Name).Int("sources", len(r.sources)).Int("steps", len(r.sc.Steps)).
		Dur("duration", r.sc.Duration()).Float64("expected_events", r.sc.ExpectedEvents()).Msg("load run starting")

	tctx, tstop := context.WithCancel(context.WithoutCancel(ctx))
	tickDone := make(chan struct{})
	go func() { defer close(tickDone); r.tick(tctx, start) }()

	pubErr := r.publishAll(ctx, start)
	out.SendEnd = time.Now()
	out.Interrupted = ctx.Err() != nil

	drain := r.o.DrainTimeout
	if out.Interrupted {
		drain = r.o.InterruptDrain
	}
	r.drain(drain)
	cerr := stopCollector()
	tstop()
	<-tickDone

	out.Report = r.rec.Report(r.sc.Name)
	out.Samples = r.samples()
	out.SourceSeries = r.rec.SourceSeries(start, time.Second)
	if cerr != nil {
		log.Warn().Err(cerr).Msg("result collector stopped with an error")
	}
	ev := log.Info().Int64("sent", out.Report.Sent).Int64("delivered", out.Report.Delivered).Int64("lost", out.Report.Lost).
		Bool("interrupted", out.Interrupted)
	if f := out.Report.Fairness; f != nil && f.Defined {
		ev = ev.Float64("jain_index", f.Index)
	}
	ev.Msg("load run finished")
	var errs []error
	if pubErr != nil {
		errs = append(errs, pubErr)
	}
	if r.o.Out != "" {
		files, err := writeOutputs(r.o.Out, r.sc, out)
		out.Files = files
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// exchange is where a step's events go.
func exchange(t scenario.Target) string {
	if t == scenario.Broadcaster {
		return topology.BroadcasterExchange
	}
	return topology.FilterExchange
}

// publishAll runs every source at once, each with as many publishers as its busiest step needs; publishers
// are numbered across the sources, so every id of the run is distinct. The first publisher that fails for
// good stops them all.
func (r *runner) publishAll(ctx context.Context, start time.Time) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		cancel()
	}
	index := 0
	for si, src := range r.sources {
		for i := range src.Publishers() {
			p := publish.New(publish.Options{
				URL: r.o.URL, Name: r.publisherName(src.Name, index), Index: index, Source: si, Key: src.Key,
				Messages: r.msgs, Recorder: r.rec, OnSend: func() { r.sent.Add(1) }, Log: r.o.Log,
			})
			wg.Go(func() { r.publishSource(ctx, pctx, p, src, i, start, fail) })
			index++
		}
	}
	wg.Wait()
	return first
}

// publisherName labels a publisher's connection, with its source in a multi-source run.
func (r *runner) publisherName(source string, index int) string {
	if source == "" {
		return fmt.Sprintf("warren-loadgen %s publisher %d", r.runID, index)
	}
	return fmt.Sprintf("warren-loadgen %s source %s publisher %d", r.runID, source, index)
}

// publishSource runs the i-th publisher of src through the source's steps, then closes it. Step k starts at
// its planned offset from start whatever happened before, so one late step does not shift the rest; a
// publisher idle in a step (or one that finished its share early) waits for the next step's start. ctx is
// the run's and pctx the publishers', which fail ends, before this publisher's close waits for its confirms.
func (r *runner) publishSource(ctx, pctx context.Context, p *publish.Publisher, src source, i int, start time.Time,
	fail func(error)) {
	defer func() {
		// Confirms come back within milliseconds; the bound only matters when the broker is gone.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		if err := p.Close(cctx); err != nil {
			r.o.Log.Warn().Err(err).Msg("close publisher")
		}
	}()
	stepStart := start
	for k, st := range src.Steps {
		if pctx.Err() != nil {
			return
		}
		if i < st.Publishers && src.patterns[k] != nil {
			if err := p.Send(pctx, exchange(st.Target), src.patterns[k].Schedule(i), stepStart); err != nil {
				who := fmt.Sprintf("publisher %d", i)
				if src.Name != "" {
					who = "source " + src.Name + " " + who
				}
				fail(fmt.Errorf("%s: %w", who, err))
				return
			}
		}
		stepStart = stepStart.Add(st.Duration())
		pattern.Sleep(pctx, time.Until(stepStart))
	}
}

// drain waits until every confirmed event has a result or a dead letter, or d passes.
func (r *runner) drain(d time.Duration) {
	deadline := time.Now().Add(d)
	for r.rec.Outstanding() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// onStatus turns a master status into a sample, for the pools the scenario sends to.
func (r *runner) onStatus(st event.PoolStatus) {
	now := time.Now()
	sent, received := r.sent.Load(), r.results.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.targets[st.Pool] {
		return
	}
	if st.Pool == r.mainPool {
		r.status, r.haveStat = st, true
	}
	if !r.started {
		return
	}
	s := timeseries.Sample{T: now, Pool: st.Pool, Lambda: st.Lambda, Backlog: st.Backlog, Workers: st.Current,
		Desired: st.Desired, Capacity: st.Capacity, Reason: st.Reason}
	prev, ok := r.last[st.Pool]
	if !ok {
		prev = poolMark{t: r.ts.Start()}
	}
	if dt := now.Sub(prev.t).Seconds(); dt > 0 {
		s.SentRate = float64(sent-prev.sent) / dt
		s.ResultRate = float64(received-prev.received) / dt
	}
	r.last[st.Pool] = poolMark{t: now, sent: sent, received: received}
	r.ts.Add(s)
}

// samples returns the master's samples or, when no master spoke during the run, loadgen's own.
func (r *runner) samples() []timeseries.Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.ts.Samples(); len(s) > 0 {
		return s
	}
	return append([]timeseries.Sample(nil), r.local...)
}

// tick measures loadgen's own rates once a second, keeps them as fallback samples, and prints progress.
func (r *runner) tick(ctx context.Context, start time.Time) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	sentMeter, resultMeter := report.NewMeter(nil), report.NewMeter(nil)
	pool := r.mainPool
	if pool == "" {
		pool = string(scenario.Filter)
	}
	var lastPrint time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			sendRate, resultRate := sentMeter.Rate(r.sent.Load()), resultMeter.Rate(r.results.Load())
			r.mu.Lock()
			r.local = append(r.local, timeseries.Sample{T: now, Pool: pool, SentRate: sendRate, ResultRate: resultRate,
				Reason: "no master status"})
			st, have := r.status, r.haveStat
			r.mu.Unlock()
			if r.o.Progress == nil || now.Sub(lastPrint) < r.o.ProgressEvery-100*time.Millisecond {
				continue
			}
			lastPrint = now
			elapsed := now.Sub(start)
			// A multi-source run has no one current step: its line leaves the step out.
			p := report.Progress{Elapsed: elapsed, Total: r.sc.Duration(), Steps: len(r.sc.Steps),
				SendRate: sendRate, ResultRate: resultRate, HaveStatus: have,
				Backlog: st.Backlog, Workers: st.Current, Desired: st.Desired}
			if i, _, ok := r.sc.StepAt(elapsed); ok {
				p.Step = i + 1
			} else {
				p.Step = len(r.sc.Steps)
			}
			line := p.String()
			if elapsed > r.sc.Duration() {
				line += fmt.Sprintf("  draining: %d awaited", r.rec.Outstanding())
			}
			fmt.Fprintln(r.o.Progress, line)
		}
	}
}
