// Package fair serves items held in several lanes in weighted round robin, first in first out within a lane:
// a lane with weight w gets up to w items in a row while it has them, then the next lane that holds something
// gets its turn. A lane that floods therefore delays another lane's item by at most one round, never by its
// own backlog.
package fair

import "sync"

// Queue is a set of lanes, safe for concurrent use: producers Push into a lane, any number of consumers Pop.
type Queue[T any] struct {
	mu      sync.Mutex
	lanes   []lane[T]
	cur     int // the lane whose turn it is
	served  int // items the current lane has had in this turn
	n       int // items held, in every lane
	closed  bool
	wake    chan struct{} // one waiting Pop is woken per signal
	done    chan struct{} // closed by Close: every waiting Pop wakes
	weights []int
}

type lane[T any] struct {
	items []T
	head  int
}

// New returns a queue with one lane per weight; a weight below 1 counts as 1.
func New[T any](weights []int) *Queue[T] {
	ws := make([]int, max(len(weights), 1))
	for i := range ws {
		ws[i] = 1
		if i < len(weights) && weights[i] > 1 {
			ws[i] = weights[i]
		}
	}
	return &Queue[T]{lanes: make([]lane[T], len(ws)), weights: ws, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Lanes is the number of lanes.
func (q *Queue[T]) Lanes() int { return len(q.lanes) }

// Push appends v to lane i.
func (q *Queue[T]) Push(i int, v T) {
	q.mu.Lock()
	l := &q.lanes[i]
	l.items = append(l.items, v)
	q.n++
	q.mu.Unlock()
	q.signal()
}

func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Close ends the queue: Pop returns what is still held, then reports false.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.done)
	}
}

// Pop takes the next item in round-robin order and its lane, waiting for one; ok is false once the queue is
// closed and empty.
func (q *Queue[T]) Pop() (v T, i int, ok bool) {
	for {
		q.mu.Lock()
		if q.n > 0 {
			v, i = q.next()
			more := q.n > 0
			q.mu.Unlock()
			if more {
				// Signals coalesce: pass the wake-up on so another waiting consumer takes what is left.
				q.signal()
			}
			return v, i, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			return v, -1, false
		}
		select {
		case <-q.wake:
		case <-q.done:
		}
	}
}

// TryPop is Pop without waiting: ok is false when nothing is held.
func (q *Queue[T]) TryPop() (v T, i int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return v, -1, false
	}
	v, i = q.next()
	return v, i, true
}

// next takes an item; q.mu is held and q.n > 0.
func (q *Queue[T]) next() (T, int) {
	for {
		l := &q.lanes[q.cur]
		if q.served < q.weights[q.cur] && l.head < len(l.items) {
			v := l.items[l.head]
			var zero T
			l.items[l.head] = zero
			l.head++
			if l.head == len(l.items) {
				// Emptied: reuse the backing array instead of letting it grow with every item ever pushed.
				l.items, l.head = l.items[:0], 0
			}
			q.n--
			q.served++
			return v, q.cur
		}
		q.cur = (q.cur + 1) % len(q.lanes)
		q.served = 0
	}
}
