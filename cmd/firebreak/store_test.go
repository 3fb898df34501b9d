package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// newServeApp is newApp as serve calls it (refusing an empty store) on the
// test Redis under prefix.
func newServeApp(tb testing.TB, cfg Config, prefix string) (*app, error) {
	tb.Helper()
	cfg.RedisURL = redistest.URL(tb)
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	log := slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), cfg, log, wiring{refuseEmpty: true, prefix: prefix,
		clock: workflow.NewManualClock(transcriptStart.Add(37*time.Minute + 13*time.Second))})
	if err == nil {
		tb.Cleanup(a.Close)
	}
	return a, err
}

func mustInitStore(tb testing.TB, prefix string, next int64) string {
	tb.Helper()
	var out bytes.Buffer
	s := fbredis.New(redistest.Client(tb), fbredis.Options{Prefix: prefix})
	if err := initStore(context.Background(), s, next, time.Now(), "test redis", &out); err != nil {
		tb.Fatalf("store init: %v", err)
	}
	return out.String()
}

func TestServeRefusesEmptyStoreUntilStoreInit(t *testing.T) {
	prefix := redistest.Prefix(t)
	_, err := newServeApp(t, Config{}, prefix)
	if err == nil {
		t.Fatal("newApp on an empty store: got no error, want a refusal")
	}
	for _, want := range []string{prefix + ":instance", "new installation", "lost Firebreak's data", "FLUSHALL",
		"firebreak store init", "--next-id N", "already posted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if keys := redistest.Client(t).Keys(context.Background(), prefix+":*").Val(); len(keys) != 0 {
		t.Errorf("a refused start wrote %v, want nothing", keys)
	}
	out := mustInitStore(t, prefix, 1)
	if !strings.Contains(out, "the next incident is YQ-1\n") {
		t.Errorf("store init said %q, want it to name YQ-1", out)
	}
	if _, err := newServeApp(t, Config{}, prefix); err != nil {
		t.Fatalf("newApp after store init: %v", err)
	}
}

func TestStoreInit(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 41, 27, 318e6, time.UTC)
	tests := []struct {
		name    string
		counter string // the incident counter before, "" for none
		lost    string // what a running Firebreak left when it found the data lost, "" for nothing
		next    int64
		want    string
	}{
		{"by the clock", "", "", 0, "the next incident is YQ-3639461\n"},
		{"from the operator's number", "", "", 1043, "the next incident is YQ-1043\n"},
		{"never below the counter", "2000", "", 1043, "the incident counter was already past YQ-1042: the next incident is YQ-2001\n"},
		// A busy first hour: more IDs than minutes since the last init,
		// then the wipe; the clock alone would hand them out again.
		{"never below what a running Firebreak handed out", "", "3639475", 0,
			"a running Firebreak had handed out YQ-3639475 when it found the data lost"},
		{"the clock when above it", "", "12", 0, "the next incident is YQ-3639461\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			c := redistest.Client(t)
			if tt.counter != "" {
				c.Set(context.Background(), prefix+":seq", tt.counter, 0)
			}
			if tt.lost != "" {
				c.Set(context.Background(), prefix+":lostseq", tt.lost, 0)
			}
			var out bytes.Buffer
			s := fbredis.New(c, fbredis.Options{Prefix: prefix})
			if err := initStore(context.Background(), s, tt.next, now, "test redis", &out); err != nil {
				t.Fatalf("store init: %v", err)
			}
			if !strings.Contains(out.String(), tt.want) || !strings.Contains(out.String(), "restart every Firebreak") {
				t.Errorf("got %q, want it to contain %q and to ask for a restart", out.String(), tt.want)
			}
			// A second init changes nothing.
			err := initStore(context.Background(), s, 5, now, "test redis", io.Discard)
			if err == nil || !strings.Contains(err.Error(), "initialised already") || !strings.Contains(err.Error(), "nothing was changed") {
				t.Errorf("second store init: got %v, want a refusal saying nothing was changed", err)
			}
		})
	}
}

func TestClockNextIDGrowsByTheMinute(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 41, 27, 0, time.UTC)
	if got := clockNextID(at); got != 3639461 {
		t.Errorf("clockNextID(%s): got %d, want 3639461", at, got)
	}
	if a, b := clockNextID(at), clockNextID(at.Add(time.Minute)); b != a+1 {
		t.Errorf("a minute later: got %d after %d, want one more", b, a)
	}
	if got := clockNextID(time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)); got != 1 {
		t.Errorf("a clock before 2020: got %d, want 1", got)
	}
}

