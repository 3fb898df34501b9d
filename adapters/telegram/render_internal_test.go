package telegram

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/bot"
)

func TestRenderHTMLEscapesEveryText(t *testing.T) {
	card := &bot.Card{
		Title:  "Approve *v1* of <YQ-7>",
		Fields: []bot.Field{{Label: "Written_by", Value: "Chen & <Jing>"}},
		Body:   "We checked the *canteen*_today_ <b>now</b> & \"more\"",
		Footer: "YQ-7 v1 #ab&cd",
	}
	got := renderHTML("Chen asks <you>", card)
	want := "Chen asks &lt;you&gt;\n\n" +
		"<b>Approve *v1* of &lt;YQ-7&gt;</b>\n" +
		"<b>Written_by:</b> Chen &amp; &lt;Jing&gt;\n" +
		"<blockquote>We checked the *canteen*_today_ &lt;b&gt;now&lt;/b&gt; &amp; &#34;more&#34;</blockquote>\n" +
		"<i>YQ-7 v1 #ab&amp;cd</i>"
	if got != want {
		t.Errorf("renderHTML:\ngot  %q\nwant %q", got, want)
	}
}

var (
	tags     = regexp.MustCompile(`<[^>]+>`)
	quotedRe = regexp.MustCompile(`(?s)<blockquote>(.*?)</blockquote>`)
)

// visible is the text Telegram shows for an HTML message.
func visible(s string) string { return html.UnescapeString(tags.ReplaceAllString(s, "")) }

func TestRenderPartsFitTelegramsLimit(t *testing.T) {
	// Emoji count twice in UTF-16, as Telegram counts.
	line := strings.Repeat("😀<", 40)
	var lines []string
	for range 100 {
		lines = append(lines, line)
	}
	body := strings.Join(lines, "\n")
	card := &bot.Card{Title: "Approve", Body: body, Buttons: []bot.Button{{ID: "approve:YQ-1:1", Label: "Approve"}}}
	parts := renderParts("Please approve.", card)
	if len(parts) < 3 {
		t.Fatalf("parts: got %d, want 3 or more for %d UTF-16 units", len(parts), utf16Len(body))
	}
	var quoted []string
	for i, p := range parts {
		if n := utf16Len(visible(p)); n > 4096 {
			t.Errorf("part %d: %d UTF-16 units, want at most 4096", i, n)
		}
		if strings.Count(p, "<blockquote>") != strings.Count(p, "</blockquote>") {
			t.Errorf("part %d: unbalanced blockquote", i)
		}
		for _, m := range quotedRe.FindAllStringSubmatch(p, -1) {
			quoted = append(quoted, html.UnescapeString(m[1]))
		}
	}
	if got := strings.Join(quoted, "\n"); got != body {
		t.Errorf("the body across the parts differs from the draft (%d vs %d bytes)", len(got), len(body))
	}
	if !strings.HasPrefix(parts[0], "Please approve.\n\n<b>Approve</b>") {
		t.Errorf("first part: got %q…, want the text and the title first", parts[0][:40])
	}
}

func TestRenderPartsCutsALineWithoutBreaks(t *testing.T) {
	body := strings.Repeat("字", 9000)
	parts := renderParts("", &bot.Card{Title: "T", Body: body})
	var got strings.Builder
	for _, p := range parts {
		if n := utf16Len(visible(p)); n > 4096 {
			t.Errorf("part of %d UTF-16 units, want at most 4096", n)
		}
		for _, m := range quotedRe.FindAllStringSubmatch(p, -1) {
			got.WriteString(html.UnescapeString(m[1]))
		}
	}
	if got.String() != body {
		t.Errorf("body not kept whole across %d parts", len(parts))
	}
}

func TestKeyboard(t *testing.T) {
	long := "approve:" + strings.Repeat("x", 60)
	kb := keyboard([]bot.Button{{ID: "approve:YQ-1:1", Label: "Approve"}, {ID: "reject:YQ-1:1", Label: "Reject"},
		{ID: long, Label: "Too long"}, {ID: "publish:YQ-1:1", Label: "Publish"}})
	var got []string
	for _, row := range kb.InlineKeyboard {
		var r []string
		for _, b := range row {
			r = append(r, b.Text+"="+*b.CallbackData)
		}
		got = append(got, strings.Join(r, " "))
	}
	want := []string{"Approve=approve:YQ-1:1 Reject=reject:YQ-1:1", "Publish=publish:YQ-1:1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("keyboard: got %v, want %v", got, want)
	}
	if keyboard(nil) != nil {
		t.Error("keyboard of no buttons: got one, want nil")
	}
}

func TestVisibleLenCountsAsTelegram(t *testing.T) {
	tests := []struct {
		name string
		html string
		want int
	}{
		{"tags are left out", "<b>Approvals:</b> 1 of 2", 17},
		{"a character reference is one character", "&lt;b&gt; &amp; &#34;x&#34;", 9},
		{"emoji are two UTF-16 units", "<i>😀</i>字", 3},
		{"line breaks count", "a\n\nb", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := visibleLen(tt.html); got != tt.want {
				t.Errorf("visibleLen(%q): got %d, want %d", tt.html, got, tt.want)
			}
		})
	}
}

