package simulate

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/shared/config"
)

// Epoch is time zero of every simulation: a fixed instant, so two runs produce identical samples.
var Epoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// settle is when a run's changes start to count as ChangesAfterSettle: the first evaluations may still be
// learning C.
const settle = 30 * time.Second

// sim is one run in progress.
type sim struct {
	cfg      config.Config
	pool     string
	m        Model
	tr       Trace
	ev       *master.Evaluator
	dt       time.Duration
	interval time.Duration
	every    time.Duration // the workers' report interval
	rng      *rand.Rand

	queue   fifo
	waits   histogram
	workers []*worker
	nextID  int
	board   map[string]boardEntry

	arrived, served float64
	// evalCount is floor(arrived) at the last evaluation: the count queue holds whole events.
	evalCount              int64
	lastEval               time.Duration
	windowIn, windowServed float64
	workerTime, drainTime  time.Duration
	reactions              []Reaction
	steps                  []stepUp
	res                    Result
}

// Run replays trace tr through pool of configuration c with the workers and arrivals of model m, and returns
// what happened.
//
// Each step of m.Step, in this order: retiring workers that are done leave and started workers whose spawn
// delay is over begin to serve; workers due to report do (every filter.stats_every from when they began
// serving), and each report goes to Evaluator.Observe with Processed, Slots, Held, InFlight and
// Busy = Processed·Slots/Capacity; every master.interval the master evaluates, exactly as its loop does, with
// the whole events counted since the last evaluation, the queue's ready count, the Held of reports younger than
// three report intervals (workers gone since included, as the master's stats board counts them) and the workers
// not retiring (starting ones included), then starts or retires workers to match the decision (victims: least
// held by their last report, then oldest; nothing changes under master.dry_run); the step's arrivals join the
// queue; and the workers serve. Once the trace has ended, the run stops at the first step with an empty queue,
// or when m.Drain has passed.
//
// The queue is one FIFO. A serving worker serves up to Capacity·Step events per step from its head; when there is
// less work than capacity, the workers share it equally. Of the events waiting, each worker holds (prefetched)
// an equal share up to its prefetch limit, and the rest is what the broker reports as ready. A retiring worker
// takes no new work and keeps serving what it held when told to stop, for at most the grace; what it has not
// finished then goes back to the queue. An event's wait is from its arrival to the start of the step in which
// service starts, and it counts as served then. Initial workers (the pool's min) are serving at time zero, as a
// pool idling before a load arrives would be.
func Run(c config.Config, pool string, tr Trace, m Model) (Result, error) {
	s, err := newSim(c, pool, tr, m)
	if err != nil {
		return Result{}, err
	}
	s.run()
	return s.res, nil
}

func newSim(c config.Config, pool string, tr Trace, m Model) (*sim, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := tr.Validate(); err != nil {
		return nil, err
	}
	pc, ok := c.Master.Pools[pool]
	if !ok {
		return nil, c.Master.NoPoolError(pool)
	}
	ev, err := master.NewEvaluator(pool, c, Epoch)
	if err != nil {
		return nil, err
	}
	if m.Grace == 0 {
		m.Grace = pc.Grace
	}
	if m.Prefetch == 0 {
		m.Prefetch = c.AMQP.Prefetch
	}
	if m.Step == 0 {
		m.Step = DefaultStep
	}
	if m.Drain == 0 {
		m.Drain = DefaultDrain
	}
	s := &sim{cfg: c, pool: pool, m: m, tr: tr, ev: ev, dt: m.Step, interval: c.Master.Interval,
		every: c.Filter.StatsEvery, board: map[string]boardEntry{}, steps: tr.stepUps(m.Capacity)}
	s.waits.step = m.Step
	if m.Arrivals == Poisson {
		s.rng = rand.New(rand.NewPCG(m.Seed, 0x5741_5252_454e)) // the second word is fixed: only Seed varies
	}
	s.res = Result{Trace: tr.Name, Pool: pool, Policy: policyName(pc), Model: m, Start: Epoch, Duration: tr.End,
		OracleSeconds: tr.OracleWorkerSeconds(m.Capacity)}
	for range pc.Min {
		s.start(0, 0)
	}
	return s, nil
}

func policyName(pc config.Pool) string {
	if pc.Formula == "seed" {
		return "seed C=" + pc.Capacity
	}
	return fmt.Sprintf("%s u=%g C=%s", pc.Formula, pc.TargetUtilization, pc.Capacity)
}

func (s *sim) run() {
	nextEval := s.interval
	for k := 0; ; k++ {
		now := time.Duration(k) * s.dt
		s.leave(now)
		s.split()
		s.report(now)
		if now >= nextEval {
			s.evaluate(now)
			nextEval += s.interval
		}
		// The check comes after the evaluation so that one falling at the trace's end sees its last window.
		if now >= s.tr.End && (s.queue.len() <= dust || now >= s.tr.End+s.m.Drain) {
			s.finish(now)
			return
		}
		s.react(now)
		s.arrive(now)
		s.serve(now)
		s.account(now)
	}
}
