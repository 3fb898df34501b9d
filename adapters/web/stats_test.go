package web

import (
	"net/http"
	"strings"
	"testing"
)

// TestStatsPage: GET /stats draws the figures of workflow.ComputeStats for
// the period asked for, behind the board's token rules; a bad period is a
// 400 saying why and how to write one.
func TestStatsPage(t *testing.T) {
	const token = "correct-horse-battery-staple"
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	tests := []struct {
		name       string
		playground bool
		token      string
		path       string
		mod        []func(*http.Request)
		wantCode   int
		want       []string
		wantNot    []string
	}{{
		name: "playground: the last 30 days", playground: true, path: "/stats?period=month", wantCode: 200,
		want: []string{
			// Found in the last 30 days: YQ-2, YQ-3, YQ-9, YQ-10 (general) and YQ-7 (major).
			`<dt>Incidents</dt><dd>5</dd>`, `<dt>Still open</dt><dd>4</dd>`,
			`id="chart-level"`, `data-key="general" data-value="4"`, `data-key="major" data-value="1"`, `data-key="critical" data-value="0"`,
			`id="chart-category"`, `data-key="other" data-value="4"`, `data-key="inquiry" data-value="1"`,
			`id="chart-department"`, `<title>Public Opinion Office: 3</title>`, `<title>not assigned: 2</title>`,
			// No general incident was taken on in time (YQ-3 1h late, the
			// others not yet: 5d and 9d 23h late now); YQ-7's runs. Lateness:
			// 1h, 5d, 5d, 9d 23h: median 5d, p90 the 4th.
			`id="chart-share"`, `<tr data-kind="assign"><td>department takes it on</td><td>0%</td><td>0</td><td>4</td><td>1</td>
        <td>5d 0h</td><td>9d 23h</td><td>3h 0m</td><td>3h 0m</td></tr>`,
			// Only YQ-3 was answered, in time; the others' 24 hours are past.
			`<tr data-kind="answer"><td>substantive answer</td><td>25%</td><td>1</td><td>3</td><td>0</td>`,
			`<dd id="stats-sources">weibo.example 1</dd>`, `value="month"`, `href="/board"`,
		},
		wantNot: []string{"onerror"},
	}, {
		name: "a calendar month", playground: true, path: "/stats?period=2026-02", wantCode: 200,
		want: []string{`2026-02-01 – 2026-02-28`, `<dt>Incidents</dt><dd>4</dd>`, `data-key="major" data-value="0"`},
	}, {
		name: "the default is the last 7 days", playground: true, path: "/stats", wantCode: 200,
		want: []string{`value="week"`, `<dt>Incidents</dt><dd>3</dd>`, `2026-02-23 10:00 – 2026-03-02 10:00`},
	}, {
		name: "an empty period", playground: true, path: "/stats?period=2025-06", wantCode: 200,
		want: []string{`<dt>Incidents</dt><dd>0</dd>`, "No incidents in this period."}, wantNot: []string{"<rect"},
	}, {
		name: "in Chinese", playground: true, path: "/stats?period=month&lang=zh-CN", wantCode: 200,
		want: []string{"按级别", "时限按时完成率", `<title>一般: 4</title>`},
	}, {
		name: "not a period", playground: true, path: "/stats?period=fortnight", wantCode: 400,
		want: []string{`&#34;fortnight&#34; is not a period`, "2026-03-01..2026-03-15", "YYYY-MM-DD..YYYY-MM-DD"},
	}, {
		name: "backwards", playground: true, path: "/stats?period=2026-03-05..2026-03-01", wantCode: 400,
		want: []string{"runs backwards"},
	}, {
		name: "over a year", playground: true, path: "/stats?period=2025-01-01..2026-03-01", wantCode: 400,
		want: []string{"more than 366 days"},
	}, {
		name: "production without the token: login", token: token, path: "/stats", wantCode: 401,
		want: []string{`name="token"`}, wantNot: []string{"chart-level"},
	}, {
		name: "production with the token", token: token, path: "/stats?period=month", mod: []func(*http.Request){bearer}, wantCode: 200,
		want: []string{`id="chart-level"`},
	}, {
		name: "production without a board token: off", path: "/stats", wantCode: 403,
		want: []string{"FIREBREAK_BOARD_TOKEN"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newExportFixture(t, tt.playground, tt.token, &exportStore{incidents: exportIncidents()})
			rec := f.get(tt.path, tt.mod...)
			body := rec.Body.String()
			if rec.Code != tt.wantCode {
				t.Fatalf("GET %s: got %d, want %d: %.400s", tt.path, rec.Code, tt.wantCode, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tt.path, w)
				}
			}
			for _, w := range tt.wantNot {
				if strings.Contains(body, w) {
					t.Errorf("GET %s: body has %q, want none", tt.path, w)
				}
			}
		})
	}
}

// TestBoardLinksStats: the board links to the statistics page.
func TestBoardLinksStats(t *testing.T) {
	f := newFixture(t, true, "")
	if body := f.get("/board").Body.String(); !strings.Contains(body, `href="/stats"`) {
		t.Errorf("the board does not link to /stats")
	}
}
