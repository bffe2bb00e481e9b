// Package testkit gives integration tests a real RabbitMQ broker: each test gets its own fresh vhost, so test
// packages running in parallel never see each other's queues.
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/logging"
	"github.com/warren-mq/warren/shared/topology"
)

// BaseURL is the broker tests use: WARREN_AMQP_URL or the local default.
func BaseURL() string {
	if u := os.Getenv("WARREN_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// mgmtURL is the management API beside the broker (WARREN_MGMT_URL overrides).
func mgmtURL() string {
	if u := os.Getenv("WARREN_MGMT_URL"); u != "" {
		return u
	}
	u, _ := url.Parse(BaseURL())
	return fmt.Sprintf("http://%s:%s@%s:15672", u.User.Username(), password(u), u.Hostname())
}

func password(u *url.URL) string {
	p, _ := u.User.Password()
	return p
}

// Broker returns the URL of a fresh vhost on the real broker, deleted when the test ends. Without a broker the
// test is skipped, except under CI (CI=true), where a missing broker is a failure.
func Broker(t testing.TB) string {
	t.Helper()
	u, _ := url.Parse(BaseURL())
	host := u.Host
	if u.Port() == "" {
		host += ":5672"
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no broker at %s under CI: %v (run compose/broker-up.sh)", host, err)
		}
		t.Skipf("no broker at %s: %v (run compose/broker-up.sh)", host, err)
	}
	_ = c.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	vhost := "warren-test-" + hex.EncodeToString(b)
	mgmt(t, http.MethodPut, "/api/vhosts/"+vhost, "")
	mgmt(t, http.MethodPut, "/api/permissions/"+vhost+"/"+u.User.Username(), `{"configure":".*","write":".*","read":".*"}`)
	t.Cleanup(func() { mgmt(t, http.MethodDelete, "/api/vhosts/"+vhost, "") })
	u.Path = "/" + vhost
	return u.String()
}

func mgmt(t testing.TB, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, mgmtURL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	// No keep-alive: an idle connection's goroutines would outlive the test and trip goleak.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("management API %s %s: %v (is the rabbitmq_management plugin on? compose/broker-up.sh enables it)", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("management API %s %s: %s %s", method, path, resp.Status, b)
	}
}

