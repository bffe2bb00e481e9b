package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/loadgen/report"
)

func fairnessFixture(lanedP99 time.Duration, jain float64, lanesSat float64, lost int64) FairnessResult {
	src := func(name string, p99 time.Duration, lost int64) report.SourceReport {
		s := report.SourceReport{Name: name, Lost: lost, Latency: report.Latency{P50: p99 / 2, P99: p99, Max: p99 * 2}}
		s.Sent, s.Delivered = 1000, 1000-lost
		return s
	}
	run := func(name string, lanes int, lost int64, srcs ...report.SourceReport) FairnessRun {
		return FairnessRun{Name: name, Lanes: lanes, Report: report.Report{Lost: lost, Sources: srcs}}
	}
	c := FairnessConfig{Workers: 2, WorkDelay: 5 * time.Millisecond, Concurrency: 1, Lanes: 2, Flood: 30 * time.Second,
		FloodFactor: 5, QuietShare: 0.02, PairFor: 20 * time.Second, PairFactor: 1, Rounds: 2, SatLanes: 4, SatKeys: 8, SatRounds: 1}
	pair := run("equal demand", 2, 0, src("A", time.Second, 0), src("B", time.Second, 0))
	pair.Report.Fairness = &report.Fairness{Index: jain, Defined: true, WindowEnd: time.Unix(20, 0), WindowStart: time.Unix(1, 0)}
	return FairnessResult{Machine: Machine{Commit: "abc1234", Cores: 2}, Config: c, Capacity: 380,
		Alone: []FairnessRun{run("B alone (round 1)", 2, 0, src("B", 10*time.Millisecond, 0)),
			run("B alone (round 2)", 2, 0, src("B", 12*time.Millisecond, 0))},
		Laned: []FairnessRun{run("noisy-neighbour (round 1)", 2, lost, src("A", 90*time.Second, lost), src("B", lanedP99, 0)),
			run("noisy-neighbour (round 2)", 2, 0, src("A", 90*time.Second, 0), src("B", 18*time.Millisecond, 0))},
		OneQueue:   run("noisy-neighbour", 1, 0, src("A", 90*time.Second, 0), src("B", 95*time.Second, 0)),
		Pair:       pair,
		Saturation: []SaturationPoint{{1, 1, 5000}, {1, 4, lanesSat}, {2, 1, 6000}, {2, 4, 6100}}}
}

func TestFairnessMarkdown(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    FairnessResult
		want []string
	}{
		{"every bar met", fairnessFixture(15*time.Millisecond, 0.998, 4700, 0), []string{
			"capacity measured at **380 ev/s**",
			"| noisy-neighbour | 1 | B | 1 000 | 1 000 | 0 | 0 | 47.5 s | 95.0 s | 190.0 s |",
			"| B's p99 with lanes ≤ 2× its p99 alone, each round | 15 ms vs 10 ms (1.50×); 18 ms vs 12 ms (1.50×) | met |",
			"| B's p99 with lanes ≤ 1 s, each round | 15 ms; 18 ms | met |",
			"| B's p99 with one queue (for comparison) | 95.0 s | — |",
			"| equal demand: Jain's index ≥ 0.99 | 0.9980 over a 19.0 s window | met |",
			"4 700 vs 5 000 ev/s: 6.0 % | met |",
			"| lost, every run | 0 | met |",
			"6 000 ev/s on one queue, 6 100 ev/s on 4 lanes (+1.7 %): lanes do not raise the peak",
		}},
		{"every bar missed", fairnessFixture(1500*time.Millisecond, 0.9, 4000, 3), []string{
			"1.5 s vs 10 ms (150.00×); 18 ms vs 12 ms (1.50×) | **missed** |",
			"| B's p99 with lanes ≤ 1 s, each round | 1.5 s; 18 ms | **missed** |",
			"| 0.9000 over a 19.0 s window | **missed** |",
			"20.0 % | **missed** |",
			"| lost, every run | 3 | **missed** |",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := tc.r.Markdown()
			for _, w := range tc.want {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q:\n%s", w, md)
				}
			}
		})
	}
}
