package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		// The browser test's chromedp and master leave nothing running either; anything left is a leak.
		if err := goleak.Find(goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// state is a one-pool State whose filter pool was evaluated at `at`.
func state(at time.Time, current, desired int, reason string) State {
	return State{At: at, Master: "m1", Leading: true, Broker: Broker{Connected: true, Since: at.Add(-time.Hour)},
		Pools: []Pool{{
			Status: event.PoolStatus{Pool: "filter", At: at, Lambda: 100, Backlog: 40, Ready: 30, InFlight: 10, Capacity: 500,
				CapacitySource: "auto", CapacityReports: 3, Current: current, Desired: desired, Raw: desired, Reason: reason},
			Workers: []Worker{{Name: "filter-1", ID: "123", State: "running", Healthy: true, Held: 10, InFlight: 5, Utilization: 0.5,
				StartedAt: at.Add(-time.Minute), LastReport: at}},
		}}}
}

func TestHistoryKeepsOnlyTheWindow(t *testing.T) {
	for _, tc := range []struct {
		name string
		// ages of the statuses, oldest first, when the last one is recorded; and the clock's advance afterwards
		ages    []time.Duration
		advance time.Duration
		want    []time.Duration // ages (before the advance) of the points kept
	}{
		{name: "all within", ages: []time.Duration{50 * time.Second, 30 * time.Second, 0}, want: []time.Duration{50 * time.Second, 30 * time.Second, 0}},
		{name: "older than keep dropped", ages: []time.Duration{90 * time.Second, 61 * time.Second, 60 * time.Second, 10 * time.Second},
			want: []time.Duration{60 * time.Second, 10 * time.Second}},
		{name: "clock moves on", ages: []time.Duration{50 * time.Second, 20 * time.Second, 0}, advance: 30 * time.Second,
			want: []time.Duration{20 * time.Second, 0}},
		{name: "everything ages out", ages: []time.Duration{30 * time.Second}, advance: 2 * time.Minute, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			d := New(time.Minute, clk.Now)
			now := clk.Now()
			for _, age := range tc.ages {
				d.Update(state(now.Add(-age), 1, 1, "steady"))
			}
			clk.Advance(tc.advance)
			snap := d.Snapshot()
			var got []time.Duration
			for _, p := range snap.History["filter"] {
				got = append(got, now.Sub(p.At))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("kept points aged %v, want %v", got, tc.want)
			}
			// The pool is still in the latest State, so it keeps its (possibly empty) history and decisions.
			if _, ok := snap.History["filter"]; !ok {
				t.Fatalf("pool filter missing from the history: %v", snap.History)
			}
		})
	}
}

func TestHistoryIgnoresStatusesNotNewer(t *testing.T) {
	clk := newClock()
	d := New(10*time.Minute, clk.Now)
	t0 := clk.Now()
	d.Update(state(t0, 1, 1, "steady"))
	d.Update(state(t0, 1, 1, "steady"))                   // the same evaluation again (a broker change, say)
	d.Update(state(t0.Add(-time.Second), 1, 1, "steady")) // an older one
	d.Update(state(t0.Add(time.Second), 2, 2, "steady"))
	d.Update(State{At: t0.Add(2 * time.Second), Pools: []Pool{{Status: event.PoolStatus{Pool: "filter"}}}}) // never evaluated
	pts := d.Snapshot().History["filter"]
	if len(pts) != 2 || !pts[0].At.Equal(t0) || pts[1].Current != 2 {
		t.Fatalf("history %+v, want the points at t0 and t0+1s", pts)
	}
	if got := d.Snapshot().Seq; got != 5 {
		t.Fatalf("seq %d after 5 updates", got)
	}
}

func TestHistoryRingIsBounded(t *testing.T) {
	clk := newClock()
	d := New(24*time.Hour, clk.Now)
	t0 := clk.Now().Add(-time.Hour)
	for i := range maxPoints + 100 {
		d.Update(state(t0.Add(time.Duration(i)*100*time.Millisecond), i, i, "steady"))
	}
	pts := d.Snapshot().History["filter"]
	if len(pts) != maxPoints {
		t.Fatalf("%d points kept, want the bound %d", len(pts), maxPoints)
	}
	for i, p := range pts {
		if p.Current != i+100 {
			t.Fatalf("point %d has current %d, want %d: oldest first, the first 100 dropped", i, p.Current, i+100)
		}
	}
}

func TestPoolsLeavingTheStateAgeOut(t *testing.T) {
	clk := newClock()
	d := New(time.Minute, clk.Now)
	d.Update(state(clk.Now(), 1, 1, "steady"))
	clk.Advance(30 * time.Second)
	d.Update(State{At: clk.Now(), Broker: Broker{Connected: false, Error: "gone"}})
	if _, ok := d.Snapshot().History["filter"]; !ok {
		t.Fatal("a pool missing from one State lost its history at once; the page should still draw it")
	}
	clk.Advance(time.Minute)
	if h, ok := d.Snapshot().History["filter"]; ok {
		t.Fatalf("history of a pool gone for longer than keep is still served: %v", h)
	}
}

