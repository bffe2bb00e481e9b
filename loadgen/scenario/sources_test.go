package scenario

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/pattern"
)

func TestParseSources(t *testing.T) {
	src := `name: noisy
description: two tenants
drain_timeout: 2m
sources:
  - name: A
    key: tenant-a
    steps:
      - {pattern: steady, rate: 2500, publishers: 2, duration: 30s}
  - name: b_2.x-y
    steps:
      - pattern: pause
        duration: 10s
      - pattern: steady
        rate: 100
        duration: 20s
        target: broadcaster
  - name: "42"
    key: " spaced  "
    steps: [{pattern: poisson, rate: 5, duration: 40s}]
  - name: C
    key:
    steps: [{pattern: steady, rate: 1, duration: 1s}]
`
	s, err := Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "noisy" || s.Description != "two tenants" || s.DrainTimeout != 2*time.Minute || len(s.Steps) != 0 {
		t.Errorf("header = %q %q %s, %d top-level steps", s.Name, s.Description, s.DrainTimeout, len(s.Steps))
	}
	if !s.MultiSource() || len(s.Sources) != 4 {
		t.Fatalf("got %d sources", len(s.Sources))
	}
	want := []struct {
		name, key string
		line      int
		steps     []Step
	}{
		{"A", "tenant-a", 5, []Step{{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 2500, Duration: 30 * time.Second},
			Publishers: 2, Target: Filter, Line: 8}}},
		{"b_2.x-y", "", 9, []Step{
			{Pattern: pattern.Spec{Kind: pattern.Pause, Duration: 10 * time.Second}, Target: Filter, Line: 11},
			{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 100, Duration: 20 * time.Second}, Publishers: 1,
				Target: Broadcaster, Line: 13}}},
		// A key is sent as written, spaces and all.
		{"42", " spaced  ", 17, []Step{{Pattern: pattern.Spec{Kind: pattern.Poisson, Rate: 5, Duration: 40 * time.Second},
			Publishers: 1, Target: Filter, Line: 19}}},
		{"C", "", 20, []Step{{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 1, Duration: time.Second},
			Publishers: 1, Target: Filter, Line: 22}}},
	}
	for i, w := range want {
		got := s.Sources[i]
		if got.Name != w.name || got.Key != w.key || got.Line != w.line || len(got.Steps) != len(w.steps) {
			t.Errorf("source %d = %q key %q line %d, %d steps; want %q key %q line %d, %d steps",
				i+1, got.Name, got.Key, got.Line, len(got.Steps), w.name, w.key, w.line, len(w.steps))
			continue
		}
		for j := range w.steps {
			if got.Steps[j] != w.steps[j] {
				t.Errorf("source %s step %d = %+v\n                want %+v", w.name, j+1, got.Steps[j], w.steps[j])
			}
		}
	}
	// The longest source is 40 s; events add up over the sources.
	if got := s.Duration(); got != 40*time.Second {
		t.Errorf("Duration() = %s, want 40s", got)
	}
	if got := s.ExpectedEvents(); got != 2*2500*30+100*20+5*40+1 {
		t.Errorf("ExpectedEvents() = %v", got)
	}
	if got := s.Sources[1].Duration(); got != 30*time.Second {
		t.Errorf("source b Duration() = %s", got)
	}
	if n := s.Sources[0].Publishers(); n != 2 {
		t.Errorf("source A needs %d publishers, want 2", n)
	}
	if i, off, ok := s.Sources[1].StepAt(12 * time.Second); i != 1 || off != 2*time.Second || !ok {
		t.Errorf("source b StepAt(12s) = %d, %s, %v", i, off, ok)
	}
	if _, _, ok := s.StepAt(time.Second); ok {
		t.Error("a multi-source scenario's StepAt found a step")
	}
	if all := s.AllSources(); len(all) != 4 || all[0].Name != "A" {
		t.Errorf("AllSources() = %+v", all)
	}
}

