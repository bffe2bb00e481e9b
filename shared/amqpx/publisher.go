package amqpx

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNacked is returned when the broker refuses a publish (for example a full queue that rejects publishes).
var ErrNacked = errors.New("publish not confirmed by broker")

// Publisher publishes with confirms on its own channel. It is safe for concurrent use; a channel closed by a
// channel-level error is reopened on the next publish while the connection lives.
type Publisher struct {
	conn *amqp.Connection
	mu   sync.Mutex
	ch   *amqp.Channel
}

// NewPublisher opens a confirm-mode channel on conn.
func NewPublisher(conn *amqp.Connection) (*Publisher, error) {
	p := &Publisher{conn: conn}
	if _, err := p.channel(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Publisher) channel() (*amqp.Channel, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch != nil && !p.ch.IsClosed() {
		return p.ch, nil
	}
	ch, err := p.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publish channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable confirms: %w", err)
	}
	p.ch = ch
	return ch, nil
}

// Publish sends msg and waits until the broker confirms it.
func (p *Publisher) Publish(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	dc, err := p.PublishAsync(ctx, exchange, key, msg)
	if err != nil {
		return err
	}
	return Wait(ctx, dc, exchange, key)
}

// PublishAsync sends msg and returns its pending confirmation, so a caller can keep many publishes in flight.
func (p *Publisher) PublishAsync(ctx context.Context, exchange, key string, msg amqp.Publishing) (*amqp.DeferredConfirmation, error) {
	ch, err := p.channel()
	if err != nil {
		return nil, err
	}
	dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false, msg)
	if err != nil {
		return nil, fmt.Errorf("publish to %q/%q: %w", exchange, key, err)
	}
	return dc, nil
}

// Wait waits for one pending confirmation.
func Wait(ctx context.Context, dc *amqp.DeferredConfirmation, exchange, key string) error {
	ok, err := dc.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("confirm of publish to %q/%q: %w", exchange, key, err)
	}
	if !ok {
		return fmt.Errorf("publish to %q/%q: %w", exchange, key, ErrNacked)
	}
	return nil
}

// Close closes the publisher's channel.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil {
		return nil
	}
	return p.ch.Close()
}
