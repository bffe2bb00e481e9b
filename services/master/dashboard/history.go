package dashboard

import (
	"time"

	"github.com/warren-mq/warren/shared/event"
)

// maxPoints bounds one pool's history whatever the clock says: a master evaluating every 100 ms keeps 10
// minutes in 6000 points, and a misconfigured one cannot grow the dashboard's memory without limit.
const maxPoints = 8192

// maxDecisions is how many decisions the dashboard keeps per pool: enough for a burst's scale-up and the
// scale-down that follows, few enough to read at a glance.
const maxDecisions = 30

// Point is one evaluation of a pool as the charts draw it.
type Point struct {
	At       time.Time `json:"at"`
	Lambda   float64   `json:"lambda"`
	Backlog  int       `json:"backlog"`
	Ready    int       `json:"ready"`
	InFlight int       `json:"in_flight"`
	Current  int       `json:"current"`
	Desired  int       `json:"desired"`
	Capacity float64   `json:"capacity"`
}

// Decision is one evaluation worth showing in the decisions table: one that wanted a different size, or whose
// reason changed.
type Decision struct {
	At             time.Time `json:"at"`
	Current        int       `json:"current"`
	Desired        int       `json:"desired"`
	Raw            int       `json:"raw"`
	Reason         string    `json:"reason"`
	Lambda         float64   `json:"lambda"`
	Backlog        int       `json:"backlog"`
	Capacity       float64   `json:"capacity"`
	CapacitySource string    `json:"capacity_source"`
}

func pointOf(s event.PoolStatus) Point {
	return Point{At: s.At, Lambda: s.Lambda, Backlog: s.Backlog, Ready: s.Ready, InFlight: s.InFlight,
		Current: s.Current, Desired: s.Desired, Capacity: s.Capacity}
}

func decisionOf(s event.PoolStatus) Decision {
	return Decision{At: s.At, Current: s.Current, Desired: s.Desired, Raw: s.Raw, Reason: s.Reason, Lambda: s.Lambda,
		Backlog: s.Backlog, Capacity: s.Capacity, CapacitySource: s.CapacitySource}
}

// history is one pool's recent evaluations, oldest first, in a ring that grows up to maxPoints.
type history struct {
	buf   []Point
	start int // index of the oldest point in buf
	n     int

	decisions  []Decision
	lastReason string
	seen       bool // whether lastReason holds a real evaluation's reason
}

func (h *history) at(i int) Point { return h.buf[(h.start+i)%len(h.buf)] }

func (h *history) last() (Point, bool) {
	if h.n == 0 {
		return Point{}, false
	}
	return h.at(h.n - 1), true
}

func (h *history) push(p Point) {
	if h.n == len(h.buf) {
		if len(h.buf) < maxPoints {
			h.grow()
		} else {
			h.start = (h.start + 1) % len(h.buf)
			h.n--
		}
	}
	h.buf[(h.start+h.n)%len(h.buf)] = p
	h.n++
}

func (h *history) grow() {
	size := max(64, 2*len(h.buf))
	buf := make([]Point, min(size, maxPoints))
	for i := range h.n {
		buf[i] = h.at(i)
	}
	h.buf, h.start = buf, 0
}

// trim drops the points older than cutoff.
func (h *history) trim(cutoff time.Time) {
	for h.n > 0 && h.at(0).At.Before(cutoff) {
		h.buf[h.start] = Point{}
		h.start = (h.start + 1) % len(h.buf)
		h.n--
	}
}

func (h *history) points() []Point {
	out := make([]Point, h.n)
	for i := range h.n {
		out[i] = h.at(i)
	}
	return out
}

// record adds a pool's new status; it reports whether the status was new (later than the last point) and
// whether it was a decision worth keeping.
func (h *history) record(s event.PoolStatus) (added, decided bool) {
	// A pool not evaluated yet has a status without a time: nothing was measured, so nothing is drawn.
	if s.At.IsZero() {
		return false, false
	}
	if last, ok := h.last(); ok && !s.At.After(last.At) {
		return false, false
	}
	h.push(pointOf(s))
	// The first evaluation a dashboard sees always counts: its reason is news to the page.
	if s.Desired != s.Current || !h.seen || s.Reason != h.lastReason {
		h.decisions = append(h.decisions, decisionOf(s))
		if len(h.decisions) > maxDecisions {
			h.decisions = append(h.decisions[:0], h.decisions[len(h.decisions)-maxDecisions:]...)
		}
		decided = true
	}
	h.lastReason, h.seen = s.Reason, true
	return true, decided
}
