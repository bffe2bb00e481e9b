package master

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/metrics"
)

// Causes of a worker stop or replacement, as the metrics label them.
const (
	causeScaleDown = "scale_down"
	causeExited    = "exited"
	causeUnhealthy = "unhealthy"
	causeSilent    = "silent"
	causeShutdown  = "shutdown"
)

// masterMetrics is what the master exports on master.status_addr/metrics: per pool, what it measured, what it
// decided and why, and what it did to the workers. Every vector is labelled by pool; the label values of
// reason, cause and source are small fixed sets (scaler.Reason*, cause*, capacity sources).
type masterMetrics struct {
	lambda, lambdaRaw *prometheus.GaugeVec
	backlog           *prometheus.GaugeVec
	capacity          *prometheus.GaugeVec
	workers, desired  *prometheus.GaugeVec
	consumers         *prometheus.GaugeVec
	decisions         *prometheus.CounterVec
	evalSeconds       *prometheus.HistogramVec
	starts            *prometheus.CounterVec
	startFailures     *prometheus.CounterVec
	stops             *prometheus.CounterVec
	replacements      *prometheus.CounterVec
	startLatency      *prometheus.HistogramVec
}

// newMasterMetrics registers the master's metrics on reg; leading and connected are read at each scrape, so the
// gauges show the master's own state rather than a copy of it.
func newMasterMetrics(reg prometheus.Registerer, leading, connected func() bool) *masterMetrics {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append([]string{"pool"}, labels...))
		reg.MustRegister(v)
		return v
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{"pool"}, labels...))
		reg.MustRegister(v)
		return v
	}
	histogram := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, []string{"pool"})
		reg.MustRegister(v)
		return v
	}
	m := &masterMetrics{
		lambda:    gauge("warren_pool_arrival_rate_events_per_second", "Smoothed arrival rate λ the master sizes the pool by."),
		lambdaRaw: gauge("warren_pool_arrival_rate_raw_events_per_second", "Arrival rate of the last evaluation window alone."),
		backlog: gauge("warren_pool_backlog_messages",
			"Backlog B by state: ready in the work queue, or held (unacknowledged) by the workers.", "state"),
		capacity: gauge("warren_pool_capacity_events_per_second",
			"One worker's capacity C, labelled with where it came from (static, auto, auto-initial, auto-last-known, auto-restored).", "source"),
		workers:   gauge("warren_pool_workers", "Running workers of the pool, not counting those being retired."),
		desired:   gauge("warren_pool_desired_workers", "Workers the latest decision asks for."),
		consumers: gauge("warren_pool_work_queue_consumers", "Consumers of the pool's work queue, as the broker counts them."),
		decisions: counter("warren_pool_decisions_total", "Evaluations by the reason of their decision.", "reason"),
		evalSeconds: histogram("warren_pool_evaluation_duration_seconds",
			"Time one evaluation took: measuring the queues, deciding, publishing the status.",
			[]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}),
		starts:        counter("warren_pool_worker_starts_total", "Workers the master started."),
		startFailures: counter("warren_pool_worker_start_failures_total", "Worker starts the runtime refused."),
		stops: counter("warren_pool_worker_stops_total",
			"Workers the master stopped, by cause: scale_down, unhealthy, silent, shutdown.", "cause"),
		replacements: counter("warren_pool_worker_replacements_total",
			"Workers replaced, by cause: exited (crashed or killed), unhealthy, silent.", "cause"),
		startLatency: histogram("warren_pool_worker_start_latency_seconds",
			"Time from asking the runtime for a worker to the worker's first report.",
			[]float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60}),
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warren_master_leader",
			Help: "1 while this master holds the leader lock and scales, 0 while it waits as a standby."},
			func() float64 { return boolGauge(leading()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "warren_master_broker_connected",
			Help: "1 while the master is connected to the broker."},
			func() float64 { return boolGauge(connected()) }))
	return m
}

// initPool creates a pool's series at zero, so that a dashboard or an alert sees them before the first event.
func (m *masterMetrics) initPool(pool string) {
	for _, r := range scaler.Reasons() {
		m.decisions.WithLabelValues(pool, r)
	}
	m.starts.WithLabelValues(pool)
	m.startFailures.WithLabelValues(pool)
	for _, c := range []string{causeScaleDown, causeUnhealthy, causeSilent, causeShutdown} {
		m.stops.WithLabelValues(pool, c)
	}
	for _, c := range []string{causeExited, causeUnhealthy, causeSilent} {
		m.replacements.WithLabelValues(pool, c)
	}
	m.backlog.WithLabelValues(pool, "ready")
	m.backlog.WithLabelValues(pool, "held")
	m.workers.WithLabelValues(pool)
	m.desired.WithLabelValues(pool)
}

// evaluated records one evaluation's inputs and decision.
func (m *masterMetrics) evaluated(st event.PoolStatus, seconds float64) {
	p := st.Pool
	m.lambda.WithLabelValues(p).Set(st.Lambda)
	m.lambdaRaw.WithLabelValues(p).Set(st.LambdaRaw)
	m.backlog.WithLabelValues(p, "ready").Set(float64(st.Ready))
	m.backlog.WithLabelValues(p, "held").Set(float64(st.InFlight))
	// One series per pool: the source is a label, so a change of source replaces the series.
	m.capacity.DeletePartialMatch(prometheus.Labels{"pool": p})
	m.capacity.WithLabelValues(p, st.CapacitySource).Set(st.Capacity)
	m.desired.WithLabelValues(p).Set(float64(st.Desired))
	m.consumers.WithLabelValues(p).Set(float64(st.Consumers))
	m.decisions.WithLabelValues(p, st.Reason).Inc()
	m.evalSeconds.WithLabelValues(p).Observe(seconds)
}

// newRegistry is the master's registry: the process collectors, and the master's own metrics.
func newRegistry(leading, connected func() bool) (*prometheus.Registry, *masterMetrics) {
	reg := metrics.NewRegistry()
	return reg, newMasterMetrics(reg, leading, connected)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
