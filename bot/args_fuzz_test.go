package bot_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// fuzzQuotes are the opening quotes ParseArgs knows, with their closing one.
var fuzzQuotes = map[rune]rune{'"': '"', '\'': '\'', '“': '”', '「': '」', '‘': '’'}

// fuzzLines are command lines as people type them, in both languages, with
// the quotes, colons and spaces of phone keyboards.
var fuzzLines = []string{
	"",
	"help",
	"/incident help draft",
	"/incident@firebreak_bot status YQ-7",
	"/舆情 状态 YQ-7",
	`open "Canteen complaint" level:major category:inquiry source:https://weibo.com/123 found:09:40`,
	"open 食堂投诉 级别：重大 类别:询问 发现：09:40",
	"open “食堂 投诉” 来源：https://weibo.com/1?a=b:c",
	"open 「食堂投诉」 found:2026-03-02T09:40+08:00",
	"open ‘食堂’x found:-45m",
	"approve YQ-7 v2 fine, publish now",
	"reject YQ-7 v2 \"do not\" name\tthe   supplier\n",
	"draft YQ-7  We have inspected the canteen.  \"Quoted\" stays as typed. ",
	"assign YQ-7 <@U0LI>",
	`"unclosed quote runs to the end`,
	"'' \"\" “” x",
	"level:　major",
	"open x level: found:",
	"YQ-7\u3000li",
	"\xff\xfe bad utf-8 \xe2\x80",
	"ECHO Hello",
	"/echo@other_bot x",
	"ec",
}

// FuzzCommandLine checks the command parser on any line: ParseArgs' tokens
// lie in the line in order, separated by white space only, each one exactly
// its text (or its quoted text); Rest and Options agree with the tokens; the
// router finds the command the line names and hands it the arguments
// ParseArgs gives for the rest; and ParseAction of the same text either
// fails with nothing or returns an action that round-trips.
func FuzzCommandLine(f *testing.F) {
	for _, s := range fuzzLines {
		f.Add(s)
	}
	roster, err := workflow.NewRoster(workflow.Roster{
		People: []workflow.Person{{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}},
			// The leaders NewRoster wants for the default policy's quorum.
			{ID: "wang", Roles: []workflow.Role{workflow.RolePrincipal}}, {ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}}},
	})
	if err != nil {
		f.Fatal(err)
	}
	var got *bot.Args
	r := bot.NewRouter(roster, workflow.LocaleEN, nil)
	r.Command(bot.Command{Name: "echo", Aliases: []string{"回声"}, Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		got = &a
		return &bot.Reply{Text: a.Line}, nil
	}})
	ctx := context.Background()

	f.Fuzz(func(t *testing.T, line string) {
		a := bot.ParseArgs(line)
		checkTokens(t, line, a)
		checkRest(t, line, a)
		checkOptions(t, a)

		got = nil
		reply := r.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: line})
		if reply == nil {
			t.Fatalf("Handle(%q): no reply", line)
		}
		if strings.Contains(reply.Text, "internal error") {
			t.Fatalf("Handle(%q): %q, want no internal error for any typed line", line, reply.Text)
		}
		if got != nil {
			if reply.Failed {
				t.Fatalf("Handle(%q): the command ran and the reply failed: %q", line, reply.Text)
			}
			if !strings.Contains(line, got.Line) {
				t.Fatalf("Handle(%q): the command got the line %q, which is not in what was typed", line, got.Line)
			}
			if want := bot.ParseArgs(got.Line); !reflect.DeepEqual(*got, want) {
				t.Fatalf("Handle(%q): the command got %+v, want ParseArgs(%q) = %+v", line, *got, got.Line, want)
			}
		} else if !reply.Failed && !strings.Contains(reply.Text, "/incident") {
			// Only help runs besides echo, and it always lists commands.
			t.Fatalf("Handle(%q): neither echo nor help ran, yet the reply did not fail: %q", line, reply.Text)
		}

		checkAction(t, line)
	})
}

func checkTokens(t *testing.T, line string, a bot.Args) {
	t.Helper()
	if a.Line != line {
		t.Fatalf("ParseArgs(%q).Line = %q, want the line", line, a.Line)
	}
	if a.Len() != len(a.Tokens) {
		t.Fatalf("ParseArgs(%q): Len() = %d, want %d", line, a.Len(), len(a.Tokens))
	}
	prev := 0
	for i, tok := range a.Tokens {
		if tok.Start < prev || tok.Start >= tok.End || tok.End > len(line) {
			t.Fatalf("ParseArgs(%q): token %d spans [%d,%d) after %d, want ordered spans inside the line", line, i, tok.Start, tok.End, prev)
		}
		if gap := line[prev:tok.Start]; strings.TrimFunc(gap, unicode.IsSpace) != "" {
			t.Fatalf("ParseArgs(%q): %q before token %d, want only white space between tokens", line, gap, i)
		}
		if a.Arg(i) != tok.Value {
			t.Fatalf("ParseArgs(%q): Arg(%d) = %q, want %q", line, i, a.Arg(i), tok.Value)
		}
		text := line[tok.Start:tok.End]
		open, size := utf8.DecodeRuneInString(text)
		closeQ, isQuote := fuzzQuotes[open]
		switch {
		case tok.Quoted && !isQuote:
			t.Fatalf("ParseArgs(%q): quoted token %d is %q, which does not start with a quote", line, i, text)
		case tok.Quoted:
			inner := text[size:]
			if strings.ContainsRune(tok.Value, closeQ) {
				t.Fatalf("ParseArgs(%q): quoted token %d holds its closing quote: %q", line, i, tok.Value)
			}
			closed := tok.Value + string(closeQ)
			if inner != closed && !(inner == tok.Value && tok.End == len(line)) {
				t.Fatalf("ParseArgs(%q): quoted token %d is %q from %q, want its text between the quotes", line, i, tok.Value, text)
			}
		default:
			if isQuote {
				t.Fatalf("ParseArgs(%q): token %d %q starts with a quote but is not quoted", line, i, text)
			}
			if tok.Value != text || strings.IndexFunc(text, unicode.IsSpace) >= 0 {
				t.Fatalf("ParseArgs(%q): token %d is %q from %q, want the word itself, without white space", line, i, tok.Value, text)
			}
		}
		prev = tok.End
	}
	if tail := line[prev:]; strings.TrimFunc(tail, unicode.IsSpace) != "" {
		t.Fatalf("ParseArgs(%q): %q after the last token, want only white space", line, tail)
	}
	if a.Arg(-1) != "" || a.Arg(a.Len()) != "" {
		t.Fatalf("ParseArgs(%q): Arg out of range is not empty", line)
	}
}

