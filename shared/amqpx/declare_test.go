package amqpx

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestSupportsAtLeastOnce(t *testing.T) {
	for _, tt := range []struct {
		version string
		want    bool
	}{
		{"3.10.8", true}, {"3.13.0", true}, {"4.0.5", true}, {"3.9.29", false}, {"3.8", false},
		{"", false}, {"garbage", false}, {"3.x.1", false},
	} {
		conn := &amqp.Connection{Properties: amqp.Table{"version": tt.version}}
		if got := SupportsAtLeastOnce(conn); got != tt.want {
			t.Errorf("%q: got %v, want %v", tt.version, got, tt.want)
		}
	}
}
