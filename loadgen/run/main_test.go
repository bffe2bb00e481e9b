package run

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a run leaves a goroutine behind: publishers, confirm waiters, the
// collector and the ticker must all be gone when Run returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
