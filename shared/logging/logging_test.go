package logging

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestDurationsCarryUnits: a duration is logged as Go writes it ("100ms"), never as a bare number whose unit a
// reader must guess.
func TestDurationsCarryUnits(t *testing.T) {
	var b bytes.Buffer
	log, err := New(&b, "test", "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Dur("retry_in", 100*time.Millisecond).Dur("grace", 15*time.Second).Msg("x")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, b.Bytes())
	}
	for k, want := range map[string]string{"retry_in": "100ms", "grace": "15s", "service": "test"} {
		if line[k] != want {
			t.Errorf("%s = %#v, want %q", k, line[k], want)
		}
	}
}

func TestNewRejectsAnUnknownLevel(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, "test", "loud", "json"); err == nil {
		t.Error("level loud accepted")
	}
}
