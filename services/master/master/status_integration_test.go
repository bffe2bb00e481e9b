//go:build integration

package master_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/master"
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
	holder := testkit.Conn(t, url)
	lockCh, err := holder.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockCh.QueueDeclare(topology.MasterLeader, false, true, true, false, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, url, "process", 1)
	cfg.Master.StatusAddr = freeAddr(t)
	base := "http://" + cfg.Master.StatusAddr
	rt := newRuntime(t, cfg, owner())
	startMaster(t, cfg, rt)

	testkit.Eventually(t, 30*time.Second, "/readyz says standby", func() bool {
		code, body := fetch(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "standby")
	})
	if code, _ := fetch(base + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz of a standby: %d, want 200", code)
	}
	if err := holder.Close(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "/readyz says leading", func() bool {
		code, body := fetch(base + "/readyz")
		return code == http.StatusOK && strings.Contains(body, "leading")
	})

	const n = 500
	rc := testkit.CountResults(t, conn)
	testkit.PublishTexts(t, conn, "m", n)
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("m", n); return missing == 0 })

	testkit.Eventually(t, 30*time.Second, "the pool's series on /metrics", func() bool {
		_, m := fetch(base + "/metrics")
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
		_, body := fetch(base + "/sd/workers")
		return json.Unmarshal([]byte(body), &targets) == nil && len(targets) == 1
	})
	if targets[0].Labels["pool"] != "filter" || len(targets[0].Targets) != 1 {
		t.Fatalf("discovered %+v", targets)
	}
	worker := "http://" + targets[0].Targets[0]
	testkit.Eventually(t, 30*time.Second, "the worker's processed counter", func() bool {
		_, m := fetch(worker + "/metrics")
		return strings.Contains(m, fmt.Sprintf(`warren_worker_events_processed_total{pool="filter",worker=%q} %d`, targets[0].Labels["worker"], n))
	})
}

// TestStatusServerSaysTheBrokerIsDown checks a master that cannot reach its broker: alive, not ready, and its
// dashboard state and metrics say that the broker is down and why.
func TestStatusServerSaysTheBrokerIsDown(t *testing.T) {
	cfg := testConfig(t, "amqp://guest:guest@127.0.0.1:1/", "process", 1)
	cfg.Master.StatusAddr = freeAddr(t)
	base := "http://" + cfg.Master.StatusAddr
	log := zerolog.Nop()
	testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: log})
	})
	testkit.Eventually(t, 30*time.Second, "/readyz says the broker is unreachable", func() bool {
		code, body := fetch(base + "/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "broker unreachable")
	})
	if code, _ := fetch(base + "/healthz"); code != http.StatusOK {
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
		_, body := fetch(base + "/api/state")
		return json.Unmarshal([]byte(body), &st) == nil && !st.State.Broker.Connected && strings.Contains(st.State.Broker.Error, "refused")
	})
	if _, m := fetch(base + "/metrics"); !strings.Contains(m, "warren_master_broker_connected 0") {
		t.Errorf("/metrics does not say the broker is down")
	}
}

func fetch(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
