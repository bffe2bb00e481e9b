package dashboard

import (
	"time"

	"github.com/warren-mq/warren/shared/event"
)

// State is the master's view at one moment, as the page shows it. The master hands a new State to
// Dashboard.Update after every evaluation and whenever its connection or leadership changes.
type State struct {
	At time.Time `json:"at"`
	// Master names this master; Leading is false while it waits as a standby (another master scales).
	Master  string `json:"master"`
	Leading bool   `json:"leading"`
	Broker  Broker `json:"broker"`
	Pools   []Pool `json:"pools"`
}

// Broker says whether the master is connected, and since when: a page whose master lost the broker says so
// instead of showing charts that stopped moving.
type Broker struct {
	Connected bool      `json:"connected"`
	Since     time.Time `json:"since"`
	// Error is the last connection error while not connected.
	Error string `json:"error,omitempty"`
}

// Pool is one pool: its latest status (λ, backlog, C and its source, current/desired workers, the reason of
// the latest decision) and its workers.
type Pool struct {
	Status  event.PoolStatus `json:"status"`
	Workers []Worker         `json:"workers"`
}

// Worker is one worker as the runtime and its latest report show it.
type Worker struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	// State is running, retiring, exited or starting (running but not reported yet).
	State string `json:"state"`
	// Healthy is false when the worker's own probe fails (Unhealthy says why) or it went silent.
	Healthy   bool   `json:"healthy"`
	Unhealthy string `json:"unhealthy,omitempty"`
	// Held is every delivery the worker holds unacknowledged; InFlight those in its handlers.
	Held        int       `json:"held"`
	InFlight    int       `json:"in_flight"`
	Utilization float64   `json:"utilization"`
	StartedAt   time.Time `json:"started_at"`
	LastReport  time.Time `json:"last_report,omitzero"`
}
