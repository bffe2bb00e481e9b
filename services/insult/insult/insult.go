// Package insult is the InsultService: add, remove, list and pick insults, and switch broadcasting, over
// request/reply on warren.insult.rpc. State lives in the catalogue's event log, so every replica answers alike
// and everything survives restarts.
package insult

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics"
	"github.com/warren-mq/warren/shared/topology"
)

// Options configure an insult-service replica.
type Options struct {
	Config config.Config
	Log    zerolog.Logger
	// Ready, if set, is called each time the replica starts serving requests.
	Ready func()
	// OnHealth, if set, is called with the health server once it listens, before the replica connects; tests
	// read its address from it.
	OnHealth func(*health.Server)
}

// Run serves until ctx ends; it returns an error naming health.addr when that address cannot be served. The
// replica is ready (/readyz) while it consumes warren.insult.rpc.
func Run(ctx context.Context, o Options) error {
	c := o.Config
	reg := metrics.NewRegistry()
	m := metrics.NewInsult(reg, event.Ops)
	cat := catalog.New(c.Insult.Defaults, o.Log, func(s *catalog.Snapshot) { m.Catalogue(len(s.Insults)) })
	srv, err := health.Start(ctx, health.Options{Socket: health.WorkerName(), Addr: c.Health.Addr, AddrKey: "health.addr",
		Metrics: reg, Log: o.Log})
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: health goes after the consumer and the connection.
	defer srv.Stop()
	probe := srv.Probe()
	if o.OnHealth != nil {
		o.OnHealth(srv)
	}
	o.Log.Info().Str("broker", amqpx.Redact(c.AMQP.URL)).Msg("insult service starting")
	return amqpx.Serve(ctx, c, "warren-insult", o.Log, func(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
		m.Connected()
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return cat.Follow(gctx, conn) })
		g.Go(func() error {
			select {
			case <-cat.Ready():
			case <-gctx.Done():
				return nil
			}
			s := &server{cat: cat, pub: pub, maxBody: c.AMQP.MaxBody, metrics: m}
			cons := &amqpx.Consumer{
				Queue: topology.InsultRPC, Prefetch: 50, Concurrency: 8, Retries: c.AMQP.Retries,
				Grace: c.AMQP.ShutdownGrace, Log: o.Log, Handler: s.handle,
				OnConsuming: func() {
					probe.Set(true, "serving "+topology.InsultRPC)
					o.Log.Info().Str("queue", topology.InsultRPC).Msg("serving")
					if o.Ready != nil {
						o.Ready()
					}
				},
			}
			defer probe.Set(false, "not serving "+topology.InsultRPC)
			return cons.Run(gctx, conn, pub)
		})
		return g.Wait()
	})
}

type server struct {
	cat     *catalog.Catalog
	pub     *amqpx.Publisher
	maxBody int
	metrics *metrics.Insult
}

// handle answers one request. A request that cannot be understood still gets a reply saying why (the caller
// is waiting for one) and is then dead-lettered with the same reason. The reply carries the request's W3C
// trace context.
func (s *server) handle(ctx context.Context, d amqp.Delivery) error {
	start := time.Now()
	// Until the request is answered its outcome is an error: a failed publish, or a panic the consumer recovers.
	op, outcome, answered := metrics.OpInvalid, metrics.OutcomeInvalid, false
	defer func() {
		if !answered {
			outcome = metrics.OutcomeError
		}
		s.metrics.Request(op, outcome, time.Since(start).Seconds())
	}()
	req, perr := event.ParseInsultRequest(d.Body, s.maxBody)
	var reply event.InsultReply
	if perr != nil {
		reply = event.InsultReply{OK: false, Error: perr.Error()}
	} else {
		op = req.Op
		var err error
		if reply, err = s.do(ctx, req); err != nil {
			return err
		}
		outcome = metrics.OutcomeOK
		if !reply.OK {
			outcome = metrics.OutcomeRefused
		}
	}
	if d.ReplyTo != "" {
		body, _ := json.Marshal(reply)
		msg := amqp.Publishing{ContentType: event.ContentJSON, CorrelationId: d.CorrelationId, Timestamp: time.Now(),
			Headers: topology.CopyTrace(nil, d.Headers), Body: body}
		// A reply whose caller's queue is gone fails permanently ("unroutable reply_to …"), so the request is
		// dead-lettered with that reason rather than acked with its answer lost.
		if err := s.pub.Reply(ctx, d.ReplyTo, msg); err != nil {
			return err
		}
	}
	answered = true
	return perr
}

func (s *server) do(ctx context.Context, req event.InsultRequest) (event.InsultReply, error) {
	// Read what every replica has written so far: the log is totally ordered, so once this replica has applied
	// a marker appended now, it has applied every change acknowledged before this request. Replicas then give
	// the same answers, at the price of one log round trip per request.
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.cat.Append(sctx, catalog.Entry{Op: catalog.OpSync}); err != nil {
		return event.InsultReply{}, err
	}
	snap := s.cat.Snapshot()
	switch req.Op {
	case event.OpList:
		return event.InsultReply{OK: true, Insults: nonNil(snap.Insults)}, nil
	case event.OpRandom:
		in := snap.Random()
		if in == "" {
			return event.InsultReply{OK: false, Error: "the catalogue is empty"}, nil
		}
		return event.InsultReply{OK: true, Insult: in}, nil
	case event.OpAdd, event.OpRemove:
		changed := snap.Has(req.Insult) == (req.Op == event.OpRemove)
		if changed {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			err := s.cat.Append(actx, catalog.Entry{Op: req.Op, Insult: req.Insult})
			if errors.Is(err, catalog.ErrFull) {
				// A full catalogue is the caller's business, not a failure to retry: say so and keep the request.
				return event.InsultReply{OK: false, Error: err.Error()}, nil
			}
			if err != nil {
				return event.InsultReply{}, err
			}
		}
		return event.InsultReply{OK: true, Insult: req.Insult, Changed: &changed, Insults: nonNil(s.cat.Snapshot().Insults)}, nil
	case event.OpBroadcastOn, event.OpBroadcastOff:
		on := req.Op == event.OpBroadcastOn
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.cat.Append(actx, catalog.Entry{Op: req.Op}); err != nil {
			return event.InsultReply{}, err
		}
		return event.InsultReply{OK: true, Broadcasting: &on}, nil
	}
	return event.InsultReply{OK: false, Error: fmt.Sprintf("unknown op %q", req.Op)}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
