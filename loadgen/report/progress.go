package report

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Progress is one live status line of a run. The backlog and worker counts come from the master's pool
// status, which may not have arrived yet.
type Progress struct {
	// Elapsed is the time since the run started and Total the scenario's planned length.
	Elapsed, Total time.Duration
	// Step is the current step, from 1, out of Steps; zero Steps leaves the step out.
	Step, Steps int
	// SendRate and ResultRate are events per second over the last interval.
	SendRate, ResultRate float64
	// HaveStatus says whether Backlog, Workers and Desired hold a master status.
	HaveStatus bool
	Backlog    int
	Workers    int
	Desired    int
}

// String renders the line, for example:
//
//	12.0s/35.0s (23.0s left)  step 2/3  sent 2000/s  results 1851/s  backlog 1,204  workers 3→5
func (p Progress) String() string {
	var b strings.Builder
	left := max(p.Total-p.Elapsed, 0)
	fmt.Fprintf(&b, "%5.1fs/%.1fs (%.1fs left)", p.Elapsed.Seconds(), p.Total.Seconds(), left.Seconds())
	if p.Steps > 0 {
		fmt.Fprintf(&b, "  step %d/%d", p.Step, p.Steps)
	}
	fmt.Fprintf(&b, "  sent %5.0f/s  results %5.0f/s", p.SendRate, p.ResultRate)
	if !p.HaveStatus {
		b.WriteString("  backlog -  workers -")
		return b.String()
	}
	fmt.Fprintf(&b, "  backlog %s  workers %d", count(int64(p.Backlog)), p.Workers)
	if p.Desired != p.Workers {
		// The arrow shows a scaling decision still being carried out.
		fmt.Fprintf(&b, "→%d", p.Desired)
	}
	return b.String()
}

// Meter turns a growing total into a rate over the time between readings. It is safe for concurrent use.
type Meter struct {
	mu    sync.Mutex
	now   func() time.Time
	last  time.Time
	total int64
}

// NewMeter returns a meter whose first interval starts now; now nil means time.Now.
func NewMeter(now func() time.Time) *Meter {
	if now == nil {
		now = time.Now
	}
	return &Meter{now: now, last: now()}
}

// Rate returns the events per second since the previous reading, given the total so far, and starts a new
// interval. A reading at the same instant as the previous one returns zero.
func (m *Meter) Rate(total int64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.now()
	dt := t.Sub(m.last).Seconds()
	delta := total - m.total
	m.last, m.total = t, total
	if dt <= 0 {
		return 0
	}
	return float64(delta) / dt
}
