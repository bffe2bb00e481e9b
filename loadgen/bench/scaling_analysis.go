package bench

import (
	"math"
	"time"

	"github.com/warren-mq/warren/loadgen/timeseries"
)

// reasonStart labels the stretch from the load's start to the master's first evaluation, which no decision
// of the run has sized yet.
const reasonStart = "start"

// reasonMin labels workers that only the pool's minimum keeps while nothing is offered: the oracle has no
// minimum, so they count against the policy without being its choice.
const reasonMin = "min"

// poolMin and poolMax are the filter pool's default bounds (configs/warren.yaml), which every policy of the
// scaling benchmark keeps.
const (
	poolMin = 1
	poolMax = 8
)

// PoolChange is a change of the worker count the master decided during a trace.
type PoolChange struct {
	// After is the decision's status, from the load's start.
	After time.Duration
	// From and To are the desired counts before and after.
	From, To int
	// Reason is the master's reason; Lambda, Backlog and Capacity what it saw.
	Reason   string
	Lambda   float64
	Backlog  int
	Capacity float64
}

// ScalingMetrics is what one policy did on one trace, read off loadgen's samples: one per master status,
// each with the master's view and loadgen's own send rate over the same window.
type ScalingMetrics struct {
	// Samples is how many statuses fell within the trace.
	Samples int
	// WorkerSeconds is ∫ running workers dt over the trace; OracleSeconds is ∫ ceil(send rate / C_true) dt;
	// Ratio is the first over the second.
	WorkerSeconds, OracleSeconds, Ratio float64
	// Offered is the events loadgen sent within the trace, as its rates add up.
	Offered float64
	// Changes counts the decisions that changed the desired count during the trace, ChangesAfterSettle those
	// after the settle time; Log lists them all.
	Changes, ChangesAfterSettle int
	Log                         []PoolChange
	// Excess is ∫ max(0, workers − oracle) dt by the reason of the decision that set the count (reasonStart
	// before the first evaluation, reasonMin for the pool's minimum while nothing was offered); Deficit is
	// ∫ max(0, oracle − workers) dt by the same reasons.
	Excess, Deficit map[string]float64
	// PeakBacklog is the largest backlog a status showed and PeakBacklogAt when, from the load's start;
	// PeakWorkers the workers the pool had then.
	PeakBacklog   int
	PeakBacklogAt time.Duration
	PeakWorkers   int
	// AtMax counts the evaluations that wanted more than the pool's max.
	AtMax int
	// MeanCapacity is the mean of the C the master sized with, over the trace's statuses.
	MeanCapacity float64
	// MaxRate is the highest send rate of a sample within the trace.
	MaxRate float64
	// EndBacklog and EndWorkers are the backlog and workers of the last status within the trace.
	EndBacklog, EndWorkers int
}

// oracleWorkers is the fewest workers of capacity c that keep up with rate: ceil(rate / c), tolerant of
// floating-point noise, and zero for no load.
func oracleWorkers(rate, c float64) int {
	if !(rate > 0) || !(c > 0) {
		return 0
	}
	return int(math.Ceil(rate/c - 1e-9))
}

