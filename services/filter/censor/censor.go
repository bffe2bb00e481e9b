// Package censor replaces catalogued insults in a text by a mask.
//
// Matching is case-insensitive (Unicode simple folding), whole words only, and multi-word insults match
// across any run of whitespace. Everything else in the text — punctuation, spacing, other scripts — is kept
// byte for byte, so "You IDIOT!" becomes "You CENSORED!" while "idiotic" stays as it is.
package censor

import (
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces every insult found.
const Mask = "CENSORED"

// Censor is an immutable matcher built from one catalogue snapshot; it is safe for concurrent use.
type Censor struct {
	re *regexp.Regexp
}

// New builds a Censor for the given insults. Blank entries are ignored; an empty catalogue censors nothing.
func New(insults []string) *Censor {
	seen := map[string]bool{}
	var parts []string
	for _, in := range insults {
		words := strings.Fields(in)
		if len(words) == 0 {
			continue
		}
		key := strings.ToLower(strings.Join(words, " "))
		if seen[key] {
			continue
		}
		seen[key] = true
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		parts = append(parts, strings.Join(words, `\s+`))
	}
	if len(parts) == 0 {
		return &Censor{}
	}
	// Longest first, so "big idiot" wins over "idiot" where both could start at the same place.
	sort.Slice(parts, func(i, j int) bool {
		if len(parts[i]) != len(parts[j]) {
			return len(parts[i]) > len(parts[j])
		}
		return parts[i] < parts[j]
	})
	return &Censor{re: regexp.MustCompile(`(?i)(?:` + strings.Join(parts, "|") + `)`)}
}

// Apply returns text with every whole-word insult replaced by Mask, and the number of replacements.
func (c *Censor) Apply(text string) (string, int) {
	if c == nil || c.re == nil {
		return text, 0
	}
	var b strings.Builder
	n, last, pos := 0, 0, 0
	for pos <= len(text) {
		loc := c.re.FindStringIndex(text[pos:])
		if loc == nil {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if isBoundary(text, start, end) {
			if n == 0 {
				b.Grow(len(text))
			}
			b.WriteString(text[last:start])
			b.WriteString(Mask)
			n++
			last, pos = end, end
			continue
		}
		// Not a whole word here: look again one rune further on, since a shorter or later match may be whole.
		_, size := utf8.DecodeRuneInString(text[start:])
		pos = start + max(size, 1)
	}
	if n == 0 {
		return text, 0
	}
	b.WriteString(text[last:])
	return b.String(), n
}

// isBoundary reports whether text[start:end] is neither preceded nor followed by a word character.
func isBoundary(text string, start, end int) bool {
	if start > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:start])
		if isWord(r) {
			return false
		}
	}
	if end < len(text) {
		r, _ := utf8.DecodeRuneInString(text[end:])
		if isWord(r) {
			return false
		}
	}
	return true
}

func isWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}
