package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/event"
)

// TestAnalyze reads a made-up step: the master asks for 4, then 6 workers; the queue has 6 consumers 3.2 s
// after the step and drains at 7 s.
func TestAnalyze(t *testing.T) {
	step := time.Date(2025, 1, 1, 0, 0, 15, 0, time.UTC)
	at := func(s float64) time.Time { return step.Add(time.Duration(s * float64(time.Second))) }
	status := func(s float64, cur, want, cons int) statusAt {
		return statusAt{At: at(s), PoolStatus: event.PoolStatus{Current: cur, Desired: want, Consumers: cons, Reason: "x"}}
	}
	statuses := []statusAt{
		status(-3, 1, 1, 1), status(-1, 1, 1, 1), status(1, 1, 4, 1), status(3, 4, 6, 4), status(5, 6, 6, 6), status(7, 6, 6, 6),
		status(30, 6, 6, 6), // after the high load: not part of the target
	}
	var polls []poll
	for s := -1.0; s < 12; s += 0.1 {
		p := poll{At: at(s), Consumers: 1}
		switch {
		case s >= 3.2:
			p.Consumers = 6
		case s >= 1.5:
			p.Consumers = 4
		}
		switch {
		case s < 0:
		case s < 4:
			p.Ready = int(s * 1000)
		case s < 7:
			p.Ready = int((7 - s) * 1300)
		}
		polls = append(polls, p)
	}
	var r ReactionResult
	analyze(&r, step, ReactionConfig{HighFor: 25 * time.Second, DrainedBelow: 200}, statuses, polls)
	near := func(got time.Duration, want float64) bool {
		d := got - time.Duration(want*float64(time.Second))
		return d > -60*time.Millisecond && d < 60*time.Millisecond
	}
	if r.Before != 1 || r.Target != 6 {
		t.Errorf("before %d target %d, want 1 and 6", r.Before, r.Target)
	}
	if !near(r.Decision, 1) || !near(r.Reaction, 3.2) || !near(r.StatusReaction, 5) {
		t.Errorf("decision %s reaction %s status reaction %s, want 1 s, 3.2 s, 5 s", r.Decision, r.Reaction, r.StatusReaction)
	}
	if r.PeakReady < 3800 || !near(r.Drained, 6.9) {
		t.Errorf("peak %d drained %s, want about 3900 and 6.9 s", r.PeakReady, r.Drained)
	}
	if len(r.Timeline) != 5 || r.Timeline[0].After != -time.Second {
		t.Errorf("timeline %+v, want the statuses from -1 s to 7 s", r.Timeline)
	}
}

func TestAnalyzeNoScaleUp(t *testing.T) {
	step := time.Now()
	statuses := []statusAt{{At: step.Add(time.Second), PoolStatus: event.PoolStatus{Current: 1, Desired: 1, Consumers: 1}}}
	var r ReactionResult
	analyze(&r, step, ReactionConfig{HighFor: 10 * time.Second, DrainedBelow: 200}, statuses, nil)
	if r.Target != 1 || r.Reaction != 0 || r.Decision != 0 {
		t.Errorf("%+v: a pool that never scales has no reaction", r)
	}
}

func TestMarkdown(t *testing.T) {
	s := Suite{
		Machine: Machine{At: time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC), Commit: "abc1234", Cores: 2, CPU: "Test CPU",
			Memory: 8 << 30, RabbitMQ: "3.10.8", Erlang: "25", Go: "go1.26", Load: 0.5},
		Took: 7 * time.Minute,
		Stress: &StressResult{Config: StressConfig{Publishers: 4, Window: 4000, Prefetch: 200, Size: 200, Duration: 15 * time.Second,
			Warmup: 4 * time.Second, Rounds: 1}, Ratio: 0.5,
			Baseline: Variant{Name: "bare broker"}, Pipeline: Variant{Name: "pipeline, 1 worker"}, NoCount: Variant{Name: "no count"}},
		Speedup: &SpeedupResult{Config: SpeedupConfig{WorkDelay: 5 * time.Millisecond, Concurrency: 1},
			Points: []SpeedupPoint{{Workers: 1, Throughput: 150, Speedup: 1, Efficiency: 1}, {Workers: 8, Throughput: 1100, Speedup: 7.33, Efficiency: 0.92}}},
		Reactions: []ReactionResult{{Runtime: "process", Before: 1, Target: 8, Reaction: 3 * time.Second, Drained: 9 * time.Second},
			{Runtime: "docker", Skipped: "no Docker engine answers"}},
		Overhead: &OverheadResult{Offered: 20000, Sent: 12000, MasterCores: 0.002, MasterRSS: 12 << 20},
	}
	md := s.Markdown()
	for _, want := range []string{
		"## 2025-01-02 03:04 UTC — commit abc1234\n",
		"| stress: 1 worker end to end vs bare broker | 0 vs 0 ev/s = **50 %** | ≥ 70 % | **missed** |",
		"| speedup: 8 workers vs 1 | 1 100 vs 150 ev/s = **7.33×** | ≥ 6.5× | met |",
		"| reaction, process runtime | **3.0 s** to 8 consuming workers; backlog drained at 9.0 s | ≤ 4.0 s | met |",
		"| reaction, docker runtime | not measured: no Docker engine answers | ≤ 6.0 s | — |",
		"| master CPU, 20 000 ev/s offered (12 000 achieved) | **0.20 %** of a core, RSS 12.0 MiB | < 5 % | met |",
		"### Stress", "### Speedup", "### Reaction", "### Master overhead",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999.6: "1 000", 1234567: "1 234 567", -4500: "-4 500"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
