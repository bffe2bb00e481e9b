package scaler

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Capacity sources, reported next to every decision so logs and the status feed say which C the pool was sized
// with.
const (
	// SourceStatic means C was configured as a fixed number.
	SourceStatic = "static"
	// SourceAuto means C was learned from worker reports within the learner's window.
	SourceAuto = "auto"
	// SourceAutoLastKnown means no recent report carried enough work to measure C (an idle pool), so the last
	// value learned is kept; Estimate.LearnedAt says how old it is.
	SourceAutoLastKnown = "auto-last-known"
	// SourceAutoRestored means C is what an earlier master had learned (from its last published status), kept
	// until this master's own reports measure it.
	SourceAutoRestored = "auto-restored"
	// SourceAutoInitial means C is to be learned but nothing has shown it yet, so the configured initial guess is
	// in use.
	SourceAutoInitial = "auto-initial"
)

// Defaults for a CapacityLearner, used where a LearnerConfig field is zero.
const (
	// DefaultInitialCapacity is the C, in events per second, assumed before any worker has shown its capacity.
	DefaultInitialCapacity = 1000.0
	// DefaultCapacityFloor is the least C, in events per second, ever returned.
	DefaultCapacityFloor = 1.0
	// DefaultCapacityWindow is how long a worker report counts: a few evaluations, so a change in the workers'
	// service time (a slower broker, a new deployment) shows within seconds and only while it lasts.
	DefaultCapacityWindow = 10 * time.Second
	// DefaultMinEvents is how many processed events the reports within the window must add up to before they
	// are trusted to measure C.
	DefaultMinEvents = 20
	// DefaultMaxSamples bounds the reports kept: ten seconds of per-second reports from about 400 workers.
	DefaultMaxSamples = 4096
)

// ErrInvalidCapacity reports a capacity configuration or worker report that cannot be used.
var ErrInvalidCapacity = errors.New("invalid capacity")

// Estimate is a value of C with its provenance.
type Estimate struct {
	// Value is C, in events per second one worker processes.
	Value float64
	// Source is one of the Source constants.
	Source string
	// Reports is how many worker reports the value rests on (zero for a static or initial value).
	Reports int
	// LearnedAt is when the newest report behind the value arrived (zero for a static or initial value).
	LearnedAt time.Time
}

// Age is how old the evidence behind the estimate is at now; zero when there is none.
func (e Estimate) Age(now time.Time) time.Duration {
	if e.LearnedAt.IsZero() {
		return 0
	}
	return max(now.Sub(e.LearnedAt), 0)
}

// Capacity is a source of C. The master asks it once per evaluation.
type Capacity interface {
	Capacity(now time.Time) Estimate
}

// StaticCapacity is a configured, fixed C in events per second.
type StaticCapacity float64

// Capacity returns c itself; it does not depend on time.
func (c StaticCapacity) Capacity(time.Time) Estimate {
	return Estimate{Value: float64(c), Source: SourceStatic}
}

// LearnerConfig tunes a CapacityLearner. Zero fields take the defaults above.
type LearnerConfig struct {
	// Initial is the C used until reports have shown it. Better too high than too low: an optimistic guess
	// under-provisions for a moment until the backlog term of the formula adds workers, while a pessimistic one
	// starts far too many workers for a light load.
	Initial float64
	// Floor is the least C ever returned, so a stalled worker cannot make the formula ask for an unbounded fleet.
	Floor float64
	// Window is how long a report counts.
	Window time.Duration
	// MinEvents is the evidence needed: the processed events the reports in the window must add up to.
	MinEvents int
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
	case c.MinEvents < 0:
		return fmt.Errorf("%w: min events %d is negative", ErrInvalidCapacity, c.MinEvents)
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
	if c.MinEvents == 0 {
		c.MinEvents = DefaultMinEvents
	}
	if c.MaxSamples == 0 {
		c.MaxSamples = DefaultMaxSamples
	}
	return c
}

// Report is what one worker said about one report interval.
type Report struct {
	// Worker names the worker, so duplicated or reordered reports can be dropped.
	Worker string
	// Processed is how many events the worker finished during the interval.
	Processed int
	// Busy is how long its handlers were busy during the interval, added up over all of them (handler-seconds).
	Busy time.Duration
	// Slots is how many handlers the worker runs at once (its concurrency).
	Slots int
	// At is when the master received the report, on the master's clock.
	At time.Time
}

type capacitySample struct {
	at        time.Time
	processed int
	// slotTime is the busy time per slot: the time one worker would need for these events with every slot busy.
	slotTime float64
}

