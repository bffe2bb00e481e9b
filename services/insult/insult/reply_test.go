//go:build integration

package insult_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestReplyToVanishedCallerIsDeadLettered: requests whose caller is gone by the time they are answered, one
// with a deleted named reply queue and one with the direct reply-to name of a closed channel, are each
// dead-lettered once with a reason beginning "unroutable reply_to", and the replica goes on answering, its
// answers to callers still there unaffected.
func TestReplyToVanishedCallerIsDeadLettered(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	// Both requests are queued while no replica runs, and their callers vanish before one starts.
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDeclare("caller-replies", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	testkit.Publish(t, conn, "", topology.InsultRPC,
		amqp.Publishing{MessageId: "named", ReplyTo: "caller-replies", ContentType: "application/json", Body: []byte(`{"op":"list"}`)})
	if _, err := ch.QueueDelete("caller-replies", false, false, false); err != nil {
		t.Fatal(err)
	}
	// Direct reply-to: the broker rewrites reply_to to a name for this channel, which dies with it.
	if _, err := ch.Consume(amqpx.DirectReplyTo, "", true, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Publish("", topology.InsultRPC, false, false,
		amqp.Publishing{MessageId: "direct", ReplyTo: amqpx.DirectReplyTo, ContentType: "application/json", Body: []byte(`{"op":"list"}`)}); err != nil {
		t.Fatal(err)
	}
	// Channel.Close waits for close-ok, which the broker sends after every publish before it on the channel.
	if err := ch.Close(); err != nil {
		t.Fatal(err)
	}

	startReplica(t, url)
	var dead []amqp.Delivery
	testkit.Eventually(t, 15*time.Second, "2 dead letters", func() bool {
		dead = append(dead, testkit.Drain(t, conn, topology.Dead, 100*time.Millisecond)...)
		return len(dead) >= 2
	})
	if r := call(t, conn, `{"op":"list"}`); !r.OK {
		t.Fatalf("replica stopped answering: %+v", r)
	}
	dead = append(dead, testkit.Drain(t, conn, topology.Dead, 500*time.Millisecond)...)
	seen := map[string]int{}
	for _, d := range dead {
		seen[d.MessageId]++
		reason, _ := d.Headers[topology.HeaderReason].(string)
		if !strings.HasPrefix(reason, amqpx.ReasonUnroutableReplyTo) || d.Headers[topology.HeaderQueue] != topology.InsultRPC ||
			d.Headers[topology.HeaderAttempts] != int64(1) {
			t.Errorf("dead letter %q: headers %v, want reason %q after 1 attempt", d.MessageId, d.Headers, amqpx.ReasonUnroutableReplyTo)
		}
		t.Logf("%s: %s", d.MessageId, reason)
	}
	if len(dead) != 2 || seen["named"] != 1 || seen["direct"] != 1 {
		t.Fatalf("dead letters %v, want named and direct once each", seen)
	}
}
