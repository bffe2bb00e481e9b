package collect

import (
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

func TestIDOf(t *testing.T) {
	tests := []struct {
		name string
		d    amqp.Delivery
		want string
	}{
		{"message id", amqp.Delivery{MessageId: "lg1-0-7", Body: []byte(`{"id":"other"}`)}, "lg1-0-7"},
		{"body id", amqp.Delivery{Body: []byte(`{"id":"lg1-2-3","text":"x"}`)}, "lg1-2-3"},
		{"neither", amqp.Delivery{Body: []byte(`not json`)}, ""},
	}
	for _, tt := range tests {
		if got := idOf(tt.d); got != tt.want {
			t.Errorf("%s: idOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}
