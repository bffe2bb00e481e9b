package simulate

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ReadTrace reads a trace in either of two CSV formats, told apart by the first line:
//
//   - Plain: rows of "seconds,rate", optionally under a header line such as "seconds,rate". A row sets the
//     arrival rate (events per second) from its second until the next row's. The last row ends the trace: its
//     second is the end, and its rate must be 0 (it would apply to nothing). Seconds must strictly increase and
//     may be fractional; the rate is zero before the first row. Blank lines and lines starting with # are
//     skipped.
//   - loadgen's timeseries.csv (its header has elapsed_s and sent_rate): each row's sent_rate is the rate over the
//     interval that ends at its elapsed_s and starts at the previous row's (zero for the first row), which is how
//     loadgen measures it; the trace ends at the last row. Only the rows of one pool count: pool, or when pool
//     is empty the pool of the first row.
//
// name labels errors, which name the line: "name:7: ...". A trace without data is an error.
func ReadTrace(r io.Reader, name, pool string) (Trace, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	first, line, err := readRecord(cr, name)
	if errors.Is(err, io.EOF) {
		return Trace{}, fmt.Errorf("%s: empty trace", name)
	}
	if err != nil {
		return Trace{}, err
	}
	tr := Trace{Name: name}
	if slices.Contains(first, "elapsed_s") && slices.Contains(first, "sent_rate") {
		tr.Segments, tr.End, err = readLoadgen(cr, name, first, pool)
	} else {
		tr.Segments, tr.End, err = readPlain(cr, name, first, line)
	}
	if err != nil {
		return Trace{}, err
	}
	if err := tr.Validate(); err != nil {
		return Trace{}, err
	}
	return tr, nil
}

// LoadTrace reads the trace file at path (see ReadTrace).
func LoadTrace(path, pool string) (Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return Trace{}, fmt.Errorf("trace: %w", err)
	}
	defer f.Close()
	return ReadTrace(f, path, pool)
}

// readRecord returns the next record and its line, with CSV syntax errors named by file and line.
func readRecord(cr *csv.Reader, name string) ([]string, int, error) {
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, pe.Line, fmt.Errorf("%s:%d: %w", name, pe.Line, pe.Err)
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF
		}
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	line, _ := cr.FieldPos(0)
	return rec, line, nil
}

// readPlain reads "seconds,rate" rows; first (at line) is the first record, a header or already a row.
func readPlain(cr *csv.Reader, name string, first []string, line int) ([]Segment, time.Duration, error) {
	var segs []Segment
	var lastRate float64
	var lastLine int
	rec := first
	if _, err := strconv.ParseFloat(strings.TrimSpace(first[0]), 64); err != nil && len(first) == 2 {
		rec = nil // a header
	}
	for {
		if rec != nil {
			at, rate, err := plainRow(rec)
			if err != nil {
				return nil, 0, fmt.Errorf("%s:%d: %w", name, line, err)
			}
			if n := len(segs); n > 0 && at <= segs[n-1].Start {
				return nil, 0, fmt.Errorf("%s:%d: second %v is not after the previous row's %v", name, line,
					at.Seconds(), segs[n-1].Start.Seconds())
			}
			segs = append(segs, Segment{Start: at, Rate: rate})
			lastRate, lastLine = rate, line
		}
		var err error
		rec, line, err = readRecord(cr, name)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if len(segs) < 2 {
		return nil, 0, fmt.Errorf("%s: empty trace: want at least a row that starts it and a row that ends it", name)
	}
	if lastRate != 0 {
		return nil, 0, fmt.Errorf("%s:%d: the last row ends the trace, so its rate must be 0, got %v (add a row \"SECONDS,0\" to end it)",
			name, lastLine, lastRate)
	}
	end := segs[len(segs)-1].Start
	return segs[:len(segs)-1], end, nil
}

func plainRow(rec []string) (time.Duration, float64, error) {
	if len(rec) != 2 {
		return 0, 0, fmt.Errorf("want 2 fields (seconds,rate), got %d", len(rec))
	}
	at, err := seconds(rec[0])
	if err != nil {
		return 0, 0, err
	}
	rate, err := rateField(rec[1])
	return at, rate, err
}

// seconds parses a non-negative, finite number of seconds.
func seconds(s string) (time.Duration, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v >= 0) || v > 1e9 {
		return 0, fmt.Errorf("seconds %q: want a non-negative number", s)
	}
	return time.Duration(math.Round(v * float64(time.Second))), nil
}

// rateField parses a non-negative, finite rate in events per second.
func rateField(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("rate %q: want a non-negative number of events per second", s)
	}
	return v, nil
}

// readLoadgen reads the rows of loadgen's timeseries.csv under header head.
func readLoadgen(cr *csv.Reader, name string, head []string, pool string) ([]Segment, time.Duration, error) {
	col := func(c string) int { return slices.Index(head, c) }
	iElapsed, iRate, iPool := col("elapsed_s"), col("sent_rate"), col("pool")
	var segs []Segment
	var end time.Duration
	for {
		rec, line, err := readRecord(cr, name)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if len(rec) != len(head) {
			return nil, 0, fmt.Errorf("%s:%d: want %d fields like the header, got %d", name, line, len(head), len(rec))
		}
		if iPool >= 0 {
			if pool == "" {
				pool = rec[iPool]
			}
			if rec[iPool] != pool {
				continue
			}
		}
		at, err := seconds(rec[iElapsed])
		if err != nil {
			return nil, 0, fmt.Errorf("%s:%d: elapsed_s: %w", name, line, err)
		}
		rate, err := rateField(rec[iRate])
		if err != nil {
			return nil, 0, fmt.Errorf("%s:%d: sent_rate: %w", name, line, err)
		}
		if at <= end {
			return nil, 0, fmt.Errorf("%s:%d: elapsed_s %v is not after the previous row's %v", name, line, at.Seconds(), end.Seconds())
		}
		// The row's rate was measured over the interval ending at its elapsed_s.
		segs = append(segs, Segment{Start: end, Rate: rate})
		end = at
	}
	if len(segs) == 0 {
		if pool != "" {
			return nil, 0, fmt.Errorf("%s: empty trace: no rows for pool %q", name, pool)
		}
		return nil, 0, fmt.Errorf("%s: empty trace", name)
	}
	return mergeSegments(segs), end, nil
}

// mergeSegments joins neighbours with the same rate, so a steady run is one segment.
func mergeSegments(segs []Segment) []Segment {
	out := segs[:1]
	for _, s := range segs[1:] {
		if s.Rate != out[len(out)-1].Rate {
			out = append(out, s)
		}
	}
	return out
}
