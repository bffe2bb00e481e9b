//go:build integration

package amqpx_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
)

// TestPublishMandatoryReportsUnroutable: a mandatory publish to a queue that does not exist fails with
// ErrUnroutable carrying the broker's reason, where a plain publish is confirmed and silently dropped; one to
// a queue that exists is delivered.
func TestPublishMandatoryReportsUnroutable(t *testing.T) {
	conn := testkit.Conn(t, testkit.Broker(t))
	pub := testkit.Publisher(t, conn)
	declare(t, conn, "present", amqp.Table{"x-queue-type": "classic"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := pub.Publish(ctx, "", "absent", amqp.Publishing{Body: []byte("lost")}); err != nil {
		t.Fatalf("plain publish to a missing queue: %v (the broker confirms and drops it)", err)
	}
	err := pub.PublishMandatory(ctx, "", "absent", amqp.Publishing{Body: []byte("returned")})
	if !errors.Is(err, amqpx.ErrUnroutable) || !strings.Contains(err.Error(), "NO_ROUTE") || !strings.Contains(err.Error(), `"absent"`) {
		t.Fatalf("mandatory publish to a missing queue = %v, want ErrUnroutable naming the queue and NO_ROUTE", err)
	}
	t.Log(err)
	if err := pub.PublishMandatory(ctx, "", "present", amqp.Publishing{MessageId: "m1", Body: []byte("kept")}); err != nil {
		t.Fatalf("mandatory publish to an existing queue: %v", err)
	}
	got := testkit.Drain(t, conn, "present", 300*time.Millisecond)
	if len(got) != 1 || got[0].MessageId != "m1" {
		t.Fatalf("existing queue holds %d messages, want m1 only", len(got))
	}
	if _, ok := got[0].Headers["x-warren-publish-id"]; ok || len(got[0].Headers) != 0 {
		t.Errorf("the publisher marked the message: headers %v", got[0].Headers)
	}
}

// TestPublishMandatoryCorrelatesReturns: many concurrent mandatory publishes, half to a missing queue and half
// to a quorum queue (whose confirms come later than an unroutable message's return and confirm), each get
// their own outcome: every return is reported to the publish it belongs to and to no other.
func TestPublishMandatoryCorrelatesReturns(t *testing.T) {
	conn := testkit.Conn(t, testkit.Broker(t))
	pub := testkit.Publisher(t, conn)
	declare(t, conn, "slow", amqp.Table{"x-queue-type": "quorum"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const workers, each = 16, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wrong []string
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("%d-%d", w, i)
				key := "slow"
				if (w+i)%2 == 1 {
					key = "missing"
				}
				err := pub.PublishMandatory(ctx, "", key, amqp.Publishing{MessageId: id, Body: []byte(id)})
				if (key == "missing") != errors.Is(err, amqpx.ErrUnroutable) || (key == "slow" && err != nil) {
					mu.Lock()
					wrong = append(wrong, fmt.Sprintf("%s to %s: %v", id, key, err))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(wrong) > 0 {
		t.Fatalf("%d publishes got another's outcome, e.g. %s", len(wrong), wrong[0])
	}
	ids := map[string]bool{}
	for _, d := range testkit.Drain(t, conn, "slow", 500*time.Millisecond) {
		ids[d.MessageId] = true
	}
	if len(ids) != workers*each/2 {
		t.Fatalf("quorum queue holds %d distinct messages, want %d", len(ids), workers*each/2)
	}
}

// TestPublishMandatoryAfterChannelError: a mandatory publish to a missing exchange closes its channel (404);
// it fails without ErrUnroutable, and the next mandatory publish works on a fresh channel.
func TestPublishMandatoryAfterChannelError(t *testing.T) {
	conn := testkit.Conn(t, testkit.Broker(t))
	pub := testkit.Publisher(t, conn)
	declare(t, conn, "present", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := pub.PublishMandatory(ctx, "no-such-exchange", "", amqp.Publishing{Body: []byte("x")})
	if err == nil || errors.Is(err, amqpx.ErrUnroutable) {
		t.Fatalf("publish to a missing exchange = %v, want a failure other than ErrUnroutable", err)
	}
	testkit.Eventually(t, 10*time.Second, "a mandatory publish on a fresh channel", func() bool {
		return pub.PublishMandatory(ctx, "", "present", amqp.Publishing{Body: []byte("y")}) == nil
	})
	if err := pub.PublishMandatory(ctx, "", "absent", amqp.Publishing{}); !errors.Is(err, amqpx.ErrUnroutable) {
		t.Fatalf("after recovery, publish to a missing queue = %v, want ErrUnroutable", err)
	}
}

// TestReplyToMissingQueueIsPermanent: Reply to a queue that is gone fails permanently with a reason that
// begins with ReasonUnroutableReplyTo, which is what a Consumer dead-letters with.
func TestReplyToMissingQueueIsPermanent(t *testing.T) {
	conn := testkit.Conn(t, testkit.Broker(t))
	pub := testkit.Publisher(t, conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := pub.Reply(ctx, "gone-reply-queue", amqp.Publishing{Body: []byte("answer")})
	if !amqpx.IsPermanent(err) || !errors.Is(err, amqpx.ErrUnroutable) ||
		!strings.HasPrefix(err.Error(), amqpx.ReasonUnroutableReplyTo+` "gone-reply-queue"`) {
		t.Fatalf("Reply to a missing queue = %v, want a permanent %q error", err, amqpx.ReasonUnroutableReplyTo)
	}
	declare(t, conn, "reply-queue", nil)
	if err := pub.Reply(ctx, "reply-queue", amqp.Publishing{Body: []byte("answer")}); err != nil {
		t.Fatalf("Reply to an existing queue: %v", err)
	}
}

func declare(t *testing.T, conn *amqp.Connection, name string, args amqp.Table) {
	t.Helper()
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		t.Fatal(err)
	}
}

// TestReplyToDirectReplyTo: a direct reply-to caller still consuming gets its reply and Reply succeeds (though
// RabbitMQ would return such a reply if it were published mandatory); once the caller's channel has closed,
// Reply fails permanently with ReasonUnroutableReplyTo.
func TestReplyToDirectReplyTo(t *testing.T) {
	conn := testkit.Conn(t, testkit.Broker(t))
	declare(t, conn, "requests", nil)
	caller, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	replies, err := caller.Consume(amqpx.DirectReplyTo, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The broker rewrites reply_to to a name for the caller's channel; read it back from the request.
	if err := caller.Publish("", "requests", false, false, amqp.Publishing{ReplyTo: amqpx.DirectReplyTo}); err != nil {
		t.Fatal(err)
	}
	var requests []amqp.Delivery
	testkit.Eventually(t, 10*time.Second, "the request", func() bool {
		requests = append(requests, testkit.Drain(t, conn, "requests", 100*time.Millisecond)...)
		return len(requests) > 0
	})
	replyTo := requests[0].ReplyTo
	if !strings.HasPrefix(replyTo, amqpx.DirectReplyTo+".") {
		t.Fatalf("reply_to %q is not a direct reply-to name", replyTo)
	}
	pub := testkit.Publisher(t, conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if err := pub.PublishMandatory(ctx, "", replyTo, amqp.Publishing{Body: []byte("returned yet delivered")}); !errors.Is(err, amqpx.ErrUnroutable) {
		t.Logf("this broker no longer returns delivered direct replies (mandatory publish: %v)", err)
	}
	select {
	case <-replies:
	case <-ctx.Done():
		t.Fatal("the mandatory direct reply was not delivered")
	}
	if err := pub.Reply(ctx, replyTo, amqp.Publishing{Body: []byte("answer")}); err != nil {
		t.Fatalf("Reply to a live direct reply-to caller: %v", err)
	}
	select {
	case d := <-replies:
		if string(d.Body) != "answer" {
			t.Fatalf("caller got %q", d.Body)
		}
	case <-ctx.Done():
		t.Fatal("the caller got no reply")
	}

	if err := caller.Close(); err != nil {
		t.Fatal(err)
	}
	err = pub.Reply(ctx, replyTo, amqp.Publishing{Body: []byte("too late")})
	if !amqpx.IsPermanent(err) || !strings.HasPrefix(err.Error(), amqpx.ReasonUnroutableReplyTo) {
		t.Fatalf("Reply to a closed direct reply-to caller = %v, want a permanent %q error", err, amqpx.ReasonUnroutableReplyTo)
	}
	t.Log(err)
	// The check's 404 closed a channel of the publisher's; it goes on publishing.
	declare(t, conn, "after", nil)
	if err := pub.Reply(ctx, "after", amqp.Publishing{}); err != nil {
		t.Fatalf("Reply after a failed check: %v", err)
	}
}
