package timeseries

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Decision is a change in a pool's desired worker count: the moment the master decided to scale.
type Decision struct {
	// At is the time of the first sample with the new desired count.
	At time.Time
	// Pool names the pool that scales.
	Pool string
	// From and To are the desired counts before and after.
	From, To int
	// Reason is the master's explanation, from the sample that shows the change.
	Reason string
}

// Up reports whether the decision adds workers.
func (d Decision) Up() bool { return d.To > d.From }

// Decisions returns every change of a pool's desired count, in time order, comparing each sample with the
// previous one of the same pool.
func Decisions(samples []Sample) []Decision {
	var out []Decision
	for _, s := range byPool(samples) {
		for i := 1; i < len(s.samples); i++ {
			prev, cur := s.samples[i-1], s.samples[i]
			if cur.Desired != prev.Desired {
				out = append(out, Decision{At: cur.T, Pool: s.pool, From: prev.Desired, To: cur.Desired, Reason: cur.Reason})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Decision) int { return a.At.Compare(b.At) })
	return out
}

// Mark is a labelled moment drawn across every panel, such as the start of a scenario step.
type Mark struct {
	// At is the time since the plot's start.
	At time.Duration
	// Label is written beside the line in the top panel.
	Label string
}

// PlotOptions adjusts a plot. The zero value is usable.
type PlotOptions struct {
	// Title heads the plot.
	Title string
	// Start is time zero on the x axis; zero means the first sample's time.
	Start time.Time
	// Marks are drawn as labelled vertical lines, e.g. scenario step boundaries.
	Marks []Mark
	// Sources, when there are two or more, add a fourth panel: each source's p99 and maximum end-to-end
	// latency per interval, by the time results arrived, on a log scale.
	Sources []SourceSeries
	// Width and Height are the image size; zero means 11 × 8.5 inches (1056 × 816 pixels as PNG).
	Width, Height vg.Length
}

// Colours are picked to stay apart for readers with the common colour-vision deficiencies.
var (
	poolColors = []color.Color{
		color.RGBA{R: 0x00, G: 0x72, B: 0xb2, A: 0xff}, // blue
		color.RGBA{R: 0xe6, G: 0x9f, B: 0x00, A: 0xff}, // orange
		color.RGBA{R: 0xcc, G: 0x79, B: 0xa7, A: 0xff}, // purple
		color.RGBA{R: 0x56, G: 0xb4, B: 0xe9, A: 0xff}, // sky
	}
	sentColor   = color.RGBA{R: 0x66, G: 0x66, B: 0x66, A: 0xff}
	resultColor = color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}
	upColor     = color.RGBA{R: 0x00, G: 0x9e, B: 0x73, A: 0xff}
	downColor   = color.RGBA{R: 0xd5, G: 0x5e, B: 0x00, A: 0xff}
	markColor   = color.RGBA{R: 0x99, G: 0x99, B: 0x99, A: 0xff}
)

// SavePlot draws the samples into path, as PNG or SVG after its extension.
func SavePlot(path string, samples []Sample, opts PlotOptions) (err error) {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "png" && format != "svg" {
		return fmt.Errorf("save plot %s: unsupported format %q (want .png or .svg)", path, format)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("save plot: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("save plot: %w", cerr)
		}
	}()
	if err := WritePlot(f, format, samples, opts); err != nil {
		return fmt.Errorf("save plot %s: %w", path, err)
	}
	return nil
}

// WritePlot draws the samples as "png" or "svg" to w: three panels sharing the time axis — arrival, send and
// result rates; backlog; workers, current and desired, with each scaling decision marked — and, for two or
// more sources, a fourth with each source's latency.
func WritePlot(w io.Writer, format string, samples []Sample, opts PlotOptions) error {
	if len(samples) == 0 {
		return errors.New("no samples to plot")
	}
	width, height := opts.Width, opts.Height
	if width <= 0 {
		width = 11 * vg.Inch
	}
	if height <= 0 {
		height = 8.5 * vg.Inch
	}
	var canvas vg.CanvasWriterTo
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.New(width, height)}
	case "svg":
		canvas = vgsvg.New(width, height)
	default:
		return fmt.Errorf("unsupported plot format %q (want png or svg)", format)
	}
	plots := panels(samples, opts)
	dc := draw.New(canvas)
	// A white background, since a transparent PNG is unreadable in a dark viewer.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(10)}
	grid := make([][]*plot.Plot, len(plots))
	for i, p := range plots {
		grid[i] = []*plot.Plot{p}
	}
	for i, row := range plot.Align(grid, tiles, dc) {
		plots[i].Draw(row[0])
	}
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("write %s: %w", format, err)
	}
	return nil
}

// poolSeries is one pool's samples in time order.
type poolSeries struct {
	pool    string
	samples []Sample
}

