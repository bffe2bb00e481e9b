//go:build integration

package broadcaster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/services/broadcaster/broadcaster"
	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const period = time.Second

func startBroadcaster(t *testing.T, url string) (stop func()) {
	t.Helper()
	cfg := testkit.Config(t, url)
	cfg.Broadcaster.Period = period
	return testkit.GoReady(t, "broadcaster", func(ctx context.Context, ready func()) error {
		return broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: testkit.Logger(t, "broadcaster"),
			LeaderRetry: 200 * time.Millisecond, Ready: ready})
	})
}

// subscribe binds an exclusive queue to warren.broadcast, as a user would.
func subscribe(t *testing.T, conn *amqp.Connection) <-chan amqp.Delivery {
	t.Helper()
	msgs, ch, err := amqpx.Subscribe(conn, topology.BroadcastExchange, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	return msgs
}

func rpc(t *testing.T, conn *amqp.Connection, op string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := amqpx.Call(ctx, conn, "", topology.InsultRPC, testkit.JSON(event.InsultRequest{Op: op})); err != nil {
		t.Fatal(err)
	}
}

// collect returns the broadcasts of type typ received during d.
func collect(msgs <-chan amqp.Delivery, typ string, d time.Duration) []event.Broadcast {
	var out []event.Broadcast
	end := time.After(d)
	for {
		select {
		case m := <-msgs:
			var b event.Broadcast
			if json.Unmarshal(m.Body, &b) == nil && b.Type == typ {
				out = append(out, b)
			}
		case <-end:
			return out
		}
	}
}

// oneSender fails when the broadcasts came faster than one sender sends them: a single sender's n broadcasts span
// at least n-1 periods less its timer jitter, and one leader handing over to another may shorten one gap more;
// two senders would put about twice as many into the same span. The span is taken from the senders' own
// timestamps, so a test goroutine slowed by a busy machine cannot make it fail.
func oneSender(t *testing.T, got []event.Broadcast) {
	t.Helper()
	if len(got) < 2 {
		return
	}
	span := got[len(got)-1].At.Sub(got[0].At)
	if allowed := int(span/period) + 2; len(got) > allowed {
		t.Fatalf("%d broadcasts within %v (at most %d from one sender): a duplicate sender", len(got), span, allowed)
	}
}

func TestOneInsultPerPeriodWithTwoReplicasAndFailover(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	testkit.Go(t, func(ctx context.Context) error {
		return insult.Run(ctx, insult.Options{Config: cfg, Log: testkit.Logger(t, "insult")})
	})
	stopA := startBroadcaster(t, url)
	startBroadcaster(t, url)
	msgs := subscribe(t, conn)
	rpc(t, conn, "broadcast_on")

	got := collect(msgs, event.BroadcastInsult, 15*period)
	if n := len(got); n < 10 {
		t.Fatalf("%d periodic broadcasts in 15 periods with two replicas, want about 15", n)
	}
	oneSender(t, got)

	// Whichever replica leads, stopping one leaves exactly one sender.
	stopA()
	got = collect(msgs, event.BroadcastInsult, 6*period)
	if n := len(got); n < 2 {
		t.Fatalf("%d broadcasts in 6 periods after stopping a replica: no failover", n)
	}
	oneSender(t, got)

	rpc(t, conn, "broadcast_off")
	time.Sleep(period) // one period at most for the switch to take effect
	if got := collect(msgs, event.BroadcastInsult, 3*period); len(got) != 0 {
		t.Fatalf("%d broadcasts after broadcast_off", len(got))
	}
}

func TestForwardsRequestsToEverySubscriber(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startBroadcaster(t, url)
	startBroadcaster(t, url)
	a, b := subscribe(t, conn), subscribe(t, conn)
	testkit.Publish(t, conn, topology.BroadcasterExchange, "", testkit.JSON(event.Text{ID: "hello", Text: "hello everyone"}))
	for name, msgs := range map[string]<-chan amqp.Delivery{"a": a, "b": b} {
		got := collect(msgs, event.BroadcastMessage, time.Second)
		if len(got) != 1 || got[0].Text != "hello everyone" || got[0].ID != "hello" {
			t.Fatalf("subscriber %s got %+v, want the one message", name, got)
		}
	}
}
