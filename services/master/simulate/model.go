package simulate

import (
	"errors"
	"fmt"
	"time"
)

// Arrivals is how a trace's rate turns into events.
type Arrivals int

const (
	// Fluid brings exactly rate·dt events (a fraction of an event included) in every step: the default, and the
	// one whose figures do not depend on a seed.
	Fluid Arrivals = iota
	// Poisson brings a Poisson-distributed whole number of events with mean rate·dt in every step, drawn from a
	// PCG generator seeded with Model.Seed, so a run is random but repeatable.
	Poisson
)

// String returns "fluid" or "poisson".
func (a Arrivals) String() string {
	if a == Poisson {
		return "poisson"
	}
	return "fluid"
}

// Model is what the simulator assumes about the workers and the arrivals. Start from DefaultModel.
type Model struct {
	// Capacity is C_true, the events per second one worker really processes: what the master's capacity
	// learner has to discover (or what a static capacity setting may get wrong).
	Capacity float64
	// Slots is a worker's handler concurrency. Each event keeps a slot busy Slots/Capacity seconds, which is
	// how a worker bound by its slots (a confirm, a downstream call) behaves, and what the workers' Busy reports
	// say.
	Slots int
	// SpawnDelay is the time from the master's decision to start a worker until the worker serves: about 0.5 s
	// for the process runtime, 1.5 s for docker. Zero starts workers at once.
	SpawnDelay time.Duration
	// Grace bounds how long a retiring worker keeps finishing the events it holds; zero takes the pool's
	// configured grace.
	Grace time.Duration
	// Prefetch is the most deliveries a worker holds (in its slots and waiting for one); zero takes
	// amqp.prefetch from the configuration.
	Prefetch int
	// Arrivals is Fluid or Poisson; Seed seeds the Poisson generator.
	Arrivals Arrivals
	Seed     uint64
	// Step is the simulation's time step dt; zero means DefaultStep. Waits are measured in whole steps.
	Step time.Duration
	// Drain bounds how long the simulation goes on after the trace ends, with no arrivals, to empty the queue;
	// events still queued then count as lost. Zero means DefaultDrain.
	Drain time.Duration
}

// Defaults of DefaultModel and of zero Model fields.
const (
	// DefaultCapacity is C_true in events per second: about what one filter worker does on a developer machine.
	DefaultCapacity = 480.0
	// DefaultSlots is a worker's concurrency.
	DefaultSlots = 5
	// DefaultSpawnDelay is the process runtime's start-up time.
	DefaultSpawnDelay = 500 * time.Millisecond
	// DefaultStep is the time step: fine enough for waits of a fraction of a second, coarse enough that ten
	// minutes of trace take a few milliseconds.
	DefaultStep = 10 * time.Millisecond
	// DefaultDrain bounds the drain after the trace.
	DefaultDrain = 10 * time.Minute
	// DefaultSeed seeds Poisson arrivals unless told otherwise.
	DefaultSeed = 1
)

// DefaultModel returns the model the shipped traces are calibrated for: C_true 480 events/s, 5 slots, a 0.5 s
// spawn delay, fluid arrivals, and grace and prefetch from the configuration.
func DefaultModel() Model {
	return Model{Capacity: DefaultCapacity, Slots: DefaultSlots, SpawnDelay: DefaultSpawnDelay, Seed: DefaultSeed}
}

// ErrInvalidModel is wrapped by the errors of Model.Validate.
var ErrInvalidModel = errors.New("invalid model")

// Validate reports a model that cannot be simulated.
func (m Model) Validate() error {
	switch {
	case !(m.Capacity > 0) || m.Capacity > 1e9:
		return fmt.Errorf("%w: capacity %v events/s is not a positive number", ErrInvalidModel, m.Capacity)
	case m.Slots < 1:
		return fmt.Errorf("%w: slots %d: want at least 1", ErrInvalidModel, m.Slots)
	case m.SpawnDelay < 0:
		return fmt.Errorf("%w: spawn delay %v is negative", ErrInvalidModel, m.SpawnDelay)
	case m.Grace < 0:
		return fmt.Errorf("%w: grace %v is negative", ErrInvalidModel, m.Grace)
	case m.Prefetch < 0:
		return fmt.Errorf("%w: prefetch %d is negative", ErrInvalidModel, m.Prefetch)
	case m.Arrivals != Fluid && m.Arrivals != Poisson:
		return fmt.Errorf("%w: arrivals mode %d", ErrInvalidModel, m.Arrivals)
	case m.Step < 0 || m.Step > time.Second:
		return fmt.Errorf("%w: step %v: want at most 1s", ErrInvalidModel, m.Step)
	case m.Drain < 0:
		return fmt.Errorf("%w: drain %v is negative", ErrInvalidModel, m.Drain)
	}
	return nil
}
