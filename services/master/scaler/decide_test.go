package scaler_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/scaler"
)

var epoch = time.Unix(1_700_000_000, 0)

func TestNeeded(t *testing.T) {
	tests := []struct {
		name     string
		lambda   float64 // events/s
		backlog  int
		capacity float64 // events/s per worker
		tr       time.Duration
		want     int
	}{
		{"rate per second, not per window", 5000, 0, 1000, 2 * time.Second, 10},
		{"backlog only", 0, 3000, 1000, 2 * time.Second, 3},
		{"backlog plus arrivals", 1000, 500, 1000, 500 * time.Millisecond, 1},
		{"tr in milliseconds", 1000, 0, 1000, 1500 * time.Millisecond, 2},
		{"one event needs a worker", 0, 1, 1000, 2 * time.Second, 1},
		{"idle", 0, 0, 1000, 2 * time.Second, 0},
		{"slow workers", 30, 0, 7, time.Second, 5},
		{"float noise above a whole number", 3000.0000001, 0, 1000, time.Second, 3},
		{"0.1+0.2 style noise", (0.1 + 0.2) * 1000, 0, 1000, 10 * time.Second, 3},
		{"a real fraction rounds up", 3001, 0, 1000, time.Second, 4},
		{"negative rate counts as zero", -500, 2000, 1000, time.Second, 2},
		{"negative backlog counts as zero", 1000, -50, 1000, time.Second, 1},
		{"zero capacity", 1000, 10, 0, time.Second, 0},
		{"NaN capacity", 1000, 10, math.NaN(), time.Second, 0},
		{"NaN rate", math.NaN(), 1000, 1000, time.Second, 1},
		{"saturates instead of overflowing", 1e300, 0, 1e-300, time.Hour, scaler.MaxNeeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scaler.Needed(tt.lambda, tt.backlog, tt.capacity, tt.tr); got != tt.want {
				t.Errorf("Needed(λ=%v/s, B=%d, C=%v/s, Tr=%v) = %d, want %d",
					tt.lambda, tt.backlog, tt.capacity, tt.tr, got, tt.want)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	valid := scaler.Policy{Min: 1, Max: 8, Tr: 2 * time.Second, MaxStep: 4, Stabilization: 30 * time.Second, DeadBand: 0.1}
	tests := []struct {
		name    string
		mutate  func(*scaler.Policy)
		wantErr bool
	}{
		{"valid", func(*scaler.Policy) {}, false},
		{"min equals max", func(p *scaler.Policy) { p.Min, p.Max = 3, 3 }, false},
		{"zero min", func(p *scaler.Policy) { p.Min = 0 }, false},
		{"negative stabilization disables it", func(p *scaler.Policy) { p.Stabilization = -1 }, false},
		{"negative min", func(p *scaler.Policy) { p.Min = -1 }, true},
		{"min above max", func(p *scaler.Policy) { p.Min, p.Max = 9, 8 }, true},
		{"zero tr", func(p *scaler.Policy) { p.Tr = 0 }, true},
		{"negative max step", func(p *scaler.Policy) { p.MaxStep = -1 }, true},
		{"dead band of one", func(p *scaler.Policy) { p.DeadBand = 1 }, true},
		{"negative dead band", func(p *scaler.Policy) { p.DeadBand = -0.1 }, true},
		{"NaN dead band", func(p *scaler.Policy) { p.DeadBand = math.NaN() }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid
			tt.mutate(&p)
			err := p.Validate()
			if tt.wantErr != (err != nil) {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, scaler.ErrInvalidPolicy) {
				t.Errorf("Validate() = %v, want it to wrap ErrInvalidPolicy", err)
			}
		})
	}
}

func TestNewAppliesDefaultsAndRepairs(t *testing.T) {
	defaults := func(p scaler.Policy) scaler.Policy {
		p.Formula, p.TargetUtilization, p.ScaleDownRate = scaler.FormulaUtilization, scaler.DefaultTargetUtilization, scaler.DefaultScaleDownRate
		return p
	}
	tests := []struct {
		name string
		in   scaler.Policy
		want scaler.Policy
	}{
		{"default stabilization", scaler.Policy{Min: 1, Max: 4, Tr: time.Second},
			defaults(scaler.Policy{Min: 1, Max: 4, Tr: time.Second, Stabilization: scaler.DefaultStabilization})},
		{"stabilization disabled", scaler.Policy{Min: 1, Max: 4, Tr: time.Second, Stabilization: -1},
			defaults(scaler.Policy{Min: 1, Max: 4, Tr: time.Second})},
		{"seed formula kept", scaler.Policy{Min: 1, Max: 4, Tr: time.Second, Stabilization: -1, Formula: scaler.FormulaSeed, TargetUtilization: 0.5, ScaleDownRate: 1},
			scaler.Policy{Min: 1, Max: 4, Tr: time.Second, Formula: scaler.FormulaSeed, TargetUtilization: 0.5, ScaleDownRate: 1}},
		{"invalid fields repaired", scaler.Policy{Min: -2, Max: -5, Tr: -time.Second, MaxStep: -1, Stabilization: time.Minute, DeadBand: 3,
			Formula: "bogus", TargetUtilization: 7, ScaleDownRate: -1},
			defaults(scaler.Policy{Stabilization: time.Minute})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scaler.New(tt.in).Policy(); got != tt.want {
				t.Errorf("New(%+v).Policy() = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

// TestDecideSingleEvaluation covers clamping, step caps and reasons with stabilization off, so each case is one
// evaluation on a fresh Scaler. C is 1000/s and Tr 1 s, so λ/1000 is the need in workers.
func TestDecideSingleEvaluation(t *testing.T) {
	tests := []struct {
		name        string
		policy      scaler.Policy
		lambda      float64
		backlog     int
		current     int
		wantRaw     int
		wantTarget  int
		wantDesired int
		wantReason  string
	}{
		{"scale up", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 5000, 0, 2, 5, 5, 5, scaler.ReasonScaleUp},
		{"backlog adds workers", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 1000, 2500, 2, 4, 4, 4, scaler.ReasonScaleUp},
		{"hold", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 3000, 0, 3, 3, 3, 3, scaler.ReasonHold},
		{"scale up clamped to max", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 12000, 0, 5, 12, 8, 8, scaler.ReasonScaleUp},
		{"at max", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 12000, 0, 8, 12, 8, 8, scaler.ReasonAtMax},
		{"exactly max is a hold", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 8000, 0, 8, 8, 8, 8, scaler.ReasonHold},
		{"at min when idle", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 0, 0, 1, 0, 1, 1, scaler.ReasonAtMin},
		{"at min when need equals min", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 8}, 2000, 0, 2, 2, 2, 2, scaler.ReasonAtMin},
		{"zero min idles at zero", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 0, Max: 8}, 0, 0, 0, 0, 0, 0, scaler.ReasonAtMin},
		{"scale down", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 8}, 2000, 0, 6, 2, 2, 2, scaler.ReasonScaleDown},
		{"scale down stops at min", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 8}, 0, 0, 6, 0, 2, 2, scaler.ReasonScaleDown},
		{"max step caps growth", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, MaxStep: 4}, 15000, 0, 2, 15, 15, 6, scaler.ReasonScaleUp},
		{"max step larger than the gap", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, MaxStep: 4}, 4000, 0, 2, 4, 4, 4, scaler.ReasonScaleUp},
		{"max step does not cap shrinking", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, MaxStep: 1}, 1000, 0, 10, 1, 1, 1, scaler.ReasonScaleDown},
		{"crashed to zero, idle", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 8}, 0, 0, 0, 0, 2, 2, scaler.ReasonBelowMin},
		{"crashed under load", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 8}, 6000, 0, 1, 6, 6, 6, scaler.ReasonBelowMin},
		{"max step never leaves the pool below min", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 5, Max: 8, MaxStep: 1}, 0, 0, 1, 0, 5, 5, scaler.ReasonBelowMin},
		{"max step applies above min", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 20, MaxStep: 3}, 12000, 0, 0, 12, 12, 3, scaler.ReasonBelowMin},
		{"above max after max was lowered", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 4}, 10000, 0, 7, 10, 4, 4, scaler.ReasonAboveMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.Tr, p.Stabilization = time.Second, -1
			d := scaler.New(p).Decide(scaler.Input{Lambda: tt.lambda, Backlog: tt.backlog, Capacity: 1000, Current: tt.current, Now: epoch})
			want := scaler.Decision{Need: d.Need, Raw: tt.wantRaw, Target: tt.wantTarget, Desired: tt.wantDesired, Reason: tt.wantReason}
			if d != want {
				t.Errorf("Decide() = %+v, want %+v", d, want)
			}
		})
	}
}

