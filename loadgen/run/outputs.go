package run

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	if len(out.Samples) > 0 {
		opts := timeseries.PlotOptions{Title: "Warren load: " + sc.Name, Start: out.Start, Marks: stepMarks(sc)}
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
func stepMarks(sc *scenario.Scenario) []timeseries.Mark {
	var marks []timeseries.Mark
	var at time.Duration
	for i, st := range sc.Steps {
		label := fmt.Sprintf("%d: pause", i+1)
		if !st.IsPause() {
			label = fmt.Sprintf("%d: %s", i+1, st.Pattern.Kind)
			if rate := st.ExpectedEvents() / st.Duration().Seconds(); rate > 0 {
				label += fmt.Sprintf(" %.0f/s", rate)
			}
		}
		marks = append(marks, timeseries.Mark{At: at, Label: label})
		at += st.Duration()
	}
	return append(marks, timeseries.Mark{At: at, Label: "drain"})
}
