package scaler_test

import (
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/scaler"
)

// TestNeedFormulas checks both formulas in their units: λ and C in events per second, B in events, Tr in
// seconds, u a share.
func TestNeedFormulas(t *testing.T) {
	tests := []struct {
		name    string
		formula string
		u       float64
		lambda  float64
		backlog int
		c       float64
		tr      time.Duration
		want    float64
	}{
		{"serve the arrivals at 80 %", "", 0, 800, 0, 100, 2 * time.Second, 10},
		{"serve the arrivals at 100 %", scaler.FormulaUtilization, 1, 800, 0, 100, 2 * time.Second, 8},
		{"drain the backlog within Tr", scaler.FormulaUtilization, 1, 0, 1000, 100, 2 * time.Second, 5},
		{"both", scaler.FormulaUtilization, 0.5, 100, 200, 100, 4 * time.Second, 3},
		{"Tr means what it says: a longer Tr needs fewer workers for the same backlog", scaler.FormulaUtilization, 1, 0, 1000, 100, 10 * time.Second, 1},
		{"seed: Tr seconds of arrivals per second of capacity", scaler.FormulaSeed, 0.5, 800, 0, 100, 2 * time.Second, 16},
		{"seed: backlog drained in one second", scaler.FormulaSeed, 0.5, 0, 1000, 100, 10 * time.Second, 10},
		{"idle", "", 0, 0, 0, 100, 2 * time.Second, 0},
		{"zero capacity", "", 0, 100, 0, 0, 2 * time.Second, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := scaler.Policy{Min: 0, Max: 100, Tr: tt.tr, Formula: tt.formula, TargetUtilization: tt.u}
			if got := p.Need(tt.lambda, tt.backlog, tt.c); got < tt.want-1e-9 || got > tt.want+1e-9 {
				t.Errorf("Need(λ=%v, B=%d, C=%v) = %v, want %v", tt.lambda, tt.backlog, tt.c, got, tt.want)
			}
		})
	}
}

func TestPolicyValidateNewKeys(t *testing.T) {
	base := scaler.Policy{Min: 1, Max: 8, Tr: 2 * time.Second}
	tests := []struct {
		name   string
		mutate func(*scaler.Policy)
		ok     bool
	}{
		{"defaults", func(*scaler.Policy) {}, true},
		{"seed", func(p *scaler.Policy) { p.Formula = scaler.FormulaSeed }, true},
		{"unknown formula", func(p *scaler.Policy) { p.Formula = "magic" }, false},
		{"utilization 1", func(p *scaler.Policy) { p.TargetUtilization = 1 }, true},
		{"utilization above 1", func(p *scaler.Policy) { p.TargetUtilization = 1.2 }, false},
		{"negative utilization", func(p *scaler.Policy) { p.TargetUtilization = -0.1 }, false},
		{"rate limit off", func(p *scaler.Policy) { p.ScaleDownRate = 1 }, true},
		{"rate above 1", func(p *scaler.Policy) { p.ScaleDownRate = 1.5 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base
			tt.mutate(&p)
			if err := p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// run drives a Scaler with one need per 2 s evaluation (C = 100/s, u = 1, Tr = 1 s, so λ/100 is the need) and
// returns the pool sizes after each evaluation.
func run(p scaler.Policy, start int, needs []float64) ([]int, []string) {
	p.TargetUtilization, p.Tr = 1, time.Second
	s := scaler.New(p)
	cur := start
	sizes, reasons := make([]int, len(needs)), make([]string, len(needs))
	for i, n := range needs {
		d := s.Decide(scaler.Input{Lambda: n * 100, Capacity: 100, Current: cur, Now: epoch.Add(time.Duration(i) * 2 * time.Second)})
		cur = d.Desired
		sizes[i], reasons[i] = cur, d.Reason
	}
	return sizes, reasons
}

func fill(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestScaleDownRateLimit: with the load gone from 8 workers' worth to 1, the pool sheds at most half per
// 10 s window (8 → 4 → 2 → 1), where without the limit it goes to 1 in one step.
func TestScaleDownRateLimit(t *testing.T) {
	needs := append(fill(6, 8), fill(30, 1)...)
	limited, reasons := run(scaler.Policy{Min: 1, Max: 10, Stabilization: 10 * time.Second}, 8, needs)
	unlimited, _ := run(scaler.Policy{Min: 1, Max: 10, Stabilization: 10 * time.Second, ScaleDownRate: 1}, 8, needs)
	distinct := func(xs []int) []int {
		var out []int
		for _, x := range xs {
			if len(out) == 0 || out[len(out)-1] != x {
				out = append(out, x)
			}
		}
		return out
	}
	if got := distinct(limited); len(got) != 4 || got[0] != 8 || got[1] != 4 || got[2] != 2 || got[3] != 1 {
		t.Errorf("limited sizes %v (%v), want 8 → 4 → 2 → 1", limited, reasons)
	}
	if got := distinct(unlimited); len(got) != 2 || got[1] != 1 {
		t.Errorf("unlimited sizes %v, want 8 → 1", unlimited)
	}
	seen := false
	for _, r := range reasons {
		seen = seen || r == scaler.ReasonHoldRateLimited
	}
	if !seen {
		t.Errorf("reasons %v never say the rate limit held the pool", reasons)
	}
}

// TestIdlePoolReachesZero: with min 0 the pool reaches zero one stabilization window after the last event,
// rate limit or not, and the first event afterwards brings a worker at the next evaluation.
func TestIdlePoolReachesZero(t *testing.T) {
	window := 30 * time.Second
	needs := append(append(fill(10, 4), fill(20, 0)...), 0.01)
	sizes, reasons := run(scaler.Policy{Min: 0, Max: 10, Stabilization: window, DeadBand: 0.1}, 4, needs)
	lastLoad := 9 // evaluation index of the last non-zero need
	zeroAt := -1
	for i := lastLoad; i < 30; i++ {
		if sizes[i] == 0 {
			zeroAt = i
			break
		}
	}
	if zeroAt < 0 {
		t.Fatalf("sizes %v (%v): never reached zero", sizes, reasons)
	}
	if after := time.Duration(zeroAt-lastLoad) * 2 * time.Second; after > window+2*time.Second {
		t.Errorf("reached zero %v after the last load, want one window (%v)", after, window)
	}
	if sizes[30] != 1 || reasons[30] != scaler.ReasonScaleUp {
		t.Errorf("first event after idle: %d (%s), want 1 worker at once", sizes[30], reasons[30])
	}
}

// TestToleranceBothWays: a need wobbling within ±8 % of 5 workers' worth neither grows nor shrinks a pool of 5
// with the default 10 % band, while 12 % above grows it.
func TestToleranceBothWays(t *testing.T) {
	needs := []float64{5.4, 4.7, 5.2, 4.9, 5.38, 4.62}
	sizes, reasons := run(scaler.Policy{Min: 1, Max: 10, Stabilization: -1, DeadBand: 0.1}, 5, needs)
	for i, s := range sizes {
		if s != 5 {
			t.Fatalf("need %v moved the pool to %d (%s)", needs[i], s, reasons[i])
		}
	}
	if sizes, _ := run(scaler.Policy{Min: 1, Max: 10, Stabilization: -1, DeadBand: 0.1}, 5, []float64{5.6}); sizes[0] != 6 {
		t.Errorf("need 5.6 gave %d workers, want 6", sizes[0])
	}
}
