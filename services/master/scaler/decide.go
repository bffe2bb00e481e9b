package scaler

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Reasons a Decision gives. They are stable: logs, the status feed and tests match on them.
const (
	// ReasonScaleUp means the pool needs more workers than it has and gets them now (at most MaxStep more).
	ReasonScaleUp = "scale_up"
	// ReasonScaleDown means a lower need has held for the stabilization window and clears the dead band.
	ReasonScaleDown = "scale_down"
	// ReasonHold means the pool already has what it needs.
	ReasonHold = "hold"
	// ReasonHoldStabilizing means the need is lower, but a higher need was recommended within the stabilization
	// window, so the pool keeps its workers in case the dip is brief.
	ReasonHoldStabilizing = "hold_stabilizing"
	// ReasonHoldDeadBand means the need differs from the current size by no more than the dead band (the
	// tolerance, both ways): a higher need is within DeadBand above the pool, or removing even one worker would
	// leave the rest with less headroom than DeadBand.
	ReasonHoldDeadBand = "hold_dead_band"
	// ReasonHoldRateLimited means the need is lower and has held for the stabilization window, but the pool has
	// already shed as much as ScaleDownRate allows within one window.
	ReasonHoldRateLimited = "hold_rate_limited"
	// ReasonAtMax means the pool needs more than Max workers and already has Max.
	ReasonAtMax = "at_max"
	// ReasonAtMin means the pool needs at most Min workers and has exactly Min.
	ReasonAtMin = "at_min"
	// ReasonBelowMin means the pool has fewer than Min workers, typically because some crashed. It is brought
	// back to at least Min at once, whatever MaxStep says, and further if the load asks (MaxStep then capping
	// the growth).
	ReasonBelowMin = "below_min"
	// ReasonAboveMax means the pool has more than Max workers, typically because Max was lowered, and is cut to Max
	// at once: bounds are not subject to stabilization.
	ReasonAboveMax = "above_max"
	// ReasonInvalidInput means the measurements could not be used (see Decision.Err); the pool keeps its size,
	// moved into [Min, Max].
	ReasonInvalidInput = "invalid_input"
)

// Reasons lists every reason a Decision can give, for metrics that create one series per reason up front.
func Reasons() []string {
	return []string{ReasonScaleUp, ReasonScaleDown, ReasonHold, ReasonHoldStabilizing, ReasonHoldDeadBand,
		ReasonHoldRateLimited, ReasonAtMax, ReasonAtMin, ReasonBelowMin, ReasonAboveMax, ReasonInvalidInput}
}

// DefaultStabilization is the scale-down stabilization window used when Policy.Stabilization is zero.
const DefaultStabilization = 30 * time.Second

// Formulas a Policy can size by.
const (
	// FormulaUtilization sizes the pool to serve the arrivals and drain the backlog within Tr at the target
	// utilization: N = ceil((λ + B/Tr) / (u·C)). It is the default.
	FormulaUtilization = "utilization"
	// FormulaSeed is the formula of the system Warren grew from: N = ceil((B + λ·Tr) / C). Read in units, it
	// provisions Tr seconds of arrivals per second of capacity (twice the arrival rate at Tr = 2 s) and sizes the
	// backlog to drain in one second whatever Tr says.
	FormulaSeed = "seed"
)

// DefaultTargetUtilization is the share of a worker's capacity the utilization formula plans to use when
// Policy.TargetUtilization is zero: the rest is headroom for noise and for the time a new worker takes to start.
const DefaultTargetUtilization = 0.8

// DefaultScaleDownRate is the share of the pool that may be removed within one stabilization window when
// Policy.ScaleDownRate is zero.
const DefaultScaleDownRate = 0.5

// MaxNeeded caps what Needed returns, so an absurd backlog or a tiny capacity cannot overflow an int. No pool
// reaches it; Max clamps long before.
const MaxNeeded = math.MaxInt32

