package amqpx

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/topology"
)

// Handler processes one delivery. Returning nil acks it. An error that is permanent (see IsPermanent) is
// dead-lettered at once; any other error is retried up to Consumer.Retries times, then dead-lettered.
type Handler func(ctx context.Context, d amqp.Delivery) error

type permanentError struct{ err error }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() error   { return e.err }
func (e permanentError) Permanent() bool { return true }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err, or an error it wraps, says it is permanent through a Permanent() bool
// method; event.InvalidError does, so invalid input never waits on retries.
func IsPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// Consumer consumes one queue with manual acks and prefetch, handing deliveries to Concurrency goroutines.
type Consumer struct {
	Queue       string
	Tag         string
	Prefetch    int
	Concurrency int
	// Retries is how many times a failed delivery is retried in-process before it is dead-lettered.
	Retries      int
	RetryBackoff time.Duration
	// Grace bounds how long in-flight handlers may run after the consumer is cancelled.
	Grace     time.Duration
	Exclusive bool
	Args      amqp.Table
	Handler   Handler
	Log       zerolog.Logger
	// OnConsuming, if set, is called once the broker has accepted the consumer.
	OnConsuming func()
	// Hold, if set, is told of every delivery the consumer takes (+1) and settles by ack, nack or dead-letter
	// (−1), so the worker can report what it holds: prefetched deliveries waiting for a free handler included.
	Hold func(delta int)
	// OnDeadLetter, if set, is called with the reason of every delivery dead-lettered, once warren.dlx has
	// confirmed it (a dead letter that failed to publish is requeued, not counted).
	OnDeadLetter func(reason error)
}

// Run consumes until ctx ends or the channel closes. On ctx's end it cancels the consumer (basic.cancel), lets
// the handlers finish and ack what was already delivered, within Grace, and closes the channel; anything not
// acked by then is returned to the queue by the broker, never dropped. deadLetters publishes dead letters.
func (c *Consumer) Run(ctx context.Context, conn *amqp.Connection, deadLetters *Publisher) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel for %s: %w", c.Queue, err)
	}
	defer ch.Close()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	prefetch := max(c.Prefetch, 1)
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("qos %d on %s: %w", prefetch, c.Queue, err)
	}
	tag := c.Tag
	if tag == "" {
		tag = fmt.Sprintf("%s-%d", c.Queue, time.Now().UnixNano())
	}
	deliveries, err := ch.ConsumeWithContext(context.WithoutCancel(ctx), c.Queue, tag, false, c.Exclusive, false, false, c.Args)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.Queue, err)
	}
	if c.OnConsuming != nil {
		c.OnConsuming()
	}
	// Handlers get a context that outlives ctx by Grace, so in-flight work can still publish and ack.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	// Deliveries are taken from the client library at once into a queue as deep as the prefetch, so every
	// delivery the broker counts as unacknowledged is one the worker knows it holds (and reports), not one
	// hidden in the library's buffer while every handler is busy.
	queue := make(chan amqp.Delivery, prefetch)
	hold := c.Hold
	if hold == nil {
		hold = func(int) {}
	}
	go func() {
		defer close(queue)
		for d := range deliveries {
			hold(1)
			queue <- d
		}
	}()
	var wg sync.WaitGroup
	for range max(c.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range queue {
				c.process(hctx, d, deadLetters)
				hold(-1)
			}
		}()
	}
	handlersDone := make(chan struct{})
	go func() { wg.Wait(); close(handlersDone) }()

	var result error
	select {
	case <-ctx.Done():
		if err := ch.Cancel(tag, false); err != nil {
			c.Log.Warn().Err(err).Str("queue", c.Queue).Msg("cancel consumer")
		}
		grace := c.Grace
		if grace <= 0 {
			grace = 10 * time.Second
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-handlersDone:
		case <-t.C:
			c.Log.Warn().Str("queue", c.Queue).Dur("grace", grace).Msg("in-flight work not finished in grace; the broker requeues it")
		}
	case e := <-closed:
		result = fmt.Errorf("channel for %s closed: %v", c.Queue, e)
	case <-handlersDone:
		result = fmt.Errorf("deliveries for %s ended", c.Queue)
	}
	hcancel()
	<-handlersDone
	return result
}

func (c *Consumer) process(ctx context.Context, d amqp.Delivery, deadLetters *Publisher) {
	backoff := c.RetryBackoff
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		err := c.call(ctx, d)
		if err == nil {
			if aerr := d.Ack(false); aerr != nil {
				c.Log.Debug().Err(aerr).Msg("ack failed; the broker will redeliver")
			}
			return
		}
		if IsPermanent(err) || attempt > c.Retries {
			c.deadLetter(ctx, d, err, attempt, deadLetters)
			return
		}
		c.Log.Debug().Err(err).Int("attempt", attempt).Str("queue", c.Queue).Msg("handler failed; retrying")
		if !sleep(ctx, backoff*time.Duration(attempt)) {
			_ = d.Nack(false, true)
			return
		}
	}
}

// call runs the handler, turning a panic into an error so one crafted message cannot kill the worker.
func (c *Consumer) call(ctx context.Context, d amqp.Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			c.Log.Error().Str("queue", c.Queue).Str("stack", string(debug.Stack())).Msg("handler panicked")
		}
	}()
	return c.Handler(ctx, d)
}

// deadLetter publishes d to warren.dlx with every header it came with (trace context included, so the trace
// shows where the event ended) and Warren's reason headers, then acks it.
func (c *Consumer) deadLetter(ctx context.Context, d amqp.Delivery, cause error, attempts int, pub *Publisher) {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[topology.HeaderReason] = cause.Error()
	headers[topology.HeaderAttempts] = int64(attempts)
	headers[topology.HeaderFailedAt] = time.Now().UTC().Format(time.RFC3339Nano)
	headers[topology.HeaderQueue] = c.Queue
	headers[topology.HeaderOrigExchange] = d.Exchange
	headers[topology.HeaderOrigRouting] = d.RoutingKey
	msg := amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo,
		MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body,
	}
	if err := pub.Publish(ctx, topology.DeadExchange, "", msg); err != nil {
		// Not dead-lettered, so not acked: the broker redelivers it, and its delivery limit bounds the loop.
		c.Log.Error().Err(err).Str("queue", c.Queue).Msg("dead-letter publish failed; requeueing")
		_ = d.Nack(false, true)
		return
	}
	c.Log.Warn().Str("queue", c.Queue).Str("reason", cause.Error()).Int("attempts", attempts).
		Str("message_id", d.MessageId).Msg("dead-lettered")
	_ = d.Ack(false)
	if c.OnDeadLetter != nil {
		c.OnDeadLetter(cause)
	}
}