func TestDecideInvalidInput(t *testing.T) {
	tests := []struct {
		name        string
		in          scaler.Input
		wantDesired int
	}{
		{"zero capacity", scaler.Input{Lambda: 100, Capacity: 0, Current: 3}, 3},
		{"negative capacity", scaler.Input{Lambda: 100, Capacity: -5, Current: 3}, 3},
		{"NaN capacity", scaler.Input{Lambda: 100, Capacity: math.NaN(), Current: 3}, 3},
		{"infinite capacity", scaler.Input{Lambda: 100, Capacity: math.Inf(1), Current: 3}, 3},
		{"NaN rate", scaler.Input{Lambda: math.NaN(), Capacity: 1000, Current: 3}, 3},
		{"negative rate", scaler.Input{Lambda: -1, Capacity: 1000, Current: 3}, 3},
		{"infinite rate", scaler.Input{Lambda: math.Inf(1), Capacity: 1000, Current: 3}, 3},
		{"negative backlog", scaler.Input{Backlog: -1, Capacity: 1000, Current: 3}, 3},
		{"negative current restores min", scaler.Input{Capacity: 1000, Current: -1}, 2},
		{"bad input still restores min", scaler.Input{Capacity: 0, Current: 0}, 2},
		{"bad input still enforces max", scaler.Input{Capacity: 0, Current: 12}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scaler.New(scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 2, Max: 8, Tr: time.Second})
			d := s.Decide(tt.in)
			if d.Reason != scaler.ReasonInvalidInput || !errors.Is(d.Err, scaler.ErrInvalidInput) {
				t.Errorf("Decide() reason %q, err %v; want %q wrapping ErrInvalidInput", d.Reason, d.Err, scaler.ReasonInvalidInput)
			}
			if d.Desired != tt.wantDesired {
				t.Errorf("Decide().Desired = %d, want %d", d.Desired, tt.wantDesired)
			}
		})
	}
}

