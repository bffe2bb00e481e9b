package topology

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Fair dispatch. A pool with one lane has one FIFO work queue, so a source that floods it pushes every other
// source's events behind its backlog. A pool with K > 1 lanes has K work queues (lane 0 is the pool's work
// queue, lane i its name plus ".i"); the pool's exchange still gets every event and still feeds the count
// queue, and routes each event to one lane by its fairness key:
//
//	warren.filter (fanout) ─┬─ warren.filter.count
//	                        └─ warren.filter.pin (headers: a pinned key → its lane;
//	                              │               alternate exchange for every other key)
//	                              └─ warren.filter.hash (x-consistent-hash on x-warren-key) ─ lanes 0…K-1
//
// Without pins, warren.filter feeds warren.filter.hash directly.
//
// Every worker consumes every lane with a small credit each and serves what it holds in weighted round robin
// across lanes, FIFO within a lane. So keys in different lanes are isolated from each other's backlog, while
// keys that share a lane share its FIFO. Pinning a known key to a lane is how to keep two keys apart.

// HashExchangeKind is the exchange type of the consistent-hash plugin (rabbitmq_consistent_hash_exchange),
// which ships with RabbitMQ but must be enabled.
const HashExchangeKind = "x-consistent-hash"

// MaxKeyBytes bounds a fairness key; a longer one is not a key (see Key).
const MaxKeyBytes = 255

// Lanes configures one pool's lanes.
type Lanes struct {
	// Count is K, the number of lane queues; 1 is the pool's one work queue. Zero means unknown: a declarer
	// without Warren's configuration (a tool such as loadgen) leaves a laned pool's routing as it is, and
	// declares one lane only where the pool never had lanes.
	Count int
	// Pins routes these keys to these lanes (0-based) instead of by hash.
	Pins map[string]int
	// WasLaned says the pool's pin exchange exists: the pool has, or had, lanes. The declarer learns it from
	// the broker (see amqpx.DeclareTopology); going back to one lane must then unbind that exchange.
	WasLaned bool
}

// Lanes returns the pool's lane queues for a count of k: its work queue alone when k < 2.
//
// The pin exchange exists only once a pool has had lanes, so that a declarer without the configuration can
// tell a laned pool (leave it be) from one that never had lanes (bind its work queue).
func (p Pool) Lanes(k int) []string { return LaneQueues(p.Work, k) }

// LaneQueues returns the lane queues of a pool whose work queue is work, for k lanes: work itself is lane 0,
// and lane i is work + "." + i.
func LaneQueues(work string, k int) []string {
	qs := []string{work}
	for i := 1; i < k; i++ {
		qs = append(qs, fmt.Sprintf("%s.%d", work, i))
	}
	return qs
}

// PinExchange is the headers exchange that routes pinned keys to their lanes.
func (p Pool) PinExchange() string { return p.Exchange + ".pin" }

// HashExchange is the consistent-hash exchange that routes every other key to a lane.
func (p Pool) HashExchange() string { return p.Exchange + ".hash" }

// Why a delivery's fairness key is the shared "" key although it carries something.
const (
	KeyTooLong = "too long"
	KeyNotUTF8 = "not UTF-8"
	KeyNotText = "not a string"
)

// Key returns a delivery's fairness key: its x-warren-key header, else the publishing user's user_id when the
// publisher set it, else the shared "" key. A header that is not a string, is longer than MaxKeyBytes or is not
// valid UTF-8 is not a key: Key returns "" and why, so that the worker can count it.
//
// Routing to lanes is the broker's and hashes the header alone: an event keyed by user_id only is in the lane
// of events without a header, and one with an invalid header is in the lane its bytes hash to.
func Key(headers amqp.Table, userID string) (key, invalid string) {
	v, ok := headers[HeaderKey]
	if !ok {
		return validKey(userID)
	}
	switch s := v.(type) {
	case string:
		return validKey(s)
	case []byte:
		return validKey(string(s))
	}
	return "", KeyNotText
}

func validKey(s string) (string, string) {
	switch {
	case len(s) > MaxKeyBytes:
		return "", KeyTooLong
	case !utf8.ValidString(s):
		return "", KeyNotUTF8
	}
	return s, ""
}

// ValidateKey says what is wrong with a fairness key a user configures or sends, or nil.
func ValidateKey(s string) error {
	if _, why := validKey(s); why != "" {
		shown := strconv.Quote(s)
		if len(s) > 40 {
			shown = strconv.Quote(s[:40]) + "…"
		}
		return fmt.Errorf("fairness key %s: %s (at most %d bytes of UTF-8)", shown, why, MaxKeyBytes)
	}
	return nil
}