func TestStoreCommandLine(t *testing.T) {
	t.Setenv("FIREBREAK_REDIS_URL", "")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"store"}, "usage: firebreak store init [--next-id N]"},
		{"unknown subcommand", []string{"store", "wipe"}, "usage: firebreak store init"},
		{"next-id below 1", []string{"store", "init", "--next-id", "0"}, "--next-id must be at least 1"},
		{"the embedded Redis needs none", []string{"store", "init"}, "FIREBREAK_REDIS_URL is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := mustRun(t, "", tt.args...)
			if code != 1 || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("got exit %d and %q, want 1 and %q", code, out+errOut, tt.want)
			}
		})
	}
	code, out, _ := mustRun(t, "", "help")
	if code != 0 || !strings.Contains(out, "firebreak store init [--next-id N]") {
		t.Errorf("help: got exit %d and %q, want 0 and the store init line", code, out)
	}
}

// TestWipedStoreUnderRunningServe: the keys vanish under a running app. The
// readiness probe says why; an open is refused in the person's language
// and no ID is handed out; after store init the old process stays not ready
// (it holds the old store's state) and a new one opens a fresh ID.
func TestWipedStoreUnderRunningServe(t *testing.T) {
	for _, locale := range []string{workflow.LocaleEN, workflow.LocaleZH} {
		t.Run(locale, func(t *testing.T) {
			prefix := redistest.Prefix(t)
			c := redistest.Client(t)
			mustInitStore(t, prefix, 1)
			a, err := newServeApp(t, Config{Locale: locale}, prefix)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			readyz := notReadyWhenLost(a.watch, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ready\n")
			}))
			probe := func() (int, string) {
				rec := httptest.NewRecorder()
				readyz.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				return rec.Code, rec.Body.String()
			}
			open := func() *bot.Reply {
				return a.router.Handle(ctx, &bot.Request{Platform: bot.PlatformWeb, Actor: "chen", Conversation: "web",
					Text: `/incident open "Photos of a flooded underpass" level:general category:other`})
			}
			if r := open(); r.Failed || !strings.Contains(r.Text+cardTitle(r), "YQ-1") {
				t.Fatalf("open before the wipe: got %+v, want YQ-1 opened", r)
			}
			a.watch.check(ctx, time.Second)
			if code, body := probe(); code != http.StatusOK {
				t.Fatalf("readyz before the wipe: got %d %q, want 200", code, body)
			}

			redistest.Wipe(t, c, prefix)
			r := open()
			wantText := map[string]string{workflow.LocaleEN: "lost its data", workflow.LocaleZH: "丢失了数据"}[locale]
			if !r.Failed || !strings.Contains(r.Text, wantText) || !strings.Contains(r.Text, "firebreak store init") {
				t.Errorf("open after the wipe: got %+v, want a refusal containing %q and `firebreak store init`", r, wantText)
			}
			if n := c.Exists(ctx, prefix+":seq").Val(); n != 0 {
				t.Errorf("the refused open wrote the incident counter; want nothing written")
			}
			a.watch.check(ctx, time.Second)
			code, body := probe()
			if code != http.StatusServiceUnavailable || !strings.Contains(body, prefix+":instance") ||
				!strings.Contains(body, "is gone") || !strings.Contains(body, "YQ-1") || !strings.Contains(body, "firebreak store init") {
				t.Errorf("readyz after the wipe: got %d %q, want 503 naming the lost marker, the last ID and store init", code, body)
			}

			if _, err := newServeApp(t, Config{Locale: locale}, prefix); err == nil || !strings.Contains(err.Error(), "firebreak store init") {
				t.Fatalf("a restart on the wiped store: got %v, want the refusal", err)
			}
			out := mustInitStore(t, prefix, 0)
			a.watch.check(ctx, time.Second)
			if code, body := probe(); code != http.StatusServiceUnavailable || !strings.Contains(body, "changed") {
				t.Errorf("readyz of the old process after store init: got %d %q, want 503 saying the marker changed", code, body)
			}
			b, err := newServeApp(t, Config{Locale: locale}, prefix)
			if err != nil {
				t.Fatalf("a restart after store init: %v", err)
			}
			r = b.router.Handle(ctx, &bot.Request{Platform: bot.PlatformWeb, Actor: "chen", Conversation: "web",
				Text: `/incident open "Claims the underpass was closed for a week" level:general category:other`})
			want := incidentIDPattern.FindString(out)
			if r.Failed || want == "" || want == "YQ-1" || !strings.Contains(r.Text+cardTitle(r), want) {
				t.Errorf("open after store init (%q): got %+v, want %s", out, r, want)
			}
		})
	}
}

var incidentIDPattern = regexp.MustCompile(`YQ-\d+`)

// cardTitle is the title of a reply's card ("" without one).
func cardTitle(r *bot.Reply) string {
	if r.Card == nil {
		return ""
	}
	return r.Card.Incident + " " + r.Card.Title
}