var (
	// ErrInvalidPolicy is wrapped by the errors of Policy.Validate.
	ErrInvalidPolicy = errors.New("invalid scaling policy")
	// ErrInvalidInput is wrapped by the errors of Input.Validate and by Decision.Err.
	ErrInvalidInput = errors.New("invalid scaling input")
)

// Policy is how one pool scales.
type Policy struct {
	// Min and Max bound the pool's size.
	Min, Max int
	// Tr is the time allowed to drain the backlog.
	Tr time.Duration
	// Formula is FormulaUtilization (the default, when empty) or FormulaSeed.
	Formula string
	// TargetUtilization, in (0, 1], is the share of each worker's capacity the utilization formula plans to use;
	// zero selects DefaultTargetUtilization. The seed formula ignores it.
	TargetUtilization float64
	// MaxStep is the most workers added in one evaluation; 0 means no cap. It limits the cost of one bad reading;
	// the next evaluation adds more if the need persists. It never delays reaching Min.
	MaxStep int
	// Stabilization is how long a lower need must hold before the pool shrinks. The pool shrinks to the highest
	// target recommended within the last Stabilization, as Kubernetes' HPA does, so a brief dip scales nothing
	// down and a staircase fall is followed step by step. Zero selects DefaultStabilization; a negative value
	// disables stabilization.
	Stabilization time.Duration
	// DeadBand, in [0, 1), is the tolerance around the current size, applied both ways as the HPA applies its
	// 10 %. The pool grows only when the fractional need n exceeds current·(1 + DeadBand) (an empty pool grows for
	// any need), and shrinks only to a size D with n <= D·(1 + DeadBand/2). A need between the two thresholds
	// changes nothing, so a steady load whose need wobbles around a whole number of workers does not flap, and a
	// pool grown past its need by a burst's backlog comes back to the need. Zero disables the band.
	DeadBand float64
	// ScaleDownRate, in (0, 1], is the most of the pool that may go within one stabilization window: the pool
	// never shrinks below floor(largest size within the window · (1 − ScaleDownRate)). Zero selects
	// DefaultScaleDownRate; 1 removes the limit. A pool that had no arrivals and no backlog for a whole window goes
	// straight to its target: the limit guards against over-reacting to a dip under load, and an idle pool has
	// nothing to over-react to (with Min 0 it reaches zero one window after its last event).
	ScaleDownRate float64
}

// Validate reports a policy that cannot be applied.
func (p Policy) Validate() error {
	switch {
	case p.Min < 0:
		return fmt.Errorf("%w: min %d is negative", ErrInvalidPolicy, p.Min)
	case p.Max < p.Min:
		return fmt.Errorf("%w: min %d is greater than max %d", ErrInvalidPolicy, p.Min, p.Max)
	case p.Tr <= 0:
		return fmt.Errorf("%w: tr %v is not positive", ErrInvalidPolicy, p.Tr)
	case p.Formula != "" && p.Formula != FormulaUtilization && p.Formula != FormulaSeed:
		return fmt.Errorf("%w: formula %q is not %s or %s", ErrInvalidPolicy, p.Formula, FormulaUtilization, FormulaSeed)
	case !(p.TargetUtilization >= 0 && p.TargetUtilization <= 1):
		return fmt.Errorf("%w: target utilization %v is outside (0, 1]", ErrInvalidPolicy, p.TargetUtilization)
	case p.MaxStep < 0:
		return fmt.Errorf("%w: max step %d is negative", ErrInvalidPolicy, p.MaxStep)
	case !(p.DeadBand >= 0 && p.DeadBand < 1):
		return fmt.Errorf("%w: dead band %v is outside [0, 1)", ErrInvalidPolicy, p.DeadBand)
	case !(p.ScaleDownRate >= 0 && p.ScaleDownRate <= 1):
		return fmt.Errorf("%w: scale-down rate %v is outside (0, 1]", ErrInvalidPolicy, p.ScaleDownRate)
	}
	return nil
}

