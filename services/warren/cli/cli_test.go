//go:build integration

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/services/warren/cli"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// exitError is a command line's failure: its exit status and the first line it wrote on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return fmt.Sprintf("exit %d: %s", e.code, e.msg) }

// run executes one command line against url and returns what it printed on stdout.
func run(t *testing.T, url, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return runCtx(ctx, url, stdin, args...)
}

func runCtx(ctx context.Context, url, stdin string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	code := cli.New(strings.NewReader(stdin)).Execute(ctx, append([]string{"--amqp-url", url, "--timeout", "5s"}, args...), &out, &errOut)
	if code != 0 {
		first, _, _ := strings.Cut(errOut.String(), "\n")
		return out.String(), &exitError{code: code, msg: first}
	}
	return out.String(), nil
}

func TestCommands(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	testkit.GoReady(t, "filter", func(ctx context.Context, ready func()) error {
		return filter.Run(ctx, filter.Options{Config: cfg, Log: testkit.Logger(t, "filter"), Ready: ready})
	})
	testkit.GoReady(t, "insult", func(ctx context.Context, ready func()) error {
		return insult.Run(ctx, insult.Options{Config: cfg, Log: testkit.Logger(t, "insult"), Ready: ready})
	})

	steps := []struct {
		args    []string
		stdin   string
		want    string
		wantErr string
	}{
		{args: []string{"insult", "add", "Scurvy", "Knave"}, want: "Scurvy Knave: added"},
		{args: []string{"insult", "add", "scurvy knave"}, want: "already catalogued"},
		{args: []string{"insult", "ls"}, want: "Scurvy Knave\n"},
		{args: []string{"insult", "ls", "-o", "json"}, want: `{"insult":"Scurvy Knave"}` + "\n"},
		{args: []string{"insult", "random", "--json"}, want: `{"insult":"`},
		{args: []string{"publish", "--wait", "You IDIOT!", "thou scurvy knave"}, want: "You CENSORED!\t(1 censored)"},
		{args: []string{"publish"}, stdin: "line one, fool\n\nline two\n", want: "published"},
		{args: []string{"results", "-n", "2"}, want: "line one, CENSORED\t(1 censored)"},
		{args: []string{"publish", "third, fool"}, want: "published"},
		{args: []string{"results", "-n", "1", "-o", "json"}, want: `","text":"third, CENSORED","censored":1}`},
		{args: []string{"broadcast", "on"}, want: "broadcasting on"},
		{args: []string{"broadcast", "off"}, want: "broadcasting off"},
		{args: []string{"insult", "rm", "scurvy knave"}, want: "removed"},
		{args: []string{"dead", "ls"}, want: "no dead letters"},
		{args: []string{"nope"}, wantErr: `unknown command "nope"`},
		{args: []string{"insult", "shout"}, wantErr: `unknown subcommand "shout"`},
		{args: []string{"broadcast", "maybe"}, wantErr: `unknown subcommand "maybe" (want off, on)`},
		{args: []string{"publish", "--to", "nowhere", "x"}, wantErr: "--to must be filter or broadcaster"},
		{args: []string{"--set", "amqp.prefetch=0", "insult", "ls"}, wantErr: "amqp.prefetch"},
	}
	for _, s := range steps {
		out, err := run(t, url, s.stdin, s.args...)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%v: err = %v, want one line containing %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil || !strings.Contains(out, s.want) {
			t.Errorf("%v: out %q, err %v; want output containing %q", s.args, out, err, s.want)
		}
	}
	var exit *exitError
	if _, err := run(t, url, "", "nope"); !errors.As(err, &exit) || exit.code != 2 {
		t.Errorf("an unknown command is not a usage error: %v", err)
	}

	// A dead letter can be listed, shown and requeued to where it came from.
	testkit.Publish(t, conn, topology.FilterExchange, "", amqp.Publishing{ContentType: "application/json", MessageId: "bad-1", Body: []byte(`{"text": 1}`)})
	testkit.Eventually(t, 5*time.Second, "the dead letter", func() bool {
		out, _ := run(t, url, "", "dead", "ls")
		return strings.Contains(out, "bad-1")
	})
	if out, err := run(t, url, "", "dead", "show", "bad-1"); err != nil || !strings.Contains(out, "wrong schema") || !strings.Contains(out, `exchange "warren.filter"`) {
		t.Errorf("dead show: %q %v", out, err)
	}
	var dl struct {
		N                             int
		MessageID                     string `json:"message_id"`
		Reason, Queue, Exchange, Body string
		Attempts                      int
		FailedAt                      string `json:"failed_at"`
	}
	for _, args := range [][]string{{"dead", "ls", "-o", "json"}, {"dead", "show", "#1", "--json"}} {
		out, err := run(t, url, "", args...)
		if err != nil || strings.Count(out, "\n") != 1 || json.Unmarshal([]byte(out), &dl) != nil {
			t.Fatalf("%v: %q %v; want one JSON line", args, out, err)
		}
		if dl.N != 1 || dl.MessageID != "bad-1" || !strings.Contains(dl.Reason, "wrong schema") || dl.Queue != topology.FilterWork ||
			dl.Exchange != topology.FilterExchange || dl.Body != `{"text": 1}` || dl.FailedAt == "" {
			t.Errorf("%v: %+v", args, dl)
		}
	}
	if out, err := run(t, url, "", "dead", "requeue", "bad-1"); err != nil || !strings.Contains(out, "requeued bad-1 to warren.filter") {
		t.Errorf("dead requeue: %q %v", out, err)
	}
	// Requeued, it fails again the same way and is dead-lettered again: nothing is lost, nothing loops.
	testkit.Eventually(t, 5*time.Second, "the dead letter back", func() bool {
		out, _ := run(t, url, "", "dead", "ls")
		return strings.Count(out, "bad-1") == 1
	})
}

