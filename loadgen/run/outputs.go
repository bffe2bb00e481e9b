package run

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/loadgen/timeseries"
)

// Output file names inside Options.Out.
const (
	CSVFile        = "timeseries.csv"
	PNGFile        = "plot.png"
	SVGFile        = "plot.svg"
	ReportJSONFile = "report.json"
	ReportTextFile = "report.txt"
	// SourcesCSVFile holds each source's sends, results and latency per second; only a multi-source run
	// writes it.
	SourcesCSVFile = "sources.csv"
)

// writeOutputs writes the run's files into dir and returns the paths written. A plot needs samples; without
// any (a run that ended before its first second) it is left out, and the CSV has its header only.
func writeOutputs(dir string, sc *scenario.Scenario, out Outcome) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	var files []string
	write := func(name string, data []byte) error {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		files = append(files, path)
		return nil
	}
	var errs []error
	var buf bytes.Buffer
	if err := out.Report.WriteJSON(&buf); err != nil {
		errs = append(errs, err)
	} else if err := write(ReportJSONFile, buf.Bytes()); err != nil {
		errs = append(errs, err)
	}
	if err := write(ReportTextFile, []byte(out.Report.Text())); err != nil {
		errs = append(errs, err)
	}
	buf.Reset()
	if err := timeseries.WriteCSV(&buf, out.Start, out.Samples); err != nil {
		errs = append(errs, err)
	} else if err := write(CSVFile, buf.Bytes()); err != nil {
		errs = append(errs, err)
	}
	if len(out.SourceSeries) > 0 {
		buf.Reset()
		if err := timeseries.WriteSourcesCSV(&buf, out.Start, out.SourceSeries); err != nil {
			errs = append(errs, err)
		} else if err := write(SourcesCSVFile, buf.Bytes()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(out.Samples) > 0 {
		opts := timeseries.PlotOptions{Title: "Warren load: " + sc.Name, Start: out.Start, Marks: stepMarks(sc),
			Sources: out.SourceSeries}
		for _, name := range []string{PNGFile, SVGFile} {
			path := filepath.Join(dir, name)
			if err := timeseries.SavePlot(path, out.Samples, opts); err != nil {
				errs = append(errs, err)
				continue
			}
			files = append(files, path)
		}
	}
	return files, errors.Join(errs...)
}

// stepMarks labels where each step starts and where the drain begins, so a plot shows cause next to effect.
// In a multi-source scenario each label names its source, and steps of several sources that start at once
// share one mark.
func stepMarks(sc *scenario.Scenario) []timeseries.Mark {
	var marks []timeseries.Mark
	at := map[time.Duration]int{}
	for _, src := range sc.AllSources() {
		var t time.Duration
		for i, st := range src.Steps {
			label := stepLabel(st)
			switch {
			case src.Name != "" && len(src.Steps) == 1:
				label = src.Name + ": " + label
			case src.Name != "":
				label = fmt.Sprintf("%s %d: %s", src.Name, i+1, label)
			default:
				label = fmt.Sprintf("%d: %s", i+1, label)
			}
			if j, ok := at[t]; ok {
				marks[j].Label += ", " + label
			} else {
				at[t] = len(marks)
				marks = append(marks, timeseries.Mark{At: t, Label: label})
			}
			t += st.Duration()
		}
	}
	slices.SortStableFunc(marks, func(a, b timeseries.Mark) int { return cmp.Compare(a.At, b.At) })
	return append(marks, timeseries.Mark{At: sc.Duration(), Label: "drain"})
}

// stepLabel describes a step: its pattern and average rate, or "pause".
func stepLabel(st scenario.Step) string {
	if st.IsPause() {
		return "pause"
	}
	label := string(st.Pattern.Kind)
	if rate := st.ExpectedEvents() / st.Duration().Seconds(); rate > 0 {
		label += fmt.Sprintf(" %.0f/s", rate)
	}
	return label
}
