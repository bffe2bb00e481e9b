// Package chaos holds Warren's chaos test: under steady load it kills workers with SIGKILL, restarts the broker,
// forces a scale-up and a scale-down, and then accounts for every event. It restarts the one shared broker, so it
// runs on its own (build tag chaos), after the rest of the suite: `make chaos` for the long form, and a short form
// inside `make test`.
package chaos
