package master

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/topology"
)

// leaderRetry is how often a standby master tries to take the leader lock. The broker deletes the lock when the
// leader's connection closes, so a standby takes over within about this long of a leader's crash; a leader that
// hangs with its connection open is noticed only when the broker's heartbeat timeout (amqp.heartbeat) closes
// that connection.
const leaderRetry = time.Second

// masterID names this master in logs, in the broker's connection list and in the statuses it publishes: the
// host and pid say where it runs, the random suffix tells apart two masters in one process (tests).
func masterID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// awaitLeadership returns once this master holds the leader lock on conn, with the channel that took it; or
// nil when ctx ends first. While another master leads it is a standby: it says so once, then tries again every
// retry, silently.
func (m *master) awaitLeadership(ctx context.Context, conn *amqp.Connection, retry time.Duration) (*amqp.Channel, error) {
	began := m.o.Now()
	for attempt := 1; ; attempt++ {
		ch, err := amqpx.TryLock(conn, topology.MasterLeader)
		if err != nil || ch != nil {
			return ch, err
		}
		if attempt == 1 {
			m.leadership(false)
			m.log.Info().Str("master", m.id).Str("lock", topology.MasterLeader).Dur("retry", retry).
				Msg("standby: another master leads")
		}
		select {
		case <-ctx.Done():
			m.log.Info().Str("master", m.id).Dur("standby_for", m.o.Now().Sub(began)).Msg("standby ended without leading")
			return nil, nil
		case <-time.After(retry):
		}
	}
}
