package run

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/scenarios"
)

// Defaults for Options fields left zero.
const (
	// DefaultInterruptDrain bounds the drain after an interrupted run: long enough to collect what is in
	// flight, short enough that Ctrl-C still feels like stopping.
	DefaultInterruptDrain = 5 * time.Second
	// DefaultProgressEvery is how often the progress line is printed.
	DefaultProgressEvery = time.Second
	// DefaultConnectTimeout bounds the wait for the broker before the first send.
	DefaultConnectTimeout = 15 * time.Second
)

// Options configure one load run.
type Options struct {
	// URL is the broker.
	URL string
	// Scenario is what to send; see LoadScenario, PatternFlags.Scenario and scenario.NewMultiSource.
	Scenario *scenario.Scenario
	// DrainTimeout bounds the wait for results after the last step; zero means the scenario's.
	DrainTimeout time.Duration
	// InterruptDrain bounds the drain when ctx ends before the scenario does; zero means
	// DefaultInterruptDrain. It never exceeds the drain timeout.
	InterruptDrain time.Duration
	// Size is each event's text length in bytes; zero means publish.DefaultSize.
	Size int
	// Out, when set, is the directory that receives timeseries.csv, plot.png, plot.svg, report.json and
	// report.txt, and for a multi-source scenario sources.csv.
	Out string
	// Progress, when set, receives a progress line every ProgressEvery.
	Progress io.Writer
	// ProgressEvery is the time between progress lines; zero means DefaultProgressEvery.
	ProgressEvery time.Duration
	// Seed fixes the random draws of poisson and random patterns; zero picks a fresh one.
	Seed uint64
	// ConnectTimeout bounds the wait for the broker before the first send; zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// OnStart, if set, is called with the scenario's time zero just before the first send, so a caller can
	// relate its own observations to the steps.
	OnStart func(start time.Time)
	// Log receives connection trouble and the run's milestones.
	Log zerolog.Logger
}

// ErrUsage marks errors in what the user asked for (a bad pattern, a malformed scenario), as opposed to
// trouble during the run; a command line exits with a usage status for them.
var ErrUsage = errors.New("usage")

// usageError wraps err so that errors.Is(err, ErrUsage) holds while the message stays err's own.
type usageError struct{ err error }

// Error returns the wrapped error's message unchanged.
func (e usageError) Error() string { return e.err.Error() }

// Unwrap exposes both the cause and ErrUsage to errors.Is and errors.As.
func (e usageError) Unwrap() []error { return []error{e.err, ErrUsage} }

func usage(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// validate checks the options and fills in defaults.
func (o *Options) validate() error {
	if o.Scenario == nil || (len(o.Scenario.Steps) == 0 && len(o.Scenario.Sources) == 0) {
		return usage("no scenario: give --scenario FILE or --pattern with its rate and duration")
	}
	if err := o.Scenario.Validate(); err != nil {
		return usageError{err}
	}
	if o.URL == "" {
		return usage("no broker URL")
	}
	if o.DrainTimeout < 0 {
		return usage("drain timeout must not be negative, got %s", o.DrainTimeout)
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = o.Scenario.DrainTimeout
	}
	if o.InterruptDrain <= 0 {
		o.InterruptDrain = DefaultInterruptDrain
	}
	o.InterruptDrain = min(o.InterruptDrain, o.DrainTimeout)
	if o.Size == 0 {
		o.Size = publish.DefaultSize
	}
	if o.Size < 1 || o.Size > publish.MaxSize {
		return usage("size must be between 1 and %d bytes, got %d", publish.MaxSize, o.Size)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	return nil
}

// LoadScenario reads the scenario file at path or, when there is no such file, the shipped scenario of that
// name ("demo-burst" or "demo-burst.yaml"), so a binary run outside the repository still finds them. A
// problem in the file is a usage error naming file and line.
func LoadScenario(path string) (*scenario.Scenario, error) {
	if _, err := os.Stat(path); err != nil {
		name := strings.TrimSuffix(path, ".yaml") + ".yaml"
		if data, ferr := fs.ReadFile(scenarios.FS, name); ferr == nil {
			sc, err := scenario.Parse(name, data)
			if err != nil {
				return nil, usageError{err}
			}
			return sc, nil
		}
		return nil, usage("scenario %s: no such file, and no shipped scenario of that name (shipped: %s)", path, shipped())
	}
	sc, err := scenario.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return sc, nil
}

func shipped() string {
	names, _ := fs.Glob(scenarios.FS, "*.yaml")
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".yaml")
	}
	return strings.Join(names, ", ")
}

// PatternFlags are the command-line flags that describe a one-step run instead of a scenario file.
type PatternFlags struct {
	// Pattern names the pattern kind: steady, poisson, ramp, random (or pause).
	Pattern string
	// Rate, Slope, Min and Max are the pattern's rates, as in pattern.Spec.
	Rate, Slope, Min, Max float64
	// Interval is how long the random pattern holds each drawn rate.
	Interval time.Duration
	// Duration is the step's length.
	Duration time.Duration
	// Publishers is how many publishers run the pattern at once, each at the full rate.
	Publishers int
	// Target is filter or broadcaster.
	Target string
}

// Scenario builds the one-step scenario the flags describe, with drain as its drain timeout (zero: the
// default). The pattern's own checks apply, so a rate <= 0 or an unknown pattern is a usage error naming
// the flag.
func (f PatternFlags) Scenario(drain time.Duration) (*scenario.Scenario, error) {
	kind, err := pattern.ParseKind(f.Pattern)
	if err != nil {
		return nil, usage("--pattern: %w", err)
	}
	if f.Publishers < 1 {
		return nil, usage("--publishers must be at least 1, got %d", f.Publishers)
	}
	t := scenario.Target(strings.ToLower(strings.TrimSpace(f.Target)))
	if t != scenario.Filter && t != scenario.Broadcaster {
		return nil, usage("--target: unknown target %q (want %s or %s)", f.Target, scenario.Filter, scenario.Broadcaster)
	}
	spec := pattern.Spec{Kind: kind, Rate: f.Rate, Slope: f.Slope, Min: f.Min, Max: f.Max, Interval: f.Interval, Duration: f.Duration}
	if err := spec.Validate(); err != nil {
		var fe *pattern.FieldError
		if errors.As(err, &fe) {
			return nil, usage("--%s: %w", fe.Field, err)
		}
		return nil, usageError{err}
	}
	if drain <= 0 {
		drain = scenario.DefaultDrainTimeout
	}
	name := fmt.Sprintf("%s %g/s × %d for %s", kind, f.Rate, f.Publishers, f.Duration)
	switch kind {
	case pattern.Ramp:
		name = fmt.Sprintf("ramp from %g/s at %+g/s² × %d for %s", f.Rate, f.Slope, f.Publishers, f.Duration)
	case pattern.Random:
		name = fmt.Sprintf("random %g–%g/s × %d for %s", f.Min, f.Max, f.Publishers, f.Duration)
	case pattern.Pause:
		name = fmt.Sprintf("pause for %s", f.Duration)
	}
	return &scenario.Scenario{
		File: "command line", Name: name, DrainTimeout: drain,
		Steps: []scenario.Step{{Pattern: spec, Publishers: f.Publishers, Target: t}},
	}, nil
}

// Shipped lists the names of the scenarios built into the binary.
func Shipped() string { return shipped() }
