//go:build integration

package broadcaster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/services/broadcaster/broadcaster"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/health"
	"github.com/warren-mq/warren/shared/metrics/metricstest"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestForwardCarriesTraceAndIsCounted: a forwarded broadcast continues its request's trace, and the worker's
// /metrics counts the request processed and a poison one dead-lettered.
func TestForwardCarriesTraceAndIsCounted(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	cfg.Health.Addr = "127.0.0.1:0"
	addrs := make(chan string, 1)
	testkit.GoReady(t, "broadcaster", func(ctx context.Context, ready func()) error {
		return broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: testkit.Logger(t, "broadcaster"), Ready: ready,
			OnHealth: func(s *health.Server) { addrs <- s.Addr() }})
	})
	addr := <-addrs
	msgs := subscribe(t, conn)
	msg := testkit.JSON(event.Text{ID: "hello", Text: "hello everyone"})
	msg.Headers = amqp.Table{topology.HeaderTraceParent: tp}
	testkit.Publish(t, conn, topology.BroadcasterExchange, "", msg)
	testkit.Publish(t, conn, topology.BroadcasterExchange, "", amqp.Publishing{ContentType: "application/json", Body: []byte(`{`)})
	select {
	case d := <-msgs:
		if d.Headers[topology.HeaderTraceParent] != tp {
			t.Errorf("broadcast headers %v, want the request's traceparent", d.Headers)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no broadcast")
	}
	testkit.Eventually(t, 15*time.Second, "the work counted", func() bool {
		f := metricstest.Scrape(t, addr)
		p, _ := f.Value("warren_worker_events_processed_total", "pool", "broadcaster")
		d, _ := f.Value("warren_worker_events_dead_lettered_total", "pool", "broadcaster")
		c, _ := f.Value("warren_worker_catalogue_insults")
		return p == 1 && d == 1 && c == float64(len(cfg.Insult.Defaults))
	})
}

func TestBadHealthAddrStopsTheStart(t *testing.T) {
	cfg := testkit.Config(t, "amqp://guest:guest@127.0.0.1:1/")
	cfg.Health.Addr = "127.0.0.1:notaport"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := broadcaster.Run(ctx, broadcaster.Options{Config: cfg, Log: testkit.Logger(t, "broadcaster")})
	if err == nil || !strings.Contains(err.Error(), "health.addr") || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want an error naming health.addr at once", err)
	}
}
