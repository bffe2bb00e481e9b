package histogram

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestIndexBoundsAgree(t *testing.T) {
	values := []uint64{0, 1, 127, 128, 129, 255, 256, 257, 511, 512, 1000, 123456789, 1 << 40, math.MaxInt64}
	for _, v := range values {
		i := index(v)
		if i < 0 || i >= buckets {
			t.Fatalf("index(%d) = %d out of range", v, i)
		}
		lo, w := bounds(i)
		if v < lo || v-lo >= w {
			t.Errorf("value %d in bucket %d = [%d, %d+%d)", v, i, lo, lo, w)
		}
		if v >= subCount && float64(w)/float64(lo) > 1.0/subCount+1e-12 {
			t.Errorf("bucket %d is %d wide at %d: too coarse", i, w, lo)
		}
	}
	// Buckets are contiguous: each starts where the previous ends.
	for i := 1; i < buckets; i++ {
		plo, pw := bounds(i - 1)
		lo, _ := bounds(i)
		if plo+pw != lo {
			t.Fatalf("bucket %d starts at %d, previous ends at %d", i, lo, plo+pw)
		}
	}
}

func TestPercentilesKnownData(t *testing.T) {
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
		tol     float64
	}{
		// 1..100 ns land in exact buckets, so nearest-rank percentiles are exact.
		{"p50 of 1..100ns", seq(1, 100, 1), 50, 50, 0},
		{"p90 of 1..100ns", seq(1, 100, 1), 90, 90, 0},
		{"p99 of 1..100ns", seq(1, 100, 1), 99, 99, 0},
		{"p100 of 1..100ns", seq(1, 100, 1), 100, 100, 0},
		{"p0 of 1..100ns", seq(1, 100, 1), 0, 1, 0},
		{"p50 of 1..1000ms", seq(1, 1000, time.Millisecond), 50, 500 * time.Millisecond, RelativeError},
		{"p99 of 1..1000ms", seq(1, 1000, time.Millisecond), 99, 990 * time.Millisecond, RelativeError},
		{"p99.9 of 1..1000ms", seq(1, 1000, time.Millisecond), 99.9, 999 * time.Millisecond, RelativeError},
		{"max of 1..1000ms", seq(1, 1000, time.Millisecond), 100, time.Second, 0},
		{"single", []time.Duration{42 * time.Millisecond}, 50, 42 * time.Millisecond, 0},
		{"empty", nil, 50, 0, 0},
		{"negative is zero", []time.Duration{-5}, 50, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, s := range tt.samples {
				h.Record(s)
			}
			got := h.Percentile(tt.p)
			if diff := math.Abs(float64(got - tt.want)); diff > tt.tol*float64(tt.want) {
				t.Errorf("Percentile(%v) = %s, want %s (±%.2f%%)", tt.p, got, tt.want, tt.tol*100)
			}
		})
	}
}

func TestMatchesExactPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h Histogram
	samples := make([]time.Duration, 200_000)
	for i := range samples {
		// Log-normal latencies around a few milliseconds with a long tail.
		samples[i] = time.Duration(math.Exp(rng.NormFloat64()*0.8) * float64(3*time.Millisecond))
		h.Record(samples[i])
	}
	slices.Sort(samples)
	for _, p := range []float64{50, 90, 99, 99.9} {
		exact := samples[int(math.Ceil(p/100*float64(len(samples))-1e-6))-1]
		got := h.Percentile(p)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > RelativeError {
			t.Errorf("p%v = %s, exact %s: relative error %.4f > %.4f", p, got, exact, rel, RelativeError)
		}
	}
	if h.Max() != samples[len(samples)-1] || h.Min() != samples[0] {
		t.Errorf("min/max = %s/%s, want %s/%s", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
	}
	if h.Count() != uint64(len(samples)) {
		t.Errorf("Count() = %d", h.Count())
	}
}

func TestMergeAndMean(t *testing.T) {
	var a, b Histogram
	a.Record(10 * time.Millisecond)
	a.Record(20 * time.Millisecond)
	b.Record(30 * time.Millisecond)
	b.Record(time.Millisecond)
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a.Count() != 4 || a.Min() != time.Millisecond || a.Max() != 30*time.Millisecond {
		t.Errorf("merged count/min/max = %d/%s/%s", a.Count(), a.Min(), a.Max())
	}
	if a.Mean() != 15250*time.Microsecond {
		t.Errorf("Mean() = %s, want 15.25ms", a.Mean())
	}
}

func seq(from, to int, unit time.Duration) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*unit)
	}
	return out
}
