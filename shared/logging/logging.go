// Package logging builds the zerolog logger every Warren binary uses: JSON by default, a human console
// format when stderr is a terminal (or when asked).
package logging

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// zerolog's formats are package variables: set once, at init, so that building loggers concurrently (tests do)
// does not race, and so that every logger agrees. Durations carry their unit ("retry_in":"100ms",
// "grace":"15s"): a bare 100 could be any unit.
func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldFormat = zerolog.DurationFormatString
}

// New returns a logger writing to w at level, in format "json", "console" or "auto" (console on a TTY).
func New(w io.Writer, service, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("log level %q: %w", level, err)
	}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			format = "console"
		}
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", service).Logger(), nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
