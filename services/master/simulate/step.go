package simulate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/warren-mq/warren/loadgen/timeseries"
	"github.com/warren-mq/warren/shared/event"
)

// The phases of one simulation step, in the order run calls them (see Run).

// start adds a worker that the master starts at now and that serves from serveAt.
func (s *sim) start(now, serveAt time.Duration) {
	s.nextID++
	s.workers = append(s.workers, &worker{id: fmt.Sprintf("%s-%d", s.pool, s.nextID), started: now, serveAt: serveAt})
}

// leave removes the retiring workers that have finished what they held or run out of grace, and lets the
// started workers whose spawn delay is over begin to serve.
func (s *sim) leave(now time.Duration) {
	s.workers = slices.DeleteFunc(s.workers, func(w *worker) bool {
		return w.retiring && (w.budget <= dust || now-w.retiredAt >= s.m.Grace)
	})
	for _, w := range s.workers {
		if !w.serving && now >= w.serveAt {
			w.serving = true
			w.nextReport = w.serveAt + s.every
		}
	}
}

// split shares the waiting events out: each serving worker not retiring prefetches an equal share, up to its
// prefetch limit less what its slots hold; it returns the rest, the ready count.
func (s *sim) split() float64 {
	free := s.queue.len()
	var active []*worker
	for _, w := range s.workers {
		switch {
		case w.retiring:
			free -= w.budget
		case w.serving:
			active = append(active, w)
		default:
			w.buffered = 0
		}
	}
	free = max(free, 0)
	share := 0.0
	if len(active) > 0 {
		share = free / float64(len(active))
	}
	for _, w := range active {
		w.buffered = min(max(float64(s.m.Prefetch)-w.inService, 0), share)
		free -= w.buffered
	}
	return max(free, 0)
}

// report sends the reports due at now to the master.
func (s *sim) report(now time.Duration) {
	for _, w := range s.workers {
		if !w.serving || now < w.nextReport {
			continue
		}
		count := int64(math.Floor(w.served + dust))
		processed := int(count - w.reported)
		w.reported = count
		busy := float64(processed) * float64(s.m.Slots) / s.m.Capacity
		st := event.WorkerStats{Pool: s.pool, Worker: w.id, Processed: processed, Interval: s.every.Seconds(),
			Utilization: busy / (float64(s.m.Slots) * s.every.Seconds()), InFlight: int(math.Round(w.inService)),
			Held: int(math.Round(w.held())), Busy: busy, Slots: s.m.Slots, At: Epoch.Add(now)}
		s.ev.Observe(st, Epoch.Add(now))
		s.board[w.id] = boardEntry{held: max(st.Held, st.InFlight), at: now}
		w.nextReport += s.every
	}
}

// boardHeld is what the master's stats board says the workers hold: the Held of every report younger than three
// report intervals, workers already gone included, as the master counts it.
func (s *sim) boardHeld(now time.Duration) int {
	n := 0
	for id, e := range s.board {
		if now-e.at > 3*s.every {
			delete(s.board, id)
			continue
		}
		n += e.held
	}
	return n
}

// current is the pool size the master sees: every worker not retiring, those still starting included.
func (s *sim) current() int {
	n := 0
	for _, w := range s.workers {
		if !w.retiring {
			n++
		}
	}
	return n
}

// evaluate runs one evaluation of the master and applies its decision.
func (s *sim) evaluate(now time.Duration) {
	count := int64(math.Floor(s.arrived + dust))
	arrived := int(count - s.evalCount)
	s.evalCount = count
	ready := int(math.Round(s.split()))
	current := s.current()
	st, dec := s.ev.Evaluate(Epoch.Add(now), arrived, ready, s.boardHeld(now), current)

	window := (now - s.lastEval).Seconds()
	s.res.Samples = append(s.res.Samples, timeseries.Sample{T: Epoch.Add(now), Pool: s.pool, Lambda: st.Lambda,
		Backlog: st.Backlog, Workers: current, Desired: dec.Desired, Capacity: st.Capacity, Reason: dec.Reason,
		SentRate: s.windowIn / window, ResultRate: s.windowServed / window})
	s.lastEval, s.windowIn, s.windowServed = now, 0, 0
	if now <= s.tr.End {
		s.res.LastCapacity = st.Capacity
	}
	if dec.Desired == current {
		return
	}
	if now <= s.tr.End {
		s.res.Changes++
		if now > settle {
			s.res.ChangesAfterSettle++
		}
	}
	if s.cfg.Master.DryRun {
		return
	}
	for range dec.Desired - current {
		s.start(now, now+s.m.SpawnDelay)
	}
	if extra := current - dec.Desired; extra > 0 {
		for _, w := range s.victims(extra) {
			w.retiring, w.retiredAt, w.budget = true, now, w.buffered
		}
	}
}

