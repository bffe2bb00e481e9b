package topology

import (
	"regexp"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// recorder keeps what Declare asked for, to check the declared arguments without a broker.
type recorder struct {
	queues  map[string]amqp.Table
	durable map[string]bool
	binds   map[string][]string
}

func (r *recorder) ExchangeDeclare(string, string, bool, bool, bool, bool, amqp.Table) error {
	return nil
}
func (r *recorder) QueueDeclare(name string, durable, _, _, _ bool, args amqp.Table) (amqp.Queue, error) {
	r.queues[name], r.durable[name] = args, durable
	return amqp.Queue{Name: name}, nil
}
func (r *recorder) QueueBind(name, _, exchange string, _ bool, _ amqp.Table) error {
	r.binds[exchange] = append(r.binds[exchange], name)
	return nil
}

func TestDeclareBoundsEveryQueue(t *testing.T) {
	for _, atLeastOnce := range []bool{false, true} {
		r := &recorder{queues: map[string]amqp.Table{}, durable: map[string]bool{}, binds: map[string][]string{}}
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
			allow: access{write: []string{"amq.default", DeadExchange, StatsExchange}, read: []string{FilterWork, InsultLog}},
			deny: access{[]string{FilterWork, "amq.gen-x"}, []string{BroadcastExchange, FilterExchange},
				[]string{BroadcasterWork, FilterCount, InsultRPC, Dead}}},
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
