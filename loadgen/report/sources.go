package report

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/warren-mq/warren/loadgen/timeseries"
)

// SourceReport is one source's share of a multi-source run.
type SourceReport struct {
	// Name and Key are the source's, as given to NewRecorder.
	Name, Key string
	// Start is the source's first send; Duration runs from there to its last send or the last first result of
	// one of its ids, whichever is later.
	Start    time.Time
	Duration time.Duration
	// Counts are the source's ids only; Stray is always zero, since a stray result belongs to no source.
	Counts
	// Lost counts the source's confirmed ids with neither a result nor a dead letter at the end of the drain.
	Lost int64
	// Throughput is the source's delivered events per second over Duration.
	Throughput float64
	// Latency summarises the time from each of the source's sends to its first result.
	Latency Latency
}

// MarshalJSON writes the source's report with durations in seconds and milliseconds, as Report does.
func (s SourceReport) MarshalJSON() ([]byte, error) {
	type counts Counts
	return json.Marshal(struct {
		Name     string    `json:"name"`
		Key      string    `json:"key"`
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration_s"`
		counts
		Lost       int64   `json:"lost"`
		Throughput float64 `json:"throughput_per_s"`
		Latency    Latency `json:"latency"`
	}{s.Name, s.Key, s.Start, s.Duration.Seconds(), counts(s.Counts), s.Lost, s.Throughput, s.Latency})
}

// Fairness compares what the sources of a run got while all of them were sending: over a whole run with a
// drain every source gets everything eventually, so only this contention window tells a fair dispatch from
// an unfair one.
type Fairness struct {
	// Index is Jain's fairness index over the sources' Throughput in the window (see Jain): 1 when every
	// source got the same, 1/n when one of n got everything. Defined is false, and Index zero, when no
	// source got anything in the window.
	Index   float64
	Defined bool
	// WindowStart and WindowEnd bound the contention window: from the latest first send of a source to the
	// earliest last send.
	WindowStart, WindowEnd time.Time
	// Sources are the sources that sent anything, in the report's order, with their traffic in the window.
	Sources []FairShare
}

// Window returns the contention window's length.
func (f Fairness) Window() time.Duration { return f.WindowEnd.Sub(f.WindowStart) }

// MarshalJSON writes the index as null when it is not defined, and the window's length in seconds.
func (f Fairness) MarshalJSON() ([]byte, error) {
	var index *float64
	if f.Defined {
		index = &f.Index
	}
	return json.Marshal(struct {
		Index       *float64    `json:"jain_index"`
		WindowStart time.Time   `json:"window_start"`
		WindowEnd   time.Time   `json:"window_end"`
		Window      float64     `json:"window_s"`
		Sources     []FairShare `json:"sources"`
	}{index, f.WindowStart, f.WindowEnd, f.Window().Seconds(), f.Sources})
}

// FairShare is one source's traffic in the contention window.
type FairShare struct {
	// Name is the source's.
	Name string `json:"name"`
	// Sent counts the source's ids sent in the window, Delivered those whose first result arrived in it
	// (wherever they were sent).
	Sent      int64 `json:"sent"`
	Delivered int64 `json:"delivered"`
	// SendRate and Throughput are Sent and Delivered per second of the window.
	SendRate   float64 `json:"send_rate_per_s"`
	Throughput float64 `json:"throughput_per_s"`
	// Share is Throughput ÷ SendRate, the source's throughput normalised by its own demand: 1 when it got
	// as much as it asked for, which is what fairness means when demands differ. It can exceed 1 while a
	// backlog from before the window drains; zero when the source sent nothing in the window.
	Share float64 `json:"share"`
}

// Jain returns Jain's fairness index of the allocations x, (Σx)² / (n·Σx²): 1 when all are equal, k/n when
// k of n share everything equally and the rest get nothing, so 1/n when one gets everything. ok is false,
// and the index zero, when it is not defined: no allocations, a negative or non-finite one, or all zero.
func Jain(x []float64) (index float64, ok bool) {
	var sum, squares float64
	for _, v := range x {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false
		}
		sum += v
		squares += v * v
	}
	if len(x) == 0 || squares == 0 {
		return 0, false
	}
	return sum * sum / (float64(len(x)) * squares), true
}

// sourceReports returns the accounts per source; the caller holds the lock.
func (r *Recorder) sourceReports() []SourceReport {
	out := make([]SourceReport, len(r.sources))
	for i := range r.sources {
		a := &r.sources[i]
		s := SourceReport{Name: a.Name, Key: a.Key, Counts: a.counts, Lost: a.counts.Outstanding, Latency: summarize(a.latency)}
		s.Start, s.Duration, s.Throughput = span(a.firstSend, a.lastSend, a.lastResult, a.counts.Delivered)
		out[i] = s
	}
	return out
}

