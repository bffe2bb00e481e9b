package simulate

import (
	"bufio"
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// shipped holds the traces under traces/, so the binary can replay them without a checkout beside it.
//
//go:embed traces/*.csv
var shipped embed.FS

// ErrNoTrace is wrapped by the error for a trace name that is neither a file nor a shipped trace.
var ErrNoTrace = errors.New("no such trace")

// TraceNames returns the names of the shipped traces (file names without .csv), sorted.
func TraceNames() []string {
	files, _ := fs.Glob(shipped, "traces/*.csv") // the pattern is constant and valid
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = strings.TrimSuffix(path.Base(f), ".csv")
	}
	return names
}

// ShippedTrace returns the shipped trace called name ("steady-50"; a .csv suffix is accepted).
func ShippedTrace(name string) (Trace, error) {
	name = strings.TrimSuffix(name, ".csv")
	data, err := shipped.ReadFile("traces/" + name + ".csv")
	if err != nil {
		return Trace{}, fmt.Errorf("trace %q: %w: not shipped (shipped: %s)", name, ErrNoTrace, strings.Join(TraceNames(), ", "))
	}
	tr, err := ReadTrace(bytes.NewReader(data), name+".csv", "")
	tr.Name = name
	return tr, err
}

// TraceDescription returns the first comment line of the shipped trace called name, which says what it is.
func TraceDescription(name string) string {
	data, err := shipped.ReadFile("traces/" + strings.TrimSuffix(name, ".csv") + ".csv")
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	if sc.Scan() && strings.HasPrefix(sc.Text(), "#") {
		return strings.TrimSpace(strings.TrimPrefix(sc.Text(), "#"))
	}
	return ""
}

// OpenTrace returns the trace in the file at nameOrPath or, when there is no such file, the shipped trace of that
// name. pool picks the pool of a loadgen timeseries.csv (see ReadTrace).
func OpenTrace(nameOrPath, pool string) (Trace, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return LoadTrace(nameOrPath, pool)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Trace{}, fmt.Errorf("trace: %w", err)
	}
	if strings.ContainsRune(nameOrPath, os.PathSeparator) {
		return Trace{}, fmt.Errorf("trace %s: %w: no such file", nameOrPath, ErrNoTrace)
	}
	tr, err := ShippedTrace(nameOrPath)
	if errors.Is(err, ErrNoTrace) {
		return Trace{}, fmt.Errorf("trace %q: %w: neither a file nor a shipped trace (shipped: %s)", nameOrPath, ErrNoTrace,
			strings.Join(TraceNames(), ", "))
	}
	return tr, err
}
