package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// craftedRun is a run with one of each outcome: ids a0..a5 delivered once with latencies 10..60 ms, b1 and
// b2 confirmed but never answered, c answered twice, d dead-lettered, e nacked, f never confirmed, and one
// stray result for an id that was not sent.
func craftedRun(r *Recorder) {
	for i := range 6 {
		id := fmt.Sprintf("a%d", i)
		r.Sent(id, t0.Add(time.Duration(i)*time.Second))
		r.Confirmed(id, true)
		r.Result(id, t0.Add(time.Duration(i)*time.Second+time.Duration(i+1)*10*time.Millisecond))
	}
	for _, id := range []string{"b1", "b2"} {
		r.Sent(id, t0)
		r.Confirmed(id, true)
	}
	r.Sent("c", t0)
	r.Confirmed("c", true)
	r.Result("c", t0.Add(5*time.Millisecond))
	r.Result("c", t0.Add(7*time.Second)) // a redelivery: counted, but not as a second latency
	r.Sent("d", t0)
	r.Confirmed("d", true)
	r.DeadLettered("d")
	r.Sent("e", t0)
	r.Confirmed("e", false)
	r.Sent("f", t0)
	r.Result("zz", t0.Add(time.Second))
}

func TestLossAndDuplicateAccounting(t *testing.T) {
	r := NewRecorder()
	craftedRun(r)
	if got := r.Outstanding(); got != 2 {
		t.Errorf("Outstanding() = %d, want 2 (b1, b2)", got)
	}
	rep := r.Report("crafted")
	tests := []struct {
		name      string
		got, want int64
	}{
		{"sent", rep.Sent, 12},
		{"confirmed", rep.Confirmed, 10},
		{"nacked", rep.Nacked, 1},
		{"unconfirmed", rep.Unconfirmed, 1},
		{"results", rep.Results, 9},
		{"delivered", rep.Delivered, 7},
		{"duplicates", rep.Duplicates, 1},
		{"dead-lettered", rep.DeadLettered, 1},
		{"lost", rep.Lost, 2},
		{"stray", rep.Stray, 1},
		{"latency samples", rep.Latency.Count, 7},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, tt.got, tt.want)
		}
	}
	// The run spans the first send to the last result: 7 s, with 7 delivered.
	if rep.Duration != 7*time.Second {
		t.Errorf("Duration = %s, want 7s", rep.Duration)
	}
	if rep.Throughput != 1 {
		t.Errorf("Throughput = %v, want 1", rep.Throughput)
	}
	if rep.Latency.Min != 5*time.Millisecond || rep.Latency.Max != 60*time.Millisecond {
		t.Errorf("latency min/max = %s/%s, want 5ms/60ms", rep.Latency.Min, rep.Latency.Max)
	}
	if !rep.Start.Equal(t0) {
		t.Errorf("Start = %s, want %s", rep.Start, t0)
	}
}

func TestLatencyPercentiles(t *testing.T) {
	r := NewRecorder()
	// Latencies 1..100 ms, so nearest-rank percentiles are the rank itself in ms.
	for i := 1; i <= 100; i++ {
		id := fmt.Sprint(i)
		r.Sent(id, t0)
		r.Result(id, t0.Add(time.Duration(i)*time.Millisecond))
	}
	l := r.Report("").Latency
	tests := []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"p50", l.P50, 50 * time.Millisecond},
		{"p90", l.P90, 90 * time.Millisecond},
		{"p99", l.P99, 99 * time.Millisecond},
		{"max", l.Max, 100 * time.Millisecond},
		{"min", l.Min, time.Millisecond},
		{"mean", l.Mean, 50500 * time.Microsecond},
	}
	for _, tt := range tests {
		// The histogram's percentiles are within 0.05 %.
		if diff := tt.got - tt.want; diff < -tt.want/2000 || diff > tt.want/2000 {
			t.Errorf("%s = %s, want %s", tt.name, tt.got, tt.want)
		}
	}
}

func TestResultBeforeSend(t *testing.T) {
	r := NewRecorder()
	r.Result("x", t0.Add(30*time.Millisecond))
	if c := r.Counts(); c.Stray != 1 || c.Delivered != 0 {
		t.Fatalf("before the send: %+v", c)
	}
	r.Sent("x", t0)
	r.Confirmed("x", true)
	rep := r.Report("")
	if rep.Stray != 0 || rep.Delivered != 1 || rep.Lost != 0 || rep.Latency.Max != 30*time.Millisecond {
		t.Errorf("after the send: stray %d delivered %d lost %d latency %s", rep.Stray, rep.Delivered, rep.Lost, rep.Latency.Max)
	}
}

func TestRedeliveredResultIsNoDuplicate(t *testing.T) {
	r := NewRecorder()
	for _, id := range []string{"a", "b"} {
		r.Sent(id, t0)
		r.Confirmed(id, true)
	}
	r.Result("a", t0.Add(time.Millisecond))
	r.Redelivered("a", t0.Add(time.Second)) // read before a reconnect, read again after it
	r.Redelivered("b", t0.Add(2*time.Millisecond))
	rep := r.Report("")
	if rep.Results != 2 || rep.Delivered != 2 || rep.Duplicates != 0 || rep.Lost != 0 {
		t.Errorf("results %d delivered %d duplicates %d lost %d, want 2 2 0 0", rep.Results, rep.Delivered, rep.Duplicates, rep.Lost)
	}
	if rep.Latency.Max != 2*time.Millisecond {
		t.Errorf("max latency %s, want 2ms: a redelivery must not move the first result's time", rep.Latency.Max)
	}
}