// byPool splits samples per pool, pools in order of first appearance, each sorted by time.
func byPool(samples []Sample) []poolSeries {
	var out []poolSeries
	idx := map[string]int{}
	for _, s := range samples {
		i, ok := idx[s.Pool]
		if !ok {
			i = len(out)
			idx[s.Pool] = i
			out = append(out, poolSeries{pool: s.Pool})
		}
		out[i].samples = append(out[i].samples, s)
	}
	for i := range out {
		slices.SortStableFunc(out[i].samples, func(a, b Sample) int { return a.T.Compare(b.T) })
	}
	return out
}

// panels builds the three plots, four with sources; they share an x range so plot.Align lines them up.
func panels(samples []Sample, opts PlotOptions) []*plot.Plot {
	start := opts.Start
	if start.IsZero() {
		start = samples[0].T
		for _, s := range samples {
			if s.T.Before(start) {
				start = s.T
			}
		}
	}
	x := func(t time.Time) float64 { return t.Sub(start).Seconds() }
	series := byPool(samples)
	decisions := Decisions(samples)

	rates := newPanel(opts.Title, "events/s")
	backlog := newPanel("", "backlog (events)")
	workers := newPanel("", "workers")
	workers.Y.Tick.Marker = intTicker{}
	all := []*plot.Plot{rates, backlog, workers}
	if len(opts.Sources) > 1 {
		all = append(all, latencyPanel(opts.Sources, x))
	}
	all[len(all)-1].X.Label.Text = "time since start (s)"

	var rateMax, backlogMax, workersMax float64
	for i, ps := range series {
		col := poolColors[i%len(poolColors)]
		name := ps.pool
		if len(series) == 1 {
			name = ""
		}
		lambda, back, cur, want := make(plotter.XYs, 0, len(ps.samples)), make(plotter.XYs, 0, len(ps.samples)),
			make(plotter.XYs, 0, len(ps.samples)), make(plotter.XYs, 0, len(ps.samples))
		for _, s := range ps.samples {
			t := x(s.T)
			lambda = append(lambda, plotter.XY{X: t, Y: s.Lambda})
			back = append(back, plotter.XY{X: t, Y: float64(s.Backlog)})
			cur = append(cur, plotter.XY{X: t, Y: float64(s.Workers)})
			want = append(want, plotter.XY{X: t, Y: float64(s.Desired)})
			rateMax = max(rateMax, s.Lambda)
			backlogMax = max(backlogMax, float64(s.Backlog))
			workersMax = max(workersMax, float64(s.Workers), float64(s.Desired))
		}
		addLine(rates, lambda, col, 2, nil, plotter.NoStep, label("arrival rate λ", name))
		addLine(backlog, back, col, 2, nil, plotter.NoStep, label("backlog", name))
		// Worker counts change in steps, and a step line shows when each change took hold.
		addLine(workers, cur, col, 2, nil, plotter.PostStep, label("workers", name))
		addLine(workers, want, col, 1.2, []vg.Length{vg.Points(5), vg.Points(3)}, plotter.PostStep, label("desired", name))
	}

	// loadgen's own rates are the same in every pool's samples; the first pool carries them.
	first := series[0].samples
	sent, results := make(plotter.XYs, 0, len(first)), make(plotter.XYs, 0, len(first))
	for _, s := range first {
		sent = append(sent, plotter.XY{X: x(s.T), Y: s.SentRate})
		results = append(results, plotter.XY{X: x(s.T), Y: s.ResultRate})
		rateMax = max(rateMax, s.SentRate, s.ResultRate)
	}
	addLine(rates, sent, sentColor, 1.2, []vg.Length{vg.Points(5), vg.Points(3)}, plotter.NoStep, "sent by loadgen")
	addLine(rates, results, resultColor, 1.2, []vg.Length{vg.Points(1.5), vg.Points(2.5)}, plotter.NoStep, "results")

	// Decisions: a marker where the desired count changed, and a faint line through the panels above it.
	if len(decisions) > 0 {
		var ups, downs decisionMarks
		for _, d := range decisions {
			m := decisionMark{x: x(d.At), y: float64(d.To), text: strconv.Itoa(d.To)}
			if d.Up() {
				ups = append(ups, m)
			} else {
				downs = append(downs, m)
			}
		}
		for _, p := range []*plot.Plot{rates, backlog} {
			p.Add(&vlines{marks: ups.asMarks(), color: upColor, dashes: []vg.Length{vg.Points(2), vg.Points(3)}})
			p.Add(&vlines{marks: downs.asMarks(), color: downColor, dashes: []vg.Length{vg.Points(2), vg.Points(3)}})
		}
		if len(ups) > 0 {
			addMarks(workers, ups, upColor, upGlyph{}, "scale up")
		}
		if len(downs) > 0 {
			addMarks(workers, downs, downColor, downGlyph{}, "scale down")
		}
	}
	if len(opts.Marks) > 0 {
		marks := make([]labelledX, len(opts.Marks))
		for i, m := range opts.Marks {
			marks[i] = labelledX{x: m.At.Seconds(), text: m.Label}
		}
		for i, p := range all {
			vl := &vlines{marks: marks, color: markColor, width: 0.8}
			if i == 0 {
				vl.labelled = true
			}
			p.Add(vl)
		}
	}

	// Headroom above the data keeps the legend, at the top, off the lines.
	rates.Y.Min, rates.Y.Max = 0, niceMax(rateMax)*1.4
	backlog.Y.Min, backlog.Y.Max = 0, niceMax(backlogMax)*1.4
	workers.Y.Min, workers.Y.Max = 0, math.Max(workersMax+1, 2)*1.35

	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, p := range all {
		xmin, xmax = math.Min(xmin, p.X.Min), math.Max(xmax, p.X.Max)
	}
	for _, m := range opts.Marks {
		xmin, xmax = math.Min(xmin, m.At.Seconds()), math.Max(xmax, m.At.Seconds())
	}
	xmin = math.Min(xmin, 0)
	if xmax <= xmin {
		xmax = xmin + 1
	}
	for _, p := range all {
		p.X.Min, p.X.Max = xmin, xmax
	}
	return all
}

