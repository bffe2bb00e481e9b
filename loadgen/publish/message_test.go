package publish

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// TestPublishingIsAValidTextEvent checks a message against the public contract the filter enforces: strict
// JSON with only known fields, the id as message_id, the send time in the body and the header.
func TestPublishingIsAValidTextEvent(t *testing.T) {
	m, err := NewMessages("lgtest", DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	for seq := range uint64(variants + 2) {
		id := m.ID(3, seq)
		msg := m.Publishing(id, seq, at)
		txt, err := event.ParseText(msg.ContentType, msg.MessageId, msg.Body, 0)
		if err != nil {
			t.Fatalf("seq %d: body %s does not parse as a text event: %v", seq, msg.Body, err)
		}
		if txt.ID != id || len(txt.Text) != DefaultSize || txt.SentAt == nil || !txt.SentAt.Equal(at) {
			t.Fatalf("seq %d: parsed %+v (text %d bytes)", seq, txt, len(txt.Text))
		}
		if msg.MessageId != id || msg.DeliveryMode != amqp.Persistent || msg.Headers[topology.HeaderSentAt] != at.Format(time.RFC3339Nano) {
			t.Fatalf("seq %d: properties %+v", seq, msg)
		}
		if !json.Valid(msg.Body) {
			t.Fatalf("seq %d: invalid JSON", seq)
		}
	}
	if got := m.ID(3, 42); got != "lgtest-3-42" {
		t.Errorf("ID(3, 42) = %q", got)
	}
}

func TestWithKey(t *testing.T) {
	m, err := NewMessages("lgtest", DefaultSize)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	msg := m.Publishing(m.ID(0, 1), 1, at)
	WithKey(&msg, "tenant-a")
	if msg.Headers[HeaderKey] != "tenant-a" || msg.Headers[topology.HeaderSentAt] != at.Format(time.RFC3339Nano) {
		t.Errorf("headers %v, want the key beside the send time", msg.Headers)
	}
	if HeaderKey != "x-warren-key" {
		t.Errorf("HeaderKey = %q", HeaderKey)
	}
	// Each publishing has headers of its own, so one source's key never leaks into another's events.
	other := m.Publishing(m.ID(1, 1), 1, at)
	WithKey(&other, "")
	if _, ok := other.Headers[HeaderKey]; ok {
		t.Errorf("an empty key sent a header: %v", other.Headers)
	}
	var bare amqp.Publishing
	WithKey(&bare, "k")
	if bare.Headers[HeaderKey] != "k" {
		t.Errorf("headers of a publishing without any: %v", bare.Headers)
	}
}

func TestTextsCarryInsultsAndExactSize(t *testing.T) {
	for _, size := range []int{1, 7, 200, 4096} {
		m, err := NewMessages("x", size)
		if err != nil {
			t.Fatal(err)
		}
		insults := 0
		for i, text := range m.texts {
			if len(text) != size {
				t.Fatalf("size %d: text %d is %d bytes: %q", size, i, len(text), text)
			}
			if strings.ContainsAny(text, "\"\\\n") {
				t.Fatalf("text %q needs JSON escaping", text)
			}
			if strings.Contains(text, "idiot") || strings.Contains(text, "fool") || strings.Contains(text, "moron") {
				insults++
			}
		}
		if size >= 200 && insults == 0 {
			t.Errorf("size %d: no text contains an insult; the filter would have nothing to censor", size)
		}
	}
	for _, size := range []int{0, -1, MaxSize + 1} {
		if _, err := NewMessages("x", size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
}

func BenchmarkPublishing(b *testing.B) {
	m, _ := NewMessages("lgbench", DefaultSize)
	at := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		_ = m.Publishing(m.ID(0, uint64(i)), uint64(i), at)
	}
}
