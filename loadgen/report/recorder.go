// Package report keeps loadgen's accounts — what was sent, confirmed, answered, dead-lettered — and renders
// the final report and the live progress line.
//
// The Recorder keeps one small entry per event id, because loss and duplicates can only be told apart per
// id, and folds latencies into a fixed-size histogram, so memory grows with the number of events (about
// 100 bytes each with a UUID id) but not with the number of latency samples. A recorder of a multi-source
// run also keeps each entry's source, and the same accounts per source.
package report

import (
	"math"
	"sync"
	"time"

	"github.com/warren-mq/warren/loadgen/histogram"
)

// confirm is the broker's answer to one publish.
type confirm uint8

const (
	unconfirmed confirm = iota
	acked
	nacked
)

// entry is what the recorder knows about one id. Times are Unix nanoseconds, zero meaning "not yet".
type entry struct {
	sent    int64
	result  int64
	results uint32
	// source is the index of the source that sent the id, or noSource; it fits in the padding.
	source  uint16
	confirm confirm
	dead    bool
}

// noSource marks an entry no declared source sent: every entry of a single-source run, and ids sent with a
// source index out of range.
const noSource = math.MaxUint16

// MaxSources bounds the sources a recorder tells apart.
const MaxSources = noSource

// Counts are the running totals of a Recorder.
type Counts struct {
	// Sent is the number of distinct ids sent.
	Sent int64 `json:"sent"`
	// Confirmed and Nacked count the ids the broker acknowledged or refused.
	Confirmed int64 `json:"confirmed"`
	Nacked    int64 `json:"nacked"`
	// Unconfirmed counts sent ids with no confirmation yet.
	Unconfirmed int64 `json:"unconfirmed"`
	// Results counts every result received, duplicates included.
	Results int64 `json:"results"`
	// Delivered counts the sent ids with at least one result.
	Delivered int64 `json:"delivered"`
	// Duplicates counts results beyond the first for the same id.
	Duplicates int64 `json:"duplicates"`
	// DeadLettered counts the distinct ids seen on the dead-letter queue.
	DeadLettered int64 `json:"dead_lettered"`
	// Outstanding counts ids the broker confirmed that have neither a result nor a dead letter yet; once the
	// drain timeout is over, they are lost.
	Outstanding int64 `json:"outstanding"`
	// Stray counts ids with results that this run never sent, e.g. left over from an earlier run.
	Stray int64 `json:"stray"`
}

// tally is an entry's contribution to Counts, so an update can add the new contribution and take away the
// old one instead of walking the whole map.
func (e entry) tally() Counts {
	var c Counts
	sent := e.sent != 0
	if sent {
		c.Sent = 1
		switch e.confirm {
		case acked:
			c.Confirmed = 1
		case nacked:
			c.Nacked = 1
		default:
			c.Unconfirmed = 1
		}
		if e.confirm == acked && e.results == 0 && !e.dead {
			c.Outstanding = 1
		}
	}
	if e.results > 0 {
		c.Results = int64(e.results)
		c.Duplicates = int64(e.results - 1)
		if sent {
			c.Delivered = 1
		} else {
			c.Stray = 1
		}
	}
	if e.dead {
		c.DeadLettered = 1
	}
	return c
}

func (c *Counts) add(o Counts, sign int64) {
	c.Sent += sign * o.Sent
	c.Confirmed += sign * o.Confirmed
	c.Nacked += sign * o.Nacked
	c.Unconfirmed += sign * o.Unconfirmed
	c.Results += sign * o.Results
	c.Delivered += sign * o.Delivered
	c.Duplicates += sign * o.Duplicates
	c.DeadLettered += sign * o.DeadLettered
	c.Outstanding += sign * o.Outstanding
	c.Stray += sign * o.Stray
}

// Source names one source of a multi-source run for the recorder.
type Source struct {
	// Name labels the source; Key is its fairness key, empty for none.
	Name, Key string
}

// sourceAccount is one source's share of the accounts.
type sourceAccount struct {
	Source
	counts  Counts
	latency *histogram.Histogram
	// firstSend, lastSend and lastResult bound the source's traffic, in Unix nanoseconds.
	firstSend, lastSend, lastResult int64
}

// Recorder accounts for one run. It is safe for concurrent use: publishers record sends and confirms while
// a reader records results and dead letters.
type Recorder struct {
	mu      sync.Mutex
	entries map[string]entry
	counts  Counts
	latency histogram.Histogram
	// firstSend and lastResult bound the run for throughput.
	firstSend, lastSend, lastResult int64
	// sources are the accounts per source of a multi-source run, nil otherwise.
	sources []sourceAccount
}

// NewRecorder returns an empty recorder. Without sources it accounts for a single-source run; with them
// (at most MaxSources), its report also has an account per source, in the order given, and the fairness
// across them. SentFrom names the source of each send by its index here. Each source costs a latency
// histogram of its own, about 440 KB.
func NewRecorder(sources ...Source) *Recorder {
	r := &Recorder{entries: make(map[string]entry)}
	for _, s := range sources[:min(len(sources), MaxSources)] {
		r.sources = append(r.sources, sourceAccount{Source: s, latency: new(histogram.Histogram)})
	}
	return r
}

// account returns the account of e's source, or nil when e has none.
func (r *Recorder) account(e entry) *sourceAccount {
	if e.sent == 0 || int(e.source) >= len(r.sources) {
		return nil
	}
	return &r.sources[e.source]
}

