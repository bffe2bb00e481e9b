package master

import (
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/event"
)

func TestStatsBoard(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var sunk int
	b := newStatsBoard(func(event.WorkerStats) { sunk++ })
	b.put(event.WorkerStats{Pool: "filter", Worker: "a", InFlight: 5}, t0)
	b.put(event.WorkerStats{Pool: "filter", Worker: "b", InFlight: 7, Unhealthy: "not consuming"}, t0)
	b.put(event.WorkerStats{Pool: "other", Worker: "c", InFlight: 100}, t0)
	b.put(event.WorkerStats{Pool: "filter", Worker: "old", InFlight: 50}, t0.Add(-10*time.Second))

	if got := b.held("filter", t0.Add(time.Second), 3*time.Second); got != 12 {
		t.Fatalf("in flight = %d, want 12 (a and b; c is another pool, old is stale)", got)
	}
	tests := []struct {
		worker                  string
		at                      time.Time
		why                     string
		everHealthy, wantRecent bool
	}{
		{"a", t0.Add(time.Second), "", true, true},
		{"b", t0.Add(time.Second), "not consuming", false, true},
		{"b", t0.Add(10 * time.Second), "not consuming", false, false},
		{"nobody", t0, "", false, false},
	}
	for _, tc := range tests {
		why, ever, recent := b.health(tc.worker, tc.at, 3*time.Second)
		if why != tc.why || ever != tc.everHealthy || recent != tc.wantRecent {
			t.Errorf("health(%s) = %q, %v, %v; want %q, %v, %v", tc.worker, why, ever, recent, tc.why, tc.everHealthy, tc.wantRecent)
		}
	}
	b.put(event.WorkerStats{Pool: "filter", Worker: "b"}, t0.Add(2*time.Second))
	if _, ever, _ := b.health("b", t0.Add(2*time.Second), time.Second); !ever {
		t.Error("b reported healthy once and is not remembered as such")
	}
	b.forget(t0.Add(5*time.Second), 4*time.Second)
	if _, ok := b.lastSeen("old"); ok {
		t.Error("forget kept a worker silent for longer than maxAge")
	}
	if _, ok := b.lastSeen("b"); !ok {
		t.Error("forget dropped a worker that reported recently")
	}
	if sunk != 5 {
		t.Errorf("sink saw %d reports, want 5", sunk)
	}
}

func TestLaneKeysLately(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := newStatsBoard(nil)
	lanes := func(l0 map[string]int, other int) []event.LaneStats {
		return []event.LaneStats{{Lane: 0, Keys: l0, Other: other}, {Lane: 1, Keys: map[string]int{"b": 1}}}
	}
	b.put(event.WorkerStats{Pool: "filter", Worker: "w1", Lanes: lanes(map[string]int{"old": 99}, 0)}, t0)
	b.put(event.WorkerStats{Pool: "filter", Worker: "w1", Lanes: lanes(map[string]int{"a": 5, "c": 1}, 2)}, t0.Add(20*time.Second))
	b.put(event.WorkerStats{Pool: "filter", Worker: "w2", Lanes: lanes(map[string]int{"a": 5, "d": 3}, 0)}, t0.Add(40*time.Second))
	b.put(event.WorkerStats{Pool: "other", Worker: "x", Lanes: lanes(map[string]int{"zzz": 1000}, 0)}, t0.Add(40*time.Second))

	keys, other := b.laneKeys("filter", t0.Add(45*time.Second), 2)
	// "old" is older than the window; a and d are the top two, c and the reported others are counted as other.
	want0 := []event.KeyCount{{Key: "a", Events: 10}, {Key: "d", Events: 3}}
	if len(keys[0]) != 2 || keys[0][0] != want0[0] || keys[0][1] != want0[1] || other[0] != 3 {
		t.Errorf("lane 0: keys %v other %d, want %v other 3", keys[0], other[0], want0)
	}
	if len(keys[1]) != 1 || keys[1][0].Events != 2 || other[1] != 0 {
		t.Errorf("lane 1: keys %v other %d", keys[1], other[1])
	}
}
