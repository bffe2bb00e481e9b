// Package pattern describes the traffic shapes loadgen can produce and turns each into a schedule of exact
// send times.
//
// A pattern is a rate function r(t), in events per second, over one scenario step of a fixed duration. Send
// times are computed from the step start by inverting the cumulative count Λ(t) = ∫₀ᵗ r: the k-th message
// (k = 0, 1, …) is due when Λ(t) reaches k. Computing each time from the start, rather than sleeping a gap
// after each send, keeps a long run from drifting: a late send delays nothing that follows it.
package pattern

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind names a traffic pattern.
type Kind string

// The known pattern kinds.
const (
	// Steady sends at a constant rate.
	Steady Kind = "steady"
	// Poisson sends with exponentially distributed gaps, so arrivals form a Poisson process of a given rate.
	Poisson Kind = "poisson"
	// Ramp sends at a rate that changes linearly with time: slope·t + rate.
	Ramp Kind = "ramp"
	// Random holds a rate drawn uniformly from [min, max] for one interval, then draws again.
	Random Kind = "random"
	// Pause sends nothing for the step's duration.
	Pause Kind = "pause"
)

// Kinds lists every pattern kind, in documentation order.
var Kinds = []Kind{Steady, Poisson, Ramp, Random, Pause}

// DefaultInterval is how long the random pattern holds each drawn rate unless the spec says otherwise.
const DefaultInterval = time.Second

// maxLevels bounds how many rates a random pattern draws up front, so a tiny interval over a long step is
// refused instead of allocating without limit.
const maxLevels = 1_000_000

// ErrInvalid matches every error that ParseKind, Validate or New returns for bad input, with errors.Is.
var ErrInvalid = errors.New("invalid pattern")

// FieldError says which field of a spec is wrong, so a caller that read the spec from a file can point at
// the line of that field. It matches ErrInvalid.
type FieldError struct {
	// Field is the spec field at fault, named as in a scenario file: pattern, rate, slope, min, max,
	// interval or duration.
	Field string
	// Msg is the whole message, naming the field.
	Msg string
}

// Error returns the message.
func (e *FieldError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseKind turns a pattern name into a Kind; the name is case-insensitive.
func ParseKind(name string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(name)))
	for _, known := range Kinds {
		if k == known {
			return k, nil
		}
	}
	return "", invalid("pattern", "unknown pattern %q (want one of %s)", name, kindList())
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Spec is the description of one pattern over one step. Rates are per publisher, in events per second.
type Spec struct {
	// Kind selects the pattern.
	Kind Kind
	// Rate is the constant rate of steady and poisson, and the starting rate b of ramp.
	Rate float64
	// Slope is ramp's a, in events per second per second; it may be negative if the rate stays >= 0.
	Slope float64
	// Min and Max bound the rates that random draws.
	Min, Max float64
	// Interval is how long random holds each drawn rate; zero means DefaultInterval.
	Interval time.Duration
	// Duration is the length of the step; the schedule ends there.
	Duration time.Duration
}

// Validate reports whether the spec describes a pattern that can be scheduled. The rules are:
//   - every pattern needs Duration > 0;
//   - steady and poisson need Rate > 0;
//   - ramp needs Rate >= 0 (its starting rate b), an end rate Slope·Duration + Rate >= 0, and at least one
//     of the two > 0, so b = 0 is fine when the slope is positive and a negative slope is fine while the rate
//     stays non-negative;
//   - random needs 0 <= Min <= Max, Max > 0, and Interval >= 0 (0 meaning DefaultInterval);
//   - pause takes no rate.
//
// Every number must be finite.
func (s Spec) Validate() error {
	if s.Duration <= 0 {
		return invalid("duration", "duration must be > 0, got %s", s.Duration)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rate", s.Rate}, {"slope", s.Slope}, {"min", s.Min}, {"max", s.Max}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return invalid(f.name, "%s must be a finite number, got %v", f.name, f.v)
		}
	}
	switch s.Kind {
	case Steady, Poisson:
		if s.Rate <= 0 {
			return invalid("rate", "rate must be > 0, got %v", s.Rate)
		}
	case Ramp:
		end := s.Slope*s.Duration.Seconds() + s.Rate
		switch {
		case s.Rate < 0:
			return invalid("rate", "ramp's starting rate must be >= 0, got %v", s.Rate)
		case end < 0:
			return invalid("slope", "ramp's rate must stay >= 0, but slope %v from %v reaches %v after %s",
				s.Slope, s.Rate, end, s.Duration)
		case s.Rate == 0 && end <= 0:
			return invalid("slope", "ramp needs rate > 0 or slope > 0, got rate %v and slope %v", s.Rate, s.Slope)
		}
	case Random:
		switch {
		case s.Min < 0:
			return invalid("min", "min must be >= 0, got %v", s.Min)
		case s.Max <= 0:
			return invalid("max", "max must be > 0, got %v", s.Max)
		case s.Min > s.Max:
			return invalid("min", "min (%v) must be <= max (%v)", s.Min, s.Max)
		case s.Interval < 0:
			return invalid("interval", "interval must be > 0, got %s", s.Interval)
		}
		if n := levelCount(s.Duration, s.interval()); n > maxLevels {
			return invalid("interval", "interval %s over %s needs %d rate draws, more than the limit of %d",
				s.interval(), s.Duration, n, maxLevels)
		}
	case Pause:
		if s.Rate != 0 || s.Slope != 0 || s.Min != 0 || s.Max != 0 {
			return invalid("pattern", "pause takes no rate, slope, min or max")
		}
	default:
		return invalid("pattern", "unknown pattern %q (want one of %s)", s.Kind, kindList())
	}
	return nil
}

