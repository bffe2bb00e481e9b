// Command sleeper is the stand-in worker for the runtime tests: it sleeps until SIGTERM and then exits 0, so a
// test can tell a graceful stop (exit 0, fast) from a kill (exit 137). With -ignore-term it ignores SIGTERM,
// which makes Stop escalate to SIGKILL after its grace period.
package main

import (
	"flag"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ignoreTerm := flag.Bool("ignore-term", false, "ignore SIGTERM so only SIGKILL ends the process")
	flag.Parse()

	// The handler is installed first thing so a SIGTERM sent right after start is handled, not fatal.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	_, _ = os.Stdout.WriteString("sleeper: ready as " + os.Getenv("WARREN_WORKER_NAME") + "\n")
	for range term {
		if *ignoreTerm {
			_, _ = os.Stdout.WriteString("sleeper: got SIGTERM, ignoring it\n")
			continue
		}
		_, _ = os.Stdout.WriteString("sleeper: got SIGTERM, exiting\n")
		os.Exit(0)
	}
}
