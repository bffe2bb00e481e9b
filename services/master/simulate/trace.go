package simulate

import (
	"fmt"
	"math"
	"time"
)

// Segment is a stretch of a trace with a constant arrival rate, from Start until the next segment's Start (or the
// trace's End).
type Segment struct {
	// Start is the time since the trace's start.
	Start time.Duration
	// Rate is the arrival rate in events per second.
	Rate float64
}

// Trace is a piecewise-constant arrival rate over time. The rate is zero before the first segment and from End on.
type Trace struct {
	// Name says where the trace came from (a file path or a shipped trace name), for reports and errors.
	Name string
	// Segments are in strictly increasing order of Start.
	Segments []Segment
	// End is when the trace stops; it is after the last segment's Start.
	End time.Duration
}

// Validate reports a trace that cannot be replayed: no segments, a zero length, unordered segments or a rate that
// is negative or not a number.
func (t Trace) Validate() error {
	if len(t.Segments) == 0 {
		return fmt.Errorf("trace %s: empty", t.Name)
	}
	prev := time.Duration(-1)
	for i, s := range t.Segments {
		switch {
		case s.Start < 0:
			return fmt.Errorf("trace %s: segment %d starts at %v, before zero", t.Name, i+1, s.Start)
		case s.Start <= prev:
			return fmt.Errorf("trace %s: segment %d starts at %v, not after the previous one", t.Name, i+1, s.Start)
		case !(s.Rate >= 0) || math.IsInf(s.Rate, 0):
			return fmt.Errorf("trace %s: segment %d has rate %v, want a non-negative number", t.Name, i+1, s.Rate)
		}
		prev = s.Start
	}
	if t.End <= prev {
		return fmt.Errorf("trace %s: ends at %v, not after its last segment", t.Name, t.End)
	}
	return nil
}

// Rate returns the arrival rate at at, in events per second.
func (t Trace) Rate(at time.Duration) float64 {
	if at >= t.End {
		return 0
	}
	r := 0.0
	for _, s := range t.Segments {
		if s.Start > at {
			break
		}
		r = s.Rate
	}
	return r
}

// segmentEnd returns when segment i ends.
func (t Trace) segmentEnd(i int) time.Duration {
	if i+1 < len(t.Segments) {
		return t.Segments[i+1].Start
	}
	return t.End
}

// Events returns the events the trace brings in [from, to): the integral of the rate.
func (t Trace) Events(from, to time.Duration) float64 {
	n := 0.0
	for i, s := range t.Segments {
		lo, hi := max(from, s.Start), min(to, t.segmentEnd(i))
		if hi > lo {
			n += s.Rate * (hi - lo).Seconds()
		}
	}
	return n
}

// Peak returns the highest rate of the trace, in events per second.
func (t Trace) Peak() float64 {
	p := 0.0
	for _, s := range t.Segments {
		p = max(p, s.Rate)
	}
	return p
}

// OracleWorkerSeconds returns what a pool sized by a clairvoyant would spend on the trace: ∫ ceil(rate/c) dt, the
// fewest workers of capacity c (events per second) that keep up with the rate at every moment, with no start-up
// delay, no headroom and no minimum.
func (t Trace) OracleWorkerSeconds(c float64) float64 {
	ws := 0.0
	for i, s := range t.Segments {
		ws += math.Ceil(s.Rate/c-1e-9) * (t.segmentEnd(i) - s.Start).Seconds()
	}
	return ws
}

// stepUp is a boundary of the trace where the rate rises sharply; reaction times are measured from it until the
// rate falls below to again (until).
type stepUp struct {
	at, until time.Duration
	from, to  float64
}

// stepUps returns the boundaries where the rate at least doubles and asks for more workers of capacity c than
// before. Gradual rises (a sine) are not steps: there is no moment to react from. Nor is the trace's start, where
// the master has not measured anything yet.
func (t Trace) stepUps(c float64) []stepUp {
	var out []stepUp
	prev := 0.0
	for i, s := range t.Segments {
		if s.Start > 0 && s.Rate >= 2*prev && math.Ceil(s.Rate/c-1e-9) > math.Ceil(prev/c-1e-9) {
			st := stepUp{at: s.Start, until: t.End, from: prev, to: s.Rate}
			for j := i + 1; j < len(t.Segments); j++ {
				if t.Segments[j].Rate < s.Rate {
					st.until = t.Segments[j].Start
					break
				}
			}
			out = append(out, st)
		}
		prev = s.Rate
	}
	return out
}
