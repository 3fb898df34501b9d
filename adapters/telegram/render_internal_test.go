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
