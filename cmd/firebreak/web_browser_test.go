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
	waitFor(t, pg, "the report deadline met", `(() => { const c = `+countdown("#board-panel", "YQ-1", "report")+`; return c && c.dataset.state === "met"; })()`)
	waitFor(t, pg, "the incident card in #incidents", `document.querySelector('#feed-incidents .card[data-incident="YQ-1"]') !== null`)
	waitFor(t, pg, "the report in the leaders chat", `document.querySelector('#feed-leaders .post[data-kind="report"]') !== null`)
	waitFor(t, board, "the board to show YQ-1", `document.querySelector('#board-list [data-incident="YQ-1"]') !== null`)

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
		kinds := eval[[]string](t, inc, `[...document.querySelectorAll("#timeline .event")].map(e => e.dataset.kind)`)
		for _, want := range []string{"opened", "drafted", "approved", "quorum_reached", "published"} {
			if !slices.Contains(kinds, want) {
				t.Errorf("timeline kinds %q lack %q", kinds, want)
			}
		}
	})
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