// TestWatchJSON follows warren.status as `watch -o json` and prints each pool status the master publishes as one
// JSON line with the master's field names.
func TestWatchJSON(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut testkit.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.New(nil).Execute(ctx, []string{"--amqp-url", url, "watch", "-o", "json"}, &out, &errOut)
	}()
	status := event.PoolStatus{Pool: "filter", At: time.Now().UTC(), Lambda: 12.5, Backlog: 3, Capacity: 40,
		CapacitySource: "auto", Tr: 2, Current: 1, Desired: 2, Reason: "scale up", Leader: "m-1"}
	body, _ := json.Marshal(status)
	// The private queue exists only once watch has dialled: publish until a status arrives.
	testkit.Eventually(t, 10*time.Second, "watch to print a status", func() bool {
		testkit.Publish(t, conn, topology.StatusExchange, "", amqp.Publishing{ContentType: "application/json", Body: body})
		return strings.Contains(out.String(), "\n")
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d: %s", code, errOut.String())
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	var got event.PoolStatus
	if err := json.Unmarshal([]byte(first), &got); err != nil || got.Pool != "filter" || got.Desired != 2 || got.Reason != "scale up" {
		t.Fatalf("watch -o json printed %q (%v)", first, err)
	}
	for _, field := range []string{`"lambda":12.5`, `"backlog":3`, `"capacity_source":"auto"`, `"tr_s":2`, `"leader":"m-1"`} {
		if !strings.Contains(first, field) {
			t.Errorf("watch -o json line lacks %s: %s", field, first)
		}
	}
}

// TestLanes: publish --key routes to the key's lane, and `warren lanes` lists every lane with its depth, its
// pins and the keys of the master's status; a lane beyond a lowered count is listed as a leftover.
func TestLanes(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	laned := []string{"--set", "lanes.filter.count=3", "--set", "lanes.filter.pin=tenant-b=2"}
	if _, err := run(t, url, "", append(laned, "publish", "--key", "tenant-b", "one", "two")...); err != nil {
		t.Fatal(err)
	}
	status := event.PoolStatus{Pool: "filter", At: time.Now().UTC(), Lanes: []event.LaneStatus{
		{Lane: 2, Queue: topology.FilterWork + ".2", Ready: 2, Keys: []event.KeyCount{{Key: "tenant-b", Events: 2}, {Key: "x", Events: 1}}}}}
	body, _ := json.Marshal(status)
	// Another pool's status comes first: it must not end the wait for the filter's.
	other, _ := json.Marshal(event.PoolStatus{Pool: "broadcaster", At: time.Now().UTC()})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// The command's private queue exists only once it has dialled: publish until it is done.
		for ctx.Err() == nil {
			testkit.Publish(t, conn, topology.StatusExchange, "", amqp.Publishing{ContentType: "application/json", Body: other})
			testkit.Publish(t, conn, topology.StatusExchange, "", amqp.Publishing{ContentType: "application/json", Body: body})
			time.Sleep(50 * time.Millisecond)
		}
	}()
	out, err := run(t, url, "", append(laned, "lanes", "filter", "-o", "json", "--wait", "10s")...)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 3 {
		t.Fatalf("lanes printed %d rows, want 3:\n%s", len(rows), out)
	}
	last := rows[2]
	if last["queue"] != topology.FilterWork+".2" || last["ready"] != float64(2) || last["keys_known"] != true ||
		fmt.Sprint(last["pinned"]) != "[tenant-b]" || !strings.Contains(fmt.Sprint(last["keys"]), "tenant-b") {
		t.Errorf("lane 2: %v", last)
	}
	if rows[0]["ready"] != float64(0) || rows[0]["queue"] != topology.FilterWork {
		t.Errorf("lane 0: %v", rows[0])
	}

	// Two lanes now: lane 2 still holds its two events and is a leftover.
	out, err = run(t, url, "", "--set", "lanes.filter.count=2", "lanes", "filter", "--wait", "0s")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "leftover lane beyond lanes.filter.count") || !strings.Contains(out, "(no master status within 0s)") {
		t.Errorf("lanes after lowering the count:\n%s", out)
	}
}
