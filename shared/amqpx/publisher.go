package amqpx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNacked is returned when the broker refuses a publish (for example a full queue that rejects publishes).
var ErrNacked = errors.New("publish not confirmed by broker")

// ErrUnroutable is returned by PublishMandatory when the broker hands the message back (basic.return) because
// no queue took it: the queue named by the routing key does not exist, or nothing is bound for it. The
// broker still confirms such a message, so without mandatory it would look delivered and be gone. Reply also
// returns it, wrapped, when a direct reply-to caller has gone.
var ErrUnroutable = errors.New("no queue took the message")

// ReasonUnroutableReplyTo begins the error, and so the dead-letter reason (topology.HeaderReason), of a request
// whose reply_to queue no longer exists when its answer is published.
const ReasonUnroutableReplyTo = "unroutable reply_to"

// Publisher publishes with confirms. It is safe for concurrent use; a channel closed by a channel-level error is
// reopened on the next publish while the connection lives.
//
// Publish and PublishAsync share one channel. PublishMandatory uses channels of its own, each carrying at most
// one mandatory publish at a time: a basic.return carries no delivery tag, but the broker sends it on the
// message's channel before that message's confirm, so with one message in flight per channel a return seen by
// the time its confirm arrives belongs to that message, without marking the message itself. There are as many
// of these channels as mandatory publishes ever ran at once (the callers' concurrency), kept for reuse.
type Publisher struct {
	conn *amqp.Connection
	mu   sync.Mutex
	ch   *amqp.Channel
	// idle holds the mandatory channels not in use; closed is set by Close, after which none are kept.
	idle   []*mandatoryChannel
	closed bool
}

// mandatoryChannel is a confirm-mode channel with its return listener.
type mandatoryChannel struct {
	ch *amqp.Channel
	// returns holds at most the one return of the one publish in flight; it is drained after every publish,
	// so the client library's reader never blocks on it.
	returns chan amqp.Return
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
	ch, err := p.confirmChannel()
	if err != nil {
		return nil, err
	}
	p.ch = ch
	return ch, nil
}

func (p *Publisher) confirmChannel() (*amqp.Channel, error) {
	ch, err := p.conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open publish channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("enable confirms: %w", err)
	}
	return ch, nil
}

// Publish sends msg and waits until the broker confirms it. A message no queue takes is confirmed and dropped
// by the broker; use PublishMandatory where that must be known.
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

// PublishMandatory sends msg with the mandatory flag and waits until the broker confirms it. When no queue
// takes the message, the broker returns it and the error wraps ErrUnroutable with the broker's reply code and
// text; the message was not delivered anywhere, so the caller still owns it. Not for direct reply-to names,
// which RabbitMQ returns even when it delivers them: answer those with Reply.
func (p *Publisher) PublishMandatory(ctx context.Context, exchange, key string, msg amqp.Publishing) error {
	mc, err := p.acquire()
	if err != nil {
		return err
	}
	dc, err := mc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		p.discard(mc)
		return fmt.Errorf("publish to %q/%q: %w", exchange, key, err)
	}
	if _, err := dc.WaitContext(ctx); err != nil && !isDone(dc) {
		// Its confirm, and perhaps a return, may still come: the channel cannot carry another publish.
		p.discard(mc)
		return fmt.Errorf("confirm of publish to %q/%q: %w", exchange, key, err)
	}
	// The library's reader delivers a return before it resolves the confirm that follows it, so by now any
	// return for this message is in the buffer. A closed listener means the channel closed: no return came.
	select {
	case r, ok := <-mc.returns:
		if ok {
			p.release(mc)
			return fmt.Errorf("publish to %q/%q: %w: %d %s", exchange, key, ErrUnroutable, r.ReplyCode, r.ReplyText)
		}
	default:
	}
	p.release(mc)
	if !dc.Acked() {
		return fmt.Errorf("publish to %q/%q: %w", exchange, key, ErrNacked)
	}
	return nil
}

// Reply answers a request by publishing msg to the queue replyTo through the default exchange, and fails when
// that queue is gone: the error is then Permanent and its text begins with ReasonUnroutableReplyTo, so a
// Consumer dead-letters the request at once with that reason instead of retrying an answer nobody can receive,
// and the request is kept rather than acked with its answer lost. A named queue is published to mandatory; a
// direct reply-to name is checked first (see replyDirect).
func (p *Publisher) Reply(ctx context.Context, replyTo string, msg amqp.Publishing) error {
	var err error
	if strings.HasPrefix(replyTo, DirectReplyTo+".") {
		err = p.replyDirect(ctx, replyTo, msg)
	} else {
		err = p.PublishMandatory(ctx, "", replyTo, msg)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrUnroutable):
		return Permanent(fmt.Errorf("%s %q: %w", ReasonUnroutableReplyTo, replyTo, err))
	default:
		return fmt.Errorf("reply to %q: %w", replyTo, err)
	}
}

// replyDirect answers a caller using direct reply-to. Mandatory cannot tell here whether the caller is still
// there: RabbitMQ (3.x) hands such a reply to the caller's channel while routing it but reports no queue for
// it, so it returns every one as NO_ROUTE, delivered or not. A passive declare of the name can tell: it
// succeeds while the caller's channel still consumes amq.rabbitmq.reply-to, and fails with 404 once the
// caller has gone. A caller that goes between this check and the publish still loses its reply silently.
func (p *Publisher) replyDirect(ctx context.Context, replyTo string, msg amqp.Publishing) error {
	mc, err := p.acquire()
	if err != nil {
		return err
	}
	if _, err := mc.ch.QueueDeclarePassive(replyTo, false, false, false, false, nil); err != nil {
		p.discard(mc) // a 404 has closed it
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return fmt.Errorf("direct reply-to caller gone: %w: %s", ErrUnroutable, ae.Reason)
		}
		return fmt.Errorf("check direct reply-to caller: %w", err)
	}
	p.release(mc)
	return p.Publish(ctx, "", replyTo, msg)
}

func isDone(dc *amqp.DeferredConfirmation) bool {
	select {
	case <-dc.Done():
		return true
	default:
		return false
	}
}

// acquire takes an idle mandatory channel, or opens one.
func (p *Publisher) acquire() (*mandatoryChannel, error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		mc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !mc.ch.IsClosed() {
			p.mu.Unlock()
			return mc, nil
		}
	}
	p.mu.Unlock()
	ch, err := p.confirmChannel()
	if err != nil {
		return nil, err
	}
	return &mandatoryChannel{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, 1))}, nil
}

// release keeps mc for the next mandatory publish, unless its channel closed or the publisher did.
func (p *Publisher) release(mc *mandatoryChannel) {
	p.mu.Lock()
	if !p.closed && !mc.ch.IsClosed() {
		p.idle = append(p.idle, mc)
		mc = nil
	}
	p.mu.Unlock()
	if mc != nil {
		_ = mc.ch.Close()
	}
}

// discard closes mc without reusing it.
func (p *Publisher) discard(mc *mandatoryChannel) { _ = mc.ch.Close() }

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

// Close closes the publisher's channels. Mandatory publishes still in flight close theirs when they end.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, mc := range p.idle {
		_ = mc.ch.Close()
	}
	p.idle = nil
	if p.ch == nil {
		return nil
	}
	return p.ch.Close()
}
