package topology

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// recorder keeps what Declare asked for, to check the declared arguments without a broker.
type recorder struct {
	queues    map[string]amqp.Table
	durable   map[string]bool
	binds     map[string][]string
	exchanges map[string]string
	// bound is every binding now in place, as "source -> destination"; pins holds the pin bindings' keys.
	bound map[string]bool
	pins  map[string]string
}

func newRecorder() *recorder {
	return &recorder{queues: map[string]amqp.Table{}, durable: map[string]bool{}, binds: map[string][]string{},
		exchanges: map[string]string{}, bound: map[string]bool{}, pins: map[string]string{}}
}

func (r *recorder) ExchangeDeclare(name, kind string, _, _, _, _ bool, _ amqp.Table) error {
	r.exchanges[name] = kind
	return nil
}
func (r *recorder) QueueUnbind(name, _, exchange string, _ amqp.Table) error {
	delete(r.bound, exchange+" -> "+name)
	return nil
}
func (r *recorder) ExchangeBind(dest, _, source string, _ bool, _ amqp.Table) error {
	r.bound[source+" -> "+dest] = true
	return nil
}
func (r *recorder) ExchangeUnbind(dest, _, source string, _ bool, _ amqp.Table) error {
	delete(r.bound, source+" -> "+dest)
	return nil
}
func (r *recorder) QueueDeclare(name string, durable, _, _, _ bool, args amqp.Table) (amqp.Queue, error) {
	r.queues[name], r.durable[name] = args, durable
	return amqp.Queue{Name: name}, nil
}
func (r *recorder) QueueBind(name, _, exchange string, _ bool, args amqp.Table) error {
	r.binds[exchange] = append(r.binds[exchange], name)
	r.bound[exchange+" -> "+name] = true
	if k, ok := args[HeaderKey].(string); ok {
		r.pins[k] = name
	}
	return nil
}

func TestDeclareBoundsEveryQueue(t *testing.T) {
	for _, atLeastOnce := range []bool{false, true} {
		r := newRecorder()
		if err := Declare(r, Options{DeliveryLimit: 7, AtLeastOnceDeadLettering: atLeastOnce}); err != nil {
			t.Fatal(err)
		}
		for _, q := range Queues() {
			args, ok := r.queues[q]
			if !ok {
				t.Errorf("%s not declared", q)
				continue
			}
			// RabbitMQ 4 refuses transient non-exclusive queues; every shared queue must be durable.
			if !r.durable[q] {
				t.Errorf("%s is not durable", q)
			}
			_, byLength := args["x-max-length"]
			_, byBytes := args["x-max-length-bytes"]
			if !byLength && !byBytes {
				t.Errorf("%s is unbounded: %v", q, args)
			}
		}
		for _, p := range Pools {
			c := r.queues[p.Count]
			if c["x-max-length"] == nil || c["x-max-length-bytes"] == nil {
				t.Errorf("%s must be bounded by length and bytes: %v", p.Count, c)
			}
			w := r.queues[p.Work]
			if w["x-delivery-limit"] != int64(7) || w["x-overflow"] != "reject-publish" {
				t.Errorf("%s: %v", p.Work, w)
			}
			if got := w["x-dead-letter-strategy"] == "at-least-once"; got != atLeastOnce {
				t.Errorf("%s at-least-once = %v, want %v", p.Work, got, atLeastOnce)
			}
		}
		if got := r.binds[InsultExchange]; len(got) != 1 || got[0] != InsultRPC {
			t.Errorf("%s binds %v, want %s", InsultExchange, got, InsultRPC)
		}
	}
}

