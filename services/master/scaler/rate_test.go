package scaler_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/scaler"
)

func TestNewRateMeterRejectsBadAlpha(t *testing.T) {
	for _, alpha := range []float64{0, -0.5, 1.01, math.NaN(), math.Inf(1)} {
		if _, err := scaler.NewRateMeter(alpha); !errors.Is(err, scaler.ErrInvalidRate) {
			t.Errorf("NewRateMeter(%v) error = %v, want ErrInvalidRate", alpha, err)
		}
	}
}

func TestRateMeterUnits(t *testing.T) {
	tests := []struct {
		name   string
		count  int
		window time.Duration
		want   float64
	}{
		// The reference implementation's bug was sizing with this window's 10000, not 5000/s.
		{"2s window", 10000, 2 * time.Second, 5000},
		{"1s window", 750, time.Second, 750},
		{"half-second window", 500, 500 * time.Millisecond, 1000},
		{"nothing arrived", 0, 2 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := scaler.NewRateMeter(1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Observe(tt.count, tt.window)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || m.Raw() != tt.want || m.Smoothed() != tt.want {
				t.Errorf("Observe(%d, %v) = %v (raw %v, smoothed %v), want %v events/s",
					tt.count, tt.window, got, m.Raw(), m.Smoothed(), tt.want)
			}
		})
	}
}

func TestRateMeterSmoothing(t *testing.T) {
	type window struct {
		count         int
		raw, smoothed float64
	}
	tests := []struct {
		name    string
		alpha   float64
		windows []window // each 1 s long
	}{
		{"first window primes", 0.5, []window{{800, 800, 800}}},
		{"falls are smoothed", 0.5, []window{{1000, 1000, 1000}, {200, 200, 600}, {200, 200, 400}}},
		{"an empty window leaves no tail", 0.5, []window{{1000, 1000, 1000}, {200, 200, 600}, {0, 0, 0}, {0, 0, 0}}},
		{"one quiet window does not halve the fleet", 0.5, []window{{5000, 5000, 5000}, {1000, 1000, 3000}, {5000, 5000, 5000}}},
		{"rises pass at once", 0.5, []window{{1000, 1000, 1000}, {0, 0, 0}, {4000, 4000, 4000}}},
		{"rise above a decaying average", 0.2, []window{{1000, 1000, 1000}, {500, 500, 900}, {950, 950, 950}}},
		{"a smaller rise still passes", 0.2, []window{{1000, 1000, 1000}, {500, 500, 900}, {920, 920, 920}}},
		{"alpha 1 follows raw", 1, []window{{1000, 1000, 1000}, {10, 10, 10}, {300, 300, 300}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := scaler.NewRateMeter(tt.alpha)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tt.windows {
				got, err := m.Observe(w.count, time.Second)
				if err != nil {
					t.Fatal(err)
				}
				if !near(got, w.smoothed) || !near(m.Smoothed(), w.smoothed) || !near(m.Raw(), w.raw) {
					t.Errorf("window %d: got %v, raw %v, smoothed %v; want raw %v, smoothed %v",
						i, got, m.Raw(), m.Smoothed(), w.raw, w.smoothed)
				}
			}
		})
	}
}

func TestRateMeterRejectsBadSamples(t *testing.T) {
	tests := []struct {
		name   string
		count  int
		window time.Duration
	}{
		{"negative count", -1, time.Second},
		{"zero window", 10, 0},
		{"negative window", 10, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := scaler.NewRateMeter(0.5)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.Observe(2000, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			got, err := m.Observe(tt.count, tt.window)
			if !errors.Is(err, scaler.ErrInvalidRate) {
				t.Errorf("error = %v, want ErrInvalidRate", err)
			}
			if got != 1000 || m.Raw() != 1000 || m.Smoothed() != 1000 {
				t.Errorf("a rejected sample changed the meter: got %v, raw %v, smoothed %v", got, m.Raw(), m.Smoothed())
			}
		})
	}
}

// TestBurstScalesUpWithinTwoIntervals drives the meter and the scaler together the way the master does, and
// requires more workers within two evaluations of a burst's start, wherever in a window the burst begins.
func TestBurstScalesUpWithinTwoIntervals(t *testing.T) {
	const interval = 2 * time.Second
	tests := []struct {
		name  string
		alpha float64
		// counts per window: steady 1000/s, then a burst to 5000/s from window 10, starting at the given
		// share of that window.
		burstShare float64
	}{
		{"burst at window start", 0.5, 1},
		{"burst halfway through a window", 0.5, 0.5},
		{"burst in the last tenth of a window", 0.5, 0.1},
		{"heavy smoothing", 0.05, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := scaler.NewRateMeter(tt.alpha)
			if err != nil {
				t.Fatal(err)
			}
			s := scaler.New(scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: 2 * time.Second, DeadBand: 0.1})
			start := time.Unix(1_700_000_000, 0)
			current := 1
			const burstWindow = 10
			var before int
			for i := 0; i < burstWindow+2; i++ {
				count := 2000 // 1000/s over 2 s
				switch {
				case i == burstWindow:
					count = int(2000*(1-tt.burstShare) + 10000*tt.burstShare)
				case i > burstWindow:
					count = 10000
				}
				lambda, err := m.Observe(count, interval)
				if err != nil {
					t.Fatal(err)
				}
				d := s.Decide(scaler.Input{Lambda: lambda, Capacity: 1000, Current: current, Now: start.Add(time.Duration(i) * interval)})
				if i == burstWindow-1 {
					before = d.Desired
				}
				current = d.Desired
			}
			if before != 2 {
				t.Fatalf("steady 1000/s with C=1000/s and Tr=2s sized %d workers, want 2", before)
			}
			if current <= before {
				t.Errorf("two evaluations into the burst the pool has %d workers, had %d before it", current, before)
			}
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
