//go:build integration

package dashboard_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/warren-mq/warren/loadgen/run"
	"github.com/warren-mq/warren/loadgen/scenario"
	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/testkit"
)

// chromiumPath is Debian's chromium, which the project's install script installs.
const chromiumPath = "/usr/bin/chromium"

// repoRoot is read before any test runs: testkit.Config moves each test into a temporary directory.
var repoRoot = func() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(wd, "../../..")
}()

// burst is a loadgen scenario like demo-burst, shorter: a trickle, then 16 000 events in 8 s from two
// publishers (about 2000/s, four times what one slowed-down worker handles), then a quiet tail.
const burst = `
name: dashboard-burst
drain_timeout: 90s
steps:
  - pattern: steady
    rate: 50
    duration: 2s
  - pattern: steady
    rate: 1000
    publishers: 2
    duration: 8s
  - pattern: steady
    rate: 20
    duration: 5s
`

// TestDashboardFollowsABurst loads the dashboard of a real master in headless Chromium, then sends a loadgen
// burst, and checks that the same page (never reloaded: the event stream updates it) shows the pool growing.
func TestDashboardFollowsABurst(t *testing.T) {
	needChromium(t)
	url := testkit.Broker(t)
	bin := testkit.BuildServices(t, "filter")
	addr := testkit.FreeAddr(t)

	cfg := testkit.Config(t, url)
	cfg.Master.Runtime = "process"
	cfg.Master.Bin = bin
	cfg.Master.StatusAddr = addr
	cfg.Master.Interval = time.Second
	cfg.Master.Reconcile = time.Second
	f := cfg.Master.Pools["filter"]
	f.Min, f.Max, f.MaxStep = 1, 4, 0
	f.Capacity = "auto"
	f.Stabilization = 6 * time.Second
	f.Grace = 10 * time.Second
	// Slow workers (10 ms per event, 5 at a time: about 500 events/s each) so the burst needs several.
	f.Env = []string{"WARREN_FILTER_WORK_DELAY=10ms", "WARREN_FILTER_CONCURRENCY=5", "WARREN_LOG_LEVEL=warn"}
	cfg.Master.Pools = map[string]config.Pool{"filter": f}
	startMaster(t, cfg, bin)

	ctx := browser(t)
	page := "http://" + addr + "/"
	waitServing(t, page)
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	// A reload would lose this mark: the checks below then prove that the stream, not a reload, moved the page.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.warrenNoReload = true`)); err != nil {
		t.Fatal(err)
	}
	waitPage(t, ctx, 60*time.Second, "the filter pool at one worker, broker connected",
		`document.querySelector('#broker-status')?.dataset.connected === 'true' &&
		 document.querySelector('section[data-pool="filter"]')?.dataset.current === '1'`)

	sc, err := scenario.Parse("dashboard-burst", []byte(burst))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var out run.Outcome
	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	go func() {
		var err error
		out, err = run.Run(runCtx, run.Options{URL: url, Scenario: sc, Log: testkit.Logger(t, "loadgen")})
		done <- err
	}()
	// The run must not outlive the test, whatever fails first.
	t.Cleanup(func() { cancelRun(); <-done })

	waitPage(t, ctx, 90*time.Second, "the workers chart rising above one worker",
		`+(document.querySelector('section[data-pool="filter"]')?.dataset.maxWorkersSeen || 0) > 1`)
	peak := pageInt(t, ctx, `+document.querySelector('section[data-pool="filter"]').dataset.maxWorkersSeen`)
	t.Logf("the page shows the pool grown to %d workers", peak)

	select {
	case err := <-done:
		done <- err // for the cleanup
		if err != nil {
			t.Fatalf("loadgen: %v", err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the loadgen burst did not finish within 3 minutes")
	}
	t.Logf("loadgen: %d sent, %d results, %d lost", out.Report.Sent, out.Report.Results, out.Report.Lost)
	if os.Getenv("WARREN_SCREENSHOT") == "1" {
		// For the README's picture, let the pool scale back down so the chart shows the whole story.
		_ = pollPage(ctx, 90*time.Second, `document.querySelector('section[data-pool="filter"]')?.dataset.current === '1'`)
		time.Sleep(2 * time.Second)
	}

	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.warrenNoReload === true`))
	if err != nil || !same {
		t.Fatalf("the page was reloaded (%v): the stream should have updated it in place", err)
	}
	if n := pageInt(t, ctx, `+document.body.dataset.updates`); n < 5 {
		t.Fatalf("the page applied only %d updates from the event stream", n)
	}
	if n := pageInt(t, ctx, `document.querySelectorAll('section[data-pool="filter"] [data-chart="chart-workers"] path.line').length`); n == 0 {
		t.Fatal("the workers chart has no line")
	}
	screenshot(t, ctx, "dashboard.png", true)
}

// TestDashboardShowsBrokerDown points a master at an address where no broker listens: its page must say the
// broker is down, not stay blank. Then the master stops, and the page must say it cannot reach it.
func TestDashboardShowsBrokerDown(t *testing.T) {
	needChromium(t)
	addr := testkit.FreeAddr(t)
	cfg := testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/")
	cfg.Master.Runtime = "process"
	cfg.Master.Bin = t.TempDir() // no worker starts without a broker
	cfg.Master.StatusAddr = addr
	f := cfg.Master.Pools["filter"]
	cfg.Master.Pools = map[string]config.Pool{"filter": f}
	stop := startMaster(t, cfg, cfg.Master.Bin)

	ctx := browser(t)
	page := "http://" + addr + "/"
	waitServing(t, page)
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	waitPage(t, ctx, 60*time.Second, "the page saying the broker is down",
		`document.querySelector('#broker-status')?.dataset.connected === 'false' &&
		 !document.getElementById('banner-broker').hidden &&
		 document.getElementById('banner-broker').innerText.includes('Broker down') &&
		 document.getElementById('banner-waiting').hidden`)
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('banner-broker').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("banner: %s", text)
	if !strings.Contains(text, "127.0.0.1:1") && !strings.Contains(strings.ToLower(text), "refused") {
		t.Errorf("the banner does not say why the broker is down: %q", text)
	}
	screenshot(t, ctx, "dashboard-broker-down.png", false)

	stop()
	waitPage(t, ctx, 60*time.Second, "the page saying the master is unreachable",
		`!document.getElementById('banner-unreachable').hidden &&
		 document.getElementById('stream-status').dataset.live === 'false'`)
}

func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s missing under CI: the install script must install Debian's chromium", chromiumPath)
		}
		t.Skipf("%s not installed", chromiumPath)
	}
}

// startMaster runs a master in-process with the process runtime; stop ends it (cleanup does too).
func startMaster(t *testing.T, cfg config.Config, bin string) (stop func()) {
	t.Helper()
	rt, err := runtime.NewProcess(runtime.ProcessOptions{BinDir: bin, Env: []string{"WARREN_AMQP_URL=" + cfg.AMQP.URL},
		Log: testkit.Logger(t, "runtime")})
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: testkit.Logger(t, "master"), Runtime: rt})
	})
}

// waitServing waits until the master answers on its status address.
func waitServing(t *testing.T, page string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "the master serving "+page, func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(page, "http://"), "/"), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}

// browser starts headless Chromium for one test; at cleanup the browser closes and its process exits, and the
// test fails if the page threw a JavaScript exception or logged an error.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		_ = chromedp.Cancel(cctx)
		cancel()
		cancelAlloc() // waits for the browser process to exit
	})
	// The first Run starts the browser and ties it to ctx; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				p += " " + e.ExceptionDetails.Exception.Description
			}
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError {
				p = "console.error"
				for _, a := range e.Args {
					p += " " + string(a.Value)
				}
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("page: %s", p)
		}
	})
	return ctx
}

// pollPage waits in the page until the JavaScript expression is true.
func pollPage(ctx context.Context, timeout time.Duration, expr string) error {
	pctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	_, err := chromedp.Run(pctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout),
		chromedp.WithPollingInterval(200*time.Millisecond)))
	return err
}

// waitPage is pollPage failing the test with what the page shows.
func waitPage(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) {
	t.Helper()
	if err := pollPage(ctx, timeout, expr); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
			broker: document.querySelector('#broker-status')?.outerHTML,
			banners: Array.from(document.querySelectorAll('.banner:not([hidden])')).map(b => b.innerText),
			pools: Array.from(document.querySelectorAll('section[data-pool]')).map(s => Object.assign({}, s.dataset)),
			seq: document.body.dataset.seq, updates: document.body.dataset.updates})`))
		t.Fatalf("waiting for %s: %v\npage: %s", what, err, dump)
	}
}

func pageInt(t *testing.T, ctx context.Context, expr string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return n
}

// screenshot saves the whole page as name: to docs/ when WARREN_SCREENSHOT=1 and docs is set (the README's
// picture), else to the test's temporary directory.
func screenshot(t *testing.T, ctx context.Context, name string, docs bool) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(t.TempDir(), name)
	if docs && os.Getenv("WARREN_SCREENSHOT") == "1" {
		path = filepath.Join(repoRoot, "docs", name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(fmt.Errorf("write screenshot: %w", err))
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}
