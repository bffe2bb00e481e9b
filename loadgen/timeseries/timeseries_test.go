package timeseries

import (
	"bytes"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// burst simulates the demo-burst scenario as the master would report it: a trickle, a 2000 ev/s burst that
// builds a backlog while the pool scales up, then a quiet tail while it scales back down.
func burst() []Sample {
	var out []Sample
	lambda, backlog, workers, desired := 0.0, 0.0, 1, 1
	pending := []struct {
		at time.Duration
		n  int
	}{}
	const capacity = 400.0
	for i := 0; i <= 90; i++ {
		at := time.Duration(i) * 500 * time.Millisecond
		sec := at.Seconds()
		sent := 50.0
		switch {
		case sec >= 5 && sec < 15:
			sent = 2000
		case sec >= 15:
			sent = 20
		}
		lambda += (sent - lambda) * 0.5
		for len(pending) > 0 && pending[0].at <= at {
			workers = pending[0].n
			pending = pending[1:]
		}
		served := math.Min(backlog+sent*0.5, float64(workers)*capacity*0.5)
		backlog = math.Max(0, backlog+sent*0.5-served)
		reason := "steady"
		want := int(math.Ceil((lambda + backlog/10) / capacity))
		want = max(want, 1)
		if want != desired {
			if want > desired {
				reason = "arrivals above capacity"
			} else {
				reason = "idle capacity"
			}
			desired = want
			// Workers take a second and a half to start or stop.
			pending = append(pending, struct {
				at time.Duration
				n  int
			}{at + 1500*time.Millisecond, want})
		}
		out = append(out, Sample{
			T: t0.Add(at), Pool: "filter", Lambda: lambda, Backlog: int(backlog), Workers: workers,
			Desired: desired, Capacity: capacity, Reason: reason, SentRate: sent, ResultRate: served * 2,
		})
	}
	return out
}

func TestCSVHeaderAndRows(t *testing.T) {
	r := NewRecorder(t0)
	r.Add(Sample{T: t0.Add(1500 * time.Millisecond), Pool: "filter", Lambda: 1234.56789, Backlog: 42, Workers: 2,
		Desired: 3, Capacity: 400, Reason: "backlog, scale up", SentRate: 2000, ResultRate: 812.5})
	r.Add(Sample{T: t0.Add(2 * time.Second), Pool: "filter", Workers: 3, Desired: 3, Reason: "steady"})
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"t", "elapsed_s", "pool", "lambda", "backlog", "workers", "desired", "capacity", "reason", "sent_rate", "result_rate"},
		{"2025-03-01T12:00:01.5Z", "1.5", "filter", "1234.568", "42", "2", "3", "400", "backlog, scale up", "2000", "812.5"},
		{"2025-03-01T12:00:02Z", "2", "filter", "0", "0", "3", "3", "0", "steady", "0", "0"},
	}
	if len(rows) != len(want) {
		t.Fatalf("got %d rows:\n%s", len(rows), buf.String())
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q\n   want %q", i, rows[i], want[i])
		}
	}
	// The comma inside the reason must be quoted, not split into a column.
	if !strings.Contains(buf.String(), `"backlog, scale up"`) {
		t.Errorf("reason not quoted:\n%s", buf.String())
	}
}

