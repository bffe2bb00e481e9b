package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/loadgen/bench/proc"
	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// CatalogConfig is the catalogue benchmark's workload.
type CatalogConfig struct {
	// Changes is how many catalogue changes the insult service makes (through its RPC, as clients would),
	// and Starts how many catalogue replicas start and stop meanwhile, as workers of a scaling pool do.
	Changes, Starts int
	// Loads is how many in-process catalogue loads are timed on each vhost; Rounds how many times a filter
	// process is started on each, each time on a backlog of Backlog events.
	Loads, Rounds, Backlog int
}

// CatalogVariant is one vhost's measurements: fresh (the default catalogue only), built (the aged vhost's
// final catalogue, made with as few changes as possible) or aged (after the long history).
type CatalogVariant struct {
	Name string
	// Written is the log's last offset plus one: how many entries its history ever had (about; a stream
	// also numbers a few entries of its own). Held and HeldBytes are what it holds when measured.
	Written         int64
	Held, HeldBytes int
	// Load is what a new replica reads to load the catalogue, and LoadTimes how long each timed load took
	// from subscribing to ready, on a connection already open.
	Load      catalog.Load
	LoadTimes []time.Duration
	// Insults is the catalogue's size.
	Insults int
	// Ready is, per round, how long a new filter process took from being started to consuming its work
	// queue; FirstResult until its first result; Rate the events per second it then drained the backlog at.
	Ready, FirstResult []time.Duration
	Rate               []float64
}

// CatalogResult compares a filter's start on a vhost with a long catalogue history against fresh ones.
type CatalogResult struct {
	Config CatalogConfig
	// HistoryTook is how long the changes and starts took.
	HistoryTook        time.Duration
	Fresh, Built, Aged CatalogVariant
	// Machine is where it ran and Took how long it took; the command that runs the benchmark sets them.
	Machine Machine
	Took    time.Duration
}

// Catalog measures what a long catalogue history costs a new worker: 10 000 changes through the insult
// service while 500 catalogue replicas start and stop, then a new replica's load and a new filter process's
// time to consuming and consuming rate, against the same on a fresh vhost. Before the catalogue log kept
// snapshots and retention, every start appended an entry and replayed all of them.
func Catalog(ctx context.Context, env *Env) (CatalogResult, error) {
	cfg := CatalogConfig{Changes: 10_000, Starts: 500, Loads: 20, Rounds: 3, Backlog: 20_000}
	res := CatalogResult{Config: cfg, Fresh: CatalogVariant{Name: "fresh"}, Built: CatalogVariant{Name: "built"},
		Aged: CatalogVariant{Name: "aged"}}
	cfgFile := filepath.Join(env.Work, "catalog-bench.yaml")
	if err := os.WriteFile(cfgFile, []byte("{}\n"), 0o644); err != nil {
		return res, fmt.Errorf("write empty config: %w", err)
	}
	run := func(v *CatalogVariant, history func(url string, defaults []string) error) error {
		return env.vhost(ctx, "catalog", func(url string) error {
			c, err := config.Load(config.Flags{ConfigFile: cfgFile, AMQPURL: url})
			if err != nil {
				return err
			}
			stop, err := startInsult(ctx, c, env.Log)
			if err != nil {
				return err
			}
			defer stop()
			if history != nil {
				if err := history(url, c.Insult.Defaults); err != nil {
					return err
				}
			}
			if err := timeLoads(ctx, url, c.Insult.Defaults, cfg.Loads, v); err != nil {
				return err
			}
			for round := range cfg.Rounds {
				env.Log.Info().Str("variant", v.Name).Int("round", round+1).Msg("catalog: a new filter on a backlog")
				if err := filterStart(ctx, env, url, cfg.Backlog, v); err != nil {
					return err
				}
			}
			// Last: counting appends a marker that names no snapshot, after which a replica would load the
			// whole log.
			held, bytes, last, err := countLog(ctx, url)
			v.Held, v.HeldBytes, v.Written = held, bytes, last+1
			return err
		})
	}
	if err := run(&res.Fresh, nil); err != nil {
		return res, fmt.Errorf("catalog, fresh vhost: %w", err)
	}
	err := run(&res.Built, func(url string, _ []string) error {
		env.Log.Info().Msg("catalog: adding the aged vhost's final catalogue")
		return changes(ctx, url, func(send func(event.InsultRequest) bool) {
			for i := range finalInsults(cfg) {
				if !send(event.InsultRequest{Op: event.OpAdd, Insult: i}) {
					return
				}
			}
		})
	})
	if err != nil {
		return res, fmt.Errorf("catalog, built vhost: %w", err)
	}
	err = run(&res.Aged, func(url string, defaults []string) error {
		env.Log.Info().Int("changes", cfg.Changes).Int("starts", cfg.Starts).Msg("catalog: writing the history")
		t0 := time.Now()
		err := makeHistory(ctx, url, defaults, cfg)
		res.HistoryTook = time.Since(t0)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("catalog, aged vhost: %w", err)
	}
	return res, nil
}

// startInsult runs an insult service in this process until stop is called, and waits until it serves.
func startInsult(ctx context.Context, c config.Config, log zerolog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- insult.Run(ctx, insult.Options{Config: c, Log: log.Level(zerolog.WarnLevel),
			Ready: func() {
				select {
				case ready <- struct{}{}:
				default:
				}
			}})
	}()
	stop = func() {
		cancel()
		<-done
	}
	select {
	case <-ready:
		return stop, nil
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("insult service: %w", err)
	case <-time.After(30 * time.Second):
		stop()
		return nil, fmt.Errorf("insult service not serving within 30s")
	}
}

