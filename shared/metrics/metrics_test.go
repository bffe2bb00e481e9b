package metrics

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/warren-mq/warren/shared/metrics/metricstest"
)

var ops = []string{"add", "remove", "list", "random", "broadcast_on", "broadcast_off"}

func TestNilIgnoresEveryCall(t *testing.T) {
	var w *Worker
	w.Handled(0.1, true)
	w.Handled(0.1, false)
	w.DeadLettered()
	w.Connected()
	w.Catalogue(3)
	var m *Insult
	m.Request("add", OutcomeOK, 0.1)
	m.Connected()
	m.Catalogue(3)
	if NewWorker(nil, "p", "w", nil, nil) != nil || NewInsult(nil, ops) != nil {
		t.Fatal("a nil registry must give nil metrics")
	}
}

// TestLint runs Prometheus' own linter over every collector Warren registers.
func TestLint(t *testing.T) {
	reg := NewRegistry()
	NewWorker(reg, "filter", "filter-1", func() float64 { return 3 }, nil)
	NewInsult(reg, ops)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	// GatherAndLint lints what was gathered; the histograms must have series for that, and they do.
	if n, err := testutil.GatherAndCount(reg, "warren_worker_handler_duration_seconds", "warren_insult_request_duration_seconds"); err != nil || n != 1+len(ops)+1 {
		t.Errorf("histograms gathered: %d (%v)", n, err)
	}
}

func TestWorkerCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	held := 7.0
	w := NewWorker(reg, "filter", "filter-1", func() float64 { return held }, func() float64 { return 2 })
	w.Handled(0.001, true)
	w.Handled(0.002, true)
	w.Handled(0.5, false)
	w.DeadLettered()
	w.Connected()
	w.Connected()
	w.Catalogue(12)
	metricstest.Gather(t, reg).Expect(t, map[string]float64{
		"warren_worker_events_processed_total": 2, "warren_worker_events_failed_total": 1,
		"warren_worker_events_dead_lettered_total": 1, "warren_worker_connections_total": 2,
		"warren_worker_reconnects_total": 1, "warren_worker_catalogue_insults": 12,
		"warren_worker_deliveries_held": 7, "warren_worker_deliveries_in_flight": 2,
	})
	if n := testutil.CollectAndCount(reg, "warren_worker_handler_duration_seconds"); n != 1 {
		t.Errorf("duration series: %d", n)
	}
}

func TestInsultCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewInsult(reg, ops)
	m.Request("add", OutcomeOK, 0.01)
	m.Request("add", OutcomeOK, 0.01)
	m.Request("random", OutcomeRefused, 0.01)
	m.Request("shout", OutcomeInvalid, 0.01) // not an op: counted as invalid
	m.Request(OpInvalid, OutcomeInvalid, 0.01)
	m.Request("add", Outcome(99), 0.01) // not an outcome: ignored
	got := map[string]float64{}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "warren_insult_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			var op, outcome string
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "op":
					op = l.GetValue()
				case "outcome":
					outcome = l.GetValue()
				}
			}
			got[op+"/"+outcome] = s.GetCounter().GetValue()
		}
	}
	if len(got) != (len(ops)+1)*int(outcomes) {
		t.Errorf("%d series, want every op and outcome exported from the start: %v", len(got), got)
	}
	for k, v := range map[string]float64{"add/ok": 2, "random/refused": 1, "invalid/invalid": 2, "add/error": 0, "list/ok": 0} {
		if got[k] != v {
			t.Errorf("%s = %g, want %g", k, got[k], v)
		}
	}
}

// TestHotPathDoesNotAllocate: recording runs once per message, so it must cost no garbage.
func TestHotPathDoesNotAllocate(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := NewWorker(reg, "filter", "filter-1", nil, nil)
	m := NewInsult(reg, ops)
	if n := testing.AllocsPerRun(100, func() { w.Handled(0.001, true); w.Handled(0.001, false) }); n != 0 {
		t.Errorf("Worker.Handled: %g allocations per run", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.Request("list", OutcomeOK, 0.001); m.Request("nope", OutcomeInvalid, 0.001) }); n != 0 {
		t.Errorf("Insult.Request: %g allocations per run", n)
	}
}

func TestDescribe(t *testing.T) {
	reg := NewRegistry()
	NewWorker(reg, "filter", "filter-1", nil, nil)
	NewInsult(reg, ops)
	docs, err := Describe(reg, "warren_")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Doc{}
	var names []string
	for _, d := range docs {
		byName[d.Name] = d
		names = append(names, d.Name)
	}
	if !slices.IsSorted(names) || len(docs) != 15 {
		t.Fatalf("docs %v: want the 15 warren_ families, sorted", names)
	}
	for name, want := range map[string]Doc{
		"warren_worker_events_processed_total":   {Type: "counter", Labels: []string{"pool", "worker"}},
		"warren_worker_handler_duration_seconds": {Type: "histogram", Labels: []string{"pool", "worker"}},
		"warren_worker_deliveries_held":          {Type: "gauge", Labels: []string{"pool", "worker"}},
		"warren_insult_requests_total":           {Type: "counter", Labels: []string{"op", "outcome"}},
		"warren_insult_request_duration_seconds": {Type: "histogram", Labels: []string{"op"}},
		"warren_insult_reconnects_total":         {Type: "counter", Labels: []string{}},
	} {
		d := byName[name]
		if d.Type != want.Type || !slices.Equal(d.Labels, want.Labels) || d.Help == "" {
			t.Errorf("%s: %+v, want type %s labels %v and help", name, d, want.Type, want.Labels)
		}
	}
	all, err := Describe(reg, "")
	if err != nil || len(all) <= len(docs) {
		t.Errorf("Describe with no prefix: %d families (%v), want the runtime's too", len(all), err)
	}
	md := Markdown(docs)
	if lines := strings.Count(md, "\n"); lines != 2+len(docs) {
		t.Errorf("table of %d lines for %d families:\n%s", lines, len(docs), md)
	}
	for _, want := range []string{"| `warren_insult_requests_total` | counter | `op`, `outcome` |", "| `warren_insult_reconnects_total` | counter | — |"} {
		if !strings.Contains(md, want) {
			t.Errorf("table lacks %q:\n%s", want, md)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	for o, want := range map[Outcome]string{OutcomeOK: "ok", OutcomeRefused: "refused", OutcomeInvalid: "invalid", OutcomeError: "error", Outcome(-1): "unknown"} {
		if o.String() != want {
			t.Errorf("%d: %q, want %q", o, o.String(), want)
		}
	}
}
