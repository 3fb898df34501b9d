package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// zhRoster is the demo roster in Chinese: the people's and departments'
// names as a Chinese organisation writes them, and locale zh-CN.
const zhRoster = `timezone: Asia/Shanghai
locale: zh-CN
people:
  - {id: chen, name: 陈静, roles: [staff], departments: [office], slack: U0CHEN, telegram: 1001}
  - {id: li, name: 李明, roles: [staff], departments: [logistics], slack: U0LI, telegram: 1002}
  - {id: zhou, name: 周敏, roles: [staff], departments: [logistics], slack: U0ZHOU, telegram: 1003}
  - {id: wang, name: 王芳, roles: [leader, principal], slack: U0WANG, telegram: 1004}
  - {id: zhao, name: 赵磊, roles: [leader], slack: U0ZHAO, telegram: 1005}
  - {id: sun, name: 孙悦, roles: [spokesperson], slack: U0SUN, telegram: 1006}
departments:
  - {id: office, name: 舆情办公室, categories: [other, hype, rumor]}
  - {id: logistics, name: 后勤处, categories: [inquiry]}
channels:
  incidents:  {slack: C0INCIDENTS, telegram: -100111}
  leaders:    {telegram: -100222}
  statements: {slack: C0STATEMENTS}
`

// visibleText is the JavaScript that lists the text a person sees: every
// visible text node (SVG chart labels included), the options of the
// pickers, the placeholders and the document's title. The language switch's
// link to English is marked lang="en" and is the one English word allowed.
const visibleText = `(() => {
  const out = [document.title];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode()); ) {
    const p = n.parentElement, s = n.textContent.trim();
    if (!s || !p || p.closest("script, style, option, [lang=en]")) continue;
    if (p.closest("svg") ? p.closest("title") : !p.checkVisibility()) continue;
    out.push(s);
  }
  for (const o of document.querySelectorAll("option")) out.push(o.textContent);
  for (const i of document.querySelectorAll("[placeholder]")) out.push(i.placeholder);
  return out;
})()`

// allowedASCII removes from a text what may stay in ASCII letters on a
// Chinese page: incident IDs, draft hashes, URLs, the /incident command,
// the product and platform names, and the roster's IDs (data, not labels).
var allowedASCII = regexp.MustCompile(`(?i)https?://\S+|#[0-9a-f]{4,}|/incident\b|\b(firebreak|slack|telegram|chen|li|zhou|wang|zhao|sun)\b|\b[A-Z]{1,4}-\d+\b`)

var asciiWord = regexp.MustCompile(`[A-Za-z]{3,}`)

// englishLeft lists the runs of three or more ASCII letters left in texts.
func englishLeft(texts []string) []string {
	var out []string
	for _, s := range texts {
		rest := allowedASCII.ReplaceAllString(s, " ")
		if w := asciiWord.FindAllString(rest, -1); len(w) > 0 {
			out = append(out, fmt.Sprintf("%q in %q", strings.Join(w, " "), s))
		}
	}
	return out
}

// TestBrowserChinese runs the playground, the board and an incident page
// with a zh-CN roster and wants no English label anywhere: every text the
// page shows is Chinese, data aside. The language switch then shows the
// same page in English, and back.
func TestBrowserChinese(t *testing.T) {
	roster := filepath.Join(t.TempDir(), "roster.yaml")
	if err := os.WriteFile(roster, []byte(zhRoster), 0o644); err != nil {
		t.Fatal(err)
	}
	w := startWeb(t, Config{Roster: roster}, true, nil)
	b := newBrowser(t)
	pg := b.root

	do(t, pg, "open the playground", chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1" && document.querySelector("#actor").options.length === 6`)
	typeCommand(t, pg, "chen", "/incident 新建 食堂投诉 级别:重大 类别:询问")
	typeCommand(t, pg, "chen", "/incident 口径 YQ-1 我们已检查食堂,今天公布结果。")
	typeCommand(t, pg, "chen", "/incident 新建 网传考试泄题 类别:谣言 发现:3h")
	waitFor(t, pg, "the approval request", `document.querySelector('#feed-leaders button[data-action="approve:YQ-1:1"]') !== null`)
	waitFor(t, pg, "the cards drawn live", `document.querySelectorAll('.card[data-incident] dd.live-deadline .countdown').length > 0`)
	waitFor(t, pg, "the board panel", `document.querySelectorAll("#board-panel .incident").length === 2 && document.querySelector("#board-panel .countdown.overdue") !== null`)
	waitFor(t, pg, "the live status", `document.getElementById("live").className === "live on"`)

	if left := englishLeft(eval[[]string](t, pg, visibleText)); len(left) > 0 {
		t.Errorf("the playground shows English:\n%s", strings.Join(left, "\n"))
	}

	board := b.tab()
	do(t, board, "open the board", chromedp.Navigate(w.URL+"/board"))
	waitFor(t, board, "the board and its charts", `document.querySelectorAll("#board-list .incident").length === 2 && document.querySelectorAll("#chart-open polygon").length === 3 && document.querySelectorAll("#chart-deadlines rect.bar").length === 10`)
	waitFor(t, board, "the countdowns", `[...document.querySelectorAll("#board-list .countdown")].every(c => c.textContent !== "")`)
	if left := englishLeft(eval[[]string](t, board, visibleText)); len(left) > 0 {
		t.Errorf("the board shows English:\n%s", strings.Join(left, "\n"))
	}

	inc := b.tab()
	do(t, inc, "open the incident page", chromedp.Navigate(w.URL+"/incidents/YQ-1"))
	waitFor(t, inc, "the timeline and the draft", `document.querySelectorAll("#timeline .event").length >= 3 && document.querySelector("#drafts .draft") !== null`)
	if left := englishLeft(eval[[]string](t, inc, visibleText)); len(left) > 0 {
		t.Errorf("the incident page shows English:\n%s", strings.Join(left, "\n"))
	}
	if got := eval[string](t, inc, `document.querySelector("#timeline .event .line").textContent`); !strings.Contains(got, "新建 YQ-1") {
		t.Errorf("first timeline entry: got %q, want the sentence of the opening", got)
	}

	t.Run("the language switch", func(t *testing.T) {
		// Follow the switch's link (a click navigates while the poll runs).
		follow := func(lang string) {
			t.Helper()
			href := eval[string](t, board, `document.querySelector('.lang a[data-lang="`+lang+`"]').href`)
			do(t, board, "switch to "+lang, chromedp.Navigate(href))
		}
		follow("en")
		waitFor(t, board, "the board in English", `document.documentElement.lang === "en" && document.querySelector("h1").textContent.startsWith("Open incidents") && [...document.querySelectorAll("#board-list .level")].some(l => l.textContent === "major")`)
		// The choice is kept: the incident page opened next speaks English.
		do(t, board, "open the incident page", chromedp.Navigate(w.URL+"/incidents/YQ-1"))
		waitFor(t, board, "the timeline in English", `document.querySelector("#timeline .event .line") !== null && document.querySelector("#timeline .event .line").textContent.includes("opened YQ-1")`)
		follow("zh-CN")
		waitFor(t, board, "the incident page in Chinese", `document.documentElement.lang === "zh-CN" && document.querySelector("#timeline .event .line") !== null && document.querySelector("#timeline .event .line").textContent.includes("新建 YQ-1")`)
	})
}