// historyInsult names the i-th insult of the history.
func historyInsult(i int) string { return fmt.Sprintf("bench insult %05d", i) }

// finalInsults yields the insults the history leaves in the catalogue: each insult is removed a thousand
// adds after it was added, so the last thousand stay.
func finalInsults(cfg CatalogConfig) func(yield func(string) bool) {
	adds := (cfg.Changes + 1000) / 2
	return func(yield func(string) bool) {
		for i := max(0, adds-1000); i < adds; i++ {
			if !yield(historyInsult(i)) {
				return
			}
		}
	}
}

// makeHistory makes cfg.Changes changes through the insult service while cfg.Starts catalogue replicas start
// (each on a connection of its own, as a worker's), load and stop. The changes add insults and remove each a
// thousand adds later, when its add has long been applied, leaving a catalogue of a thousand.
func makeHistory(ctx context.Context, url string, defaults []string, cfg CatalogConfig) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		adds := (cfg.Changes + 1000) / 2
		return changes(gctx, url, func(send func(event.InsultRequest) bool) {
			for i := range adds {
				if !send(event.InsultRequest{Op: event.OpAdd, Insult: historyInsult(i)}) {
					return
				}
				if j := i - 1000; j >= 0 && !send(event.InsultRequest{Op: event.OpRemove, Insult: historyInsult(j)}) {
					return
				}
			}
		})
	})
	g.Go(func() error {
		for range cfg.Starts {
			if _, _, err := loadOnce(gctx, url, defaults); err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// changes sends the requests gen yields to the insult service's RPC, eight at a time, as clients would.
func changes(ctx context.Context, url string, gen func(send func(event.InsultRequest) bool)) error {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench catalog"})
	if err != nil {
		return err
	}
	defer conn.Close()
	work := make(chan event.InsultRequest)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		gen(func(r event.InsultRequest) bool {
			select {
			case work <- r:
				return true
			case <-gctx.Done():
				return false
			}
		})
		return nil
	})
	for range 8 {
		g.Go(func() error {
			for r := range work {
				body, _ := json.Marshal(r)
				cctx, cancel := context.WithTimeout(gctx, 30*time.Second)
				d, err := amqpx.Call(cctx, conn, "", topology.InsultRPC, amqp.Publishing{ContentType: event.ContentJSON, Body: body})
				cancel()
				if err != nil {
					return fmt.Errorf("%s %q: %w", r.Op, r.Insult, err)
				}
				var rep event.InsultReply
				if err := json.Unmarshal(d.Body, &rep); err != nil || !rep.OK {
					return fmt.Errorf("%s %q: reply %s", r.Op, r.Insult, d.Body)
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// loadOnce starts a catalogue replica on a new connection, waits until it is ready, and stops it; it
// returns how long the load took from subscribing and what it read.
func loadOnce(ctx context.Context, url string, defaults []string) (time.Duration, *catalog.Catalog, error) {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench catalogue replica"})
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	c := catalog.New(defaults, zerolog.Nop(), nil)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- c.Follow(ctx, conn) }()
	defer func() {
		cancel()
		<-done
	}()
	select {
	case <-c.Ready():
		return time.Since(t0), c, nil
	case err := <-done:
		return 0, nil, fmt.Errorf("catalogue replica: %w", err)
	case <-time.After(30 * time.Second):
		return 0, nil, fmt.Errorf("catalogue replica not ready within 30s")
	}
}

// timeLoads times n catalogue loads.
func timeLoads(ctx context.Context, url string, defaults []string, n int, v *CatalogVariant) error {
	for range n {
		d, c, err := loadOnce(ctx, url, defaults)
		if err != nil {
			return err
		}
		v.LoadTimes, v.Load, v.Insults = append(v.LoadTimes, d), c.Loaded(), len(c.Snapshot().Insults)
	}
	return nil
}

// countLog reads the catalogue log from its first entry to a marker it appends, and returns how many entries
// and body bytes precede the marker, and the offset of the last of them. The marker is a sync entry: it
// changes nothing.
func countLog(ctx context.Context, url string) (entries, bytes int, last int64, err error) {
	err = withChannel(ctx, url, func(ch *amqp.Channel) error {
		if err := ch.Qos(1000, 0, false); err != nil {
			return fmt.Errorf("qos: %w", err)
		}
		deliveries, err := ch.Consume(topology.InsultLog, "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
		if err != nil {
			return fmt.Errorf("consume %s: %w", topology.InsultLog, err)
		}
		nonce := fmt.Sprintf("bench-marker-%d", time.Now().UnixNano())
		body, _ := json.Marshal(catalog.Entry{Op: catalog.OpSync, Nonce: nonce})
		if err := ch.Publish("", topology.InsultLog, false, false, amqp.Publishing{ContentType: event.ContentJSON, Body: body}); err != nil {
			return fmt.Errorf("append marker: %w", err)
		}
		timeout := time.After(60 * time.Second)
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timeout:
				return fmt.Errorf("marker not read back within 60s")
			case d := <-deliveries:
				_ = d.Ack(false)
				var e catalog.Entry
				if json.Unmarshal(d.Body, &e) == nil && e.Nonce == nonce {
					return nil
				}
				entries, bytes = entries+1, bytes+len(d.Body)
				last, _ = d.Headers["x-stream-offset"].(int64)
			}
		}
	})
	return entries, bytes, last, err
}

// filterStart publishes a backlog of events, starts a filter process, and measures how long it takes to
// consume and at what rate it drains the backlog, counting the results it publishes to warren.results.
func filterStart(ctx context.Context, env *Env, url string, backlog int, v *CatalogVariant) error {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "warren-bench catalog harness"})
	if err != nil {
		return err
	}
	defer conn.Close()
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		return err
	}
	defer pub.Close()
	msgs, err := publish.NewMessages(fmt.Sprintf("catalog-%d", time.Now().UnixNano()), publish.DefaultSize)
	if err != nil {
		return err
	}
	var pending []*amqp.DeferredConfirmation
	for i := range backlog {
		dc, err := pub.PublishAsync(ctx, topology.FilterExchange, "", msgs.Publishing(msgs.ID(0, uint64(i)), uint64(i), time.Now()))
		if err != nil {
			return err
		}
		pending = append(pending, dc)
	}
	for _, dc := range pending {
		if err := amqpx.Wait(ctx, dc, topology.FilterExchange, ""); err != nil {
			return err
		}
	}
	// Results are counted as they come; only their arrival times matter.
	rch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("results channel: %w", err)
	}
	if err := rch.Qos(2000, 0, false); err != nil {
		return fmt.Errorf("results qos: %w", err)
	}
	results, err := rch.Consume(topology.Results, "", true, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("consume %s: %w", topology.Results, err)
	}
	var count atomic.Int64
	var first, last time.Time
	var mu sync.Mutex
	counted := make(chan struct{})
	go func() {
		defer close(counted)
		for range results {
			now := time.Now()
			mu.Lock()
			if first.IsZero() {
				first = now
			}
			last = now
			mu.Unlock()
			if count.Add(1) == int64(backlog) {
				return
			}
		}
	}()
	probe, err := newQueueProbe(ctx, url)
	if err != nil {
		return err
	}
	defer probe.close()
	started := time.Now()
	child, err := proc.Start(proc.Spec{
		Name: "filter", Path: filepath.Join(env.Bin, "warren-filter"), Dir: env.Work, Log: filepath.Join(env.Work, "catalog-filter.log"),
		Env: []string{"WARREN_AMQP_URL=" + url, "WARREN_LOG_LEVEL=warn", "WARREN_LOG_FORMAT=json"},
	})
	if err != nil {
		return err
	}
	defer func() { _ = child.Stop(context.WithoutCancel(ctx), 5*time.Second) }()
	var ready time.Duration
	for deadline := started.Add(30 * time.Second); ; {
		_, consumers, err := probe.depth(topology.FilterWork)
		if err != nil {
			return err
		}
		if consumers > 0 {
			ready = time.Since(started)
			break
		}
		if time.Now().After(deadline) || child.Exited() {
			return fmt.Errorf("the filter did not consume within 30s (see %s)", filepath.Join(env.Work, "catalog-filter.log"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-counted:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Minute):
		return fmt.Errorf("%d of %d results after 5 min", count.Load(), backlog)
	}
	mu.Lock()
	defer mu.Unlock()
	v.Ready = append(v.Ready, ready)
	v.FirstResult = append(v.FirstResult, first.Sub(started))
	if span := last.Sub(first); span > 0 {
		v.Rate = append(v.Rate, float64(backlog-1)/span.Seconds())
	}
	return nil
}

// median returns the middle of ds, 0 when empty.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Section renders the result as its own results.md section, for a run on m that took took.
func (r CatalogResult) Section(m Machine, took time.Duration) string {
	r.Machine, r.Took = m, took
	return r.Markdown()
}

// Sectioned is a benchmark result that reports in a results.md section of its own.
type Sectioned interface {
	Section(m Machine, took time.Duration) string
}

var (
	_ Sectioned = CatalogResult{}
	_ Sectioned = FairnessResult{}
)

// Markdown renders the result as a dated section for results.md.
func (r CatalogResult) Markdown() string {
	var b strings.Builder
	m := r.Machine
	commit := m.commitLabel()
	fmt.Fprintf(&b, "## %s — catalogue start cost — commit %s\n\n", m.At.Format("2006-01-02 15:04 MST"), commit)
	fmt.Fprintf(&b, "%s Load average at the start: %.2f. The benchmark took %s.\n\n", m.sentence(), m.Load, r.Took.Round(time.Second))
	c := r.Config
	fmt.Fprintf(&b, "What a long catalogue history costs a new worker. Three vhosts, each with an insult service: *fresh* holds the seeded defaults only; *built* gets the aged vhost's final catalogue in as few changes (one add per insult); *aged* gets %s catalogue changes through the insult service's RPC (eight clients; each request also appends the service's read marker; each insult is removed a thousand adds after it was added) while %d catalogue replicas start, load and stop, as workers of a scaling pool do (%s). Then, on each: %d catalogue loads in process (new connection, subscribe → ready), and %d times a `warren-filter` process started on a backlog of %s events: spawn → consuming its work queue, spawn → first result, and the rate it drains the backlog (results counted on warren.results).\n\n",
		num(float64(c.Changes)), c.Starts, secs(r.HistoryTook), c.Loads, c.Rounds, num(float64(c.Backlog)))
	b.WriteString("| | fresh | built | aged |\n|---|---|---|---|\n")
	row := func(name string, f func(v CatalogVariant) string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, f(r.Fresh), f(r.Built), f(r.Aged))
	}
	row("log entries ever written (last offset + 1)", func(v CatalogVariant) string { return num(float64(v.Written)) })
	row("log entries held, body bytes", func(v CatalogVariant) string {
		return fmt.Sprintf("%s, %s KiB", num(float64(v.Held)), num(float64(v.HeldBytes)/1024))
	})
	row("catalogue size (insults)", func(v CatalogVariant) string { return num(float64(v.Insults)) })
	row("a new replica reads: entries, body bytes", func(v CatalogVariant) string {
		from := "whole log"
		if v.Load.FromSnapshot {
			from = "snapshot on"
		}
		return fmt.Sprintf("%s, %s KiB (%s)", num(float64(v.Load.Entries)), num(float64(v.Load.Bytes)/1024), from)
	})
	row(fmt.Sprintf("catalogue load, median of %d", c.Loads), func(v CatalogVariant) string { return secsMs(median(v.LoadTimes)) })
	row(fmt.Sprintf("new filter: spawn → consuming, median of %d", c.Rounds), func(v CatalogVariant) string { return secsMs(median(v.Ready)) })
	row(fmt.Sprintf("new filter: spawn → first result, median of %d", c.Rounds), func(v CatalogVariant) string { return secsMs(median(v.FirstResult)) })
	row(fmt.Sprintf("new filter: drain rate, mean of %d", c.Rounds), func(v CatalogVariant) string { return num(mean(v.Rate)) + " ev/s" })
	b.WriteString("\n")
	return b.String()
}

// secsMs writes a duration in milliseconds with one decimal below ten.
func secsMs(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}
