package scenarios

import (
	"io/fs"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/scenario"
)

// TestEveryShippedScenarioParses loads each file from disk, as a user would name it, and from the embedded
// copy, so neither can drift from the format.
func TestEveryShippedScenarioParses(t *testing.T) {
	names, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 3 || len(names) != len(onDisk) {
		t.Fatalf("embedded %v, on disk %v", names, onDisk)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if _, err := scenario.Load(name); err != nil {
				t.Fatal(err)
			}
			data, err := FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := scenario.Parse(name, data); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestShippedScenarioShapes pins what each shipped scenario promises in its description.
func TestShippedScenarioShapes(t *testing.T) {
	tests := []struct {
		file       string
		duration   time.Duration
		events     float64
		publishers []int
		rates      []float64
	}{
		{"demo-burst.yaml", 35 * time.Second, 50*5 + 20000 + 20*20, []int{1, 2, 1}, []float64{50, 1000, 20}},
		{"client-steps.yaml", 60 * time.Second, 300 * (6*1 + 4*2 + 10*3 + 10*1 + 10*2 + 0 + 10*1),
			[]int{1, 2, 3, 1, 2, 0, 1}, []float64{300, 300, 300, 300, 300, 300, 300}},
		{"step-10x.yaml", 50 * time.Second, 200*15 + 2000*20 + 200*15, []int{1, 1, 1}, []float64{200, 2000, 200}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := scenario.Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if s.Duration() != tt.duration {
				t.Errorf("duration %s, want %s", s.Duration(), tt.duration)
			}
			if math.Abs(s.ExpectedEvents()-tt.events) > 1e-6 {
				t.Errorf("expected events %v, want %v", s.ExpectedEvents(), tt.events)
			}
			if len(s.Steps) != len(tt.publishers) {
				t.Fatalf("%d steps, want %d", len(s.Steps), len(tt.publishers))
			}
			for i, st := range s.Steps {
				if st.Publishers != tt.publishers[i] || st.Pattern.Rate != tt.rates[i] {
					t.Errorf("step %d: %d publishers at %v/s, want %d at %v/s",
						i+1, st.Publishers, st.Pattern.Rate, tt.publishers[i], tt.rates[i])
				}
			}
		})
	}
	// client-steps changes publishers at these seconds.
	s, err := scenario.Load("client-steps.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var at time.Duration
	for i, want := range []time.Duration{0, 6, 10, 20, 30, 40, 50} {
		if at != want*time.Second {
			t.Errorf("step %d starts at %s, want %ds", i+1, at, want)
		}
		at += s.Steps[i].Duration()
	}
}

// TestShippedMultiSourceShapes pins the multi-source scenarios: who sends, with which key, how much and for
// how long.
func TestShippedMultiSourceShapes(t *testing.T) {
	type source struct {
		name, key  string
		publishers int
		rate       float64
		duration   time.Duration
	}
	tests := []struct {
		file    string
		drain   time.Duration
		events  float64
		sources []source
	}{
		// A floods at 5000 ev/s while B sends 2 % of that.
		{"noisy-neighbour.yaml", 240 * time.Second, 5000*30 + 100*30, []source{
			{"A", "tenant-a", 2, 2500, 30 * time.Second},
			{"B", "tenant-b", 1, 100, 30 * time.Second},
		}},
		// Two equal demands of 3000 ev/s each.
		{"fair-pair.yaml", 120 * time.Second, 2 * 3000 * 20, []source{
			{"A", "tenant-a", 2, 1500, 20 * time.Second},
			{"B", "tenant-b", 2, 1500, 20 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := scenario.Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !s.MultiSource() || len(s.Sources) != len(tt.sources) || len(s.Steps) != 0 {
				t.Fatalf("%d sources and %d top-level steps, want %d sources", len(s.Sources), len(s.Steps), len(tt.sources))
			}
			if s.DrainTimeout != tt.drain || math.Abs(s.ExpectedEvents()-tt.events) > 1e-6 {
				t.Errorf("drain %s, expected events %v; want %s, %v", s.DrainTimeout, s.ExpectedEvents(), tt.drain, tt.events)
			}
			for i, w := range tt.sources {
				src := s.Sources[i]
				if src.Name != w.name || src.Key != w.key || len(src.Steps) != 1 {
					t.Errorf("source %d = %q key %q with %d steps, want %q key %q with one", i+1, src.Name, src.Key, len(src.Steps), w.name, w.key)
					continue
				}
				st := src.Steps[0]
				if st.Publishers != w.publishers || st.Pattern.Rate != w.rate || st.Duration() != w.duration ||
					st.Target != scenario.Filter {
					t.Errorf("source %s: %d publishers at %v/s for %s to %s, want %d at %v/s for %s to the filter",
						w.name, st.Publishers, st.Pattern.Rate, st.Duration(), st.Target, w.publishers, w.rate, w.duration)
				}
			}
			// Every source sends from the start for the scenario's whole length: they contend throughout.
			for _, src := range s.Sources {
				if src.Duration() != s.Duration() {
					t.Errorf("source %s lasts %s of the scenario's %s", src.Name, src.Duration(), s.Duration())
				}
			}
		})
	}
}
