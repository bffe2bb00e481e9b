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
	if e := scaler.StaticCapacity(2000).Capacity(epoch); e.Value != 2000 || e.Source != scaler.SourceStatic {
		t.Errorf("StaticCapacity(2000).Capacity() = %+v; want 2000, %q", e, scaler.SourceStatic)
	}
}

// slotWorker is a worker with slots handlers whose every event keeps a slot busy for service: its capacity is
// slots/service events per second whatever load it is given.
type slotWorker struct {
	name    string
	slots   int
	service time.Duration
}

// report is what w says after a second in which it processed rate events.
func (w slotWorker) report(rate int, at time.Time) scaler.Report {
	return scaler.Report{Worker: w.name, Processed: rate, Busy: time.Duration(rate) * w.service, Slots: w.slots, At: at}
}

func (w slotWorker) capacity() float64 { return float64(w.slots) / w.service.Seconds() }

func TestCapacityLearnerAtAnyUtilization(t *testing.T) {
	w := slotWorker{"a", 5, 10400 * time.Microsecond} // about 480/s, as the slowed filter
	for _, util := range []float64{0.05, 0.2, 0.5, 0.9, 1} {
		t.Run(fmt.Sprintf("%.0f%%", util*100), func(t *testing.T) {
			l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			rate := int(math.Round(util * w.capacity()))
			var e scaler.Estimate
			// Three evaluations, 2 s apart, with a report a second.
			for i := 1; i <= 6; i++ {
				if err := l.Observe(w.report(rate, at(float64(i)))); err != nil {
					t.Fatal(err)
				}
				if i%2 == 0 {
					e = l.Capacity(at(float64(i)))
				}
			}
			if e.Source != scaler.SourceAuto || math.Abs(e.Value-w.capacity())/w.capacity() > 0.02 {
				t.Errorf("at %.0f%% utilization C = %+v, want %.0f (auto)", util*100, e, w.capacity())
			}
		})
	}
}

func TestCapacityLearner(t *testing.T) {
	fast, slow := slotWorker{"a", 10, 10 * time.Millisecond}, slotWorker{"b", 10, 40 * time.Millisecond}
	tests := []struct {
		name       string
		cfg        scaler.LearnerConfig
		reports    []scaler.Report
		restore    float64
		now        float64
		want       float64
		wantSource string
		wantAge    time.Duration
	}{
		{"no reports: default initial guess", scaler.LearnerConfig{}, nil, 0, 0, 1000, scaler.SourceAutoInitial, 0},
		{"no reports: configured initial guess", scaler.LearnerConfig{Initial: 250}, nil, 0, 0, 250, scaler.SourceAutoInitial, 0},
		{"one report", scaler.LearnerConfig{}, []scaler.Report{fast.report(300, at(1))}, 0, 1, 1000, scaler.SourceAuto, 0},
		{"too little work to measure", scaler.LearnerConfig{}, []scaler.Report{fast.report(5, at(1))}, 0, 1, 1000, scaler.SourceAutoInitial, 0},
		{"every event weighs alike across workers", scaler.LearnerConfig{},
			// 300 events at 1 ms of slot time each, 100 at 4 ms: 400 events in 0.7 s of slot time.
			[]scaler.Report{fast.report(300, at(1)), slow.report(100, at(1))}, 0, 1, 400 / 0.7, scaler.SourceAuto, 0},
		{"idle after learning keeps the last value and its age", scaler.LearnerConfig{},
			[]scaler.Report{fast.report(300, at(1)), fast.report(0, at(20)), fast.report(0, at(40))}, 0, 45, 1000, scaler.SourceAutoLastKnown, 44 * time.Second},
		{"restored value until measured", scaler.LearnerConfig{}, nil, 640, 3, 640, scaler.SourceAutoRestored, 3 * time.Second},
		{"measured beats restored", scaler.LearnerConfig{}, []scaler.Report{slow.report(100, at(2))}, 640, 3, 250, scaler.SourceAuto, time.Second},
		{"floor", scaler.LearnerConfig{Floor: 5}, []scaler.Report{{Worker: "z", Processed: 30, Busy: time.Hour, Slots: 1, At: at(1)}}, 0, 1, 5, scaler.SourceAuto, 0},
		{"duplicate report counted once", scaler.LearnerConfig{},
			[]scaler.Report{fast.report(300, at(2)), slow.report(100, at(2)), slow.report(100, at(2)), slow.report(100, at(1))}, 0, 2, 400 / 0.7, scaler.SourceAuto, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := scaler.NewCapacityLearner(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tt.restore > 0 {
				l.Restore(tt.restore, at(0))
			}
			for _, r := range tt.reports {
				if err := l.Observe(r); err != nil {
					t.Fatal(err)
				}
			}
			e := l.Capacity(at(tt.now))
			if math.Abs(e.Value-tt.want) > 1e-6 || e.Source != tt.wantSource || e.Age(at(tt.now)) != tt.wantAge {
				t.Errorf("Capacity() = %+v (age %v); want %v, %q, age %v", e, e.Age(at(tt.now)), tt.want, tt.wantSource, tt.wantAge)
			}
		})
	}
}

