package simulate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warren-mq/warren/loadgen/timeseries"
	"github.com/warren-mq/warren/shared/command"
)

// runMain runs `warren-master simulate` with the repository's configuration and returns its exit status and
// outputs.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	p := command.New("warren-master", "Warren's autoscaler", "")
	p.Root.AddCommand(Command(p))
	var stdout, stderr bytes.Buffer
	code := p.Execute(context.Background(), append([]string{"simulate", "--config", repoConfig(t)}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestMainList(t *testing.T) {
	code, out, _ := runMain(t, "--list")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range TraceNames() {
		if !strings.Contains(out, name+" ") {
			t.Errorf("--list does not show %s:\n%s", name, out)
		}
	}
}

func TestMainPrintsTable(t *testing.T) {
	code, out, errOut := runMain(t, "--trace", "step-10x", "--spawn-delay", "1.5s")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"worker-s", "oracle", "ratio", "p99 wait", "lost", "step-10x", "spawn delay 1.5s",
		"step at 1m0s: 300 → 3000 ev/s needs 7 workers: reached"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestMainOutWritesLoadgenFiles checks --out writes what loadgen writes, and that the CSV replays as a trace.
func TestMainOutWritesLoadgenFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, _, errOut := runMain(t, "--trace", "client-steps", "--poisson", "--seed", "3", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	f, err := os.Open(filepath.Join(dir, CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := timeseries.ReadCSV(f)
	if err != nil || len(samples) < 30 {
		t.Fatalf("%d samples, %v", len(samples), err)
	}
	if st, err := os.Stat(filepath.Join(dir, PNGFile)); err != nil || st.Size() == 0 {
		t.Fatalf("plot: %v", err)
	}
	// The simulator's own output is a loadgen trace: its send rate is the replayed arrivals.
	tr, err := LoadTrace(filepath.Join(dir, CSVFile), "")
	if err != nil {
		t.Fatal(err)
	}
	orig := mustShipped(t, "client-steps")
	if got, want := tr.Events(0, orig.End), orig.Events(0, orig.End); got < 0.97*want || got > 1.03*want {
		t.Errorf("replayed output has %.0f events in the trace's minute, want about %.0f", got, want)
	}
}

func TestMainErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no trace", nil, "--trace is required"},
		{"unknown trace", []string{"--trace", "nope"}, `trace "nope": no such trace`},
		{"bad trace file", []string{"--trace", "testdata-bad"}, "testdata-bad:2: rate"},
		{"unknown formula", []string{"--trace", "steady-20", "--set", "master.pools.filter.formula=magic"},
			"master.pools.filter.formula"},
		{"utilization above 1", []string{"--trace", "steady-20", "--set", "master.pools.filter.target_utilization=1.5"},
			"master.pools.filter.target_utilization"},
		{"utilization zero", []string{"--trace", "steady-20", "--set", "master.pools.filter.target_utilization=0"},
			"master.pools.filter.target_utilization"},
		{"unknown pool", []string{"--trace", "steady-20", "--pool", "nope"}, `no pool "nope"`},
		{"bad model", []string{"--trace", "steady-20", "--slots", "0"}, "slots 0"},
		{"seed without poisson", []string{"--trace", "steady-20", "--seed", "4"}, "--seed only applies with --poisson"},
		{"unknown flag", []string{"--bogus"}, "unknown flag: --bogus"},
		{"stray argument", []string{"--trace", "steady-20", "extra"}, `unexpected argument "extra"`},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "testdata-bad"), []byte("0,10\n5,many\n9,0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMain(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "warren-master simulate: ") || !strings.Contains(lines[0], tt.want) ||
				lines[1] != "Run 'warren-master simulate --help' for usage." {
				t.Errorf("stderr %q, want one line containing %q, then the usage hint", errOut, tt.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

// TestMainOutputsUnwritable checks that outputs that cannot be written end with exit status 1, after the summary.
func TestMainOutputsUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, "--trace", "steady-20", "--out", filepath.Join(file, "out"))
	if code != 1 || !strings.Contains(out, "trace steady-20") ||
		!strings.HasPrefix(errOut, "warren-master simulate: create output directory: ") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, the summary, and one line saying why", code, out, errOut)
	}
}
