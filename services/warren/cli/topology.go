package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/spf13/cobra"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/command"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/topology"
)

// topologyCmd is the operator's step: `warren topology apply` declares every exchange, queue and binding with
// an operator's user, so the services can run with users that may not configure anything; `warren topology
// permissions ROLE` prints the role's permission triple (compose/broker-users.sh uses it, so the grants have
// one source); `warren topology verify` checks passively that the topology exists.
func topologyCmd(c *client) *cobra.Command {
	cmd := command.Group(&cobra.Command{
		Use:   "topology",
		Short: "Declare, verify, or print the permissions of Warren's exchanges and queues",
		Long: `As an operator: declare every exchange and queue once, so the services may run with users that have no
configure rights; check that they exist; print the RabbitMQ permissions each role needs.`,
	})
	var recreate bool
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Declare every exchange and queue (as an operator)",
		Long: `Declares every exchange, queue and binding. A queue an earlier version declared with other arguments is
an error, unless --recreate-empty: then it is deleted and declared again when it is empty and unused (a
queue holding messages is never deleted).`,
		Args: cobra.NoArgs,
	}
	apply.RunE = func(cmd *cobra.Command, args []string) error {
		return c.session(cmd, "warren-topology", false, func(context.Context) error {
			return applyTopology(c.conn, c.cfg, recreate, c.out)
		})
	}
	apply.Flags().BoolVar(&recreate, "recreate-empty", false, "delete and redeclare an empty, unused queue that exists with other arguments")
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check that every exchange and queue exists",
		Long:  "Checks passively, declaring nothing, that every exchange and queue exists. Exit status 1 names the first missing one.",
		Args:  cobra.NoArgs,
	}
	// verify declares nothing: it checks what exists.
	verify.RunE = func(cmd *cobra.Command, _ []string) error {
		return c.session(cmd, "warren-topology", false, func(context.Context) error {
			ch, err := c.conn.Channel()
			if err != nil {
				return err
			}
			defer ch.Close()
			if err := topology.Verify(ch); err != nil {
				return err
			}
			fmt.Fprintln(c.out, "topology: every exchange and queue exists")
			return nil
		})
	}
	var readResults bool
	permissions := &cobra.Command{
		Use:   "permissions ROLE",
		Short: "Print a role's RabbitMQ permissions: configure, write, read (one per line)",
		Long: fmt.Sprintf(`Prints the regular expressions a role's RabbitMQ user needs, one per line in rabbitmqctl
set_permissions order: configure, write, read. Roles: %s. Needs no broker.`, strings.Join(topology.RoleNames(), ", ")),
		Example:   "  rabbitmqctl set_permissions -p warren filter $(warren topology permissions filter)",
		Args:      cobra.ExactArgs(1),
		ValidArgs: topology.RoleNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := topology.Permissions(args[0], readResults)
			if err != nil {
				return &command.UsageError{Err: err}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n%s\n", p.Configure, p.Write, p.Read)
			return nil
		},
	}
	permissions.Flags().BoolVar(&readResults, "read-results", false, "client only: may also consume warren.results")
	cmd.AddCommand(apply, verify, permissions)
	return cmd
}

// apply declares the topology. With recreate, a queue an earlier version declared with other arguments is
// deleted and declared again when it is empty and unused; a queue holding messages is never deleted.
func applyTopology(conn *amqp.Connection, cfg config.Config, recreate bool, out io.Writer) error {
	o := cfg.Topology()
	o.AtLeastOnceDeadLettering = amqpx.SupportsAtLeastOnce(conn)
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
			fmt.Fprintf(out, "topology applied (at-least-once dead-lettering: %v)\n", o.AtLeastOnceDeadLettering)
			return nil
		}
		if !recreate || !errors.As(err, &qe) || !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
			if errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed {
				return fmt.Errorf("%w (rerun with --recreate-empty to replace it if it is empty)", err)
			}
			return err
		}
		if err := recreateEmpty(conn, qe.Queue); err != nil {
			return fmt.Errorf("%s exists with other arguments and %w", qe.Queue, err)
		}
		fmt.Fprintf(out, "recreated %s (it was empty, with other arguments)\n", qe.Queue)
	}
	return errors.New("queues keep changing while they are recreated")
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
