package master

import (
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warren-mq/warren/services/master/scaler"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/metrics"
)

// TestREADMEDocumentsEveryMetric checks that the README's metric tables are the ones generated from the
// master's, the workers' and the insult service's registries: a metric added, renamed or re-described without
// its README row fails here, and the failure prints the table to paste.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	reg, mm := newRegistry(func() bool { return false }, func() bool { return true })
	mm.initPool("filter")
	mm.evaluated(event.PoolStatus{Pool: "filter", CapacitySource: scaler.SourceAuto, Reason: scaler.ReasonHold}, 0)
	mm.startLatency.WithLabelValues("filter").Observe(1)
	workers := prometheus.NewRegistry()
	metrics.NewWorker(workers, "filter", "w", nil, nil).Handled(0.001, true)
	insult := prometheus.NewRegistry()
	metrics.NewInsult(insult, []string{"list"})
	for _, tc := range []struct {
		what   string
		g      prometheus.Gatherer
		prefix string
	}{
		{"master", reg, "warren_"},
		{"worker", workers, "warren_"},
		{"insult service", insult, "warren_"},
	} {
		docs, err := metrics.Describe(tc.g, tc.prefix)
		if err != nil {
			t.Fatal(err)
		}
		table := metrics.Markdown(docs)
		var missing []string
		for _, line := range strings.Split(strings.TrimSpace(table), "\n") {
			if !strings.Contains(string(readme), line+"\n") {
				missing = append(missing, line)
			}
		}
		if len(missing) > 0 {
			t.Errorf("README.md lacks %d line(s) of the %s metrics table, for instance\n%s\nthe whole table:\n%s",
				len(missing), tc.what, missing[0], table)
		}
	}
}
