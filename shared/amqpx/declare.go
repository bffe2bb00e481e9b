package amqpx

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/topology"
)

// DeclareTopology declares Warren's topology on a short-lived channel of conn.
func DeclareTopology(conn *amqp.Connection, o topology.Options) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel to declare topology: %w", err)
	}
	defer ch.Close()
	return topology.Declare(ch, o)
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
