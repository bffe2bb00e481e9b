// Package censor replaces catalogued insults in a text by a mask.
//
// Matching is case-insensitive, whole words only, and multi-word insults match across any run of whitespace.
// Everything else in the text — punctuation, spacing, other scripts — is kept byte for byte, so "You IDIOT!"
// becomes "You CENSORED!" while "idiotic" stays as it is.
//
// The text is scanned once, word by word: each word is folded to lower case and looked up in a map of the
// insults' first words. A single alternation regexp over the catalogue did the same job at twice the cost of
// the rest of the filter, because it tried every insult at every position of the text.
package censor

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces every insult found.
const Mask = "CENSORED"

// Censor is an immutable matcher built from one catalogue snapshot; it is safe for concurrent use.
type Censor struct {
	// byFirst maps an insult's first word (lower case) to the insults starting with it, longest first so that
	// "big idiot" wins over "big".
	byFirst map[string][]pattern
}

// pattern is one insult as the scanner sees it: words (runs of word characters, lower case) and, between each
// pair, what must separate them in the text: any whitespace (sep "") or literally the insult's own punctuation.
type pattern struct {
	words, seps []string
}

// New builds a Censor for the given insults. Blank entries are ignored; an empty catalogue censors nothing.
func New(insults []string) *Censor {
	c := &Censor{byFirst: map[string][]pattern{}}
	seen := map[string]bool{}
	for _, in := range insults {
		p, ok := compile(in)
		if !ok {
			continue
		}
		key := strings.Join(p.words, "\x00") + "\x01" + strings.Join(p.seps, "\x00")
		if seen[key] {
			continue
		}
		seen[key] = true
		c.byFirst[p.words[0]] = append(c.byFirst[p.words[0]], p)
	}
	for _, list := range c.byFirst {
		sort.SliceStable(list, func(i, j int) bool { return len(list[i].words) > len(list[j].words) })
	}
	return c
}

// compile splits an insult into words and separators; punctuation at its edges is dropped, since a whole-word
// match could never include it.
func compile(insult string) (pattern, bool) {
	var p pattern
	text := strings.TrimSpace(insult)
	pos, prevEnd := 0, -1
	for {
		w, ok := nextWord(text, pos)
		if !ok {
			break
		}
		if prevEnd >= 0 {
			sep := text[prevEnd:w.start]
			if strings.TrimSpace(sep) == "" {
				sep = ""
			}
			p.seps = append(p.seps, sep)
		}
		p.words = append(p.words, string(lower(nil, text[w.start:w.end])))
		prevEnd, pos = w.end, w.end
	}
	return p, len(p.words) > 0
}

// span is one word of the text: its bytes are text[start:end].
type span struct{ start, end int }

// Apply returns text with every whole-word insult replaced by Mask, and the number of replacements.
func (c *Censor) Apply(text string) (string, int) {
	if c == nil || len(c.byFirst) == 0 {
		return text, 0
	}
	var b strings.Builder
	var buf []byte
	n, last := 0, 0
	for pos := 0; pos < len(text); {
		w, ok := nextWord(text, pos)
		if !ok {
			break
		}
		pos = w.end
		buf = lower(buf[:0], text[w.start:w.end])
		cands := c.byFirst[string(buf)]
		if len(cands) == 0 {
			continue
		}
		end := match(text, w, cands, &buf)
		if end < 0 {
			continue
		}
		if n == 0 {
			b.Grow(len(text))
		}
		b.WriteString(text[last:w.start])
		b.WriteString(Mask)
		n++
		last, pos = end, end
	}
	if n == 0 {
		return text, 0
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// match returns where the longest candidate whose first word is first ends in text, or -1.
func match(text string, first span, cands []pattern, buf *[]byte) int {
next:
	for _, p := range cands {
		end := first.end
		for i, want := range p.words[1:] {
			w, ok := nextWord(text, end)
			if !ok || !separates(text[end:w.start], p.seps[i]) {
				continue next
			}
			*buf = lower((*buf)[:0], text[w.start:w.end])
			if string(*buf) != want {
				continue next
			}
			end = w.end
		}
		return end
	}
	return -1
}

// separates reports whether gap, the text between two words, is what sep asks for: any non-empty whitespace
// for "", else exactly sep.
func separates(gap, sep string) bool {
	if sep != "" {
		return gap == sep
	}
	return gap != "" && strings.TrimSpace(gap) == ""
}

// nextWord finds the next word — a maximal run of word characters — at or after pos.
func nextWord(text string, pos int) (span, bool) {
	for pos < len(text) {
		r, size := utf8.DecodeRuneInString(text[pos:])
		if isWord(r) {
			break
		}
		pos += size
	}
	if pos >= len(text) {
		return span{}, false
	}
	start := pos
	for pos < len(text) {
		r, size := utf8.DecodeRuneInString(text[pos:])
		if !isWord(r) {
			break
		}
		pos += size
	}
	return span{start, pos}, true
}

func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// lower appends the lower-case form of s to dst, cheaply for ASCII.
func lower(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += size
	}
	return dst
}
