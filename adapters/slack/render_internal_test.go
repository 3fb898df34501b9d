package slack

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/adapters/rosterfile"
	"github.com/firebreak/firebreak/bot"
)

func TestCardBlocks(t *testing.T) {
	c := &bot.Card{
		Title:  "YQ-7 [major/rumor] <b>Exam</b> & leak",
		Fields: []bot.Field{{Label: "Status", Value: "assigned"}, {Label: "Source", Value: "<script>"}},
		Body:   "Line one\n  indented *not bold*",
		Footer: "YQ-7 v1 #3f9a",
		Buttons: []bot.Button{
			{ID: "approve:YQ-7:1", Label: "Approve", Style: bot.StylePrimary},
			{ID: "reject:YQ-7:1", Label: "Reject", Style: bot.StyleDanger},
		},
	}
	blocks := cardBlocks(c)
	if len(blocks) != 5 {
		t.Fatalf("got %d blocks, want header, fields, body, footer, buttons", len(blocks))
	}
	if h := blocks[0].(*slackgo.HeaderBlock); h.Text.Type != slackgo.PlainTextType || h.Text.Text != "YQ-7 [major/rumor] &lt;b&gt;Exam&lt;/b&gt; &amp; leak" {
		t.Errorf("header %+v, want the title as plain text, &, < and > escaped", h.Text)
	}
	fields := blocks[1].(*slackgo.SectionBlock).Fields
	if fields[1].Type != slackgo.PlainTextType || fields[1].Text != "Source\n&lt;script&gt;" {
		t.Errorf("field %+v, want label and value as plain text, escaped", fields[1])
	}
	if b := blocks[2].(*slackgo.SectionBlock).Text; b.Type != slackgo.PlainTextType || b.Text != c.Body {
		t.Errorf("body %+v, want the exact text as plain text", b)
	}
	btns := blocks[4].(*slackgo.ActionBlock).Elements.ElementSet
	b0, b1 := btns[0].(*slackgo.ButtonBlockElement), btns[1].(*slackgo.ButtonBlockElement)
	if b0.ActionID != "approve:YQ-7:1" || b0.Value != "approve:YQ-7:1" || b0.Style != slackgo.StylePrimary ||
		b1.Style != slackgo.StyleDanger {
		t.Errorf("buttons %+v %+v, want action_id = value = the action's wire form, with styles", b0, b1)
	}
}

func TestLimits(t *testing.T) {
	long := strings.Repeat("续报内容。\n", 1000) // 6000 characters
	parts := split(long, maxSectionText)
	if len(parts) != 2 || strings.TrimRight(strings.Join(parts, "\n"), "\n") != strings.TrimRight(long, "\n") {
		t.Errorf("split into %d parts, want 2 that join back into the text", len(parts))
	}
	for _, p := range parts {
		if n := utf8.RuneCountInString(p); n > maxSectionText {
			t.Errorf("part of %d characters, over %d", n, maxSectionText)
		}
	}
	var fields []bot.Field
	for range 25 {
		fields = append(fields, bot.Field{Label: "L", Value: strings.Repeat("v", 5000)})
	}
	blocks := cardBlocks(&bot.Card{Title: strings.Repeat("t", 300), Fields: fields})
	if n := utf8.RuneCountInString(blocks[0].(*slackgo.HeaderBlock).Text.Text); n != maxHeaderText {
		t.Errorf("header of %d characters, want %d", n, maxHeaderText)
	}
	if len(blocks) != 4 {
		t.Errorf("got %d blocks for 25 fields, want a header and 3 sections of at most 10", len(blocks))
	}
	for _, f := range blocks[1].(*slackgo.SectionBlock).Fields {
		if n := utf8.RuneCountInString(f.Text); n > maxFieldText {
			t.Errorf("field of %d characters, over %d", n, maxFieldText)
		}
	}
	huge := messageBlocks(strings.Repeat(strings.Repeat("x", 2999)+"\n", 80), nil, contextLine("who"))
	if len(huge) != maxBlocks {
		t.Errorf("got %d blocks, want them capped at %d", len(huge), maxBlocks)
	}
	if last := huge[len(huge)-1].(*slackgo.ContextBlock); last.ContextElements.Elements[0].(*slackgo.TextBlockObject).Text != "who" {
		t.Error("the extra line was cut; it must stay last")
	}
}

