package simulate

import (
	"math"
	"time"
)

// dust is an amount of fluid too small to be an event: float rounding, not work. It is served with its batch
// rather than left to wait alone.
const dust = 1e-9

// batch is events that arrived together: one simulation step's worth.
type batch struct {
	at time.Duration
	n  float64
}

// fifo is the work queue: batches in arrival order, served from the head. Amounts are fluid (fractions of an
// event allowed), so a deterministic trace needs no rounding.
type fifo struct {
	q     []batch
	head  int
	total float64
}

func (f *fifo) push(at time.Duration, n float64) {
	if n <= 0 {
		return
	}
	f.q = append(f.q, batch{at: at, n: n})
	f.total += n
}

// pop serves n events from the head at now, records how long each waited, and returns what it served (less than n
// only when the queue runs dry).
func (f *fifo) pop(n float64, now time.Duration, waits *histogram) float64 {
	served := 0.0
	for n > dust && f.head < len(f.q) {
		b := &f.q[f.head]
		take := min(n, b.n)
		if b.n-take <= dust {
			take = b.n
		}
		waits.add(now-b.at, take)
		b.n -= take
		n -= take
		served += take
		if b.n <= 0 {
			f.head++
		}
	}
	f.total = max(f.total-served, 0)
	if f.head == len(f.q) {
		f.q, f.head, f.total = f.q[:0], 0, 0
	} else if f.head > 4096 && f.head > len(f.q)/2 {
		// Reuse the array's front once most of it is served, so a long run does not grow it without bound.
		f.q = f.q[:copy(f.q, f.q[f.head:])]
		f.head = 0
	}
	return served
}

// len returns the events waiting.
func (f *fifo) len() float64 { return f.total }

// histogram is a distribution of waits weighted by events, in bins one simulation step wide.
type histogram struct {
	step  time.Duration
	bins  []float64
	total float64
}

func (h *histogram) add(wait time.Duration, n float64) {
	i := max(int(wait/h.step), 0)
	for len(h.bins) <= i {
		h.bins = append(h.bins, 0)
	}
	h.bins[i] += n
	h.total += n
}

// quantile returns the wait below which share q of the events waited, or zero without events.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total <= 0 {
		return 0
	}
	want, sum := q*h.total, 0.0
	for i, n := range h.bins {
		sum += n
		if sum >= want*(1-1e-12) {
			return time.Duration(i) * h.step
		}
	}
	return time.Duration(len(h.bins)-1) * h.step
}

// max returns the longest wait of at least a thousandth of an event, so the fluid's rounding dust does not set
// it.
func (h *histogram) max() time.Duration {
	for i := len(h.bins) - 1; i >= 0; i-- {
		if h.bins[i] >= 1e-3 {
			return time.Duration(i) * h.step
		}
	}
	return 0
}

// poisson draws a Poisson-distributed count with mean lambda: by multiplication of uniforms for small means,
// and by Hörmann's transformed rejection (PTRS, as numpy does) for larger ones, where multiplication would
// underflow and be slow.
func poisson(uniform func() float64, lambda float64) float64 {
	if !(lambda > 0) {
		return 0
	}
	if lambda < 10 {
		limit, k, p := math.Exp(-lambda), 0.0, uniform()
		for p > limit {
			k++
			p *= uniform()
		}
		return k
	}
	slam, loglam := math.Sqrt(lambda), math.Log(lambda)
	b := 0.931 + 2.53*slam
	a := -0.059 + 0.02483*b
	invalpha := 1.1239 + 1.1328/(b-3.4)
	vr := 0.9277 - 3.6224/(b-2)
	for {
		u := uniform() - 0.5
		v := uniform()
		us := 0.5 - math.Abs(u)
		k := math.Floor((2*a/us+b)*u + lambda + 0.43)
		if us >= 0.07 && v <= vr {
			return k
		}
		if k < 0 || (us < 0.013 && v > us) {
			continue
		}
		lg, _ := math.Lgamma(k + 1)
		if math.Log(v)+math.Log(invalpha)-math.Log(a/(us*us)+b) <= -lambda+k*loglam-lg {
			return k
		}
	}
}
