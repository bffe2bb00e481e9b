package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AMQP.Prefetch != 200 || c.Master.Pools["filter"].Max != 8 || c.Broadcaster.Period.Seconds() != 5 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestOverrides(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(file, []byte("amqp:\n  prefetch: 50\nmaster:\n  pools:\n    filter:\n      max: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARREN_FILTER_CONCURRENCY", "7")
	t.Setenv("WARREN_MASTER_POOLS_FILTER_MIN", "2")
	c, err := Load(Flags{ConfigFile: file, Sets: []string{"log.level=debug"}, AMQPURL: "amqp://u:p@h:1/v"})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Master.Pools["filter"]
	if c.AMQP.Prefetch != 50 || f.Max != 3 || f.Min != 2 || f.Service != "filter" || c.Filter.Concurrency != 7 ||
		c.Log.Level != "debug" || c.AMQP.URL != "amqp://u:p@h:1/v" {
		t.Fatalf("overrides not applied: %+v", c)
	}
}

func TestInvalidNamesKey(t *testing.T) {
	t.Chdir(t.TempDir())
	tests := []struct {
		sets []string
		want string
	}{
		{[]string{"master.pools.filter.min=9"}, "master.pools.filter.min: min 9 is greater than max 8"},
		{[]string{"master.pools.filter.capacity=0"}, "master.pools.filter.capacity"},
		{[]string{"master.pools.filter.capacity=lots"}, "master.pools.filter.capacity"},
		{[]string{"master.pools.filter.capacity=NaN"}, "master.pools.filter.capacity"},
		{[]string{"master.pools.filter.capacity=Inf"}, "master.pools.filter.capacity"},
		{[]string{"master.pools.filter.count_queue=warren.filter.work"}, "master.pools.filter.count_queue: must differ from work_queue"},
		{[]string{"master.pools.filter.stabilization=-1s"}, "master.pools.filter.stabilization"},
		{[]string{"master.runtime=k8s"}, `master.runtime: unknown runtime "k8s"`},
		{[]string{"master.pools.filter.formula=magic"}, `master.pools.filter.formula: must be utilization or seed, got "magic"`},
		{[]string{"master.pools.filter.target_utilization=0"}, "master.pools.filter.target_utilization: must be in (0, 1]"},
		{[]string{"master.pools.filter.target_utilization=1.5"}, "master.pools.filter.target_utilization: must be in (0, 1]"},
		{[]string{"master.pools.filter.scale_down_rate=0"}, "master.pools.filter.scale_down_rate: must be in (0, 1]"},
		{[]string{"amqp.prefetch=0"}, "amqp.prefetch"},
		{[]string{"amqp.url=http://x"}, "amqp.url"},
		{[]string{"log.level=loud"}, "log.level"},
		{[]string{"amqp.heartbeat=soon"}, "heartbeat"},
		{[]string{"amqp.prefetchh=3"}, "prefetchh"},
		{[]string{"novalue"}, "want key=value"},
		{[]string{"master.pools.filter.grace=10s"}, "master.pools.filter.grace: 10s must exceed the workers' amqp.shutdown_grace (10s)"},
		{[]string{"amqp.shutdown_grace=20s"}, "master.pools.broadcaster.grace: 15s must exceed the workers' amqp.shutdown_grace (20s)"},
		{[]string{"master.pools.filter.env=" + ShutdownGraceEnv + "=15s"},
			"master.pools.filter.grace: 15s must exceed the workers' WARREN_AMQP_SHUTDOWN_GRACE in master.pools.filter.env (15s)"},
		{[]string{"master.pools.filter.env=" + StatsEveryEnv + "=often"}, `master.pools.filter.env: WARREN_FILTER_STATS_EVERY="often"`},
		{[]string{"master.pools.filter.env=" + ShutdownGraceEnv + "=-1s"}, `master.pools.filter.env: WARREN_AMQP_SHUTDOWN_GRACE="-1s"`},
		{[]string{"lanes.filter.count=0"}, "lanes.filter.count: must be from 1 to 64, got 0"},
		{[]string{"lanes.filter.count=65"}, "lanes.filter.count: must be from 1 to 64"},
		{[]string{"lanes.filter.credit=-1"}, "lanes.filter.credit"},
		{[]string{"lanes.filter.count=3", "lanes.filter.weights=1,2"}, "lanes.filter.weights: has 2 weights for 3 lanes"},
		{[]string{"lanes.filter.count=2", "lanes.filter.weights=1,0"}, "lanes.filter.weights: lane 1: weight must be from 1 to 1000, got 0"},
		{[]string{"lanes.filter.count=4", "lanes.filter.pin=tenant-a=1,tenant-b=7"},
			`lanes.filter.pin: key "tenant-b" names lane 7, but the pool has lanes 0 to 3`},
		{[]string{"lanes.filter.count=4", "lanes.filter.pin=tenant-a"}, `lanes.filter.pin: "tenant-a": want key=lane`},
		{[]string{"lanes.filter.count=4", "lanes.filter.pin=a=x"}, `lanes.filter.pin: key "a": lane "x" is not a number`},
		{[]string{"lanes.filter.count=4", "lanes.filter.pin=a=1,a=2"}, `lanes.filter.pin: key "a" is pinned to lanes 1 and 2`},
		{[]string{"lanes.filter.count=4", "lanes.filter.pin=" + strings.Repeat("k", 256) + "=1"}, "lanes.filter.pin: fairness key"},
		{[]string{"lanes.filter.pin=a=0"}, "lanes.filter.pin: pins need lanes: set lanes.filter.count to 2 or more"},
		{[]string{"lanes.insult.count=2"}, `lanes.insult: no pool "insult" has lanes`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.sets, " "), func(t *testing.T) {
			_, err := Load(Flags{Sets: tc.sets})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want containing %q", err, tc.want)
			}
		})
	}
}

