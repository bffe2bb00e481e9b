package workerstats

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/warren-mq/warren/shared/metrics/metricstest"
	"github.com/warren-mq/warren/shared/topology"
)

func TestExportRecordsWhatBeginMarks(t *testing.T) {
	r := New("filter", 4)
	reg := prometheus.NewRegistry()
	m := r.Export(reg)
	if m == nil {
		t.Fatal("Export gave no metrics")
	}
	r.Hold(3)
	end := r.Begin()
	if got := metricstest.Gather(t, reg).One(t, "warren_worker_deliveries_in_flight"); got != 1 {
		t.Errorf("in flight %g while a handler runs, want 1", got)
	}
	end(true)
	r.Begin()(true)
	r.Begin()(false)
	r.Hold(-1)
	metricstest.Gather(t, reg).Expect(t, map[string]float64{
		"warren_worker_events_processed_total": 2, "warren_worker_events_failed_total": 1,
		"warren_worker_deliveries_held": 2, "warren_worker_deliveries_in_flight": 0,
	})
	if n := testutil.CollectAndCount(reg, "warren_worker_handler_duration_seconds"); n != 1 {
		t.Errorf("duration series %d", n)
	}
	if r.Total() != 2 {
		t.Errorf("total %d, want 2", r.Total())
	}
}

func TestHeldCountsRunningHandlers(t *testing.T) {
	r := New("filter", 1)
	reg := prometheus.NewRegistry()
	r.Export(reg)
	end := r.Begin() // before the consumer counted the delivery as taken
	if got := metricstest.Gather(t, reg).One(t, "warren_worker_deliveries_held"); got != 1 {
		t.Errorf("held %g with a handler running, want 1", got)
	}
	end(true)
}

func TestReportCarriesMetricsAddr(t *testing.T) {
	r := New("filter", 1)
	if s := r.snapshot(time.Now(), time.Second); s.MetricsAddr != "" {
		t.Errorf("metrics addr %q before AdvertiseMetrics", s.MetricsAddr)
	}
	r.AdvertiseMetrics("10.0.0.7:41234")
	r.Begin()(true) // not exported: counted in reports only
	s := r.snapshot(time.Now(), time.Second)
	if s.MetricsAddr != "10.0.0.7:41234" || s.Processed != 1 {
		t.Errorf("report %+v", s)
	}
}

func TestLaneKeysAreBounded(t *testing.T) {
	r := New("filter", 1)
	for i := range trackedKeys + 50 {
		r.Seen(0, amqp.Delivery{Headers: amqp.Table{topology.HeaderKey: fmt.Sprintf("k%03d", i)}})
	}
	for range 10 {
		r.Seen(0, amqp.Delivery{Headers: amqp.Table{topology.HeaderKey: "k000"}})
	}
	r.Seen(1, amqp.Delivery{UserId: "bob"})
	r.Seen(1, amqp.Delivery{Headers: amqp.Table{topology.HeaderKey: string([]byte{0xff})}})
	s := r.snapshot(time.Now(), time.Second)
	if len(s.Lanes) != 2 || s.InvalidKeys != 1 {
		t.Fatalf("lanes %+v, invalid %d", s.Lanes, s.InvalidKeys)
	}
	l0 := s.Lanes[0]
	if l0.Taken != trackedKeys+60 || len(l0.Keys) != reportedKeys || l0.Keys["k000"] != 11 {
		t.Errorf("lane 0: taken %d, %d keys reported, k000 %d", l0.Taken, len(l0.Keys), l0.Keys["k000"])
	}
	reported := 0
	for _, n := range l0.Keys {
		reported += n
	}
	if reported+l0.Other != l0.Taken {
		t.Errorf("lane 0: %d reported + %d other != %d taken", reported, l0.Other, l0.Taken)
	}
	if l1 := s.Lanes[1]; l1.Keys["bob"] != 1 || l1.Keys[""] != 1 {
		t.Errorf("lane 1 keys %v: want user_id bob and the invalid key as \"\"", l1.Keys)
	}
	if again := r.snapshot(time.Now(), time.Second); again.Lanes != nil || again.InvalidKeys != 0 {
		t.Errorf("a report does not start over: %+v", again.Lanes)
	}
}
