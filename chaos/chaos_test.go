//go:build chaos

package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/rs/zerolog"

	"github.com/warren-mq/warren/services/master/master"
	"github.com/warren-mq/warren/services/master/runtime"
	"github.com/warren-mq/warren/shared/amqpx"
	"github.com/warren-mq/warren/shared/config"
	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/testkit"
	"github.com/warren-mq/warren/shared/topology"
)

// plan is one chaos run's shape; the short form runs in CI, the long form with CHAOS_LONG=1 (make chaos).
type plan struct {
	duration, killEvery time.Duration
	rate, burstRate     int
	fullRestart         bool
}

func currentPlan() plan {
	if os.Getenv("CHAOS_LONG") != "" {
		return plan{duration: 5*time.Minute + 30*time.Second, killEvery: 10 * time.Second, rate: 300, burstRate: 2000, fullRestart: true}
	}
	return plan{duration: 45 * time.Second, killEvery: 5 * time.Second, rate: 300, burstRate: 2000}
}

// ledger accounts for every event of the run by id.
type ledger struct {
	mu        sync.Mutex
	published map[string]bool // id → confirmed
	results   map[string]int
	dead      map[string]string // id → reason
}

func newLedger() *ledger {
	return &ledger{published: map[string]bool{}, results: map[string]int{}, dead: map[string]string{}}
}

func TestChaos(t *testing.T) {
	p := currentPlan()
	url := testkit.Broker(t)
	repo, _ := filepath.Abs("..")
	bin := t.TempDir()
	for _, svc := range []string{"filter", "broadcaster"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "warren-"+svc), filepath.Join(repo, "services", svc)).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", svc, err, out)
		}
	}
	testkit.Conn(t, url)
	cfg := testkit.Config(t, url)
	cfg.Master.Bin = bin
	f := cfg.Master.Pools["filter"]
	f.Min, f.Max, f.Stabilization, f.Capacity = 2, 6, 8*time.Second, "auto"
	f.Env = []string{"WARREN_FILTER_WORK_DELAY=5ms", "WARREN_FILTER_CONCURRENCY=4", "WARREN_LOG_LEVEL=warn"}
	cfg.Master.Pools = map[string]config.Pool{"filter": f}
	// On lanes, so that kills, graceful stops and the broker restart are proven there too: the vhost starts with
	// one lane (testkit.Conn above) and the master rewires it to three; its workers learn the lanes from it.
	cfg.Lanes = map[string]config.Lanes{"filter": {Count: 3, Pin: []string{"chaos-k0=2"}}}
	rt, err := runtime.NewProcess(runtime.ProcessOptions{BinDir: bin, Env: []string{"WARREN_AMQP_URL=" + url},
		Log: zerolog.Nop(), LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stopMaster := testkit.Go(t, func(ctx context.Context) error {
		return master.Run(ctx, master.Options{Config: cfg, Log: testkit.Logger(t, "master").Level(zerolog.WarnLevel), Runtime: rt})
	})
	defer stopMaster()

	l := newLedger()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	follow := func(queue string, fn func(amqp.Delivery)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = amqpx.Run(ctx, amqpx.Options{URL: url, ReconnectMax: time.Second}, zerolog.Nop(), func(ctx context.Context, conn *amqp.Connection) error {
				ch, err := conn.Channel()
				if err != nil {
					return err
				}
				defer ch.Close()
				_ = ch.Qos(500, 0, false)
				msgs, err := ch.Consume(queue, "", false, false, false, false, nil)
				if err != nil {
					return err
				}
				for {
					select {
					case <-ctx.Done():
						return nil
					case d, ok := <-msgs:
						if !ok {
							return fmt.Errorf("%s consumer ended", queue)
						}
						fn(d)
						_ = d.Ack(false)
					}
				}
			})
		}()
	}
	follow(topology.Results, func(d amqp.Delivery) {
		var r event.Result
		if json.Unmarshal(d.Body, &r) == nil {
			l.mu.Lock()
			l.results[r.ID]++
			l.mu.Unlock()
		}
	})
	follow(topology.Dead, func(d amqp.Delivery) {
		reason, _ := d.Headers[topology.HeaderReason].(string)
		if reason == "" {
			reason = fmt.Sprint(d.Headers["x-first-death-reason"])
		}
		l.mu.Lock()
		l.dead[d.MessageId] = reason
		l.mu.Unlock()
	})

	var rate atomic.Int64
	rate.Store(int64(p.rate))
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); publish(ctx, t, url, l, &rate, p.duration) }()

	start := time.Now()
	kills, restarts := 0, 0
	restartAt := p.duration / 2
	burstFrom, burstTo := p.duration/5, p.duration/5+8*time.Second
	tick := time.NewTicker(p.killEvery)
	defer tick.Stop()
	for time.Since(start) < p.duration {
		<-tick.C
		el := time.Since(start)
		switch {
		case el >= burstFrom && el < burstTo:
			rate.Store(int64(p.burstRate)) // forces a scale-up; returning to the base rate forces a scale-down
		default:
			rate.Store(int64(p.rate))
		}
		if restarts == 0 && el >= restartAt {
			restartBroker(t, repo, p.fullRestart)
			restarts++
			continue
		}
		if kill(t, rt) {
			kills++
		}
	}
	<-pubDone

	// Drain: every confirmed event must end with a result or a dead letter.
	deadline := time.Now().Add(90 * time.Second)
	var outstanding int
	for time.Now().Before(deadline) {
		if outstanding = l.outstanding(); outstanding == 0 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	r := l.report()
	t.Logf("chaos report: duration %v, %d kills, %d broker restart(s) (full=%v)\n%s", p.duration, kills, restarts, p.fullRestart, r)
	if r.lost != 0 {
		t.Fatalf("%d confirmed events lost", r.lost)
	}
	if kills < 3 || restarts != 1 {
		t.Fatalf("chaos too mild: %d kills, %d restarts", kills, restarts)
	}
}

