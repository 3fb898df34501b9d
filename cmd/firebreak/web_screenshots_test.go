package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestScreenshots writes docs/playground.png, docs/board.png and
// docs/incident.png, the pictures of docs/web.md and the README. It runs only when asked:
//
//	FIREBREAK_SCREENSHOTS=1 go test ./cmd/firebreak -run TestScreenshots
//
// The app runs on the demo clock (60×), as `go run ./cmd/firebreak` does,
// with a few incidents: two handled earlier (for the charts; the first with
// its reports and attention figures for the incident page), a critical one
// past its deadline, a major one with a draft the principal leader has
// approved, and a fresh general one.
func TestScreenshots(t *testing.T) {
	if os.Getenv("FIREBREAK_SCREENSHOTS") == "" {
		t.Skip("set FIREBREAK_SCREENSHOTS=1 to write docs/playground.png and docs/board.png")
	}
	docs := filepath.Join("..", "..", "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	// The demo clock, which the test also moves on: the figures below are
	// a few demo minutes apart without waiting for them.
	clock := workflow.NewOffsetClock(workflow.NewScaledClock(60))
	w := startWeb(t, Config{TimeScale: 60}, true, clock)
	say := func(as, text string) {
		t.Helper()
		r := w.a.router.Handle(context.Background(), &bot.Request{Platform: bot.PlatformWeb, Actor: as, Conversation: "playground", Text: text})
		if r.Failed {
			t.Fatalf("%s: %s: %s", as, text, r.Text)
		}
	}
	// Earlier incidents, handled (late and on time), for the charts; the
	// first, major, acknowledged by both leaders, reported up, and followed
	// with attention figures a few minutes apart, for the incident page's
	// chart.
	say("li", "open Bus route 42 complaint level:major category:inquiry found:20m")
	say("wang", "receive YQ-1")
	say("zhao", "receive YQ-1")
	say("li", "ack YQ-1")
	say("li", "update YQ-1 posts:24 views:3000 heat:35 Reposted in the parents' group")
	clock.Advance(4 * time.Minute)
	say("li", "report-up YQ-1 Phoned the county office")
	say("li", "update YQ-1 posts:30 views:9500 heat:58 A local account picked it up")
	clock.Advance(4 * time.Minute)
	say("li", "draft YQ-1 The bus company will restore route 42 on Monday.")
	say("wang", "approve YQ-1")
	say("zhao", "approve YQ-1")
	say("sun", "publish YQ-1")
	say("li", "update YQ-1 posts:33 views:11200 heat:41 Calmer since the statement")
	say("li", "resolve YQ-1 Route restored; residents informed")
	say("chen", "open Rumor of an exam paper leak category:rumor found:3h")
	say("chen", "ack YQ-2")
	say("chen", "resolve YQ-2 The papers were sealed; statement by the exam office")

	b := newBrowser(t)
	pg := b.root
	do(t, pg, "open the playground", chromedp.EmulateViewport(1600, 1000), chromedp.Navigate(w.URL+"/"))
	waitFor(t, pg, "the playground to connect", `document.body.dataset.ready === "1"`)
	typeCommand(t, pg, "chen", "/incident open Video of a fight at the school gate level:critical category:hype found:20m")
	typeCommand(t, pg, "li", "/incident open Parking fee question category:inquiry")
	typeCommand(t, pg, "chen", "/incident open Canteen food complaint level:major category:inquiry found:5m")
	typeCommand(t, pg, "chen", "/incident draft YQ-5 The canteen was inspected this morning; the results are published at 16:00.")
	approve := `#feed-leaders button[data-action="approve:YQ-5:1"]`
	waitFor(t, pg, "the approval request", `document.querySelector(`+js(approve)+`) !== null`)
	selectOption(t, pg, "leader", "wang")
	do(t, pg, "press Approve as wang", chromedp.Click(chromedp.CSS(approve)))
	waitFor(t, pg, "wang's answer", `document.querySelector('#feed-leaders .answer[data-actor="wang"]') !== null`)
	selectOption(t, pg, "leader", "zhao")
	eval[bool](t, pg, `(() => { for (const f of document.querySelectorAll(".feed")) f.scrollTop = f.scrollHeight; return true; })()`)
	waitFor(t, pg, "the canteen's assign deadline to turn amber", `(() => { const c = `+countdown("#board-panel", "YQ-5", "assign")+`; return c && c.dataset.state === "warn"; })()`)
	waitFor(t, pg, "the critical incident overdue", `(() => { const c = `+countdown("#board-panel", "YQ-3", "assign")+`; return c && c.dataset.state === "overdue"; })()`)
	shot(t, pg, filepath.Join(docs, "playground.png"))

	board := b.tab()
	do(t, board, "open the board", chromedp.EmulateViewport(1600, 760), chromedp.Navigate(w.URL+"/board"))
	waitFor(t, board, "the board and its charts", `document.querySelectorAll("#board-list .incident").length === 3 && document.querySelectorAll("#chart-open polygon").length === 3 && document.querySelectorAll("#chart-deadlines rect.bar").length === 10`)
	waitFor(t, board, "every countdown drawn", `[...document.querySelectorAll("#board-list .countdown")].every(c => c.dataset.state && c.textContent !== "")`)
	shot(t, board, filepath.Join(docs, "board.png"))

	inc := b.tab()
	do(t, inc, "open the incident page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(w.URL+"/incidents/YQ-1"))
	waitFor(t, inc, "the timeline", `document.querySelectorAll("#timeline .event").length > 5 && document.querySelector("#drafts .approval") !== null`)
	shot(t, inc, filepath.Join(docs, "incident.png"))
}

// shot saves a screenshot of the tab's viewport.
func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KiB)", strings.TrimPrefix(path, "../../"), len(png)/1024)
}
