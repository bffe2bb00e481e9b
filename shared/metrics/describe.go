package metrics

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Doc describes one metric family for documentation: what a README table lists.
type Doc struct {
	Name string
	// Type is counter, gauge, histogram, summary or untyped.
	Type string
	Help string
	// Labels are the label names the family's series carry, sorted; a histogram's le is not listed.
	Labels []string
}

// Describe gathers g and describes the families whose names begin with prefix ("" for all), sorted by name.
// Only families with at least one series are seen, so export every label combination at zero from the start
// (as NewInsult does) for it to be documented.
func Describe(g prometheus.Gatherer, prefix string) ([]Doc, error) {
	fams, err := g.Gather()
	if err != nil {
		return nil, fmt.Errorf("gather metrics: %w", err)
	}
	var docs []Doc
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), prefix) {
			continue
		}
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		d := Doc{Name: f.GetName(), Type: typeName(f.GetType()), Help: f.GetHelp(), Labels: []string{}}
		for l := range labels {
			d.Labels = append(d.Labels, l)
		}
		slices.Sort(d.Labels)
		docs = append(docs, d)
	}
	sort.Slice(docs, func(i, j int) bool { return docs[i].Name < docs[j].Name })
	return docs, nil
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	}
	return "untyped"
}

// Markdown renders docs as a Markdown table (name, type, labels, meaning), one row per family, for a README
// and for a test that checks the README against the code.
func Markdown(docs []Doc) string {
	var b strings.Builder
	b.WriteString("| Metric | Type | Labels | Meaning |\n|---|---|---|---|\n")
	for _, d := range docs {
		labels := "—"
		if len(d.Labels) > 0 {
			labels = "`" + strings.Join(d.Labels, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", d.Name, d.Type, labels, strings.ReplaceAll(d.Help, "|", `\|`))
	}
	return b.String()
}
