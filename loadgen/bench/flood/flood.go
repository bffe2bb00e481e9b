// Package flood drives a closed-loop throughput measurement: publishers send as fast as publisher confirms
// allow while at most Window events are in the system (sent but not yet completed), and a consumer counts
// completions. Bounding what is in the system makes the measured rate one the system sustains, with a queue
// that stays short, instead of the rate at which it can swallow a backlog it will never work off.
package flood

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/loadgen/publish"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// Consumer says what counts as a completed event and how it is consumed.
type Consumer struct {
	// Queue is consumed with manual acks.
	Queue string
	// Prefetch is the consumer's prefetch.
	Prefetch int
	// AckEach acknowledges every delivery on its own, as a Warren worker does; otherwise deliveries are
	// acknowledged in batches, which is cheaper and right for a harness that only counts.
	AckEach bool
}

// Options configure a measurement.
type Options struct {
	// URL is the broker.
	URL string
	// Exchange and Key are where events are published.
	Exchange, Key string
	// Publishers is how many publishers send, each on its own connection.
	Publishers int
	// Window bounds the events in the system; it must exceed what the consumers hold (their prefetch) so
	// that they never wait for work.
	Window int
	// Size is each event's text length in bytes.
	Size int
	// Keys, when set, are the fairness keys (x-warren-key) the events carry, in turn.
	Keys []string
	// Duration is how long to publish; Warmup is the start of it left out of the measurement, while
	// connections, queues and caches settle.
	Duration, Warmup time.Duration
	// Consumer counts completions.
	Consumer Consumer
	// OnSteady, if set, is called when the measured window starts and again when it ends, so a caller can
	// read CPU counters over exactly that window.
	OnSteady func(start bool)
}

// Result is what a measurement found.
type Result struct {
	// Throughput is completions per second over the measured window.
	Throughput float64
	// Published and Completed count events over the whole run.
	Published, Completed int64
	// Nacked counts publishes the broker refused.
	Nacked int64
	// Window is the measured stretch.
	Window time.Duration
	// PerSecond is the completions in each whole second of the run, for a look at how steady it was.
	PerSecond []int64
}

// Run measures. It returns when Duration is over; what is still in the system then is left to the caller
// (the benchmarks delete the whole vhost).
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Publishers < 1 || o.Window < 1 || o.Duration <= o.Warmup {
		return Result{}, fmt.Errorf("flood: need publishers >= 1, window >= 1 and duration > warmup, got %d, %d, %s/%s",
			o.Publishers, o.Window, o.Duration, o.Warmup)
	}
	msgs, err := publish.NewMessages("flood", o.Size)
	if err != nil {
		return Result{}, fmt.Errorf("flood: %w", err)
	}
	f := &flood{o: o, msgs: msgs, tokens: make(chan struct{}, o.Window),
		buckets: make([]atomic.Int64, int(o.Duration/time.Second)+1)}

	cons, err := amqpx.Dial(ctx, amqpx.Options{URL: o.URL, Name: "warren-bench consumer"})
	if err != nil {
		return Result{}, fmt.Errorf("flood: %w", err)
	}
	defer cons.Close()
	deliveries, err := f.consume(cons)
	if err != nil {
		return Result{}, err
	}

	rctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	f.start = time.Now()
	g, gctx := errgroup.WithContext(rctx)
	g.Go(func() error { return f.count(gctx, deliveries) })
	for i := range o.Publishers {
		g.Go(func() error { return f.publish(gctx, i) })
	}
	g.Go(func() error { return f.window(gctx) })
	if err := g.Wait(); err != nil && ctx.Err() == nil {
		return Result{}, err
	}
	res := Result{Published: f.published.Load(), Completed: f.completed.Load(), Nacked: f.nacked.Load(),
		Window: f.steadyEnd.Sub(f.steadyStart)}
	if res.Window > 0 {
		res.Throughput = float64(f.steadyEnd0-f.steadyStart0) / res.Window.Seconds()
	}
	for i := range f.buckets {
		if time.Duration(i+1)*time.Second <= o.Duration {
			res.PerSecond = append(res.PerSecond, f.buckets[i].Load())
		}
	}
	return res, nil
}