func TestCommandText(t *testing.T) {
	roster, err := rosterfile.Parse([]byte(`
people:
  - {id: li, name: Li Ming, roles: [staff], slack: U0LI}
  - {id: wang, roles: [principal], slack: U0WANG}
  - {id: zhao, roles: [leader]}
`), "roster.yaml", Platform)
	if err != nil {
		t.Fatal(err)
	}
	a := &Adapter{roster: roster}
	for _, tt := range []struct{ name, in, want string }{
		{"the bot's mention is dropped", "<@U0BOT> status YQ-7", "status YQ-7"},
		{"with a colon after it", "<@U0BOT>: list", "list"},
		{"a roster person becomes their ID", "<@U0BOT> assign YQ-7 <@U0LI>", "assign YQ-7 li"},
		{"someone else keeps their name", "<@U0BOT> assign YQ-7 <@U0X|bob>", "assign YQ-7 @bob"},
		{"a link is its URL", "open Post source:<https://weibo.com/1?a=1&amp;b=2|weibo.com/1>", "open Post source:https://weibo.com/1?a=1&b=2"},
		{"a bare link", "open x source:<https://example.org/p>", "open x source:https://example.org/p"},
		{"a channel", "update YQ-7 see <#C0ABC|incidents>", "update YQ-7 see #incidents"},
		{"escapes", "draft YQ-7 A &amp; B &lt;3 &gt; C", "draft YQ-7 A & B <3 > C"},
		{"plain text", "resolve YQ-7 done", "resolve YQ-7 done"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := a.commandText(stripLeadingMention(tt.in)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLimitsCountEscapedText: Slack's limits are on the text as sent, and
// every text is sent escaped (& is &amp;): a draft full of &, < and > is
// cut where its escaped form reaches the limit, never in an entity, and
// joins back into the draft.
func TestLimitsCountEscapedText(t *testing.T) {
	draft := strings.Repeat("Parents & staff <committee> checked it > twice.\n", 100)[:3900]
	unescape := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
	tests := []struct {
		name string
		card *bot.Card
	}{
		{"a long body", &bot.Card{Title: "Approve", Body: draft}},
		{"a body of & alone, no line ends", &bot.Card{Title: "Approve", Body: strings.Repeat("&", 1000)}},
		{"a title of < alone", &bot.Card{Title: strings.Repeat("<", 100)}},
		{"a field and a footer of >", &bot.Card{Title: "T", Fields: []bot.Field{{Label: "Note", Value: strings.Repeat(">", 600)}},
			Footer: strings.Repeat(">", 800), Buttons: []bot.Button{{ID: "a:1", Label: strings.Repeat("&", 30)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []string
			for i, bl := range messageBlocks("", tt.card) {
				var texts []*slackgo.TextBlockObject
				limit := maxSectionText
				switch x := bl.(type) {
				case *slackgo.HeaderBlock:
					texts, limit = append(texts, x.Text), maxHeaderText
				case *slackgo.SectionBlock:
					if x.Text != nil {
						texts = append(texts, x.Text)
						body = append(body, unescape.Replace(x.Text.Text))
					}
					for _, f := range x.Fields {
						if n := utf8.RuneCountInString(f.Text); n > maxFieldText {
							t.Errorf("block %d: a field of %d characters as sent, over %d", i, n, maxFieldText)
						}
						texts = append(texts, f)
					}
				case *slackgo.ContextBlock:
					for _, el := range x.ContextElements.Elements {
						texts = append(texts, el.(*slackgo.TextBlockObject))
					}
				case *slackgo.ActionBlock:
					for _, el := range x.Elements.ElementSet {
						texts, limit = append(texts, el.(*slackgo.ButtonBlockElement).Text), maxButtonText
					}
				}
				for _, tx := range texts {
					if n := utf8.RuneCountInString(tx.Text); n > limit {
						t.Errorf("block %d (%s): %d characters as sent, over %d", i, bl.BlockType(), n, limit)
					}
					if bare := entities.ReplaceAllString(tx.Text, ""); strings.ContainsAny(bare, "&<>") {
						t.Errorf("block %d (%s): a bare &, < or >, or an entity cut: …%q", i, bl.BlockType(), tx.Text[max(0, len(tx.Text)-12):])
					}
				}
			}
			if tt.card.Body == draft && strings.Join(body, "\n") != draft {
				t.Errorf("the sections do not join back into the draft")
			}
		})
	}
}

var entities = regexp.MustCompile(`&(amp|lt|gt);`)
