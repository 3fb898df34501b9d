package web

import (
	"context"
	"html/template"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// reportIncident is canteen with what a report shows besides: follow-up
// reports with figures and a rejected first draft.
func reportIncident() (*workflow.Incident, []workflow.Event) {
	inc := canteen()
	at := func(d time.Duration) time.Time { return now.Add(d) }
	n := func(v int64) *int64 { return &v }
	inc.Figures = []workflow.Figures{
		{At: at(-15 * time.Minute), Posts: n(20), Views: n(1500), Heat: n(30)},
		{At: at(-10 * time.Minute), Posts: n(35), Views: n(4000)},
		{At: at(-5 * time.Minute), Posts: n(60), Views: n(12000), Heat: n(68)},
	}
	inc.Updates, inc.LastUpdateAt = 3, at(-5*time.Minute)
	rejected := workflow.Draft{Version: 1, Text: "No comment.", Hash: workflow.HashText("No comment."), Author: "chen",
		At: at(-12 * time.Minute), Rejection: &workflow.Approval{By: "zhao", At: at(-11 * time.Minute), Note: "say what we <b>found</b>"}}
	inc.Drafts[0].Version = 2
	inc.Drafts = append([]workflow.Draft{rejected}, inc.Drafts...)
	events := []workflow.Event{
		{ID: "YQ-7#1.1", Incident: "YQ-7", Version: 1, Kind: workflow.EventOpened, At: inc.OpenedAt, Actor: "chen", Text: inc.Title,
			Data: workflow.EventData{Level: workflow.LevelMajor}},
		{ID: "YQ-7#2.1", Incident: "YQ-7", Version: 2, Kind: workflow.EventUpdated, At: at(-15 * time.Minute), Actor: "chen",
			Text: "reposted", Data: workflow.EventData{Number: 1, Figures: &inc.Figures[0]}},
		{ID: "YQ-7#3.1", Incident: "YQ-7", Version: 3, Kind: workflow.EventRejected, At: at(-11 * time.Minute), Actor: "zhao",
			Text: "say what we <b>found</b>", Data: workflow.EventData{Version: 1}},
		{ID: "YQ-7#4.1", Incident: "YQ-7", Version: 4, Kind: workflow.EventApproved, At: at(-2 * time.Minute), Actor: "wang",
			Data: workflow.EventData{Version: 2}},
	}
	return inc, events
}

// testReports builds reports with the handlers of each locale, as
// cmd/firebreak wires them.
func testReports(roster *workflow.Roster, clock workflow.Clock) Reports {
	svc := workflow.NewService(nil, roster, clock) // a report reads no store
	byLocale := map[string]*handlers.Handlers{
		workflow.LocaleEN: handlers.New(svc, workflow.LocaleEN), workflow.LocaleZH: handlers.New(svc, workflow.LocaleZH),
	}
	return func(inc *workflow.Incident, events []workflow.Event, locale string, asOf time.Time) *bot.Report {
		return byLocale[locale].BuildReport(inc, events, asOf)
	}
}

func newReportFixture(tb testing.TB, playground bool, token string) *fixture {
	tb.Helper()
	inc, events := reportIncident()
	f := &fixture{
		incidents: &fakeIncidents{
			incidents: map[string]*workflow.Incident{inc.ID: inc},
			timelines: map[string][]workflow.Event{inc.ID: events},
		},
		router: &fakeRouter{},
		clock:  workflow.NewManualClock(now),
	}
	roster := testRoster(tb)
	f.srv = New(Config{Router: f.router, Incidents: f.incidents, Roster: roster, Clock: f.clock, Scale: 60,
		Playground: playground, Token: token, Reports: testReports(roster, f.clock)})
	f.mux = http.NewServeMux()
	f.srv.Register(f.mux)
	tb.Cleanup(f.srv.Close)
	return f
}

// wantReport is the report the routes should serve, built directly.
func (f *fixture) wantReport(tb testing.TB, locale string) *bot.Report {
	tb.Helper()
	inc, events, err := f.incidents.History(context.Background(), "YQ-7")
	if err != nil {
		tb.Fatal(err)
	}
	return f.srv.cfg.Reports(inc, events, locale, f.clock.Now())
}

// TestReportMarkdownRoute: /incidents/{id}/report.md is the report's
// Markdown, as text/markdown, for each spelling of the ID.
func TestReportMarkdownRoute(t *testing.T) {
	f := newReportFixture(t, true, "")
	want := f.wantReport(t, workflow.LocaleEN).Markdown()
	for _, path := range []string{"/incidents/YQ-7/report.md", "/incidents/yq-7/report.md", "/incidents/7/report.md"} {
		rec := f.get(path)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: got %d, want 200: %s", path, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/markdown; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q, want text/markdown; charset=utf-8", path, ct)
		}
		if got := rec.Body.String(); got != want {
			t.Errorf("GET %s: got\n%s\nwant the report's Markdown\n%s", path, got, want)
		}
	}
	body := f.get("/incidents/YQ-7/report.md").Body.String()
	for _, s := range []string{
		"# Handling report YQ-7", `**Canteen \<img src=x onerror=alert(1)\>**`, "> **INTERIM REPORT: YQ-7 is still open (assigned)",
		`- **Rejected**: 2026-03-02 09:49 by Zhao Lei: say what we \<b\>found\</b\>`, "| 2026-03-02 09:55 | 60 | 12,000 | 68 |",
	} {
		if !strings.Contains(body, s) {
			t.Errorf("the Markdown lacks %q:\n%s", s, body)
		}
	}
	t.Run("in the language asked for", func(t *testing.T) {
		rec := f.get("/incidents/YQ-7/report.md?lang=zh-CN")
		if rec.Code != http.StatusOK || rec.Body.String() != f.wantReport(t, workflow.LocaleZH).Markdown() ||
			!strings.Contains(rec.Body.String(), "# 舆情处置报告 YQ-7") {
			t.Errorf("got %d %.200q, want the Chinese report", rec.Code, rec.Body)
		}
	})
}

