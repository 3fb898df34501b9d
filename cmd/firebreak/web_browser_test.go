package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/workflow"
)

// The browser tests drive the playground and the board in headless Chromium
// against the real wiring (router, Redis store, outbox, web sender). The
// clock stands still at transcriptStart, so countdowns read exactly.

const draftText = "We have inspected the canteen; the results are published today."

// TestBrowserPlaygroundIncident is the whole story in the browser: open an
// incident by typing, see its card and countdown, draft the unified reply,
// approve it as the principal leader and as a second leader in the leaders
// chat, publish it from the spokesperson's direct messages, and see the
// statement appear and the board, open in another tab, follow without a
// reload.
func TestBrowserPlaygroundIncident(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	b := newBrowser(t)

	board := b.tab()
	do(t, board, "open the board", chromedp.Navigate(w.URL+"/board"))
	waitFor(t, board, "the empty board", `document.body.dataset.boardRefreshed >= 1 && document.querySelector("#board-list .empty") !== null`)
	eval[bool](t, board, `(window.fbNoReload = true)`)

	pg := b.root
	do(t, pg, "open the playground", chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1" && document.querySelector("#actor").options.length === 6`)
	if got := eval[string](t, pg, `document.getElementById("clock").textContent`); got != "time stands still (test clock)" {
		t.Errorf("clock label with a manual clock: got %q", got)
	}

	typeCommand(t, pg, "chen", "/incident open Canteen complaint level:major category:inquiry")
	reply := lastReply(t, pg)
	if !strings.Contains(reply, "Opened YQ-1. Assigned to Li Ming (Logistics Department).") {
		t.Fatalf("reply to open: got %q", reply)
	}
	waitFor(t, pg, "the incident card in the Slack pane",
		`[...document.querySelectorAll("#feed-slack .card-title")].some(e => e.textContent === "YQ-1 [major/inquiry] Canteen complaint")`)
	// The card's deadline lines and the board panel count down from the
	// same due times: the card is drawn from the live incident, not frozen
	// as the bot wrote it.
	waitFor(t, pg, "the card's countdown", `(() => { const c = document.querySelector('#feed-slack .card[data-incident="YQ-1"] dd[data-kind="assign"] .countdown'); return c && c.textContent === "30m 00s" && c.dataset.state === "ok"; })()`)
	waitFor(t, pg, "the countdown of the reply deadline in the board panel",
		`(() => { const c = `+countdown("#board-panel", "YQ-1", "respond")+`; return c && c.textContent === "3h 00m" && c.dataset.state === "ok"; })()`)
	waitFor(t, pg, "the incident card in #incidents", `document.querySelector('#feed-incidents .card[data-incident="YQ-1"]') !== null`)
	waitFor(t, pg, "the report in the leaders chat", `document.querySelector('#feed-leaders .post[data-kind="report"]') !== null`)
	waitFor(t, board, "the board to show YQ-1", `document.querySelector('#board-list [data-incident="YQ-1"]') !== null`)
	// A major incident is reported up too: its deadline counts down beside
	// the others.
	waitFor(t, pg, "the countdown of the report to higher authority", `(() => { const c = `+countdown("#board-panel", "YQ-1", "authority")+`; return c && c.textContent === "1h 00m" && c.dataset.state === "ok"; })()`)

	// The report counts as made when a leader acknowledges it (收到), not
	// when the bot posts it: the principal presses Received on the REPORT,
	// then the leader in charge, which completes the double report.
	receive := `#feed-leaders .post[data-kind="report"] button[data-action="receive:YQ-1"]`
	waitFor(t, pg, "the Received and Report up buttons on the report", `document.querySelector(`+js(receive)+`) !== null && document.querySelector('#feed-leaders button[data-action="reportup:YQ-1"]') !== null`)
	if got := eval[string](t, pg, countdown("#board-panel", "YQ-1", "report")+`.dataset.state`); got == "met" {
		t.Errorf("the report deadline before any leader acknowledged the report: got %q, want it running", got)
	}
	selectOption(t, pg, "leader", "wang")
	do(t, pg, "press Received as wang", chromedp.Click(chromedp.CSS(receive)))
	waitFor(t, pg, "the report deadline met", `(() => { const c = `+countdown("#board-panel", "YQ-1", "report")+`; return c && c.dataset.state === "met"; })()`)
	selectOption(t, pg, "leader", "zhao")
	do(t, pg, "press Received as zhao", chromedp.Click(chromedp.CSS(receive)))
	waitFor(t, pg, "zhao's acknowledgement", `[...document.querySelectorAll('#feed-leaders .answer[data-actor="zhao"]')].length > 0`)

	t.Run("a command that fails gets the error, as on Slack", func(t *testing.T) {
		typeCommand(t, pg, "chen", "/incident approve YQ-1")
		if got := eval[bool](t, pg, `[...document.querySelectorAll("#feed-slack .reply")].pop().classList.contains("failed")`); !got {
			t.Errorf("got reply %q without the failed style", lastReply(t, pg))
		}
	})

	typeCommand(t, pg, "chen", "/incident draft YQ-1 "+draftText)
	if reply := lastReply(t, pg); !strings.Contains(reply, "Draft version 1 of YQ-1 recorded") {
		t.Fatalf("reply to draft: got %q", reply)
	}
	approve := `#feed-leaders button[data-action="approve:YQ-1:1"]`
	waitFor(t, pg, "the approval request with its buttons", `document.querySelector(`+js(approve)+`) !== null && document.querySelector('#feed-leaders button[data-action="reject:YQ-1:1"]') !== null`)

	selectOption(t, pg, "leader", "wang")
	do(t, pg, "press Approve as wang", chromedp.Click(chromedp.CSS(approve)))
	waitFor(t, pg, "wang's answer", `[...document.querySelectorAll('#feed-leaders .answer[data-actor="wang"]')].some(a => a.textContent.includes("Wang Fang approved version 1 of YQ-1"))`)
	// The request is updated in place, as on Telegram: it shows the progress.
	waitFor(t, pg, "the request showing wang's approval", `[...document.querySelectorAll("#feed-leaders .card dd")].some(d => d.textContent.startsWith("1 of 2 approvals (Wang Fang)"))`)
	selectOption(t, pg, "leader", "zhao")
	do(t, pg, "press Approve as zhao", chromedp.Click(chromedp.CSS(approve)))
	waitFor(t, pg, "zhao's answer", `[...document.querySelectorAll('#feed-leaders .answer[data-actor="zhao"]')].some(a => a.textContent.includes("ready to publish"))`)

	// The spokesperson is told to publish; her direct messages are shown.
	if got := eval[string](t, pg, `document.getElementById("dm-person").value`); got != "sun" {
		t.Errorf("direct messages shown: got %q, want sun (the spokesperson)", got)
	}
	publish := `#feed-dm button[data-action="publish:YQ-1:1"]`
	waitFor(t, pg, "the publish request in sun's direct messages", `document.querySelector(`+js(publish)+`) !== null`)
	do(t, pg, "press Publish as sun", chromedp.Click(chromedp.CSS(publish)))
	waitFor(t, pg, "the statement in #statements", `[...document.querySelectorAll("#feed-statements .post")].some(p => p.textContent.includes(`+js(draftText)+`) && p.textContent.includes("YQ-1 v1"))`)

	// The board in the other tab followed, without a reload.
	waitFor(t, board, "the board to show the reply deadline met", `(() => { const c = `+countdown("#board-list", "YQ-1", "respond")+`; return c && c.dataset.state === "met"; })()`)
	waitFor(t, board, "the board to show the draft published", `document.querySelector('#board-list [data-incident="YQ-1"] .draft-line').textContent.includes("published")`)
	if !eval[bool](t, board, `window.fbNoReload === true`) {
		t.Error("the board tab was reloaded")
	}
	waitFor(t, pg, "the board panel to show the reply deadline met", `(() => { const c = `+countdown("#board-panel", "YQ-1", "respond")+`; return c && c.dataset.state === "met"; })()`)

	t.Run("the incident page shows the drafts and who approved", func(t *testing.T) {
		inc := b.tab()
		do(t, inc, "open the incident page", chromedp.Navigate(w.URL+"/incidents/YQ-1"))
		waitFor(t, inc, "the approvals", `document.querySelectorAll('#drafts .draft[data-version="1"] .approval').length === 2`)
		got := eval[string](t, inc, `document.querySelector('#drafts .draft[data-version="1"]').textContent`)
		for _, want := range []string{"Version 1", "#" + workflow.HashText(draftText), "published", "Wang Fang", "principal", "Zhao Lei", draftText} {
			if !strings.Contains(got, want) {
				t.Errorf("draft: got %q, want it to contain %q", got, want)
			}
		}
		// Who acknowledged the report, the principal marked, and the double
		// report complete; the higher authority still waits.
		waitFor(t, inc, "the receipts", `document.querySelectorAll("#reports .receipt").length === 2`)
		receipts := eval[[]string](t, inc, `[...document.querySelectorAll("#reports .receipt")].map(r => r.dataset.by + (r.dataset.principal ? "+principal" : "") + ": " + r.textContent)`)
		if len(receipts) != 2 || !strings.HasPrefix(receipts[0], "wang+principal: Wang Fangprincipal acknowledged ") || !strings.HasPrefix(receipts[1], "zhao: Zhao Lei acknowledged ") {
			t.Errorf("receipts: got %q, want Wang Fang (principal), then Zhao Lei", receipts)
		}
		if got := eval[string](t, inc, `[...document.querySelectorAll("#reports .double")].map(p => p.textContent).join("|")`); got != "Double report complete" {
			t.Errorf("double report: got %q, want %q", got, "Double report complete")
		}
		if got := eval[string](t, inc, `document.querySelector("#reports .up").textContent`); got != "Not yet reported to the higher authority." {
			t.Errorf("report up: got %q", got)
		}
		if got := eval[string](t, inc, `document.querySelector("#figures").textContent`); got != "No attention figures recorded yet — add them with /incident update YQ-1 posts:N views:N heat:N" {
			t.Errorf("figures without any: got %q", got)
		}
		if n := eval[int](t, inc, `document.querySelectorAll("#figures svg").length`); n != 0 {
			t.Errorf("got %d charts of no figures, want none", n)
		}

		kinds := eval[[]string](t, inc, `[...document.querySelectorAll("#timeline .event")].map(e => e.dataset.kind)`)
		for _, want := range []string{"opened", "report_received", "drafted", "approved", "quorum_reached", "published"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("timeline kinds %q lack %q", kinds, want)
			}
		}
	})
}

