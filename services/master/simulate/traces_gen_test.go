package simulate

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// update rewrites the shipped traces from their generators: go test -run TestShippedTracesMatchGenerators -update.
var update = flag.Bool("update", false, "rewrite traces/*.csv from their generators")

// maxCapacity is the default filter pool's most throughput: max 8 workers of C_true 480 events/s.
const maxCapacity = 8 * DefaultCapacity

// row is one "seconds,rate" line of a trace file.
type row struct{ at, rate float64 }

// generated is a shipped trace as its generator writes it.
type generated struct {
	description string
	rows        []row // the last one ends the trace, at rate 0
}

func (g generated) csv() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\nseconds,rate\n", g.description)
	for _, r := range g.rows {
		fmt.Fprintf(&b, "%g,%g\n", r.at, r.rate)
	}
	return b.Bytes()
}

func steady(share float64) generated {
	rate := math.Round(share * maxCapacity)
	return generated{fmt.Sprintf("Steady %.0f ev/s (%.0f %% of 8 × 480 ev/s) for 5 min.", rate, share*100),
		[]row{{0, rate}, {300, 0}}}
}

// generators make every shipped trace; the test below keeps the committed files equal to what they make.
var generators = map[string]func() generated{
	"steady-20": func() generated { return steady(0.2) },
	"steady-50": func() generated { return steady(0.5) },
	"steady-90": func() generated { return steady(0.9) },
	"client-steps": func() generated {
		// loadgen's client-steps scenario, with 700 ev/s per publisher instead of 300.
		g := generated{description: "Publishers 1, 2, 3, 1, 2, 0, 1 at seconds 0, 6, 10, 20, 30, 40, 50; 700 ev/s each; 60 s."}
		for _, st := range []struct{ at, clients float64 }{{0, 1}, {6, 2}, {10, 3}, {20, 1}, {30, 2}, {40, 0}, {50, 1}} {
			g.rows = append(g.rows, row{st.at, 700 * st.clients})
		}
		g.rows = append(g.rows, row{60, 0})
		return g
	},
	"step-10x": func() generated {
		return generated{"300 ev/s for 60 s, 3000 ev/s for 120 s, then 300 ev/s for 120 s.",
			[]row{{0, 300}, {60, 3000}, {180, 300}, {300, 0}}}
	},
	"diurnal": func() generated {
		// A day squeezed into 10 min: trough at 10 %, peak at 80 % at 5 min, each 5 s row at its midpoint's rate.
		g := generated{description: "A sine between 10 % and 80 % of 3840 ev/s over 10 min, peak at 5 min, 5 s rows."}
		for t := 0.0; t < 600; t += 5 {
			g.rows = append(g.rows, row{t, math.Round(maxCapacity * (0.45 - 0.35*math.Cos(2*math.Pi*(t+2.5)/600)))})
		}
		g.rows = append(g.rows, row{600, 0})
		return g
	},
	"poisson-bursts": func() generated {
		g := generated{description: "200 ev/s with bursts of 5-10 s at 60-90 % of 3840 ev/s, exponential gaps (mean 30 s), 10 min, seed 1."}
		rng := rand.New(rand.NewPCG(1, 1))
		g.rows = append(g.rows, row{0, 200})
		for t := 0.0; ; {
			start := t + max(1, math.Round(rng.ExpFloat64()*30))
			dur := float64(5 + rng.IntN(6))
			level := math.Round(maxCapacity * (0.6 + 0.3*rng.Float64()))
			if start+dur >= 600 {
				break
			}
			g.rows = append(g.rows, row{start, level}, row{start + dur, 200})
			t = start + dur
		}
		g.rows = append(g.rows, row{600, 0})
		return g
	},
	"flash-crowd": func() generated {
		g := generated{description: "200 ev/s for 60 s, a 5 s ramp to 3456 ev/s (90 %) held 60 s, then 200 ev/s for 60 s."}
		g.rows = append(g.rows, row{0, 200})
		for i := range 5 {
			g.rows = append(g.rows, row{60 + float64(i), math.Round(200 + (3456-200)*(float64(i)+0.5)/5)})
		}
		g.rows = append(g.rows, row{65, 3456}, row{125, 200}, row{185, 0})
		return g
	},
}

func TestShippedTracesMatchGenerators(t *testing.T) {
	var names []string
	for name, gen := range generators {
		names = append(names, name)
		want := gen().csv()
		path := filepath.Join("traces", name+".csv")
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := shipped.ReadFile("traces/" + name + ".csv")
		if err != nil {
			t.Errorf("%s: %v (run with -update)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its generator (run with -update):\n%s", path, want)
		}
	}
	slices.Sort(names)
	if got := TraceNames(); !*update && !slices.Equal(got, names) {
		t.Errorf("shipped traces %v, want exactly the generated %v", got, names)
	}
}