type flood struct {
	o      Options
	msgs   *publish.Messages
	tokens chan struct{}
	start  time.Time

	published, completed, nacked atomic.Int64
	buckets                      []atomic.Int64

	mu                       sync.Mutex
	steadyStart, steadyEnd   time.Time
	steadyStart0, steadyEnd0 int64
}

func (f *flood) consume(conn *amqp.Connection) (<-chan amqp.Delivery, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("flood: consumer channel: %w", err)
	}
	if err := ch.Qos(f.o.Consumer.Prefetch, 0, false); err != nil {
		return nil, fmt.Errorf("flood: qos: %w", err)
	}
	d, err := ch.Consume(f.o.Consumer.Queue, "", false, false, false, false, nil)
	if err != nil {
		return nil, fmt.Errorf("flood: consume %s: %w", f.o.Consumer.Queue, err)
	}
	return d, nil
}

// count acknowledges and counts completions; each one lets a publisher send one more event.
func (f *flood) count(ctx context.Context, deliveries <-chan amqp.Delivery) error {
	batch := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("flood: consumer of %s closed", f.o.Consumer.Queue)
			}
			if f.o.Consumer.AckEach {
				if err := d.Ack(false); err != nil {
					return fmt.Errorf("flood: ack: %w", err)
				}
			} else if batch++; batch >= 100 {
				batch = 0
				if err := d.Ack(true); err != nil {
					return fmt.Errorf("flood: ack: %w", err)
				}
			}
			f.completed.Add(1)
			if i := int(time.Since(f.start) / time.Second); i < len(f.buckets) {
				f.buckets[i].Add(1)
			}
			select {
			case <-f.tokens:
			default:
			}
		}
	}
}

// window marks the measured stretch: from Warmup to Duration.
func (f *flood) window(ctx context.Context) error {
	mark := func(start bool) {
		f.mu.Lock()
		if start {
			f.steadyStart, f.steadyStart0 = time.Now(), f.completed.Load()
		} else {
			f.steadyEnd, f.steadyEnd0 = time.Now(), f.completed.Load()
		}
		f.mu.Unlock()
		if f.o.OnSteady != nil {
			f.o.OnSteady(start)
		}
	}
	t := time.NewTimer(f.o.Warmup)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-t.C:
	}
	mark(true)
	<-ctx.Done()
	mark(false)
	return nil
}

// publish sends as fast as the window and confirms allow, with up to 256 confirms outstanding.
func (f *flood) publish(ctx context.Context, idx int) error {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: f.o.URL, Name: fmt.Sprintf("warren-bench publisher %d", idx)})
	if err != nil {
		return fmt.Errorf("flood: %w", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("flood: publisher channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("flood: confirms: %w", err)
	}
	pending := make(chan *amqp.DeferredConfirmation, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for dc := range pending {
			<-dc.Done()
			if !dc.Acked() && !ch.IsClosed() {
				f.nacked.Add(1)
			}
		}
	}()
	defer func() {
		_ = conn.Close()
		close(pending)
		<-done
	}()
	for seq := uint64(0); ; seq++ {
		select {
		case <-ctx.Done():
			return nil
		case f.tokens <- struct{}{}:
		}
		msg := f.msgs.Publishing(f.msgs.ID(idx, seq), seq, time.Now())
		if len(f.o.Keys) > 0 {
			msg.Headers[topology.HeaderKey] = f.o.Keys[(int(seq)+idx)%len(f.o.Keys)]
		}
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.WithoutCancel(ctx), f.o.Exchange, f.o.Key, false, false, msg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("flood: publish: %w", err)
		}
		f.published.Add(1)
		select {
		case pending <- dc:
		case <-ctx.Done():
			return nil
		}
	}
}