// normalized returns the policy with defaults applied and any invalid field moved to the nearest sane value, so a
// Scaler built from an unvalidated policy still behaves.
func (p Policy) normalized() Policy {
	p.Min = max(p.Min, 0)
	p.Max = max(p.Max, p.Min)
	p.Tr = max(p.Tr, 0)
	p.MaxStep = max(p.MaxStep, 0)
	if p.Formula != FormulaSeed {
		p.Formula = FormulaUtilization
	}
	if !(p.TargetUtilization > 0 && p.TargetUtilization <= 1) {
		p.TargetUtilization = DefaultTargetUtilization
	}
	if !(p.DeadBand >= 0 && p.DeadBand < 1) {
		p.DeadBand = 0
	}
	if !(p.ScaleDownRate > 0 && p.ScaleDownRate <= 1) {
		p.ScaleDownRate = DefaultScaleDownRate
	}
	switch {
	case p.Stabilization == 0:
		p.Stabilization = DefaultStabilization
	case p.Stabilization < 0:
		p.Stabilization = 0
	}
	return p
}

// Need returns the fractional number of workers the policy's formula asks for: λ and C in events per second,
// B in events. It expects capacity > 0 (see Input.Validate) and returns 0 otherwise; negative λ and B count as
// zero.
func (p Policy) Need(lambda float64, backlog int, capacity float64) float64 {
	p = p.normalized()
	if p.Formula == FormulaSeed {
		return fractionalNeed(lambda, backlog, capacity, p.Tr)
	}
	if !(capacity > 0) || !(p.Tr > 0) {
		return 0
	}
	if !(lambda > 0) {
		lambda = 0
	}
	return (lambda + float64(max(backlog, 0))/p.Tr.Seconds()) / (p.TargetUtilization * capacity)
}

// Input is what one evaluation of a pool measured.
type Input struct {
	// Lambda is the arrival rate in events per second (see RateMeter).
	Lambda float64
	// Backlog is the work queue's ready messages plus every delivery the workers hold (unacknowledged, prefetched
	// included).
	Backlog int
	// Capacity is C, the events per second one worker processes.
	Capacity float64
	// Current is how many workers the pool has now.
	Current int
	// Now is the evaluation time; the Scaler never reads the clock itself.
	Now time.Time
}

// Validate reports measurements that cannot be sized from.
func (in Input) Validate() error {
	switch {
	case !(in.Capacity > 0) || math.IsInf(in.Capacity, 0):
		return fmt.Errorf("%w: capacity %v events/s is not a positive number", ErrInvalidInput, in.Capacity)
	case !(in.Lambda >= 0) || math.IsInf(in.Lambda, 0):
		return fmt.Errorf("%w: arrival rate %v events/s is not a non-negative number", ErrInvalidInput, in.Lambda)
	case in.Backlog < 0:
		return fmt.Errorf("%w: backlog %d is negative", ErrInvalidInput, in.Backlog)
	case in.Current < 0:
		return fmt.Errorf("%w: current %d workers is negative", ErrInvalidInput, in.Current)
	}
	return nil
}

// Decision is the outcome of one evaluation.
type Decision struct {
	// Need is the fractional number of workers the formula asks for (see Policy.Need).
	Need float64
	// Raw is ceil(Need), before clamping.
	Raw int
	// Target is Raw clamped to [Min, Max]: what the load asks for right now.
	Target int
	// Desired is what the pool should have after this evaluation, once step cap, stabilization and dead band
	// have had their say.
	Desired int
	// Reason is one of the Reason constants.
	Reason string
	// Err is set, wrapping ErrInvalidInput, when Reason is ReasonInvalidInput.
	Err error
}

// recommendation is a Target recommended at a time, kept for the stabilization window.
type recommendation struct {
	at     time.Time
	target int
}

