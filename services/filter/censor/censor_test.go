package censor

import (
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	catalogue := []string{"idiot", "tonto", "perro", "hijo de puta", "big idiot", "cabrón", "tont"}
	c := New(catalogue)
	tests := []struct {
		name, in, want string
		n              int
	}{
		{"plain", "you idiot", "you CENSORED", 1},
		{"case and punctuation", "You IDIOT!", "You CENSORED!", 1},
		{"prefix of a longer word untouched", "idiotic ideas", "idiotic ideas", 0},
		{"suffix of a longer word untouched", "tontorron", "tontorron", 0},
		{"capitalised", "Perro, vete.", "CENSORED, vete.", 1},
		{"multi-word", "eres un hijo de puta!", "eres un CENSORED!", 1},
		{"multi-word across spacing and case", "HIJO  de\tPuta", "CENSORED", 1},
		{"longest wins", "what a big idiot.", "what a CENSORED.", 1},
		{"several", "idiot, idiot;idiot", "CENSORED, CENSORED;CENSORED", 3},
		{"unicode insult", "¡Eres un CABRÓN!", "¡Eres un CENSORED!", 1},
		{"unicode kept intact", "naïve 😀 idiot — 東京 tonto", "naïve 😀 CENSORED — 東京 CENSORED", 2},
		{"letters with accents are word chars", "tontoé idiotá", "tontoé idiotá", 0},
		{"digits and underscore join words", "idiot2 _idiot", "idiot2 _idiot", 0},
		{"shorter whole match after a failed longer one", "tontos tont", "tontos CENSORED", 1},
		{"empty text", "", "", 0},
		{"no insult", "hello world", "hello world", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, n := c.Apply(tc.in)
			if got != tc.want || n != tc.n {
				t.Fatalf("Apply(%q) = %q, %d; want %q, %d", tc.in, got, n, tc.want, tc.n)
			}
		})
	}
}

func TestEmptyCatalogue(t *testing.T) {
	for _, c := range []*Censor{New(nil), New([]string{"", "  "}), nil} {
		if got, n := c.Apply("you idiot"); got != "you idiot" || n != 0 {
			t.Fatalf("got %q, %d", got, n)
		}
	}
}

func TestMetacharactersAreLiteral(t *testing.T) {
	c := New([]string{"a.b", "(x)"})
	if got, n := c.Apply("axb a.b"); got != "axb CENSORED" || n != 1 {
		t.Fatalf("got %q, %d", got, n)
	}
}

func BenchmarkApply(b *testing.B) {
	c := New([]string{"idiot", "tonto", "perro", "hijo de puta", "big idiot", "fool", "moron", "imbecile", "cretin", "dimwit"})
	text := strings.Repeat("the quick brown fox calls the lazy dog an idiot and a moron, ", 4)
	b.ReportAllocs()
	for b.Loop() {
		c.Apply(text)
	}
}
