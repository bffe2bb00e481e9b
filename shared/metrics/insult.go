package metrics

import "github.com/prometheus/client_golang/prometheus"

// OpInvalid is the op label of an insult request that could not be parsed (not JSON, an unknown or missing op,
// a missing insult), so that the label's values stay the service's own ops.
const OpInvalid = "invalid"

// Outcome is how an insult request ended, the outcome label of warren_insult_requests_total.
type Outcome int

// Outcomes of an insult request.
const (
	// OutcomeOK: answered with ok true.
	OutcomeOK Outcome = iota
	// OutcomeRefused: a valid request answered with ok false (the catalogue is full, or empty for random).
	OutcomeRefused
	// OutcomeInvalid: a request that could not be parsed; it is answered with why and dead-lettered.
	OutcomeInvalid
	// OutcomeError: the handler failed (the catalogue log or the reply could not be written); the request is
	// retried, and each failed run counts.
	OutcomeError
	outcomes
)

var outcomeNames = [outcomes]string{"ok", "refused", "invalid", "error"}

// String is the outcome's label value.
func (o Outcome) String() string {
	if o < 0 || o >= outcomes {
		return "unknown"
	}
	return outcomeNames[o]
}

// Insult is what the insult service exports: the requests it answered, by op and outcome, how long they took,
// and its connection and catalogue. Its methods are safe for concurrent use; a nil *Insult ignores every call.
type Insult struct {
	ops       map[string]*insultOp
	conns     *connections
	catalogue prometheus.Gauge
}

// insultOp holds one op's label children, resolved once so that recording a request looks up no labels.
type insultOp struct {
	requests [outcomes]prometheus.Counter
	duration prometheus.Observer
}

// NewInsult registers the insult service's metrics on reg for the given ops (event.Ops) and OpInvalid. Every
// op and outcome is exported from the start, at zero, so that rates over them need no absent-series care. A nil
// reg registers nothing and returns nil.
func NewInsult(reg prometheus.Registerer, ops []string) *Insult {
	if reg == nil {
		return nil
	}
	f := factory{reg: reg}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "warren_insult_requests_total",
		Help: "Insult-service requests handled, by op (invalid when the request could not be parsed) and outcome " +
			"(ok, refused: a valid request answered with ok false, invalid, error: a failed run, retried)."},
		[]string{"op", "outcome"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "warren_insult_request_duration_seconds",
		Help:    "Time one insult-service request took to handle and answer, in seconds, whatever its outcome.",
		Buckets: HandlerBuckets}, []string{"op"})
	reg.MustRegister(requests, duration)
	m := &Insult{
		ops:       map[string]*insultOp{},
		conns:     f.connections("warren_insult", "the insult service"),
		catalogue: f.gauge("warren_insult_catalogue_insults", "Insults in the insult service's copy of the catalogue."),
	}
	for _, op := range append(append([]string(nil), ops...), OpInvalid) {
		o := &insultOp{duration: duration.WithLabelValues(op)}
		for i := range outcomes {
			o.requests[i] = requests.WithLabelValues(op, i.String())
		}
		m.ops[op] = o
	}
	return m
}

// Request records one request of op that ended with outcome after seconds. An op NewInsult was not given counts
// as OpInvalid.
func (m *Insult) Request(op string, outcome Outcome, seconds float64) {
	if m == nil || outcome < 0 || outcome >= outcomes {
		return
	}
	o, ok := m.ops[op]
	if !ok {
		o = m.ops[OpInvalid]
	}
	o.requests[outcome].Inc()
	o.duration.Observe(seconds)
}

// Connected records a broker connection; every one after the first is a reconnect.
func (m *Insult) Connected() {
	if m != nil {
		m.conns.connected()
	}
}

// Catalogue records the size of the service's catalogue.
func (m *Insult) Catalogue(insults int) {
	if m != nil {
		m.catalogue.Set(float64(insults))
	}
}
