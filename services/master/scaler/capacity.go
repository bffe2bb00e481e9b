package scaler

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Capacity sources, reported next to every decision so logs say which C the pool was sized with.
const (
	// SourceStatic means C was configured as a fixed number.
	SourceStatic = "static"
	// SourceAuto means C was learned from worker reports.
	SourceAuto = "auto"
	// SourceAutoInitial means C is to be learned but no report has shown it yet, so the configured initial guess is
	// in use.
	SourceAutoInitial = "auto-initial"
)

// Defaults for a CapacityLearner, used where a LearnerConfig field is zero.
const (
	// DefaultInitialCapacity is the C, in events per second, assumed before any worker has shown its capacity.
	DefaultInitialCapacity = 1000.0
	// DefaultCapacityFloor is the least C, in events per second, ever returned.
	DefaultCapacityFloor = 1.0
	// DefaultCapacityWindow is how long a worker report counts: long enough for dozens of reports per worker,
	// short enough to follow a redeployment within a minute.
	DefaultCapacityWindow = 60 * time.Second
	// DefaultCapacityQuantile is the quantile of saturated per-worker rates taken as C.
	DefaultCapacityQuantile = 0.9
	// DefaultMaxSamples bounds the reports kept: a minute of per-second reports from about 68 workers.
	DefaultMaxSamples = 4096
)

// ErrInvalidCapacity reports a capacity configuration or worker report that cannot be used.
var ErrInvalidCapacity = errors.New("invalid capacity")

// Capacity is a source of C, the number of events per second one worker processes. The master asks it once per
// evaluation; the second result is one of SourceStatic, SourceAuto or SourceAutoInitial.
type Capacity interface {
	Capacity(now time.Time) (float64, string)
}

// StaticCapacity is a configured, fixed C in events per second.
type StaticCapacity float64

// Capacity returns c itself; it does not depend on time.
func (c StaticCapacity) Capacity(time.Time) (float64, string) { return float64(c), SourceStatic }

// LearnerConfig tunes a CapacityLearner. Zero fields take the defaults above.
type LearnerConfig struct {
	// Initial is the C used until a saturated report has been seen. Better too high than too low: an optimistic
	// guess under-provisions for a moment until the backlog term of the formula adds workers, while a pessimistic
	// one starts far too many workers for a light load.
	Initial float64
	// Floor is the least C ever returned, so a stalled worker reporting zero cannot make the formula ask for an
	// unbounded fleet.
	Floor float64
	// Window is how long a report counts. Capacity changes with deployments and host load, so old evidence expires.
	Window time.Duration
	// Quantile of the saturated per-worker rates taken as C, in (0, 1]. A high quantile rather than the mean,
	// because even a saturated interval loses throughput to pauses and broker hiccups, so most samples understate
	// what a worker can do; not the maximum, so one mis-timed report cannot inflate C.
	Quantile float64
	// MaxSamples bounds memory whatever the number of workers and the report rate; the oldest samples go first.
	MaxSamples int
}

// Validate reports a configuration that cannot work. Zero fields are valid: they select the defaults.
func (c LearnerConfig) Validate() error {
	switch {
	case c.Initial < 0 || math.IsNaN(c.Initial) || math.IsInf(c.Initial, 0):
		return fmt.Errorf("%w: initial capacity %v", ErrInvalidCapacity, c.Initial)
	case c.Floor < 0 || math.IsNaN(c.Floor) || math.IsInf(c.Floor, 0):
		return fmt.Errorf("%w: capacity floor %v", ErrInvalidCapacity, c.Floor)
	case c.Window < 0:
		return fmt.Errorf("%w: capacity window %v is negative", ErrInvalidCapacity, c.Window)
	case c.Quantile < 0 || c.Quantile > 1 || math.IsNaN(c.Quantile):
		return fmt.Errorf("%w: capacity quantile %v is outside (0, 1]", ErrInvalidCapacity, c.Quantile)
	case c.MaxSamples < 0:
		return fmt.Errorf("%w: max samples %d is negative", ErrInvalidCapacity, c.MaxSamples)
	}
	return nil
}

func (c LearnerConfig) withDefaults() LearnerConfig {
	if c.Initial == 0 {
		c.Initial = DefaultInitialCapacity
	}
	if c.Floor == 0 {
		c.Floor = DefaultCapacityFloor
	}
	if c.Window == 0 {
		c.Window = DefaultCapacityWindow
	}
	if c.Quantile == 0 {
		c.Quantile = DefaultCapacityQuantile
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = DefaultMaxSamples
	}
	return c
}

