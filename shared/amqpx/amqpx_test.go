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