// publish sends events at the current rate until d has passed, riding through broker restarts: an event is
// recorded as confirmed only once the broker confirms it, and unconfirmed ones are published again.
func publish(ctx context.Context, t *testing.T, url string, l *ledger, rate *atomic.Int64, d time.Duration) {
	end := time.Now().Add(d)
	next := 0
	var retry []string
	for time.Now().Before(end) && ctx.Err() == nil {
		err := func() error {
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			conn, err := amqpx.Dial(dctx, amqpx.Options{URL: url})
			cancel()
			if err != nil {
				return err
			}
			defer conn.Close()
			pub, err := amqpx.NewPublisher(conn)
			if err != nil {
				return err
			}
			for time.Now().Before(end) {
				batchStart := time.Now()
				n := int(rate.Load() / 10)
				ids := retry
				retry = nil
				for len(ids) < n {
					ids = append(ids, "c-"+strconv.Itoa(next))
					next++
				}
				var pending []*amqp.DeferredConfirmation
				for i, id := range ids {
					l.mu.Lock()
					if _, ok := l.published[id]; !ok {
						l.published[id] = false
					}
					l.mu.Unlock()
					body, _ := json.Marshal(event.Text{ID: id, Text: "chaos idiot"})
					dc, err := pub.PublishAsync(ctx, topology.FilterExchange, "", amqp.Publishing{ContentType: "application/json",
						DeliveryMode: amqp.Persistent, MessageId: id, Body: body,
						Headers: amqp.Table{topology.HeaderKey: "chaos-k" + id[len(id)-1:]}})
					if err != nil {
						retry = append(retry, ids[i:]...)
						return err
					}
					pending = append(pending, dc)
				}
				for i, dc := range pending {
					if err := amqpx.Wait(ctx, dc, topology.FilterExchange, ""); err != nil {
						retry = append(retry, ids[i:]...)
						return err
					}
					l.mu.Lock()
					l.published[ids[i]] = true
					l.mu.Unlock()
				}
				time.Sleep(time.Until(batchStart.Add(100 * time.Millisecond)))
			}
			return nil
		}()
		if err != nil && ctx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
		}
	}
}

// kill SIGKILLs a random running worker.
func kill(t *testing.T, rt *runtime.Process) bool {
	ws, err := rt.List(context.Background(), "filter")
	if err != nil {
		return false
	}
	var live []runtime.Worker
	for _, w := range ws {
		if w.Running {
			live = append(live, w)
		}
	}
	if len(live) == 0 {
		return false
	}
	w := live[rand.IntN(len(live))]
	pid, _ := strconv.Atoi(w.ID)
	return syscall.Kill(pid, syscall.SIGKILL) == nil
}

// restartBroker stops and starts the broker: the RabbitMQ application only, or the whole server.
func restartBroker(t *testing.T, repo string, full bool) {
	t.Helper()
	run := func(name string, args ...string) {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	if full {
		run("rabbitmqctl", "stop")
		run("bash", filepath.Join(repo, "compose/broker-up.sh"))
		return
	}
	run("rabbitmqctl", "stop_app")
	time.Sleep(2 * time.Second)
	run("rabbitmqctl", "start_app")
}

func (l *ledger) outstanding() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for id, confirmed := range l.published {
		if confirmed && l.results[id] == 0 && l.dead[id] == "" {
			n++
		}
	}
	return n
}

type report struct {
	published, confirmed, results, duplicates, dead, lost int
}

func (r report) String() string {
	return fmt.Sprintf("published %d, confirmed %d, results %d, duplicates %d, dead-lettered %d, lost %d",
		r.published, r.confirmed, r.results, r.duplicates, r.dead, r.lost)
}

func (l *ledger) report() report {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r report
	r.published = len(l.published)
	for id, confirmed := range l.published {
		if confirmed {
			r.confirmed++
		}
		if n := l.results[id]; n > 0 {
			r.results++
			r.duplicates += n - 1
		} else if l.dead[id] != "" {
			r.dead++
		} else if confirmed {
			r.lost++
		}
	}
	return r
}
