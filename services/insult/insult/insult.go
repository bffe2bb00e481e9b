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
	"github.com/warren-mq/warren/shared/topology"
)

// Options configure an insult-service replica.
type Options struct {
	Config config.Config
	Log    zerolog.Logger
	// Ready, if set, is called each time the replica starts serving requests.
	Ready func()
}

// Run serves until ctx ends.
func Run(ctx context.Context, o Options) error {
	c := o.Config
	cat := catalog.New(c.Insult.Defaults, o.Log, nil)
	o.Log.Info().Str("broker", amqpx.Redact(c.AMQP.URL)).Msg("insult service starting")
	return amqpx.Serve(ctx, c.AMQP, "warren-insult", o.Log, func(ctx context.Context, conn *amqp.Connection, pub *amqpx.Publisher) error {
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return cat.Follow(gctx, conn) })
		g.Go(func() error {
			select {
			case <-cat.Ready():
			case <-gctx.Done():
				return nil
			}
			s := &server{cat: cat, pub: pub, maxBody: c.AMQP.MaxBody}
			cons := &amqpx.Consumer{
				Queue: topology.InsultRPC, Prefetch: 50, Concurrency: 8, Retries: c.AMQP.Retries,
				Grace: c.AMQP.ShutdownGrace, Log: o.Log, Handler: s.handle,
				OnConsuming: func() {
					o.Log.Info().Str("queue", topology.InsultRPC).Msg("serving")
					if o.Ready != nil {
						o.Ready()
					}
				},
			}
			return cons.Run(gctx, conn, pub)
		})
		return g.Wait()
	})
}

type server struct {
	cat     *catalog.Catalog
	pub     *amqpx.Publisher
	maxBody int
}

// handle answers one request. A request that cannot be understood still gets a reply saying why (the caller
// is waiting for one) and is then dead-lettered with the same reason.
func (s *server) handle(ctx context.Context, d amqp.Delivery) error {
	req, perr := event.ParseInsultRequest(d.Body, s.maxBody)
	var reply event.InsultReply
	if perr != nil {
		reply = event.InsultReply{OK: false, Error: perr.Error()}
	} else {
		var err error
		if reply, err = s.do(ctx, req); err != nil {
			return err
		}
	}
	if d.ReplyTo != "" {
		body, _ := json.Marshal(reply)
		msg := amqp.Publishing{ContentType: event.ContentJSON, CorrelationId: d.CorrelationId, Timestamp: time.Now(), Body: body}
		// A reply whose caller's queue is gone fails permanently ("unroutable reply_to …"), so the request is
		// dead-lettered with that reason rather than acked with its answer lost.
		if err := s.pub.Reply(ctx, d.ReplyTo, msg); err != nil {
			return err
		}
	}
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