// update applies f to id's entry under the lock and keeps the totals in step.
func (r *Recorder) update(id string, f func(*entry)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[id]
	if !ok {
		e.source = noSource
	}
	before := e
	f(&e)
	r.entries[id] = e
	r.counts.add(before.tally(), -1)
	r.counts.add(e.tally(), +1)
	// A source's accounts follow its sent entries only: a result for an id not (yet) sent is nobody's.
	if a := r.account(before); a != nil {
		a.counts.add(before.tally(), -1)
	}
	a := r.account(e)
	if a != nil {
		a.counts.add(e.tally(), +1)
		if e.result != 0 {
			a.lastResult = max(a.lastResult, e.result)
		}
	}
	// A latency is known once both ends are, whichever came first: a fast result can beat the publisher's
	// own bookkeeping of the send.
	if (before.sent == 0 || before.result == 0) && e.sent != 0 && e.result != 0 {
		d := time.Duration(e.result - e.sent)
		r.latency.Record(d)
		if a != nil {
			a.latency.Record(d)
		}
	}
}

// Sent records that id was published at at. Record it before publishing, so a fast result finds it; a
// second send of the same id keeps the first time.
func (r *Recorder) Sent(id string, at time.Time) { r.SentFrom(id, noSource, at) }

// SentFrom records that source (an index into NewRecorder's sources) published id at at, as Sent does; the
// id's results, dead letter or loss count for that source too. A source out of range counts for none.
func (r *Recorder) SentFrom(id string, source int, at time.Time) {
	ns := at.UnixNano()
	r.update(id, func(e *entry) {
		if r.firstSend == 0 || ns < r.firstSend {
			r.firstSend = ns
		}
		r.lastSend = max(r.lastSend, ns)
		if e.sent != 0 {
			return
		}
		e.sent = ns
		if source >= 0 && source < len(r.sources) {
			e.source = uint16(source)
			a := &r.sources[source]
			if a.firstSend == 0 || ns < a.firstSend {
				a.firstSend = ns
			}
			a.lastSend = max(a.lastSend, ns)
		}
	})
}

// Confirmed records the broker's publisher confirm for id: ok for an ack, false for a nack. The last
// answer wins.
func (r *Recorder) Confirmed(id string, ok bool) {
	r.update(id, func(e *entry) {
		if ok {
			e.confirm = acked
		} else {
			e.confirm = nacked
		}
	})
}

// Result records a result for id received at at. Latency is measured from the send to the first result;
// later ones count as duplicates.
func (r *Recorder) Result(id string, at time.Time) {
	ns := at.UnixNano()
	r.update(id, func(e *entry) {
		if e.results == 0 {
			e.result = ns
		}
		e.results++
		r.lastResult = max(r.lastResult, ns)
	})
}

// Redelivered records a result the broker delivered again (its redelivered flag set), for example after the
// reader's connection dropped before it acknowledged. That is the same result read twice, not a second
// result, so it counts only when id has no result yet.
func (r *Recorder) Redelivered(id string, at time.Time) {
	ns := at.UnixNano()
	r.update(id, func(e *entry) {
		if e.results > 0 {
			return
		}
		e.result = ns
		e.results = 1
		r.lastResult = max(r.lastResult, ns)
	})
}

// Stray records a result whose id this run did not send, e.g. one an earlier run left in the shared results
// queue. It counts in Counts.Stray only, not in Results, and keeps no entry, so a queue full of old results
// costs no memory.
func (r *Recorder) Stray() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts.Stray++
}

// DeadLettered records that id reached the dead-letter queue.
func (r *Recorder) DeadLettered(id string) {
	r.update(id, func(e *entry) { e.dead = true })
}

// Counts returns the running totals.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// Outstanding returns how many confirmed ids still wait for a result or a dead letter; a run drains until it
// reaches zero or the drain timeout passes.
func (r *Recorder) Outstanding() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts.Outstanding
}

// Report returns the final accounts, with every id still outstanding counted as lost: call it once the
// drain is over. scenario names the run in the report. A recorder with sources adds an account per source
// and, when two or more of them sent at the same time, the fairness across them.
func (r *Recorder) Report(scenario string) Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{
		Scenario: scenario,
		Counts:   r.counts,
		Lost:     r.counts.Outstanding,
		Latency:  summarize(&r.latency),
	}
	rep.Start, rep.Duration, rep.Throughput = span(r.firstSend, r.lastSend, r.lastResult, rep.Delivered)
	if len(r.sources) > 0 {
		rep.Sources = r.sourceReports()
		rep.Fairness = r.fairness()
	}
	return rep
}

// summarize reads a latency histogram's figures.
func summarize(h *histogram.Histogram) Latency {
	return Latency{
		Count: int64(h.Count()),
		Min:   h.Min(),
		Mean:  h.Mean(),
		P50:   h.Percentile(50),
		P90:   h.Percentile(90),
		P99:   h.Percentile(99),
		Max:   h.Max(),
	}
}

// span turns Unix-nanosecond bounds into a start, the time from there to the last send or result, whichever
// is later, and the delivered events per second over that time.
func span(firstSend, lastSend, lastResult, delivered int64) (start time.Time, d time.Duration, throughput float64) {
	if firstSend == 0 {
		return time.Time{}, 0, 0
	}
	start = time.Unix(0, firstSend).UTC()
	d = time.Duration(max(lastResult, lastSend) - firstSend)
	if d > 0 {
		throughput = float64(delivered) / d.Seconds()
	}
	return start, d, throughput
}
