//go:build integration

package cli_test

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestTopologyApplyUpgradesEmptyQueues: a count queue an earlier version declared transient and unbounded makes
// `topology apply` fail with the fix; --recreate-empty replaces it while it is empty, never while it holds
// messages.
func TestTopologyApplyUpgradesEmptyQueues(t *testing.T) {
	url := testkit.Broker(t)
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch := testkit.Channel(t, conn)
	old := amqp.Table{"x-queue-type": "classic", "x-max-length": int64(topology.CountQueueMaxLength)}
	if _, err := ch.QueueDeclare(topology.FilterCount, true, false, false, false, old); err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(t.Context(), "", topology.FilterCount, false, false, amqp.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "the message to be queued", func() bool {
		q, err := ch.QueueDeclarePassive(topology.FilterCount, true, false, false, false, nil)
		return err == nil && q.Messages == 1
	})

	_, err = run(t, url, "", "topology", "apply")
	if err == nil || !strings.Contains(err.Error(), topology.FilterCount) || !strings.Contains(err.Error(), "--recreate-empty") {
		t.Fatalf("apply over a queue with other arguments: %v; want an error naming it and the fix", err)
	}
	_, err = run(t, url, "", "topology", "apply", "--recreate-empty")
	if err == nil || !strings.Contains(err.Error(), "holds 1 messages") {
		t.Fatalf("--recreate-empty over a queue holding a message: %v; want a refusal", err)
	}
	if _, err := ch.QueuePurge(topology.FilterCount, false); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, url, "", "topology", "apply", "--recreate-empty")
	if err != nil || !strings.Contains(out, "recreated "+topology.FilterCount) || !strings.Contains(out, "topology applied") {
		t.Fatalf("--recreate-empty over an empty queue: %q, %v", out, err)
	}
	if out, err := run(t, url, "", "topology", "verify"); err != nil || !strings.Contains(out, "every exchange and queue exists") {
		t.Fatalf("verify: %q, %v", out, err)
	}
}
