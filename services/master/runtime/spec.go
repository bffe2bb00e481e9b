package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
)

// namePattern is what Docker accepts in container names; pool and service names end up in file names and
// container names, so both runtimes hold them to it.
var namePattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// validateSpec rejects specs that would produce unsafe file or container names, or impossible limits.
func validateSpec(s Spec) error {
	if s.Pool == "" {
		return errors.New("start worker: spec has no pool")
	}
	if !namePattern.MatchString(s.Pool) {
		return fmt.Errorf("start worker: pool name %q must match %s", s.Pool, namePattern)
	}
	if !namePattern.MatchString(s.Service) {
		return fmt.Errorf("start %s worker: service name %q must match %s", s.Pool, s.Service, namePattern)
	}
	if s.CPUs < 0 || s.MemoryMB < 0 {
		return fmt.Errorf("start %s worker: negative resource limit (cpus %g, memory %d MiB)", s.Pool, s.CPUs, s.MemoryMB)
	}
	return nil
}

// workerName returns a fresh name for a worker of pool. It is chosen before the worker starts so the worker can
// be told its name; a random suffix keeps names unique across runtimes and master restarts.
func workerName(pool string) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random worker name suffix: %w", err)
	}
	return "warren-" + pool + "-" + hex.EncodeToString(b), nil
}
