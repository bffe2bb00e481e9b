//go:build integration

package master_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestStatusServerFollowsTheMaster runs a master with master.status_addr against the real broker and checks
// its endpoints as it moves from standby to leading: /healthz always answers, /readyz only while leading,
// /metrics has the pool's series, and /sd/workers lists the worker it started at an address where the
// worker's own /metrics answers with the events it processed.
func TestStatusServerFollowsTheMaster(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	release := holdLeaderLock(t, url)
	cfg := testConfig(t, url, "process", 1)
	cfg.Master.StatusAddr = testkit.FreeAddr(t)
	base := "http://" + cfg.Master.StatusAddr
	rt := newRuntime(t, cfg, owner())
	startMaster(t, cfg, rt)

	testkit.Eventually(t, 30*time.Second, "/readyz says standby", func() bool {
		code, body := testkit.HTTPGet(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "standby")
	})
	if code, _ := testkit.HTTPGet(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz of a standby: %d, want 200", code)
	}
	release()
	testkit.Eventually(t, 30*time.Second, "/readyz says leading", func() bool {
		code, body := testkit.HTTPGet(base + "/readyz")
		return code == http.StatusOK && strings.Contains(body, "leading")
	})

	const n = 500
	rc := testkit.CountResults(t, conn)
	testkit.PublishTexts(t, conn, "m", n)
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("m", n); return missing == 0 })

	testkit.Eventually(t, 30*time.Second, "the pool's series on /metrics", func() bool {
		_, m := testkit.HTTPGet(base + "/metrics")
		return strings.Contains(m, `warren_pool_desired_workers{pool="filter"} 1`) &&
			strings.Contains(m, `warren_pool_worker_starts_total{pool="filter"} 1`) &&
			strings.Contains(m, `warren_pool_worker_start_latency_seconds_count{pool="filter"} 1`) &&
			strings.Contains(m, `warren_master_leader 1`) && strings.Contains(m, `warren_master_broker_connected 1`) &&
			strings.Contains(m, `warren_pool_decisions_total{pool="filter",reason="at_min"}`)
	})

	var targets []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	testkit.Eventually(t, 30*time.Second, "the worker in /sd/workers", func() bool {
		_, body := testkit.HTTPGet(base + "/sd/workers")
		return json.Unmarshal([]byte(body), &targets) == nil && len(targets) == 1
	})
	if targets[0].Labels["pool"] != "filter" || len(targets[0].Targets) != 1 {
		t.Fatalf("discovered %+v", targets)
	}
	worker := "http://" + targets[0].Targets[0]
	testkit.Eventually(t, 30*time.Second, "the worker's processed counter", func() bool {
		_, m := testkit.HTTPGet(worker + "/metrics")
		return strings.Contains(m, fmt.Sprintf(`warren_worker_events_processed_total{pool="filter",worker=%q} %d`, targets[0].Labels["worker"], n))
	})
}

// TestStatusServerSaysTheBrokerIsDown checks a master that cannot reach its broker: alive, not ready, and its
// dashboard state and metrics say that the broker is down and why.
func TestStatusServerSaysTheBrokerIsDown(t *testing.T) {
	cfg := testConfig(t, "amqp://guest:guest@127.0.0.1:1/", "process", 1)
	cfg.Master.StatusAddr = testkit.FreeAddr(t)
	base := "http://" + cfg.Master.StatusAddr
	log := zerolog.Nop()
	testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: log})
	})
	testkit.Eventually(t, 30*time.Second, "/readyz says the broker is unreachable", func() bool {
		code, body := testkit.HTTPGet(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "broker unreachable")
	})
	if code, _ := testkit.HTTPGet(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz without a broker: %d, want 200 (alive; it reconnects on its own)", code)
	}
	var st struct {
		State struct {
			Broker struct {
				Connected bool   `json:"connected"`
				Error     string `json:"error"`
			} `json:"broker"`
		} `json:"state"`
	}
	testkit.Eventually(t, 30*time.Second, "/api/state says the broker is down", func() bool {
		_, body := testkit.HTTPGet(base + "/api/state")
		return json.Unmarshal([]byte(body), &st) == nil && !st.State.Broker.Connected && strings.Contains(st.State.Broker.Error, "refused")
	})
	if _, m := testkit.HTTPGet(base + "/metrics"); !strings.Contains(m, "warren_master_broker_connected 0") {
		t.Errorf("/metrics does not say the broker is down")
	}
}

// TestLanedPool runs a master whose filter pool has three lanes: the worker it spawns learns the lanes from
// it and answers every event of every lane; the master's status lists the lanes, sums the backlog over them,
// and names the keys the worker took from each.
func TestLanedPool(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	cfg := testConfig(t, url, "process", 1)
	cfg.Lanes = map[string]config.Lanes{"filter": {Count: 3, Pin: []string{"pinned=2"}}}
	statuses := make(chan event.PoolStatus, 100)
	testkit.Go(t, func(ctx context.Context) error {
		return amqpx.Follow(ctx, conn, topology.StatusExchange, 100, func(d amqp.Delivery) {
			var s event.PoolStatus
			if json.Unmarshal(d.Body, &s) == nil {
				select {
				case statuses <- s:
				default:
				}
			}
		})
	})
	startMaster(t, cfg, newRuntime(t, cfg, owner()))

	rc := testkit.CountResults(t, conn)
	pub := testkit.Publisher(t, conn)
	const perKey = 100
	keys := []string{"pinned", "tenant-a", "tenant-b", ""}
	for j, k := range keys {
		for i := range perKey {
			id := fmt.Sprintf("l-%d", j*perKey+i)
			msg := testkit.JSON(event.Text{ID: id, Text: "you fool"})
			msg.MessageId = id
			if k != "" {
				msg.Headers = amqp.Table{topology.HeaderKey: k}
			}
			if err := pub.Publish(context.Background(), topology.FilterExchange, "", msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	testkit.Eventually(t, 60*time.Second, "every result", func() bool {
		missing, _ := rc.Check("l", perKey*len(keys))
		return missing == 0
	})
	var last event.PoolStatus
	testkit.Eventually(t, 30*time.Second, "a status naming the pinned key in lane 2", func() bool {
		for {
			select {
			case last = <-statuses:
				if len(last.Lanes) == 3 && laneHasKey(last.Lanes[2], "pinned") {
					return true
				}
			default:
				return false
			}
		}
	})
	sum := 0
	for i, l := range last.Lanes {
		sum += l.Ready
		if l.Queue != topology.LaneQueues(topology.FilterWork, 3)[i] {
			t.Errorf("lane %d is %s", i, l.Queue)
		}
	}
	if sum != last.Ready {
		t.Errorf("status ready %d, lanes sum to %d", last.Ready, sum)
	}
}

func laneHasKey(l event.LaneStatus, key string) bool {
	for _, k := range l.Keys {
		if k.Key == key && k.Events > 0 {
			return true
		}
	}
	return false
}
