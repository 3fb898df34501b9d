package bot

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Token is one word of a command line, with its place in the line so that
// free text after it can be taken verbatim.
type Token struct {
	Value  string // unquoted
	Quoted bool
	Start  int // byte offset in the line where the token begins
	End    int // byte offset just past the token (past its closing quote)
}

// Args is a parsed command line after the command word.
type Args struct {
	// Line is the text after the command word, exactly as typed.
	Line   string
	Tokens []Token
}

// quotePairs maps opening quotes to their closing quote: ASCII and the
// Chinese quotes people type on phones.
var quotePairs = map[rune]rune{'"': '"', '\'': '\'', '“': '”', '「': '」', '‘': '’'}

// ParseArgs splits line into tokens at white space, keeping quoted phrases
// ("Canteen complaint", “食堂投诉”) together. An unclosed quote runs to the
// end of the line.
func ParseArgs(line string) Args {
	a := Args{Line: line}
	i := 0
	for i < len(line) {
		r, size := decodeRune(line[i:])
		if unicode.IsSpace(r) {
			i += size
			continue
		}
		start := i
		if closeQ, ok := quotePairs[r]; ok {
			i += size
			j := strings.IndexRune(line[i:], closeQ)
			if j < 0 {
				a.Tokens = append(a.Tokens, Token{Value: line[i:], Quoted: true, Start: start, End: len(line)})
				break
			}
			_, csize := decodeRune(line[i+j:])
			a.Tokens = append(a.Tokens, Token{Value: line[i : i+j], Quoted: true, Start: start, End: i + j + csize})
			i += j + csize
			continue
		}
		for i < len(line) {
			r, size := decodeRune(line[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += size
		}
		a.Tokens = append(a.Tokens, Token{Value: line[start:i], Start: start, End: i})
	}
	return a
}

// Len is the number of tokens.
func (a Args) Len() int { return len(a.Tokens) }

// Arg returns token i's value, or "" when there is none.
func (a Args) Arg(i int) string {
	if i < 0 || i >= len(a.Tokens) {
		return ""
	}
	return a.Tokens[i].Value
}

// Rest returns the text after the first n tokens exactly as typed (only the
// white space around it trimmed), so a draft keeps its quotes and spacing.
func (a Args) Rest(n int) string {
	if n <= 0 {
		return strings.TrimSpace(a.Line)
	}
	if n > len(a.Tokens) {
		return ""
	}
	return strings.TrimSpace(a.Line[a.Tokens[n-1].End:])
}

// Options separates "key:value" tokens whose key is one of keys (aliases
// map to the canonical key) from the other words. A key given twice keeps
// the last value. Quoted tokens are always words.
func (a Args) Options(keys map[string]string) (opts map[string]string, words []Token) {
	opts = map[string]string{}
	for _, t := range a.Tokens {
		if !t.Quoted {
			if k, v, ok := cutOption(t.Value); ok {
				if canon, known := keys[strings.ToLower(k)]; known {
					opts[canon] = v
					continue
				}
			}
		}
		words = append(words, t)
	}
	return opts, words
}

// cutOption splits "key:value" or "key：value" (full-width colon) at the
// first colon of either kind, so that the value may hold colons of its own
// ("发现：09:40", "来源：https://...").
func cutOption(s string) (key, value string, ok bool) {
	i := strings.IndexAny(s, ":：")
	if i <= 0 {
		return "", "", false
	}
	_, size := decodeRune(s[i:])
	return s[:i], s[i+size:], true
}

func decodeRune(s string) (rune, int) { return utf8.DecodeRuneInString(s) }