// TestBrowserIncidentFigures: follow-up reports with attention figures are
// charted on the incident page, live: one line per figure given, its latest
// value labelled, the time along the bottom in the roster's timezone.
func TestBrowserIncidentFigures(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	clock := w.a.clock.(*workflow.ManualClock)
	b := newBrowser(t)
	pg := b.root
	do(t, pg, "open the playground", chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1"`)
	typeCommand(t, pg, "chen", "/incident open Canteen complaint level:major category:inquiry")

	inc := b.tab()
	do(t, inc, "open the incident page", chromedp.Navigate(w.URL+"/incidents/YQ-1"))
	waitFor(t, inc, "the line saying how to add figures", `document.querySelector("#figures .empty code") !== null && document.querySelector("#figures .empty code").textContent === "/incident update YQ-1 posts:N views:N heat:N"`)

	update := func(text string) {
		t.Helper()
		typeCommand(t, pg, "li", "/incident update YQ-1 "+text)
		if reply := lastReply(t, pg); !strings.Contains(reply, "recorded") {
			t.Fatalf("reply to update: got %q", reply)
		}
	}
	update("posts:35 views:12000 heat:68 reposted by a local account")
	waitFor(t, inc, "the chart of one report", `document.querySelectorAll("#figures svg path.series").length === 3`)
	clock.Advance(40 * time.Minute)
	update("posts:48 views:30000 heat:74 a second account picked it up")

	waitFor(t, inc, "a line per figure through both reports", `[...document.querySelectorAll("#figures svg path.series")].map(p => p.dataset.kind + ":" + p.dataset.points).join(" ") === "posts:2 views:2 heat:2"`)
	if got := eval[string](t, inc, `[...document.querySelectorAll("#figures svg .latest")].map(e => e.textContent).sort().join(", ")`); got != "heat 74, posts 48, views 30,000" {
		t.Errorf("latest values: got %q, want heat 74, posts 48, views 30,000", got)
	}
	// Each line is scaled to its own maximum: all three end at the top.
	ends := eval[[]string](t, inc, `[...document.querySelectorAll("#figures svg path.series")].map(p => p.getAttribute("d").split(" ").pop().split(",")[1])`)
	if len(ends) != 3 || ends[0] != ends[1] || ends[1] != ends[2] {
		t.Errorf("the lines' last points: got heights %q, want all at the top (each scaled to its own max)", ends)
	}
	ticks := eval[[]string](t, inc, `[...document.querySelectorAll("#figures svg text.tick")].map(e => e.textContent)`)
	if len(ticks) != 5 || ticks[0] != "09:00" || ticks[4] != "09:40" {
		t.Errorf("time axis: got %q, want 09:00 … 09:40 (Shanghai time)", ticks)
	}
	if got := eval[string](t, inc, `[...document.querySelectorAll("#figures svg .legend")].map(g => g.textContent).join(", ")`); got != "posts (max 48), views (max 30,000), heat (max 74)" {
		t.Errorf("legend: got %q", got)
	}
	if n := eval[int](t, inc, `document.querySelectorAll("#figures .empty").length`); n != 0 {
		t.Errorf("got %d empty lines beside the chart, want none", n)
	}

	// A report with one figure adds a point to that line only.
	clock.Advance(20 * time.Minute)
	update("heat:60 calming down")
	waitFor(t, inc, "heat's third point", `[...document.querySelectorAll("#figures svg path.series")].map(p => p.dataset.kind + ":" + p.dataset.points).join(" ") === "posts:2 views:2 heat:3"`)
}

// TestBrowserXSSTitleIsText opens an incident whose title and draft are
// markup: every page shows them as text, and no script runs (the browser
// watcher fails the test on an alert).
func TestBrowserXSSTitleIsText(t *testing.T) {
	w := startWeb(t, Config{}, true, nil)
	b := newBrowser(t)
	pg := b.root
	const title = `<img src=x onerror=alert(1)>`
	const draft = `<script>alert(2)</script><b>bold</b>`

	do(t, pg, "open the playground", chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1"`)
	typeCommand(t, pg, "chen", "/incident open "+title+" level:major")
	typeCommand(t, pg, "chen", "/incident draft YQ-1 "+draft)
	waitFor(t, pg, "the card", `[...document.querySelectorAll("#feed-slack .card-title")].some(e => e.textContent === `+js("YQ-1 [major/other] "+title)+`)`)
	waitFor(t, pg, "the board panel", `document.querySelector('#board-panel [data-incident="YQ-1"] .title') !== null`)
	waitFor(t, pg, "the approval request", `[...document.querySelectorAll("#feed-leaders .card-body")].some(e => e.textContent === `+js(draft)+`)`)
	if got := eval[string](t, pg, `document.querySelector('#board-panel [data-incident="YQ-1"] .title').textContent`); got != title {
		t.Errorf("board panel title: got %q, want %q as text", got, title)
	}
	noMarkup := `document.querySelectorAll("img, b, main script, .feed script").length === 0`
	if !eval[bool](t, pg, noMarkup) {
		t.Errorf("the playground has elements made from the data: %s", pageText(pg))
	}

	for _, path := range []string{"/board", "/incidents/YQ-1"} {
		t.Run(path, func(t *testing.T) {
			tab := b.tab()
			do(t, tab, "open "+path, chromedp.Navigate(w.URL+path))
			waitFor(t, tab, "the title", `[...document.querySelectorAll(".title")].some(e => e.textContent === `+js(title)+`)`)
			if !eval[bool](t, tab, noMarkup) {
				t.Errorf("%s has elements made from the data", path)
			}
			if path == "/incidents/YQ-1" {
				waitFor(t, tab, "the draft text", `document.querySelector(".draft-text").textContent === `+js(draft))
				if got := eval[string](t, tab, `document.title`); got != "YQ-1 "+title+" · Firebreak" {
					t.Errorf("document title: got %q", got)
				}
			}
		})
	}
}

// TestBrowserProductionBoardNeedsToken: with a platform configured there is
// no playground, and the board asks for FIREBREAK_BOARD_TOKEN.
func TestBrowserProductionBoardNeedsToken(t *testing.T) {
	const token = "correct-horse-battery-staple"
	w := startWeb(t, Config{BoardToken: token}, false, nil)
	b := newBrowser(t)
	tab := b.root

	res, err := chromedp.Run(tab, chromedp.NavigateResponse(w.URL+"/board"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusUnauthorized {
		t.Errorf("GET /board without the token: got %d, want 401", res.Status)
	}
	waitFor(t, tab, "the login form", `document.querySelector("#login-form input[name=token]") !== null && document.getElementById("board-list") === null`)

	res, err = chromedp.Run(tab, chromedp.NavigateResponse(w.URL+"/api/v1/incidents"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/incidents without the token: got %d, want 401", res.Status)
	}

	do(t, tab, "back to the board", chromedp.Navigate(w.URL+"/board"))
	submit := func(what, tok string) int64 {
		t.Helper()
		do(t, tab, what, chromedp.SendKeys(chromedp.CSS("#token"), tok))
		tctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		res, err := chromedp.RunResponse(tctx, chromedp.Submit(chromedp.CSS("#login-form")))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return res.Status
	}
	if got := submit("log in with a wrong token", "guess"); got != http.StatusUnauthorized {
		t.Errorf("wrong token: got %d, want 401", got)
	}
	waitFor(t, tab, "the refusal", `(document.getElementById("login-error") || {}).textContent === "That token is not right."`)

	if got := submit("log in with the token", token); got != http.StatusOK {
		t.Errorf("right token: got %d after the redirect, want 200", got)
	}
	waitFor(t, tab, "the board", `location.pathname === "/board" && document.querySelector("#board-list .empty") !== null`)
	if got := eval[string](t, tab, `document.cookie`); got != "" {
		t.Errorf("document.cookie: got %q, want nothing readable by scripts (HttpOnly)", got)
	}
	if got := eval[string](t, tab, `document.getElementById("clock").textContent`); got == "" {
		t.Error("the board shows no clock")
	}

	do(t, tab, "open the home page", chromedp.Navigate(w.URL+"/"))
	waitFor(t, tab, "the redirect to the board", `location.pathname === "/board"`)
}