// fairness counts each sending source's sends and first results within the contention window; nil when
// fewer than two sources sent, or they never sent at the same time. The caller holds the lock.
func (r *Recorder) fairness() *Fairness {
	var sending []int
	var start, end int64
	for i, a := range r.sources {
		if a.firstSend == 0 {
			continue
		}
		if len(sending) == 0 {
			start, end = a.firstSend, a.lastSend
		}
		sending = append(sending, i)
		start, end = max(start, a.firstSend), min(end, a.lastSend)
	}
	if len(sending) < 2 || end <= start {
		return nil
	}
	sent := make([]int64, len(r.sources))
	delivered := make([]int64, len(r.sources))
	for _, e := range r.entries {
		if e.sent == 0 || int(e.source) >= len(r.sources) {
			continue
		}
		if e.sent >= start && e.sent <= end {
			sent[e.source]++
		}
		if e.results > 0 && e.result >= start && e.result <= end {
			delivered[e.source]++
		}
	}
	f := &Fairness{WindowStart: time.Unix(0, start).UTC(), WindowEnd: time.Unix(0, end).UTC()}
	window := time.Duration(end - start).Seconds()
	throughputs := make([]float64, 0, len(sending))
	for _, i := range sending {
		fs := FairShare{Name: r.sources[i].Name, Sent: sent[i], Delivered: delivered[i],
			SendRate: float64(sent[i]) / window, Throughput: float64(delivered[i]) / window}
		if fs.SendRate > 0 {
			fs.Share = fs.Throughput / fs.SendRate
		}
		f.Sources = append(f.Sources, fs)
		throughputs = append(throughputs, fs.Throughput)
	}
	f.Index, f.Defined = Jain(throughputs)
	return f
}

// SourceSeries returns each source's traffic in intervals of step from start: sends by send time, and first
// results with their latencies by receive time, every interval from start to the last with anything in it.
// It returns nil for a recorder without sources, or a step <= 0.
func (r *Recorder) SourceSeries(start time.Time, step time.Duration) []timeseries.SourceSeries {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sources) == 0 || step <= 0 {
		return nil
	}
	type bucket struct {
		sent      int64
		latencies []time.Duration
	}
	buckets := make([][]bucket, len(r.sources))
	at := func(src int, ns int64) *bucket {
		i := int((ns - start.UnixNano()) / int64(step))
		if ns < start.UnixNano() {
			i = 0 // only a clock step puts an event before the run's start
		}
		for len(buckets[src]) <= i {
			buckets[src] = append(buckets[src], bucket{})
		}
		return &buckets[src][i]
	}
	for _, e := range r.entries {
		if e.sent == 0 || int(e.source) >= len(r.sources) {
			continue
		}
		at(int(e.source), e.sent).sent++
		if e.results > 0 {
			b := at(int(e.source), e.result)
			b.latencies = append(b.latencies, time.Duration(max(e.result-e.sent, 0)))
		}
	}
	out := make([]timeseries.SourceSeries, len(r.sources))
	for src, bs := range buckets {
		out[src].Source = r.sources[src].Name
		for i, b := range bs {
			p := timeseries.SourcePoint{T: start.Add(time.Duration(i) * step), Sent: b.sent, Results: int64(len(b.latencies))}
			if len(b.latencies) > 0 {
				slices.Sort(b.latencies)
				p.P50, p.P99, p.Max = rank(b.latencies, 50), rank(b.latencies, 99), b.latencies[len(b.latencies)-1]
			}
			out[src].Points = append(out[src].Points, p)
		}
	}
	return out
}

// rank returns the nearest-rank p-th percentile of sorted, which is not empty.
func rank(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// writeSources adds the per-source table and the fairness to a text report.
func (r Report) writeSources(b *strings.Builder) {
	b.WriteString("\nper source\n")
	rows := [][]string{{"source", "key", "sent", "confirmed", "delivered", "lost", "duplicates", "dead-lettered",
		"throughput", "p50", "p99", "max"}}
	for _, s := range r.Sources {
		key := s.Key
		if key == "" {
			key = "-"
		}
		rows = append(rows, []string{s.Name, ellipsis(key, 24), count(s.Sent), count(s.Confirmed), count(s.Delivered),
			count(s.Lost), count(s.Duplicates), count(s.DeadLettered), fmt.Sprintf("%.1f /s", s.Throughput),
			dur(s.Latency.P50), dur(s.Latency.P99), dur(s.Latency.Max)})
	}
	table(b, rows, 2)

	f := r.Fairness
	if f == nil {
		if len(r.Sources) > 1 {
			b.WriteString("\nfairness: not computed, fewer than two sources sent at the same time\n")
		}
		return
	}
	from, to := f.WindowStart.Sub(r.Start), f.WindowEnd.Sub(r.Start)
	fmt.Fprintf(b, "\nfairness while every source sent, %.1f s to %.1f s of the run (%.1f s)\n",
		from.Seconds(), to.Seconds(), f.Window().Seconds())
	rows = [][]string{{"source", "sent/s", "results/s", "share of demand"}}
	for _, s := range f.Sources {
		rows = append(rows, []string{s.Name, fmt.Sprintf("%.1f", s.SendRate), fmt.Sprintf("%.1f", s.Throughput),
			fmt.Sprintf("%.1f %%", 100*s.Share)})
	}
	table(b, rows, 1)
	if !f.Defined {
		b.WriteString("  Jain's index over results/s: undefined, no source got a result in the window\n")
		return
	}
	fmt.Fprintf(b, "  Jain's index over results/s: %.3f (1 = equal throughput, %.3f = one source got everything)\n",
		f.Index, 1/float64(len(f.Sources)))
}

// table writes rows as aligned columns, indented by two spaces: the first left columns left-aligned, the
// others, numbers, right-aligned so their digits line up.
func table(b *strings.Builder, rows [][]string, left int) {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			line.WriteString("  ")
			if i < left {
				line.WriteString(cell + pad)
			} else {
				line.WriteString(pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// ellipsis shortens s to at most n runes.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
