//go:build integration

package amqpx_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestDeadLetterKeepsHeadersAndIsReported: a dead letter carries every header of the event (its W3C trace
// context included, so the trace shows where the event ended), and OnDeadLetter hears of it once it is
// published, with its reason; an event handled fine is not reported.
func TestDeadLetterKeepsHeadersAndIsReported(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	pub := testkit.Publisher(t, conn)
	var mu sync.Mutex
	var reasons []string
	var held atomic.Int64
	ready := make(chan struct{})
	cons := &amqpx.Consumer{
		Queue: topology.FilterWork, Prefetch: 10, Concurrency: 2, Retries: 1, RetryBackoff: time.Millisecond,
		Log: testkit.Logger(t, "consumer"), Hold: func(d int) { held.Add(int64(d)) },
		Handler: func(_ context.Context, d amqp.Delivery) error {
			switch string(d.Body) {
			case "poison":
				return amqpx.Permanent(errors.New("poison pill"))
			case "flaky":
				return errors.New("always fails")
			}
			return nil
		},
		OnConsuming: func() { close(ready) },
		OnDeadLetter: func(reason error) {
			mu.Lock()
			reasons = append(reasons, reason.Error())
			mu.Unlock()
		},
	}
	testkit.Go(t, func(ctx context.Context) error {
		if err := cons.Run(ctx, conn, pub); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	})
	<-ready
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, body := range []string{"poison", "fine", "flaky"} {
		testkit.Publish(t, conn, topology.FilterExchange, "", amqp.Publishing{MessageId: body, Body: []byte(body),
			Headers: amqp.Table{topology.HeaderTraceParent: tp, topology.HeaderTraceState: "congo=t61rcWkgMzE", "x-custom": "kept"}})
	}
	var dead []amqp.Delivery
	testkit.Eventually(t, 15*time.Second, "2 dead letters", func() bool {
		dead = append(dead, testkit.Drain(t, conn, topology.Dead, 100*time.Millisecond)...)
		return len(dead) >= 2
	})
	for _, d := range dead {
		if d.Headers[topology.HeaderTraceParent] != tp || d.Headers[topology.HeaderTraceState] != "congo=t61rcWkgMzE" ||
			d.Headers["x-custom"] != "kept" || d.Headers[topology.HeaderReason] == nil {
			t.Errorf("dead letter %s headers %v: want the event's own headers and the reason", d.MessageId, d.Headers)
		}
	}
	testkit.Eventually(t, 5*time.Second, "OnDeadLetter twice and nothing held", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reasons) == 2 && held.Load() == 0
	})
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(reasons, "; ")
	if !strings.Contains(joined, "poison pill") || !strings.Contains(joined, "always fails") {
		t.Errorf("reasons %q", joined)
	}
}
