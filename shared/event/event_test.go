package event

import (
	"errors"
	"strings"
	"testing"
)

func TestParseText(t *testing.T) {
	tests := []struct {
		name, ct, msgID, body string
		max                   int
		wantID, wantText      string
		wantErr               string
	}{
		{name: "json", ct: "application/json", body: `{"id":"a1","text":"you idiot"}`, wantID: "a1", wantText: "you idiot"},
		{name: "json id from message", ct: "application/json", msgID: "m9", body: `{"text":"hi"}`, wantID: "m9", wantText: "hi"},
		{name: "json without content type", body: ` {"text":"hi"}`, wantText: "hi"},
		{name: "plain", ct: "text/plain; charset=utf-8", msgID: "p", body: "you idiot", wantID: "p", wantText: "you idiot"},
		{name: "plain no content type", body: "hola tonto", wantText: "hola tonto"},
		{name: "malformed json", ct: "application/json", body: `{"text": "x"`, wantErr: "malformed JSON"},
		{name: "wrong type", ct: "application/json", body: `{"text": 5}`, wantErr: "wrong schema"},
		{name: "unknown field", ct: "application/json", body: `{"txt": "x"}`, wantErr: "wrong schema"},
		{name: "trailing", ct: "application/json", body: `{"text": "x"} {}`, wantErr: "trailing"},
		{name: "empty text", ct: "application/json", body: `{"text": "  "}`, wantErr: "empty text"},
		{name: "empty plain", body: "", wantErr: "empty text"},
		{name: "oversize", body: strings.Repeat("a", 11), max: 10, wantErr: "exceeds the limit of 10 bytes"},
		{name: "bad utf8", ct: "text/plain", body: "\xff\xfe", wantErr: "UTF-8"},
		{name: "unsupported type", ct: "application/xml", body: "<a/>", wantErr: "unsupported content type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseText(tc.ct, tc.msgID, []byte(tc.body), tc.max)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err %v is not ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if got.ID != tc.wantID || got.Text != tc.wantText {
				t.Fatalf("got %+v, want id=%q text=%q", got, tc.wantID, tc.wantText)
			}
		})
	}
}

func TestParseInsultRequest(t *testing.T) {
	tests := []struct {
		body, wantOp, wantInsult, wantErr string
	}{
		{body: `{"op":"add","insult":"  big   fool "}`, wantOp: "add", wantInsult: "big fool"},
		{body: `{"op":"list"}`, wantOp: "list"},
		{body: `{"op":"broadcast_on"}`, wantOp: "broadcast_on"},
		{body: `{"op":"add"}`, wantErr: `needs a non-empty "insult"`},
		{body: `{"op":"x"}`, wantErr: `unknown op "x"`},
		{body: `{}`, wantErr: `missing "op"`},
		{body: `{"op":1}`, wantErr: "wrong schema"},
		{body: `nope`, wantErr: "malformed JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			got, err := ParseInsultRequest([]byte(tc.body), 0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.Op != tc.wantOp || got.Insult != tc.wantInsult {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