type capacitySample struct {
	at        time.Time
	rate      float64 // events/s over the report interval
	saturated bool
}

// CapacityLearner learns C from the per-interval reports of a pool's workers.
//
// Only a saturated interval — one in which the worker always had work available — measures capacity: the worker
// processed as fast as it could. An unsaturated interval measures the arrival rate it was fed, which is merely a
// lower bound on what it could have done. The learner therefore estimates C as a high quantile of recent saturated
// rates, raised to the same quantile of recent unsaturated rates if that is higher (a worker demonstrably did that
// much), and falls back to the initial guess, equally raised, while no saturated interval is on record.
//
// A CapacityLearner is safe for concurrent use: reports arrive on the stats consumer while the evaluation loop asks
// for C.
type CapacityLearner struct {
	cfg LearnerConfig

	mu      sync.Mutex
	samples []capacitySample     // in arrival order
	last    map[string]time.Time // newest report time per worker, to drop duplicates and stale reordering
}

// NewCapacityLearner returns a learner configured by cfg, with zero fields replaced by defaults.
func NewCapacityLearner(cfg LearnerConfig) (*CapacityLearner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("capacity learner: %w", err)
	}
	return &CapacityLearner{cfg: cfg.withDefaults(), last: map[string]time.Time{}}, nil
}

// Observe records that worker processed the given number of events during a report interval ending at at.
// saturated says whether the worker had work available for the whole interval; the caller decides that, typically
// from the worker's utilization or from the work queue having ready messages.
//
// at should come from the master's clock (when the report was received), not the worker's, so that a worker with a
// skewed clock cannot expire everyone else's reports. A report that is not newer than the worker's previous one is
// ignored, so a duplicated or reordered report is not
// counted twice. Invalid reports are rejected with an error and change nothing.
func (l *CapacityLearner) Observe(worker string, processed int, interval time.Duration, saturated bool, at time.Time) error {
	switch {
	case worker == "":
		return fmt.Errorf("%w: report without a worker id", ErrInvalidCapacity)
	case processed < 0:
		return fmt.Errorf("%w: worker %s reported %d processed", ErrInvalidCapacity, worker, processed)
	case interval <= 0:
		return fmt.Errorf("%w: worker %s reported interval %v", ErrInvalidCapacity, worker, interval)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.last[worker]; ok && !at.After(prev) {
		return nil
	}
	l.last[worker] = at
	l.samples = append(l.samples, capacitySample{
		at:        at,
		rate:      float64(processed) / interval.Seconds(),
		saturated: saturated,
	})
	l.prune(at)
	return nil
}

// prune drops samples that have expired relative to the newest report and keeps at most MaxSamples, so memory
// stays bounded even if Capacity is never called.
func (l *CapacityLearner) prune(newest time.Time) {
	cutoff := newest.Add(-l.cfg.Window)
	kept := l.samples[:0]
	for _, s := range l.samples {
		if s.at.After(cutoff) {
			kept = append(kept, s)
		}
	}
	clear(l.samples[len(kept):])
	if excess := len(kept) - l.cfg.MaxSamples; excess > 0 {
		kept = append(kept[:0], kept[excess:]...)
	}
	l.samples = kept
	for w, t := range l.last {
		if !t.After(cutoff) {
			delete(l.last, w)
		}
	}
}

// Capacity returns the learned C in events per second and its source: SourceAuto when the value comes from
// reports, SourceAutoInitial when it is the configured initial guess. Reports older than the window before now do
// not count. The result is never below the configured floor.
func (l *CapacityLearner) Capacity(now time.Time) (float64, string) {
	cutoff := now.Add(-l.cfg.Window)
	var sat, unsat []float64
	l.mu.Lock()
	for _, s := range l.samples {
		if !s.at.After(cutoff) {
			continue
		}
		if s.saturated {
			sat = append(sat, s.rate)
		} else {
			unsat = append(unsat, s.rate)
		}
	}
	l.mu.Unlock()

	c, source := l.cfg.Initial, SourceAutoInitial
	if len(sat) > 0 {
		c, source = quantile(sat, l.cfg.Quantile), SourceAuto
	}
	if len(unsat) > 0 {
		if lower := quantile(unsat, l.cfg.Quantile); lower > c {
			c, source = lower, SourceAuto
		}
	}
	return max(c, l.cfg.Floor), source
}

// quantile returns the nearest-rank q-quantile of xs, which must not be empty; xs is sorted in place.
func quantile(xs []float64, q float64) float64 {
	slices.Sort(xs)
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}
