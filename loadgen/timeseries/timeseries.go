// Package timeseries records how a run unfolds — the arrival rate the master sees, its backlog, its worker
// counts and decisions, and loadgen's own send and result rates — and writes it as CSV and as a plot.
package timeseries

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
)

// Sample is one observation of one pool, typically one per master evaluation.
type Sample struct {
	// T is when the sample was taken.
	T time.Time
	// Pool names the worker pool.
	Pool string
	// Lambda is the arrival rate the master estimates, in events per second.
	Lambda float64
	// Backlog is the events waiting: ready in the queue plus held by workers.
	Backlog int
	// Workers is the current worker count and Desired the master's target.
	Workers int
	Desired int
	// Capacity is the master's estimate of one worker's events per second.
	Capacity float64
	// Reason is the master's explanation of its decision.
	Reason string
	// SentRate and ResultRate are loadgen's own send and result rates, in events per second.
	SentRate   float64
	ResultRate float64
}

// Recorder collects samples during a run. It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	start   time.Time
	samples []Sample
}

// NewRecorder returns an empty recorder for a run that started at start; CSV and plots count time from it.
func NewRecorder(start time.Time) *Recorder {
	return &Recorder{start: start}
}

// Start returns the run's start.
func (r *Recorder) Start() time.Time { return r.start }

// Add appends a sample.
func (r *Recorder) Add(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, s)
}

// Samples returns a copy of the samples so far, in the order they were added.
func (r *Recorder) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Sample(nil), r.samples...)
}

// WriteCSV writes the samples so far as CSV; see WriteCSV.
func (r *Recorder) WriteCSV(w io.Writer) error {
	return WriteCSV(w, r.start, r.Samples())
}

// Header is the CSV header row. elapsed_s is seconds since the run start, for spreadsheets that cannot
// subtract timestamps.
var Header = []string{
	"t", "elapsed_s", "pool", "lambda", "backlog", "workers", "desired", "capacity", "reason",
	"sent_rate", "result_rate",
}

// WriteCSV writes a header row and one row per sample, t in RFC 3339 with nanoseconds.
func WriteCSV(w io.Writer, start time.Time, samples []Sample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("write CSV header: %w", err)
	}
	for i, s := range samples {
		row := []string{
			s.T.UTC().Format(time.RFC3339Nano),
			num(s.T.Sub(start).Seconds()),
			s.Pool,
			num(s.Lambda),
			strconv.Itoa(s.Backlog),
			strconv.Itoa(s.Workers),
			strconv.Itoa(s.Desired),
			num(s.Capacity),
			s.Reason,
			num(s.SentRate),
			num(s.ResultRate),
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write CSV row %d: %w", i+1, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// num writes a float with at most three decimals: enough for rates, short enough to read.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// ReadCSV reads samples written by WriteCSV, so a run can be plotted again later.
func ReadCSV(r io.Reader) ([]Sample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(Header)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	for i, h := range Header {
		if head[i] != h {
			return nil, fmt.Errorf("read CSV header: column %d is %q, want %q", i+1, head[i], h)
		}
	}
	var out []Sample
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read CSV: %w", err)
		}
		s, err := parseRow(rec)
		if err != nil {
			return nil, fmt.Errorf("read CSV line %d: %w", line, err)
		}
		out = append(out, s)
	}
}

func parseRow(rec []string) (Sample, error) {
	var s Sample
	var err error
	if s.T, err = time.Parse(time.RFC3339Nano, rec[0]); err != nil {
		return s, fmt.Errorf("t: %w", err)
	}
	s.Pool, s.Reason = rec[2], rec[8]
	floats := []struct {
		col int
		dst *float64
	}{{3, &s.Lambda}, {7, &s.Capacity}, {9, &s.SentRate}, {10, &s.ResultRate}}
	for _, f := range floats {
		if *f.dst, err = strconv.ParseFloat(rec[f.col], 64); err != nil {
			return s, fmt.Errorf("%s: %w", Header[f.col], err)
		}
	}
	ints := []struct {
		col int
		dst *int
	}{{4, &s.Backlog}, {5, &s.Workers}, {6, &s.Desired}}
	for _, f := range ints {
		if *f.dst, err = strconv.Atoi(rec[f.col]); err != nil {
			return s, fmt.Errorf("%s: %w", Header[f.col], err)
		}
	}
	return s, nil
}

// SourcePoint is one source's traffic in one interval of a multi-source run.
type SourcePoint struct {
	// T is the interval's start.
	T time.Time
	// Sent counts the source's events sent in the interval, and Results those whose first result arrived in
	// it.
	Sent, Results int64
	// P50, P99 and Max are the end-to-end latencies of those results, zero when there are none.
	P50, P99, Max time.Duration
}

// SourceSeries is one source's traffic over a run, interval by interval.
type SourceSeries struct {
	// Source names the source.
	Source string
	// Points are the intervals in time order, all of the same length.
	Points []SourcePoint
}

// SourcesHeader is the header row of the per-source CSV.
var SourcesHeader = []string{"t", "elapsed_s", "source", "sent", "results", "p50_ms", "p99_ms", "max_ms"}

// WriteSourcesCSV writes a header row and one row per source and interval, ordered by time and then source,
// with latencies in milliseconds.
func WriteSourcesCSV(w io.Writer, start time.Time, series []SourceSeries) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SourcesHeader); err != nil {
		return fmt.Errorf("write CSV header: %w", err)
	}
	n := 0
	for _, s := range series {
		n = max(n, len(s.Points))
	}
	for i := range n {
		for _, s := range series {
			if i >= len(s.Points) {
				continue
			}
			p := s.Points[i]
			row := []string{
				p.T.UTC().Format(time.RFC3339Nano),
				num(p.T.Sub(start).Seconds()),
				s.Source,
				strconv.FormatInt(p.Sent, 10),
				strconv.FormatInt(p.Results, 10),
				num(msOf(p.P50)),
				num(msOf(p.P99)),
				num(msOf(p.Max)),
			}
			if err := cw.Write(row); err != nil {
				return fmt.Errorf("write CSV row: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
