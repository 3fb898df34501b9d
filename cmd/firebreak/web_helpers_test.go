package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// webApp is the app served as `firebreak serve` serves it: health, the web
// adapter on the real router and store, a delivery dispatcher for the web
// sender, and the timer loop.
type webApp struct {
	URL string
	a   *app
	// sender is the web adapter's outbox sender, for posting a message as
	// the dispatcher would.
	sender bot.Sender
}

// startWeb wires an app on the test Redis with clock (a manual clock at
// transcriptStart when nil) and serves it; playground says which mode.
func startWeb(tb testing.TB, cfg Config, playground bool, clock workflow.Clock) *webApp {
	tb.Helper()
	if cfg.RedisURL == "" {
		cfg.RedisURL = redistest.URL(tb)
	}
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	if clock == nil {
		clock = workflow.NewManualClock(transcriptStart)
	}
	log := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, log, wiring{clock: clock, prefix: redistest.Prefix(tb)})
	if err != nil {
		tb.Fatalf("newApp: %v", err)
	}
	tb.Cleanup(a.Close)
	if scale := clockScale(clock); scale > 0 {
		a.sched.Scale = scale
	}

	mux := http.NewServeMux()
	web.Health(mux, a.store, a.metrics.Handler(), log)
	ctx, cancel := context.WithCancel(context.Background())
	sender, err := setupWeb(ctx, a, cfg, mux, playground)
	if err != nil {
		cancel()
		tb.Fatalf("setupWeb: %v", err)
	}
	if sender == nil {
		cancel()
		tb.Fatal("setupWeb returned no sender")
	}
	d := &bot.Dispatcher{Store: a.store, Sender: sender, Render: a.h, Consumer: "web-test", Log: log, Metrics: a.metrics, Poll: 50 * time.Millisecond}
	wake, unsubscribe := a.store.WakeUps(ctx)
	a.sched.Wake = wake
	var workers sync.WaitGroup
	workers.Go(func() { _ = d.Run(ctx) })
	workers.Go(func() { _ = a.sched.Run(ctx) })
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		cancel() // ends the event streams, the dispatcher and the timers
		srv.Close()
		workers.Wait()
		unsubscribe()
	})
	return &webApp{URL: srv.URL, a: a, sender: sender}
}

// chromium finds the browser. Outside CI a machine without one skips the
// browser tests; in CI (.ci/run sets CI=true and installs it) its absence
// fails them.
func chromium(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("CI is set and no Chromium is installed: the browser tests must run in CI " +
			"(apt-get install -y chromium; .ci/run does it)")
	}
	tb.Skip("no Chromium installed (apt-get install -y chromium); the browser tests run in CI")
	return ""
}

// browser is a headless Chromium for one test. Every tab it opens is
// watched: an uncaught exception, a console error other than a failed
// network request (a Content-Security-Policy violation, say), or a dialog
// (alert) fails the test at its end.
type browser struct {
	tb       testing.TB
	root     context.Context
	mu       sync.Mutex
	problems []string
}

func newBrowser(tb testing.TB) *browser {
	tb.Helper()
	path := chromium(tb)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1600, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{tb: tb, root: ctx}
	tb.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		tb.Fatalf("start Chromium (%s): %v", path, err)
	}
	b.watch(ctx)
	tb.Cleanup(b.check)
	return b
}

// tab opens another tab of the browser.
func (b *browser) tab() context.Context {
	b.tb.Helper()
	ctx, cancel := chromedp.NewContext(b.root)
	b.tb.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.tb.Fatalf("open a tab: %v", err)
	}
	b.watch(ctx)
	return ctx
}

func (b *browser) watch(ctx context.Context) {
	messages := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleType("error") && m.Source != "network") {
				b.problem(fmt.Sprintf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line))
			}
		}
	}()
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.problem(fmt.Sprintf("a %s dialog opened: %q", ev.Type, ev.Message))
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
}

func (b *browser) problem(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, s)
}

func (b *browser) check() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.tb.Errorf("page: %s", p)
	}
}

// do runs steps in a tab within 30 seconds.
func do(tb testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		tb.Fatalf("%s: %v\n%s", what, err, pageText(ctx))
	}
}

// eval evaluates a JavaScript expression in a tab.
func eval[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor waits until a JavaScript expression is truthy (20 seconds at
// most). It polls on an interval, which also runs in a tab in the
// background (animation frames do not).
func waitFor(tb testing.TB, ctx context.Context, what, expr string) {
	tb.Helper()
	tctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	_, err := chromedp.Run(tctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		tb.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, pageText(ctx))
	}
}

// pageText is the visible text of a tab, for failure messages.
func pageText(ctx context.Context) string {
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(page text unavailable: " + err.Error() + ")"
	}
	if len(s) > 6000 {
		s = s[:6000] + "…"
	}
	return s
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// typeCommand types a command into the playground's Slack pane as the
// person picked there, presses Enter, and waits for the bot's answer.
func typeCommand(tb testing.TB, ctx context.Context, as, text string) {
	tb.Helper()
	n := eval[int](tb, ctx, `document.querySelectorAll("#feed-slack .msg.bot").length`)
	do(tb, ctx, "type "+text,
		chromedp.SetValue(chromedp.CSS("#actor"), as),
		chromedp.Click(chromedp.CSS("#command")),
		chromedp.SendKeys(chromedp.CSS("#command"), text+"\r"),
	)
	waitFor(tb, ctx, "the reply to "+text, fmt.Sprintf(`document.querySelectorAll("#feed-slack .msg.bot").length > %d`, n))
}

// lastReply is the text of the bot's last reply in the Slack pane.
func lastReply(tb testing.TB, ctx context.Context) string {
	tb.Helper()
	return eval[string](tb, ctx, `(() => { const m = [...document.querySelectorAll("#feed-slack .msg.bot")].pop(); return m ? m.textContent : ""; })()`)
}

// selectOption picks value in a <select> and tells the page it changed.
func selectOption(tb testing.TB, ctx context.Context, id, value string) {
	tb.Helper()
	eval[bool](tb, ctx, fmt.Sprintf(`(() => { const s = document.getElementById(%s); s.value = %s; s.dispatchEvent(new Event("change")); return s.value === %[2]s; })()`, js(id), js(value)))
}

// countdown is the JavaScript expression of the countdown element of a
// deadline of an incident, under scope.
func countdown(scope, id, kind string) string {
	return fmt.Sprintf(`document.querySelector(%s)`, js(fmt.Sprintf(`%s [data-incident="%s"] [data-kind="%s"] .countdown`, scope, id, kind)))
}
