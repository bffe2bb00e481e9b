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

	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/fair"
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

// Lane is one of the queues a laned Consumer serves, and its weight in the round robin across them.
type Lane struct {
	Queue  string
	Weight int
}

// Consumer consumes one queue, or several lanes, with manual acks and prefetch, handing deliveries to
// Concurrency goroutines.
type Consumer struct {
	Queue string
	// Lanes, when set, are consumed instead of Queue: one consumer each, holding at most Credit deliveries,
	// served to the handlers in weighted round robin across lanes and in order within a lane (see package
	// fair). The small credit per lane is what lets a quiet lane's deliveries reach the worker while another
	// lane floods: with one prefetch over every lane the flood would fill it.
	Lanes  []Lane
	Credit int
	// Seen, if set, is told the lane (the index in Lanes; 0 without lanes) of every delivery before it is
	// handled.
	Seen        func(lane int, d amqp.Delivery)
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

// Run consumes until ctx ends or the channel closes. On ctx's end it cancels the consumers (basic.cancel), lets
// the handlers finish and ack what was already delivered, within Grace, and closes the channel; anything not
// acked by then is returned to the queue by the broker, never dropped. deadLetters publishes dead letters.
func (c *Consumer) Run(ctx context.Context, conn *amqp.Connection, deadLetters *Publisher) error {
	lanes, prefetch := c.Lanes, max(c.Prefetch, 1)
	if len(lanes) == 0 {
		lanes = []Lane{{Queue: c.Queue, Weight: 1}}
	} else {
		prefetch = max(c.Credit, 1)
	}
	name := lanes[0].Queue
	if len(lanes) > 1 {
		name = fmt.Sprintf("%s (%d lanes)", name, len(lanes))
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel for %s: %w", name, err)
	}
	defer ch.Close()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	// Not global: the limit applies to each consumer, so to each lane.
	if err := ch.Qos(prefetch, 0, false); err != nil {
		return fmt.Errorf("qos %d on %s: %w", prefetch, name, err)
	}
	tags, feeds, err := c.consume(ctx, ch, lanes)
	if err != nil {
		return err
	}
	if c.OnConsuming != nil {
		c.OnConsuming()
	}
	cancel := func() {
		for i, t := range tags {
			if err := ch.Cancel(t, false); err != nil {
				c.Log.Warn().Err(err).Str("queue", lanes[i].Queue).Msg("cancel consumer")
			}
		}
	}
	held, feedEnded := c.take(lanes, feeds)
	// Handlers get a context that outlives ctx by Grace, so in-flight work can still publish and ack.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	handlersDone := c.handle(hctx, held, lanes, deadLetters)

	var result error
	select {
	case <-ctx.Done():
		cancel()
		grace := c.Grace
		if grace <= 0 {
			grace = 10 * time.Second
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-handlersDone:
		case <-t.C:
			c.Log.Warn().Str("queue", name).Dur("grace", grace).Msg("in-flight work not finished in grace; the broker requeues it")
		}
	case e := <-closed:
		result = fmt.Errorf("channel for %s closed: %v", name, e)
	case q := <-feedEnded:
		// One lane's consumer ended (its queue was deleted, say): the session starts over, so that every lane
		// is consumed again once the topology is back.
		result = fmt.Errorf("deliveries for %s ended", q)
		cancel()
	}
	hcancel()
	<-handlersDone
	return result
}

// consume starts one consumer per lane on ch and returns their tags and deliveries.
func (c *Consumer) consume(ctx context.Context, ch *amqp.Channel, lanes []Lane) ([]string, []<-chan amqp.Delivery, error) {
	tag := c.Tag
	if tag == "" {
		tag = fmt.Sprintf("%s-%d", lanes[0].Queue, time.Now().UnixNano())
	}
	tags := make([]string, len(lanes))
	feeds := make([]<-chan amqp.Delivery, len(lanes))
	for i, l := range lanes {
		tags[i] = tag
		if len(lanes) > 1 {
			tags[i] = fmt.Sprintf("%s-lane-%d", tag, i)
		}
		var err error
		feeds[i], err = ch.ConsumeWithContext(context.WithoutCancel(ctx), l.Queue, tags[i], false, c.Exclusive, false, false, c.Args)
		if err != nil {
			return nil, nil, fmt.Errorf("consume %s: %w", l.Queue, err)
		}
	}
	return tags, feeds, nil
}

// take moves deliveries from the client library at once into the worker's own lanes, so every delivery the
// broker counts as unacknowledged is one the worker knows it holds (and reports), not one hidden in the
// library's buffer while every handler is busy; the broker bounds each lane by the prefetch or credit. The
// returned queue closes when every feed has ended; feedEnded names each lane whose feed ends.
func (c *Consumer) take(lanes []Lane, feeds []<-chan amqp.Delivery) (held *fair.Queue[amqp.Delivery], feedEnded <-chan string) {
	weights := make([]int, len(lanes))
	for i, l := range lanes {
		weights[i] = l.Weight
	}
	held = fair.New[amqp.Delivery](weights)
	ended := make(chan string, len(lanes))
	var feeders sync.WaitGroup
	for i, deliveries := range feeds {
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			for d := range deliveries {
				c.hold(1)
				held.Push(i, d)
			}
			ended <- lanes[i].Queue
		}()
	}
	go func() { feeders.Wait(); held.Close() }()
	return held, ended
}

