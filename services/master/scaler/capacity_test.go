package scaler_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/warren-mq/warren/services/master/scaler"
)

var (
	_ scaler.Capacity = scaler.StaticCapacity(1)
	_ scaler.Capacity = (*scaler.CapacityLearner)(nil)
)

func TestStaticCapacity(t *testing.T) {
	c, src := scaler.StaticCapacity(2000).Capacity(epoch)
	if c != 2000 || src != scaler.SourceStatic {
		t.Errorf("StaticCapacity(2000).Capacity() = %v, %q; want 2000, %q", c, src, scaler.SourceStatic)
	}
}

// report is one worker report, at seconds after epoch.
type report struct {
	worker    string
	processed int
	interval  time.Duration
	saturated bool
	at        float64
}

func TestCapacityLearner(t *testing.T) {
	sat := func(worker string, processed int, at float64) report {
		return report{worker, processed, time.Second, true, at}
	}
	unsat := func(worker string, processed int, at float64) report {
		return report{worker, processed, time.Second, false, at}
	}
	tests := []struct {
		name       string
		cfg        scaler.LearnerConfig
		reports    []report
		now        float64
		want       float64
		wantSource string
	}{
		{"no reports: default initial guess", scaler.LearnerConfig{}, nil, 0, 1000, scaler.SourceAutoInitial},
		{"no reports: configured initial guess", scaler.LearnerConfig{Initial: 250}, nil, 0, 250, scaler.SourceAutoInitial},
		{"one saturated report", scaler.LearnerConfig{}, []report{sat("a", 420, 1)}, 1, 420, scaler.SourceAuto},
		{"rate uses the report interval", scaler.LearnerConfig{},
			[]report{{"a", 300, 500 * time.Millisecond, true, 1}}, 1, 600, scaler.SourceAuto},
		{
			"high quantile of saturated rates", scaler.LearnerConfig{},
			[]report{
				sat("a", 100, 1), sat("b", 200, 1), sat("c", 300, 1), sat("d", 400, 1), sat("e", 500, 1),
				sat("a", 600, 2), sat("b", 700, 2), sat("c", 800, 2), sat("d", 900, 2), sat("e", 1000, 2),
			},
			2, 900, scaler.SourceAuto,
		},
		{
			"configured quantile", scaler.LearnerConfig{Quantile: 0.5},
			[]report{sat("a", 100, 1), sat("b", 200, 1), sat("c", 300, 1), sat("d", 400, 1)},
			1, 200, scaler.SourceAuto,
		},
		{
			"starved workers do not drag C down", scaler.LearnerConfig{},
			[]report{sat("a", 800, 1), unsat("b", 50, 1), unsat("c", 10, 1), unsat("a", 0, 2)},
			2, 800, scaler.SourceAuto,
		},
		{
			"unsaturated rates are a lower bound", scaler.LearnerConfig{},
			[]report{sat("a", 300, 1), unsat("b", 500, 1)},
			1, 500, scaler.SourceAuto,
		},
		{
			"unsaturated below the initial guess keep the guess", scaler.LearnerConfig{},
			[]report{unsat("a", 200, 1), unsat("b", 300, 1)},
			1, 1000, scaler.SourceAutoInitial,
		},
		{
			"unsaturated above the initial guess raise it", scaler.LearnerConfig{Initial: 100},
			[]report{unsat("a", 400, 1)},
			1, 400, scaler.SourceAuto,
		},
		{
			"old saturated reports expire", scaler.LearnerConfig{Window: 60 * time.Second},
			[]report{sat("a", 400, 0)},
			60, 1000, scaler.SourceAutoInitial,
		},
		{
			"reports inside the window count", scaler.LearnerConfig{Window: 60 * time.Second},
			[]report{sat("a", 400, 0)},
			59.9, 400, scaler.SourceAuto,
		},
		{
			"a newer estimate replaces an expired one", scaler.LearnerConfig{Window: 10 * time.Second},
			[]report{sat("a", 2000, 0), sat("a", 2000, 1), sat("a", 500, 20)},
			20, 500, scaler.SourceAuto,
		},
		{
			"never below the default floor", scaler.LearnerConfig{},
			[]report{sat("a", 0, 1)},
			1, 1, scaler.SourceAuto,
		},
		{
			"never below a configured floor", scaler.LearnerConfig{Floor: 25},
			[]report{sat("a", 3, 1)},
			1, 25, scaler.SourceAuto,
		},
		{
			"a duplicated report counts once", scaler.LearnerConfig{Quantile: 1},
			[]report{sat("a", 100, 1), sat("a", 5000, 1)},
			1, 100, scaler.SourceAuto,
		},
		{
			"a reordered older report is ignored", scaler.LearnerConfig{Quantile: 1},
			[]report{sat("a", 100, 2), sat("a", 5000, 1)},
			2, 100, scaler.SourceAuto,
		},
		{
			"sample cap drops the oldest", scaler.LearnerConfig{Quantile: 1, MaxSamples: 3},
			[]report{sat("a", 900, 1), sat("b", 900, 1), sat("c", 900, 1), sat("a", 100, 2), sat("b", 100, 2), sat("c", 100, 2)},
			2, 100, scaler.SourceAuto,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := scaler.NewCapacityLearner(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.reports {
				if err := l.Observe(r.worker, r.processed, r.interval, r.saturated, at(r.at)); err != nil {
					t.Fatalf("Observe(%+v): %v", r, err)
				}
			}
			c, src := l.Capacity(at(tt.now))
			if c != tt.want || src != tt.wantSource {
				t.Errorf("Capacity() = %v, %q; want %v, %q", c, src, tt.want, tt.wantSource)
			}
		})
	}
}

