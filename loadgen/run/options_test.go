package run

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/timeseries"
)

func TestPatternFlags(t *testing.T) {
	tests := []struct {
		name    string
		flags   PatternFlags
		wantErr string
	}{
		{"steady", PatternFlags{Pattern: "steady", Rate: 100, Duration: time.Second, Publishers: 2, Target: "filter"}, ""},
		{"ramp from zero", PatternFlags{Pattern: "Ramp", Slope: 10, Duration: time.Second, Publishers: 1, Target: "filter"}, ""},
		{"random", PatternFlags{Pattern: "random", Min: 1, Max: 5, Duration: time.Second, Publishers: 1, Target: "broadcaster"}, ""},
		{"unknown pattern", PatternFlags{Pattern: "burst", Rate: 1, Duration: time.Second, Publishers: 1, Target: "filter"}, `--pattern: unknown pattern "burst"`},
		{"zero rate", PatternFlags{Pattern: "steady", Duration: time.Second, Publishers: 1, Target: "filter"}, "--rate: rate must be > 0, got 0"},
		{"negative rate", PatternFlags{Pattern: "poisson", Rate: -3, Duration: time.Second, Publishers: 1, Target: "filter"}, "--rate: rate must be > 0, got -3"},
		{"no duration", PatternFlags{Pattern: "steady", Rate: 1, Publishers: 1, Target: "filter"}, "--duration: duration must be > 0"},
		{"min above max", PatternFlags{Pattern: "random", Min: 9, Max: 5, Duration: time.Second, Publishers: 1, Target: "filter"}, "--min: min (9) must be <= max (5)"},
		{"no publishers", PatternFlags{Pattern: "steady", Rate: 1, Duration: time.Second, Target: "filter"}, "--publishers must be at least 1"},
		{"bad target", PatternFlags{Pattern: "steady", Rate: 1, Duration: time.Second, Publishers: 1, Target: "insult"}, `--target: unknown target "insult"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := tt.flags.Scenario(0)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrUsage) {
					t.Errorf("error %v is not a usage error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Steps) != 1 || sc.Steps[0].Publishers != tt.flags.Publishers || sc.DrainTimeout != scenario.DefaultDrainTimeout {
				t.Errorf("scenario %+v", sc)
			}
		})
	}
}

func TestPatternFlagsBuildTheStep(t *testing.T) {
	sc, err := PatternFlags{Pattern: "steady", Rate: 250, Duration: 4 * time.Second, Publishers: 3, Target: "Broadcaster"}.Scenario(7 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	st := sc.Steps[0]
	if st.Pattern.Kind != pattern.Steady || st.Target != scenario.Broadcaster || sc.DrainTimeout != 7*time.Second {
		t.Errorf("step %+v, drain %s", st, sc.DrainTimeout)
	}
	if got := sc.ExpectedEvents(); got != 3000 {
		t.Errorf("expected events %v, want 3000 (250/s × 3 publishers × 4 s)", got)
	}
}

func TestLoadScenario(t *testing.T) {
	t.Run("shipped by name", func(t *testing.T) {
		for _, name := range []string{"demo-burst", "step-10x.yaml"} {
			sc, err := LoadScenario(name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(sc.Steps) == 0 {
				t.Errorf("%s: no steps", name)
			}
		}
	})
	t.Run("file with file:line error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		data := "name: bad\nsteps:\n  - pattern: steady\n    rate: 0\n    duration: 5s\n"
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadScenario(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":4: step 1: rate must be > 0") || !errors.Is(err, ErrUsage) {
			t.Fatalf("error %v, want a usage error at %s:4", err, path)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := LoadScenario("no-such-scenario")
		if err == nil || !strings.Contains(err.Error(), "no shipped scenario of that name (shipped: client-steps, demo-burst, fair-pair, noisy-neighbour, poisson-bursts, step-10x)") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestValidate(t *testing.T) {
	sc, err := PatternFlags{Pattern: "steady", Rate: 1, Duration: time.Second, Publishers: 1, Target: "filter"}.Scenario(3 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"no scenario", Options{URL: "amqp://x"}, "no scenario"},
		{"no url", Options{Scenario: sc}, "no broker URL"},
		{"size too big", Options{URL: "amqp://x", Scenario: sc, Size: 2 << 20}, "size must be between 1 and"},
		{"negative drain", Options{URL: "amqp://x", Scenario: sc, DrainTimeout: -time.Second}, "drain timeout must not be negative"},
		{"steps and sources", Options{URL: "amqp://x", Scenario: &scenario.Scenario{File: "code", Steps: sc.Steps,
			Sources: []scenario.Source{{Name: "A", Steps: sc.Steps}}}}, "code: give either steps or sources, not both"},
		{"duplicate source", Options{URL: "amqp://x", Scenario: &scenario.Scenario{File: "code", Sources: []scenario.Source{
			{Name: "A", Steps: sc.Steps}, {Name: "A", Steps: sc.Steps}}}}, `code: source A: source name "A" is used twice`},
		{"bad step in a source", Options{URL: "amqp://x", Scenario: &scenario.Scenario{File: "code", Sources: []scenario.Source{
			{Name: "A", Steps: sc.Steps}, {Name: "B", Steps: []scenario.Step{{Publishers: 1, Target: scenario.Filter,
				Pattern: pattern.Spec{Kind: pattern.Steady, Duration: time.Second}}}}}}}, "code: source B: step 1: rate must be > 0, got 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.validate()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrUsage) {
				t.Fatalf("error %v, want a usage error containing %q", err, tt.wantErr)
			}
		})
	}
	o := Options{URL: "amqp://x", Scenario: sc}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if o.DrainTimeout != 3*time.Second || o.InterruptDrain != 3*time.Second || o.Size != 200 {
		t.Errorf("defaults: drain %s, interrupt drain %s (capped by the drain), size %d", o.DrainTimeout, o.InterruptDrain, o.Size)
	}
}

func TestStepMarks(t *testing.T) {
	sc, err := LoadScenario("demo-burst")
	if err != nil {
		t.Fatal(err)
	}
	checkMarks(t, stepMarks(sc), []mark{{0, "1: steady 50/s"}, {5 * time.Second, "2: steady 2000/s"}, {15 * time.Second, "3: steady 20/s"}, {35 * time.Second, "drain"}})
}

func TestStepMarksMultiSource(t *testing.T) {
	steady := func(rate float64, d time.Duration) scenario.Step {
		return scenario.Step{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: rate, Duration: d}, Publishers: 1, Target: scenario.Filter}
	}
	sc, err := scenario.NewMultiSource("pair", 0,
		scenario.Source{Name: "A", Key: "tenant-a", Steps: []scenario.Step{steady(500, 10*time.Second)}},
		scenario.Source{Name: "B", Steps: []scenario.Step{{Pattern: pattern.Spec{Kind: pattern.Pause, Duration: 4 * time.Second}},
			steady(20, 4*time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	checkMarks(t, stepMarks(sc), []mark{{0, "A: steady 500/s, B 1: pause"}, {4 * time.Second, "B 2: steady 20/s"}, {10 * time.Second, "drain"}})
}

// TestRunnerBuildsEverySource checks the plan of a multi-source run: each source with its key, publishers
// and a pattern per step, and a recorder that accounts per source, which a single-source run's does not.
func TestRunnerBuildsEverySource(t *testing.T) {
	sc, err := LoadScenario("noisy-neighbour")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{URL: "amqp://x", Scenario: sc}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	r, err := newRunner(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.sources) != 2 || r.sources[0].Name != "A" || r.sources[0].Key != "tenant-a" || r.sources[1].Key != "tenant-b" {
		t.Fatalf("sources %+v", r.sources)
	}
	if r.sources[0].Publishers() != 2 || r.sources[1].Publishers() != 1 || len(r.sources[1].patterns) != 1 {
		t.Errorf("publishers %d and %d", r.sources[0].Publishers(), r.sources[1].Publishers())
	}
	if rep := r.rec.Report(sc.Name); len(rep.Sources) != 2 || rep.Sources[1].Name != "B" || rep.Sources[1].Key != "tenant-b" {
		t.Errorf("report sources %+v", rep.Sources)
	}
	single, err := newRunner(Options{URL: "amqp://x", Size: 10, Scenario: &scenario.Scenario{Steps: sc.Sources[0].Steps}})
	if err != nil {
		t.Fatal(err)
	}
	if rep := single.rec.Report("x"); rep.Sources != nil || rep.Fairness != nil {
		t.Errorf("a single-source run accounts per source: %+v", rep)
	}
}

type mark struct {
	at    time.Duration
	label string
}

func checkMarks(t *testing.T, marks []timeseries.Mark, want []mark) {
	t.Helper()
	if len(marks) != len(want) {
		t.Fatalf("marks %+v", marks)
	}
	for i, w := range want {
		if marks[i].At != w.at || marks[i].Label != w.label {
			t.Errorf("mark %d = %+v, want %s at %s", i, marks[i], w.label, w.at)
		}
	}
}
