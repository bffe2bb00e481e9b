package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/warren-mq/warren/shared/catalog"
)

func TestCatalogMarkdown(t *testing.T) {
	v := func(loads ...time.Duration) CatalogVariant {
		return CatalogVariant{Written: 20157, Held: 10066, HeldBytes: 2 << 20, Insults: 1010,
			Load: catalog.Load{Entries: 147, Bytes: 36 << 10, FromSnapshot: true}, LoadTimes: loads,
			Ready: []time.Duration{46 * time.Millisecond}, FirstResult: []time.Duration{83 * time.Millisecond}, Rate: []float64{8000, 9000}}
	}
	r := CatalogResult{Config: CatalogConfig{Changes: 10_000, Starts: 500, Loads: 3, Rounds: 1, Backlog: 20_000},
		Fresh: v(time.Millisecond, 9*time.Millisecond, 8*time.Millisecond), Built: v(21 * time.Millisecond), Aged: v(28 * time.Millisecond),
		HistoryTook: 31 * time.Second, Machine: Machine{Commit: "abc123", Cores: 2}}
	md := r.Markdown()
	for _, want := range []string{
		"catalogue start cost — commit abc123",
		"| | fresh | built | aged |",
		"| log entries held, body bytes | 10 066, 2 048 KiB |",
		"| a new replica reads: entries, body bytes | 147, 36 KiB (snapshot on) |",
		"| catalogue load, median of 3 | 8.0 ms | 21 ms | 28 ms |",
		"| new filter: drain rate, mean of 1 | 8 500 ev/s |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
