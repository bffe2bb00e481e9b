package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Latency summarises end-to-end latency, from a send to its first result.
type Latency struct {
	// Count is the number of events with both a send and a result.
	Count int64
	// Min, Mean and Max are exact; the percentiles are within histogram.RelativeError.
	Min, Mean, P50, P90, P99, Max time.Duration
}

// MarshalJSON writes durations as milliseconds, which every JSON reader can use, instead of Go's nanosecond
// integers.
func (l Latency) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Count int64   `json:"count"`
		Min   float64 `json:"min_ms"`
		Mean  float64 `json:"mean_ms"`
		P50   float64 `json:"p50_ms"`
		P90   float64 `json:"p90_ms"`
		P99   float64 `json:"p99_ms"`
		Max   float64 `json:"max_ms"`
	}{l.Count, ms(l.Min), ms(l.Mean), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max)})
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// Report is the outcome of one run.
type Report struct {
	// Scenario names the run.
	Scenario string
	// Start is the first send; Duration runs from there to the last send or result, whichever is later.
	Start    time.Time
	Duration time.Duration
	Counts
	// Lost counts the ids confirmed by the broker that got neither a result nor a dead letter by the end of
	// the drain.
	Lost int64
	// Throughput is the delivered events per second over Duration.
	Throughput float64
	// Latency summarises the time from each send to its first result.
	Latency Latency
	// Sources are the accounts per source of a multi-source run, in the scenario's order; nil for a
	// single-source run.
	Sources []SourceReport
	// Fairness compares the sources while they all sent; nil unless two or more sources sent at the same
	// time.
	Fairness *Fairness
}

// Source returns the account of the source called name.
func (r Report) Source(name string) (SourceReport, bool) {
	for _, s := range r.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return SourceReport{}, false
}

// MarshalJSON writes the report with durations in seconds and milliseconds.
func (r Report) MarshalJSON() ([]byte, error) {
	type counts Counts
	return json.Marshal(struct {
		Scenario string    `json:"scenario"`
		Start    time.Time `json:"start"`
		Duration float64   `json:"duration_s"`
		counts
		Lost       int64          `json:"lost"`
		Throughput float64        `json:"throughput_per_s"`
		Latency    Latency        `json:"latency"`
		Sources    []SourceReport `json:"sources,omitempty"`
		Fairness   *Fairness      `json:"fairness,omitempty"`
	}{r.Scenario, r.Start, r.Duration.Seconds(), counts(r.Counts), r.Lost, r.Throughput, r.Latency, r.Sources, r.Fairness})
}

// WriteJSON writes the report as indented JSON followed by a newline.
func (r Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes the report as an aligned table for a terminal.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	title := "Warren load report"
	if r.Scenario != "" {
		title += ": " + r.Scenario
	}
	fmt.Fprintf(&b, "%s\n%s\n", title, strings.Repeat("=", len([]rune(title))))
	// Labels read left-aligned, numbers right-aligned so their digits line up, notes left-aligned after them;
	// tabwriter aligns every column the same way, so the rows are padded by hand.
	type line struct{ label, value, note string }
	var rows []line
	row := func(label, value, note string) { rows = append(rows, line{label, value, note}) }
	start := "-"
	if !r.Start.IsZero() {
		start = r.Start.Format(time.RFC3339)
	}
	row("run", fmt.Sprintf("%.1f s", r.Duration.Seconds()), "from "+start)
	row("sent", count(r.Sent), "")
	row("confirmed", count(r.Confirmed), "broker acks")
	row("nacked", count(r.Nacked), "broker refused")
	row("unconfirmed", count(r.Unconfirmed), "no confirm")
	row("results", count(r.Results), "all received")
	row("delivered", count(r.Delivered), "ids with a result")
	row("duplicates", count(r.Duplicates), "extra results")
	row("dead-lettered", count(r.DeadLettered), "")
	row("lost", count(r.Lost), "confirmed, no result, not dead-lettered")
	if r.Stray > 0 {
		row("stray", count(r.Stray), "results for ids not sent in this run")
	}
	row("throughput", fmt.Sprintf("%.1f /s", r.Throughput), "delivered per second")
	lw, vw := 0, 0
	for _, l := range rows {
		lw = max(lw, len(l.label))
		vw = max(vw, len(l.value))
	}
	for _, l := range rows {
		b.WriteString(strings.TrimRight(fmt.Sprintf("  %-*s  %*s  %s", lw, l.label, vw, l.value, l.note), " ") + "\n")
	}

	fmt.Fprintf(&b, "\nlatency, send to result (%s samples)\n", count(r.Latency.Count))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "min\tp50\tp90\tp99\tmax\tmean\t")
	l := r.Latency
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", dur(l.Min), dur(l.P50), dur(l.P90), dur(l.P99), dur(l.Max), dur(l.Mean))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if len(r.Sources) > 0 {
		r.writeSources(&b)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// Text returns the report as WriteText renders it.
func (r Report) Text() string {
	var b strings.Builder
	_ = r.WriteText(&b) // a strings.Builder does not fail
	return b.String()
}

// count writes n with thin thousands separators, since a run sends tens of thousands of events.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dur writes a latency with units a person reads at a glance: µs, ms or s with three significant digits.
func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}
