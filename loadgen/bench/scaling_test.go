package bench

import (
	"math"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/timeseries"
	"github.com/warren-mq/warren/shared/event"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestOracleWorkers(t *testing.T) {
	tests := []struct {
		rate, c float64
		want    int
	}{
		{0, 450, 0}, {-5, 450, 0}, {1, 450, 1}, {450, 450, 1}, {450.0000001, 450, 1}, {451, 450, 2},
		{700, 450, 2}, {3600, 450, 8}, {100, 0, 0},
	}
	for _, tt := range tests {
		if got := oracleWorkers(tt.rate, tt.c); got != tt.want {
			t.Errorf("oracleWorkers(%v, %v) = %d, want %d", tt.rate, tt.c, got, tt.want)
		}
	}
}

// sample is a filter-pool sample at s seconds from t0.
func sample(s float64, workers, desired int, rate float64, reason string) timeseries.Sample {
	return timeseries.Sample{T: at(s), Pool: "filter", Workers: workers, Desired: desired, SentRate: rate, Reason: reason,
		Capacity: 100, Lambda: rate}
}

func TestAnalyzeScaling(t *testing.T) {
	const cTrue = 100
	// A 10 s trace with statuses every 2 s: the pool starts at 1, grows to 2 and 3, and the load stops at 6 s.
	base := []timeseries.Sample{
		sample(-1, 1, 1, 0, "at_min"), // before the load: ignored
		sample(2, 1, 2, 150, "scale_up"),
		{T: at(3), Pool: "broadcaster", Workers: 4, Desired: 4, SentRate: 900}, // another pool: ignored
		sample(4, 2, 2, 150, "hold"),
		sample(6, 2, 3, 250, "scale_up"),
		sample(8, 3, 3, 0, "hold_stabilizing"),
		sample(12, 3, 3, 0, "hold_stabilizing"), // after the trace: ignored
	}
	tests := []struct {
		name            string
		samples         []timeseries.Sample
		length          time.Duration
		ws, oracle      float64
		changes, late   int
		excess, deficit map[string]float64
	}{
		{
			name: "growth then idle", samples: base, length: 10 * time.Second,
			// (0,2] 1 worker, need 2; (2,4] 2, need 2; (4,6] 2, need 3; (6,8] 3, need 0; (8,10] the last decision's 3, need 0.
			ws: 2 + 4 + 4 + 6 + 6, oracle: 4 + 4 + 6, changes: 2, late: 1,
			excess:  map[string]float64{reasonMin: 4, "scale_up": 4, "hold_stabilizing": 4},
			deficit: map[string]float64{reasonStart: 2, "hold": 2},
		},
		{
			name: "trace ends between statuses", samples: base, length: 5 * time.Second,
			// (0,2], (2,4], then (4,5] with the hold decision's 2 workers at 150 ev/s.
			ws: 2 + 4 + 2, oracle: 4 + 4 + 2, changes: 1, late: 0,
			excess: map[string]float64{}, deficit: map[string]float64{reasonStart: 2},
		},
		{
			name: "steady and right", length: 6 * time.Second,
			samples: []timeseries.Sample{sample(2, 2, 2, 150, "hold"), sample(4, 2, 2, 150, "hold"), sample(6, 2, 2, 150, "hold")},
			ws:      12, oracle: 12, excess: map[string]float64{}, deficit: map[string]float64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := analyzeScaling(t0, tt.length, 3*time.Second, cTrue, tt.samples)
			if math.Abs(m.WorkerSeconds-tt.ws) > 1e-9 || math.Abs(m.OracleSeconds-tt.oracle) > 1e-9 {
				t.Errorf("worker-s %v oracle %v, want %v and %v", m.WorkerSeconds, m.OracleSeconds, tt.ws, tt.oracle)
			}
			if want := tt.ws / tt.oracle; math.Abs(m.Ratio-want) > 1e-9 {
				t.Errorf("ratio %v, want %v", m.Ratio, want)
			}
			if m.Changes != tt.changes || m.ChangesAfterSettle != tt.late || len(m.Log) != tt.changes {
				t.Errorf("changes %d (after settle %d, log %v), want %d and %d", m.Changes, m.ChangesAfterSettle, m.Log, tt.changes, tt.late)
			}
			for _, c := range []struct {
				name      string
				got, want map[string]float64
			}{{"excess", m.Excess, tt.excess}, {"deficit", m.Deficit, tt.deficit}} {
				if len(c.got) != len(c.want) {
					t.Errorf("%s %v, want %v", c.name, c.got, c.want)
				}
				for k, v := range c.want {
					if math.Abs(c.got[k]-v) > 1e-9 {
						t.Errorf("%s[%s] = %v, want %v", c.name, k, c.got[k], v)
					}
				}
			}
		})
	}
	m := analyzeScaling(t0, 10*time.Second, 3*time.Second, cTrue, base)
	if c := m.Log[1]; c.After != 6*time.Second || c.From != 2 || c.To != 3 || c.Reason != "scale_up" || c.Lambda != 250 {
		t.Errorf("second change %+v", c)
	}
	if m.Offered != 150*2+150*2+250*2 || m.MaxRate != 250 || m.Samples != 4 || m.EndWorkers != 3 {
		t.Errorf("offered %v max rate %v samples %d end workers %d", m.Offered, m.MaxRate, m.Samples, m.EndWorkers)
	}
	if empty := analyzeScaling(t0, time.Second, 0, cTrue, base); empty.Samples != 0 || empty.Ratio != 0 {
		t.Errorf("a trace without statuses: %+v", empty)
	}
}

