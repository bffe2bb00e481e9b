package simulate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/warren-mq/warren/loadgen/timeseries"
)

// Output file names inside WriteOutputs' directory: the same as loadgen's, so the same tools read both.
const (
	CSVFile = "timeseries.csv"
	PNGFile = "plot.png"
)

// maxMarks is the most trace segments marked on a plot; a trace with more (a sine) would be all marks.
const maxMarks = 12

// WriteOutputs writes r's samples into dir (created if needed) as loadgen writes a run: timeseries.csv and
// plot.png, with tr's rate changes marked when there are few of them. It returns the paths written.
func WriteOutputs(dir string, tr Trace, r Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	var buf bytes.Buffer
	if err := timeseries.WriteCSV(&buf, r.Start, r.Samples); err != nil {
		return nil, err
	}
	csvPath := filepath.Join(dir, CSVFile)
	if err := os.WriteFile(csvPath, buf.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", csvPath, err)
	}
	files := []string{csvPath}
	if len(r.Samples) == 0 {
		return files, nil // nothing to plot: the trace ended before the first evaluation
	}
	var marks []timeseries.Mark
	if len(tr.Segments) <= maxMarks {
		for _, s := range tr.Segments {
			marks = append(marks, timeseries.Mark{At: s.Start, Label: fmt.Sprintf("%.0f/s", s.Rate)})
		}
		marks = append(marks, timeseries.Mark{At: tr.End, Label: "end"})
	}
	pngPath := filepath.Join(dir, PNGFile)
	opts := timeseries.PlotOptions{Title: fmt.Sprintf("Warren simulation: %s, %s", r.Trace, r.Policy), Start: r.Start, Marks: marks}
	if err := timeseries.SavePlot(pngPath, r.Samples, opts); err != nil {
		return files, err
	}
	return append(files, pngPath), nil
}
