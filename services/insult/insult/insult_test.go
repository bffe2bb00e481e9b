//go:build integration

package insult_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/goleak"

	"github.com/warren-mq/warren/services/insult/insult"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/catalog"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startReplica(t *testing.T, url string) (stop func()) {
	t.Helper()
	cfg := testkit.Config(t, url)
	return testkit.GoReady(t, "insult service", func(ctx context.Context, ready func()) error {
		return insult.Run(ctx, insult.Options{Config: cfg, Log: testkit.Logger(t, "insult"), Ready: ready})
	})
}

func call(t *testing.T, conn *amqp.Connection, body string) event.InsultReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := amqpx.Call(ctx, conn, "", topology.InsultRPC, amqp.Publishing{ContentType: "application/json", Body: []byte(body)})
	if err != nil {
		t.Fatal(err)
	}
	var r event.InsultReply
	if err := json.Unmarshal(d.Body, &r); err != nil {
		t.Fatalf("reply %q: %v", d.Body, err)
	}
	return r
}

func TestOperations(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startReplica(t, url)
	if r := call(t, conn, `{"op":"list"}`); !r.OK || !slices.Contains(r.Insults, "idiot") {
		t.Fatalf("default list: %+v", r)
	}
	if r := call(t, conn, `{"op":"add","insult":"Nincompoop"}`); !r.OK || !*r.Changed {
		t.Fatalf("add: %+v", r)
	}
	if r := call(t, conn, `{"op":"add","insult":"NINCOMPOOP"}`); !r.OK || *r.Changed {
		t.Fatalf("duplicate add (case-insensitive) changed the catalogue: %+v", r)
	}
	if r := call(t, conn, `{"op":"remove","insult":"idiot"}`); !r.OK || !*r.Changed || slices.Contains(r.Insults, "idiot") {
		t.Fatalf("remove: %+v", r)
	}
	if r := call(t, conn, `{"op":"random"}`); !r.OK || r.Insult == "" || r.Insult == "idiot" {
		t.Fatalf("random: %+v", r)
	}
	if r := call(t, conn, `{"op":"broadcast_on"}`); !r.OK || !*r.Broadcasting {
		t.Fatalf("broadcast_on: %+v", r)
	}
	for body, want := range map[string]string{
		`{"op":"shout"}`: `unknown op "shout"`, `{"op":"add"}`: `needs a non-empty "insult"`, `not json`: "malformed JSON",
	} {
		if r := call(t, conn, body); r.OK || !strings.Contains(r.Error, want) {
			t.Errorf("%s: reply %+v, want error containing %q", body, r, want)
		}
	}
	// Requests that cannot be understood are also dead-lettered with their reason.
	var dead []amqp.Delivery
	testkit.Eventually(t, 5*time.Second, "3 dead letters", func() bool {
		dead = append(dead, testkit.Drain(t, conn, topology.Dead, 100*time.Millisecond)...)
		return len(dead) >= 3
	})
}

func TestCatalogueSurvivesRestart(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	stop := startReplica(t, url)
	call(t, conn, `{"op":"add","insult":"popinjay"}`)
	call(t, conn, `{"op":"remove","insult":"fool"}`)
	stop()
	startReplica(t, url)
	r := call(t, conn, `{"op":"list"}`)
	if !slices.Contains(r.Insults, "popinjay") || slices.Contains(r.Insults, "fool") {
		t.Fatalf("after restart: %v", r.Insults)
	}
}

func TestTwoReplicasAgree(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startReplica(t, url)
	startReplica(t, url)
	call(t, conn, `{"op":"add","insult":"blockhead"}`)
	call(t, conn, `{"op":"remove","insult":"moron"}`)
	// Requests are spread round-robin over both replicas; every answer must be the same.
	var first []string
	for i := range 10 {
		r := call(t, conn, `{"op":"list"}`)
		if i == 0 {
			first = r.Insults
			if !slices.Contains(first, "blockhead") || slices.Contains(first, "moron") {
				t.Fatalf("list %v misses the changes", first)
			}
			continue
		}
		if !slices.Equal(r.Insults, first) {
			t.Fatalf("replicas disagree: %v vs %v", r.Insults, first)
		}
	}
}

// TestFullCatalogueIsRefused: once the catalogue reaches its size bound (catalog.MaxBytes, which keeps the
// log's retention safe), adds are answered with an error saying so, and removes make room again.
func TestFullCatalogueIsRefused(t *testing.T) {
	url := testkit.Broker(t)
	conn := testkit.Conn(t, url)
	startReplica(t, url)
	// The catalogue is filled straight through the log, as another replica would: through the RPC, every add
	// would answer with the whole list.
	filler := catalog.New(nil, testkit.Logger(t, "filler"), nil)
	fconn := testkit.Conn(t, url)
	testkit.Go(t, func(ctx context.Context) error { return filler.Follow(ctx, fconn) })
	<-filler.Ready()
	for i := 0; ; i++ {
		// 200 characters of 4 bytes: the largest insult accepted, so that some 680 fill the catalogue.
		p := fmt.Sprintf("big %05d ", i)
		err := filler.Append(context.Background(), catalog.Entry{Op: catalog.OpAdd, Insult: p + strings.Repeat("😀", 200-len(p))})
		if errors.Is(err, catalog.ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r := call(t, conn, `{"op":"add","insult":"`+strings.Repeat("😀", 200)+`"}`)
	if r.OK || !strings.Contains(r.Error, catalog.ErrFull.Error()) {
		t.Fatalf("add to a full catalogue: %+v", r)
	}
	list := call(t, conn, `{"op":"list"}`)
	body, _ := json.Marshal(event.InsultRequest{Op: event.OpRemove, Insult: list.Insults[len(list.Insults)-1]})
	if r := call(t, conn, string(body)); !r.OK || !*r.Changed {
		t.Fatalf("remove from a full catalogue: %+v", r)
	}
	if r := call(t, conn, `{"op":"add","insult":"nincompoop"}`); !r.OK || !*r.Changed {
		t.Fatalf("add after a remove made room: %+v", r)
	}
}