// checkRest: the rest after n tokens is the line from the end of token n
// (trimmed), and parses into the same tokens as those after n: a draft or a
// reason keeps what was typed.
func checkRest(t *testing.T, line string, a bot.Args) {
	t.Helper()
	if got, want := a.Rest(0), strings.TrimSpace(line); got != want {
		t.Fatalf("ParseArgs(%q).Rest(0) = %q, want %q", line, got, want)
	}
	// Re-parsing every rest is quadratic: the first tokens are enough.
	for n := 1; n <= min(a.Len(), 32); n++ {
		rest := a.Rest(n)
		if want := strings.TrimSpace(line[a.Tokens[n-1].End:]); rest != want {
			t.Fatalf("ParseArgs(%q).Rest(%d) = %q, want %q", line, n, rest, want)
		}
		again := bot.ParseArgs(rest).Tokens
		if len(again) != a.Len()-n {
			t.Fatalf("ParseArgs(%q).Rest(%d) = %q parses into %d tokens, want %d", line, n, rest, len(again), a.Len()-n)
		}
		for i, tok := range again {
			want := a.Tokens[n+i]
			if want.Quoted && unclosed(line, want) {
				// An unclosed quote runs to the end of the line, whose
				// trailing white space Rest trims.
				want.Value = strings.TrimRightFunc(want.Value, unicode.IsSpace)
			}
			if tok.Value != want.Value || tok.Quoted != want.Quoted {
				t.Fatalf("ParseArgs(%q).Rest(%d) = %q: token %d is %+v, want %+v", line, n, rest, i, tok, want)
			}
		}
	}
	if a.Rest(a.Len()) != "" && a.Len() > 0 {
		t.Fatalf("ParseArgs(%q).Rest(%d) = %q, want nothing after the last token", line, a.Len(), a.Rest(a.Len()))
	}
	if a.Rest(a.Len()+1) != "" {
		t.Fatalf("ParseArgs(%q).Rest past the end is not empty", line)
	}
}

// unclosed reports whether a quoted token has no closing quote.
func unclosed(line string, tok bot.Token) bool {
	text := line[tok.Start:tok.End]
	_, size := utf8.DecodeRuneInString(text)
	return text[size:] == tok.Value
}

// fuzzOptionKeys are the keys of `open`, with their Chinese aliases.
var fuzzOptionKeys = map[string]string{"level": "level", "级别": "level", "found": "found", "发现": "found"}

// checkOptions: every token is either a word (in order) or the option of a
// known key, and each option keeps the value of its last token.
func checkOptions(t *testing.T, a bot.Args) {
	t.Helper()
	opts, words := a.Options(fuzzOptionKeys)
	want := map[string]string{}
	w := 0
	for _, tok := range a.Tokens {
		if w < len(words) && words[w] == tok {
			w++
			continue
		}
		if tok.Quoted {
			t.Fatalf("Options(%q): quoted token %q taken as an option", a.Line, tok.Value)
		}
		i := strings.IndexAny(tok.Value, ":：")
		if i <= 0 {
			t.Fatalf("Options(%q): token %q without key:value taken as an option", a.Line, tok.Value)
		}
		canon, ok := fuzzOptionKeys[strings.ToLower(tok.Value[:i])]
		if !ok {
			t.Fatalf("Options(%q): token %q with an unknown key taken as an option", a.Line, tok.Value)
		}
		_, size := utf8.DecodeRuneInString(tok.Value[i:])
		want[canon] = tok.Value[i+size:]
	}
	if w != len(words) {
		t.Fatalf("Options(%q): words %+v are not the line's tokens in order", a.Line, words)
	}
	if !reflect.DeepEqual(opts, want) {
		t.Fatalf("Options(%q) = %v, want %v", a.Line, opts, want)
	}
}

// checkAction: ParseAction gives an error or an action, never both, and an
// action's wire form parses back into the same action.
func checkAction(t *testing.T, s string) {
	t.Helper()
	act, err := bot.ParseAction(s)
	if err != nil {
		if act.Name != "" || act.Args != nil {
			t.Fatalf("ParseAction(%q) = %+v and %v, want no action with the error", s, act, err)
		}
		return
	}
	id := act.ID()
	if id != strings.TrimSpace(s) || len(id) > bot.MaxActionID || act.Name == "" {
		t.Fatalf("ParseAction(%q) = %+v with wire form %q, want the trimmed input of at most %d bytes", s, act, id, bot.MaxActionID)
	}
	again, err := bot.ParseAction(id)
	if err != nil || !reflect.DeepEqual(again, act) {
		t.Fatalf("ParseAction(%q) = %+v, %v; want %+v again", id, again, err, act)
	}
}
