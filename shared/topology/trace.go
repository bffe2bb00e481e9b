package topology

import amqp "github.com/rabbitmq/amqp091-go"

// maxTraceState is the longest tracestate passed on. W3C asks vendors to propagate at least 512 characters;
// a longer one is dropped rather than cut, since cutting may split a list member.
const maxTraceState = 512

// CopyTrace copies the W3C trace context of in (HeaderTraceParent and, with it, HeaderTraceState) into out and
// returns out, allocated only when there is something to copy. A traceparent that is not valid (see
// ValidTraceParent) is not passed on, nor is the tracestate beside it: W3C says to restart the trace then, and
// Warren starts none of its own, so the outgoing message carries no trace context.
func CopyTrace(out, in amqp.Table) amqp.Table {
	tp, ok := headerString(in[HeaderTraceParent])
	if !ok || !ValidTraceParent(tp) {
		return out
	}
	if out == nil {
		out = amqp.Table{}
	}
	out[HeaderTraceParent] = tp
	if ts, ok := headerString(in[HeaderTraceState]); ok && ts != "" && validTraceState(ts) {
		out[HeaderTraceState] = ts
	}
	return out
}

// headerString reads a header that AMQP clients send as a long string or, some of them, as bytes.
func headerString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// ValidTraceParent reports whether v is a W3C traceparent: version-traceid-parentid-flags in lowercase hex
// (2, 32, 16 and 2 digits), neither id all zeros. Version 00 is exactly that; a later version (not ff, which is
// forbidden) may append fields after a further dash, which are passed on untouched as W3C asks.
func ValidTraceParent(v string) bool {
	const size = 55 // 2 + 1 + 32 + 1 + 16 + 1 + 2
	if len(v) < size || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return false
	}
	version := v[0:2]
	if !lowerHex(version) || version == "ff" {
		return false
	}
	if version == "00" && len(v) != size {
		return false
	}
	if len(v) > size && v[size] != '-' {
		return false
	}
	traceID, parentID, flags := v[3:35], v[36:52], v[53:55]
	return lowerHex(traceID) && lowerHex(parentID) && lowerHex(flags) && !allZero(traceID) && !allZero(parentID)
}

// validTraceState accepts a tracestate of printable ASCII within maxTraceState; its list syntax is the
// business of the vendors who wrote it.
func validTraceState(v string) bool {
	if len(v) > maxTraceState {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
