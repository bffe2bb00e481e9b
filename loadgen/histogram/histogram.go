// Package histogram records durations in a fixed-size log-linear histogram, so percentiles over millions of
// samples cost a constant ~440 KB instead of a slice of every sample.
//
// The layout follows HDR histograms: values below 2^subBits nanoseconds get one bucket each, and every power
// of two above that is split into 2^subBits equal buckets. A bucket's width is therefore at most 1/1024 of
// its value, and the value a percentile reports (the bucket's midpoint, clamped to the observed minimum and
// maximum) is within 0.05 % of the true sample: a 30 ms latency reads as 30.0 ms, not 29.9.
package histogram

import (
	"math"
	"math/bits"
	"time"
)

const (
	subBits  = 10
	subCount = 1 << subBits
	// groups covers every non-negative int64: group 0 holds [0, 2^subBits) exactly and group g >= 1 holds
	// [2^(g+subBits-1), 2^(g+subBits)).
	groups  = 64 - subBits
	buckets = groups * subCount
)

// RelativeError is the largest relative error of a reported percentile.
const RelativeError = 1.0 / (2 * subCount)

// Histogram counts durations. The zero value is empty and ready; it is not safe for concurrent use, so
// callers that record from several goroutines guard it.
type Histogram struct {
	counts   [buckets]uint64
	n        uint64
	sum      float64
	min, max time.Duration
}

func index(v uint64) int {
	if v < subCount {
		return int(v)
	}
	msb := bits.Len64(v) - 1
	shift := msb - subBits
	return (shift+1)*subCount + int(v>>uint(shift)) - subCount
}

// bounds returns the smallest value of bucket i and the bucket's width.
func bounds(i int) (lo, width uint64) {
	if i < subCount {
		return uint64(i), 1
	}
	g, s := i/subCount, i%subCount
	shift := uint(g - 1)
	return uint64(subCount+s) << shift, 1 << shift
}

// Record adds one duration; a negative one, which only a clock step can produce, counts as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest sample exactly, or zero when empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest sample exactly, or zero when empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the exact mean of the samples, or zero when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.n)))
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100): the smallest sample that at least p %
// of the samples do not exceed, to within RelativeError. p <= 0 gives Min, p >= 100 gives Max exactly, and
// an empty histogram gives zero.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if p <= 0 || math.IsNaN(p) {
		return h.min
	}
	if p >= 100 {
		return h.max
	}
	// The epsilon keeps a product such as 0.999 × 1000, which floats make 999.0000000000001, at rank 999.
	rank := uint64(math.Ceil(p/100*float64(h.n) - 1e-6))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, w := bounds(i)
			v := time.Duration(lo + (w-1)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
