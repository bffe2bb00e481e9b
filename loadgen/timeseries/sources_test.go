package timeseries

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// noisyNeighbour simulates two sources over 40 s: A floods for 30 s and its latency climbs while its backlog
// grows, then drains; B's latency stays low throughout, with an empty second where nothing came back.
func noisyNeighbour() []SourceSeries {
	var a, b SourceSeries
	a.Source, b.Source = "A", "B"
	for i := range 40 {
		at := t0.Add(time.Duration(i) * time.Second)
		pa := SourcePoint{T: at, Results: 1000, P50: time.Duration(i+1) * 100 * time.Millisecond}
		if i < 30 {
			pa.Sent = 5000
		}
		pa.P99, pa.Max = pa.P50*11/10, pa.P50*12/10
		a.Points = append(a.Points, pa)
		pb := SourcePoint{T: at, Sent: 100, Results: 100, P50: 3 * time.Millisecond, P99: 8 * time.Millisecond, Max: 12 * time.Millisecond}
		if i == 12 {
			pb.Results, pb.P50, pb.P99, pb.Max = 0, 0, 0, 0
		}
		if i >= 30 {
			pb.Sent = 0
		}
		b.Points = append(b.Points, pb)
	}
	return []SourceSeries{a, b}
}

func TestSourcesCSV(t *testing.T) {
	series := noisyNeighbour()
	series[1].Points = series[1].Points[:2] // B's series may end before A's
	var buf bytes.Buffer
	if err := WriteSourcesCSV(&buf, t0, series); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+40+2 {
		t.Fatalf("%d rows, want a header and 42", len(rows))
	}
	for i, h := range SourcesHeader {
		if rows[0][i] != h {
			t.Errorf("header column %d = %q, want %q", i+1, rows[0][i], h)
		}
	}
	want := [][]string{
		{"2025-03-01T12:00:00Z", "0", "A", "5000", "1000", "100", "110", "120"},
		{"2025-03-01T12:00:00Z", "0", "B", "100", "100", "3", "8", "12"},
		{"2025-03-01T12:00:01Z", "1", "A", "5000", "1000", "200", "220", "240"},
		{"2025-03-01T12:00:01Z", "1", "B", "100", "100", "3", "8", "12"},
		{"2025-03-01T12:00:02Z", "2", "A", "5000", "1000", "300", "330", "360"},
	}
	for i, w := range want {
		for j := range w {
			if rows[i+1][j] != w[j] {
				t.Errorf("row %d = %v, want %v", i+1, rows[i+1], w)
				break
			}
		}
	}
}

func TestPlotWithSources(t *testing.T) {
	opts := PlotOptions{Title: "noisy-neighbour (synthetic)", Start: t0, Sources: noisyNeighbour(),
		Marks: []Mark{{0, "A: steady 5000/s, B: steady 100/s"}, {30 * time.Second, "drain"}}}
	var samples []Sample
	for i := range 40 {
		samples = append(samples, Sample{T: t0.Add(time.Duration(i) * time.Second), Pool: "filter", Lambda: 5100,
			Backlog: 4000 * min(i, 30), Workers: 2, Desired: 2, SentRate: 5100, ResultRate: 1100})
	}
	dirs := []string{t.TempDir()}
	// LOADGEN_PLOT_DIR keeps a copy where a person can look at it.
	if d := os.Getenv("LOADGEN_PLOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		for _, name := range []string{"sources.png", "sources.svg"} {
			if err := SavePlot(filepath.Join(dir, name), samples, opts); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, "svg", samples, opts); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"p99 (A)", "p99 (B)", "max (dashed)", "latency (ms)"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("the plot lacks %q", want)
		}
	}
	// One source, or sources with no results at all, add no panel, or one that still draws.
	buf.Reset()
	opts.Sources = opts.Sources[:1]
	if err := WritePlot(&buf, "svg", samples, opts); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("latency (ms")) {
		t.Error("a one-source plot has a latency panel")
	}
	empty := []SourceSeries{{Source: "A", Points: []SourcePoint{{T: t0, Sent: 5}}}, {Source: "B"}}
	if err := WritePlot(&bytes.Buffer{}, "png", samples, PlotOptions{Sources: empty}); err != nil {
		t.Errorf("plotting sources without results: %v", err)
	}
}
