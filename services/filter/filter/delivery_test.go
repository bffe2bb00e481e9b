//go:build integration

package filter_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestReplyQueueGoneIsDeadLettered: a text whose reply_to queue exists gets its result there; once that queue
// is deleted, the next text is not confirmed-and-dropped but dead-lettered once, on its first attempt, with a
// reason beginning "unroutable reply_to", and the filter goes on serving.
func TestReplyQueueGoneIsDeadLettered(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startFilter(t, url, "")
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDeclare("client-replies", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	withReplyTo := func(id, replyTo string) amqp.Publishing {
		m := testkit.JSON(event.Text{ID: id, Text: "you idiot"})
		m.ReplyTo, m.MessageId = replyTo, id
		return m
	}

	testkit.Publish(t, conn, topology.FilterExchange, "", withReplyTo("first", "client-replies"))
	var replies []amqp.Delivery
	testkit.Eventually(t, 10*time.Second, "the result in the reply queue", func() bool {
		replies = append(replies, testkit.Drain(t, conn, "client-replies", 100*time.Millisecond)...)
		return len(replies) > 0
	})
	var r event.Result
	if err := json.Unmarshal(replies[0].Body, &r); err != nil || r.ID != "first" || r.Text != "you CENSORED" {
		t.Fatalf("reply %s (%v), want the censored result of first", replies[0].Body, err)
	}

	if _, err := ch.QueueDelete("client-replies", false, false, false); err != nil {
		t.Fatal(err)
	}
	testkit.Publish(t, conn, topology.FilterExchange, "", withReplyTo("orphan", "client-replies"))
	dead := deadLetters(t, conn, 1)
	d := dead[0]
	reason, _ := d.Headers[topology.HeaderReason].(string)
	if d.MessageId != "orphan" || !strings.HasPrefix(reason, amqpx.ReasonUnroutableReplyTo) ||
		d.Headers[topology.HeaderAttempts] != int64(1) || d.Headers[topology.HeaderQueue] != topology.FilterWork ||
		d.ReplyTo != "client-replies" || !strings.Contains(string(d.Body), "you idiot") {
		t.Fatalf("dead letter id=%q reply_to=%q body=%s headers=%v, want orphan's original event, reason %q, 1 attempt",
			d.MessageId, d.ReplyTo, d.Body, d.Headers, amqpx.ReasonUnroutableReplyTo)
	}
	t.Logf("reason: %s", reason)

	// Still serving, and the orphan was not requeued: no second copy appears, nothing is left in the work queue.
	testkit.Publish(t, conn, topology.FilterExchange, "", testkit.JSON(event.Text{ID: "after", Text: "fool"}))
	if got := results(t, conn, time.Second)["after"]; len(got) != 1 {
		t.Fatalf("results for a later text: %+v", got)
	}
	if more := testkit.Drain(t, conn, topology.Dead, time.Second); len(more) != 0 {
		t.Fatalf("%d more dead letters (first %q, reason %v): the orphan loops", len(more), more[0].MessageId, more[0].Headers[topology.HeaderReason])
	}
	if q, err := ch.QueueDeclarePassive(topology.FilterWork, true, false, false, false, nil); err != nil || q.Messages != 0 {
		t.Fatalf("work queue: %d messages ready (%v), want 0", q.Messages, err)
	}
}

// TestResultsQueueGoneIsDeadLettered: with warren.results deleted, a text without reply_to is dead-lettered
// with a reason beginning "unroutable result" instead of its result being dropped.
func TestResultsQueueGoneIsDeadLettered(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startFilter(t, url, "")
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDelete(topology.Results, false, false, false); err != nil {
		t.Fatal(err)
	}
	msg := testkit.JSON(event.Text{ID: "nowhere", Text: "moron"})
	msg.MessageId = "nowhere"
	testkit.Publish(t, conn, topology.FilterExchange, "", msg)
	d := deadLetters(t, conn, 1)[0]
	reason, _ := d.Headers[topology.HeaderReason].(string)
	if d.MessageId != "nowhere" || !strings.HasPrefix(reason, "unroutable result") || !strings.Contains(reason, topology.Results) {
		t.Fatalf("dead letter id=%q reason=%q, want nowhere with an unroutable result reason naming %s", d.MessageId, reason, topology.Results)
	}
	t.Logf("reason: %s", reason)
}

// deadLetters waits for at least n dead letters and returns them.
func deadLetters(t *testing.T, conn *amqp.Connection, n int) []amqp.Delivery {
	t.Helper()
	var dead []amqp.Delivery
	testkit.Eventually(t, 15*time.Second, "dead letters", func() bool {
		dead = append(dead, testkit.Drain(t, conn, topology.Dead, 100*time.Millisecond)...)
		return len(dead) >= n
	})
	return dead
}
