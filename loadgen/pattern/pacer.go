package pattern

import (
	"context"
	"time"
)

// SleepFunc waits for d or until ctx is done, and reports whether the full wait happened. Pacer takes one so
// tests can run a long schedule on a fake clock in no time.
type SleepFunc func(ctx context.Context, d time.Duration) bool

// Sleep is the real SleepFunc, on a timer.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Pacer releases a schedule's sends on time. Each Wait sleeps until the next scheduled time and then reports
// every send that is due, so a publisher that fell behind catches up in one batch instead of sliding every
// later send; the total sent is the schedule's count however late the sends are. A Pacer is not safe for
// concurrent use: each publisher owns its own.
type Pacer struct {
	sched Schedule
	start time.Time
	now   func() time.Time
	sleep SleepFunc
	// next is the peeked send time that has not been released yet.
	next    time.Duration
	hasNext bool
	done    bool
	sent    int64
}

// NewPacer returns a pacer that releases sched's sends, its offsets counted from start. now and sleep are
// the clock; nil means time.Now and Sleep.
func NewPacer(sched Schedule, start time.Time, now func() time.Time, sleep SleepFunc) *Pacer {
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = Sleep
	}
	p := &Pacer{sched: sched, start: start, now: now, sleep: sleep}
	p.next, p.hasNext = sched.Next()
	p.done = !p.hasNext
	return p
}

// Wait blocks until at least one send is due and returns how many are due now (at least 1). It returns 0 and
// false when the schedule is over or ctx is done. maxBatch > 0 caps one batch, so a publisher far behind still
// comes back between sends; the rest stay due for the next call.
func (p *Pacer) Wait(ctx context.Context, maxBatch int) (int, bool) {
	for !p.done {
		if ctx.Err() != nil {
			return 0, false
		}
		elapsed := p.now().Sub(p.start)
		if p.next > elapsed {
			if !p.sleep(ctx, p.next-elapsed) {
				return 0, false
			}
			// Re-read the clock rather than trusting the sleep: a timer may fire late, a fake one early.
			continue
		}
		n := 0
		for p.hasNext && p.next <= elapsed && (maxBatch <= 0 || n < maxBatch) {
			n++
			p.next, p.hasNext = p.sched.Next()
		}
		p.done = !p.hasNext
		p.sent += int64(n)
		return n, true
	}
	return 0, false
}

// Released returns how many sends Wait has released so far.
func (p *Pacer) Released() int64 { return p.sent }

// Behind returns how far the clock is past the oldest send not yet released, or zero if none is overdue;
// a publisher can report it as lag.
func (p *Pacer) Behind() time.Duration {
	if p.done {
		return 0
	}
	if lag := p.now().Sub(p.start) - p.next; lag > 0 {
		return lag
	}
	return 0
}
