package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/loadgen/pattern"
	"github.com/warren-mq/warren/loadgen/report"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// Defaults for Options fields left zero.
const (
	// DefaultMaxInFlight bounds the publishes awaiting a confirm per publisher. When the broker falls this
	// far behind, the publisher waits, and its pacer hands over the missed sends in one batch when it
	// catches up, so the total stays exact.
	DefaultMaxInFlight = 2048
	// maxBatch caps the sends one pacer wake-up releases, so a publisher far behind still checks for
	// cancellation between batches.
	maxBatch = 256
)

// Options configure a Publisher.
type Options struct {
	// URL is the broker; Name labels the connection in the management UI.
	URL, Name string
	// Index numbers the publisher within the run, across all its sources; it is part of every id it sends.
	Index int
	// Source is the index of the publisher's source in the run's report.Recorder, which accounts for every
	// send under it; zero for a single-source run.
	Source int
	// Key is the source's fairness key, sent in the HeaderKey header of every event; empty sends none.
	Key string
	// Messages builds the events.
	Messages *Messages
	// Recorder receives every send and confirm.
	Recorder *report.Recorder
	// MaxInFlight bounds the publishes awaiting a confirm; zero means DefaultMaxInFlight.
	MaxInFlight int
	// OnSend, if set, is called after each publish, e.g. to count the send rate.
	OnSend func()
	// Log receives reconnects and failures.
	Log zerolog.Logger
}

// Publisher sends events on one connection with publisher confirms. It redials after a broker restart and
// sends the event that failed again, with the same id, so a restart delays events instead of dropping
// them. A Publisher is not safe for concurrent use: each goroutine of a run owns one.
type Publisher struct {
	o   Options
	seq uint64
	s   *session
}

// New returns a publisher; it connects on the first send.
func New(o Options) *Publisher {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	return &Publisher{o: o}
}

// inflight is one publish awaiting its confirm.
type inflight struct {
	id string
	dc *amqp.DeferredConfirmation
}

// session is one live connection with its confirm-mode channel and the goroutine that waits for confirms.
type session struct {
	conn    *amqp.Connection
	ch      *amqp.Channel
	pending chan inflight
	done    chan struct{}
}

// Send publishes sched's sends to exchange, each at its offset from start, until the schedule is over or
// ctx ends, and then returns nil. It returns an error only when the broker refuses the connection in a way
// that redialling cannot fix, such as wrong credentials.
func (p *Publisher) Send(ctx context.Context, exchange string, sched pattern.Schedule, start time.Time) error {
	pacer := pattern.NewPacer(sched, start, nil, nil)
	for {
		n, ok := pacer.Wait(ctx, maxBatch)
		if !ok {
			return nil
		}
		for range n {
			if err := p.sendOne(ctx, exchange); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
	}
}

// sendOne publishes the next event, redialling until it goes out or ctx ends.
func (p *Publisher) sendOne(ctx context.Context, exchange string) error {
	seq := p.seq
	p.seq++
	id := p.o.Messages.ID(p.o.Index, seq)
	now := time.Now()
	msg := p.o.Messages.Publishing(id, seq, now)
	WithKey(&msg, p.o.Key)
	// Recorded before the publish so that a result faster than this goroutine still finds its send.
	p.o.Recorder.SentFrom(id, p.o.Source, now)
	for {
		if p.s == nil {
			s, err := p.connect(ctx)
			if err != nil {
				return err
			}
			p.s = s
		}
		// The publish itself is not cancelled with ctx: a frame half-written would close the channel.
		dc, err := p.s.ch.PublishWithDeferredConfirmWithContext(context.WithoutCancel(ctx), exchange, "", false, false, msg)
		if err == nil {
			f := inflight{id, dc}
			select {
			case p.s.pending <- f:
			default:
				// Waiting for room only here keeps a cancelled run from dropping a confirm there is room for.
				select {
				case p.s.pending <- f:
				case <-ctx.Done():
					// The broker has stopped confirming (a memory alarm, say) and the run is over: this event's
					// confirm is not awaited, so it stays unconfirmed.
					return ctx.Err()
				}
			}
			if p.o.OnSend != nil {
				p.o.OnSend()
			}
			return nil
		}
		p.o.Log.Warn().Err(err).Str("publisher", p.o.Name).Str("id", id).Msg("publish failed; reconnecting")
		p.s.close()
		p.s = nil
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// connect dials and opens a confirm channel, retrying with capped backoff until it works or ctx ends. The
// topology is declared first, because publishing to an exchange that does not exist closes the channel.
func (p *Publisher) connect(ctx context.Context) (*session, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		s, err := p.open(ctx)
		if err == nil {
			if attempt > 1 {
				p.o.Log.Info().Str("publisher", p.o.Name).Int("attempts", attempt).Msg("publisher reconnected")
			}
			return s, nil
		}
		if errors.Is(err, amqpx.ErrFatal) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.o.Log.Warn().Err(err).Str("publisher", p.o.Name).Dur("retry_in", backoff).Msg("broker unreachable")
		if !pattern.Sleep(ctx, backoff) {
			return nil, ctx.Err()
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

func (p *Publisher) open(ctx context.Context) (*session, error) {
	conn, err := amqpx.Dial(ctx, amqpx.Options{URL: p.o.URL, Name: p.o.Name, Heartbeat: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	if err := amqpx.DeclareTopology(conn, topology.Options{}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("publisher %s: %w", p.o.Name, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("publisher %s: open channel: %w", p.o.Name, err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("publisher %s: enable confirms: %w", p.o.Name, err)
	}
	s := &session{conn: conn, ch: ch, pending: make(chan inflight, p.o.MaxInFlight), done: make(chan struct{})}
	go s.confirms(p.o.Recorder)
	return s, nil
}

// confirms records each publish's confirm in order. The broker confirms in order (possibly several at a
// time), so waiting on the oldest first costs nothing.
func (s *session) confirms(rec *report.Recorder) {
	defer close(s.done)
	for f := range s.pending {
		<-f.dc.Done()
		ack := f.dc.Acked()
		// The client library resolves every open confirm as a nack when the channel closes; that says nothing
		// about the broker, so such an event stays unconfirmed instead of being counted as refused.
		if !ack && s.ch.IsClosed() {
			continue
		}
		rec.Confirmed(f.id, ack)
	}
}

// close drops a broken session: closing the connection first resolves every confirm the broker will never
// send, so the confirm goroutine can finish.
func (s *session) close() {
	_ = s.conn.Close()
	close(s.pending)
	<-s.done
}

// Close waits for the confirms of everything sent, up to ctx, then closes the connection. Confirms still
// missing when ctx ends leave their events unconfirmed.
func (p *Publisher) Close(ctx context.Context) error {
	if p.s == nil {
		return nil
	}
	s := p.s
	p.s = nil
	close(s.pending)
	select {
	case <-s.done:
	case <-ctx.Done():
		p.o.Log.Warn().Str("publisher", p.o.Name).Msg("confirms still missing at close")
	}
	if err := s.conn.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
		return fmt.Errorf("publisher %s: close: %w", p.o.Name, err)
	}
	<-s.done
	return nil
}

// Sent returns how many events the publisher has sent so far.
func (p *Publisher) Sent() uint64 { return p.seq }