// maxDashes draws the latency panel's maximum lines.
var maxDashes = []vg.Length{vg.Points(5), vg.Points(3)}

// minLatencyMs is the floor of the latency panel's log scale, which cannot show zero.
const minLatencyMs = 0.001

// latencyPanel draws each source's p99 (solid) and maximum (dashed) latency per interval, in milliseconds on
// a log scale, at the middle of each interval with results.
func latencyPanel(series []SourceSeries, x func(time.Time) float64) *plot.Plot {
	p := newPanel("", "latency (ms)")
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicker{}
	lo, hi := math.Inf(1), 0.0
	for i, s := range series {
		col := poolColors[i%len(poolColors)]
		half := time.Second / 2
		if len(s.Points) > 1 {
			half = s.Points[1].T.Sub(s.Points[0].T) / 2
		}
		var p99, worst plotter.XYs
		for _, pt := range s.Points {
			if pt.Results == 0 {
				continue
			}
			t := x(pt.T.Add(half))
			a, b := math.Max(msOf(pt.P99), minLatencyMs), math.Max(msOf(pt.Max), minLatencyMs)
			p99 = append(p99, plotter.XY{X: t, Y: a})
			worst = append(worst, plotter.XY{X: t, Y: b})
			lo, hi = math.Min(lo, a), math.Max(hi, b)
		}
		if len(p99) == 0 {
			continue
		}
		addLine(p, p99, col, 2, nil, plotter.NoStep, label("p99", s.Source))
		addLine(p, worst, col, 1.2, maxDashes, plotter.NoStep, "")
	}
	// One legend entry for every source's maximum keeps the legend short.
	if key, err := plotter.NewLine(plotter.XYs{}); err == nil {
		key.Color, key.Width, key.Dashes = markColor, vg.Points(1.2), maxDashes
		p.Legend.Add("max (dashed)", key)
	}
	if hi == 0 {
		lo, hi = 1, 1
	}
	// Whole decades, with two more above the data for the legend at the top.
	p.Y.Min, p.Y.Max = math.Pow10(int(math.Floor(math.Log10(lo)))), math.Pow10(int(math.Ceil(math.Log10(hi)))+2)
	return p
}

// logTicker is gonum's LogTicks without the ticks it adds beyond the axis range, which would shrink the panel
// to make room for them.
type logTicker struct{}

// Ticks implements plot.Ticker.
func (logTicker) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.LogTicks{Prec: -1}).Ticks(lo, hi) {
		if t.Value >= lo*(1-1e-9) && t.Value <= hi*(1+1e-9) {
			out = append(out, t)
		}
	}
	return out
}

func newPanel(title, ylabel string) *plot.Plot {
	p := plot.New()
	// A sans-serif face reads better at small sizes than gonum's serif default. It is set per plot rather
	// than through plot.DefaultFont, which would change every other plot in the process.
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = secondsTicker{}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(6)
	// The legend sits one line down, leaving the top line for the labels of step marks.
	p.Legend.YOffs = -vg.Points(12)
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.ThumbnailWidth = vg.Points(22)
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe0}
	grid.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(grid)
	return p
}

func label(what, pool string) string {
	if pool == "" {
		return what
	}
	return what + " (" + pool + ")"
}

