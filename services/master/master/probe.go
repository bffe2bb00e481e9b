package master

import (
	"fmt"

	amqp "github.com/rabbitmq/amqp091-go"
)

// probe reads a pool's queues on one channel of the master's connection.
type probe struct {
	ch *amqp.Channel
}

func newProbe(conn *amqp.Connection) (*probe, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open probe channel: %w", err)
	}
	return &probe{ch: ch}, nil
}

// arrivals takes every message out of the count queue in one step and returns how many there were: exactly
// the events that arrived since the previous call. Purging consumes the copies in bulk, so counting costs one
// round trip per window instead of one delivery per event, and the count queue never grows between windows.
func (p *probe) arrivals(countQueue string) (int, error) {
	n, err := p.ch.QueuePurge(countQueue, false)
	if err != nil {
		return 0, fmt.Errorf("purge %s: %w", countQueue, err)
	}
	return n, nil
}

// ready returns the work queue's ready messages and its consumers.
func (p *probe) ready(workQueue string) (ready, consumers int, err error) {
	q, err := p.ch.QueueDeclarePassive(workQueue, true, false, false, false, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("inspect %s: %w", workQueue, err)
	}
	return q.Messages, q.Consumers, nil
}

func (p *probe) close() { _ = p.ch.Close() }