// Scaler decides the size of one pool, evaluation after evaluation. It remembers recent recommendations for
// stabilization and recent sizes for the scale-down rate limit, so each pool needs its own Scaler. A Scaler is not
// safe for concurrent use.
type Scaler struct {
	p Policy

	started bool
	first   time.Time
	// firstSize is the pool's size at the first evaluation: what a restarted master found.
	firstSize int
	// window holds recent recommendations with strictly decreasing targets from front to back: a recommendation
	// followed by one at least as high can never again be the window's maximum, so it is dropped. The front is
	// therefore the maximum, and the length is bounded by Max−Min+1 however often Decide is called.
	window []recommendation
	// sizes holds recent pool sizes the same way, for the largest size within the window, and raws the unclamped
	// needs, to tell an idle pool (no need at all for a whole window) from a quiet one.
	sizes, raws []recommendation
}

// New returns a Scaler for policy p. New does not fail: callers should check p.Validate first, but an invalid
// policy is repaired (negative bounds to zero, Max raised to Min, an out-of-range dead band disabled) rather than
// allowed to misbehave.
func New(p Policy) *Scaler {
	return &Scaler{p: p.normalized()}
}

// Policy returns the policy in effect, with defaults applied.
func (s *Scaler) Policy() Policy { return s.p }

// Decide evaluates one measurement and returns how many workers the pool should have.
//
// The pool grows at once, to the whole need (capped by MaxStep), when the need exceeds it by more than DeadBand;
// an empty pool grows for any need. It shrinks to the smallest size the need exceeds by at most half the dead
// band, and no lower than what the arrivals alone asked for within the stabilization window, so a brief dip in
// the arrival rate shrinks nothing, while workers added only to drain a backlog go as soon as it is drained. It
// sheds at most ScaleDownRate of the pool per window, unless the pool had nothing to do for a whole window. A
// Scaler that has not yet seen a full window counts the pool's size at its first evaluation as recommended, so a
// restarted master does not shrink the pool it adopted on its first reading.
func (s *Scaler) Decide(in Input) Decision {
	if err := in.Validate(); err != nil {
		return Decision{Desired: s.clamp(in.Current), Reason: ReasonInvalidInput, Err: err}
	}
	p := s.p
	n := p.Need(in.Lambda, in.Backlog, in.Capacity)
	d := Decision{Need: n, Raw: ceilTolerant(n)}
	d.Target = s.clamp(d.Raw)
	// The smallest pool that serves a need within half the dead band: shrinking stops there, growing starts only
	// past the whole band, and a need hovering near a boundary sits in the gap between the two.
	fit := func(x float64) int { return s.clamp(ceilTolerant(x / (1 + p.DeadBand/2))) }
	stabilized := s.record(in.Now, fit(p.Need(in.Lambda, 0, in.Capacity)), in.Current)
	s.sizes = pushMax(s.sizes, recommendation{at: in.Now, target: in.Current}, p.Stabilization)
	s.raws = pushMax(s.raws, recommendation{at: in.Now, target: d.Raw}, p.Stabilization)
	largest, idle := s.sizes[0].target, s.raws[0].target == 0 && !(in.Now.Sub(s.first) < p.Stabilization)

	cur := in.Current
	grow := cur == 0 && n > 0 || n > float64(cur)*(1+p.DeadBand)*(1+relativeEpsilon)
	switch {
	case cur < p.Min:
		d.Desired, d.Reason = max(p.Min, s.stepUp(cur, d.Target)), ReasonBelowMin
	case cur > p.Max:
		d.Desired, d.Reason = p.Max, ReasonAboveMax
	case grow && d.Target > cur:
		d.Desired, d.Reason = s.stepUp(cur, d.Target), ReasonScaleUp
	case grow || d.Raw > p.Max && cur == p.Max:
		d.Desired, d.Reason = cur, ReasonAtMax
	default:
		// The rate limit does not hold back a pool that had nothing to do for a whole window.
		rateFloor := 0
		if !idle {
			rateFloor = int(math.Floor(float64(largest) * (1 - p.ScaleDownRate) * (1 + relativeEpsilon)))
		}
		need := fit(n)
		switch {
		case need >= cur:
			d.Desired = cur
			switch {
			case d.Target != cur:
				d.Reason = ReasonHoldDeadBand
			case cur == p.Min:
				d.Reason = ReasonAtMin
			default:
				d.Reason = ReasonHold
			}
		case stabilized >= cur:
			d.Desired, d.Reason = cur, ReasonHoldStabilizing
		case rateFloor >= cur:
			d.Desired, d.Reason = cur, ReasonHoldRateLimited
		default:
			d.Desired, d.Reason = max(need, stabilized, rateFloor, p.Min), ReasonScaleDown
		}
	}
	return d
}

