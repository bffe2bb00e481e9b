//go:build integration

package run_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/services/broadcaster/broadcaster"
	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// startFilter runs a filter worker in-process on url and waits until it consumes.
func startFilter(t *testing.T, url string) {
	t.Helper()
	cfg := testkit.Config(t, url)
	ready := make(chan struct{}, 8)
	testkit.Go(t, func(ctx context.Context) error {
		return filter.Run(ctx, filter.Options{Config: cfg, Log: testkit.Logger(t, "filter"), Ready: func() { ready <- struct{}{} }})
	})
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("filter did not start consuming")
	}
}

func steady(t *testing.T, rate float64, d time.Duration, publishers int, target string, drain time.Duration) *scenario.Scenario {
	t.Helper()
	sc, err := run.PatternFlags{Pattern: "steady", Rate: rate, Duration: d, Publishers: publishers, Target: target}.Scenario(drain)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func options(t *testing.T, url string, sc *scenario.Scenario) run.Options {
	return run.Options{URL: url, Scenario: sc, Log: testkit.Logger(t, "loadgen")}
}

// fakeMaster publishes a pool status every 200 ms, as the master does after each evaluation, so the run
// has something to sample without a master scaling anything.
func fakeMaster(t *testing.T, conn *amqp.Connection) {
	t.Helper()
	ch := testkit.Channel(t, conn)
	testkit.Go(t, func(ctx context.Context) error {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			body, _ := json.Marshal(event.PoolStatus{Pool: "filter", At: time.Now(), Lambda: 400, Backlog: n, Current: 1,
				Desired: 1 + n%2, Capacity: 900, Reason: "test"})
			if err := ch.PublishWithContext(ctx, topology.StatusExchange, "", false, false, amqp.Publishing{Body: body}); err != nil {
				return nil
			}
		}
	})
}

