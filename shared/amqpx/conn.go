// Package amqpx keeps Warren's AMQP plumbing in one place: a connection that is redialled with backoff after
// a broker restart, a publisher that waits for confirms, a consumer loop that wraps every handler the same way
// (panic recovery, bounded retry, dead-lettering with a reason, graceful cancel), and request/reply.
//
// Recovery is written out here rather than left to the client library's opt-in recovery: each (re)connection
// runs the caller's setup again from scratch (declare topology, open channels, start consumers), which keeps
// the state after a restart identical to the state after a fresh start and easy to test.
package amqpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/shared/config"
)

// Options say how to reach the broker.
type Options struct {
	URL string
	// Name shows up as the connection name in the broker's management UI.
	Name         string
	Heartbeat    time.Duration
	ReconnectMax time.Duration
	TLS          *tls.Config
	// OnState, when set, is told of every connection (true, nil) and every failed dial or lost connection
	// (false, the error); see OnConnectionState.
	OnState func(connected bool, err error)
}

func (o Options) state(connected bool, err error) {
	if o.OnState != nil {
		o.OnState(connected, err)
	}
}

// ErrFatal marks dial errors that redialling cannot fix: wrong credentials, no access to the vhost.
var ErrFatal = errors.New("fatal connection error")

// Dial opens one connection, honouring ctx while dialling.
func Dial(ctx context.Context, o Options) (*amqp.Connection, error) {
	props := amqp.NewConnectionProperties()
	if o.Name != "" {
		props.SetClientConnectionName(o.Name)
	}
	cfg := amqp.Config{Heartbeat: o.Heartbeat, Properties: props, TLSClientConfig: o.TLS, Locale: "en_US"}
	type result struct {
		c   *amqp.Connection
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := amqp.DialConfig(o.URL, cfg)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, classify(fmt.Errorf("dial %s: %w (%s)", Redact(o.URL), r.err, URLHint))
		}
		return r.c, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.c != nil {
				_ = r.c.Close()
			}
		}()
		return nil, fmt.Errorf("dial %s: %w (%s)", Redact(o.URL), ctx.Err(), URLHint)
	}
}

// URLHint says how to point a Warren binary at another broker; dial errors end with it.
const URLHint = "set the broker with --amqp-url or WARREN_AMQP_URL"

func classify(err error) error {
	var ae *amqp.Error
	if errors.Is(err, amqp.ErrCredentials) || errors.Is(err, amqp.ErrSASL) || errors.Is(err, amqp.ErrVhost) ||
		(errors.As(err, &ae) && (ae.Code == amqp.AccessRefused || ae.Code == amqp.NotAllowed)) {
		return fmt.Errorf("%w: %w", ErrFatal, err)
	}
	return err
}

// Redact hides the password in a broker URL so it can be logged.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable url>"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Session is the work done on one live connection. Its ctx ends when the connection closes or the caller's
// ctx ends; it should return then. Returning an error closes the connection and redials.
type Session func(ctx context.Context, conn *amqp.Connection) error

// stableSession is how long a session must stay up before the redial backoff starts again from its minimum:
// a session that fails at once (a refused declaration, a channel closed by the broker) would otherwise redial
// every 100 ms for ever.
const stableSession = 10 * time.Second

// Run dials, runs session, and redials with capped exponential backoff whenever the connection is lost, until
// ctx ends (then it returns nil), or a dial or the session fails in a way retrying cannot fix (an error wrapping
// ErrFatal: then it returns that error). The backoff grows across failed dials and across sessions that end
// quickly, and starts again from its minimum only after a session that stayed up.
func Run(ctx context.Context, o Options, log zerolog.Logger, session Session) error {
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 5 * time.Second
	}
	const minBackoff = 100 * time.Millisecond
	backoff := minBackoff
	wait := func() bool {
		ok := sleep(ctx, jitter(backoff))
		backoff = min(backoff*2, o.ReconnectMax)
		return ok
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return nil
		}
		conn, err := Dial(ctx, o)
		if err != nil {
			if errors.Is(err, ErrFatal) {
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			o.state(false, err)
			log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", backoff).Msg("broker unreachable")
			if !wait() {
				return nil
			}
			continue
		}
		if attempt > 1 {
			log.Info().Int("attempts", attempt).Msg("reconnected to broker")
		}
		attempt = 0
		began := time.Now()
		o.state(true, nil)
		err = runSession(ctx, conn, session)
		if ctx.Err() != nil {
			return nil
		}
		o.state(false, err)
		if errors.Is(err, ErrFatal) {
			return err
		}
		if time.Since(began) >= stableSession {
			backoff = minBackoff
		}
		log.Warn().Err(err).Dur("retry_in", backoff).Msg("connection lost; redialling")
		if !wait() {
			return nil
		}
	}
}

func runSession(ctx context.Context, conn *amqp.Connection, session Session) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	var lost error
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case e, ok := <-closed:
			if ok && e != nil {
				lost = e
			} else {
				lost = errors.New("connection closed")
			}
			cancel()
		case <-sctx.Done():
		}
	}()
	err := session(sctx, conn)
	cancel()
	<-watchDone
	_ = conn.Close()
	if err == nil {
		err = lost
	}
	if err == nil {
		err = errors.New("session ended")
	}
	return err
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)/2+1))
}

// sleep waits d or until ctx ends; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ServeOption adjusts how Serve connects.
type ServeOption func(*Options)

// OnConnectionState has Serve call f whenever the connection comes up (true, nil), a dial fails or the
// connection is lost (false, the error), so that a service can say whether it is connected and why not.
// f runs on Serve's goroutine and must not block.
func OnConnectionState(f func(connected bool, err error)) ServeOption {
	return func(o *Options) { o.OnState = f }
}

// ServiceSession is the work a service does on one live connection, with a confirming publisher ready.
type ServiceSession func(ctx context.Context, conn *amqp.Connection, pub *Publisher) error

// Serve is Run for Warren's services: on every (re)connection it declares the topology, opens a confirming
// publisher and runs session, so that a broker restart, or a broker wiped clean, leads back to the same state.
func Serve(ctx context.Context, cfg config.Config, name string, log zerolog.Logger, session ServiceSession, options ...ServeOption) error {
	opts, err := FromConfig(cfg.AMQP, name)
	if err != nil {
		return err
	}
	for _, o := range options {
		o(&opts)
	}
	return Run(ctx, opts, log, func(ctx context.Context, conn *amqp.Connection) error {
		if err := DeclareTopology(conn, cfg.Topology()); err != nil {
			return declareError(err)
		}
		pub, err := NewPublisher(conn)
		if err != nil {
			return err
		}
		defer pub.Close()
		return session(ctx, conn, pub)
	})
}

// declareError makes a declaration the broker refuses for good fatal, with what to do about it: a queue or
// exchange that exists with other arguments (406 PRECONDITION_FAILED), or no permission to configure it
// (403 ACCESS_REFUSED). Redialling would only be refused again.
func declareError(err error) error {
	var ae *amqp.Error
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case amqp.PreconditionFailed:
		return fmt.Errorf("%w: %w (it exists with other arguments than this version declares: run `warren topology "+
			"apply --recreate-empty` as an operator to replace it once it is drained, or run the version that declared it)", ErrFatal, err)
	case amqp.AccessRefused, amqp.NotAllowed:
		return fmt.Errorf("%w: %w (this user may not configure Warren's topology on this vhost)", ErrFatal, err)
	}
	return err
}
