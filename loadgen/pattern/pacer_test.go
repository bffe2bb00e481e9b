package pattern

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// fakeClock is a clock whose sleeps advance time instantly, overshooting by a random lag so the pacer has to
// catch up the way it would behind a slow broker.
type fakeClock struct {
	t      time.Time
	maxLag time.Duration
	rng    *rand.Rand
	sleeps int
}

func (c *fakeClock) now() time.Time { return c.t }

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return false
	}
	c.sleeps++
	c.t = c.t.Add(d)
	if c.maxLag > 0 {
		c.t = c.t.Add(time.Duration(c.rng.Int64N(int64(c.maxLag))))
	}
	return true
}

func TestPacerFakeClock(t *testing.T) {
	const rate = 2000.0
	d := 5 * time.Second
	tests := []struct {
		name     string
		maxLag   time.Duration
		maxBatch int
	}{
		{"exact sleeps", 0, 0},
		{"late sleeps", 20 * time.Millisecond, 0},
		{"late sleeps, batches of 3", 20 * time.Millisecond, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := &fakeClock{t: start, maxLag: tt.maxLag, rng: rand.New(rand.NewPCG(1, 2))}
			want := drain(t, NewSteady(rate, d), d)
			p := NewPacer(NewSteady(rate, d), start, clock.now, clock.sleep)
			total, batches, biggest := 0, 0, 0
			for {
				n, ok := p.Wait(context.Background(), tt.maxBatch)
				if !ok {
					break
				}
				if n < 1 || (tt.maxBatch > 0 && n > tt.maxBatch) {
					t.Fatalf("Wait released %d", n)
				}
				total += n
				batches++
				biggest = max(biggest, n)
				elapsed := clock.now().Sub(start)
				// Nothing is released before its time…
				if want[total-1] > elapsed {
					t.Fatalf("send %d released at %s, before its time %s", total-1, elapsed, want[total-1])
				}
				// …and, with no cap, nothing that is due is held back.
				if tt.maxBatch == 0 && total < len(want) && want[total] <= elapsed {
					t.Fatalf("send %d due at %s held back at %s", total, want[total], elapsed)
				}
			}
			wantTotal := rate * d.Seconds()
			if math.Abs(float64(total)-wantTotal)/wantTotal > 0.01 {
				t.Fatalf("sent %d, want %v ± 1%%", total, wantTotal)
			}
			if total != 10000 || p.Released() != 10000 {
				t.Errorf("sent %d (Released %d), want exactly 10000", total, p.Released())
			}
			if tt.maxLag > 0 && biggest < 2 {
				t.Errorf("late sleeps never produced a batch (biggest %d)", biggest)
			}
			if tt.maxLag == 0 && batches != 10000 {
				t.Errorf("exact sleeps made %d batches, want one per send", batches)
			}
			// The run ends when the last send is due, not after the sum of per-send sleeps: no drift.
			if end := clock.now().Sub(start); end > d+tt.maxLag {
				t.Errorf("run ended at %s, want by %s", end, d+tt.maxLag)
			}
		})
	}
}

func TestPacerStopsOnCancel(t *testing.T) {
	start := time.Unix(0, 0)
	clock := &fakeClock{t: start}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewPacer(NewSteady(100, time.Minute), start, clock.now, clock.sleep)
	total := 0
	for {
		n, ok := p.Wait(ctx, 0)
		if !ok {
			break
		}
		total += n
		if total == 50 {
			cancel()
		}
	}
	if total != 50 {
		t.Errorf("sent %d after cancelling at 50", total)
	}
}

func TestPacerBehind(t *testing.T) {
	start := time.Unix(0, 0)
	clock := &fakeClock{t: start.Add(time.Second)}
	p := NewPacer(NewSteady(10, 5*time.Second), start, clock.now, clock.sleep)
	if got := p.Behind(); got != time.Second {
		t.Errorf("Behind() = %s, want 1s", got)
	}
	n, _ := p.Wait(context.Background(), 0)
	if n != 11 {
		t.Errorf("a pacer one second late released %d, want 11 (0 s to 1 s inclusive)", n)
	}
	if got := p.Behind(); got != 0 {
		t.Errorf("Behind() after catching up = %s, want 0", got)
	}
}

func TestPacerEmptySchedule(t *testing.T) {
	p := NewPacer(empty{}, time.Now(), nil, nil)
	if n, ok := p.Wait(context.Background(), 0); ok || n != 0 {
		t.Errorf("Wait on an empty schedule = %d, %v", n, ok)
	}
}

// TestPacerRealClock runs a short schedule on the real clock: 1000/s for 1 s sends exactly the schedule's 1000,
// and never ahead of it. How close to 1 s it finishes on a busy machine is a benchmark figure, not a test: a timer
// fires late, never early, so only the lower bound is a property of the pacer.
func TestPacerRealClock(t *testing.T) {
	if testing.Short() {
		t.Skip("real clock")
	}
	const rate = 1000.0
	d := time.Second
	start := time.Now()
	p := NewPacer(NewSteady(rate, d), start, time.Now, Sleep)
	total := 0
	for {
		n, ok := p.Wait(context.Background(), 0)
		if !ok {
			break
		}
		// Every release is due: the schedule says send i is due at i/rate. These are lower bounds only (nothing
		// leaves early), which a busy machine cannot break: it can only make releases later.
		if due := time.Duration(float64(total+n-1) / rate * float64(time.Second)); time.Since(start) < due {
			t.Fatalf("sends up to %d released at %s, before their time %s", total+n, time.Since(start), due)
		}
		total += n
	}
	elapsed := time.Since(start)
	if math.Abs(float64(total)-rate)/rate > 0.02 {
		t.Errorf("sent %d, want %v ± 2%%", total, rate)
	}
	// The last send is due at 999 ms.
	if elapsed < 999*time.Millisecond {
		t.Errorf("run took %s: the last send went out before its time", elapsed)
	}
	t.Logf("1000 sends paced over %s", elapsed)
}