func TestDeadBand(t *testing.T) {
	tests := []struct {
		name        string
		deadBand    float64
		lambda      float64 // C is 1000/s and Tr 1 s: λ/1000 is the need in workers
		current     int
		wantDesired int
		wantReason  string
	}{
		{"just under a whole number shrinks to it", 0.1, 4900, 6, 5, scaler.ReasonScaleDown},
		{"a whole number shrinks to itself", 0.1, 5000, 6, 5, scaler.ReasonScaleDown},
		{"within half the band over a whole number shrinks to it", 0.1, 5200, 6, 5, scaler.ReasonScaleDown},
		{"past half the band keeps the larger pool", 0.1, 5300, 6, 6, scaler.ReasonHold},
		{"shrinks to the need", 0.1, 3000, 6, 3, scaler.ReasonScaleDown},
		{"without a dead band shrinks to the need", 0, 3000, 6, 3, scaler.ReasonScaleDown},
		{"without a dead band a hair is enough", 0, 4900, 6, 5, scaler.ReasonScaleDown},
		{"growth within the dead band holds", 0.1, 6500, 6, 6, scaler.ReasonHoldDeadBand},
		{"growth beyond the dead band", 0.1, 6700, 6, 7, scaler.ReasonScaleUp},
		{"wide dead band", 0.5, 7000, 6, 6, scaler.ReasonHoldDeadBand},
		{"wide dead band, lower need", 0.5, 4000, 6, 4, scaler.ReasonScaleDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scaler.New(scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, Stabilization: -1, DeadBand: tt.deadBand})
			d := s.Decide(scaler.Input{Lambda: tt.lambda, Capacity: 1000, Current: tt.current, Now: epoch})
			if d.Desired != tt.wantDesired || d.Reason != tt.wantReason {
				t.Errorf("Decide() = %d (%s), want %d (%s); need %.3f", d.Desired, d.Reason, tt.wantDesired, tt.wantReason, d.Need)
			}
		})
	}
}

