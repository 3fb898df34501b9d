package main

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestStatsPageInBrowser: the statistics page of incidents handled through
// the real router renders its four charts in Chromium, with a bar per
// level, category, department (the demo roster routes all three to one)
// and deadline kind (five: the major process's four and the general one's
// answer), and the board links to it.
func TestStatsPageInBrowser(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	clock := w.a.clock.(*workflow.ManualClock)
	say := func(after time.Duration, as, text string) {
		t.Helper()
		clock.Advance(after)
		r := w.a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformWeb, Actor: as, Conversation: "playground", Text: text})
		if r.Failed {
			t.Fatalf("%s: %s: %s", as, text, r.Text)
		}
	}
	say(0, "chen", "open Canteen complaint level:major category:inquiry source:https://weibo.com/1 found:20m")
	say(time.Minute, "wang", "receive YQ-1")
	say(time.Minute, "chen", "open Bus stop moved category:inquiry source:https://tieba.baidu.com/p/2")
	say(time.Minute, "chen", "open Doctored photo category:rumor")

	b := newBrowser(t)
	tab := b.tab()
	do(t, tab, "open the board", chromedp.EmulateViewport(1200, 900), chromedp.Navigate(w.URL+"/board"))
	waitFor(t, tab, "the link to the statistics", `document.querySelector("#stats-link") !== null`)
	if got := eval[string](t, tab, `document.querySelector("#stats-link").getAttribute("href")`); got != "/stats" {
		t.Fatalf("the board's statistics link: got %q, want /stats", got)
	}
	do(t, tab, "open the statistics", chromedp.Navigate(w.URL+"/stats"))
	waitFor(t, tab, "the charts", `document.querySelectorAll("figure.chart svg.chart-svg").length === 4`)
	for _, c := range []struct {
		id   string
		bars int
	}{{"chart-level", 3}, {"chart-category", 4}, {"chart-department", 1}, {"chart-share", 5}} {
		if got := eval[int](t, tab, `document.querySelectorAll("#`+c.id+` rect.bar").length`); got != c.bars {
			t.Errorf("%s: got %d bars, want %d", c.id, got, c.bars)
		}
	}
	if got := eval[string](t, tab, `document.querySelector("#chart-level rect[data-key=major]").getAttribute("data-value")`); got != "1" {
		t.Errorf("major bar: got %s, want 1", got)
	}
	if got := eval[float64](t, tab, `document.querySelector("#chart-level rect[data-key=general]").getBoundingClientRect().height`); got <= 0 {
		t.Errorf("general bar: got height %v, want it drawn", got)
	}
	if got := eval[string](t, tab, `document.querySelector("#stats-sources").textContent`); got != "tieba.baidu.com 1, weibo.com 1" {
		t.Errorf("sources: got %q", got)
	}

	do(t, tab, "ask for a period that is none", chromedp.Navigate(w.URL+"/stats?period=fortnight"))
	waitFor(t, tab, "the reason", `document.body.textContent.includes("is not a period")`)
	b.check()
}
