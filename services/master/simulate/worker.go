package simulate

import "time"

// worker is one simulated worker of the pool.
type worker struct {
	id string
	// started is when the master started it, serveAt when it begins to serve (started plus the spawn delay).
	started, serveAt time.Duration
	serving          bool
	// retiring workers take no new work; they finish budget, the events they held when told to stop, then leave
	// (or leave at retiredAt plus the grace, their remaining events going back to the queue).
	retiring  bool
	retiredAt time.Duration
	budget    float64
	// buffered is what the worker holds prefetched, waiting for a slot: its share of the queue up to the prefetch
	// limit. It is still in the fifo; the split only decides what the broker counts as ready.
	buffered float64
	// inService is what its slots hold, by Little's law: its service rate in the last step times the time an
	// event keeps a slot (Slots/Capacity), i.e. Slots times the share of its capacity it used.
	inService float64
	// stepServed is what it served in the current step; served what it served in all.
	stepServed, served float64
	// reported is floor(served) at its last report, so reports carry whole events that add up exactly.
	reported   int64
	nextReport time.Duration
}

// held is every event the worker holds, unacknowledged: in its slots and waiting for one.
func (w *worker) held() float64 {
	if w.retiring {
		return w.budget + w.inService
	}
	return w.buffered + w.inService
}

// boardEntry is the master's memory of a worker's latest report (the statsBoard's, for held and victims).
type boardEntry struct {
	held int
	at   time.Duration
}
