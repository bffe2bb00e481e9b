package master

import (
	"fmt"
	"sync"
	"time"

	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// Evaluator turns one pool's measurements into decisions, evaluation after evaluation: the arrival-rate meter,
// the capacity source and the scaler of one pool. The master runs one per pool; the simulator drives the same
// code with a modelled queue, so what it replays is what the master would decide. Evaluate must be called from
// one goroutine; Observe may be called from another.
type Evaluator struct {
	name     string
	cfg      config.Pool
	scaler   *scaler.Scaler
	meter    *scaler.RateMeter
	capacity scaler.Capacity
	learner  *scaler.CapacityLearner // nil when C is static
	lastEval time.Time
}

// NewEvaluator returns the evaluator of pool name as configured in c, whose first window starts at now.
func NewEvaluator(name string, c config.Config, now time.Time) (*Evaluator, error) {
	pc, ok := c.Master.Pools[name]
	if !ok {
		return nil, c.Master.NoPoolError(name)
	}
	key := "master.pools." + name
	pol, err := PoolPolicy(key, pc)
	if err != nil {
		return nil, err
	}
	meter, err := scaler.NewRateMeter(c.Master.Smoothing)
	if err != nil {
		return nil, fmt.Errorf("master.smoothing: %w", err)
	}
	e := &Evaluator{name: name, cfg: pc, scaler: scaler.New(pol), meter: meter, lastEval: now}
	if e.capacity, e.learner, err = PoolCapacity(key, pc); err != nil {
		return nil, err
	}
	return e, nil
}

// ResetWindow starts a new arrival window at now, discarding what was counted before.
func (e *Evaluator) ResetWindow(now time.Time) { e.lastEval = now }

// Evaluate sizes the pool from one window's measurements: arrived events counted since the last evaluation,
// ready messages in the work queue, held deliveries reported by the workers, and the current pool size.
func (e *Evaluator) Evaluate(now time.Time, arrived, ready, held, current int) (event.PoolStatus, scaler.Decision) {
	window := now.Sub(e.lastEval)
	e.lastEval = now
	lambda, err := e.meter.Observe(arrived, window)
	if err != nil {
		lambda = e.meter.Smoothed()
	}
	c := e.capacity.Capacity(now)
	backlog := ready + held
	dec := e.scaler.Decide(scaler.Input{Lambda: lambda, Backlog: backlog, Capacity: c.Value, Current: current, Now: now})
	pol := e.scaler.Policy()
	return event.PoolStatus{
		Pool: e.name, At: now.UTC(), Lambda: lambda, LambdaRaw: e.meter.Raw(), Backlog: backlog, Ready: ready,
		InFlight: held, Capacity: c.Value, CapacitySource: c.Source, CapacityReports: c.Reports,
		CapacityAge: c.Age(now).Seconds(), Formula: pol.Formula, TargetUtilization: pol.TargetUtilization,
		Tr: e.cfg.Tr.Seconds(), Current: current, Desired: dec.Desired, Raw: dec.Raw, Reason: dec.Reason,
	}, dec
}

// Observe feeds one worker report, received at now, to the capacity learner.
func (e *Evaluator) Observe(s event.WorkerStats, now time.Time) {
	if e.learner == nil {
		return
	}
	_ = e.learner.Observe(scaler.Report{Worker: s.Worker, Processed: s.Processed, Slots: s.Slots,
		Busy: time.Duration(s.Busy * float64(time.Second)), At: now})
}

// Restore seeds a learned capacity with what an earlier master published (a status of this pool), so a
// restarted master does not start from the initial guess. It does nothing for a static capacity.
func (e *Evaluator) Restore(st event.PoolStatus) {
	if e.learner == nil || st.Pool != e.name {
		return
	}
	switch st.CapacitySource {
	case scaler.SourceAuto, scaler.SourceAutoLastKnown, scaler.SourceAutoRestored:
		e.learner.Restore(st.Capacity, st.At.Add(-time.Duration(st.CapacityAge*float64(time.Second))))
	}
}

// pool is the master's state for one worker pool; its name and configuration are the Evaluator's.
type pool struct {
	*Evaluator
	env []string
	// lanes are the pool's work queues: its work queue alone, or its lanes (see topology.LaneQueues).
	lanes []string

	mu       sync.Mutex
	desired  int
	running  int
	retiring map[string]bool
	// last and workers are what the dashboard shows: the latest status and the workers last listed.
	last    event.PoolStatus
	workers []runtime.Worker
}

// PoolPolicy is the scaling policy a pool's configuration asks for; key names the pool's configuration
// (master.pools.NAME) in errors.
func PoolPolicy(key string, pc config.Pool) (scaler.Policy, error) {
	pol := scaler.Policy{Min: pc.Min, Max: pc.Max, Tr: pc.Tr, Formula: pc.Formula, TargetUtilization: pc.TargetUtilization,
		MaxStep: pc.MaxStep, Stabilization: pc.Stabilization, DeadBand: pc.DeadBand, ScaleDownRate: pc.ScaleDownRate}
	if pc.Stabilization == 0 {
		pol.Stabilization = -1 // configured as zero: scale down at once, not the scaler's default window
	}
	if err := pol.Validate(); err != nil {
		return scaler.Policy{}, fmt.Errorf("%s: %w", key, err)
	}
	return pol, nil
}

// PoolCapacity is the source of C a pool's configuration asks for: a fixed number, or a learner (returned too,
// so reports can be fed to it) when capacity is auto.
func PoolCapacity(key string, pc config.Pool) (scaler.Capacity, *scaler.CapacityLearner, error) {
	if static, ok := pc.StaticCapacity(); ok {
		return scaler.StaticCapacity(static), nil, nil
	}
	l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s.capacity: %w", key, err)
	}
	return l, l, nil
}

func newPool(name string, c config.Config, now time.Time) (*pool, error) {
	ev, err := NewEvaluator(name, c, now)
	if err != nil {
		return nil, err
	}
	// The workers consume the lanes this configuration declares, whatever configuration file they find.
	env := append([]string{"WARREN_POOL=" + name}, c.LaneEnv()...)
	return &pool{Evaluator: ev, retiring: map[string]bool{}, lanes: topology.LaneQueues(ev.cfg.WorkQueue, c.Lanes[ev.cfg.Service].Count),
		env: append(env, ev.cfg.Env...)}, nil
}

func (p *pool) spec() runtime.Spec {
	return runtime.Spec{Pool: p.name, Service: p.cfg.Service, Env: p.env, CPUs: p.cfg.CPUs, MemoryMB: p.cfg.MemoryMB}
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
