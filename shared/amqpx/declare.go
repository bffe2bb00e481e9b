package amqpx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/topology"
)

// ErrTopologyMissing means the topology is not declared and this user may not declare it: an operator must run
// `warren topology apply`. It is not fatal, so a service started before that step waits for it.
var ErrTopologyMissing = errors.New("topology not declared")

// DeclareTopology declares Warren's topology on a short-lived channel of conn, with at-least-once
// dead-lettering where the broker supports it. When conn's user may not configure Warren's names (a service
// running with least privilege), it verifies passively that the topology exists instead.
//
// Which pools had lanes is learnt from the broker first (see topology.Lanes.WasLaned), and lane queues beyond a
// pool's configured count are unbound from its hash exchange afterwards, so that lowering lanes.<pool>.count
// stops routing to the lanes dropped; what they still hold is left for `warren lanes` to show.
func DeclareTopology(conn *amqp.Connection, o topology.Options) error {
	o.AtLeastOnceDeadLettering = SupportsAtLeastOnce(conn)
	o.Lanes = learnLanes(conn, o.Lanes)
	err := onChannel(conn, func(ch *amqp.Channel) error { return topology.Declare(ch, o) })
	if err == nil {
		return pruneLanes(conn, o.Lanes)
	}
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.AccessRefused {
		return err
	}
	if verr := onChannel(conn, func(ch *amqp.Channel) error { return topology.Verify(ch) }); verr != nil {
		return fmt.Errorf("%w: %w; this user may not declare it (run `warren topology apply` as an operator)",
			ErrTopologyMissing, verr)
	}
	return nil
}

// learnLanes returns lanes with WasLaned set for every pool whose pin exchange exists.
func learnLanes(conn *amqp.Connection, lanes map[string]topology.Lanes) map[string]topology.Lanes {
	out := make(map[string]topology.Lanes, len(topology.Pools))
	for _, p := range topology.Pools {
		l := lanes[p.Name]
		l.WasLaned = exists(conn, func(ch *amqp.Channel) error {
			return ch.ExchangeDeclarePassive(p.PinExchange(), amqp.ExchangeHeaders, true, false, false, false, nil)
		})
		out[p.Name] = l
	}
	return out
}

// pruneLanes unbinds, from each laned pool's hash exchange, the lane queues beyond its configured count.
func pruneLanes(conn *amqp.Connection, lanes map[string]topology.Lanes) error {
	for _, p := range topology.Pools {
		l := lanes[p.Name]
		if !l.WasLaned || l.Count < 1 {
			continue
		}
		for i := max(l.Count, 1); ; i++ {
			q := p.Lanes(i + 1)[i]
			if !exists(conn, func(ch *amqp.Channel) error {
				_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
				return err
			}) {
				break
			}
			if err := onChannel(conn, func(ch *amqp.Channel) error { return ch.QueueUnbind(q, "1", p.HashExchange(), nil) }); err != nil {
				return fmt.Errorf("unbind leftover lane %s from %s: %w", q, p.HashExchange(), err)
			}
		}
	}
	return nil
}

// exists runs a passive declaration on a channel of its own, since a missing name closes the channel.
func exists(conn *amqp.Connection, passive func(ch *amqp.Channel) error) bool {
	return onChannel(conn, passive) == nil
}

func onChannel(conn *amqp.Connection, f func(ch *amqp.Channel) error) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel to declare topology: %w", err)
	}
	defer ch.Close()
	return f(ch)
}

// SupportsAtLeastOnce reports whether the broker behind conn is RabbitMQ 3.10 or later, the first release with
// quorum queues' at-least-once dead-lettering.
func SupportsAtLeastOnce(conn *amqp.Connection) bool {
	v, _ := conn.Properties["version"].(string)
	major, minor, ok := majorMinor(v)
	return ok && (major > 3 || major == 3 && minor >= 10)
}

func majorMinor(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return major, minor, err1 == nil && err2 == nil
}

// QueueDepth returns a queue's ready messages and consumers, as AMQP's passive declare reports them (it does
// not report unacknowledged messages).
func QueueDepth(conn *amqp.Connection, queue string) (ready, consumers int, err error) {
	ch, err := conn.Channel()
	if err != nil {
		return 0, 0, fmt.Errorf("open channel to inspect %s: %w", queue, err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("inspect %s: %w", queue, err)
	}
	return q.Messages, q.Consumers, nil
}
