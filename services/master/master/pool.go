package master

import (
	"fmt"
	"sync"
	"time"

	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
)

// saturatedUtilization is the share of busy handler slots above which a worker's report counts as showing its
// full capacity rather than a lower bound.
const saturatedUtilization = 0.8

// pool is the master's state for one worker pool.
type pool struct {
	name     string
	cfg      config.Pool
	env      []string
	scaler   *scaler.Scaler
	meter    *scaler.RateMeter
	capacity scaler.Capacity
	learner  *scaler.CapacityLearner // nil when C is static

	// lastEval is touched only by the evaluation goroutine.
	lastEval time.Time

	mu       sync.Mutex
	desired  int
	running  int
	retiring map[string]bool
}

func newPool(name string, pc config.Pool, c config.Config, now time.Time) (*pool, error) {
	key := "master.pools." + name
	pol := scaler.Policy{Min: pc.Min, Max: pc.Max, Tr: pc.Tr, MaxStep: pc.MaxStep, Stabilization: pc.Stabilization, DeadBand: pc.DeadBand}
	if pc.Stabilization == 0 {
		pol.Stabilization = -1 // configured as zero: scale down at once, not the scaler's default window
	}
	if err := pol.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	meter, err := scaler.NewRateMeter(c.Master.Smoothing)
	if err != nil {
		return nil, fmt.Errorf("master.smoothing: %w", err)
	}
	p := &pool{name: name, cfg: pc, scaler: scaler.New(pol), meter: meter, lastEval: now, retiring: map[string]bool{},
		env: append([]string{"WARREN_POOL=" + name}, pc.Env...)}
	if static, ok := pc.StaticCapacity(); ok {
		p.capacity = scaler.StaticCapacity(static)
	} else {
		p.learner, err = scaler.NewCapacityLearner(scaler.LearnerConfig{})
		if err != nil {
			return nil, fmt.Errorf("%s.capacity: %w", key, err)
		}
		p.capacity = p.learner
	}
	return p, nil
}

func (p *pool) spec() runtime.Spec {
	return runtime.Spec{Pool: p.name, Service: p.cfg.Service, Env: p.env, CPUs: p.cfg.CPUs, MemoryMB: p.cfg.MemoryMB}
}

func (p *pool) resetWindow(now time.Time) { p.lastEval = now }

// evaluate turns one window's measurements into a status and a decision.
func (p *pool) evaluate(now time.Time, arrived, ready, inFlight, current int) (event.PoolStatus, scaler.Decision) {
	window := now.Sub(p.lastEval)
	p.lastEval = now
	lambda, err := p.meter.Observe(arrived, window)
	if err != nil {
		lambda = p.meter.Smoothed()
	}
	c, source := p.capacity.Capacity(now)
	backlog := ready + inFlight
	dec := p.scaler.Decide(scaler.Input{Lambda: lambda, Backlog: backlog, Capacity: c, Current: current, Now: now})
	return event.PoolStatus{
		Pool: p.name, At: now.UTC(), Lambda: lambda, LambdaRaw: p.meter.Raw(), Backlog: backlog, Ready: ready,
		InFlight: inFlight, Capacity: c, CapacitySource: source, Tr: p.cfg.Tr.Seconds(), Current: current,
		Desired: dec.Desired, Raw: dec.Raw, Reason: dec.Reason,
	}, dec
}

// observe feeds one worker report to the capacity learner.
func (p *pool) observe(s event.WorkerStats, now time.Time) {
	if p.learner == nil || s.Interval <= 0 {
		return
	}
	interval := time.Duration(s.Interval * float64(time.Second))
	_ = p.learner.Observe(s.Worker, s.Processed, interval, s.Utilization >= saturatedUtilization, now)
}

func (p *pool) setDesired(n int) {
	p.mu.Lock()
	p.desired = n
	p.mu.Unlock()
}

func (p *pool) getDesired() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.desired
}

func (p *pool) setAlive(n int) {
	p.mu.Lock()
	p.running = n
	p.mu.Unlock()
}

// alive is the number of running workers not being retired, as of the last reconcile.
func (p *pool) alive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}

func (p *pool) markRetiring(id string, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.retiring[id] = true
	} else {
		delete(p.retiring, id)
	}
}

func (p *pool) isRetiring(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.retiring[id]
}