// handle runs Concurrency handlers over what held serves, in round robin across lanes, until it closes; the
// returned channel closes when they are done.
func (c *Consumer) handle(ctx context.Context, held *fair.Queue[amqp.Delivery], lanes []Lane, deadLetters *Publisher) <-chan struct{} {
	var wg sync.WaitGroup
	for range max(c.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, lane, ok := held.Pop()
				if !ok {
					return
				}
				if c.Seen != nil {
					c.Seen(lane, d)
				}
				c.process(ctx, d, lanes[lane].Queue, deadLetters)
				c.hold(-1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// hold tells Hold, when set, of a delivery taken or settled.
func (c *Consumer) hold(delta int) {
	if c.Hold != nil {
		c.Hold(delta)
	}
}

func (c *Consumer) process(ctx context.Context, d amqp.Delivery, queue string, deadLetters *Publisher) {
	backoff := c.RetryBackoff
	if backoff <= 0 {
		backoff = 50 * time.Millisecond
	}
	for attempt := 1; ; attempt++ {
		err := c.call(ctx, d, queue)
		if err == nil {
			if aerr := d.Ack(false); aerr != nil {
				c.Log.Debug().Err(aerr).Msg("ack failed; the broker will redeliver")
			}
			return
		}
		if IsPermanent(err) || attempt > c.Retries {
			c.deadLetter(ctx, d, queue, err, attempt, deadLetters)
			return
		}
		c.Log.Debug().Err(err).Int("attempt", attempt).Str("queue", queue).Msg("handler failed; retrying")
		if !sleep(ctx, backoff*time.Duration(attempt)) {
			_ = d.Nack(false, true)
			return
		}
	}
}

// call runs the handler, turning a panic into an error so one crafted message cannot kill the worker.
func (c *Consumer) call(ctx context.Context, d amqp.Delivery, queue string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
			c.Log.Error().Str("queue", queue).Str("stack", string(debug.Stack())).Msg("handler panicked")
		}
	}()
	return c.Handler(ctx, d)
}

// deadLetter publishes d to warren.dlx with every header it came with (trace context included, so the trace
// shows where the event ended) and Warren's reason headers, then acks it.
func (c *Consumer) deadLetter(ctx context.Context, d amqp.Delivery, queue string, cause error, attempts int, pub *Publisher) {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		headers[k] = v
	}
	headers[topology.HeaderReason] = cause.Error()
	headers[topology.HeaderAttempts] = int64(attempts)
	headers[topology.HeaderFailedAt] = time.Now().UTC().Format(time.RFC3339Nano)
	headers[topology.HeaderQueue] = queue
	headers[topology.HeaderOrigExchange] = d.Exchange
	headers[topology.HeaderOrigRouting] = d.RoutingKey
	msg := amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: amqp.Persistent, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo,
		MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, AppId: d.AppId, Body: d.Body,
	}
	if err := pub.Publish(ctx, topology.DeadExchange, "", msg); err != nil {
		// Not dead-lettered, so not acked: the broker redelivers it, and its delivery limit bounds the loop.
		c.Log.Error().Err(err).Str("queue", queue).Msg("dead-letter publish failed; requeueing")
		_ = d.Nack(false, true)
		return
	}
	c.Log.Warn().Str("queue", queue).Str("reason", cause.Error()).Int("attempts", attempts).
		Str("message_id", d.MessageId).Msg("dead-lettered")
	_ = d.Ack(false)
	if c.OnDeadLetter != nil {
		c.OnDeadLetter(cause)
	}
}

// PoolLanes returns the lanes a worker of a topology pool ("filter", "broadcaster") consumes under cfg, each
// with its weight: the pool's work queue alone when it has one lane.
func PoolLanes(cfg config.Config, pool string) []Lane {
	p, ok := topology.PoolNamed(pool)
	if !ok {
		return nil
	}
	weights := cfg.LaneWeights(pool)
	queues := p.Lanes(len(weights))
	lanes := make([]Lane, len(queues))
	for i, q := range queues {
		lanes[i] = Lane{Queue: q, Weight: weights[i]}
	}
	return lanes
}
