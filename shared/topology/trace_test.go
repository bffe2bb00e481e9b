package topology

import (
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestValidTraceParent(t *testing.T) {
	const ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name, v string
		want    bool
	}{
		{"W3C example", ok, true},
		{"not sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"future version, same length", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"future version, more fields", "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", true},
		{"empty", "", false},
		{"version ff is forbidden", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"version 00 with more fields", ok + "-01", false},
		{"future version, no dash after flags", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", false},
		{"all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"all-zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false},
		{"non-hex trace id", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", false},
		{"non-hex flags", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z", false},
		{"short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", false},
		{"long parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7a-01", false},
		{"wrong separator", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false},
		{"surrounding space", " " + ok, false},
		{"non-hex version", "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
	} {
		if got := ValidTraceParent(tc.v); got != tc.want {
			t.Errorf("%s: ValidTraceParent(%q) = %v, want %v", tc.name, tc.v, got, tc.want)
		}
	}
}

func TestCopyTrace(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, tc := range []struct {
		name     string
		in, want amqp.Table
	}{
		{"none", amqp.Table{"x": "y"}, nil},
		{"nil headers", nil, nil},
		{"traceparent alone", amqp.Table{HeaderTraceParent: tp}, amqp.Table{HeaderTraceParent: tp}},
		{"with tracestate", amqp.Table{HeaderTraceParent: tp, HeaderTraceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"},
			amqp.Table{HeaderTraceParent: tp, HeaderTraceState: "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}},
		{"bytes", amqp.Table{HeaderTraceParent: []byte(tp)}, amqp.Table{HeaderTraceParent: tp}},
		{"invalid traceparent drops its tracestate", amqp.Table{HeaderTraceParent: "00-bad", HeaderTraceState: "a=b"}, nil},
		{"tracestate alone", amqp.Table{HeaderTraceState: "a=b"}, nil},
		{"traceparent of another type", amqp.Table{HeaderTraceParent: int64(7)}, nil},
		{"oversized tracestate", amqp.Table{HeaderTraceParent: tp, HeaderTraceState: strings.Repeat("a", 513)},
			amqp.Table{HeaderTraceParent: tp}},
		{"control characters in tracestate", amqp.Table{HeaderTraceParent: tp, HeaderTraceState: "a=b\n"},
			amqp.Table{HeaderTraceParent: tp}},
	} {
		got := CopyTrace(nil, tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	}
	out := CopyTrace(amqp.Table{HeaderSentAt: "t"}, amqp.Table{HeaderTraceParent: tp})
	if out[HeaderSentAt] != "t" || out[HeaderTraceParent] != tp {
		t.Errorf("CopyTrace into a table: %v", out)
	}
}
