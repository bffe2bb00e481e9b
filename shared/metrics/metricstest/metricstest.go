// Package metricstest reads a service's /metrics the way Prometheus does, for tests that check what a running
// service exports.
package metricstest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Fetch scrapes http://addr/metrics in the text format.
func Fetch(ctx context.Context, addr string) (Families, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	// No keep-alive: an idle connection's goroutines would outlive the test and trip goleak.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: parse: %w", addr, err)
	}
	return fams, nil
}

// Scrape is Fetch that fails the test on error.
func Scrape(t testing.TB, addr string) Families {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Fetch(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Gather reads the families of a registry in the process, as Scrape reads those of a running service.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	f := make(Families, len(fams))
	for _, fam := range fams {
		f[fam.GetName()] = fam
	}
	return f
}

// One returns the value of name's only series, failing the test when it has none or several.
func (f Families) One(t testing.TB, name string) float64 {
	t.Helper()
	if fam := f[name]; fam == nil || len(fam.GetMetric()) != 1 {
		t.Fatalf("%s: not gathered as exactly one series", name)
	}
	v, _ := f.Value(name)
	return v
}

// Expect checks that each named family has one series, of the value wanted.
func (f Families) Expect(t testing.TB, want map[string]float64) {
	t.Helper()
	for name, w := range want {
		if got := f.One(t, name); got != w {
			t.Errorf("%s = %g, want %g", name, got, w)
		}
	}
}

// Value returns the value of the series of name carrying the given labels (name, value pairs; other labels
// may differ), summed over every series that matches: a counter's or gauge's value, a histogram's or summary's
// count. ok is false when no series matches.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	fam := f[name]
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Summary != nil:
			v += float64(m.Summary.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