func TestCapacityLearnerRejectsBadReports(t *testing.T) {
	tests := []struct {
		name string
		r    report
	}{
		{"no worker", report{"", 100, time.Second, true, 1}},
		{"negative processed", report{"a", -1, time.Second, true, 1}},
		{"zero interval", report{"a", 100, 0, true, 1}},
		{"negative interval", report{"a", 100, -time.Second, true, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			err = l.Observe(tt.r.worker, tt.r.processed, tt.r.interval, tt.r.saturated, at(tt.r.at))
			if !errors.Is(err, scaler.ErrInvalidCapacity) {
				t.Errorf("Observe() = %v, want ErrInvalidCapacity", err)
			}
			if c, src := l.Capacity(at(1)); c != scaler.DefaultInitialCapacity || src != scaler.SourceAutoInitial {
				t.Errorf("a rejected report changed C to %v (%s)", c, src)
			}
		})
	}
}

func TestLearnerConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     scaler.LearnerConfig
		wantErr bool
	}{
		{"defaults", scaler.LearnerConfig{}, false},
		{"explicit", scaler.LearnerConfig{Initial: 500, Floor: 2, Window: time.Minute, Quantile: 0.95, MaxSamples: 100}, false},
		{"negative initial", scaler.LearnerConfig{Initial: -1}, true},
		{"NaN initial", scaler.LearnerConfig{Initial: math.NaN()}, true},
		{"infinite initial", scaler.LearnerConfig{Initial: math.Inf(1)}, true},
		{"negative floor", scaler.LearnerConfig{Floor: -1}, true},
		{"negative window", scaler.LearnerConfig{Window: -time.Second}, true},
		{"quantile above one", scaler.LearnerConfig{Quantile: 1.5}, true},
		{"negative quantile", scaler.LearnerConfig{Quantile: -0.5}, true},
		{"negative max samples", scaler.LearnerConfig{MaxSamples: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scaler.NewCapacityLearner(tt.cfg)
			if tt.wantErr != (err != nil) {
				t.Fatalf("NewCapacityLearner() = %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, scaler.ErrInvalidCapacity) {
				t.Errorf("NewCapacityLearner() = %v, want it to wrap ErrInvalidCapacity", err)
			}
		})
	}
}

// TestCapacityLearnerConcurrent lets the race detector watch reports arriving while the evaluation loop reads C.
func TestCapacityLearnerConcurrent(t *testing.T) {
	l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{MaxSamples: 64})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				if err := l.Observe(fmt.Sprint("w", w), 500, time.Second, i%2 == 0, at(float64(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if c, _ := l.Capacity(at(float64(i))); c < 1 {
				t.Errorf("Capacity() = %v below the floor", c)
				return
			}
		}
	})
	wg.Wait()
	if c, src := l.Capacity(at(199)); c != 500 || src != scaler.SourceAuto {
		t.Errorf("Capacity() = %v, %q; want 500, %q", c, src, scaler.SourceAuto)
	}
}

func at(seconds float64) time.Time { return epoch.Add(time.Duration(seconds * float64(time.Second))) }