func TestConverge(t *testing.T) {
	status := func(s, c float64, src string) statusAt {
		return statusAt{At: at(s), PoolStatus: event.PoolStatus{Capacity: c, CapacitySource: src, CapacityReports: 3}}
	}
	tests := []struct {
		name     string
		values   []float64
		within   int
		min, max float64
		met      bool
	}{
		{"third evaluation", []float64{1000, 130, 105, 98, 97}, 3, 97, 130, true},
		{"first evaluation", []float64{110, 101, 99, 100, 100}, 1, 99, 101, true},
		{"late", []float64{1000, 200, 130, 112, 100}, 4, 100, 200, false},
		{"never", []float64{1000, 140, 140, 140, 140}, 0, 140, 140, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statuses := []statusAt{status(-1, 1000, "auto-initial")}
			for i, v := range tt.values {
				statuses = append(statuses, status(float64(1+2*i), v, "auto"))
			}
			statuses = append(statuses, status(11, 5000, "auto")) // after the trace
			c := converge(t0, 10*time.Second, 100, statuses)
			if c.Within != tt.within || c.Met() != tt.met || c.Min != tt.min || c.Max != tt.max {
				t.Errorf("within %d met %v min %v max %v, want %d %v %v %v", c.Within, c.Met(), c.Min, c.Max, tt.within, tt.met, tt.min, tt.max)
			}
			if len(c.First) != 3 || c.First[0].After != time.Second || c.First[0].Value != tt.values[0] || c.Window != 8*time.Second {
				t.Errorf("first %+v window %s", c.First, c.Window)
			}
		})
	}
}

func TestLastStatus(t *testing.T) {
	statuses := []statusAt{{At: at(1)}, {At: at(3)}, {At: at(5)}}
	if s, ok := lastStatus(statuses, at(4)); !ok || !s.At.Equal(at(3)) {
		t.Errorf("lastStatus at 4 s = %v %v, want the one at 3 s", s.At, ok)
	}
	if _, ok := lastStatus(statuses, at(0)); ok {
		t.Error("a status before any arrived")
	}
}

func TestScaleScenario(t *testing.T) {
	sc := &scenario.Scenario{Name: "x", DrainTimeout: 30 * time.Second, Steps: []scenario.Step{
		{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 300, Duration: 6 * time.Second}, Publishers: 1},
		{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 300, Duration: 4 * time.Millisecond}, Publishers: 2},
	}}
	got := scaleScenario(sc, 0.1)
	if got.Steps[0].Duration() != 600*time.Millisecond || got.Steps[1].Duration() != time.Millisecond || got.DrainTimeout != 30*time.Second {
		t.Errorf("scaled steps %s, %s, drain %s", got.Steps[0].Duration(), got.Steps[1].Duration(), got.DrainTimeout)
	}
	if sc.Steps[0].Duration() != 6*time.Second {
		t.Error("scaling changed the original")
	}
	if peakRate(sc) != 600 {
		t.Errorf("peak %v, want 600", peakRate(sc))
	}
}

func TestSecondsRange(t *testing.T) {
	lo, hi := secondsRange([]int64{5, 400, 450, 430, 460}, 1500*time.Millisecond)
	if lo != 430 || hi != 460 {
		t.Errorf("range %d–%d, want 430–460", lo, hi)
	}
	if lo, hi := secondsRange(nil, time.Second); lo != 0 || hi != 0 {
		t.Errorf("empty range %d–%d", lo, hi)
	}
}

func TestPoolKeys(t *testing.T) {
	got := poolKeys(map[string]string{"formula": "seed", "capacity": `"1000"`})
	if want := "      capacity: \"1000\"\n      formula: seed\n"; got != want {
		t.Errorf("poolKeys = %q, want %q", got, want)
	}
}

func TestScalingOptionsValidate(t *testing.T) {
	tests := []struct {
		o  ScalingOptions
		ok bool
	}{
		{ScalingOptions{}, true},
		{ScalingOptions{Policies: []string{"new", "seed-1000"}, Traces: []string{"steady"}, Steady: time.Minute}, true},
		{ScalingOptions{Policies: []string{"old"}}, false},
		{ScalingOptions{Traces: []string{"diurnal"}}, false},
		{ScalingOptions{Steady: -time.Second}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: %v", tt.o, err)
		}
	}
}
