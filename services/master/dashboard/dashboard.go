// Package dashboard serves Warren's live dashboard: one page, embedded in the binary, that shows per pool the
// last minutes of λ, backlog and workers, the latest scaling decisions with their reasons, where C came from,
// and the workers with their state and health. The master hands it a State after every evaluation (Update); the
// page loads /api/state once and then follows /api/events, a server-sent event stream that carries every
// Update at once, so the page is never more than one evaluation behind.
package dashboard

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// maxClients bounds the event streams served at once: each holds a goroutine and a connection, and a dashboard
// has a handful of viewers, not thousands.
const maxClients = 64

// Dashboard keeps the recent history of every pool and pushes each new State to the connected pages. It is
// safe for concurrent use.
type Dashboard struct {
	keep time.Duration
	now  func() time.Time

	// done is closed by Close: every event stream ends, and no new one starts.
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	seq     uint64
	state   *State
	pools   map[string]*history
	clients map[*client]struct{}
	// shutdowns holds, per HTTP server serving the event stream, a channel closed when that server shuts down.
	shutdowns map[*http.Server]chan struct{}
}

// client is one connected page. Its channel holds at most the latest undelivered update: a page that reads
// slowly misses intermediate updates (and resynchronises from /api/state, seeing the gap in seq) instead of
// slowing Update down.
type client struct {
	ch chan []byte
}

// New returns a dashboard keeping `keep` of history per pool (10*time.Minute in production); now is the clock
// (nil means time.Now).
func New(keep time.Duration, now func() time.Time) *Dashboard {
	if now == nil {
		now = time.Now
	}
	if keep <= 0 {
		keep = 10 * time.Minute
	}
	return &Dashboard{keep: keep, now: now, done: make(chan struct{}), pools: map[string]*history{},
		clients: map[*client]struct{}{}, shutdowns: map[*http.Server]chan struct{}{}}
}

// Close ends every event stream and refuses new ones. Update, /api/state and the page itself keep working.
// A server's graceful shutdown waits for idle connections, and a page's stream is never idle; streams served by
// an http.Server end by themselves when it shuts down, so Close is for other ways of serving the Handler.
func (d *Dashboard) Close() {
	d.closeOnce.Do(func() { close(d.done) })
}

// Snapshot is what /api/state serves: the latest State, every pool's history within the kept window, and
// its latest decisions. Seq counts Updates, so a page can tell whether it missed one.
type Snapshot struct {
	Seq       uint64                `json:"seq"`
	Now       time.Time             `json:"now"`
	KeepS     float64               `json:"keep_s"`
	State     *State                `json:"state"`
	History   map[string][]Point    `json:"history"`
	Decisions map[string][]Decision `json:"decisions"`
}

// Delta is what one event on /api/events carries: the new State, the point each pool gained (pools whose
// status did not change have none), and the decisions of every pool whose list changed.
type Delta struct {
	Seq       uint64                `json:"seq"`
	Now       time.Time             `json:"now"`
	State     *State                `json:"state"`
	Points    map[string]Point      `json:"points"`
	Decisions map[string][]Decision `json:"decisions"`
}

// Update records a new State: appends each pool's status to its history (only when Status.At is newer than the
// last point), remembers decisions, and pushes the state to every connected page at once.
func (d *Dashboard) Update(s State) {
	s = cloneState(s)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	d.state = &s
	delta := Delta{Seq: d.seq, Now: d.now(), State: &s, Points: map[string]Point{}, Decisions: map[string][]Decision{}}
	for _, p := range s.Pools {
		name := p.Status.Pool
		if name == "" {
			continue
		}
		h := d.pools[name]
		if h == nil {
			h = &history{}
			d.pools[name] = h
		}
		added, decided := h.record(p.Status)
		if added {
			delta.Points[name] = pointOf(p.Status)
		}
		if decided {
			delta.Decisions[name] = slices.Clone(h.decisions)
		}
	}
	d.trimLocked(delta.Now)
	body, err := json.Marshal(delta)
	if err != nil {
		// Every field is a plain value; a failure here would be a bug, and pages resynchronise on the next seq.
		return
	}
	for c := range d.clients {
		offer(c.ch, body)
	}
}

// offer puts body in ch, replacing an update the client has not read yet.
func offer(ch chan []byte, body []byte) {
	select {
	case ch <- body:
		return
	default:
	}
	select {
	case <-ch:
	default:
	}
	select {
	case ch <- body:
	default:
	}
}

// trimLocked drops points older than the kept window, and forgets pools that have neither points nor a place
// in the latest State (a pool removed from the configuration).
func (d *Dashboard) trimLocked(now time.Time) {
	cutoff := now.Add(-d.keep)
	current := map[string]bool{}
	if d.state != nil {
		for _, p := range d.state.Pools {
			current[p.Status.Pool] = true
		}
	}
	for name, h := range d.pools {
		h.trim(cutoff)
		if h.n == 0 && !current[name] {
			delete(d.pools, name)
		}
	}
}

// Snapshot returns the dashboard's current view, as /api/state serves it.
func (d *Dashboard) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	d.trimLocked(now)
	snap := Snapshot{Seq: d.seq, Now: now, KeepS: d.keep.Seconds(), History: map[string][]Point{},
		Decisions: map[string][]Decision{}}
	if d.state != nil {
		s := cloneState(*d.state)
		snap.State = &s
	}
	for name, h := range d.pools {
		snap.History[name] = h.points()
		snap.Decisions[name] = slices.Clone(h.decisions)
		if snap.Decisions[name] == nil {
			snap.Decisions[name] = []Decision{}
		}
	}
	return snap
}

// serverDone returns a channel closed when the http.Server that serves r shuts down (nil, which never fires,
// when r does not say which server serves it): Shutdown waits for active connections, and without this an open
// page would hold it until its timeout, then keep a stream of a stopped server alive.
func (d *Dashboard) serverDone(r *http.Request) <-chan struct{} {
	srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
	if !ok || srv == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.shutdowns[srv]; ok {
		return ch
	}
	ch := make(chan struct{})
	d.shutdowns[srv] = ch
	// Shutdown runs its hooks in goroutines of their own, without holding the server's lock.
	srv.RegisterOnShutdown(func() {
		d.mu.Lock()
		delete(d.shutdowns, srv)
		d.mu.Unlock()
		close(ch)
	})
	return ch
}

// subscribe registers a page; it returns nil when maxClients pages are already connected or the dashboard
// is closed.
func (d *Dashboard) subscribe() *client {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.done:
		return nil
	default:
	}
	if len(d.clients) >= maxClients {
		return nil
	}
	c := &client{ch: make(chan []byte, 1)}
	d.clients[c] = struct{}{}
	return c
}

func (d *Dashboard) unsubscribe(c *client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.clients, c)
}

// cloneState copies the slices of s, so a caller reusing its slices after Update cannot change what the
// dashboard serves.
func cloneState(s State) State {
	s.Pools = slices.Clone(s.Pools)
	for i := range s.Pools {
		s.Pools[i].Workers = slices.Clone(s.Pools[i].Workers)
	}
	return s
}
