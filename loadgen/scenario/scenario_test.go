package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/pattern"
)

const file = "loadgen/scenarios/x.yaml"

func TestParseFull(t *testing.T) {
	src := `name: everything
description: one step of each kind
drain_timeout: 45s
steps:
  - pattern: steady
    rate: 200
    duration: 15s
  - pattern: poisson
    rate: 50.5
    duration: 1m
    publishers: 3
    target: broadcaster
  - pattern: ramp
    slope: 90
    duration: 20s
  - pattern: random
    min: 100
    max: 2000
    interval: 500ms
    duration: 10s
  - pattern: pause
    duration: 5s
  - publishers: 0
    duration: 2s
  - {pattern: steady, rate: 300, publishers: 0, duration: 10s}
`
	s, err := Parse(file, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "everything" || s.Description != "one step of each kind" || s.DrainTimeout != 45*time.Second {
		t.Errorf("header = %q %q %s", s.Name, s.Description, s.DrainTimeout)
	}
	want := []Step{
		{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 200, Duration: 15 * time.Second}, Publishers: 1, Target: Filter, Line: 5},
		{Pattern: pattern.Spec{Kind: pattern.Poisson, Rate: 50.5, Duration: time.Minute}, Publishers: 3, Target: Broadcaster, Line: 8},
		{Pattern: pattern.Spec{Kind: pattern.Ramp, Slope: 90, Duration: 20 * time.Second}, Publishers: 1, Target: Filter, Line: 13},
		{Pattern: pattern.Spec{Kind: pattern.Random, Min: 100, Max: 2000, Interval: 500 * time.Millisecond, Duration: 10 * time.Second}, Publishers: 1, Target: Filter, Line: 16},
		{Pattern: pattern.Spec{Kind: pattern.Pause, Duration: 5 * time.Second}, Publishers: 0, Target: Filter, Line: 21},
		{Pattern: pattern.Spec{Kind: pattern.Pause, Duration: 2 * time.Second}, Publishers: 0, Target: Filter, Line: 23},
		{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: 300, Duration: 10 * time.Second}, Publishers: 0, Target: Filter, Line: 25},
	}
	if len(s.Steps) != len(want) {
		t.Fatalf("got %d steps, want %d", len(s.Steps), len(want))
	}
	for i := range want {
		if s.Steps[i] != want[i] {
			t.Errorf("step %d = %+v\n          want %+v", i+1, s.Steps[i], want[i])
		}
	}
	for i, pause := range []bool{false, false, false, false, true, true, true} {
		if s.Steps[i].IsPause() != pause {
			t.Errorf("step %d IsPause() = %v", i+1, !pause)
		}
	}
	if got := s.Duration(); got != 15*time.Second+time.Minute+47*time.Second {
		t.Errorf("Duration() = %s", got)
	}
	// 200·15 + 3·50.5·60 + 90·20²/2 + 1050·10
	if got := s.ExpectedEvents(); got != 3000+9090+18000+10500 {
		t.Errorf("ExpectedEvents() = %v", got)
	}
}