func TestSingleSourceIsOneSource(t *testing.T) {
	s, err := Parse(file, []byte("name: one\nsteps:\n  - {pattern: steady, rate: 10, publishers: 3, duration: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.MultiSource() || len(s.Sources) != 0 {
		t.Errorf("single-source file has sources %+v", s.Sources)
	}
	all := s.AllSources()
	if len(all) != 1 || all[0].Name != "" || all[0].Key != "" || len(all[0].Steps) != 1 || all[0].Publishers() != 3 {
		t.Errorf("AllSources() = %+v", all)
	}
	if s.Duration() != 2*time.Second || s.ExpectedEvents() != 60 {
		t.Errorf("Duration %s, ExpectedEvents %v", s.Duration(), s.ExpectedEvents())
	}
}

func TestParseSourceErrors(t *testing.T) {
	const (
		head = "name: bad\nsources:\n"
		a    = "  - name: A\n    steps:\n      - {pattern: steady, rate: 1, duration: 1s}\n" // lines 3-5
		step = "      - {pattern: steady, rate: 1, duration: 1s}\n"
	)
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"steps and sources",
			"name: bad\nsteps:\n  - {pattern: steady, rate: 1, duration: 1s}\nsources:\n" + a,
			"x.yaml:4: give either steps or sources, not both"},
		{"sources and steps",
			head + a + "steps:\n  - {pattern: steady, rate: 1, duration: 1s}\n",
			"x.yaml:6: give either steps or sources, not both"},
		{"neither", "name: bad\ndescription: nothing\n", "x.yaml:1: the scenario needs steps or sources"},
		{"sources not a list", "name: bad\nsources: 3\n", "x.yaml:2: sources must be a list, got 3"},
		{"sources a mapping", "name: bad\nsources:\n  A: {}\n", "x.yaml:3: sources must be a list, got a mapping"},
		{"no sources", "name: bad\nsources: []\n", "x.yaml:2: sources is empty; a scenario needs at least one source"},
		{"source not a mapping", head + "  - A\n",
			`x.yaml:3: source #1: the source must be a mapping of keys to values, got "A"`},
		{"unknown source key", head + a + "  - name: B\n    rate: 5\n    steps:\n" + step,
			`x.yaml:7: source B: unknown key "rate" in the source (known: name, key, steps)`},
		{"duplicate source key", head + "  - name: A\n    key: a\n    key: b\n    steps:\n" + step,
			`x.yaml:5: source A: key "key" given twice in the source (first at line 4)`},
		{"no name", head + a + "  - key: tenant-b\n    steps:\n" + step, "x.yaml:6: source #2: the source needs a name"},
		{"empty name", head + "  - name: \"\"\n    steps:\n" + step, "x.yaml:3: source #1: name must not be empty"},
		{"null name", head + "  - name:\n    steps:\n" + step, "x.yaml:3: source #1: name must be text, got nothing"},
		{"bad name", head + "  - name: tenant a\n    steps:\n" + step,
			`x.yaml:3: source #1: source name "tenant a" may only have letters, digits, '_', '.' and '-'`},
		{"slash in name", head + a + "  - name: a/b\n    steps:\n" + step,
			`x.yaml:6: source #2: source name "a/b" may only have letters, digits, '_', '.' and '-'`},
		{"duplicate name", head + a + "  - name: A\n    steps:\n" + step,
			`x.yaml:6: source #2: source name "A" is used twice (first at line 3)`},
		{"key too long", head + "  - name: A\n    key: " + strings.Repeat("k", 256) + "\n    steps:\n" + step,
			"x.yaml:4: source A: key is 256 bytes long; a fairness key has at most 255"},
		{"key too long in UTF-8", head + "  - name: A\n    key: " + strings.Repeat("é", 128) + "\n    steps:\n" + step,
			"x.yaml:4: source A: key is 256 bytes long"},
		{"key a list", head + "  - name: A\n    key: [a, b]\n    steps:\n" + step, "x.yaml:4: source A: key must be text, got a list"},
		{"no steps", head + a + "  - name: B\n    key: b\n", "x.yaml:6: source B: the source needs steps"},
		{"empty steps", head + a + "  - name: B\n    steps: []\n", "x.yaml:7: source B: steps is empty; a source needs at least one step"},
		{"steps not a list", head + a + "  - name: B\n    steps: {pattern: steady}\n", "x.yaml:7: source B: steps must be a list, got a mapping"},
		{"bad step", head + a + "  - name: B\n    steps:\n" + step + "      - {pattern: steady, rate: 0, duration: 1s}\n",
			"x.yaml:9: source B: step 2: rate must be > 0, got 0"},
		{"unknown step key", head + a + "  - name: B\n    steps:\n      - {pattern: steady, rate: 1, duraton: 1s}\n",
			`x.yaml:8: source B: step 1: unknown key "duraton" in the step`},
		{"missing duration", head + "  - name: A\n    steps:\n      - pattern: steady\n        rate: 3\n",
			"x.yaml:5: source A: step 1: pattern steady needs duration"},
		{"malformed", head + "  - name: A\n    steps:\n      - {pattern: steady, rate: [1, duration: 1s}\n",
			"x.yaml:5: malformed YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if got := strings.TrimPrefix(err.Error(), "loadgen/scenarios/"); !strings.HasPrefix(got, tt.want) {
				t.Fatalf("error = %q\n want it to start with %q", got, tt.want)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *scenario.Error", err)
			}
		})
	}
}