// Config returns the default configuration pointed at url, with quick timings for tests.
func Config(t testing.TB, url string) config.Config {
	t.Helper()
	t.Chdir(t.TempDir()) // no configs/warren.yaml from the working tree
	c, err := config.Load(config.Flags{AMQPURL: url, Sets: []string{"amqp.shutdown_grace=5s", "amqp.reconnect_max=1s"}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Logger writes to the test log, as the services' own logger would.
func Logger(t testing.TB, service string) zerolog.Logger {
	log, err := logging.New(zerolog.NewTestWriter(t), service, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	return log
}

// Conn dials url, declares the topology, and closes the connection when the test ends.
func Conn(t testing.TB, url string) *amqp.Connection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: url, Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := amqpx.DeclareTopology(conn, topology.Options{DeliveryLimit: 5}); err != nil {
		t.Fatal(err)
	}
	return conn
}

// Go runs fn in a goroutine and, at cleanup, cancels it and waits for it to return nil.
func Go(t testing.TB, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("service returned %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("service did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// Eventually polls cond every 20 ms until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Drain consumes queue until it has been idle for idle, returning the deliveries (acked).
func Drain(t testing.TB, conn *amqp.Connection, queue string, idle time.Duration) []amqp.Delivery {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	msgs, err := ch.Consume(queue, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []amqp.Delivery
	for {
		select {
		case d := <-msgs:
			out = append(out, d)
		case <-time.After(idle):
			return out
		}
	}
}

// Publish publishes one message with confirms.
func Publish(t testing.TB, conn *amqp.Connection, exchange, key string, msg amqp.Publishing) {
	t.Helper()
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(context.Background(), exchange, key, msg); err != nil {
		t.Fatal(err)
	}
}

// JSON is a shorthand for an application/json publishing of v.
func JSON(v any) amqp.Publishing {
	b, _ := json.Marshal(v)
	return amqp.Publishing{ContentType: "application/json", DeliveryMode: amqp.Persistent, Body: b}
}

// GoReady is Go for a service that says when it is ready: it passes fn a ready callback and waits (up to 30 s)
// for the first call before returning.
func GoReady(t testing.TB, what string, fn func(ctx context.Context, ready func()) error) (stop func()) {
	t.Helper()
	ready := make(chan struct{}, 1)
	signal := func() {
		select {
		case ready <- struct{}{}:
		default:
		}
	}
	stop = Go(t, func(ctx context.Context) error { return fn(ctx, signal) })
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not become ready within 30s", what)
	}
	return stop
}

// User creates a broker user holding only perm on vhostURL's vhost (and no other vhost), deleted when the test
// ends, and returns vhostURL with that user's credentials.
func User(t testing.TB, vhostURL, name string, perm topology.Permission) string {
	t.Helper()
	u, err := url.Parse(vhostURL)
	if err != nil {
		t.Fatal(err)
	}
	vhost := strings.TrimPrefix(u.Path, "/")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	user := "warren-test-" + name + "-" + hex.EncodeToString(b)
	pass := hex.EncodeToString(b) + "-pw"
	body, _ := json.Marshal(map[string]string{"password": pass, "tags": ""})
	mgmt(t, http.MethodPut, "/api/users/"+user, string(body))
	t.Cleanup(func() { mgmt(t, http.MethodDelete, "/api/users/"+user, "") })
	perms, _ := json.Marshal(map[string]string{"configure": perm.Configure, "write": perm.Write, "read": perm.Read})
	mgmt(t, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+user, string(perms))
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// Results counts the results on warren.results by event id, consuming them as they arrive.
type Results struct {
	mu     sync.Mutex
	counts map[string]int
}

// CountResults starts counting warren.results on its own channel of conn until the test ends.
func CountResults(t testing.TB, conn *amqp.Connection) *Results {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	if err := ch.Qos(1000, 0, false); err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume(topology.Results, "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Results{counts: map[string]int{}}
	go func() {
		for d := range msgs {
			var res event.Result
			if json.Unmarshal(d.Body, &res) == nil {
				r.mu.Lock()
				r.counts[res.ID]++
				r.mu.Unlock()
			}
		}
	}()
	return r
}

// Settle publishes a marker result behind everything already in warren.results and waits until it is counted:
// every result published before it has been counted too.
func (r *Results) Settle(t testing.TB, conn *amqp.Connection) {
	t.Helper()
	body, _ := json.Marshal(event.Result{ID: "settle-marker"})
	Publish(t, conn, "", topology.Results, amqp.Publishing{ContentType: event.ContentJSON, Body: body})
	Eventually(t, 30*time.Second, "the marker result", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.counts["settle-marker"] > 0
	})
}

// Check returns how many of the ids prefix-0 .. prefix-(n-1) have no result and how many have more than one.
func (r *Results) Check(prefix string, n int) (missing, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < n; i++ {
		switch c := r.counts[fmt.Sprintf("%s-%d", prefix, i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups++
		}
	}
	return missing, dups
}

// PublishTexts publishes n text events with ids prefix-0 .. prefix-(n-1) to warren.filter as fast as confirms
// allow (at most 500 unconfirmed), and returns once every one is confirmed.
func PublishTexts(t testing.TB, conn *amqp.Connection, prefix string, n int) {
	t.Helper()
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := context.Background()
	var pending []*amqp.DeferredConfirmation
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%s-%d", prefix, i)
		body, _ := json.Marshal(event.Text{ID: id, Text: "you idiot"})
		dc, err := pub.PublishAsync(ctx, topology.FilterExchange, "", amqp.Publishing{ContentType: event.ContentJSON,
			DeliveryMode: amqp.Persistent, MessageId: id, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, dc)
		if len(pending) == 500 || i == n-1 {
			for _, dc := range pending {
				if err := amqpx.Wait(ctx, dc, topology.FilterExchange, ""); err != nil {
					t.Fatal(err)
				}
			}
			pending = pending[:0]
		}
	}
}

// FreeAddr returns a loopback address whose port was free a moment ago, for a server the test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// HTTPGet fetches url without keeping connections alive and returns the status code and body; the code is 0
// (and the body the error) when nothing answers.
func HTTPGet(url string) (int, string) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Publisher opens a confirming publisher on conn, closed when the test ends (before conn, which was opened
// first).
func Publisher(t testing.TB, conn *amqp.Connection) *amqpx.Publisher {
	t.Helper()
	pub, err := amqpx.NewPublisher(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

// Channel opens a channel on conn, closed when the test ends (before conn, which was opened first).
func Channel(t testing.TB, conn *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return ch
}

// moduleRoot is the repository's root, found from this file's place in it, so that builds work whatever
// directory a test has moved to (Config moves each test into a temporary one).
var moduleRoot = func() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// BuildServices builds the named services (directories under services/) as static binaries warren-<name> into
// a temporary directory of the test, and returns that directory: the process runtime's bin directory.
func BuildServices(t testing.TB, services ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, s := range services {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "warren-"+s), "./services/"+s)
		cmd.Dir = moduleRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", s, err, out)
		}
	}
	return dir
}

// Buffer is a bytes.Buffer safe for one writer (a command, a process) and a test reading it meanwhile.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
