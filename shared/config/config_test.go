package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