// TestSteadyLoadDoesNotFlap feeds 100 evaluations of a load whose need wobbles ±4% around exactly 5 workers,
// through the rate meter as the master does. With the dead band the count never changes; the control shows the
// same load does flap without it.
func TestSteadyLoadDoesNotFlap(t *testing.T) {
	tests := []struct {
		name          string
		policy        scaler.Policy
		start         int
		wantChanges   func(int) bool
		wantChangeMsg string
	}{
		{"sized pool, default policy", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, DeadBand: 0.1}, 5,
			func(n int) bool { return n == 0 }, "no change"},
		{"sized pool, short stabilization", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, Stabilization: 2 * time.Second, DeadBand: 0.1}, 5,
			func(n int) bool { return n == 0 }, "no change"},
		{"sized pool, no stabilization", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, Stabilization: -1, DeadBand: 0.1}, 5,
			func(n int) bool { return n == 0 }, "no change"},
		{"cold pool settles once", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, Stabilization: -1, DeadBand: 0.1}, 1,
			func(n int) bool { return n <= 2 }, "at most 2 changes (1 → 6 → 5)"},
		{"control: no dead band, no stabilization", scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Tr: time.Second, Stabilization: -1}, 6,
			func(n int) bool { return n >= 10 }, "flapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m, err := scaler.NewRateMeter(1) // no smoothing: the dead band alone must absorb the noise
			if err != nil {
				t.Fatal(err)
			}
			s := scaler.New(tt.policy)
			current, changes, decreases := tt.start, 0, 0
			for i := range 100 {
				count := int(10000 * (1 + 0.08*(rng.Float64()-0.5))) // 5000/s ± 4% over 2 s
				lambda, err := m.Observe(count, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				d := s.Decide(scaler.Input{Lambda: lambda, Capacity: 1000, Current: current, Now: epoch.Add(time.Duration(i) * 2 * time.Second)})
				if d.Desired != current {
					changes++
					if d.Desired < current {
						decreases++
					}
				}
				current = d.Desired
			}
			t.Logf("%d changes, %d scale-downs", changes, decreases)
			if !tt.wantChanges(changes) {
				t.Errorf("%d changes over 100 evaluations, want %s", changes, tt.wantChangeMsg)
			}
			if tt.policy.DeadBand > 0 && tt.start > 1 && decreases > 0 {
				t.Errorf("%d scale-downs under a steady load", decreases)
			}
		})
	}
}

// step is one evaluation of a scenario, two seconds after the previous one. C is 1000/s and Tr 1 s, so need is
// λ/1000. The pool's size carries over from each Desired.
type step struct {
	need        float64
	wantDesired int
	wantReason  string
}