// TestReportPage: /incidents/{id}/report is a page to print with the same
// facts as the Markdown, every one of them escaped, the chart drawn in
// SVG, the print styles linked, and no script.
func TestReportPage(t *testing.T) {
	f := newReportFixture(t, true, "")
	rec := f.get("/incidents/YQ-7/report")
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/html; charset=utf-8", ct)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q: want the strict policy of every page", csp)
	}
	body := rec.Body.String()
	for _, bad := range []string{"<img", "<b>found", "<script", " style=", `class="top"`} {
		if strings.Contains(body, bad) {
			t.Errorf("the page holds %q: %s", bad, body)
		}
	}
	for _, want := range []string{
		`<link rel="stylesheet" href="/assets/report.css">`, `id="report-interim"`,
		`Canteen &lt;img src=x onerror=alert(1)&gt;`, `<pre class="verbatim">We &lt;b&gt;inspected&lt;/b&gt; the canteen.</pre>`,
		`class="series series-posts"`, `class="series series-views"`, `class="series series-heat"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The same facts as the Markdown: every title, label, value, cell and
	// verbatim text of the report, escaped.
	rep := f.wantReport(t, workflow.LocaleEN)
	has := func(s string) {
		t.Helper()
		if !strings.Contains(body, template.HTMLEscapeString(s)) {
			t.Errorf("the page lacks %q", s)
		}
	}
	has(rep.Heading)
	has(rep.AsOfLine)
	has(rep.InterimLine)
	for _, s := range rep.Sections {
		has(s.Title)
		for _, b := range s.Blocks {
			for _, x := range []string{b.Heading, b.Note, b.Text} {
				has(x)
			}
			for _, fl := range b.Fields {
				has(fl.Label)
				has(fl.Value)
			}
			if b.Table != nil {
				for _, c := range b.Table.Columns {
					has(c)
				}
				for _, r := range b.Table.Rows {
					for _, c := range r {
						has(c)
					}
				}
			}
			if b.Chart != nil {
				for _, sr := range b.Chart.Series {
					has(sr.Legend)
					has(sr.Latest)
					if n := strings.Count(body, `class="dot dot-`+string(sr.Kind)+`"`); n != len(sr.Points)+1 { // and its legend
						t.Errorf("%s: %d markers, want %d points and the legend's", sr.Kind, n, len(sr.Points))
					}
				}
			}
		}
	}
	// Page breaks between sections, A4, nothing but the report in print.
	css := f.get("/assets/report.css").Body.String()
	for _, want := range []string{"@page { size: A4;", ".report-section { break-before: page; }", ".screen-only { display: none; }"} {
		if !strings.Contains(css, want) {
			t.Errorf("report.css lacks %q", want)
		}
	}
}

// TestReportRoutesAccess: the report is behind the board's token rules,
// and an unknown incident is a 404 that says so in both languages.
func TestReportRoutesAccess(t *testing.T) {
	const token = "correct-horse-battery-staple"
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: sessionValue(token)}) }
	tests := []struct {
		name       string
		playground bool
		token      string
		path       string
		mod        []func(*http.Request)
		wantCode   int
		wantType   string
		wantBody   []string
	}{
		{"playground: page", true, "", "/incidents/YQ-7/report", nil, 200, "text/html", []string{`data-page="report"`}},
		{"production: page without token", false, token, "/incidents/YQ-7/report", nil, 401, "text/html", []string{`name="token"`}},
		{"production: Markdown without token", false, token, "/incidents/YQ-7/report.md", nil, 401, "text/html", []string{`name="token"`}},
		{"production: wrong bearer", false, token, "/incidents/YQ-7/report.md",
			[]func(*http.Request){func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess") }}, 401, "text/html", []string{`name="token"`}},
		{"production: page with bearer", false, token, "/incidents/YQ-7/report", []func(*http.Request){bearer}, 200, "text/html", []string{`data-page="report"`}},
		{"production: Markdown with bearer", false, token, "/incidents/YQ-7/report.md", []func(*http.Request){bearer}, 200, "text/markdown",
			[]string{"# Handling report YQ-7"}},
		{"production: page with the session cookie", false, token, "/incidents/YQ-7/report", []func(*http.Request){cookie}, 200, "text/html",
			[]string{`data-page="report"`}},
		{"production without a token: off", false, "", "/incidents/YQ-7/report.md", []func(*http.Request){bearer}, 403, "text/html",
			[]string{"FIREBREAK_BOARD_TOKEN"}},
		{"unknown incident: page", true, "", "/incidents/YQ-99/report", nil, 404, "text/html",
			[]string{"No incident YQ-99.", "没有事件 YQ-99。"}},
		{"unknown incident: Markdown", true, "", "/incidents/99/report.md", nil, 404, "text/plain",
			[]string{"No incident YQ-99.\n没有事件 YQ-99。\n"}},
		{"unknown incident with markup", true, "", "/incidents/%3Cscript%3E/report", nil, 404, "text/html",
			[]string{"No incident &lt;SCRIPT&gt;."}},
		{"unknown incident with token", false, token, "/incidents/YQ-99/report.md", []func(*http.Request){bearer}, 404, "text/plain",
			[]string{"没有事件 YQ-99。"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newReportFixture(t, tt.playground, tt.token)
			rec := f.get(tt.path, tt.mod...)
			body := rec.Body.String()
			if rec.Code != tt.wantCode || !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.wantType) {
				t.Errorf("GET %s: got %d %s, want %d %s: %.300q", tt.path, rec.Code, rec.Header().Get("Content-Type"), tt.wantCode, tt.wantType, body)
			}
			for _, want := range tt.wantBody {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s: the answer lacks %q: %.300q", tt.path, want, body)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("GET %s: unescaped markup in %q", tt.path, body)
			}
		})
	}

	t.Run("storage unavailable", func(t *testing.T) {
		f := newReportFixture(t, true, "")
		f.incidents.err = workflow.Errorf(workflow.CodeUnavailable, "redis down", "redis 不可用")
		for _, path := range []string{"/incidents/YQ-7/report", "/incidents/YQ-7/report.md"} {
			if rec := f.get(path); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("GET %s: got %d, want 503", path, rec.Code)
			}
		}
	})

	t.Run("not wired", func(t *testing.T) {
		f := newFixture(t, true, "")
		if rec := f.get("/incidents/YQ-7/report"); rec.Code != http.StatusNotFound {
			t.Errorf("without Reports: got %d, want 404", rec.Code)
		}
	})
}
