package pattern

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func drain(t *testing.T, s Schedule, d time.Duration) []time.Duration {
	t.Helper()
	var out []time.Duration
	for {
		at, ok := s.Next()
		if !ok {
			break
		}
		if at < 0 || at >= d {
			t.Fatalf("send time %s outside [0, %s)", at, d)
		}
		if n := len(out); n > 0 && at < out[n-1] {
			t.Fatalf("send times go backwards: %s after %s", at, out[n-1])
		}
		out = append(out, at)
	}
	if _, ok := s.Next(); ok {
		t.Fatal("schedule yields again after reporting its end")
	}
	return out
}

func TestParseKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr string
	}{
		{"steady", Steady, ""},
		{"Poisson", Poisson, ""},
		{" ramp ", Ramp, ""},
		{"random", Random, ""},
		{"pause", Pause, ""},
		{"burst", "", `unknown pattern "burst" (want one of steady, poisson, ramp, random, pause)`},
		{"", "", "unknown pattern"},
	}
	for _, tt := range tests {
		got, err := ParseKind(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseKind(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{"steady", Spec{Kind: Steady, Rate: 10, Duration: sec}, ""},
		{"steady zero rate", Spec{Kind: Steady, Rate: 0, Duration: sec}, "rate must be > 0, got 0"},
		{"steady negative rate", Spec{Kind: Steady, Rate: -5, Duration: sec}, "rate must be > 0, got -5"},
		{"poisson negative rate", Spec{Kind: Poisson, Rate: -1, Duration: sec}, "rate must be > 0"},
		{"zero duration", Spec{Kind: Steady, Rate: 1}, "duration must be > 0, got 0s"},
		{"negative duration", Spec{Kind: Steady, Rate: 1, Duration: -sec}, "duration must be > 0, got -1s"},
		{"NaN rate", Spec{Kind: Steady, Rate: math.NaN(), Duration: sec}, "rate must be a finite number"},
		{"infinite slope", Spec{Kind: Ramp, Rate: 1, Slope: math.Inf(1), Duration: sec}, "slope must be a finite number"},
		{"ramp up from zero", Spec{Kind: Ramp, Rate: 0, Slope: 10, Duration: sec}, ""},
		{"ramp flat", Spec{Kind: Ramp, Rate: 5, Slope: 0, Duration: sec}, ""},
		{"ramp down to zero", Spec{Kind: Ramp, Rate: 10, Slope: -10, Duration: sec}, ""},
		{"ramp zero everywhere", Spec{Kind: Ramp, Rate: 0, Slope: 0, Duration: sec}, "ramp needs rate > 0 or slope > 0"},
		{"ramp negative start", Spec{Kind: Ramp, Rate: -1, Slope: 10, Duration: sec}, "starting rate must be >= 0, got -1"},
		{"ramp goes negative", Spec{Kind: Ramp, Rate: 10, Slope: -20, Duration: sec}, "rate must stay >= 0"},
		{"random", Spec{Kind: Random, Min: 0, Max: 10, Duration: sec}, ""},
		{"random fixed", Spec{Kind: Random, Min: 4, Max: 4, Duration: sec}, ""},
		{"random min above max", Spec{Kind: Random, Min: 10, Max: 5, Duration: sec}, "min (10) must be <= max (5)"},
		{"random negative min", Spec{Kind: Random, Min: -1, Max: 5, Duration: sec}, "min must be >= 0"},
		{"random zero max", Spec{Kind: Random, Max: 0, Duration: sec}, "max must be > 0"},
		{"random negative interval", Spec{Kind: Random, Max: 1, Interval: -sec, Duration: sec}, "interval must be > 0"},
		{"random too many draws", Spec{Kind: Random, Max: 1, Interval: time.Nanosecond, Duration: sec}, "more than the limit"},
		{"pause", Spec{Kind: Pause, Duration: sec}, ""},
		{"pause with rate", Spec{Kind: Pause, Rate: 3, Duration: sec}, "pause takes no rate"},
		{"unknown", Spec{Kind: "zigzag", Duration: sec}, `unknown pattern "zigzag"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate() error %v does not match ErrInvalid", err)
			}
			if _, err := New(tt.spec, rand.New(rand.NewPCG(1, 2))); err == nil {
				t.Errorf("New accepted a spec that Validate refuses")
			}
		})
	}
}

func TestNewNeedsRNG(t *testing.T) {
	for _, k := range []Kind{Poisson, Random} {
		_, err := New(Spec{Kind: k, Rate: 1, Min: 1, Max: 2, Duration: time.Second}, nil)
		if err == nil || !strings.Contains(err.Error(), "needs a random number generator") {
			t.Errorf("New(%s, nil rng) = %v, want an error", k, err)
		}
	}
	if _, err := New(Spec{Kind: Steady, Rate: 1, Duration: time.Second}, nil); err != nil {
		t.Errorf("New(steady, nil rng) = %v, want nil", err)
	}
}

func TestSteadyCountAndTimes(t *testing.T) {
	tests := []struct {
		rate float64
		d    time.Duration
		want int
	}{
		{2000, 5 * time.Second, 10000},
		{300, 6 * time.Second, 1800},
		{3, time.Second, 3},
		{0.5, 3 * time.Second, 2},
		{1, time.Second, 1},
		{1000, 1500 * time.Millisecond, 1500},
	}
	for _, tt := range tests {
		times := drain(t, NewSteady(tt.rate, tt.d), tt.d)
		if len(times) != tt.want {
			t.Errorf("steady %v/s for %s sent %d, want %d", tt.rate, tt.d, len(times), tt.want)
		}
		for k, at := range times {
			want := seconds(float64(k) / tt.rate)
			if at != want {
				t.Fatalf("steady %v/s: send %d at %s, want %s", tt.rate, k, at, want)
			}
		}
	}
}

func TestRampCountIsIntegral(t *testing.T) {
	tests := []struct {
		name string
		a, b float64
		d    time.Duration
	}{
		{"up from zero", 100, 0, 10 * time.Second},
		{"up from 200", 180, 200, 10 * time.Second},
		{"flat", 0, 250, 4 * time.Second},
		{"down to zero", -20, 200, 10 * time.Second},
		{"down partway", -10, 200, 10 * time.Second},
		{"tiny slope", 1e-9, 50, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			times := drain(t, NewRamp(tt.a, tt.b, tt.d), tt.d)
			d := tt.d.Seconds()
			integral := tt.a*d*d/2 + tt.b*d
			// Message k is due when the integral reaches k, from k = 0, so ⌈integral⌉ messages fall before d.
			if want := math.Ceil(integral - 1e-9); math.Abs(float64(len(times))-want) > 1 {
				t.Errorf("ramp sent %d, want %v (the integral is %v)", len(times), want, integral)
			}
			// Halfway through, the count must match the integral up to then: the shape, not just the total.
			half := tt.d / 2
			h := half.Seconds()
			n := 0
			for _, at := range times {
				if at < half {
					n++
				}
			}
			if want := tt.a*h*h/2 + tt.b*h; math.Abs(float64(n)-want) > 1.5 {
				t.Errorf("ramp sent %d in the first half, want about %v", n, want)
			}
			p, err := New(Spec{Kind: Ramp, Slope: tt.a, Rate: tt.b, Duration: tt.d}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Expected(); math.Abs(got-integral) > 1e-6 {
				t.Errorf("Expected() = %v, want %v", got, integral)
			}
		})
	}
}

func TestRampFromZeroStartsAtZero(t *testing.T) {
	s := NewRamp(2, 0, 10*time.Second)
	first, _ := s.Next()
	second, _ := s.Next()
	if first != 0 {
		t.Errorf("first send at %s, want 0", first)
	}
	// a·t²/2 = 1 gives t = √(2/a) = 1 s.
	if second != time.Second {
		t.Errorf("second send at %s, want 1s", second)
	}
}

func TestPoissonMeanRate(t *testing.T) {
	const rate = 1000.0
	d := 20 * time.Second
	p, err := New(Spec{Kind: Poisson, Rate: rate, Duration: d}, rand.New(rand.NewPCG(42, 7)))
	if err != nil {
		t.Fatal(err)
	}
	times := drain(t, p.Schedule(0), d)
	want := rate * d.Seconds()
	// The count is Poisson(20 000): its standard deviation is about 141, so 2 % is over 2.8 sigma.
	if got := float64(len(times)); math.Abs(got-want)/want > 0.02 {
		t.Errorf("poisson sent %v, want %v ± 2%%", got, want)
	}
	// Gaps of an exponential distribution have a coefficient of variation of 1; a steady schedule's is 0.
	var sum, sumSq float64
	for i := 1; i < len(times); i++ {
		g := (times[i] - times[i-1]).Seconds()
		sum += g
		sumSq += g * g
	}
	n := float64(len(times) - 1)
	mean := sum / n
	cv := math.Sqrt(sumSq/n-mean*mean) / mean
	if math.Abs(cv-1) > 0.05 {
		t.Errorf("gap coefficient of variation = %v, want about 1", cv)
	}

	again := drain(t, p.Schedule(0), d)
	if len(again) != len(times) || again[100] != times[100] {
		t.Error("the same publisher's schedule differs between calls")
	}
	other := drain(t, p.Schedule(1), d)
	if len(other) > 100 && other[100] == times[100] {
		t.Error("two publishers got the same poisson arrivals")
	}
}

func TestRandomPiecewise(t *testing.T) {
	d := 10*time.Second + 500*time.Millisecond
	spec := Spec{Kind: Random, Min: 100, Max: 500, Duration: d}
	p, err := New(spec, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	levels := p.Levels()
	if len(levels) != 11 {
		t.Fatalf("drew %d levels over %s, want 11", len(levels), d)
	}
	for _, l := range levels {
		if l < 100 || l > 500 {
			t.Fatalf("level %v outside [100, 500]", l)
		}
	}
	times := drain(t, p.Schedule(0), d)
	if want := p.Expected(); math.Abs(float64(len(times))-want) > 1.5 {
		t.Errorf("random sent %d, want about %v", len(times), want)
	}
	// Each full interval must carry its own level's worth of sends.
	perSec := make([]int, len(levels))
	for _, at := range times {
		perSec[int(at/time.Second)]++
	}
	for i := range 10 {
		if math.Abs(float64(perSec[i])-levels[i]) > 1.5 {
			t.Errorf("interval %d sent %d, want about %v", i, perSec[i], levels[i])
		}
		if got := p.Rate(time.Duration(i)*time.Second + time.Millisecond); got != levels[i] {
			t.Errorf("Rate in interval %d = %v, want %v", i, got, levels[i])
		}
	}
	same, _ := New(spec, rand.New(rand.NewPCG(3, 4)))
	if same.Levels()[5] != levels[5] {
		t.Error("the same seed drew different levels")
	}
}

func TestPiecewiseZeroLevels(t *testing.T) {
	times := drain(t, NewPiecewise([]float64{0, 2, 0, 1}, time.Second, 4*time.Second), 4*time.Second)
	want := []time.Duration{time.Second, 1500 * time.Millisecond, 3 * time.Second}
	if len(times) != len(want) {
		t.Fatalf("sent at %v, want %v", times, want)
	}
	for i := range want {
		if times[i] != want[i] {
			t.Errorf("send %d at %s, want %s", i, times[i], want[i])
		}
	}
}

func TestRateAndExpected(t *testing.T) {
	tests := []struct {
		spec     Spec
		at       time.Duration
		rate     float64
		expected float64
	}{
		{Spec{Kind: Steady, Rate: 200, Duration: 15 * time.Second}, time.Second, 200, 3000},
		{Spec{Kind: Poisson, Rate: 50, Duration: 2 * time.Second}, time.Second, 50, 100},
		{Spec{Kind: Ramp, Rate: 10, Slope: 4, Duration: 10 * time.Second}, 5 * time.Second, 30, 300},
		{Spec{Kind: Pause, Duration: time.Second}, 0, 0, 0},
		{Spec{Kind: Steady, Rate: 200, Duration: time.Second}, time.Second, 0, 200},
		{Spec{Kind: Steady, Rate: 200, Duration: time.Second}, -time.Nanosecond, 0, 200},
	}
	for _, tt := range tests {
		p, err := New(tt.spec, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Rate(tt.at); got != tt.rate {
			t.Errorf("%s Rate(%s) = %v, want %v", tt.spec.Kind, tt.at, got, tt.rate)
		}
		if got := p.Expected(); math.Abs(got-tt.expected) > 1e-9 {
			t.Errorf("%s Expected() = %v, want %v", tt.spec.Kind, got, tt.expected)
		}
	}
}

func TestPauseSchedulesNothing(t *testing.T) {
	p, err := New(Spec{Kind: Pause, Duration: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := drain(t, p.Schedule(0), time.Second); len(got) != 0 {
		t.Errorf("pause sent %d", len(got))
	}
}