func repeat(n int, s step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func concat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestStabilization(t *testing.T) {
	hold10 := step{10, 10, scaler.ReasonHold}
	stab10 := step{4, 10, scaler.ReasonHoldStabilizing}
	tests := []struct {
		name   string
		policy scaler.Policy
		start  int
		steps  []step
	}{
		{
			// Evaluations at t=0..20 need 10, from t=22 only 4. At t=50 the high need of t=20 is exactly 30 s
			// old and still counts; at t=52 the low need has held a full window (since t=22).
			name:   "a drop scales down only after holding for the window",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 30 * time.Second},
			start:  10,
			steps: concat(repeat(11, hold10), repeat(15, stab10),
				[]step{{4, 4, scaler.ReasonScaleDown}, {4, 4, scaler.ReasonHold}}),
		},
		{
			name:   "a brief dip inside the window scales nothing down",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 30 * time.Second},
			start:  10,
			steps:  concat(repeat(16, hold10), repeat(10, stab10), repeat(20, hold10), repeat(5, stab10)),
		},
		{
			// 10 until t=20, 6 from t=22 to t=38, 3 from t=40. At t=52 the 10 has expired and the highest
			// recommendation left is 6; the 6 of t=38 expires at t=70.
			name:   "a staircase fall is followed step by step",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 30 * time.Second},
			start:  10,
			steps: concat(repeat(11, hold10), repeat(9, step{6, 10, scaler.ReasonHoldStabilizing}),
				repeat(6, step{3, 10, scaler.ReasonHoldStabilizing}),
				[]step{{3, 6, scaler.ReasonScaleDown}},
				repeat(8, step{3, 6, scaler.ReasonHoldStabilizing}),
				[]step{{3, 3, scaler.ReasonScaleDown}}),
		},
		{
			name:   "a rise during stabilization scales up at once",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 30 * time.Second},
			start:  10,
			steps: concat(repeat(11, hold10), repeat(5, stab10),
				[]step{{14, 14, scaler.ReasonScaleUp}, {14, 14, scaler.ReasonHold}}),
		},
		{
			// A dip to 4 while 14 was recommended within the window must not drop below the 14 either.
			name:   "after a rise the window holds the new high",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 10 * time.Second},
			start:  10,
			steps: concat([]step{{14, 14, scaler.ReasonScaleUp}},
				repeat(5, step{4, 14, scaler.ReasonHoldStabilizing}),
				[]step{{4, 4, scaler.ReasonScaleDown}}),
		},
		{
			// A fresh Scaler, as after a master restart, treats the current size as recommended before it
			// started, so it does not shrink a pool on its first reading. Evaluations at t=0..28 hold; at t=30
			// the low need has held the full window.
			name:   "a fresh scaler waits a full window",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 30 * time.Second},
			start:  10,
			steps:  concat(repeat(15, stab10), []step{{4, 4, scaler.ReasonScaleDown}}),
		},
		{
			name:   "default window is 30s",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20},
			start:  10,
			steps:  concat(repeat(15, stab10), []step{{4, 4, scaler.ReasonScaleDown}}),
		},
		{
			name:   "dead band and stabilization together",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, Stabilization: 10 * time.Second, DeadBand: 0.1},
			start:  10,
			steps: concat(repeat(5, step{4.6, 10, scaler.ReasonHoldStabilizing}),
				[]step{{4.6, 5, scaler.ReasonScaleDown}, {4.6, 5, scaler.ReasonHold}}),
		},
		{
			name:   "max step during a climb",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 20, MaxStep: 4},
			start:  1,
			steps: []step{
				{10, 5, scaler.ReasonScaleUp}, {10, 9, scaler.ReasonScaleUp}, {10, 10, scaler.ReasonScaleUp}, {10, 10, scaler.ReasonHold},
			},
		},
		{
			// Workers crash while the load is low: the floor comes back at once, with no stabilization.
			name:   "crash below min",
			policy: scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 3, Max: 20},
			start:  1,
			steps:  []step{{1, 3, scaler.ReasonBelowMin}, {1, 3, scaler.ReasonAtMin}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			p.Tr = time.Second
			s := scaler.New(p)
			current := tt.start
			for i, st := range tt.steps {
				now := epoch.Add(time.Duration(i) * 2 * time.Second)
				d := s.Decide(scaler.Input{Lambda: st.need * 1000, Capacity: 1000, Current: current, Now: now})
				if d.Desired != st.wantDesired || d.Reason != st.wantReason {
					t.Fatalf("t=%ds (step %d): Decide() = %d (%s), want %d (%s); target %d, current %d",
						i*2, i, d.Desired, d.Reason, st.wantDesired, st.wantReason, d.Target, current)
				}
				current = d.Desired
			}
		})
	}
}

func TestCrashedWorkersAreReplacedAtOnce(t *testing.T) {
	s := scaler.New(scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 3, Max: 20, Tr: time.Second})
	in := scaler.Input{Lambda: 5000, Capacity: 1000, Current: 5, Now: epoch}
	if d := s.Decide(in); d.Desired != 5 || d.Reason != scaler.ReasonHold {
		t.Fatalf("steady: %d (%s), want 5 (hold)", d.Desired, d.Reason)
	}
	in.Now, in.Current = in.Now.Add(2*time.Second), 2 // three workers died
	if d := s.Decide(in); d.Desired != 5 || d.Reason != scaler.ReasonBelowMin {
		t.Errorf("after a crash: %d (%s), want 5 (below_min)", d.Desired, d.Reason)
	}
	in.Current = 4 // one died, still above min
	if d := s.Decide(in); d.Desired != 5 || d.Reason != scaler.ReasonScaleUp {
		t.Errorf("after a crash above min: %d (%s), want 5 (scale_up)", d.Desired, d.Reason)
	}
}

func BenchmarkDecide(b *testing.B) {
	s := scaler.New(scaler.Policy{Formula: scaler.FormulaSeed, ScaleDownRate: 1, Min: 1, Max: 50, Tr: 2 * time.Second, MaxStep: 4, DeadBand: 0.1})
	current := 1
	now := epoch
	for i := 0; b.Loop(); i++ {
		now = now.Add(2 * time.Second)
		d := s.Decide(scaler.Input{Lambda: float64(1000 + (i*7919)%20000), Backlog: i % 500, Capacity: 1000, Current: current, Now: now})
		current = d.Desired
	}
}
