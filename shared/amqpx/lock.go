package amqpx

import (
	"errors"
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TryLock takes the lock named queue by declaring it as an exclusive, auto-delete queue: the broker lets one
// connection hold it, refuses to delete it for anyone else (the management API included), and deletes it when
// that connection closes, so its holder keeps it exactly as long as its connection lives and a crashed holder
// cannot keep it. It returns the channel holding the lock (closing it does not release the lock: the queue is
// the connection's), or nil when another connection holds it.
func TryLock(conn *amqp.Connection, queue string) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel for lock %s: %w", queue, err)
	}
	_, err = ch.QueueDeclare(queue, false, true, true, false, nil)
	if err == nil {
		return ch, nil
	}
	_ = ch.Close()
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.ResourceLocked {
		return nil, nil
	}
	return nil, fmt.Errorf("declare lock %s: %w", queue, err)
}