// TestCapacityFollowsASlowBrokerOnlyWhileItLasts: confirms that take three times as long triple the service
// time, so C falls to a third within a window, and comes back within a window once they are fast again.
func TestCapacityFollowsASlowBrokerOnlyWhileItLasts(t *testing.T) {
	normal, slowed := slotWorker{"a", 5, 10 * time.Millisecond}, slotWorker{"a", 5, 30 * time.Millisecond}
	l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for s := 1; s <= 60; s++ {
		w := normal
		if s > 20 && s <= 40 {
			w = slowed
		}
		if err := l.Observe(w.report(100, at(float64(s)))); err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Capacity(at(float64(s))).Value)
	}
	check := func(s int, want float64) {
		if math.Abs(got[s-1]-want)/want > 0.02 {
			t.Errorf("C at %d s = %.0f, want %.0f", s, got[s-1], want)
		}
	}
	check(20, 500)
	check(35, 500.0/3)
	check(40, 500.0/3)
	check(55, 500)
	check(60, 500)
}

func TestCapacityLearnerRejectsBadReports(t *testing.T) {
	tests := []struct {
		name string
		r    scaler.Report
	}{
		{"no worker", scaler.Report{Processed: 100, Busy: time.Second, Slots: 1, At: at(1)}},
		{"negative processed", scaler.Report{Worker: "a", Processed: -1, Busy: time.Second, Slots: 1, At: at(1)}},
		{"negative busy", scaler.Report{Worker: "a", Processed: 100, Busy: -time.Second, Slots: 1, At: at(1)}},
		{"no slots", scaler.Report{Worker: "a", Processed: 100, Busy: time.Second, At: at(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := scaler.NewCapacityLearner(scaler.LearnerConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Observe(tt.r); !errors.Is(err, scaler.ErrInvalidCapacity) {
				t.Errorf("Observe() = %v, want ErrInvalidCapacity", err)
			}
			if e := l.Capacity(at(1)); e.Value != scaler.DefaultInitialCapacity || e.Source != scaler.SourceAutoInitial {
				t.Errorf("a rejected report changed C to %+v", e)
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
		{"explicit", scaler.LearnerConfig{Initial: 500, Floor: 2, Window: time.Minute, MinEvents: 5, MaxSamples: 100}, false},
		{"negative initial", scaler.LearnerConfig{Initial: -1}, true},
		{"NaN initial", scaler.LearnerConfig{Initial: math.NaN()}, true},
		{"infinite initial", scaler.LearnerConfig{Initial: math.Inf(1)}, true},
		{"negative floor", scaler.LearnerConfig{Floor: -1}, true},
		{"negative window", scaler.LearnerConfig{Window: -time.Second}, true},
		{"negative min events", scaler.LearnerConfig{MinEvents: -1}, true},
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
		wk := slotWorker{fmt.Sprint("w", w), 5, 10 * time.Millisecond}
		wg.Go(func() {
			for i := range 200 {
				if err := l.Observe(wk.report(100+i%2*200, at(float64(i)))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if e := l.Capacity(at(float64(i))); e.Value < 1 {
				t.Errorf("Capacity() = %v below the floor", e.Value)
				return
			}
		}
	})
	wg.Wait()
	if e := l.Capacity(at(199)); math.Abs(e.Value-500) > 1e-6 || e.Source != scaler.SourceAuto {
		t.Errorf("Capacity() = %+v; want 500 (auto)", e)
	}
}

func at(seconds float64) time.Time { return epoch.Add(time.Duration(seconds * float64(time.Second))) }
