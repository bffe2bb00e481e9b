//go:build integration

package amqpx_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUnfixableDialErrorsEndRunAtOnce(t *testing.T) {
	good := testkit.Broker(t)
	wrongPass, _ := url.Parse(good)
	wrongPass.User = url.UserPassword(wrongPass.User.Username(), "not-the-password")
	noVhost, _ := url.Parse(good)
	noVhost.Path = "/no-such-vhost"
	for name, u := range map[string]string{"wrong credentials": wrongPass.String(), "unknown vhost": noVhost.String()} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := amqpx.Run(ctx, amqpx.Options{URL: u}, zerolog.Nop(), func(context.Context, *amqp.Connection) error {
				t.Error("session ran with a bad URL")
				return nil
			})
			if !errors.Is(err, amqpx.ErrFatal) {
				t.Fatalf("err = %v, want ErrFatal", err)
			}
			if ctx.Err() != nil {
				t.Fatal("Run kept retrying an unfixable error")
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("error leaks the password: %v", err)
			}
			t.Logf("%s: %v", name, err)
		})
	}
}

// TestQueueWithOtherArgumentsEndsServe: a work queue declared earlier with another delivery limit makes every
// declaration fail with 406; Serve ends at once with one error naming the queue, the argument and the fix,
// instead of redialling for ever.
func TestQueueWithOtherArgumentsEndsServe(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	ch := testkit.Channel(t, conn)
	if _, err := ch.QueueDelete("warren.filter.work", false, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("warren.filter.work", true, false, false, false,
		amqp.Table{"x-queue-type": "quorum", "x-delivery-limit": int64(2), "x-dead-letter-exchange": "warren.dlx",
			"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish",
			"x-max-length": int64(topology.HoldingQueueMaxLength), "x-max-length-bytes": int64(topology.HoldingQueueMaxBytes)}); err != nil {
		t.Fatal(err)
	}
	_ = ch.Close()
	cfg := testkit.Config(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := amqpx.Serve(ctx, cfg, "test", zerolog.Nop(), func(context.Context, *amqp.Connection, *amqpx.Publisher) error {
		t.Error("session ran on a topology the broker refused")
		return nil
	})
	if !errors.Is(err, amqpx.ErrFatal) || ctx.Err() != nil {
		t.Fatalf("Serve = %v (ctx %v), want a fatal error at once", err, ctx.Err())
	}
	for _, want := range []string{"warren.filter.work", "x-delivery-limit", "topology apply --recreate-empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	t.Log(err)
}

// TestQuickSessionFailuresBackOff: sessions that fail right after connecting are redialled with a growing
// backoff, not every 100 ms. Over 3 s, 100+200+400+800+1600 ms of waiting allow at most about 5 sessions (a busy
// machine only makes fewer); without the backoff there would be about 30.
func TestQuickSessionFailuresBackOff(t *testing.T) {
	url := testkit.Broker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	sessions := 0
	err := amqpx.Run(ctx, amqpx.Options{URL: url, ReconnectMax: 5 * time.Second}, zerolog.Nop(), func(context.Context, *amqp.Connection) error {
		sessions++
		return errors.New("fails at once")
	})
	if err != nil {
		t.Fatal(err)
	}
	if sessions < 2 || sessions > 7 {
		t.Errorf("%d sessions in 3 s, want a growing backoff (about 5)", sessions)
	}
	t.Logf("%d sessions in 3 s", sessions)
}