func TestGraceExceedingShutdownGraceIsValid(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, sets := range [][]string{
		{"amqp.shutdown_grace=14s"},
		{"master.pools.filter.grace=3s", "master.pools.broadcaster.grace=3s", "amqp.shutdown_grace=2s"},
		// The pool's workers stop within 5 s whatever amqp.shutdown_grace says, so the pool's grace is judged by that.
		{"amqp.shutdown_grace=20s", "master.pools.broadcaster.grace=21s", "master.pools.filter.env=" + ShutdownGraceEnv + "=5s",
			"master.pools.filter.grace=6s"},
	} {
		if _, err := Load(Flags{Sets: sets}); err != nil {
			t.Errorf("%v: %v", sets, err)
		}
	}
}

func TestWorkerSettings(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(Flags{Sets: []string{"filter.stats_every=2s", "amqp.shutdown_grace=4s"}})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Master.Pools["filter"]
	f.Env = []string{"WARREN_LOG_LEVEL=warn", StatsEveryEnv + "=3s", StatsEveryEnv + "=5s"} // the last one wins
	c.Master.Pools["filter"] = f
	if got := c.WorkerStatsEvery("filter"); got != 5*time.Second {
		t.Errorf("filter stats every %v, want 5s from the pool's env", got)
	}
	if got := c.WorkerStatsEvery("broadcaster"); got != 2*time.Second {
		t.Errorf("broadcaster stats every %v, want filter.stats_every 2s", got)
	}
	if got := c.WorkerShutdownGrace("filter"); got != 4*time.Second {
		t.Errorf("filter shutdown grace %v, want amqp.shutdown_grace 4s", got)
	}
	if got, want := c.WorkerEnv("filter"), []string{ShutdownGraceEnv + "=4s", HealthAddrEnv + "=127.0.0.1:0"}; !slices.Equal(got, want) {
		t.Errorf("filter worker env %v, want %v (its env sets the stats interval)", got, want)
	}
	if got, want := c.WorkerEnv("broadcaster"), []string{StatsEveryEnv + "=2s", ShutdownGraceEnv + "=4s", HealthAddrEnv + "=127.0.0.1:0"}; !slices.Equal(got, want) {
		t.Errorf("broadcaster worker env %v, want %v", got, want)
	}
}

// TestWorkerHealthAddr: workers on the master's host network listen on loopback, workers in containers of
// their own on every interface; a pool's env that sets the address wins.
func TestWorkerHealthAddr(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		sets []string
		want string
	}{
		{nil, HealthAddrEnv + "=127.0.0.1:0"},
		{[]string{"master.runtime=docker"}, HealthAddrEnv + "=:0"},
		{[]string{"master.runtime=docker", "master.docker.network=host"}, HealthAddrEnv + "=127.0.0.1:0"},
		{[]string{"master.runtime=swarm"}, HealthAddrEnv + "=:0"},
		{[]string{"master.runtime=docker", "master.pools.filter.env=" + HealthAddrEnv + "=0.0.0.0:9100"}, ""},
	} {
		c, err := Load(Flags{Sets: tc.sets})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, kv := range c.WorkerEnv("filter") {
			if strings.HasPrefix(kv, HealthAddrEnv+"=") {
				got = kv
			}
		}
		if got != tc.want {
			t.Errorf("%v: %q, want %q", tc.sets, got, tc.want)
		}
	}
}

