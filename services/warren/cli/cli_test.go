//go:build integration

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/services/warren/cli"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// run executes one command line against url and returns what it printed.
func run(t *testing.T, url, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := cli.Run(ctx, append([]string{"--amqp-url", url, "--timeout", "5s"}, args...),
		cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	return out.String(), err
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
		{args: []string{"publish", "--wait", "You IDIOT!", "thou scurvy knave"}, want: "You CENSORED!\t(1 censored)"},
		{args: []string{"publish"}, stdin: "line one, fool\n\nline two\n", want: "published"},
		{args: []string{"results", "--once"}, want: "line one, CENSORED\t(1 censored)"},
		{args: []string{"broadcast", "on"}, want: "broadcasting on"},
		{args: []string{"broadcast", "off"}, want: "broadcasting off"},
		{args: []string{"insult", "rm", "scurvy knave"}, want: "removed"},
		{args: []string{"dead", "ls"}, want: "no dead letters"},
		{args: []string{"nope"}, wantErr: `unknown command "nope"`},
		{args: []string{"insult", "shout"}, wantErr: "unknown subcommand"},
		{args: []string{"broadcast", "maybe"}, wantErr: "want on or off"},
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
	var usage *cli.UsageError
	if _, err := run(t, url, "", "nope"); !errors.As(err, &usage) {
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
	if out, err := run(t, url, "", "dead", "requeue", "bad-1"); err != nil || !strings.Contains(out, "requeued bad-1 to warren.filter") {
		t.Errorf("dead requeue: %q %v", out, err)
	}
	// Requeued, it fails again the same way and is dead-lettered again: nothing is lost, nothing loops.
	testkit.Eventually(t, 5*time.Second, "the dead letter back", func() bool {
		out, _ := run(t, url, "", "dead", "ls")
		return strings.Count(out, "bad-1") == 1
	})
}
