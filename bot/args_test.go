package bot_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/bot"
)

// values returns the tokens' values, quoted ones marked with «».
func values(ts []bot.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Value
		if t.Quoted {
			out[i] = "«" + t.Value + "»"
		}
	}
	return out
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []string
	}{
		{"words", "YQ-7 li", []string{"YQ-7", "li"}},
		{"extra white space", "  YQ-7 \t li\n", []string{"YQ-7", "li"}},
		{"full-width space separates", "YQ-7　li", []string{"YQ-7", "li"}},
		{"empty", "", []string{}},
		{"blank", " \t ", []string{}},
		{"ASCII quotes", `"Canteen complaint" level:major`, []string{"«Canteen complaint»", "level:major"}},
		{"single quotes", `'Canteen complaint' x`, []string{"«Canteen complaint»", "x"}},
		{"Chinese double quotes", "“食堂 投诉” 级别：重大", []string{"«食堂 投诉»", "级别：重大"}},
		{"Chinese corner brackets", "「食堂投诉」 x", []string{"«食堂投诉»", "x"}},
		{"Chinese single quotes", "‘食堂’x", []string{"«食堂»", "x"}},
		{"empty quotes", `"" x`, []string{"«»", "x"}},
		{"quotes inside a word stay", `say"hi" there`, []string{`say"hi"`, "there"}},
		{"a closing Chinese quote does not open", "”食堂 x", []string{"”食堂", "x"}},
		{"unclosed ASCII quote runs to the end", `YQ-7 "never closed here`, []string{"YQ-7", "«never closed here»"}},
		{"unclosed Chinese quote runs to the end", "YQ-7 “没有 结束", []string{"YQ-7", "«没有 结束»"}},
		{"mismatched quotes do not close", "“食堂\" x", []string{"«食堂\" x»"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bot.ParseArgs(tt.line)
			if got := values(a.Tokens); !slices.Equal(got, tt.want) {
				t.Errorf("ParseArgs(%q): got %q, want %q", tt.line, got, tt.want)
			}
			if a.Line != tt.line {
				t.Errorf("Line: got %q, want %q", a.Line, tt.line)
			}
			if a.Len() != len(tt.want) {
				t.Errorf("Len: got %d, want %d", a.Len(), len(tt.want))
			}
		})
	}
}

func TestParseArgsOffsets(t *testing.T) {
	line := `YQ-7 “食堂 投诉” "x`
	a := bot.ParseArgs(line)
	if a.Len() != 3 {
		t.Fatalf("tokens: got %q, want 3", values(a.Tokens))
	}
	for i, want := range []string{"YQ-7", "“食堂 投诉”", `"x`} {
		tok := a.Tokens[i]
		if got := line[tok.Start:tok.End]; got != want {
			t.Errorf("token %d: got line[%d:%d] = %q, want %q", i, tok.Start, tok.End, got, want)
		}
	}
}

func TestArgsArg(t *testing.T) {
	a := bot.ParseArgs(`YQ-7 "two words"`)
	tests := []struct {
		name string
		i    int
		want string
	}{
		{"first", 0, "YQ-7"},
		{"quoted", 1, "two words"},
		{"past the end", 2, ""},
		{"negative", -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.Arg(tt.i); got != tt.want {
				t.Errorf("Arg(%d): got %q, want %q", tt.i, got, tt.want)
			}
		})
	}
}

func TestArgsRest(t *testing.T) {
	const draft = "YQ-7   “我们已关注”，  将于今日 \"答复\"\n\n  Logistics  "
	tests := []struct {
		name string
		line string
		n    int
		want string
	}{
		{"the whole line, trimmed", draft, 0, strings.TrimSpace(draft)},
		{"after the id, verbatim inside", draft, 1, "“我们已关注”，  将于今日 \"答复\"\n\n  Logistics"},
		{"after a quoted token", "“YQ-7”  keep  this ", 1, "keep  this"},
		{"after two tokens", "YQ-7 ok  fine note", 2, "fine note"},
		{"after every token", "YQ-7 ok", 2, ""},
		{"past the end", "YQ-7", 3, ""},
		{"negative is the whole line", " a b ", -1, "a b"},
		{"after an unclosed quote", `YQ-7 "open end`, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bot.ParseArgs(tt.line).Rest(tt.n); got != tt.want {
				t.Errorf("Rest(%d) of %q: got %q, want %q", tt.n, tt.line, got, tt.want)
			}
		})
	}
}

func TestArgsOptions(t *testing.T) {
	keys := map[string]string{
		"level": "level", "级别": "level", "category": "category", "类别": "category",
		"source": "source", "来源": "source", "found": "found", "发现": "found",
	}
	tests := []struct {
		name      string
		line      string
		wantOpts  map[string]string
		wantWords []string
	}{
		{"English keys", `"Canteen complaint" level:major category:inquiry`,
			map[string]string{"level": "major", "category": "inquiry"}, []string{"«Canteen complaint»"}},
		{"Chinese aliases with full-width colons", "食堂投诉 级别：重大 类别：询问",
			map[string]string{"level": "重大", "category": "询问"}, []string{"食堂投诉"}},
		{"value with colons", "x source:https://weibo.com/1 found:09:40",
			map[string]string{"source": "https://weibo.com/1", "found": "09:40"}, []string{"x"}},
		{"full-width colon, value with ASCII colons", "x 发现：09:40 来源：https://weibo.com/1",
			map[string]string{"found": "09:40", "source": "https://weibo.com/1"}, []string{"x"}},
		{"ASCII colon, value with a full-width colon", "x found:今天：上午",
			map[string]string{"found": "今天：上午"}, []string{"x"}},
		{"keys are case-insensitive", "x LEVEL:major", map[string]string{"level": "major"}, []string{"x"}},
		{"unknown key is a word", "note:hello x", map[string]string{}, []string{"note:hello", "x"}},
		{"quoted option is a word", `"level:major" x`, map[string]string{}, []string{"«level:major»", "x"}},
		{"empty key is a word", ":major", map[string]string{}, []string{":major"}},
		{"empty value is kept", "x level:", map[string]string{"level": ""}, []string{"x"}},
		{"last value wins", "x level:general 级别：critical", map[string]string{"level": "critical"}, []string{"x"}},
		{"order of words is kept", "a level:major b c", map[string]string{"level": "major"}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, words := bot.ParseArgs(tt.line).Options(keys)
			if !maps.Equal(opts, tt.wantOpts) {
				t.Errorf("options of %q: got %q, want %q", tt.line, opts, tt.wantOpts)
			}
			if got := values(words); !slices.Equal(got, tt.wantWords) && !(len(got) == 0 && len(tt.wantWords) == 0) {
				t.Errorf("words of %q: got %q, want %q", tt.line, got, tt.wantWords)
			}
		})
	}
}