// victims picks n workers to retire as the master does: those holding the least by their latest report first
// (a worker that has not reported holds nothing), then the oldest.
func (s *sim) victims(n int) []*worker {
	var alive []*worker
	for _, w := range s.workers {
		if !w.retiring {
			alive = append(alive, w)
		}
	}
	slices.SortStableFunc(alive, func(a, b *worker) int {
		if ha, hb := s.board[a.id].held, s.board[b.id].held; ha != hb {
			return ha - hb
		}
		return cmp.Compare(a.started, b.started)
	})
	return alive[:min(n, len(alive))]
}

// arrive adds the step's arrivals to the queue.
func (s *sim) arrive(now time.Duration) {
	n := s.tr.Events(now, now+s.dt)
	if s.rng != nil {
		n = poisson(s.rng.Float64, n)
	}
	s.queue.push(now, n)
	s.arrived += n
	s.windowIn += n
}

// serve lets every serving worker work for one step: retiring ones on what they hold, the others on the rest of
// the queue, shared equally when there is less than they could serve.
func (s *sim) serve(now time.Duration) {
	perStep := s.m.Capacity * s.dt.Seconds()
	free := s.queue.len()
	var active []*worker
	total := 0.0
	for _, w := range s.workers {
		w.stepServed = 0
		switch {
		case !w.serving:
		case w.retiring:
			free -= w.budget
			w.stepServed = min(perStep, w.budget)
			w.budget -= w.stepServed
			total += w.stepServed
		default:
			active = append(active, w)
		}
	}
	if len(active) > 0 {
		each := min(perStep, max(free, 0)/float64(len(active)))
		for _, w := range active {
			w.stepServed = each
		}
		total += each * float64(len(active))
	}
	served := s.queue.pop(total, now, &s.waits)
	s.served += served
	s.windowServed += served
	for _, w := range s.workers {
		w.served += w.stepServed
		w.inService = float64(s.m.Slots) * w.stepServed / perStep
	}
}

// account adds the step's worker time: every worker alive, starting and retiring ones included. It adds whole
// nanoseconds, so long runs do not accumulate rounding.
func (s *sim) account(now time.Duration) {
	alive := time.Duration(len(s.workers))
	if now < s.tr.End {
		s.workerTime += alive * min(s.dt, s.tr.End-now)
	} else {
		s.drainTime += alive * s.dt
	}
}

// react checks the pending step-ups of the trace: whether the workers serving can now keep up with the new rate.
func (s *sim) react(now time.Duration) {
	serving := 0
	for _, w := range s.workers {
		if w.serving && !w.retiring {
			serving++
		}
	}
	s.steps = slices.DeleteFunc(s.steps, func(st stepUp) bool {
		if now < st.at {
			return false
		}
		r := Reaction{At: st.at, From: st.from, To: st.to, Needed: int(math.Ceil(st.to/s.m.Capacity - 1e-9))}
		r.Reached = float64(serving)*s.m.Capacity >= st.to*(1-1e-9)
		if !r.Reached && now < st.until {
			return false
		}
		firstEval := (st.at/s.interval + 1) * s.interval
		r.FromStep, r.FromEvaluation = now-st.at, max(now-firstEval, 0)
		s.reactions = append(s.reactions, r)
		return true
	})
}

// finish fills in the result once the queue is empty or the drain bound is reached.
func (s *sim) finish(now time.Duration) {
	r := &s.res
	r.Drain = now - s.tr.End
	r.WorkerSeconds, r.DrainWorkerSeconds = s.workerTime.Seconds(), s.drainTime.Seconds()
	r.Arrived, r.Served, r.Lost = s.arrived, s.served, s.queue.len()
	if r.Lost <= dust {
		r.Lost = 0
	}
	if r.OracleSeconds > 0 {
		r.Ratio = r.WorkerSeconds / r.OracleSeconds
	}
	r.WaitP50, r.WaitP99, r.WaitMax = s.waits.quantile(0.5), s.waits.quantile(0.99), s.waits.max()
	slices.SortStableFunc(s.reactions, func(a, b Reaction) int { return cmp.Compare(a.At, b.At) })
	r.Reactions = s.reactions
}
