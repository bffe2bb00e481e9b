//go:build integration

package cli_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/services/broadcaster/broadcaster"
	"github.com/warren-mq/warren/services/filter/filter"
	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// op is one AMQP operation a role tries on its own channel.
type op struct {
	role, what string
	do         func(ch *amqp.Channel) error
}

func purge(q string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error { _, err := ch.QueuePurge(q, false); return err }
}

func consume(q string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		var args amqp.Table
		if q == topology.InsultLog {
			if err := ch.Qos(10, 0, false); err != nil {
				return err
			}
			args = amqp.Table{"x-stream-offset": "last"}
		}
		// Direct reply-to is consumed without acknowledgements, or the broker refuses it.
		autoAck := strings.HasPrefix(q, "amq.rabbitmq.reply-to")
		_, err := ch.Consume(q, "", autoAck, false, false, false, args)
		return err
	}
}

func get(q string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error { _, _, err := ch.Get(q, false); return err }
}

func deleteQueue(q string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }
}

func declare(q string, exclusive bool) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		_, err := ch.QueueDeclare(q, !exclusive, exclusive, exclusive, false, nil)
		return err
	}
}

// subscribe declares a server-named queue and binds it to exchange, as `warren subscribe` and the master do.
func subscribe(exchange string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			return err
		}
		return ch.QueueBind(q.Name, "", exchange, false, nil)
	}
}

// publish publishes with a confirm and reports the channel's closing error: the broker refuses a forbidden
// publish by closing the channel, not with a nack.
func publish(exchange, key string) func(*amqp.Channel) error {
	return func(ch *amqp.Channel) error {
		closed := ch.NotifyClose(make(chan *amqp.Error, 1))
		if err := ch.Confirm(false); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false,
			amqp.Publishing{ContentType: "application/json", Body: []byte(`{"id":"roles","text":"hello"}`)})
		if err != nil {
			return err
		}
		ok, err := dc.WaitContext(ctx)
		if err == nil && ok {
			return nil
		}
		select {
		case e := <-closed:
			if e != nil {
				return e
			}
		case <-ctx.Done():
		}
		return errors.New("publish not confirmed")
	}
}

