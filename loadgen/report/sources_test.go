package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestJain(t *testing.T) {
	tests := []struct {
		name string
		x    []float64
		want float64
		ok   bool
	}{
		{"equal", []float64{5, 5, 5}, 1, true},
		{"one source", []float64{7}, 1, true},
		{"one of three gets everything", []float64{9, 0, 0}, 1.0 / 3, true},
		{"one of two gets everything", []float64{0, 40}, 0.5, true},
		{"one of four starved", []float64{1, 1, 1, 0}, 0.75, true},
		{"two of four share everything", []float64{3, 0, 3, 0}, 0.5, true},
		{"one and two", []float64{1, 2}, 0.9, true},
		{"scale does not matter", []float64{1000, 2000}, 0.9, true},
		{"noisy neighbour", []float64{4900, 100}, 25e6 / (2 * (4900*4900 + 100*100)), true},
		{"nothing", nil, 0, false},
		{"all zero", []float64{0, 0}, 0, false},
		{"negative", []float64{1, -1}, 0, false},
		{"NaN", []float64{1, math.NaN()}, 0, false},
		{"infinite", []float64{1, math.Inf(1)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Jain(tt.x)
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Jain(%v) = %v, %v; want %v, %v", tt.x, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// at returns t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// twoSourceRun records a run of two sources that overlap from 200 to 600 ms:
//
//   - A sends a0..a9 every 100 ms from 0 ms; a0..a5 are answered 50 ms later, a6 is dead-lettered, a7 is
//     answered 10 ms later and again at 2 s, a8 is nacked, a9 is lost.
//   - B sends b0..b4 every 100 ms from 200 ms; b0..b3 are answered 1 s later, b4 is lost.
//   - x is sent by a source the recorder does not know, and zz is a result for an id not sent.
func twoSourceRun(r *Recorder) {
	for i := range 10 {
		id := fmt.Sprintf("a%d", i)
		r.SentFrom(id, 0, at(100*i))
		r.Confirmed(id, i != 8)
		switch {
		case i <= 5:
			r.Result(id, at(100*i+50))
		case i == 6:
			r.DeadLettered(id)
		case i == 7:
			r.Result(id, at(100*i+10))
			r.Result(id, at(2000))
		}
	}
	for i := range 5 {
		id := fmt.Sprintf("b%d", i)
		r.SentFrom(id, 1, at(200+100*i))
		r.Confirmed(id, true)
		if i < 4 {
			r.Result(id, at(1200+100*i))
		}
	}
	r.SentFrom("x", 9, at(300))
	r.Confirmed("x", true)
	r.Result("x", at(310))
	r.Result("zz", at(400))
}

func newTwoSourceRecorder() *Recorder {
	return NewRecorder(Source{Name: "A", Key: "tenant-a"}, Source{Name: "B", Key: "tenant-b"})
}

func TestPerSourceAccounting(t *testing.T) {
	r := newTwoSourceRecorder()
	twoSourceRun(r)
	rep := r.Report("two")
	if len(rep.Sources) != 2 {
		t.Fatalf("%d sources, want 2", len(rep.Sources))
	}
	a, b := rep.Sources[0], rep.Sources[1]
	if a.Name != "A" || a.Key != "tenant-a" || b.Name != "B" || b.Key != "tenant-b" {
		t.Errorf("sources %q/%q and %q/%q", a.Name, a.Key, b.Name, b.Key)
	}
	tests := []struct {
		name      string
		got, want int64
	}{
		{"A sent", a.Sent, 10}, {"A confirmed", a.Confirmed, 9}, {"A nacked", a.Nacked, 1},
		{"A results", a.Results, 8}, {"A delivered", a.Delivered, 7}, {"A duplicates", a.Duplicates, 1},
		{"A dead-lettered", a.DeadLettered, 1}, {"A lost", a.Lost, 1}, {"A stray", a.Stray, 0},
		{"A latencies", a.Latency.Count, 7},
		{"B sent", b.Sent, 5}, {"B confirmed", b.Confirmed, 5}, {"B results", b.Results, 4}, {"B delivered", b.Delivered, 4},
		{"B duplicates", b.Duplicates, 0}, {"B dead-lettered", b.DeadLettered, 0}, {"B lost", b.Lost, 1},
		{"B latencies", b.Latency.Count, 4},
		// The totals have everything: x, which no known source sent, and the stray result.
		{"sent", rep.Sent, 16}, {"delivered", rep.Delivered, 12}, {"lost", rep.Lost, 2}, {"stray", rep.Stray, 1},
		{"latencies", rep.Latency.Count, 12},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	if a.Latency.Min != 10*time.Millisecond || a.Latency.Max != 50*time.Millisecond || b.Latency.Max != time.Second {
		t.Errorf("latency A %s–%s, B max %s", a.Latency.Min, a.Latency.Max, b.Latency.Max)
	}
	// A runs from 0 to its last send at 900 ms (the duplicate at 2 s does not count), B from 200 ms to its last
	// result at 1500 ms.
	if !a.Start.Equal(t0) || a.Duration != 900*time.Millisecond || !b.Start.Equal(at(200)) || b.Duration != 1300*time.Millisecond {
		t.Errorf("A %s + %s, B %s + %s", a.Start, a.Duration, b.Start, b.Duration)
	}
	if math.Abs(a.Throughput-7/0.9) > 1e-9 || math.Abs(b.Throughput-4/1.3) > 1e-9 {
		t.Errorf("throughput A %v, B %v", a.Throughput, b.Throughput)
	}
	if s, ok := rep.Source("B"); !ok || s.Sent != 5 {
		t.Errorf("Source(B) = %+v, %v", s, ok)
	}
	if _, ok := rep.Source("C"); ok {
		t.Error("Source(C) found a source")
	}
}

func TestFairnessWindow(t *testing.T) {
	r := newTwoSourceRecorder()
	twoSourceRun(r)
	f := r.Report("two").Fairness
	if f == nil {
		t.Fatal("no fairness for two sources that overlap")
	}
	if !f.WindowStart.Equal(at(200)) || !f.WindowEnd.Equal(at(600)) || f.Window() != 400*time.Millisecond {
		t.Errorf("window %s to %s", f.WindowStart, f.WindowEnd)
	}
	// In the window A sent a2..a6 and got a2..a5 answered; B sent all five and got nothing back yet.
	want := []FairShare{
		{Name: "A", Sent: 5, Delivered: 4, SendRate: 12.5, Throughput: 10, Share: 0.8},
		{Name: "B", Sent: 5, Delivered: 0, SendRate: 12.5, Throughput: 0, Share: 0},
	}
	if len(f.Sources) != len(want) {
		t.Fatalf("fair shares %+v", f.Sources)
	}
	for i, w := range want {
		g := f.Sources[i]
		if g.Name != w.Name || g.Sent != w.Sent || g.Delivered != w.Delivered || math.Abs(g.SendRate-w.SendRate) > 1e-9 ||
			math.Abs(g.Throughput-w.Throughput) > 1e-9 || math.Abs(g.Share-w.Share) > 1e-9 {
			t.Errorf("share %d = %+v, want %+v", i, g, w)
		}
	}
	// B is starved while both send: one of two gets everything.
	if !f.Defined || math.Abs(f.Index-0.5) > 1e-12 {
		t.Errorf("Jain = %v (defined %v), want 0.5", f.Index, f.Defined)
	}
}

func TestFairnessOfEqualSources(t *testing.T) {
	r := NewRecorder(Source{Name: "A"}, Source{Name: "B"}, Source{Name: "idle"})
	for i := range 100 {
		for s, name := range []string{"a", "b"} {
			id := fmt.Sprintf("%s%d", name, i)
			r.SentFrom(id, s, at(10*i))
			r.Confirmed(id, true)
			r.Result(id, at(10*i+5))
		}
	}
	rep := r.Report("equal")
	f := rep.Fairness
	// The idle source sent nothing: it has an account but no say in the fairness.
	if len(rep.Sources) != 3 || rep.Sources[2].Sent != 0 || f == nil || len(f.Sources) != 2 {
		t.Fatalf("sources %+v, fairness %+v", rep.Sources, f)
	}
	if !f.Defined || f.Index != 1 || f.Sources[0].Share != f.Sources[1].Share {
		t.Errorf("fairness %+v, want index 1", f)
	}
}

func TestNoFairness(t *testing.T) {
	t.Run("one after the other", func(t *testing.T) {
		r := NewRecorder(Source{Name: "A"}, Source{Name: "B"})
		r.SentFrom("a", 0, at(0))
		r.SentFrom("a2", 0, at(100))
		r.SentFrom("b", 1, at(100))
		r.SentFrom("b2", 1, at(200))
		rep := r.Report("serial")
		if rep.Fairness != nil {
			t.Errorf("fairness %+v for sources that touch but never overlap", rep.Fairness)
		}
		if text := rep.Text(); !strings.Contains(text, "fairness: not computed") {
			t.Errorf("text lacks the reason:\n%s", text)
		}
	})
	t.Run("one source sent", func(t *testing.T) {
		r := NewRecorder(Source{Name: "A"}, Source{Name: "B"})
		r.SentFrom("a", 0, at(0))
		r.SentFrom("a2", 0, at(100))
		if f := r.Report("one").Fairness; f != nil {
			t.Errorf("fairness %+v with one sending source", f)
		}
	})
	t.Run("nobody answered", func(t *testing.T) {
		r := NewRecorder(Source{Name: "A"}, Source{Name: "B"})
		for i, id := range []string{"a", "b", "a2", "b2"} {
			r.SentFrom(id, i%2, at(100*(i/2)))
		}
		f := r.Report("silent").Fairness
		if f == nil || f.Defined || f.Index != 0 {
			t.Fatalf("fairness %+v, want an undefined index", f)
		}
		var buf bytes.Buffer
		if err := r.Report("silent").WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), `"jain_index": null`) {
			t.Errorf("JSON lacks a null index:\n%s", buf.String())
		}
	})
}

func TestSourcesReportText(t *testing.T) {
	r := newTwoSourceRecorder()
	twoSourceRun(r)
	text := r.Report("two").Text()
	for _, want := range []string{
		"per source",
		"source  key       sent",
		"A       tenant-a    10",
		"B       tenant-b     5",
		"fairness while every source sent, 0.2 s to 0.6 s of the run (0.4 s)",
		"share of demand",
		"80.0 %",
		"Jain's index over results/s: 0.500 (1 = equal throughput, 0.500 = one source got everything)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q:\n%s", want, text)
		}
	}
	t.Logf("\n%s", text)
}

func TestSourcesReportJSON(t *testing.T) {
	r := newTwoSourceRecorder()
	twoSourceRun(r)
	var buf bytes.Buffer
	if err := r.Report("two").WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Sent    int64 `json:"sent"`
		Sources []struct {
			Name       string  `json:"name"`
			Key        string  `json:"key"`
			Sent       int64   `json:"sent"`
			Delivered  int64   `json:"delivered"`
			Lost       int64   `json:"lost"`
			Duplicates int64   `json:"duplicates"`
			Dead       int64   `json:"dead_lettered"`
			Duration   float64 `json:"duration_s"`
			Latency    struct {
				P99 float64 `json:"p99_ms"`
				Max float64 `json:"max_ms"`
			} `json:"latency"`
		} `json:"sources"`
		Fairness struct {
			Index   *float64 `json:"jain_index"`
			Window  float64  `json:"window_s"`
			Sources []struct {
				Name       string  `json:"name"`
				Throughput float64 `json:"throughput_per_s"`
				SendRate   float64 `json:"send_rate_per_s"`
				Share      float64 `json:"share"`
			} `json:"sources"`
		} `json:"fairness"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("report JSON does not parse: %v\n%s", err, buf.String())
	}
	if got.Sent != 16 || len(got.Sources) != 2 {
		t.Fatalf("JSON %s", buf.String())
	}
	a := got.Sources[0]
	if a.Name != "A" || a.Key != "tenant-a" || a.Sent != 10 || a.Delivered != 7 || a.Lost != 1 || a.Duplicates != 1 ||
		a.Dead != 1 || a.Duration != 0.9 || a.Latency.Max != 50 {
		t.Errorf("JSON source A = %+v", a)
	}
	f := got.Fairness
	if f.Index == nil || *f.Index != 0.5 || f.Window != 0.4 || len(f.Sources) != 2 || f.Sources[0].Throughput != 10 ||
		f.Sources[0].SendRate != 12.5 || f.Sources[0].Share != 0.8 {
		t.Errorf("JSON fairness = %+v", f)
	}
}

// TestSingleSourceReportUnchanged checks that a recorder without sources reports as it always did: no
// per-source section in the text, no sources or fairness in the JSON.
func TestSingleSourceReportUnchanged(t *testing.T) {
	r := NewRecorder()
	craftedRun(r)
	r.SentFrom("s", 0, t0) // a source index means nothing to a single-source recorder
	rep := r.Report("crafted")
	if rep.Sources != nil || rep.Fairness != nil || rep.Sent != 13 {
		t.Errorf("sources %+v, fairness %+v, sent %d", rep.Sources, rep.Fairness, rep.Sent)
	}
	if text := rep.Text(); strings.Contains(text, "per source") || strings.Contains(text, "fairness") {
		t.Errorf("single-source text has a per-source section:\n%s", text)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"sources", "fairness"} {
		if _, ok := got[k]; ok {
			t.Errorf("single-source JSON has %q", k)
		}
	}
	if r.SourceSeries(t0, time.Second) != nil {
		t.Error("single-source recorder has a per-source series")
	}
}

func TestSourceSeries(t *testing.T) {
	r := NewRecorder(Source{Name: "A"}, Source{Name: "B"})
	// A: sent at 100, 200 and 1500 ms, answered at 300, 1100 and 2500 ms (latencies 200, 900, 1000 ms).
	for i, ms := range [][2]int{{100, 300}, {200, 1100}, {1500, 2500}} {
		id := fmt.Sprintf("a%d", i)
		r.SentFrom(id, 0, at(ms[0]))
		r.Result(id, at(ms[1]))
	}
	// B: one send at 400 ms, never answered.
	r.SentFrom("b", 1, at(400))
	series := r.SourceSeries(t0, time.Second)
	if len(series) != 2 || series[0].Source != "A" || series[1].Source != "B" {
		t.Fatalf("series %+v", series)
	}
	a := series[0].Points
	if len(a) != 3 {
		t.Fatalf("A has %d points, want 3: %+v", len(a), a)
	}
	want := []struct {
		sent, results int64
		p50, p99, max time.Duration
	}{
		{2, 1, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond},
		{1, 1, 900 * time.Millisecond, 900 * time.Millisecond, 900 * time.Millisecond},
		{0, 1, time.Second, time.Second, time.Second},
	}
	for i, w := range want {
		p := a[i]
		if !p.T.Equal(t0.Add(time.Duration(i)*time.Second)) || p.Sent != w.sent || p.Results != w.results ||
			p.P50 != w.p50 || p.P99 != w.p99 || p.Max != w.max {
			t.Errorf("A point %d = %+v, want %+v", i, p, w)
		}
	}
	if b := series[1].Points; len(b) != 1 || b[0].Sent != 1 || b[0].Results != 0 || b[0].Max != 0 {
		t.Errorf("B points %+v", b)
	}
}

func TestRank(t *testing.T) {
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, time.Duration(i))
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {99, 99}, {100, 100}, {0, 1}, {0.5, 1}} {
		if got := rank(sorted, tt.p); got != tt.want {
			t.Errorf("rank(1..100, %v) = %d, want %d", tt.p, got, tt.want)
		}
	}
	if got := rank([]time.Duration{7}, 99); got != 7 {
		t.Errorf("rank of one = %d", got)
	}
}
