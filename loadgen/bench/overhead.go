package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/bench/proc"
	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/shared/event"
)

// OverheadResult is what the master cost while the load ran.
type OverheadResult struct {
	// Offered is the rate asked for; Sent the rate loadgen achieved (publishers wait when the broker
	// applies flow control), Lambda the mean arrival rate the master measured, and Results the rate at which
	// results came back.
	Offered, Sent, Lambda, Results float64
	// Duration is how long the load was offered; Window the measured stretch of it, after Settle.
	Duration, Window, Settle time.Duration
	// MasterCores is the master's CPU over the window in cores: 0.01 is 1 % of a core.
	MasterCores float64
	// MasterRSS is the master's largest resident memory in bytes, sampled every second.
	MasterRSS int64
	// BrokerCores and HarnessCores put the master's share in context.
	BrokerCores, HarnessCores float64
	// PeakWorkers is the most workers the master ran.
	PeakWorkers int
	// Evaluations counts the statuses the master published during the window.
	Evaluations int
}

// Overhead offers 20 000 events/s to warren.filter for 30 s with a master (process runtime, default pool
// settings) scaling the filter pool, and reads the master's CPU and memory from /proc. The master's cost is
// in counting arrivals (one purge of the count queue per interval), probing the work queue, reading worker
// reports and reconciling; none of it grows per event, which is what this checks.
func Overhead(ctx context.Context, env *Env) (OverheadResult, error) {
	const publishers = 4
	duration, settle := env.d(30*time.Second), env.d(5*time.Second)
	res := OverheadResult{Offered: 20000, Duration: duration, Settle: settle}
	broker := env.brokerPid(ctx)
	err := env.vhost(ctx, "overhead", func(url string) error {
		st, err := followStatus(ctx, url)
		if err != nil {
			return err
		}
		defer st.close()
		m, err := env.startMaster(url, masterSpec{Runtime: "process", WorkerEnv: []string{"WARREN_LOG_LEVEL=warn"}})
		if err != nil {
			return err
		}
		defer func() {
			if err := m.stop(context.WithoutCancel(ctx)); err != nil {
				env.Log.Warn().Err(err).Msg("stop master")
			}
		}()
		if err := st.waitFor(ctx, 60*time.Second, "one consuming worker", func(s event.PoolStatus) bool {
			return s.Current == 1 && s.Consumers == 1
		}); err != nil {
			return err
		}
		cpu := newCPUMeter(map[string]int{"master": m.child.Pid(), "broker": broker, "harness": selfPid})
		var from, to time.Time
		sampleDone := make(chan struct{})
		sctx, sstop := context.WithCancel(ctx)
		// Publishers that fall behind would catch up after the step's end, stretching the run; a machine that
		// cannot absorb the offered load is cut off at the planned end instead.
		rctx, rcancel := context.WithCancel(ctx)
		defer rcancel()
		onStart := func(start time.Time) {
			time.AfterFunc(time.Until(start.Add(duration)), rcancel)
			go func() {
				defer close(sampleDone)
				if !pattern.Sleep(sctx, time.Until(start.Add(settle))) {
					return
				}
				from = time.Now()
				cpu.mark(true)
				t := time.NewTicker(time.Second)
				defer t.Stop()
				for {
					if u, err := proc.Read(m.child.Pid()); err == nil {
						res.MasterRSS = max(res.MasterRSS, u.RSS)
					}
					select {
					case <-sctx.Done():
						return
					case <-t.C:
					}
					if time.Now().After(start.Add(duration)) {
						to = time.Now()
						cpu.mark(false)
						return
					}
				}
			}()
		}
		sc := &scenario.Scenario{Name: "master overhead", DrainTimeout: env.d(5 * time.Second), Steps: []scenario.Step{{
			Pattern:    pattern.Spec{Kind: pattern.Steady, Rate: res.Offered / publishers, Duration: duration},
			Publishers: publishers, Target: scenario.Filter}}}
		out, err := run.Run(rctx, run.Options{URL: url, Scenario: sc, Log: zerolog.New(io.Discard), OnStart: onStart,
			InterruptDrain: env.d(3 * time.Second)})
		sstop()
		<-sampleDone
		if err != nil {
			return err
		}
		if to.IsZero() {
			return fmt.Errorf("the run ended before the measured window did")
		}
		res.Window = to.Sub(from)
		res.MasterCores, res.BrokerCores, res.HarnessCores = cpu.Cores["master"], cpu.Cores["broker"], cpu.Cores["harness"]
		if d := out.SendEnd.Sub(out.Start); d > 0 {
			res.Sent = float64(out.Report.Sent) / d.Seconds()
		}
		if d := out.Report.Duration; d > 0 {
			res.Results = float64(out.Report.Delivered) / d.Seconds()
		}
		var lambda float64
		for _, s := range st.snapshot() {
			res.PeakWorkers = max(res.PeakWorkers, s.Current)
			if !s.At.Before(from) && !s.At.After(to) {
				res.Evaluations++
				lambda += s.Lambda
			}
		}
		if res.Evaluations > 0 {
			res.Lambda = lambda / float64(res.Evaluations)
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("master overhead: %w", err)
	}
	return res, nil
}