func TestDefaults(t *testing.T) {
	s, err := Parse(file, []byte("name: d\nsteps:\n  - {pattern: steady, rate: 1, duration: 1s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.DrainTimeout != DefaultDrainTimeout || s.Steps[0].Publishers != 1 || s.Steps[0].Target != Filter {
		t.Errorf("defaults: drain %s, publishers %d, target %q", s.DrainTimeout, s.Steps[0].Publishers, s.Steps[0].Target)
	}
	if s.File != file {
		t.Errorf("File = %q", s.File)
	}
}

func TestParseErrors(t *testing.T) {
	const head = "name: bad\nsteps:\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"unknown pattern",
			head + "  - pattern: steady\n    rate: 1\n    duration: 1s\n  - pattern: burst\n    rate: 5\n    duration: 1s\n",
			`x.yaml:6: step 2: unknown pattern "burst" (want one of steady, poisson, ramp, random, pause)`},
		{"negative rate",
			head + "  - pattern: steady\n    rate: 1\n    duration: 1s\n  - pattern: steady\n    duration: 1s\n    rate: -5\n",
			"x.yaml:8: step 2: rate must be > 0, got -5"},
		{"zero rate",
			head + "  - pattern: poisson\n    rate: 0\n    duration: 1s\n",
			"x.yaml:4: step 1: rate must be > 0, got 0"},
		{"zero duration",
			head + "  - pattern: steady\n    rate: 10\n    duration: 0s\n",
			"x.yaml:5: step 1: duration must be > 0, got 0s"},
		{"negative duration",
			head + "  - pattern: steady\n    rate: 10\n    duration: -3s\n",
			"x.yaml:5: step 1: duration must be > 0, got -3s"},
		{"duration without unit",
			head + "  - pattern: steady\n    rate: 10\n    duration: 10\n",
			`x.yaml:5: step 1: duration must be a duration such as "10s", got 10`},
		{"bad duration",
			head + "  - pattern: steady\n    rate: 10\n    duration: soon\n",
			`x.yaml:5: step 1: duration must be a duration such as "10s", got "soon"`},
		{"malformed YAML",
			"name: bad\nsteps:\n  - pattern: steady\n    rate: [1, 2\n    duration: 1s\n",
			"x.yaml:4: malformed YAML: did not find expected ',' or ']'"},
		{"malformed YAML mapping",
			"name: bad\nsteps: - a\n  b: c\n",
			"x.yaml:2: malformed YAML: block sequence entries are not allowed in this context"},
		// yaml names the line where the scalar it was reading began, the one before the tab.
		{"malformed YAML tab",
			"name: bad\nsteps:\n  - pattern: steady\n\trate: 1\n",
			"x.yaml:3: malformed YAML: found a tab character that violates indentation"},
		{"malformed YAML indentation",
			"name: bad\nsteps:\n  - pattern: steady\n   rate: 1\n",
			"x.yaml:3: malformed YAML: did not find expected '-' indicator"},
		{"unknown step key",
			head + "  - pattern: steady\n    rate: 10\n    duraton: 1s\n",
			`x.yaml:5: step 1: unknown key "duraton" in the step (known: pattern, rate, slope, min, max, interval, duration, publishers, target)`},
		{"unknown top key",
			"name: bad\nverbose: true\nsteps:\n  - {pattern: steady, rate: 1, duration: 1s}\n",
			`x.yaml:2: unknown key "verbose" in the scenario`},
		{"duplicate key",
			head + "  - pattern: steady\n    rate: 10\n    rate: 20\n    duration: 1s\n",
			`x.yaml:5: step 1: key "rate" given twice in the step (first at line 4)`},
		{"key for another pattern",
			head + "  - pattern: steady\n    rate: 10\n    slope: 3\n    duration: 1s\n",
			"x.yaml:5: step 1: slope does not apply to pattern steady"},
		{"missing rate",
			head + "  - pattern: steady\n    duration: 1s\n",
			"x.yaml:3: step 1: pattern steady needs rate"},
		{"missing duration",
			head + "  - pattern: steady\n    rate: 3\n",
			"x.yaml:3: step 1: pattern steady needs duration"},
		{"missing pattern",
			head + "  - rate: 3\n    duration: 1s\n",
			"x.yaml:3: step 1: pattern is required"},
		{"rate as text",
			head + "  - pattern: steady\n    rate: fast\n    duration: 1s\n",
			`x.yaml:4: step 1: rate must be a number, got "fast"`},
		{"empty rate",
			head + "  - pattern: steady\n    rate:\n    duration: 1s\n",
			"x.yaml:4: step 1: rate must be a number, got nothing"},
		{"negative publishers",
			head + "  - pattern: steady\n    rate: 1\n    publishers: -1\n    duration: 1s\n",
			"x.yaml:5: step 1: publishers must be a whole number >= 0, got -1"},
		{"fractional publishers",
			head + "  - pattern: steady\n    rate: 1\n    publishers: 1.5\n    duration: 1s\n",
			"x.yaml:5: step 1: publishers must be a whole number, got 1.5"},
		{"pause with publishers",
			head + "  - pattern: pause\n    publishers: 2\n    duration: 1s\n",
			"x.yaml:4: step 1: a pause has no publishers, got 2"},
		{"pause with rate",
			head + "  - pattern: pause\n    rate: 2\n    duration: 1s\n",
			"x.yaml:4: step 1: rate does not apply to pattern pause"},
		{"ramp going negative",
			head + "  - pattern: ramp\n    rate: 100\n    slope: -20\n    duration: 10s\n",
			"x.yaml:5: step 1: ramp's rate must stay >= 0, but slope -20 from 100 reaches -100 after 10s"},
		{"ramp of nothing",
			head + "  - pattern: ramp\n    slope: 0\n    duration: 10s\n",
			"x.yaml:4: step 1: ramp needs rate > 0 or slope > 0, got rate 0 and slope 0"},
		{"random min above max",
			head + "  - pattern: random\n    min: 9\n    max: 3\n    duration: 10s\n",
			"x.yaml:4: step 1: min (9) must be <= max (3)"},
		{"unknown target",
			head + "  - pattern: steady\n    rate: 1\n    duration: 1s\n    target: insult\n",
			`x.yaml:6: step 1: unknown target "insult" (want filter or broadcaster)`},
		{"no name", "steps:\n  - {pattern: steady, rate: 1, duration: 1s}\n", "x.yaml:1: the scenario needs a name"},
		{"no steps", "name: x\n", "x.yaml:1: the scenario needs steps"},
		{"empty steps", "name: x\nsteps: []\n", "x.yaml:2: steps is empty"},
		{"steps not a list", "name: x\nsteps: 3\n", "x.yaml:2: steps must be a list, got 3"},
		{"step not a mapping", "name: x\nsteps:\n  - steady\n", `x.yaml:3: step 1: the step must be a mapping of keys to values, got "steady"`},
		{"not a mapping", "- 1\n- 2\n", "x.yaml:1: the scenario must be a mapping"},
		{"zero drain", "name: x\ndrain_timeout: 0s\nsteps:\n  - {pattern: steady, rate: 1, duration: 1s}\n", "x.yaml:2: drain_timeout must be > 0"},
		{"empty file", "", "x.yaml: empty scenario file"},
		{"only a comment", "# nothing yet\n", "x.yaml: empty scenario file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(file, []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.src)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q\n want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), file+":") {
				t.Errorf("error %q does not start with the file name", err)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *scenario.Error", err)
			}
		})
	}
}

