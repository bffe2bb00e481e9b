// Package event defines the JSON bodies that travel through Warren and validates them.
//
// These shapes are the public contract: users publish text events with any AMQP client and read results
// and insult-service replies, so field names here must not change lightly.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxBody is the largest accepted body (1 MiB) unless configuration says otherwise.
const DefaultMaxBody = 1 << 20

// Content types Warren understands.
const (
	ContentJSON  = "application/json"
	ContentPlain = "text/plain"
)

// Text is an event asking for a text to be censored.
type Text struct {
	// ID identifies the event end to end; results carry it back. Optional on input.
	ID string `json:"id,omitempty"`
	// Text is the text to censor; it must not be empty.
	Text string `json:"text"`
	// SentAt is when the publisher sent the event, if it says; loadgen uses it for latency.
	SentAt *time.Time `json:"sent_at,omitempty"`
}

// Result is what the filter publishes for each text event.
type Result struct {
	ID       string     `json:"id"`
	Text     string     `json:"text"`
	Censored int        `json:"censored"`
	SentAt   *time.Time `json:"sent_at,omitempty"`
}

// InvalidError says why a body cannot be processed; retrying it cannot help, so it is dead-lettered at once.
type InvalidError struct {
	Reason string
}

func (e *InvalidError) Error() string { return e.Reason }

// Permanent tells the consumer loop not to retry: the same body fails the same way every time.
func (e *InvalidError) Permanent() bool { return true }

// ErrInvalid matches every *InvalidError with errors.Is.
var ErrInvalid = errors.New("invalid event")

// Is makes errors.Is(err, ErrInvalid) true for invalid bodies.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// CheckSize rejects a body larger than maxBytes (maxBytes <= 0 means DefaultMaxBody).
func CheckSize(body []byte, maxBytes int) error {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBody
	}
	if len(body) > maxBytes {
		return invalid("body of %d bytes exceeds the limit of %d bytes", len(body), maxBytes)
	}
	return nil
}

// ParseText decodes a text event. A JSON body (content type application/json, or a body that starts with '{'
// and has no content type) must be an object with a non-empty string "text"; unknown fields are refused so a
// wrong schema is noticed. A text/plain body, or one without content type, is the text itself. The id falls
// back to messageID, and the caller generates one when both are empty.
func ParseText(contentType, messageID string, body []byte, maxBytes int) (Text, error) {
	if err := CheckSize(body, maxBytes); err != nil {
		return Text{}, err
	}
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	var t Text
	switch {
	case ct == ContentJSON || (ct == "" && looksLikeJSON(body)):
		if err := decodeStrict(body, &t); err != nil {
			return Text{}, err
		}
	case ct == ContentPlain || ct == "":
		if !utf8.Valid(body) {
			return Text{}, invalid("text body is not valid UTF-8")
		}
		t.Text = string(body)
	default:
		return Text{}, invalid("unsupported content type %q (want %s or %s)", contentType, ContentJSON, ContentPlain)
	}
	if strings.TrimSpace(t.Text) == "" {
		return Text{}, invalid("empty text")
	}
	if t.ID == "" {
		t.ID = messageID
	}
	return t, nil
}

func looksLikeJSON(body []byte) bool {
	s := strings.TrimSpace(string(body[:min(len(body), 64)]))
	return strings.HasPrefix(s, "{")
}

// decodeStrict decodes one JSON object into v, refusing unknown fields, wrong types and trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return invalid("malformed JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return invalid("wrong schema: field %q must be %s, got %s", typ.Field, typ.Type, typ.Value)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return invalid("wrong schema: %v", strings.TrimPrefix(err.Error(), "json: "))
		default:
			return invalid("malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return invalid("malformed JSON: trailing data after the object")
	}
	return nil
}

// Insult-service operations accepted on warren.insult.rpc.
const (
	OpAdd          = "add"
	OpRemove       = "remove"
	OpList         = "list"
	OpRandom       = "random"
	OpBroadcastOn  = "broadcast_on"
	OpBroadcastOff = "broadcast_off"
)

// Ops lists every insult-service operation, in documentation order.
var Ops = []string{OpAdd, OpRemove, OpList, OpRandom, OpBroadcastOn, OpBroadcastOff}

// InsultRequest is a request to the insult service.
type InsultRequest struct {
	Op     string `json:"op"`
	Insult string `json:"insult,omitempty"`
}

// InsultReply is the insult service's answer.
type InsultReply struct {
	OK           bool     `json:"ok"`
	Error        string   `json:"error,omitempty"`
	Insult       string   `json:"insult,omitempty"`
	Insults      []string `json:"insults,omitempty"`
	Changed      *bool    `json:"changed,omitempty"`
	Broadcasting *bool    `json:"broadcasting,omitempty"`
}

// ParseInsultRequest decodes and validates an insult-service request.
func ParseInsultRequest(body []byte, maxBytes int) (InsultRequest, error) {
	if err := CheckSize(body, maxBytes); err != nil {
		return InsultRequest{}, err
	}
	var r InsultRequest
	if err := decodeStrict(body, &r); err != nil {
		return InsultRequest{}, err
	}
	switch r.Op {
	case OpAdd, OpRemove:
		r.Insult = strings.Join(strings.Fields(r.Insult), " ")
		if r.Insult == "" {
			return InsultRequest{}, invalid("op %q needs a non-empty \"insult\"", r.Op)
		}
		if utf8.RuneCountInString(r.Insult) > 200 {
			return InsultRequest{}, invalid("insult longer than 200 characters")
		}
	case OpList, OpRandom, OpBroadcastOn, OpBroadcastOff:
	case "":
		return InsultRequest{}, invalid("missing \"op\" (one of %s)", strings.Join(Ops, ", "))
	default:
		return InsultRequest{}, invalid("unknown op %q (one of %s)", r.Op, strings.Join(Ops, ", "))
	}
	return r, nil
}

