// Package publish sends loadgen's events. A Publisher owns one connection and one confirm-mode channel and
// releases a step's sends on a pattern.Pacer schedule, so a run sends exactly what its pattern says, on time,
// and accounts for every send and confirm in a report.Recorder.
package publish

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warren-mq/warren/shared/event"
	"github.com/warren-mq/warren/shared/topology"
)

// HeaderKey is the AMQP header that carries an event's fairness key, by which Warren dispatches fairly across
// the sources of its events.
const HeaderKey = topology.HeaderKey

// DefaultSize is the default length of an event's text in bytes: about a tweet, so the broker moves messages
// of a realistic size rather than empty ones.
const DefaultSize = 200

// MaxSize bounds the text so the whole body stays under the filter's default body limit.
const MaxSize = event.DefaultMaxBody - 1024

// words make up the texts; a few insults of the default catalogue are among them so the filter has real
// censoring to do.
var words = strings.Fields(`the quick brown fox jumps over a lazy dog while an idiot watches and a fool
	claims every message deserves an answer from some moron who never reads past the first line of text tonto
	queues carry words to workers that replace insults by something nicer before results come back`)

// variants is how many different texts a Messages cycles through: enough that bodies differ, few enough
// to build once.
const variants = 64

// Messages builds the events of one run. It is safe for concurrent use: it only reads after NewMessages.
type Messages struct {
	runID string
	texts []string
}

// NewMessages prepares the texts of a run whose ids start with runID; each text is exactly size bytes of
// plain ASCII, so it needs no escaping in JSON.
func NewMessages(runID string, size int) (*Messages, error) {
	if size < 1 || size > MaxSize {
		return nil, fmt.Errorf("text size must be between 1 and %d bytes, got %d", MaxSize, size)
	}
	m := &Messages{runID: runID, texts: make([]string, variants)}
	for v := range variants {
		var b strings.Builder
		for i := v; b.Len() < size; i += 7 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[i%len(words)])
		}
		text := b.String()[:size]
		if strings.HasSuffix(text, " ") {
			// A full stop instead of the trailing space keeps the exact size and a text that is not blank.
			text = text[:size-1] + "."
		}
		m.texts[v] = text
	}
	return m, nil
}

// RunID returns the prefix of every id of the run.
func (m *Messages) RunID() string { return m.runID }

// ID returns the id of a publisher's seq-th event: the run id first, so results of other runs are told
// apart by prefix alone.
func (m *Messages) ID(publisher int, seq uint64) string {
	b := make([]byte, 0, len(m.runID)+24)
	b = append(b, m.runID...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(publisher), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	return string(b)
}

// Publishing returns the text event for id sent at at: the JSON body {"id", "text", "sent_at"}, the id as
// message_id, the send time also in the x-warren-sent-at header (the filter passes it through to the
// result), and persistent delivery, as a real client of the public contract would send it.
func (m *Messages) Publishing(id string, seq uint64, at time.Time) amqp.Publishing {
	text := m.texts[seq%variants]
	sentAt := at.UTC().Format(time.RFC3339Nano)
	// Built by hand, not with encoding/json: at tens of thousands of events per second the encoder's
	// reflection shows up in the profile, and id, text and time never need escaping.
	body := make([]byte, 0, len(text)+len(id)+len(sentAt)+40)
	body = append(body, `{"id":"`...)
	body = append(body, id...)
	body = append(body, `","text":"`...)
	body = append(body, text...)
	body = append(body, `","sent_at":"`...)
	body = append(body, sentAt...)
	body = append(body, `"}`...)
	return amqp.Publishing{
		ContentType:  event.ContentJSON,
		DeliveryMode: amqp.Persistent,
		MessageId:    id,
		Timestamp:    at,
		Headers:      amqp.Table{topology.HeaderSentAt: sentAt},
		Body:         body,
	}
}

// WithKey sets msg's fairness key header to key, or leaves msg without one when key is empty.
func WithKey(msg *amqp.Publishing, key string) {
	if key == "" {
		return
	}
	if msg.Headers == nil {
		msg.Headers = amqp.Table{}
	}
	msg.Headers[HeaderKey] = key
}