// CapacityLearner learns C from the reports of a pool's workers, at any utilization.
//
// It applies Little's law to each worker: a worker with s handler slots whose events each keep a slot busy for
// S seconds on average processes at most s/S events per second. Busy handler time and processed events are summed
// over the reports within the window, so C = Σ processed / Σ (busy / slots): a ratio of sums, which weighs every
// event alike and needs no saturated interval, so an over-provisioned pool keeps measuring its real C. A slower
// broker or a slower downstream shows as a longer S, hence a lower C, for as long as it lasts.
//
// The estimate assumes an event's service time does not grow with the number of events in progress, which holds
// for workers bounded by their handler slots (waiting on a confirm, a downstream call, a simulated delay). A
// worker bound by its CPU instead serves each event faster when idle than when busy, so at low utilization the
// estimate is optimistic and the pool is smaller; its backlog term then adds workers, and the busy reports that
// follow bring C down to what the worker really does.
//
// When the reports within the window show too little work to measure (an idle pool), the last learned value is
// kept and reported as such with its age; it never falls back to the initial guess. A CapacityLearner is safe for
// concurrent use: reports arrive on the stats consumer while the evaluation loop asks for C.
type CapacityLearner struct {
	cfg LearnerConfig

	mu      sync.Mutex
	samples []capacitySample     // in arrival order
	last    map[string]time.Time // newest report time per worker, to drop duplicates and stale reordering
	known   Estimate             // the last learned (or restored) value; zero Value when none
}

// NewCapacityLearner returns a learner configured by cfg, with zero fields replaced by defaults.
func NewCapacityLearner(cfg LearnerConfig) (*CapacityLearner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("capacity learner: %w", err)
	}
	return &CapacityLearner{cfg: cfg.withDefaults(), last: map[string]time.Time{}}, nil
}

// Observe records one worker report. A report that is not newer than the worker's previous one is ignored, so a
// duplicated or reordered report is not counted twice. Invalid reports are rejected with an error and change
// nothing.
func (l *CapacityLearner) Observe(r Report) error {
	switch {
	case r.Worker == "":
		return fmt.Errorf("%w: report without a worker id", ErrInvalidCapacity)
	case r.Processed < 0:
		return fmt.Errorf("%w: worker %s reported %d processed", ErrInvalidCapacity, r.Worker, r.Processed)
	case r.Busy < 0:
		return fmt.Errorf("%w: worker %s reported busy time %v", ErrInvalidCapacity, r.Worker, r.Busy)
	case r.Slots <= 0:
		return fmt.Errorf("%w: worker %s reported %d slots", ErrInvalidCapacity, r.Worker, r.Slots)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if prev, ok := l.last[r.Worker]; ok && !r.At.After(prev) {
		return nil
	}
	l.last[r.Worker] = r.At
	if r.Processed > 0 && r.Busy > 0 {
		l.samples = append(l.samples, capacitySample{at: r.At, processed: r.Processed, slotTime: r.Busy.Seconds() / float64(r.Slots)})
	}
	l.prune(r.At)
	// Measure now too, so the last known value is the newest one even if no evaluation asked in between.
	l.measure(r.At)
	return nil
}

// Restore seeds the learner with a value an earlier master learned, used until reports measure C. It does
// nothing once this learner has learned a value of its own, or for a value that is not a positive number.
func (l *CapacityLearner) Restore(value float64, learnedAt time.Time) {
	if !(value > 0) || math.IsInf(value, 0) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known.Value == 0 {
		l.known = Estimate{Value: max(value, l.cfg.Floor), Source: SourceAutoRestored, LearnedAt: learnedAt}
	}
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

// Capacity returns C at now: measured from the reports within the window when they carry enough work, else the
// last value learned (or restored), else the initial guess. The result is never below the configured floor.
func (l *CapacityLearner) Capacity(now time.Time) Estimate {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.measure(now); ok {
		return e
	}
	if l.known.Value > 0 {
		e := l.known
		if e.Source == SourceAuto {
			e.Source = SourceAutoLastKnown
		}
		return e
	}
	return Estimate{Value: max(l.cfg.Initial, l.cfg.Floor), Source: SourceAutoInitial}
}

// measure computes C from the reports within the window before now and, when they carry enough work, keeps it
// as the last known value. l.mu must be held.
func (l *CapacityLearner) measure(now time.Time) (Estimate, bool) {
	cutoff := now.Add(-l.cfg.Window)
	processed, slotTime, reports := 0, 0.0, 0
	var newest time.Time
	for _, s := range l.samples {
		if !s.at.After(cutoff) || s.at.After(now) {
			continue
		}
		processed += s.processed
		slotTime += s.slotTime
		reports++
		if s.at.After(newest) {
			newest = s.at
		}
	}
	if processed < l.cfg.MinEvents || !(slotTime > 0) {
		return Estimate{}, false
	}
	l.known = Estimate{Value: max(float64(processed)/slotTime, l.cfg.Floor), Source: SourceAuto, Reports: reports, LearnedAt: newest}
	return l.known, true
}
