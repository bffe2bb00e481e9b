package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/pflag"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/topology"
)

// topologyCmd is the operator's step: `warren topology apply` declares every exchange, queue and binding with
// an operator's user, so the services can run with users that may not configure anything; `warren topology
// permissions ROLE` prints the role's permission triple (compose/broker-users.sh uses it, so the grants have
// one source); `warren topology verify` checks passively that the topology exists.
func topologyCmd(ctx context.Context, cfg config.Config, args []string, stdio IO) error {
	if len(args) == 0 {
		return usagef("topology: want apply, verify or permissions ROLE")
	}
	fs := pflag.NewFlagSet("topology", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	recreate := fs.Bool("recreate-empty", false, "apply: delete and redeclare an empty, unused queue that exists with other arguments")
	readResults := fs.Bool("read-results", false, "permissions client: may also consume warren.results")
	if err := fs.Parse(args[1:]); err != nil {
		return usagef("topology %s: %v", args[0], err)
	}
	switch args[0] {
	case "permissions":
		if fs.NArg() != 1 {
			return usagef("topology permissions: want one role (%s)", strings.Join(topology.RoleNames(), ", "))
		}
		p, err := topology.Permissions(fs.Arg(0), *readResults)
		if err != nil {
			return usagef("topology permissions: %v", err)
		}
		// One per line, in rabbitmqctl set_permissions order: configure, write, read.
		fmt.Fprintf(stdio.Out, "%s\n%s\n%s\n", p.Configure, p.Write, p.Read)
		return nil
	case "apply", "verify":
		if fs.NArg() != 0 {
			return usagef("topology %s: unexpected argument %q", args[0], fs.Arg(0))
		}
	default:
		return usagef("topology: unknown subcommand %q (apply, verify, permissions ROLE)", args[0])
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	opts, err := amqpx.FromConfig(cfg.AMQP, "warren-topology")
	if err != nil {
		return err
	}
	conn, err := amqpx.Dial(dctx, opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	if args[0] == "verify" {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		if err := topology.Verify(ch); err != nil {
			return fmt.Errorf("topology verify: %w", err)
		}
		fmt.Fprintln(stdio.Out, "topology: every exchange and queue exists")
		return nil
	}
	return apply(conn, cfg, *recreate, stdio)
}

// apply declares the topology. With recreate, a queue an earlier version declared with other arguments is
// deleted and declared again when it is empty and unused; a queue holding messages is never deleted.
func apply(conn *amqp.Connection, cfg config.Config, recreate bool, stdio IO) error {
	o := topology.Options{DeliveryLimit: cfg.AMQP.DeliveryLimit, AtLeastOnceDeadLettering: amqpx.SupportsAtLeastOnce(conn)}
	for range topology.Queues() {
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		err = topology.Declare(ch, o)
		_ = ch.Close()
		var qe *topology.QueueError
		var ae *amqp.Error
		if err == nil {
			fmt.Fprintf(stdio.Out, "topology applied (at-least-once dead-lettering: %v)\n", o.AtLeastOnceDeadLettering)
			return nil
		}
		if !recreate || !errors.As(err, &qe) || !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
			if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
				return fmt.Errorf("topology apply: %w (rerun with --recreate-empty to replace it if it is empty)", err)
			}
			return fmt.Errorf("topology apply: %w", err)
		}
		if err := recreateEmpty(conn, qe.Queue); err != nil {
			return fmt.Errorf("topology apply: %s exists with other arguments and %w", qe.Queue, err)
		}
		fmt.Fprintf(stdio.Out, "recreated %s (it was empty, with other arguments)\n", qe.Queue)
	}
	return errors.New("topology apply: queues keep changing while they are recreated")
}

func recreateEmpty(conn *amqp.Connection, queue string) error {
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return err
	}
	if q.Messages > 0 || q.Consumers > 0 {
		return fmt.Errorf("holds %d messages with %d consumers: drain it first", q.Messages, q.Consumers)
	}
	if _, err := ch.QueueDelete(queue, true, true, false); err != nil {
		return fmt.Errorf("could not be deleted: %w", err)
	}
	return nil
}