func TestPatternErrorsInSourcesUnwrap(t *testing.T) {
	_, err := Parse(file, []byte("name: x\nsources:\n  - name: A\n    steps:\n      - {pattern: steady, rate: -5, duration: 1s}\n"))
	if !errors.Is(err, pattern.ErrInvalid) {
		t.Errorf("error %v does not match pattern.ErrInvalid", err)
	}
	var se *Error
	if !errors.As(err, &se) || se.Source != "A" || se.Step != 1 || se.Line != 5 {
		t.Errorf("error %#v, want source A, step 1, line 5", err)
	}
}

func TestNewMultiSource(t *testing.T) {
	steady := func(rate float64, publishers int, d time.Duration) Step {
		return Step{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: rate, Duration: d}, Publishers: publishers, Target: Filter}
	}
	s, err := NewMultiSource("pair", 0,
		Source{Name: "A", Key: "tenant-a", Steps: []Step{steady(1500, 2, 20*time.Second)}},
		Source{Name: "B", Key: "tenant-b", Steps: []Step{{Pattern: pattern.Spec{Kind: pattern.Pause, Duration: 5 * time.Second}},
			steady(1500, 2, 20*time.Second)}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "pair" || s.File != "pair" || s.DrainTimeout != DefaultDrainTimeout || !s.MultiSource() {
		t.Errorf("scenario %+v", s)
	}
	if s.Duration() != 25*time.Second || s.ExpectedEvents() != 2*3000*20 {
		t.Errorf("Duration %s, ExpectedEvents %v", s.Duration(), s.ExpectedEvents())
	}

	ok := []Step{steady(1, 1, time.Second)}
	tests := []struct {
		name    string
		sources []Source
		want    string
	}{
		{"none", nil, "x: the scenario needs steps or sources"},
		{"no name", []Source{{Steps: ok}}, "x: source #1: the source needs a name"},
		{"bad name", []Source{{Name: "A", Steps: ok}, {Name: "b c", Steps: ok}},
			`x: source #2: source name "b c" may only have letters, digits, '_', '.' and '-'`},
		{"duplicate name", []Source{{Name: "A", Steps: ok}, {Name: "A", Steps: ok}}, `x: source A: source name "A" is used twice`},
		{"key too long", []Source{{Name: "A", Key: strings.Repeat("x", 256), Steps: ok}},
			"x: source A: key is 256 bytes long; a fairness key has at most 255"},
		{"key not UTF-8", []Source{{Name: "A", Key: "tenant-\xff", Steps: ok}}, "x: source A: key is not valid UTF-8"},
		{"no steps", []Source{{Name: "A", Steps: ok}, {Name: "B"}}, "x: source B: the source needs steps"},
		{"bad pattern", []Source{{Name: "A", Steps: []Step{steady(0, 1, time.Second)}}}, "x: source A: step 1: rate must be > 0, got 0"},
		{"negative publishers", []Source{{Name: "A", Steps: []Step{steady(1, -1, time.Second)}}},
			"x: source A: step 1: publishers must be >= 0, got -1"},
		{"unknown target", []Source{{Name: "A", Steps: []Step{{Pattern: ok[0].Pattern, Publishers: 1, Target: "insult"}}}},
			`x: source A: step 1: unknown target "insult"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewMultiSource("x", time.Second, tt.sources...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting with %q", err, tt.want)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *scenario.Error", err)
			}
		})
	}
	// A key of exactly MaxKeyBytes is fine, and so is a code-built pause without a pattern.
	if _, err := NewMultiSource("x", 0, Source{Name: "A", Key: strings.Repeat("k", MaxKeyBytes),
		Steps: []Step{{Pattern: pattern.Spec{Duration: time.Second}}, ok[0]}}); err != nil {
		t.Errorf("NewMultiSource refused a %d-byte key: %v", MaxKeyBytes, err)
	}
}

func TestValidateSingleSource(t *testing.T) {
	both := &Scenario{File: "code", Steps: []Step{{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 1, Duration: time.Second}, Publishers: 1}},
		Sources: []Source{{Name: "A"}}}
	if err := both.Validate(); err == nil || err.Error() != "code: give either steps or sources, not both" {
		t.Errorf("Validate() = %v", err)
	}
	both.Sources = nil
	if err := both.Validate(); err != nil {
		t.Errorf("Validate() = %v for a good single-source scenario", err)
	}
	both.Steps[0].Pattern.Rate = -1
	if err := both.Validate(); err == nil || err.Error() != "code: step 1: rate must be > 0, got -1" {
		t.Errorf("Validate() = %v", err)
	}
}