func TestDecisions(t *testing.T) {
	type eval struct {
		current, desired int
		reason           string
	}
	for _, tc := range []struct {
		name  string
		evals []eval
		want  []int // indexes of the evaluations recorded as decisions
	}{
		{name: "first evaluation counts", evals: []eval{{1, 1, "steady"}}, want: []int{0}},
		{name: "steady repeats are not decisions", evals: []eval{{1, 1, "steady"}, {1, 1, "steady"}, {1, 1, "steady"}}, want: []int{0}},
		{name: "scale up and down", evals: []eval{{1, 1, "steady"}, {1, 3, "scale up"}, {3, 3, "steady"}, {3, 3, "steady"}, {3, 1, "scale down"}, {1, 1, "steady"}},
			want: []int{0, 1, 2, 4, 5}},
		{name: "pending change repeats", evals: []eval{{1, 3, "scale up"}, {1, 3, "scale up"}}, want: []int{0, 1}},
		{name: "reason changes at same size", evals: []eval{{2, 2, "steady"}, {2, 2, "holding: stabilization 4s left"}, {2, 2, "holding: stabilization 4s left"}},
			want: []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			d := New(10*time.Minute, clk.Now)
			for _, e := range tc.evals {
				clk.Advance(time.Second)
				d.Update(state(clk.Now(), e.current, e.desired, e.reason))
			}
			got := d.Snapshot().Decisions["filter"]
			if len(got) != len(tc.want) {
				t.Fatalf("%d decisions %+v, want evaluations %v", len(got), got, tc.want)
			}
			for i, idx := range tc.want {
				e := tc.evals[idx]
				g := got[i]
				if g.Current != e.current || g.Desired != e.desired || g.Reason != e.reason || g.Lambda != 100 ||
					g.Backlog != 40 || g.Capacity != 500 || g.CapacitySource != "auto" || g.Raw != e.desired {
					t.Fatalf("decision %d = %+v, want evaluation %d %+v", i, g, idx, e)
				}
			}
		})
	}
}

func TestDecisionsKeepTheLatest(t *testing.T) {
	clk := newClock()
	d := New(time.Hour, clk.Now)
	for i := range 100 {
		clk.Advance(time.Second)
		d.Update(state(clk.Now(), 1, 2, fmt.Sprintf("reason %d", i)))
	}
	got := d.Snapshot().Decisions["filter"]
	if len(got) != maxDecisions || got[0].Reason != "reason 70" || got[len(got)-1].Reason != "reason 99" {
		t.Fatalf("kept %d decisions from %q to %q, want the latest %d", len(got), got[0].Reason, got[len(got)-1].Reason, maxDecisions)
	}
}