// addLine draws a line, with a legend entry unless name is empty.
func addLine(p *plot.Plot, xys plotter.XYs, col color.Color, width float64, dashes []vg.Length, step plotter.StepKind, name string) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		// NewLine refuses only NaN and infinite values, which a rate never is; drop the series rather than
		// the whole plot.
		return
	}
	l.Color = col
	l.Width = vg.Points(width)
	l.Dashes = dashes
	l.StepStyle = step
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
}

// niceMax keeps an all-zero panel from collapsing to no height.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	return v
}

// intTicker labels whole numbers only: there is no half a worker.
type intTicker struct{}

// Ticks implements plot.Ticker.
func (intTicker) Ticks(lo, hi float64) []plot.Tick {
	step := math.Max(1, math.Ceil((hi-lo)/8))
	var ticks []plot.Tick
	for v := math.Ceil(lo); v <= hi; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return ticks
}

// secondsTicker puts the time axis's ticks at round numbers of seconds, at most about a dozen of them, so a
// 35 s run is ticked every 5 s rather than every 20 s.
type secondsTicker struct{}

// Ticks implements plot.Ticker.
func (secondsTicker) Ticks(lo, hi float64) []plot.Tick {
	span := hi - lo
	if !(span > 0) || math.IsInf(span, 0) {
		return nil
	}
	step := 0.5
	for _, s := range []float64{0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600} {
		step = s
		if span/s <= 12 {
			break
		}
	}
	for span/step > 12 {
		step *= 2
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// labelledX is a position on the x axis with an optional label.
type labelledX struct {
	x    float64
	text string
}

// vlines draws vertical lines across a panel's whole height. It has no data range, so it never stretches
// the axes.
type vlines struct {
	marks    []labelledX
	color    color.Color
	width    float64
	dashes   []vg.Length
	labelled bool
}

// Plot implements plot.Plotter.
func (v *vlines) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	width := v.width
	if width == 0 {
		width = 0.7
	}
	ls := draw.LineStyle{Color: v.color, Width: vg.Points(width), Dashes: v.dashes}
	ts := draw.TextStyle{Color: color.Gray{Y: 0x55}, Font: p.Legend.TextStyle.Font, Handler: p.Legend.TextStyle.Handler,
		XAlign: draw.XLeft, YAlign: draw.YTop}
	ts.Font.Size = vg.Points(8)
	for _, m := range v.marks {
		if m.x < p.X.Min || m.x > p.X.Max {
			continue
		}
		px := trX(m.x)
		c.StrokeLine2(ls, px, c.Min.Y, px, c.Max.Y)
		if v.labelled && m.text != "" {
			c.FillText(ts, vg.Point{X: px + vg.Points(2), Y: c.Max.Y - vg.Points(2)}, m.text)
		}
	}
}

// decisionMark is one decision on the workers panel.
type decisionMark struct {
	x, y float64
	text string
}

type decisionMarks []decisionMark

func (d decisionMarks) asMarks() []labelledX {
	out := make([]labelledX, len(d))
	for i, m := range d {
		out[i] = labelledX{x: m.x}
	}
	return out
}

// addMarks draws glyphs at decisions, labelled with the new desired count.
func addMarks(p *plot.Plot, marks decisionMarks, col color.Color, glyph draw.GlyphDrawer, name string) {
	xys := make(plotter.XYs, len(marks))
	labels := make([]string, len(marks))
	for i, m := range marks {
		xys[i] = plotter.XY{X: m.x, Y: m.y}
		labels[i] = m.text
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: glyph}
	p.Add(sc)
	p.Legend.Add(name, sc)
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Color = col
		lb.TextStyle[i].Font.Variant = "Sans"
		lb.TextStyle[i].Font.Size = vg.Points(8)
		lb.TextStyle[i].XAlign = draw.XCenter
	}
	// Up labels sit above their marker and down labels below, away from the step line they mark.
	if _, down := glyph.(downGlyph); down {
		lb.Offset = vg.Point{Y: -vg.Points(15)}
	} else {
		lb.Offset = vg.Point{Y: vg.Points(6)}
	}
	p.Add(lb)
}

// upGlyph is a filled triangle pointing up.
type upGlyph struct{}

// DrawGlyph implements draw.GlyphDrawer.
func (upGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X, Y: pt.Y + r}, {X: pt.X - r, Y: pt.Y - r*0.7}, {X: pt.X + r, Y: pt.Y - r*0.7}})
}

// downGlyph is a filled triangle pointing down.
type downGlyph struct{}

// DrawGlyph implements draw.GlyphDrawer.
func (downGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	c.FillPolygon(sty.Color, []vg.Point{{X: pt.X, Y: pt.Y - r}, {X: pt.X - r, Y: pt.Y + r*0.7}, {X: pt.X + r, Y: pt.Y + r*0.7}})
}