// analyzeScaling reads a trace of length from start off the samples (those of the filter pool, in time
// order). Sample k covers the window since sample k−1 (since start for the first): over it the pool had the
// workers sample k counted, which the decision of sample k−1 set, and loadgen sent at sample k's send rate.
// The stretch after the last status within the trace, to its end, keeps the last decision's count and the
// last send rate: the status after it would also cover the drain, when nothing is sent.
func analyzeScaling(start time.Time, length, settle time.Duration, cTrue float64, samples []timeseries.Sample) ScalingMetrics {
	m := ScalingMetrics{Excess: map[string]float64{}, Deficit: map[string]float64{}}
	end := start.Add(length)
	var in []timeseries.Sample
	for _, s := range samples {
		if s.Pool == "filter" && s.T.After(start) && !s.T.After(end) {
			in = append(in, s)
		}
	}
	m.Samples = len(in)
	if len(in) == 0 {
		return m
	}
	account := func(from, to time.Time, workers int, rate float64, reason string) {
		dt := to.Sub(from).Seconds()
		if dt <= 0 {
			return
		}
		need := oracleWorkers(rate, cTrue)
		m.WorkerSeconds += float64(workers) * dt
		m.OracleSeconds += float64(need) * dt
		m.Offered += rate * dt
		switch {
		case workers > need && need == 0:
			floor := min(workers, poolMin)
			m.Excess[reasonMin] += float64(floor) * dt
			if workers > floor {
				m.Excess[reason] += float64(workers-floor) * dt
			}
		case workers > need:
			m.Excess[reason] += float64(workers-need) * dt
		case workers < need:
			m.Deficit[reason] += float64(need-workers) * dt
		}
	}
	prevT, prevReason, prevDesired := start, reasonStart, in[0].Workers
	var capSum float64
	for _, s := range in {
		account(prevT, s.T, s.Workers, s.SentRate, prevReason)
		if s.Desired != prevDesired {
			after := s.T.Sub(start)
			m.Changes++
			if after > settle {
				m.ChangesAfterSettle++
			}
			m.Log = append(m.Log, PoolChange{After: after, From: prevDesired, To: s.Desired, Reason: s.Reason,
				Lambda: s.Lambda, Backlog: s.Backlog, Capacity: s.Capacity})
		}
		if s.Backlog > m.PeakBacklog {
			m.PeakBacklog, m.PeakBacklogAt, m.PeakWorkers = s.Backlog, s.T.Sub(start), s.Workers
		}
		if s.Reason == "at_max" {
			m.AtMax++
		}
		m.MaxRate = max(m.MaxRate, s.SentRate)
		capSum += s.Capacity
		prevT, prevReason, prevDesired = s.T, s.Reason, s.Desired
	}
	last := in[len(in)-1]
	account(prevT, end, last.Desired, last.SentRate, prevReason)
	m.EndBacklog, m.EndWorkers = last.Backlog, last.Workers
	m.MeanCapacity = capSum / float64(len(in))
	if m.OracleSeconds > 0 {
		m.Ratio = m.WorkerSeconds / m.OracleSeconds
	}
	return m
}

// CapacityPoint is the C of one master status.
type CapacityPoint struct {
	// After is the status's arrival, from the load's start.
	After time.Duration
	// Value, Source and Reports are the status's capacity, capacity_source and capacity_reports.
	Value   float64
	Source  string
	Reports int
}

// Convergence is how the learned C of the default policy on the steady trace compares with C_true.
type Convergence struct {
	// CTrue is the measured capacity of one saturated worker.
	CTrue float64
	// First holds the first three evaluations after the load started.
	First []CapacityPoint
	// Min and Max bound C over Window, the end of the trace after its first fifth (the last 4 of 5 minutes).
	Min, Max float64
	Window   time.Duration
	// Within is the first evaluation (1-based) whose C is within TargetCapacityError of CTrue; 0 if none was.
	Within int
}

// TargetCapacityError bounds the learned capacity's error, and TargetCapacityEvaluations how many
// evaluations after the load starts it may take to get there.
const (
	TargetCapacityError       = 0.15
	TargetCapacityEvaluations = 3
)

// Met reports whether C came within the error bound by the allowed evaluation.
func (c Convergence) Met() bool { return c.Within > 0 && c.Within <= TargetCapacityEvaluations }

// relErr is x's error relative to ref.
func relErr(x, ref float64) float64 {
	if ref == 0 {
		return math.Inf(1)
	}
	return (x - ref) / ref
}

// converge reads the capacity convergence of a trace of length from start off the master's statuses.
func converge(start time.Time, length time.Duration, cTrue float64, statuses []statusAt) Convergence {
	c := Convergence{CTrue: cTrue, Window: length - length/5}
	end, from := start.Add(length), start.Add(length/5)
	n := 0
	for _, s := range statuses {
		if !s.At.After(start) || s.At.After(end) {
			continue
		}
		n++
		if n <= TargetCapacityEvaluations {
			c.First = append(c.First, CapacityPoint{After: s.At.Sub(start), Value: s.Capacity, Source: s.CapacitySource,
				Reports: s.CapacityReports})
		}
		if c.Within == 0 && math.Abs(relErr(s.Capacity, cTrue)) <= TargetCapacityError {
			c.Within = n
		}
		if !s.At.Before(from) {
			if c.Min == 0 || s.Capacity < c.Min {
				c.Min = s.Capacity
			}
			c.Max = max(c.Max, s.Capacity)
		}
	}
	return c
}

// lastStatus returns the last status that arrived at or before t, and false when none did.
func lastStatus(statuses []statusAt, t time.Time) (statusAt, bool) {
	var out statusAt
	ok := false
	for _, s := range statuses {
		if s.At.After(t) {
			break
		}
		out, ok = s, true
	}
	return out, ok
}
