package pattern

import (
	"math"
	"math/rand/v2"
	"time"
)

// Schedule yields the send times of one publisher over one step, in order, as offsets from the step start.
// A Schedule is not safe for concurrent use: each publisher owns its own.
type Schedule interface {
	// Next returns the next send time, or ok == false once the next time would fall at or after the end of
	// the step; it keeps returning false after that.
	Next() (at time.Duration, ok bool)
}

// empty is the schedule of a pause.
type empty struct{}

// Next implements Schedule: a pause never sends.
func (empty) Next() (time.Duration, bool) { return 0, false }

// seconds converts a float64 number of seconds to a Duration, rounding to the nanosecond.
func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// steady sends message k at k/rate.
type steady struct {
	rate float64
	end  time.Duration
	k    int64
}

// NewSteady returns the schedule of a constant rate: message k (from 0) at k/rate, for every k/rate < d.
// It sends ⌈rate·d⌉ messages. A rate <= 0 gives an empty schedule.
func NewSteady(rate float64, d time.Duration) Schedule {
	if !(rate > 0) {
		return empty{}
	}
	return &steady{rate: rate, end: d}
}

// Next implements Schedule.
func (s *steady) Next() (time.Duration, bool) {
	// Each time is computed from k, not by adding gaps, so rounding never accumulates.
	at := seconds(float64(s.k) / s.rate)
	if at >= s.end {
		return 0, false
	}
	s.k++
	return at, true
}

// ramp sends message k when the integral of a·t + b reaches k.
type ramp struct {
	a, b float64
	end  time.Duration
	k    int64
	done bool
}

// NewRamp returns the schedule of the rate a·t + b (t in seconds since the step start), for t < d: message k
// (from 0) is sent at the t where a·t²/2 + b·t = k. The caller keeps the rate non-negative (Spec.Validate
// checks it); where it is not, the schedule ends when the count stops growing.
func NewRamp(a, b float64, d time.Duration) Schedule {
	if b < 0 || (b == 0 && a <= 0) {
		return empty{}
	}
	return &ramp{a: a, b: b, end: d}
}

// Next implements Schedule.
func (r *ramp) Next() (time.Duration, bool) {
	if r.done {
		return 0, false
	}
	k := float64(r.k)
	disc := r.b*r.b + 2*r.a*k
	if disc < 0 {
		// A falling ramp has sent all it ever will.
		r.done = true
		return 0, false
	}
	// 2k / (b + √(b² + 2ak)) is the root of a·t²/2 + b·t − k written so that a → 0 loses no precision
	// and a = 0 reduces to k/b.
	var t float64
	if k > 0 {
		t = 2 * k / (r.b + math.Sqrt(disc))
	}
	at := seconds(t)
	if at >= r.end {
		r.done = true
		return 0, false
	}
	r.k++
	return at, true
}

// piecewise holds rate levels[i] during [i·interval, (i+1)·interval).
type piecewise struct {
	levels   []float64
	interval time.Duration
	end      time.Duration
	k        int64
	// i is the current interval and base the count due before it starts.
	i    int
	base float64
}

// NewPiecewise returns the schedule of a rate that is levels[i] during the i-th interval of length interval,
// for t < d; a level of zero sends nothing in its interval. The count carries over from one interval to the
// next, so a rate change neither skips nor doubles a message. The random pattern uses it with drawn levels.
func NewPiecewise(levels []float64, interval time.Duration, d time.Duration) Schedule {
	if interval <= 0 || len(levels) == 0 {
		return empty{}
	}
	return &piecewise{levels: levels, interval: interval, end: d}
}

// Next implements Schedule.
func (p *piecewise) Next() (time.Duration, bool) {
	k := float64(p.k)
	for p.i < len(p.levels) {
		r := p.levels[p.i]
		if r > 0 && !math.IsInf(r, 0) {
			// The count due by the end of this interval; message k falls here if k is below it.
			if k < p.base+r*p.interval.Seconds() {
				at := time.Duration(p.i)*p.interval + seconds((k-p.base)/r)
				if at >= p.end {
					p.i = len(p.levels)
					return 0, false
				}
				p.k++
				return at, true
			}
			p.base += r * p.interval.Seconds()
		}
		p.i++
	}
	return 0, false
}

// poisson sends after independent exponential gaps of mean 1/rate.
type poisson struct {
	rate float64
	end  time.Duration
	rng  *rand.Rand
	t    float64
	done bool
}

// NewPoisson returns a Poisson arrival schedule of the given rate for t < d: the first send after one
// exponential gap and each next one a fresh gap later. rng makes runs reproducible; a nil rng or a rate <= 0
// gives an empty schedule.
func NewPoisson(rate float64, d time.Duration, rng *rand.Rand) Schedule {
	if !(rate > 0) || rng == nil {
		return empty{}
	}
	return &poisson{rate: rate, end: d, rng: rng}
}

// Next implements Schedule.
func (p *poisson) Next() (time.Duration, bool) {
	if p.done {
		return 0, false
	}
	// The sum is kept in float seconds, not as rounded Durations, so rounding does not bias the rate.
	p.t += p.rng.ExpFloat64() / p.rate
	at := seconds(p.t)
	if at >= p.end {
		p.done = true
		return 0, false
	}
	return at, true
}