// Broadcast is what subscribers of warren.broadcast receive.
type Broadcast struct {
	// Type is "insult" for the periodic random insult, "message" for a user's broadcast request.
	Type string    `json:"type"`
	ID   string    `json:"id,omitempty"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// Broadcast types.
const (
	BroadcastInsult  = "insult"
	BroadcastMessage = "message"
)

// WorkerStats is what a worker reports on warren.stats every stats interval; the master learns capacity from it.
type WorkerStats struct {
	Pool      string  `json:"pool"`
	Worker    string  `json:"worker"`
	Processed int     `json:"processed"`
	Interval  float64 `json:"interval_s"`
	// Utilization is the share of the worker's handler slots that were busy during the interval (0..1).
	Utilization float64 `json:"utilization"`
	// InFlight is how many deliveries the worker's handlers were processing when it reported.
	InFlight int `json:"in_flight"`
	// Held is every delivery the worker held when it reported, unacknowledged: those in its handlers and those
	// prefetched and waiting for a free handler. The queue's ready count shows neither.
	Held int `json:"held"`
	// Busy is the handler time spent during the interval, added up over all handlers, in seconds; Slots is how
	// many handlers run at once. Busy/Slots/Processed is the time one event keeps a slot, from which the master
	// learns capacity at any utilization (Little's law).
	Busy  float64 `json:"busy_s"`
	Slots int     `json:"slots"`
	// Unhealthy says why the worker's health probe fails; empty when healthy. The master replaces a worker that
	// reports itself unhealthy, which is faster and far cheaper than polling each container's health check.
	Unhealthy string `json:"unhealthy,omitempty"`
	// MetricsAddr is the host:port where the worker serves /metrics (its health.addr, the port resolved), for
	// the master to offer Prometheus service discovery of its workers; empty when it serves no TCP address.
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// Lanes says what the worker took from each lane of its pool during the interval, with the fairness keys
	// it saw there, so that `warren lanes` can show which keys share a lane.
	Lanes []LaneStats `json:"lanes,omitempty"`
	// InvalidKeys counts deliveries whose x-warren-key was not a key (too long, not UTF-8, not a string) and
	// that were counted as the shared "" key.
	InvalidKeys int       `json:"invalid_keys,omitempty"`
	At          time.Time `json:"at"`
}

// LaneStats is what one worker took from one lane during a report interval.
type LaneStats struct {
	Lane  int `json:"lane"`
	Taken int `json:"taken"`
	// Keys counts deliveries by fairness key, for the most frequent keys; Other counts the rest.
	Keys  map[string]int `json:"keys,omitempty"`
	Other int            `json:"other,omitempty"`
}

// PoolStatus is the master's view of one pool after an evaluation, published on warren.status. loadgen and
// dashboards read it; its fields mirror the scaling log line.
type PoolStatus struct {
	Pool string    `json:"pool"`
	At   time.Time `json:"at"`
	// Lambda is the smoothed arrival rate in events/s; LambdaRaw the last window's.
	Lambda    float64 `json:"lambda"`
	LambdaRaw float64 `json:"lambda_raw"`
	// Backlog is Ready (in the work queue) plus InFlight: every delivery the workers hold.
	Backlog  int     `json:"backlog"`
	Ready    int     `json:"ready"`
	InFlight int     `json:"in_flight"`
	Capacity float64 `json:"capacity"`
	// CapacitySource says where C came from (static, auto, auto-last-known, auto-restored, auto-initial),
	// CapacityReports from how many worker reports, and CapacityAge how old that evidence is, in seconds.
	CapacitySource  string  `json:"capacity_source"`
	CapacityReports int     `json:"capacity_reports"`
	CapacityAge     float64 `json:"capacity_age_s"`
	// Formula and TargetUtilization say how the pool is sized (see scaler.Policy).
	Formula           string  `json:"formula,omitempty"`
	TargetUtilization float64 `json:"target_utilization,omitempty"`
	Tr                float64 `json:"tr_s"`
	Current           int     `json:"current"`
	Desired           int     `json:"desired"`
	Raw               int     `json:"raw"`
	Reason            string  `json:"reason"`
	Consumers         int     `json:"consumers"`
	DryRun            bool    `json:"dry_run,omitempty"`
	// Lanes are the pool's lane queues when it has more than one: each one's ready count and the fairness keys
	// the workers took from it lately.
	Lanes []LaneStatus `json:"lanes,omitempty"`
	// Leader names the master that published this status. Only the master holding the leader lock evaluates
	// and publishes, so every status comes from the leader, and a change of name is a takeover.
	Leader string `json:"leader,omitempty"`
}

// LaneStatus is one lane of a pool as the master last saw it.
type LaneStatus struct {
	Lane  int    `json:"lane"`
	Queue string `json:"queue"`
	Ready int    `json:"ready"`
	// Keys are the fairness keys workers took from the lane lately, the most frequent first; Other counts
	// deliveries of keys not listed.
	Keys  []KeyCount `json:"keys,omitempty"`
	Other int        `json:"other,omitempty"`
}

// KeyCount is how many events of one fairness key were taken lately.
type KeyCount struct {
	Key    string `json:"key"`
	Events int    `json:"events"`
}