// approvalCard is an approval request of body, as the handlers word it.
func approvalCard(body string) *bot.Card {
	return &bot.Card{Incident: "YQ-2", Title: "Approve the unified reply for YQ-2, version 1", Body: body,
		Fields:  []bot.Field{{Label: "Incident", Value: "YQ-2 [major/rumor] Canteen"}, {Label: "Approvals", Value: "0 of 2 approvals"}},
		Buttons: []bot.Button{{ID: "approve:YQ-2:1", Label: "Approve"}, {ID: "reject:YQ-2:1", Label: "Reject"}}}
}

func TestCardPartsKeepTheStateApartFromALongBody(t *testing.T) {
	body := strings.Repeat("Parents & staff <committee> > checked.\n", 100)[:3900]
	tests := []struct {
		name      string
		body      string
		editable  bool
		wantSplit bool
	}{
		{"a short card that will be edited", "We checked.", true, false},
		{"a long card that will be edited", body, true, true},
		{"a long card no one edits", body, false, false},
		{"a card that fits, with no room for edits", body[:3300], true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parts, split := cardParts("Chen Jing asks you to approve.", approvalCard(tt.body), tt.editable)
			if split != tt.wantSplit {
				t.Fatalf("split: got %v, want %v", split, tt.wantSplit)
			}
			for i, p := range parts {
				if n := visibleLen(p); n > maxVisible {
					t.Errorf("part %d: %d characters, want at most %d", i, n, maxVisible)
				}
			}
			if !split {
				return
			}
			var quoted strings.Builder
			for i, p := range parts[:len(parts)-1] {
				if strings.Contains(p, "Approvals") {
					t.Errorf("part %d holds state; only the last may: %.120q", i, p)
				}
				for _, m := range quotedRe.FindAllStringSubmatch(p, -1) {
					quoted.WriteString(html.UnescapeString(m[1]) + "\n")
				}
			}
			if got := strings.TrimRight(quoted.String(), "\n"); got != strings.TrimRight(tt.body, "\n") {
				t.Errorf("the parts before the last do not hold the body whole (%d of %d bytes)", len(got), len(tt.body))
			}
			last := parts[len(parts)-1]
			if strings.Contains(last, "<blockquote>") || !strings.Contains(last, "0 of 2 approvals") {
				t.Errorf("last part: got %q, want the state and no body", last)
			}
		})
	}
}

func TestShowCardKeepsTheFullBody(t *testing.T) {
	a := &Adapter{locale: "en"}
	full := strings.Repeat("Parents & staff <committee> checked. ", 60) // 2,220 characters
	short := full[:1500] + "…\n(720 more characters: the full text is in the first request)"
	lines := []string{strings.Repeat("✔ 10:42 <b>Zhao Lei</b> · Approve: approved. ", 30)}
	tests := []struct {
		name     string
		rec      sentMessage
		body     string
		wantBody string // "" for none
	}{
		{"a whole card brought shortened keeps its body", sentMessage{body: full}, short, full},
		{"a whole card brought in full", sentMessage{body: full}, full, full},
		{"the last part of a split card shows no body", sentMessage{split: true}, short, ""},
		{"a card sent by an earlier release takes the body brought", sentMessage{}, short, short},
		{"a body that changed is shown as brought", sentMessage{body: "Another text"}, short, short},
		{"lines that would not fit are left out", sentMessage{body: full, lines: lines}, short, full},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := approvalCard(tt.body)
			card.Excerpt = tt.body == short // as handlers marks a quote it shortened
			got := a.showCard(tt.rec, "Zhao Lei approved.", card)
			out := got.render()
			if n := visibleLen(out); n > maxVisible {
				t.Errorf("edit of %d characters, want at most %d", n, maxVisible)
			}
			quoted := quotedRe.FindStringSubmatch(out)
			switch {
			case tt.wantBody == "" && quoted != nil:
				t.Errorf("body: got %.80q…, want none", quoted[1])
			case tt.wantBody != "" && (quoted == nil || html.UnescapeString(quoted[1]) != tt.wantBody):
				t.Errorf("body: got %v, want %.80q…", quoted, tt.wantBody)
			}
			if !tt.rec.split && got.body != tt.wantBody {
				t.Errorf("remembered body: got %.80q, want %.80q", got.body, tt.wantBody)
			}
		})
	}
}

func TestShowCardTooLongPointsToTheIncidentPage(t *testing.T) {
	for _, tt := range []struct{ locale, want string }{
		{"en", "the full text is on the incident page /incidents/YQ-2"},
		{"zh-CN", "全文见事件页面 /incidents/YQ-2"},
	} {
		a := &Adapter{locale: tt.locale}
		full := strings.Repeat("字", 3900)
		// A message remembered before its layout was: the whole card, which
		// with the reply does not fit.
		got := a.showCard(sentMessage{body: full}, strings.Repeat("reply ", 100), approvalCard(full)).render()
		if n := visibleLen(got); n > maxVisible {
			t.Errorf("%s: edit of %d characters, want at most %d", tt.locale, n, maxVisible)
		}
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: got …%q, want it to say %q", tt.locale, got[len(got)-200:], tt.want)
		}
	}
}