func TestPatternErrorsUnwrap(t *testing.T) {
	_, err := Parse(file, []byte("name: x\nsteps:\n  - {pattern: steady, rate: -5, duration: 1s}\n"))
	if !errors.Is(err, pattern.ErrInvalid) {
		t.Errorf("error %v does not match pattern.ErrInvalid", err)
	}
	if want := "loadgen/scenarios/x.yaml:3: step 1: rate must be > 0, got -5"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte("name: x\nsteps:\n  - {pattern: steady, rate: 0, duration: 1s}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":3: step 1: rate must be > 0") {
		t.Errorf("Load error = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v", err)
	}
}

func TestStepAt(t *testing.T) {
	s := &Scenario{Steps: []Step{
		{Pattern: pattern.Spec{Duration: 5 * time.Second}},
		{Pattern: pattern.Spec{Duration: 10 * time.Second}},
	}}
	tests := []struct {
		at     time.Duration
		index  int
		offset time.Duration
		ok     bool
	}{
		{0, 0, 0, true},
		{4 * time.Second, 0, 4 * time.Second, true},
		{5 * time.Second, 1, 0, true},
		{14 * time.Second, 1, 9 * time.Second, true},
		{15 * time.Second, 0, 0, false},
		{-time.Second, 0, 0, false},
	}
	for _, tt := range tests {
		i, off, ok := s.StepAt(tt.at)
		if i != tt.index || off != tt.offset || ok != tt.ok {
			t.Errorf("StepAt(%s) = %d, %s, %v; want %d, %s, %v", tt.at, i, off, ok, tt.index, tt.offset, tt.ok)
		}
	}
}