func TestPermissions(t *testing.T) {
	type access struct{ configure, write, read []string }
	tests := []struct {
		role        string
		results     bool
		allow, deny access
	}{
		{role: RoleClient,
			allow: access{[]string{"amq.gen-abc"}, []string{FilterExchange, BroadcasterExchange, InsultExchange, "amq.gen-x"},
				[]string{BroadcastExchange, StatusExchange, "amq.gen-x", "amq.rabbitmq.reply-to"}},
			deny: access{[]string{FilterWork, "warren.rogue", MasterLeader}, []string{"amq.default", DeadExchange, StatsExchange, "warren.filterx"},
				[]string{FilterWork, FilterCount, Dead, Results, InsultLog}}},
		{role: RoleClient, results: true, allow: access{read: []string{Results}}},
		{role: RoleFilter,
			allow: access{write: []string{"amq.default", DeadExchange, StatsExchange}, read: []string{FilterWork, FilterWork + ".3", InsultLog}},
			deny: access{[]string{FilterWork, "amq.gen-x"}, []string{BroadcastExchange, FilterExchange},
				[]string{BroadcasterWork, BroadcasterWork + ".1", FilterCount, FilterWork + ".x", InsultRPC, Dead}}},
		{role: RoleBroadcaster,
			allow: access{[]string{BroadcasterLeader}, []string{BroadcastExchange}, []string{BroadcasterWork}},
			deny:  access{[]string{BroadcasterWork}, []string{FilterExchange}, []string{FilterWork, BroadcasterCount}}},
		{role: RoleInsult,
			allow: access{read: []string{InsultRPC, InsultLog}, write: []string{"amq.default"}},
			deny:  access{[]string{InsultLog}, []string{FilterExchange}, []string{FilterWork, FilterCount}}},
		{role: RoleMaster,
			allow: access{[]string{MasterLeader, "amq.gen-x"}, []string{StatusExchange}, []string{FilterCount, BroadcasterCount, StatsExchange, MasterState}},
			deny:  access{[]string{FilterCount}, []string{FilterExchange}, []string{FilterWork, Dead}}},
	}
	for _, tt := range tests {
		p, err := Permissions(tt.role, tt.results)
		if err != nil {
			t.Fatal(err)
		}
		check := func(kind, pattern string, names []string, want bool) {
			re := regexp.MustCompile(pattern)
			for _, n := range names {
				if re.MatchString(n) != want {
					t.Errorf("%s (results %v) %s %s: got %v, want %v (pattern %s)", tt.role, tt.results, kind, n, !want, want, pattern)
				}
			}
		}
		for _, c := range []struct {
			kind, pattern string
			allow, deny   []string
		}{
			{"configure", p.Configure, tt.allow.configure, tt.deny.configure},
			{"write", p.Write, tt.allow.write, tt.deny.write},
			{"read", p.Read, tt.allow.read, tt.deny.read},
		} {
			check(c.kind, c.pattern, c.allow, true)
			check(c.kind, c.pattern, c.deny, false)
		}
	}
	if _, err := Permissions("root", false); err == nil {
		t.Error("unknown role accepted")
	}
}

