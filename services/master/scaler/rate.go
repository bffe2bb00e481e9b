package scaler

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidRate reports a count or window that cannot be turned into an arrival rate.
var ErrInvalidRate = errors.New("invalid rate sample")

// RateMeter turns the number of events counted during an evaluation window into an arrival rate λ in events per
// second and smooths it.
//
// The smoothing is asymmetric on purpose. A rise passes through at once: when the newest window's rate is above the
// smoothed value, the smoothed value jumps to it, so a burst is answered in the very evaluation that sees it
// instead of being diluted over several windows while the backlog grows. A fall is smoothed with an exponentially
// weighted moving average (smoothed = α·raw + (1−α)·smoothed), so one quiet window does not shrink the fleet.
// Reacting instantly to an upward spike that turns out to be noise only costs a few short-lived workers: the
// Scaler's stabilization window is what keeps them from flapping, and a too-small fleet costs latency while a
// too-large one only costs a little capacity.
//
// The zero value is not ready for use; call NewRateMeter. A RateMeter is not safe for concurrent use: the master
// owns one per pool and evaluates each pool from a single goroutine.
type RateMeter struct {
	alpha    float64
	raw      float64
	smoothed float64
	primed   bool
}

// NewRateMeter returns a meter whose decreases are smoothed with weight alpha for the newest window. alpha must be
// in (0, 1]; 1 disables smoothing, so the meter reports each window's raw rate.
func NewRateMeter(alpha float64) (*RateMeter, error) {
	if !(alpha > 0 && alpha <= 1) {
		return nil, fmt.Errorf("%w: smoothing alpha %v is outside (0, 1]", ErrInvalidRate, alpha)
	}
	return &RateMeter{alpha: alpha}, nil
}

// Observe records that count events arrived during a window of the given length and returns the smoothed rate in
// events per second. A negative count or a non-positive window is rejected and leaves the meter unchanged, so one
// bad reading cannot poison the average.
func (m *RateMeter) Observe(count int, window time.Duration) (float64, error) {
	if count < 0 {
		return m.smoothed, fmt.Errorf("%w: negative count %d", ErrInvalidRate, count)
	}
	if window <= 0 {
		return m.smoothed, fmt.Errorf("%w: window %v is not positive", ErrInvalidRate, window)
	}
	raw := float64(count) / window.Seconds()
	if math.IsInf(raw, 0) || math.IsNaN(raw) {
		return m.smoothed, fmt.Errorf("%w: count %d over %v gives no finite rate", ErrInvalidRate, count, window)
	}
	m.raw = raw
	switch {
	case count == 0:
		// A window without a single arrival is not a dip to smooth over: keeping a decaying tail would hold
		// workers (or, with min 0, one worker) for no load at all. The scaler's stabilization window already
		// keeps the pool through brief lulls.
		m.smoothed = 0
		m.primed = true
	case !m.primed || raw >= m.smoothed:
		// The first window has nothing to average with, and rises must not be delayed.
		m.smoothed = raw
		m.primed = true
	default:
		m.smoothed = m.alpha*raw + (1-m.alpha)*m.smoothed
	}
	return m.smoothed, nil
}

// Raw returns the rate of the last accepted window in events per second, or 0 before any window.
func (m *RateMeter) Raw() float64 { return m.raw }

// Smoothed returns the smoothed rate in events per second, or 0 before any window. This is the λ to size by.
func (m *RateMeter) Smoothed() float64 { return m.smoothed }
