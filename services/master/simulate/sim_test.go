package simulate

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// mustShipped returns a shipped trace or stops the test.
func mustShipped(t *testing.T, name string) Trace {
	t.Helper()
	tr, err := ShippedTrace(name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// mustRun simulates tr on the filter pool of c with model m or stops the test.
func mustRun(t *testing.T, c func() Model, cfgSets []string, tr Trace) Result {
	t.Helper()
	r, err := Run(loadConfig(t, cfgSets...), "filter", tr, c())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRunIsDeterministic(t *testing.T) {
	poisson := func() Model { m := DefaultModel(); m.Arrivals, m.Seed = Poisson, 42; return m }
	for _, model := range []func() Model{DefaultModel, poisson} {
		name := model().Arrivals.String()
		tr := mustShipped(t, "poisson-bursts")
		a, b := mustRun(t, model, nil, tr), mustRun(t, model, nil, tr)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: two runs differ:\n%s%s", name, a, b)
		}
	}
}

func TestPoissonArrivals(t *testing.T) {
	tr := mustShipped(t, "steady-50")
	seeded := func(seed uint64) func() Model {
		return func() Model { m := DefaultModel(); m.Arrivals, m.Seed = Poisson, seed; return m }
	}
	a, b := mustRun(t, seeded(1), nil, tr), mustRun(t, seeded(2), nil, tr)
	want := tr.Events(0, tr.End)
	for _, r := range []Result{a, b} {
		// 576 000 expected events: a Poisson count is within 5 standard deviations (±3 800) of it.
		if math.Abs(r.Arrived-want) > 5*math.Sqrt(want) || r.Arrived != math.Round(r.Arrived) {
			t.Errorf("arrived %v, want a whole number near %v", r.Arrived, want)
		}
	}
	if a.Arrived == b.Arrived {
		t.Errorf("seeds 1 and 2 brought the same %v events", a.Arrived)
	}
}

// TestFluidConservesEvents checks the queue model: every event of the trace arrives and is served once.
func TestFluidConservesEvents(t *testing.T) {
	for _, name := range TraceNames() {
		tr := mustShipped(t, name)
		r := mustRun(t, DefaultModel, nil, tr)
		want := tr.Events(0, tr.End)
		if math.Abs(r.Arrived-want) > 1e-6*want || math.Abs(r.Served-r.Arrived) > 1e-6*want || r.Lost != 0 {
			t.Errorf("%s: trace has %.3f events, arrived %.3f, served %.3f, lost %.3f", name, want, r.Arrived, r.Served, r.Lost)
		}
	}
}

// TestLightLoadStaysAtMin: a load one worker handles never changes the pool, and its events do not wait.
func TestLightLoadStaysAtMin(t *testing.T) {
	tr := Trace{Name: "light", Segments: []Segment{{0, 200}}, End: time.Minute}
	r := mustRun(t, DefaultModel, nil, tr)
	if r.Changes != 0 || r.WorkerSeconds != 60 || r.WaitMax != 0 {
		t.Fatalf("changes %d, worker-seconds %v, max wait %v; want 0, 60 (min 1 worker), 0\n%s", r.Changes,
			r.WorkerSeconds, r.WaitMax, r)
	}
	if len(r.Samples) != 30 || r.Samples[0].T != Epoch.Add(2*time.Second) {
		t.Fatalf("%d samples from %v, want 30 from the first 2 s evaluation", len(r.Samples), r.Samples[0].T)
	}
}

// TestCapacityIsLearnedFromReports: the master's capacity learner, fed the simulated workers' Busy reports,
// finds C_true whatever it is.
func TestCapacityIsLearnedFromReports(t *testing.T) {
	tr := mustShipped(t, "step-10x")
	for _, c := range []float64{300, 480, 900} {
		m := func() Model { m := DefaultModel(); m.Capacity = c; return m }
		r := mustRun(t, m, nil, tr)
		if math.Abs(r.LastCapacity-c) > 0.01*c {
			t.Errorf("C_true %v: master's last C %v", c, r.LastCapacity)
		}
	}
}

// TestSpawnDelayDelaysReaction: the same decisions with a docker-like spawn delay reach the needed workers one
// second later.
func TestSpawnDelayDelaysReaction(t *testing.T) {
	tr := mustShipped(t, "step-10x")
	docker := func() Model { m := DefaultModel(); m.SpawnDelay = 1500 * time.Millisecond; return m }
	fast, slow := mustRun(t, DefaultModel, nil, tr), mustRun(t, docker, nil, tr)
	if len(fast.Reactions) != 1 || len(slow.Reactions) != 1 {
		t.Fatalf("reactions %+v and %+v, want one step-up each", fast.Reactions, slow.Reactions)
	}
	if d := slow.Reactions[0].FromStep - fast.Reactions[0].FromStep; d != time.Second {
		t.Errorf("1.5 s spawn delay reacts %v later than 0.5 s, want 1s", d)
	}
}

// TestRetiringWorkersCountUntilDone: a worker told to stop while holding work keeps counting worker-seconds while
// it finishes, and leaves no event behind.
func TestRetiringWorkersCountUntilDone(t *testing.T) {
	// A burst builds a backlog; then the rate falls so the pool shrinks while workers still hold events.
	tr := Trace{Name: "burst", Segments: []Segment{{0, 3500}, {20 * time.Second, 100}}, End: 90 * time.Second}
	sets := []string{"master.pools.filter.stabilization=0s", "master.pools.filter.scale_down_rate=1"}
	model := func() Model { m := DefaultModel(); m.Prefetch = 1000; return m }
	r := mustRun(t, model, sets, tr)
	if r.Lost != 0 || math.Abs(r.Served-r.Arrived) > 1e-6 {
		t.Fatalf("arrived %v, served %v, lost %v", r.Arrived, r.Served, r.Lost)
	}
	var seen bool
	for i := 1; i < len(r.Samples); i++ {
		if r.Samples[i].Workers < r.Samples[i-1].Workers {
			seen = true
		}
	}
	if !seen {
		t.Fatalf("the pool never shrank:\n%s", r)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	c := loadConfig(t)
	tr := mustShipped(t, "steady-20")
	if _, err := Run(c, "nope", tr, DefaultModel()); err == nil {
		t.Error("unknown pool accepted")
	}
	bad := DefaultModel()
	bad.Capacity = 0
	if _, err := Run(c, "filter", tr, bad); err == nil {
		t.Error("zero capacity accepted")
	}
	if _, err := Run(c, "filter", Trace{Name: "empty"}, DefaultModel()); err == nil {
		t.Error("empty trace accepted")
	}
}
