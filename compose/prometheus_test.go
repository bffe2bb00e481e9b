//go:build integration

package compose_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// TestPrometheusScrapesMasterAndWorkers runs Debian's prometheus on compose/prometheus.yml (only the host
// names replaced) against a real master binary, the filter workers it starts (found through the master's
// service discovery) and an insult service, sends events, and asks Prometheus' HTTP API for the pool's desired
// workers and the workers' processed counter. It then checks that every metric the shipped Grafana dashboard
// queries exists in Prometheus.
func TestPrometheusScrapesMasterAndWorkers(t *testing.T) {
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		skipOrFail(t, "Debian's prometheus is not installed (scripts/test-tools.sh installs it)")
	}
	url := testkit.Broker(t)
	bin := testkit.BuildServices(t, "master", "filter", "insult")
	masterAddr, insultAddr, promAddr := testkit.FreeAddr(t), testkit.FreeAddr(t), testkit.FreeAddr(t)

	cfg := filepath.Join(t.TempDir(), "warren.yaml")
	writeFile(t, cfg, `master:
  interval: 1s
  reconcile: 500ms
  runtime: process
  pools:
    filter:
      min: 1
      max: 2
      capacity: "5000"
`)
	env := []string{"WARREN_AMQP_URL=" + url, "WARREN_CONFIG=" + cfg, "WARREN_LOG_LEVEL=warn"}
	startBinary(t, filepath.Join(bin, "warren-master"), append(env, "WARREN_MASTER_STATUS_ADDR="+masterAddr, "WARREN_MASTER_BIN="+bin))
	startBinary(t, filepath.Join(bin, "warren-insult"), append(env, "WARREN_HEALTH_ADDR="+insultAddr))

	// The shipped scrape configuration, pointed at this test's processes and scraping every second.
	shipped, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.NewReplacer("master:8080", masterAddr, "insult:9464", insultAddr,
		"scrape_interval: 5s", "scrape_interval: 1s", "refresh_interval: 5s", "refresh_interval: 1s").Replace(string(shipped))
	promConf := filepath.Join(t.TempDir(), "prometheus.yml")
	writeFile(t, promConf, conf)
	startBinary(t, prom, nil, "--config.file="+promConf, "--storage.tsdb.path="+t.TempDir(),
		"--web.listen-address="+promAddr, "--log.level=warn")
	api := "http://" + promAddr
	testkit.Eventually(t, 60*time.Second, "prometheus ready", func() bool { return get(api+"/-/ready") == nil })

	conn := testkit.Conn(t, url)
	rc := testkit.CountResults(t, conn)
	const n = 2000
	testkit.PublishTexts(t, conn, "p", n)
	testkit.Eventually(t, 60*time.Second, "every result", func() bool { missing, _ := rc.Check("p", n); return missing == 0 })
	rpc(t, conn, `{"op":"list"}`)
	rpc(t, conn, `{"op":"no-such-op"}`)

	testkit.Eventually(t, 60*time.Second, "a worker discovered and up", func() bool {
		v, ok := query(t, api, `sum(up{job="warren-workers", pool="filter"})`)
		return ok && v >= 1
	})
	testkit.Eventually(t, 60*time.Second, "the pool's desired workers in Prometheus", func() bool {
		v, ok := query(t, api, `warren_pool_desired_workers{pool="filter", job="warren-master"}`)
		return ok && v >= 1
	})
	var processed float64
	testkit.Eventually(t, 60*time.Second, "every event counted by the workers' processed counter", func() bool {
		v, ok := query(t, api, `sum(warren_worker_events_processed_total{pool="filter", job="warren-workers"})`)
		processed = v
		return ok && v >= n
	})
	t.Logf("Prometheus: %v events processed by the filter workers", processed)
	testkit.Eventually(t, 30*time.Second, "the insult service's requests by op and outcome", func() bool {
		v, ok := query(t, api, `sum(warren_insult_requests_total)`)
		return ok && v >= 2
	})

	// Every metric the Grafana dashboard queries exists.
	want := dashboardMetrics(t, "grafana-dashboard.json")
	testkit.Eventually(t, 30*time.Second, "every dashboard metric in Prometheus", func() bool {
		names := metricNames(t, api)
		var missing []string
		for _, m := range want {
			if !slices.Contains(names, m) {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			t.Logf("not (yet) in Prometheus: %v", missing)
		}
		return len(missing) == 0
	})
	t.Logf("all %d metrics the dashboard queries exist", len(want))
}

// dashboardMetrics lists the metric names the dashboard's queries use.
func dashboardMetrics(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	name := regexp.MustCompile(`warren_[a-z0-9_]+`)
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("%s queries only %d warren metrics: %v", file, len(out), out)
	}
	return out
}

func metricNames(t *testing.T, api string) []string {
	t.Helper()
	var r struct {
		Data []string `json:"data"`
	}
	if err := getJSON(api+"/api/v1/label/__name__/values", &r); err != nil {
		t.Logf("label values: %v", err)
	}
	return r.Data
}

// query returns the single value of an instant query, or false when it has none (yet).
func query(t *testing.T, api, q string) (float64, bool) {
	t.Helper()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := getJSON(api+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		t.Logf("query %s: %v", q, err)
		return 0, false
	}
	if r.Status != "success" || len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func get(u string) error {
	if code, body := testkit.HTTPGet(u); code != http.StatusOK {
		return fmt.Errorf("%s: %d %s", u, code, body)
	}
	return nil
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// startBinary runs a program until the test ends, then stops it with SIGTERM (SIGKILL after 20 s); its
// output goes to the test log when the test fails.
func startBinary(t *testing.T, path string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	out := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), out)
		}
	})
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rpc sends one request to the insult service and waits for its reply.
func rpc(t *testing.T, conn *amqp.Connection, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := amqpx.Call(ctx, conn, topology.InsultExchange, "", amqp.Publishing{ContentType: event.ContentJSON, Body: []byte(body)}); err != nil {
		t.Fatalf("insult request %s: %v", body, err)
	}
}
