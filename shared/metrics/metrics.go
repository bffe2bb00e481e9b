// Package metrics holds the Prometheus metrics Warren's services export, named by Prometheus' conventions:
// the warren_ prefix, the unit in the name, _total on counters, histograms in seconds. Each service builds
// its own registry (NewRegistry), so services embedded in one test process never share or clash.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry holding the Go runtime and process collectors, which every service exports.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// HandlerBuckets are the handler-duration buckets, in seconds: from 100 µs (censoring a short text) to 10 s
// (a handler stuck on a slow publish).
var HandlerBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Worker is what every worker exports: the work it did, what it holds now, and its connection's history.
// Its methods are safe for concurrent use; a nil *Worker ignores every call, so code paths without metrics
// (tests, tools) need no checks.
type Worker struct {
	processed    prometheus.Counter
	failed       prometheus.Counter
	deadLettered prometheus.Counter
	conns        *connections
	duration     prometheus.Histogram
	catalogue    prometheus.Gauge
	invalidKeys  prometheus.Counter
}

// NewWorker registers a worker's metrics on reg, labelled with its pool and name (the name the master knows it
// by), and reads held and in-flight deliveries from the given functions when scraped. A nil reg registers
// nothing and returns nil, a *Worker that ignores every call.
func NewWorker(reg prometheus.Registerer, pool, worker string, held, inFlight func() float64) *Worker {
	if reg == nil {
		return nil
	}
	f := factory{reg: reg, labels: prometheus.Labels{"pool": pool, "worker": worker}}
	w := &Worker{
		processed:    f.counter("warren_worker_events_processed_total", "Events the worker's handlers processed successfully."),
		failed:       f.counter("warren_worker_events_failed_total", "Handler runs that failed (each retry counts; a failure that is retried and then succeeds counts too)."),
		deadLettered: f.counter("warren_worker_events_dead_lettered_total", "Events the worker dead-lettered to warren.dead, with their reason."),
		conns:        f.connections("warren_worker", "the worker"),
		duration: f.histogram("warren_worker_handler_duration_seconds",
			"Time one handler run took, in seconds, successful or not.", HandlerBuckets),
		catalogue: f.gauge("warren_worker_catalogue_insults", "Insults in the worker's copy of the catalogue."),
		invalidKeys: f.counter("warren_worker_invalid_keys_total",
			"Events whose x-warren-key was not a fairness key (longer than 255 bytes, not UTF-8, not a string), counted as the shared \"\" key."),
	}
	f.gaugeFunc("warren_worker_deliveries_held", "Deliveries the worker holds unacknowledged: in its handlers and prefetched.", held)
	f.gaugeFunc("warren_worker_deliveries_in_flight", "Deliveries the worker's handlers are processing now.", inFlight)
	return w
}

// Handled records one handler run that took seconds; ok is false for a failure.
func (w *Worker) Handled(seconds float64, ok bool) {
	if w == nil {
		return
	}
	w.duration.Observe(seconds)
	if ok {
		w.processed.Inc()
	} else {
		w.failed.Inc()
	}
}

// InvalidKey records one event whose fairness key was invalid.
func (w *Worker) InvalidKey() {
	if w != nil {
		w.invalidKeys.Inc()
	}
}

// DeadLettered records one event sent to warren.dead.
func (w *Worker) DeadLettered() {
	if w != nil {
		w.deadLettered.Inc()
	}
}

// Connected records a broker connection; every one after the first is a reconnect.
func (w *Worker) Connected() {
	if w != nil {
		w.conns.connected()
	}
}

// Catalogue records the size of the worker's catalogue.
func (w *Worker) Catalogue(insults int) {
	if w != nil {
		w.catalogue.Set(float64(insults))
	}
}

// connections counts a service's broker connections, and those after the first as reconnects: the rule lives
// here so that services only say "connected".
type connections struct {
	connects, reconnects prometheus.Counter
	seen                 atomic.Bool
}

func (c *connections) connected() {
	c.connects.Inc()
	if c.seen.Swap(true) {
		c.reconnects.Inc()
	}
}

// connections registers prefix_connections_total and prefix_reconnects_total; who names the service in
// their help.
func (f factory) connections(prefix, who string) *connections {
	return &connections{
		connects:   f.counter(prefix+"_connections_total", "Broker connections "+who+" opened (the first included)."),
		reconnects: f.counter(prefix+"_reconnects_total", "Broker connections "+who+" opened again after losing one."),
	}
}

// factory registers collectors with one set of constant labels.
type factory struct {
	reg    prometheus.Registerer
	labels prometheus.Labels
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeFunc(name, help string, fn func() float64) {
	if fn == nil {
		fn = func() float64 { return 0 }
	}
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels}, fn))
}

func (f factory) histogram(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: f.labels, Buckets: buckets})
	f.reg.MustRegister(h)
	return h
}
