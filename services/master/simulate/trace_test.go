package simulate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/timeseries"
)

func TestReadPlainTrace(t *testing.T) {
	tests := []struct {
		name, in string
		want     Trace
	}{
		{"header", "seconds,rate\n0,300\n60,3000\n90,0\n",
			Trace{Segments: []Segment{{0, 300}, {60 * time.Second, 3000}}, End: 90 * time.Second}},
		{"no header, comments, blanks and spaces", "# a comment\n\n0, 10\n# another\n1.5, 20\n2.25,0\n",
			Trace{Segments: []Segment{{0, 10}, {1500 * time.Millisecond, 20}}, End: 2250 * time.Millisecond}},
		{"starts late", "time,rate\n10,5\n20,0\n",
			Trace{Segments: []Segment{{10 * time.Second, 5}}, End: 20 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTrace(strings.NewReader(tt.in), "t.csv", "")
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name = "t.csv"
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadTraceErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"bad rate", "seconds,rate\n0,300\n60,lots\n90,0\n", "bad.csv:3: rate \"lots\""},
		{"bad seconds", "0,300\n-5,10\n90,0\n", "bad.csv:2: seconds \"-5\""},
		{"three fields", "seconds,rate\n0,300,1\n90,0\n", "bad.csv:2: want 2 fields"},
		{"negative rate", "0,-1\n90,0\n", "bad.csv:1: rate \"-1\""},
		{"not increasing", "# c\n0,300\n60,10\n60,20\n90,0\n", "bad.csv:4: second 60 is not after"},
		{"last rate not zero", "0,300\n60,10\n", "bad.csv:2: the last row ends the trace, so its rate must be 0"},
		{"CSV syntax", "0,300\n\"60,10\n", "bad.csv:2:"},
		{"empty", "", "bad.csv: empty trace"},
		{"header only", "seconds,rate\n", "bad.csv: empty trace"},
		{"one row", "0,0\n", "bad.csv: empty trace"},
		{"loadgen bad sent_rate", strings.Join(timeseries.Header, ",") + "\n" +
			"2025-01-01T00:00:02Z,2,filter,0,0,1,1,480,hold,100,100\n" +
			"2025-01-01T00:00:04Z,4,filter,0,0,1,1,480,hold,x,100\n", "bad.csv:3: sent_rate"},
		{"loadgen short row", strings.Join(timeseries.Header, ",") + "\n2025-01-01T00:00:02Z,2,filter\n", "bad.csv:2: want 11 fields"},
		{"loadgen not increasing", strings.Join(timeseries.Header, ",") + "\n" +
			"2025-01-01T00:00:02Z,2,filter,0,0,1,1,480,hold,100,100\n" +
			"2025-01-01T00:00:02Z,2,filter,0,0,1,1,480,hold,100,100\n", "bad.csv:3: elapsed_s 2 is not after"},
		{"loadgen empty", strings.Join(timeseries.Header, ",") + "\n", "bad.csv: empty trace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tt.in), "bad.csv", "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestReadLoadgenTrace reads what loadgen writes: each row's sent_rate covers the interval ending at its
// elapsed_s, and only one pool's rows count.
func TestReadLoadgenTrace(t *testing.T) {
	start := Epoch
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	samples := []timeseries.Sample{
		{T: at(2), Pool: "filter", SentRate: 100},
		{T: at(2.1), Pool: "broadcaster", SentRate: 7},
		{T: at(4), Pool: "filter", SentRate: 100},
		{T: at(6), Pool: "filter", SentRate: 500},
		{T: at(6.1), Pool: "broadcaster", SentRate: 9},
	}
	var buf bytes.Buffer
	if err := timeseries.WriteCSV(&buf, start, samples); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pool string
		want Trace
	}{
		{"", Trace{Segments: []Segment{{0, 100}, {4 * time.Second, 500}}, End: 6 * time.Second}},
		{"broadcaster", Trace{Segments: []Segment{{0, 7}, {2100 * time.Millisecond, 9}}, End: 6100 * time.Millisecond}},
	}
	for _, tt := range tests {
		got, err := ReadTrace(bytes.NewReader(buf.Bytes()), "timeseries.csv", tt.pool)
		if err != nil {
			t.Fatal(err)
		}
		tt.want.Name = "timeseries.csv"
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("pool %q: got %+v, want %+v", tt.pool, got, tt.want)
		}
	}
	if _, err := ReadTrace(bytes.NewReader(buf.Bytes()), "timeseries.csv", "nope"); err == nil ||
		!strings.Contains(err.Error(), `no rows for pool "nope"`) {
		t.Errorf("unknown pool: err = %v", err)
	}
}

func TestTraceIntegrals(t *testing.T) {
	tr := Trace{Name: "x", Segments: []Segment{{0, 300}, {10 * time.Second, 1000}, {20 * time.Second, 0}}, End: 30 * time.Second}
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := tr.Events(5*time.Second, 15*time.Second); got != 5*300+5*1000 {
		t.Errorf("Events = %v", got)
	}
	if got := tr.Events(25*time.Second, 40*time.Second); got != 0 {
		t.Errorf("Events past the end = %v", got)
	}
	// ceil(300/480) = 1 for 10 s, ceil(1000/480) = 3 for 10 s, none for the idle 10 s.
	if got := tr.OracleWorkerSeconds(480); got != 40 {
		t.Errorf("OracleWorkerSeconds = %v, want 40", got)
	}
	if got := tr.Rate(15 * time.Second); got != 1000 {
		t.Errorf("Rate = %v", got)
	}
	if got := tr.Peak(); got != 1000 {
		t.Errorf("Peak = %v", got)
	}
}

// TestShippedTracesLoadByPath reads every shipped trace from disk, as a user would name the file, and checks it
// equals the embedded copy.
func TestShippedTracesLoadByPath(t *testing.T) {
	names := TraceNames()
	if len(names) < 8 {
		t.Fatalf("shipped traces %v", names)
	}
	for _, name := range names {
		embedded, err := ShippedTrace(name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("traces", name+".csv")
		onDisk, err := OpenTrace(path, "")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(embedded.Segments, onDisk.Segments) || embedded.End != onDisk.End {
			t.Errorf("%s: embedded and on-disk traces differ", name)
		}
		if TraceDescription(name) == "" {
			t.Errorf("%s: no description comment", name)
		}
		if byName, err := OpenTrace(name, ""); err != nil || byName.Name != name {
			t.Errorf("OpenTrace(%q) = %v, %v", name, byName.Name, err)
		}
	}
}

func TestOpenTraceUnknown(t *testing.T) {
	for _, name := range []string{"no-such-trace", filepath.Join(t.TempDir(), "missing.csv")} {
		if _, err := OpenTrace(name, ""); !errors.Is(err, ErrNoTrace) {
			t.Errorf("OpenTrace(%q): err = %v, want ErrNoTrace", name, err)
		}
	}
	// A file that exists is read even when a shipped trace has the same name.
	dir := t.TempDir()
	path := filepath.Join(dir, "steady-50")
	if err := os.WriteFile(path, []byte("0,1\n5,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	tr, err := OpenTrace("steady-50", "")
	if err != nil || tr.End != 5*time.Second {
		t.Errorf("OpenTrace of a local file = %+v, %v", tr, err)
	}
}