// TestHealthAddrFromEnv: WARREN_HEALTH_ADDR, which the master sets for its workers, is health.addr.
func TestHealthAddrFromEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(HealthAddrEnv, "127.0.0.1:0")
	c, err := Load(Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if HealthAddrEnv != "WARREN_HEALTH_ADDR" || c.Health.Addr != "127.0.0.1:0" {
		t.Fatalf("%s=127.0.0.1:0 gave health.addr %q", HealthAddrEnv, c.Health.Addr)
	}
}

func TestNoPoolErrorListsPools(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Master.NoPoolError("filtr").Error(), `master.pools: no pool "filtr" (configured: broadcaster, filter)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := (Master{}).NoPoolError("x").Error(); !strings.Contains(got, "no pools are configured") {
		t.Errorf("got %q with no pools", got)
	}
}

// TestEveryErrorAtOnce: a file with an unknown key, a value of the wrong type and invalid values reports them
// all in one error, one line per key, each naming its key, and a value from the environment names its variable.
func TestEveryErrorAtOnce(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := dir + "/bad.yaml"
	yaml := "amqp:\n  prefetch: abc\n  bogus: 1\nmaster:\n  pools:\n    filter:\n      min: 9\n      max: 2\n      nonsense: 3\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WARREN_FILTER_STATS_EVERY", "-1s")
	_, err := Load(Flags{ConfigFile: file})
	if err == nil {
		t.Fatal("bad file accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		"config: amqp.bogus: unknown key (in " + file + ")",
		"config: master.pools.filter.nonsense: unknown key",
		"config: amqp.prefetch: cannot parse value as 'int'",
		"config: master.pools.filter.min: min 9 is greater than max 2",
		"config: filter.stats_every: must be positive (set by WARREN_FILTER_STATS_EVERY)",
	} {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, want)
		}
		if !found {
			t.Errorf("no line starting %q in:\n%v", want, err)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "config: amqp.prefetch: must be") {
			t.Errorf("a key that failed to decode is also reported as invalid: %q", l)
		}
	}
}

func TestListenAddresses(t *testing.T) {
	for _, tc := range []struct {
		key, addr, want string
	}{
		{"master.status_addr", "127.0.0.1:8080", ""},
		{"master.status_addr", ":8080", ""},
		{"master.status_addr", "[::1]:0", ""},
		{"master.status_addr", "8080", `config: master.status_addr: "8080" is not host:port`},
		{"master.status_addr", "localhost", `config: master.status_addr: "localhost" is not host:port`},
		{"master.status_addr", "127.0.0.1:99999", `config: master.status_addr: "127.0.0.1:99999": port "99999" is not a number`},
		{"health.addr", "127.0.0.1:http", `config: health.addr: "127.0.0.1:http": port "http" is not a number`},
		{"health.addr", "127.0.0.1:0", ""},
	} {
		t.Run(tc.key+"="+tc.addr, func(t *testing.T) {
			_, err := Load(Flags{Sets: []string{tc.key + "=" + tc.addr}})
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLanes(t *testing.T) {
	t.Chdir(t.TempDir())
	c, err := Load(Flags{Sets: []string{"lanes.filter.count=4", "lanes.filter.weights=3,1,1,1", "lanes.filter.pin=Tenant-A=2,b=c=3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.LaneWeights("filter"); !slices.Equal(got, []int{3, 1, 1, 1}) {
		t.Errorf("weights %v", got)
	}
	if got := c.LaneWeights("broadcaster"); !slices.Equal(got, []int{1}) {
		t.Errorf("broadcaster weights %v", got)
	}
	// Each lane gets amqp.prefetch (200) unless set.
	if c.LaneCredit("filter") != 200 || c.LaneCredit("broadcaster") != 200 {
		t.Errorf("credits %d, %d", c.LaneCredit("filter"), c.LaneCredit("broadcaster"))
	}
	o := c.Topology()
	// Keys keep their case (viper lowercases map keys, which is why pins are a list), and split at the last '='.
	if f := o.Lanes["filter"]; f.Count != 4 || f.Pins["Tenant-A"] != 2 || f.Pins["b=c"] != 3 || o.DeliveryLimit != 5 {
		t.Errorf("topology options %+v", o)
	}
	env := c.LaneEnv()
	for _, want := range []string{"WARREN_LANES_FILTER_COUNT=4", "WARREN_LANES_FILTER_WEIGHTS=3,1,1,1",
		"WARREN_LANES_FILTER_PIN=Tenant-A=2,b=c=3", "WARREN_LANES_BROADCASTER_COUNT=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("LaneEnv %v lacks %s", env, want)
		}
	}
	// What a spawned worker gets through LaneEnv is the same configuration.
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	w, err := Load(Flags{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.LaneWeights("filter"), c.LaneWeights("filter")) || w.Topology().Lanes["filter"].Pins["b=c"] != 3 {
		t.Errorf("worker's lanes %+v, master's %+v", w.Lanes, c.Lanes)
	}
}
