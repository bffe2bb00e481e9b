package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
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
	// Observed is the same run again with the master's status server on (master.status_addr), Prometheus'
	// view of it simulated by a scrape of /metrics and /sd/workers every second, and the dashboard open (one
	// client following /api/events); nil when it was not measured. Its MasterCores minus this run's is what
	// metrics and dashboard cost.
	Observed *OverheadResult `json:",omitempty"`
	// Scrapes and DashboardEvents count what the observers received during an observed run.
	Scrapes, DashboardEvents int
}

// ObservabilityCores is what the status server, metrics and dashboard added to the master's CPU, in cores.
func (r OverheadResult) ObservabilityCores() float64 {
	if r.Observed == nil {
		return 0
	}
	return r.Observed.MasterCores - r.MasterCores
}

// Overhead offers 20 000 events/s to warren.filter for 30 s with a master (process runtime, default pool
// settings) scaling the filter pool, and reads the master's CPU and memory from /proc. The master's cost is
// in counting arrivals (one purge of the count queue per interval), probing the work queue, reading worker
// reports and reconciling; none of it grows per event, which is what this checks.
//
// It runs twice: once with no status server, once with the status server on and observed as Prometheus and an
// open dashboard would, so the difference is what observability costs.
func Overhead(ctx context.Context, env *Env) (OverheadResult, error) {
	res, err := overheadRun(ctx, env, false)
	if err != nil {
		return res, err
	}
	observed, err := overheadRun(ctx, env, true)
	if err != nil {
		return res, fmt.Errorf("observed: %w", err)
	}
	res.Observed = &observed
	return res, nil
}

func overheadRun(ctx context.Context, env *Env, observe bool) (OverheadResult, error) {
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
		spec := masterSpec{Runtime: "process", WorkerEnv: []string{"WARREN_LOG_LEVEL=warn"}}
		if observe {
			if spec.StatusAddr, err = freeAddr(); err != nil {
				return err
			}
			spec.Name = "process-observed"
		}
		m, err := env.startMaster(url, spec)
		if err != nil {
			return err
		}
		if observe {
			octx, ostop := context.WithCancel(ctx)
			obs := startObservers(octx, spec.StatusAddr)
			defer func() {
				ostop()
				res.Scrapes, res.DashboardEvents = obs.wait()
			}()
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

// observers stand in for Prometheus and an open dashboard during an observed overhead run.
type observers struct {
	done            chan struct{}
	scrapes, events int
}

// startObservers scrapes the master's /metrics and /sd/workers every second and follows its dashboard's event
// stream, until ctx ends.
func startObservers(ctx context.Context, addr string) *observers {
	o := &observers{done: make(chan struct{})}
	base := "http://" + addr
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			for _, path := range []string{"/metrics", "/sd/workers"} {
				if httpGet(ctx, base+path) == nil && path == "/metrics" {
					o.scrapes++
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			o.events += followEvents(ctx, base+"/api/events")
			pattern.Sleep(ctx, time.Second)
		}
	}()
	go func() { wg.Wait(); close(o.done) }()
	return o
}

// wait returns the successful scrapes and the dashboard events received, once the observers stopped.
func (o *observers) wait() (scrapes, events int) {
	<-o.done
	return o.scrapes, o.events
}

func httpGet(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// followEvents reads a server-sent event stream until it ends, returning how many events it carried.
func followEvents(ctx context.Context, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data:") {
			n++
		}
	}
	return n
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