func TestStrayKeepsNoEntry(t *testing.T) {
	r := NewRecorder()
	r.Sent("a", t0)
	r.Confirmed("a", true)
	r.Result("a", t0.Add(time.Millisecond))
	for range 3 {
		r.Stray()
	}
	c := r.Counts()
	if c.Stray != 3 || c.Results != 1 || c.Delivered != 1 {
		t.Errorf("counts after three strays: %+v", c)
	}
	if n := len(r.entries); n != 1 {
		t.Errorf("recorder keeps %d entries, want 1: strays must cost no memory", n)
	}
}

func TestConcurrentRecording(t *testing.T) {
	r := NewRecorder()
	const publishers, each = 8, 2000
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("%d-%d", p, i)
				r.Sent(id, t0)
				r.Confirmed(id, true)
			}
		})
	}
	wg.Go(func() {
		for i := range each {
			r.Result(fmt.Sprintf("0-%d", i), t0.Add(time.Millisecond))
			_ = r.Counts()
		}
	})
	wg.Wait()
	c := r.Counts()
	if c.Sent != publishers*each || c.Confirmed != publishers*each || c.Results != each {
		t.Errorf("counts after concurrent recording: %+v", c)
	}
	if c.Outstanding != (publishers-1)*each {
		t.Errorf("Outstanding = %d, want %d", c.Outstanding, (publishers-1)*each)
	}
}

func TestReportText(t *testing.T) {
	r := NewRecorder()
	craftedRun(r)
	text := r.Report("crafted").Text()
	for _, want := range []string{
		"Warren load report: crafted",
		"sent", "12",
		"lost", "confirmed, no result, not dead-lettered",
		"duplicates",
		"stray",
		"throughput", "1.0 /s",
		"latency, send to result (7 samples)",
		"p50", "p99", "60.0ms", "5.00ms",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q:\n%s", want, text)
		}
	}
	// Values are right-aligned in one column: every counter row's number ends at the same place.
	row := regexp.MustCompile(`(?m)^ *(sent|confirmed|lost|duplicates) +[0-9,]+`)
	ends := map[int]bool{}
	for _, loc := range row.FindAllStringIndex(text, -1) {
		lineStart := strings.LastIndex(text[:loc[0]+1], "\n") + 1
		ends[loc[1]-lineStart] = true
	}
	if len(ends) != 1 {
		t.Errorf("counter values are not aligned (ends at %v):\n%s", ends, text)
	}
	t.Logf("\n%s", text)
}

func TestReportJSON(t *testing.T) {
	r := NewRecorder()
	craftedRun(r)
	var buf bytes.Buffer
	if err := r.Report("crafted").WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("report JSON does not parse: %v\n%s", err, buf.String())
	}
	want := map[string]any{
		"scenario": "crafted", "sent": 12.0, "lost": 2.0, "duplicates": 1.0, "dead_lettered": 1.0,
		"nacked": 1.0, "duration_s": 7.0, "throughput_per_s": 1.0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("JSON %s = %v, want %v", k, got[k], v)
		}
	}
	lat, ok := got["latency"].(map[string]any)
	if !ok || lat["max_ms"] != 60.0 || lat["count"] != 7.0 {
		t.Errorf("JSON latency = %v", got["latency"])
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {20000, "20,000"}, {1234567, "1,234,567"}, {-1500, "-1,500"}}
	for _, tt := range tests {
		if got := count(tt.n); got != tt.want {
			t.Errorf("count(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestProgress(t *testing.T) {
	tests := []struct {
		name string
		p    Progress
		want string
	}{
		{"no status yet",
			Progress{Elapsed: 2 * time.Second, Total: 35 * time.Second, Step: 1, Steps: 3, SendRate: 100},
			"  2.0s/35.0s (33.0s left)  step 1/3  sent   100/s  results     0/s  backlog -  workers -"},
		{"scaling up",
			Progress{Elapsed: 12 * time.Second, Total: 35 * time.Second, Step: 2, Steps: 3, SendRate: 2000,
				ResultRate: 1850.6, HaveStatus: true, Backlog: 1204, Workers: 3, Desired: 5},
			" 12.0s/35.0s (23.0s left)  step 2/3  sent  2000/s  results  1851/s  backlog 1,204  workers 3→5"},
		{"steady, past the end",
			Progress{Elapsed: 40 * time.Second, Total: 35 * time.Second, SendRate: 0, ResultRate: 12,
				HaveStatus: true, Backlog: 0, Workers: 1, Desired: 1},
			" 40.0s/35.0s (0.0s left)  sent     0/s  results    12/s  backlog 0  workers 1"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestMeter(t *testing.T) {
	now := t0
	m := NewMeter(func() time.Time { return now })
	now = now.Add(2 * time.Second)
	if got := m.Rate(500); got != 250 {
		t.Errorf("first rate = %v, want 250", got)
	}
	now = now.Add(500 * time.Millisecond)
	if got := m.Rate(600); got != 200 {
		t.Errorf("second rate = %v, want 200", got)
	}
	if got := m.Rate(700); got != 0 {
		t.Errorf("rate over no time = %v, want 0", got)
	}
}