// TestEndToEndNothingLost runs a short steady scenario against a real filter: every event comes back once,
// and the run writes its files.
func TestEndToEndNothingLost(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startFilter(t, url)
	fakeMaster(t, conn)
	o := options(t, url, steady(t, 200, 3*time.Second, 2, "filter", 30*time.Second))
	o.Out = filepath.Join(t.TempDir(), "out")
	out, err := run.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	t.Logf("sent %d, delivered %d, p50 %s, p99 %s", rep.Sent, rep.Delivered, rep.Latency.P50, rep.Latency.P99)
	if rep.Sent != 1200 || rep.Confirmed != rep.Sent || rep.Delivered != rep.Sent || rep.Results != rep.Sent {
		t.Errorf("sent %d confirmed %d delivered %d results %d, want 1200 each", rep.Sent, rep.Confirmed, rep.Delivered, rep.Results)
	}
	if rep.Lost != 0 || rep.Duplicates != 0 || rep.Nacked != 0 || rep.DeadLettered != 0 {
		t.Errorf("lost %d duplicates %d nacked %d dead %d, want none", rep.Lost, rep.Duplicates, rep.Nacked, rep.DeadLettered)
	}
	if rep.Latency.Count != rep.Sent || rep.Latency.P50 <= 0 || rep.Latency.Max > 10*time.Second {
		t.Errorf("latency %+v", rep.Latency)
	}
	if out.Interrupted {
		t.Error("run reported as interrupted")
	}
	if len(out.Samples) < 5 {
		t.Fatalf("%d samples from a status every 200 ms over 3 s", len(out.Samples))
	}
	// A 200 ms window on a busy machine can catch a publisher stalled or catching up, so the rate is judged over
	// the middle of the run, not per sample.
	mid := out.Samples[2 : len(out.Samples)-3]
	var rateSum float64
	for _, s := range mid {
		if s.Pool != "filter" || s.Capacity != 900 {
			t.Errorf("sample %+v: want the fake master's pool and capacity", s)
		}
		rateSum += s.SentRate
	}
	if mean := rateSum / float64(len(mid)); math.Abs(mean-400) > 100 {
		t.Errorf("mean send rate %.0f/s over the master's samples, want about 400/s", mean)
	}
	for _, name := range []string{run.CSVFile, run.PNGFile, run.SVGFile, run.ReportJSONFile, run.ReportTextFile} {
		if st, err := os.Stat(filepath.Join(o.Out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if len(out.Files) != 5 {
		t.Errorf("files %v", out.Files)
	}
}

// TestLossAccounting sends with no filter running and a short drain: every event is confirmed by the broker
// and none answered, so every one is lost.
func TestLossAccounting(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	o := options(t, url, steady(t, 100, 2*time.Second, 1, "filter", time.Second))
	// Nothing is ever answered, so a drain that ignored its 1 s timeout would run until this context ends, and
	// the run would report itself interrupted.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := run.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if out.Interrupted || ctx.Err() != nil {
		t.Errorf("the drain did not end after its 1 s timeout")
	}
	rep := out.Report
	if rep.Sent != 200 || rep.Confirmed != 200 || rep.Lost != 200 || rep.Delivered != 0 || rep.Outstanding != 200 {
		t.Errorf("sent %d confirmed %d lost %d delivered %d outstanding %d, want 200 sent, confirmed and lost",
			rep.Sent, rep.Confirmed, rep.Lost, rep.Delivered, rep.Outstanding)
	}
	if len(out.Samples) == 0 || out.Samples[0].Reason != "no master status" {
		t.Errorf("without a master the run keeps its own samples, got %+v", out.Samples)
	}
}

// TestStrayResultsAreNotResults leaves results of another run in warren.results: they count as stray.
func TestStrayResultsAreNotResults(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	for i := range 3 {
		testkit.Publish(t, conn, "", topology.Results, amqp.Publishing{MessageId: "old-run-" + string(rune('a'+i)), Body: []byte(`{}`)})
	}
	startFilter(t, url)
	out, err := run.Run(context.Background(), options(t, url, steady(t, 50, time.Second, 1, "filter", 10*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	if rep.Stray != 3 || rep.Results != rep.Sent || rep.Lost != 0 {
		t.Errorf("stray %d results %d sent %d lost %d, want 3 stray and one result per send", rep.Stray, rep.Results, rep.Sent, rep.Lost)
	}
}

// TestPacingEndToEnd offers 2000 events/s for 5 s through the real broker and filter: 10 000 ± 1 % go out,
// at 2000/s in every whole second, and all come back.
func TestPacingEndToEnd(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	startFilter(t, url)
	o := options(t, url, steady(t, 1000, 5*time.Second, 2, "filter", 60*time.Second))
	out, err := run.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	if math.Abs(float64(rep.Sent)-10000) > 100 {
		t.Errorf("sent %d, want 10000 ± 1%%", rep.Sent)
	}
	if rep.Lost != 0 || rep.Delivered != rep.Sent {
		t.Errorf("lost %d, delivered %d of %d", rep.Lost, rep.Delivered, rep.Sent)
	}
	// Never ahead of the schedule: the last send is due at 4.9995 s. How close to 5 s a busy machine finishes is
	// the bench's business (the pacer's catch-up is tested on a fake clock in loadgen/pattern).
	if took := out.SendEnd.Sub(out.Start); took < 4999*time.Millisecond {
		t.Errorf("sending took %s: ahead of the 5 s schedule", took)
	} else {
		t.Logf("sending took %s for a 5 s schedule", took)
	}
	// The samples are loadgen's own, one a second; each one taken while sending saw sends.
	if len(out.Samples) < 4 {
		t.Fatalf("%d samples", len(out.Samples))
	}
	for _, s := range out.Samples {
		if s.T.Before(out.SendEnd) && s.SentRate <= 0 {
			t.Errorf("sample at %s while sending: send rate %.0f", s.T.Sub(out.Start), s.SentRate)
		}
	}
}

// TestInterruptStillReports cancels a long run: publishing stops at once, the short drain collects what is
// in flight, and the report covers what was sent.
func TestInterruptStillReports(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	startFilter(t, url)
	o := options(t, url, steady(t, 100, time.Minute, 1, "filter", 30*time.Second))
	o.InterruptDrain = 3 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	var cancelledAt atomic.Int64 // nanoseconds after the run's start
	o.OnStart = func(began time.Time) {
		time.AfterFunc(1500*time.Millisecond, func() { cancelledAt.Store(int64(time.Since(began))); cancel() })
	}
	out, err := run.Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// 100/s until the cancel: what was sent follows from when the cancel really came, late timer or not (a
	// run that ignored the cancel would send 6000 over its minute).
	wantMax := int64(100*time.Duration(cancelledAt.Load()).Seconds()) + 100
	rep := out.Report
	if !out.Interrupted || rep.Sent < 100 || rep.Sent > wantMax || rep.Lost != 0 || rep.Delivered != rep.Sent {
		t.Errorf("interrupted %v: sent %d delivered %d lost %d", out.Interrupted, rep.Sent, rep.Delivered, rep.Lost)
	}
}

// TestBroadcasterTarget sends broadcast requests; their answer is the broadcast the broadcaster forwards.
func TestBroadcasterTarget(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	ready := make(chan struct{}, 8)
	testkit.Go(t, func(ctx context.Context) error {
		return broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: testkit.Logger(t, "broadcaster"), Ready: func() { ready <- struct{}{} }})
	})
	select {
	case <-ready:
	case <-time.After(15 * time.Second):
		t.Fatal("broadcaster did not start consuming")
	}
	out, err := run.Run(context.Background(), options(t, url, steady(t, 100, time.Second, 1, "broadcaster", 20*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if rep := out.Report; rep.Sent != 100 || rep.Delivered != 100 || rep.Lost != 0 {
		t.Errorf("sent %d delivered %d lost %d", rep.Sent, rep.Delivered, rep.Lost)
	}
}

// TestPoissonSeedIsReproducible runs the same poisson step twice with one seed: the sends are the same.
func TestPoissonSeedIsReproducible(t *testing.T) {
	url := testkit.Broker(t)
	testkit.Conn(t, url)
	startFilter(t, url)
	sent := make([]int64, 2)
	for i := range sent {
		sc, err := run.PatternFlags{Pattern: string(pattern.Poisson), Rate: 300, Duration: time.Second, Publishers: 2, Target: "filter"}.Scenario(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		o := options(t, url, sc)
		o.Seed = 42
		out, err := run.Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		sent[i] = out.Report.Sent
		if out.Report.Lost != 0 {
			t.Errorf("run %d lost %d", i, out.Report.Lost)
		}
	}
	if sent[0] != sent[1] || sent[0] < 450 || sent[0] > 750 {
		t.Errorf("sent %v with the same seed, want equal counts near 600", sent)
	}
}

// TestMultiSourceEndToEnd runs two sources at once against a real filter: each source's events carry its
// fairness key (or none), and the report accounts for each source and compares them while both send.
func TestMultiSourceEndToEnd(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startFilter(t, url)
	// A private copy of everything sent to the filter pool, to read the headers the publishers set.
	ch := testkit.Channel(t, conn)
	tap, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(tap.Name, "", topology.FilterExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	step := func(rate float64, publishers int) []scenario.Step {
		return []scenario.Step{{Pattern: pattern.Spec{Kind: pattern.Steady, Rate: rate, Duration: 2 * time.Second},
			Publishers: publishers, Target: scenario.Filter}}
	}
	sc, err := scenario.NewMultiSource("pair", 30*time.Second,
		scenario.Source{Name: "A", Key: "tenant-a", Steps: step(100, 2)},
		scenario.Source{Name: "B", Steps: step(50, 1)})
	if err != nil {
		t.Fatal(err)
	}
	o := options(t, url, sc)
	o.Out = filepath.Join(t.TempDir(), "out")
	out, err := run.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rep := out.Report
	if rep.Sent != 500 || rep.Delivered != 500 || rep.Lost != 0 || len(rep.Sources) != 2 {
		t.Fatalf("sent %d delivered %d lost %d, %d sources", rep.Sent, rep.Delivered, rep.Lost, len(rep.Sources))
	}
	for _, want := range []struct {
		name string
		sent int64
	}{{"A", 400}, {"B", 100}} {
		s, ok := rep.Source(want.name)
		if !ok || s.Sent != want.sent || s.Delivered != want.sent || s.Lost != 0 || s.Latency.Count != want.sent {
			t.Errorf("source %s: %+v, want %d sent and delivered", want.name, s, want.sent)
		}
	}
	f := rep.Fairness
	if f == nil || !f.Defined || f.Index <= 0 || f.Index > 1 || f.Window() < time.Second || len(f.Sources) != 2 {
		t.Fatalf("fairness %+v", f)
	}
	t.Logf("Jain %.3f over %s; shares %.2f and %.2f", f.Index, f.Window(), f.Sources[0].Share, f.Sources[1].Share)
	if len(out.SourceSeries) != 2 || out.SourceSeries[0].Source != "A" {
		t.Errorf("per-source series %+v", out.SourceSeries)
	}
	if st, err := os.Stat(filepath.Join(o.Out, run.SourcesCSVFile)); err != nil || st.Size() == 0 {
		t.Errorf("%s: %v", run.SourcesCSVFile, err)
	}
	keys := map[string]int{}
	for _, d := range testkit.Drain(t, conn, tap.Name, time.Second) {
		key, _ := d.Headers[publish.HeaderKey].(string)
		keys[key]++
	}
	if keys["tenant-a"] != 400 || keys[""] != 100 || len(keys) != 2 {
		t.Errorf("events by key %v, want 400 with tenant-a and 100 without a key", keys)
	}
}