// TestLeastPrivilege applies the topology as an operator, then gives every role the permissions
// `make users` grants (topology.Permissions, the one source compose/broker-users.sh reads too) and checks that
// each role's forbidden operations are refused with 403 while the ones its code uses work, and that the services
// run end to end with them: they verify the topology passively instead of declaring it.
func TestLeastPrivilege(t *testing.T) {
	vhostURL := testkit.Broker(t)
	out, err := run(t, vhostURL, "", "topology", "apply")
	if err != nil || !strings.Contains(out, "topology applied") {
		t.Fatalf("topology apply: %q, %v", out, err)
	}
	urls := map[string]string{}
	for _, role := range []string{topology.RoleMaster, topology.RoleFilter, topology.RoleBroadcaster, topology.RoleInsult, topology.RoleClient} {
		perm, err := topology.Permissions(role, false)
		if err != nil {
			t.Fatal(err)
		}
		urls[role] = testkit.User(t, vhostURL, role, perm)
	}
	resultsPerm, _ := topology.Permissions(topology.RoleClient, true)
	urls["client+results"] = testkit.User(t, vhostURL, "results", resultsPerm)

	conns := map[string]*amqp.Connection{}
	for role, u := range urls {
		c, err := amqp.Dial(u)
		if err != nil {
			t.Fatalf("%s dials its vhost: %v", role, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns[role] = c
	}
	try := func(o op) error {
		ch, err := conns[o.role].Channel()
		if err != nil {
			t.Fatalf("%s: open channel: %v", o.role, err)
		}
		err = o.do(ch)
		_ = ch.Close()
		return err
	}

	const (
		m, f, b, i, c = topology.RoleMaster, topology.RoleFilter, topology.RoleBroadcaster, topology.RoleInsult, topology.RoleClient
	)
	forbidden := []op{
		{c, "purge the filter work queue", purge(topology.FilterWork)},
		{c, "consume the filter work queue", consume(topology.FilterWork)},
		{c, "delete the filter work queue", deleteQueue(topology.FilterWork)},
		{c, "purge a count queue", purge(topology.FilterCount)},
		{c, "read dead letters", get(topology.Dead)},
		{c, "consume warren.results without the results grant", consume(topology.Results)},
		{c, "read the catalogue log", consume(topology.InsultLog)},
		{c, "publish through the default exchange", publish("", topology.FilterWork)},
		{c, "publish to the dead-letter exchange", publish(topology.DeadExchange, "")},
		{c, "publish to the stats exchange", publish(topology.StatsExchange, "")},
		{c, "declare a warren queue", declare("warren.rogue", false)},
		{c, "hold the master's leader lock", declare(topology.MasterLeader, true)},
		{f, "consume the broadcaster's work queue", consume(topology.BroadcasterWork)},
		{f, "consume the insult requests", consume(topology.InsultRPC)},
		{f, "purge a count queue", purge(topology.FilterCount)},
		{f, "delete its own work queue", deleteQueue(topology.FilterWork)},
		{f, "declare a warren queue", declare("warren.rogue", false)},
		{f, "publish to the broadcast exchange", publish(topology.BroadcastExchange, "")},
		{b, "consume the filter work queue", consume(topology.FilterWork)},
		{b, "purge a count queue", purge(topology.BroadcasterCount)},
		{b, "delete the dead-letter queue", deleteQueue(topology.Dead)},
		{i, "consume the filter work queue", consume(topology.FilterWork)},
		{i, "purge a count queue", purge(topology.FilterCount)},
		{i, "delete the catalogue log", deleteQueue(topology.InsultLog)},
		{m, "consume the filter work queue", consume(topology.FilterWork)},
		{m, "purge the filter work queue", purge(topology.FilterWork)},
		{m, "delete a count queue", deleteQueue(topology.FilterCount)},
		{m, "publish to the filter exchange", publish(topology.FilterExchange, "")},
		{m, "read dead letters", get(topology.Dead)},
	}
	for _, o := range forbidden {
		err := try(o)
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
			t.Errorf("%s may %s: got %v, want 403 ACCESS_REFUSED", o.role, o.what, err)
		}
	}

	allowed := []op{
		{c, "publish to the filter exchange", publish(topology.FilterExchange, "")},
		{c, "publish to the broadcaster exchange", publish(topology.BroadcasterExchange, "")},
		{c, "publish an insult request", publish(topology.InsultExchange, "")},
		{c, "subscribe to broadcasts", subscribe(topology.BroadcastExchange)},
		{c, "watch the master's status", subscribe(topology.StatusExchange)},
		{c, "await replies on direct reply-to", consume("amq.rabbitmq.reply-to")},
		{"client+results", "consume warren.results", consume(topology.Results)},
		{f, "consume its work queue", consume(topology.FilterWork)},
		{f, "read the catalogue log", consume(topology.InsultLog)},
		{f, "publish a result", publish("", topology.Results)},
		{f, "dead-letter", publish(topology.DeadExchange, "")},
		{f, "report stats", publish(topology.StatsExchange, "")},
		{b, "consume its work queue", consume(topology.BroadcasterWork)},
		{b, "broadcast", publish(topology.BroadcastExchange, "")},
		{b, "hold its leader lock", declare(topology.BroadcasterLeader, true)},
		{i, "consume insult requests", consume(topology.InsultRPC)},
		{i, "append to the catalogue log", publish("", topology.InsultLog)},
		{m, "purge the filter count queue", purge(topology.FilterCount)},
		{m, "purge the broadcaster count queue", purge(topology.BroadcasterCount)},
		{m, "follow worker stats", subscribe(topology.StatsExchange)},
		{m, "publish status", publish(topology.StatusExchange, "")},
		{m, "read its saved state", get(topology.MasterState)},
		{m, "save its state", publish("", topology.MasterState)},
		{m, "hold its leader lock", declare(topology.MasterLeader, true)},
	}
	for _, o := range allowed {
		if err := try(o); err != nil {
			t.Errorf("%s cannot %s: %v", o.role, o.what, err)
		}
	}

	for role, u := range urls {
		root, _ := url.Parse(u)
		root.Path = "/"
		if c, err := amqp.Dial(root.String()); err == nil {
			_ = c.Close()
			t.Errorf("%s may open the / vhost", role)
		}
	}

	// The services themselves run with their roles, and a client uses them.
	testkit.GoReady(t, "insult", func(ctx context.Context, ready func()) error {
		return insult.Run(ctx, insult.Options{Config: testkit.Config(t, urls[i]), Log: testkit.Logger(t, "insult"), Ready: ready})
	})
	testkit.GoReady(t, "filter", func(ctx context.Context, ready func()) error {
		return filter.Run(ctx, filter.Options{Config: testkit.Config(t, urls[f]), Log: testkit.Logger(t, "filter"), Ready: ready})
	})
	testkit.GoReady(t, "broadcaster", func(ctx context.Context, ready func()) error {
		return broadcaster.Run(ctx, broadcaster.Options{Config: testkit.Config(t, urls[b]), Log: testkit.Logger(t, "broadcaster"), Ready: ready})
	})
	for _, s := range []struct {
		args []string
		want string
	}{
		{[]string{"insult", "add", "Scurvy", "Knave"}, "added"},
		{[]string{"publish", "--wait", "thou scurvy knave"}, "thou CENSORED"},
		{[]string{"broadcast", "on"}, "broadcasting on"},
		{[]string{"broadcast", "off"}, "broadcasting off"},
	} {
		out, err := run(t, urls[c], "", s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Errorf("client %v: %q, %v; want %q", s.args, out, err, s.want)
		}
	}
	if out, err := run(t, urls[c], "", "results", "--once"); err == nil {
		t.Errorf("a client without the results grant read warren.results: %q", out)
	}
}