func (s Spec) interval() time.Duration {
	if s.Interval == 0 {
		return DefaultInterval
	}
	return s.Interval
}

func levelCount(d, interval time.Duration) int64 {
	return int64((d + interval - 1) / interval)
}

// Pattern is a validated spec whose random draws, if any, are fixed, so its rate function and every schedule
// made from it agree. It is safe for concurrent use.
type Pattern struct {
	spec Spec
	// levels are random's drawn rates, one per interval.
	levels []float64
	// seeds feed each poisson schedule its own generator, so publishers do not send in lockstep.
	seed1, seed2 uint64
}

// New validates spec and fixes its random draws with rng, which random and poisson need and the other kinds
// ignore (it may be nil for them). The same rng seed gives the same rates and the same send times.
func New(spec Spec, rng *rand.Rand) (*Pattern, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p := &Pattern{spec: spec}
	if spec.Kind == Random || spec.Kind == Poisson {
		if rng == nil {
			return nil, invalid("pattern", "%s needs a random number generator", spec.Kind)
		}
		p.seed1, p.seed2 = rng.Uint64(), rng.Uint64()
	}
	if spec.Kind == Random {
		n := levelCount(spec.Duration, spec.interval())
		p.levels = make([]float64, n)
		for i := range p.levels {
			p.levels[i] = spec.Min + rng.Float64()*(spec.Max-spec.Min)
		}
	}
	return p, nil
}

// Spec returns the spec the pattern was made from.
func (p *Pattern) Spec() Spec { return p.spec }

// Rate returns the intended rate in events per second at t since the step start: for poisson it is the mean
// rate, and outside [0, Duration) it is zero.
func (p *Pattern) Rate(t time.Duration) float64 {
	if t < 0 || t >= p.spec.Duration {
		return 0
	}
	switch p.spec.Kind {
	case Steady, Poisson:
		return p.spec.Rate
	case Ramp:
		return p.spec.Slope*t.Seconds() + p.spec.Rate
	case Random:
		return p.levels[int(t/p.spec.interval())]
	default:
		return 0
	}
}

// Levels returns a copy of the rates random drew, one per interval; other kinds have none.
func (p *Pattern) Levels() []float64 {
	return append([]float64(nil), p.levels...)
}

// Expected returns the number of events the pattern sends over its duration on average: the integral of the
// rate. Deterministic schedules send this many rounded up, since the first send is at the step start.
func (p *Pattern) Expected() float64 {
	d := p.spec.Duration.Seconds()
	switch p.spec.Kind {
	case Steady, Poisson:
		return p.spec.Rate * d
	case Ramp:
		return p.spec.Slope*d*d/2 + p.spec.Rate*d
	case Random:
		iv := p.spec.interval()
		total := 0.0
		for i, r := range p.levels {
			span := iv
			if rest := p.spec.Duration - time.Duration(i)*iv; rest < span {
				span = rest
			}
			total += r * span.Seconds()
		}
		return total
	default:
		return 0
	}
}

// Schedule returns a fresh schedule of send times for one publisher. Publishers with different numbers get
// independent poisson arrivals; for the other kinds the number does not matter.
func (p *Pattern) Schedule(publisher int) Schedule {
	s := p.spec
	switch s.Kind {
	case Steady:
		return NewSteady(s.Rate, s.Duration)
	case Poisson:
		rng := rand.New(rand.NewPCG(p.seed1, p.seed2^(uint64(publisher)*0x9e3779b97f4a7c15)))
		return NewPoisson(s.Rate, s.Duration, rng)
	case Ramp:
		return NewRamp(s.Slope, s.Rate, s.Duration)
	case Random:
		return NewPiecewise(p.levels, s.interval(), s.Duration)
	default:
		return empty{}
	}
}