func TestDeclareLanes(t *testing.T) {
	r := newRecorder()
	lanes := map[string]Lanes{"filter": {Count: 3, Pins: map[string]int{"tenant-b": 2}}}
	if err := Declare(r, Options{Lanes: lanes}); err != nil {
		t.Fatal(err)
	}
	f := Pools[0]
	want := []string{FilterWork, FilterWork + ".1", FilterWork + ".2"}
	if got := f.Lanes(3); !slices.Equal(got, want) {
		t.Fatalf("lanes %v, want %v", got, want)
	}
	for _, q := range want {
		if r.queues[q]["x-queue-type"] != "quorum" || r.queues[q]["x-delivery-limit"] != int64(5) {
			t.Errorf("lane %s declared with %v", q, r.queues[q])
		}
		if !r.bound[f.HashExchange()+" -> "+q] {
			t.Errorf("lane %s not bound to %s", q, f.HashExchange())
		}
	}
	if r.exchanges[f.HashExchange()] != HashExchangeKind || r.exchanges[f.PinExchange()] != amqp.ExchangeHeaders {
		t.Errorf("lane exchanges: %v", r.exchanges)
	}
	for _, b := range []string{FilterExchange + " -> " + f.PinExchange(), FilterExchange + " -> " + FilterCount} {
		if !r.bound[b] {
			t.Errorf("missing binding %s", b)
		}
	}
	// Every event must reach exactly one lane: the work queue is no longer bound to the pool's exchange.
	if r.bound[FilterExchange+" -> "+FilterWork] {
		t.Error("the work queue is still bound to the pool's exchange: events would reach two lanes")
	}
	if r.pins["tenant-b"] != FilterWork+".2" {
		t.Errorf("pins %v", r.pins)
	}
	// The broadcaster pool, not named, keeps its one queue.
	if !r.bound[BroadcasterExchange+" -> "+BroadcasterWork] || r.bound[BroadcasterExchange+" -> "+Pools[1].PinExchange()] {
		t.Errorf("broadcaster rewired: %v", r.bound)
	}

	// A tool without the configuration leaves the laned pool's routing alone.
	if err := Declare(r, Options{Lanes: map[string]Lanes{"filter": {WasLaned: true}}}); err != nil {
		t.Fatal(err)
	}
	if r.bound[FilterExchange+" -> "+FilterWork] || !r.bound[FilterExchange+" -> "+f.PinExchange()] {
		t.Errorf("a declarer without the configuration rewired the lanes: %v", r.bound)
	}

	// Without pins, the pool's exchange feeds the hash exchange directly.
	if err := Declare(r, Options{Lanes: map[string]Lanes{"filter": {Count: 3, WasLaned: true}}}); err != nil {
		t.Fatal(err)
	}
	if !r.bound[FilterExchange+" -> "+f.HashExchange()] || r.bound[FilterExchange+" -> "+f.PinExchange()] {
		t.Errorf("lanes without pins, bindings: %v", r.bound)
	}

	// Back to one lane: the pool's exchange feeds the work queue again and nothing else.
	if err := Declare(r, Options{Lanes: map[string]Lanes{"filter": {Count: 1, WasLaned: true}}}); err != nil {
		t.Fatal(err)
	}
	if !r.bound[FilterExchange+" -> "+FilterWork] || r.bound[FilterExchange+" -> "+f.PinExchange()] ||
		r.bound[FilterExchange+" -> "+f.HashExchange()] {
		t.Errorf("one lane again, bindings: %v", r.bound)
	}

	if err := Declare(newRecorder(), Options{Lanes: map[string]Lanes{"filter": {Count: 2, Pins: map[string]int{"x": 2}}}}); err == nil ||
		!strings.Contains(err.Error(), `"x"`) {
		t.Errorf("pin to a missing lane: %v", err)
	}
}

func TestKey(t *testing.T) {
	long := strings.Repeat("k", MaxKeyBytes+1)
	for _, tc := range []struct {
		name         string
		headers      amqp.Table
		userID       string
		key, invalid string
	}{
		{"no key", nil, "", "", ""},
		{"header", amqp.Table{HeaderKey: "tenant-a"}, "", "tenant-a", ""},
		{"header before user", amqp.Table{HeaderKey: "tenant-a"}, "bob", "tenant-a", ""},
		{"user id", nil, "bob", "bob", ""},
		{"bytes header", amqp.Table{HeaderKey: []byte("b")}, "", "b", ""},
		{"empty header is the shared key", amqp.Table{HeaderKey: ""}, "bob", "", ""},
		{"longest key", amqp.Table{HeaderKey: long[1:]}, "", long[1:], ""},
		{"too long", amqp.Table{HeaderKey: long}, "", "", KeyTooLong},
		{"not UTF-8", amqp.Table{HeaderKey: "\xff\xfe"}, "", "", KeyNotUTF8},
		{"not a string", amqp.Table{HeaderKey: int32(7)}, "", "", KeyNotText},
		{"long user id", nil, long, "", KeyTooLong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key, invalid := Key(tc.headers, tc.userID)
			if key != tc.key || invalid != tc.invalid {
				t.Errorf("Key = %q, %q; want %q, %q", key, invalid, tc.key, tc.invalid)
			}
		})
	}
}

func TestValidateKey(t *testing.T) {
	if err := ValidateKey("tenant-a"); err != nil {
		t.Errorf("a good key: %v", err)
	}
	err := ValidateKey(strings.Repeat("k", MaxKeyBytes+1))
	if err == nil || err.Error() != `fairness key "`+strings.Repeat("k", 40)+`"…: too long (at most 255 bytes of UTF-8)` {
		t.Errorf("a long key: %v", err)
	}
	if err := ValidateKey("\xff"); err == nil || err.Error() != `fairness key "\xff": not UTF-8 (at most 255 bytes of UTF-8)` {
		t.Errorf("a key that is not UTF-8: %v", err)
	}
}