func TestUpdateCopiesTheState(t *testing.T) {
	d := New(time.Minute, nil)
	s := state(time.Now(), 1, 1, "steady")
	d.Update(s)
	s.Pools[0].Workers[0].Name = "changed by the caller"
	if got := d.Snapshot().State.Pools[0].Workers[0].Name; got != "filter-1" {
		t.Fatalf("the caller's later change reached the dashboard: %q", got)
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestAPIState(t *testing.T) {
	clk := newClock()
	d := New(10*time.Minute, clk.Now)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	resp, body := get(t, srv.URL+"/api/state")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("before any update: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var empty map[string]any
	if err := json.Unmarshal([]byte(body), &empty); err != nil {
		t.Fatal(err)
	}
	if empty["state"] != nil || empty["seq"] != 0.0 {
		t.Fatalf("before any update the state must be null at seq 0: %s", body)
	}

	d.Update(state(clk.Now(), 1, 2, "scale up"))
	_, body = get(t, srv.URL+"/api/state")
	var got struct {
		Seq       uint64                      `json:"seq"`
		KeepS     float64                     `json:"keep_s"`
		State     map[string]any              `json:"state"`
		History   map[string][]map[string]any `json:"history"`
		Decisions map[string][]map[string]any `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Seq != 1 || got.KeepS != 600 {
		t.Fatalf("seq %d keep_s %v: %s", got.Seq, got.KeepS, body)
	}
	broker, _ := got.State["broker"].(map[string]any)
	if got.State["master"] != "m1" || got.State["leading"] != true || broker["connected"] != true {
		t.Fatalf("state %v", got.State)
	}
	pools, _ := got.State["pools"].([]any)
	if len(pools) != 1 {
		t.Fatalf("pools %v", got.State["pools"])
	}
	pool := pools[0].(map[string]any)
	if st := pool["status"].(map[string]any); st["capacity_source"] != "auto" || st["desired"] != 2.0 {
		t.Fatalf("pool status %v", st)
	}
	if ws := pool["workers"].([]any); len(ws) != 1 || ws[0].(map[string]any)["held"] != 10.0 {
		t.Fatalf("workers %v", ws)
	}
	pts := got.History["filter"]
	if len(pts) != 1 {
		t.Fatalf("history %v", got.History)
	}
	if keys := sortedKeys(pts[0]); !slices.Equal(keys, []string{"at", "backlog", "capacity", "current", "desired", "in_flight", "lambda", "ready"}) {
		t.Fatalf("point fields %v", keys)
	}
	if pts[0]["desired"] != 2.0 || pts[0]["in_flight"] != 10.0 {
		t.Fatalf("point %v", pts[0])
	}
	decs := got.Decisions["filter"]
	if len(decs) != 1 {
		t.Fatalf("decisions %v", got.Decisions)
	}
	if keys := sortedKeys(decs[0]); !slices.Equal(keys, []string{"at", "backlog", "capacity", "capacity_source", "current", "desired", "lambda", "raw", "reason"}) {
		t.Fatalf("decision fields %v", keys)
	}
	if decs[0]["reason"] != "scale up" {
		t.Fatalf("decision %v", decs[0])
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestPaths(t *testing.T) {
	d := New(time.Minute, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, contentType string
		status            int
		contains          string
	}{
		{"/", "text/html; charset=utf-8", 200, `id="broker-status"`},
		{"/assets/app.js", "text/javascript; charset=utf-8", 200, `EventSource("api/events")`},
		{"/assets/style.css", "text/css; charset=utf-8", 200, "--bg"},
		{"/api/state", "application/json", 200, `"seq":0`},
		{"/index.html", "", 404, ""},
		{"/assets/", "", 404, ""},
		{"/assets/index.html", "", 404, ""},
		{"/assets/nope.js", "", 404, ""},
		{"/assets/../dashboard.go", "", 404, ""},
		{"/api/", "", 404, ""},
		{"/api/state/more", "", 404, ""},
		{"/metrics", "", 404, ""},
		{"/healthz", "", 404, ""},
		{"/nope", "", 404, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("GET %s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Fatalf("GET %s: content type %q, want %q", tc.path, resp.Header.Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(body, tc.contains) {
				t.Fatalf("GET %s: body lacks %q", tc.path, tc.contains)
			}
		})
	}
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %d", resp.StatusCode)
	}
}

// TestPageFetchesNothingFromOutside checks the embedded files reference no other origin, and that the page's
// CSP forbids it anyway.
func TestPageFetchesNothingFromOutside(t *testing.T) {
	for _, name := range []string{"web/index.html", "web/app.js", "web/style.css"} {
		data, err := web.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// The SVG namespace is a name, not an address the browser fetches.
		text := strings.ReplaceAll(string(data), `"http://www.w3.org/2000/svg"`, "")
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
	d := New(time.Minute, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, _ := get(t, srv.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, data string }

// openEvents connects to /api/events and returns its events on a channel, closed when the stream ends.
func openEvents(t *testing.T, ctx context.Context, url string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<22)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" || ev.data != "" {
					select {
					case out <- ev:
					case <-ctx.Done():
						return
					}
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

// next returns the next event named name, skipping others.
func next(t *testing.T, events <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream ended waiting for %q", name)
			}
			if ev.name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 30 s", name)
		}
	}
}

func TestEventsCarryEveryUpdate(t *testing.T) {
	clk := newClock()
	d := New(10*time.Minute, clk.Now)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "hello")

	for i := 1; i <= 3; i++ {
		clk.Advance(time.Second)
		d.Update(state(clk.Now(), i, i+1, "scale up"))
		var delta Delta
		if err := json.Unmarshal([]byte(next(t, events, "update").data), &delta); err != nil {
			t.Fatal(err)
		}
		if delta.Seq != uint64(i) || delta.State == nil || delta.State.Pools[0].Status.Current != i {
			t.Fatalf("update %d: %+v", i, delta)
		}
		if p, ok := delta.Points["filter"]; !ok || p.Current != i || !p.At.Equal(clk.Now()) {
			t.Fatalf("update %d: points %+v", i, delta.Points)
		}
		if len(delta.Decisions["filter"]) != i {
			t.Fatalf("update %d: decisions %+v", i, delta.Decisions)
		}
	}
	// The same evaluation again (say, the broker's state changed): no new point, no new decision.
	s := state(clk.Now(), 3, 4, "scale up")
	s.Broker = Broker{Connected: false, Since: clk.Now(), Error: "connection reset"}
	d.Update(s)
	var delta Delta
	if err := json.Unmarshal([]byte(next(t, events, "update").data), &delta); err != nil {
		t.Fatal(err)
	}
	if delta.Seq != 4 || len(delta.Points) != 0 || len(delta.Decisions) != 0 || delta.State.Broker.Connected {
		t.Fatalf("repeat update: %+v", delta)
	}
}

func TestEventsKeepalive(t *testing.T) {
	old := keepaliveEvery
	keepaliveEvery = 50 * time.Millisecond
	defer func() { keepaliveEvery = old }()
	d := New(time.Minute, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "ping")
	next(t, events, "ping")
}

func TestEventsEndWithTheRequest(t *testing.T) {
	d := New(time.Minute, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "hello")
	if n := d.clientCount(); n != 1 {
		t.Fatalf("%d clients", n)
	}
	cancel()
	testkit.Eventually(t, 30*time.Second, "the stream's handler to end", func() bool { return d.clientCount() == 0 })
	for range events { // the reader ends too
	}
}

func TestCloseEndsStreams(t *testing.T) {
	d := New(time.Minute, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "hello")
	d.Close()
	d.Close() // twice is fine
	// The stream ends although the page is still there.
	for range events {
	}
	testkit.Eventually(t, 30*time.Second, "the stream's handler to end", func() bool { return d.clientCount() == 0 })
	resp, _ := get(t, srv.URL+"/api/events")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a stream after Close: status %d, want 503", resp.StatusCode)
	}
	d.Update(state(time.Now(), 1, 1, "steady"))
	if resp, body := get(t, srv.URL+"/api/state"); resp.StatusCode != 200 || !strings.Contains(body, `"seq":1`) {
		t.Fatalf("/api/state after Close: %d %s", resp.StatusCode, body)
	}
}

// TestServerShutdownEndsStreams checks that a graceful Shutdown of the server is not held up by an open page.
func TestServerShutdownEndsStreams(t *testing.T) {
	d := New(time.Minute, nil)
	srv := httptest.NewUnstartedServer(d.Handler())
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "hello")
	// Without the stream ending, Shutdown would wait for the context, which never ends.
	if err := srv.Config.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range events {
	}
	testkit.Eventually(t, 30*time.Second, "the stream's handler to end", func() bool { return d.clientCount() == 0 })
	d.mu.Lock()
	left := len(d.shutdowns)
	d.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d shutdown hooks left after the server shut down", left)
	}
}

func (d *Dashboard) clientCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.clients)
}

func TestTooManyStreams(t *testing.T) {
	d := New(time.Minute, nil)
	for range maxClients {
		if d.subscribe() == nil {
			t.Fatal("subscribe refused below the bound")
		}
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	resp, _ := get(t, srv.URL+"/api/events")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stream %d: status %d, want 503", maxClients+1, resp.StatusCode)
	}
}

func TestOfferKeepsTheLatest(t *testing.T) {
	ch := make(chan []byte, 1)
	for _, s := range []string{"a", "b", "c"} {
		offer(ch, []byte(s))
	}
	if got := string(<-ch); got != "c" {
		t.Fatalf("client got %q, want the latest update", got)
	}
	select {
	case b := <-ch:
		t.Fatalf("stale update %q left behind", b)
	default:
	}
}

// TestSlowStreamDoesNotBlockUpdate connects pages that never read their stream, pushes far more updates than
// any socket buffer holds, and checks that Update still returns and that a page that does read sees the last one.
func TestSlowStreamDoesNotBlockUpdate(t *testing.T) {
	d := New(time.Hour, nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()

	var stuck []*http.Response
	for range 3 {
		resp, err := http.Get(srv.URL + "/api/events") // body never read
		if err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, resp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := openEvents(t, ctx, srv.URL)
	next(t, events, "hello")
	testkit.Eventually(t, 30*time.Second, "four streams", func() bool { return d.clientCount() == 4 })

	// About 40 KB per update: 2000 of them are 80 MB per stream, far more than the kernel buffers.
	big := state(time.Now(), 1, 1, "steady")
	for i := range 400 {
		big.Pools[0].Workers = append(big.Pools[0].Workers, Worker{Name: fmt.Sprintf("filter-%d", i), State: "running"})
	}
	const n = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		at := time.Now()
		for i := range n {
			s := big
			s.Pools = slices.Clone(big.Pools)
			s.Pools[0].Status.At = at.Add(time.Duration(i) * time.Millisecond)
			d.Update(s)
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("Update blocked behind pages that do not read")
	}
	// The reading page may have missed updates (coalesced), but it gets the last one.
	for {
		ev := next(t, events, "update")
		var delta struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(ev.data), &delta); err != nil {
			t.Fatal(err)
		}
		if delta.Seq == n {
			break
		}
	}
	for _, resp := range stuck {
		resp.Body.Close()
	}
	cancel()
	srv.CloseClientConnections()
	testkit.Eventually(t, 30*time.Second, "every stream's handler to end", func() bool { return d.clientCount() == 0 })
}