// pushMax appends r to a window kept in strictly decreasing order of target, drops what is older than span
// (never the newest), and returns the window; its front is the maximum.
func pushMax(w []recommendation, r recommendation, span time.Duration) []recommendation {
	for len(w) > 0 && w[len(w)-1].target <= r.target {
		w = w[:len(w)-1]
	}
	w = append(w, r)
	drop := 0
	for drop < len(w)-1 && r.at.Sub(w[drop].at) > span {
		drop++
	}
	// Shift rather than reslice so the backing array is reused and Decide does not allocate.
	return w[:copy(w, w[drop:])]
}

// record adds target to the stabilization window and returns the highest target recommended within it.
func (s *Scaler) record(now time.Time, target, current int) int {
	if !s.started {
		s.started, s.first, s.firstSize = true, now, current
	}
	// A recommendation expires once it is older than the window: the lower ones after it have then held for
	// the whole window.
	s.window = pushMax(s.window, recommendation{at: now, target: target}, s.p.Stabilization)
	highest := s.window[0].target
	if now.Sub(s.first) < s.p.Stabilization {
		highest = max(highest, s.firstSize)
	}
	return highest
}

func (s *Scaler) stepUp(cur, target int) int {
	if s.p.MaxStep > 0 && target-cur > s.p.MaxStep {
		return cur + s.p.MaxStep
	}
	return target
}

func (s *Scaler) clamp(n int) int { return min(max(n, s.p.Min), s.p.Max) }

// Needed is the seed formula's need rounded up: ceil((backlog + lambda·tr) / capacity): the workers needed to clear the backlog plus tr's worth of
// arrivals, with lambda and capacity in events per second and tr converted to seconds. It tolerates floating-point
// noise, so a need of 3.0000000001 workers is 3, and caps the result at MaxNeeded. It expects capacity > 0 (see
// Input.Validate) and returns 0 otherwise; negative lambda and backlog count as zero.
//
// Read dimensionally, the pool sized this way processes the backlog plus Tr's worth of arrivals in one second, so
// under a steady load Tr acts as a headroom factor on λ/C: Tr = 2 s provisions twice the throughput the arrivals
// need, and Tr below 1 s provisions less, which the backlog term then has to make up.
func Needed(lambda float64, backlog int, capacity float64, tr time.Duration) int {
	return ceilTolerant(fractionalNeed(lambda, backlog, capacity, tr))
}

// fractionalNeed is Needed before rounding up.
func fractionalNeed(lambda float64, backlog int, capacity float64, tr time.Duration) float64 {
	if !(capacity > 0) {
		return 0
	}
	if !(lambda > 0) {
		lambda = 0
	}
	return (float64(max(backlog, 0)) + lambda*max(tr, 0).Seconds()) / capacity
}

// relativeEpsilon absorbs the rounding error of a few float64 operations (about 1e-16 each) while staying far
// below any real fraction of a worker.
const relativeEpsilon = 1e-9

// ceilTolerant is math.Ceil that ignores excess within relativeEpsilon of a whole number and saturates at
// MaxNeeded instead of overflowing.
func ceilTolerant(x float64) int {
	switch {
	case !(x > 0):
		return 0
	case x >= MaxNeeded:
		return MaxNeeded
	}
	return int(math.Ceil(x - relativeEpsilon*max(1, x)))
}
