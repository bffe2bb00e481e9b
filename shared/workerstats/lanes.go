package workerstats

import (
	"sort"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// Bounds on the keys a worker tracks per lane and interval, and reports: a publisher inventing a key per event
// must not grow the worker's memory or its reports.
const (
	trackedKeys  = 256
	reportedKeys = 16
)

// laneKeys counts, per lane, the fairness keys taken since the last report.
type laneKeys struct {
	mu      sync.Mutex
	lanes   map[int]*laneCount
	invalid int
}

type laneCount struct {
	taken, other int
	keys         map[string]int
}

// seen records d's key in lane and returns it, with why it is not a key when it is not (see topology.Key).
func (l *laneKeys) seen(lane int, d amqp.Delivery) (key, invalid string) {
	key, invalid = topology.Key(d.Headers, d.UserId)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lanes == nil {
		l.lanes = map[int]*laneCount{}
	}
	c := l.lanes[lane]
	if c == nil {
		c = &laneCount{keys: map[string]int{}}
		l.lanes[lane] = c
	}
	c.taken++
	if invalid != "" {
		l.invalid++
	}
	if _, known := c.keys[key]; known || len(c.keys) < trackedKeys {
		c.keys[key]++
	} else {
		c.other++
	}
	return key, invalid
}

// take returns what was seen since the last call, the most frequent keys of each lane, and starts over.
func (l *laneKeys) take() ([]event.LaneStats, int) {
	l.mu.Lock()
	lanes, invalid := l.lanes, l.invalid
	l.lanes, l.invalid = nil, 0
	l.mu.Unlock()
	if len(lanes) == 0 {
		return nil, invalid
	}
	out := make([]event.LaneStats, 0, len(lanes))
	for lane, c := range lanes {
		top, rest := TopKeys(c.keys, reportedKeys)
		s := event.LaneStats{Lane: lane, Taken: c.taken, Other: c.other + rest, Keys: make(map[string]int, len(top))}
		for _, kc := range top {
			s.Keys[kc.Key] = kc.Events
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lane < out[j].Lane })
	return out, invalid
}

// TopKeys returns the n most frequent keys of counts, the most frequent first (ties by key), and the events
// of the keys left out.
func TopKeys(counts map[string]int, n int) (top []event.KeyCount, rest int) {
	all := make([]event.KeyCount, 0, len(counts))
	for k, c := range counts {
		all = append(all, event.KeyCount{Key: k, Events: c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].Events != all[j].Events {
			return all[i].Events > all[j].Events
		}
		return all[i].Key < all[j].Key
	})
	if len(all) > n {
		for _, kc := range all[n:] {
			rest += kc.Events
		}
		all = all[:n]
	}
	return all, rest
}