func TestCSVRoundTrip(t *testing.T) {
	samples := burst()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, t0, samples); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(samples) {
		t.Fatalf("read %d samples, wrote %d", len(got), len(samples))
	}
	for i := range samples {
		w, g := samples[i], got[i]
		if !g.T.Equal(w.T) || g.Pool != w.Pool || g.Backlog != w.Backlog || g.Workers != w.Workers ||
			g.Desired != w.Desired || g.Reason != w.Reason || math.Abs(g.Lambda-w.Lambda) > 0.001 {
			t.Fatalf("sample %d read back as %+v, wrote %+v", i, g, w)
		}
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", "read CSV header"},
		{"wrong header", strings.Replace(strings.Join(Header, ","), "lambda", "rate", 1) + "\n", `column 4 is "rate", want "lambda"`},
		{"bad number", strings.Join(Header, ",") + "\n2025-03-01T12:00:00Z,0,filter,x,0,0,0,0,,0,0\n", "line 2: lambda"},
		{"bad time", strings.Join(Header, ",") + "\nyesterday,0,filter,1,0,0,0,0,,0,0\n", "line 2: t"},
		{"short row", strings.Join(Header, ",") + "\n1,2,3\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		_, err := ReadCSV(strings.NewReader(tt.src))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

func TestDecisions(t *testing.T) {
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	samples := []Sample{
		{T: at(0), Pool: "filter", Desired: 1},
		{T: at(0), Pool: "broadcaster", Desired: 1},
		{T: at(1), Pool: "filter", Desired: 3, Reason: "burst"},
		{T: at(2), Pool: "filter", Desired: 3},
		{T: at(2), Pool: "broadcaster", Desired: 2},
		{T: at(3), Pool: "filter", Desired: 1, Reason: "quiet"},
	}
	got := Decisions(samples)
	want := []Decision{
		{At: at(1), Pool: "filter", From: 1, To: 3, Reason: "burst"},
		{At: at(2), Pool: "broadcaster", From: 1, To: 2},
		{At: at(3), Pool: "filter", From: 3, To: 1, Reason: "quiet"},
	}
	if len(got) != len(want) {
		t.Fatalf("Decisions = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("decision %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if !got[0].Up() || got[2].Up() {
		t.Error("Up() is wrong")
	}
}

func TestPlotFiles(t *testing.T) {
	samples := burst()
	if n := len(Decisions(samples)); n < 2 {
		t.Fatalf("the synthetic run has %d decisions; the plot test needs ups and downs", n)
	}
	opts := PlotOptions{
		Title: "demo-burst (synthetic)",
		Start: t0,
		Marks: []Mark{{0, "steady 50/s"}, {5 * time.Second, "burst 2×1000/s"}, {15 * time.Second, "quiet 20/s"}},
	}
	dirs := []string{t.TempDir()}
	// LOADGEN_PLOT_DIR keeps a copy where a person can look at it.
	if d := os.Getenv("LOADGEN_PLOT_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	for _, dir := range dirs {
		for _, name := range []string{"run.png", "run.svg"} {
			path := filepath.Join(dir, name)
			if err := SavePlot(path, samples, opts); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) < 10_000 {
				t.Errorf("%s is only %d bytes", name, len(data))
			}
			switch filepath.Ext(name) {
			case ".png":
				if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
					t.Errorf("%s is not a PNG", name)
				}
			case ".svg":
				if !bytes.Contains(data[:min(len(data), 512)], []byte("<svg")) || !bytes.Contains(data, []byte("backlog")) {
					t.Errorf("%s is not an SVG with the panel labels", name)
				}
			}
		}
	}
}

func TestPlotTwoPools(t *testing.T) {
	var samples []Sample
	for i := range 20 {
		at := t0.Add(time.Duration(i) * time.Second)
		samples = append(samples,
			Sample{T: at, Pool: "filter", Lambda: float64(100 * i), Workers: 1 + i/5, Desired: 1 + i/4},
			Sample{T: at, Pool: "broadcaster", Lambda: 10, Workers: 1, Desired: 1 + i/10})
	}
	var buf bytes.Buffer
	if err := WritePlot(&buf, "svg", samples, PlotOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("(broadcaster)")) {
		t.Error("a two-pool plot does not name the pools in its legend")
	}
}

func TestPlotErrors(t *testing.T) {
	if err := WritePlot(&bytes.Buffer{}, "png", nil, PlotOptions{}); err == nil {
		t.Error("plotting no samples succeeded")
	}
	if err := WritePlot(&bytes.Buffer{}, "gif", burst(), PlotOptions{}); err == nil {
		t.Error("plotting to gif succeeded")
	}
	if err := SavePlot(filepath.Join(t.TempDir(), "x.jpeg"), burst(), PlotOptions{}); err == nil {
		t.Error("saving a .jpeg succeeded")
	}
	if err := SavePlot(filepath.Join(t.TempDir(), "missing", "x.png"), burst(), PlotOptions{}); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
	// A single sample and an all-zero run still draw.
	if err := WritePlot(&bytes.Buffer{}, "png", []Sample{{T: t0, Pool: "filter"}}, PlotOptions{}); err != nil {
		t.Errorf("plotting one zero sample: %v", err)
	}
}
