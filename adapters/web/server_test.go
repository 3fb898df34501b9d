package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Test doubles: a store of incidents in memory and a router that records
// what it was asked.

type fakeIncidents struct {
	mu        sync.Mutex
	incidents map[string]*workflow.Incident
	timelines map[string][]workflow.Event
	err       error // returned by every call when set
}

func (f *fakeIncidents) Get(_ context.Context, id string) (*workflow.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	inc, ok := f.incidents[id]
	if !ok {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
	}
	return inc.Clone(), nil
}

func (f *fakeIncidents) History(ctx context.Context, id string) (*workflow.Incident, []workflow.Event, error) {
	inc, err := f.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return inc, slices.Clone(f.timelines[id]), nil
}

func (f *fakeIncidents) List(_ context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []*workflow.Incident
	for _, inc := range f.incidents {
		if inc.Open() {
			out = append(out, inc.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *workflow.Incident) int { return a.FoundAt.Compare(b.FoundAt) })
	return out, nil
}

// ListPage pages List, or the resolved incidents by resolution.
func (f *fakeIncidents) ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error) {
	var incs []*workflow.Incident
	if q.Filter == workflow.ListResolved {
		f.mu.Lock()
		if f.err != nil {
			f.mu.Unlock()
			return workflow.Page{}, f.err
		}
		for _, inc := range f.incidents {
			if !inc.Open() && !inc.ResolvedAt.Before(q.From) && (q.To.IsZero() || inc.ResolvedAt.Before(q.To)) {
				incs = append(incs, inc.Clone())
			}
		}
		f.mu.Unlock()
		slices.SortFunc(incs, func(a, b *workflow.Incident) int { return a.ResolvedAt.Compare(b.ResolvedAt) })
	} else {
		var err error
		if incs, err = f.List(ctx, q); err != nil {
			return workflow.Page{}, err
		}
	}
	total := len(incs)
	incs = incs[min(q.Offset, len(incs)):]
	if q.Limit > 0 && len(incs) > q.Limit {
		incs = incs[:q.Limit]
	}
	return workflow.Page{Incidents: incs, Total: total}, nil
}

func (f *fakeIncidents) Recent(_ context.Context, since time.Time, limit int) ([]*workflow.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []*workflow.Incident
	for _, inc := range f.incidents {
		if !inc.FoundAt.Before(since) {
			out = append(out, inc.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *workflow.Incident) int { return a.FoundAt.Compare(b.FoundAt) })
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

type fakeRouter struct {
	mu    sync.Mutex
	got   []bot.Request
	reply func(req *bot.Request) *bot.Reply
}

func (r *fakeRouter) Handle(_ context.Context, req *bot.Request) *bot.Reply {
	r.mu.Lock()
	r.got = append(r.got, *req)
	r.mu.Unlock()
	if r.reply != nil {
		return r.reply(req)
	}
	return &bot.Reply{Text: "ok"}
}

func (r *fakeRouter) requests() []bot.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// now is the fixed moment of these tests: Monday 2 March 2026, 10:00 in
// Shanghai.
var now = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

func testRoster(tb testing.TB) *workflow.Roster {
	tb.Helper()
	r, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai", Locale: workflow.LocaleEN,
		People: []workflow.Person{
			{ID: "chen", Name: "Chen Jing", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}},
		},
		Departments: []workflow.Department{{ID: "office", Name: "Public Opinion Office", Categories: []workflow.Category{workflow.CategoryOther}}},
		Channels:    map[string]workflow.ChannelRef{workflow.ChannelLeaders: {"telegram": "-100222"}, workflow.ChannelIncidents: {"slack": "C1"}},
		Policy:      workflow.DefaultPolicy(),
	})
	if err != nil {
		tb.Fatalf("NewRoster: %v", err)
	}
	return r
}

// canteen is a major incident found 20 minutes ago with a draft approved by
// the principal leader; its title tries to inject markup.
func canteen() *workflow.Incident {
	found := now.Add(-20 * time.Minute)
	return &workflow.Incident{
		ID: "YQ-7", Version: 4, Title: `Canteen <img src=x onerror=alert(1)>`, Level: workflow.LevelMajor,
		Category: workflow.CategoryOther, Status: workflow.StatusAssigned, Department: "office", Assignee: "chen",
		FoundAt: found, OpenedAt: found.Add(time.Minute), OpenedBy: "chen", UpdatedAt: now, ReportedAt: found.Add(time.Minute),
		Receipts: []workflow.Receipt{{By: "zhao", At: found.Add(time.Minute)}},
		Drafts: []workflow.Draft{{Version: 1, Text: "We <b>inspected</b> the canteen.", Hash: workflow.HashText("We <b>inspected</b> the canteen."),
			Author: "chen", At: now.Add(-5 * time.Minute),
			Approvals: []workflow.Approval{{By: "wang", At: now.Add(-2 * time.Minute), Principal: true, Note: "fine"}}}},
	}
}

type fixture struct {
	srv       *Server
	mux       *http.ServeMux
	incidents *fakeIncidents
	router    *fakeRouter
	clock     *workflow.ManualClock
}

func newFixture(tb testing.TB, playground bool, token string) *fixture {
	tb.Helper()
	inc := canteen()
	f := &fixture{
		incidents: &fakeIncidents{
			incidents: map[string]*workflow.Incident{inc.ID: inc},
			timelines: map[string][]workflow.Event{inc.ID: {
				{ID: "YQ-7#1.1", Incident: "YQ-7", Version: 1, Kind: workflow.EventOpened, At: inc.OpenedAt, Actor: "chen", Text: inc.Title,
					Data: workflow.EventData{Level: workflow.LevelMajor}},
				{ID: "YQ-7#4.1", Incident: "YQ-7", Version: 4, Kind: workflow.EventApproved, At: now.Add(-2 * time.Minute), Actor: "wang"},
			}},
		},
		router: &fakeRouter{},
		clock:  workflow.NewManualClock(now),
	}
	f.srv = New(Config{Router: f.router, Incidents: f.incidents, Roster: testRoster(tb), Clock: f.clock, Scale: 60,
		Playground: playground, Token: token})
	f.mux = http.NewServeMux()
	f.srv.Register(f.mux)
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) get(path string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, m := range mod {
		m(req)
	}
	return f.do(req)
}

func (f *fixture) postJSON(path, body string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for _, m := range mod {
		m(req)
	}
	return f.do(req)
}

func decode[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("got Content-Type %q, want application/json (body %q)", ct, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func TestAPIIncidents(t *testing.T) {
	f := newFixture(t, true, "")
	rec := f.get("/api/v1/incidents")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/incidents: got %d, want 200: %s", rec.Code, rec.Body)
	}
	list := decode[incidentList](t, rec)
	if !list.Now.Equal(now) || list.Scale != 60 || list.Timezone != "Asia/Shanghai" {
		t.Errorf("clock: got now %s scale %v tz %q, want %s, 60, Asia/Shanghai", list.Now, list.Scale, list.Timezone, now)
	}
	if len(list.Incidents) != 1 {
		t.Fatalf("got %d incidents, want 1", len(list.Incidents))
	}
	got := list.Incidents[0]
	if got.ID != "YQ-7" || got.Title != `Canteen <img src=x onerror=alert(1)>` || got.LevelName != "major" ||
		got.StatusName != "assigned" || got.DepartmentName != "Public Opinion Office" || got.AssigneeName != "Chen Jing" || got.URL != "/incidents/YQ-7" {
		t.Errorf("got %+v, want YQ-7 with its title verbatim and names resolved", got)
	}
	found := now.Add(-20 * time.Minute)
	wantDeadlines := []deadlineView{
		{Kind: "report", Name: "report to leaders", Due: found.Add(30 * time.Minute), WarnAt: found.Add(15 * time.Minute), MetAt: found.Add(time.Minute)},
		{Kind: "assign", Name: "department takes it on", Due: found.Add(30 * time.Minute), WarnAt: found.Add(15 * time.Minute)},
		{Kind: "authority", Name: "report to higher authority", Due: found.Add(time.Hour), WarnAt: found.Add(30 * time.Minute)},
		{Kind: "respond", Name: "approved reply published", Due: found.Add(3 * time.Hour), WarnAt: found.Add(90 * time.Minute)},
	}
	if !slices.EqualFunc(got.Deadlines, wantDeadlines, func(a, b deadlineView) bool {
		return a.Kind == b.Kind && a.Name == b.Name && a.Due.Equal(b.Due) && a.WarnAt.Equal(b.WarnAt) && a.MetAt.Equal(b.MetAt) && a.Late == b.Late
	}) {
		t.Errorf("deadlines:\n got %+v\nwant %+v", got.Deadlines, wantDeadlines)
	}
	if d := got.Draft; d == nil || d.Version != 1 || d.Approvals != 1 || d.Needed != 2 || d.Quorum {
		t.Errorf("draft: got %+v, want v1 with 1 of 2 approvals, no quorum", d)
	}

	t.Run("one incident", func(t *testing.T) {
		for _, path := range []string{"/api/v1/incidents/YQ-7", "/api/v1/incidents/yq-7", "/api/v1/incidents/7"} {
			rec := f.get(path)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: got %d, want 200: %s", path, rec.Code, rec.Body)
			}
			one := decode[incidentOne](t, rec)
			inc := one.Incident
			if inc.ID != "YQ-7" || len(inc.Drafts) != 1 || !inc.NeedsPrincipal {
				t.Fatalf("GET %s: got %+v, want YQ-7 with one draft needing a principal", path, inc)
			}
			d := inc.Drafts[0]
			if d.Text != "We <b>inspected</b> the canteen." || d.Hash != workflow.HashText(d.Text) || d.AuthorName != "Chen Jing" {
				t.Errorf("draft: got %+v, want the text verbatim, its hash and author", d)
			}
			if len(d.Approvals) != 1 || d.Approvals[0].ByName != "Wang Fang" || !d.Approvals[0].Principal || d.Approvals[0].Note != "fine" {
				t.Errorf("approvals: got %+v, want Wang Fang (principal): fine", d.Approvals)
			}
		}
	})

	t.Run("timeline", func(t *testing.T) {
		rec := f.get("/api/v1/incidents/YQ-7/timeline")
		if rec.Code != http.StatusOK {
			t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
		}
		tl := decode[timeline](t, rec)
		var kinds []string
		for _, e := range tl.Events {
			kinds = append(kinds, e.Kind+" by "+e.ActorName)
		}
		if want := []string{"opened by Chen Jing", "approved by Wang Fang"}; tl.Incident != "YQ-7" || !slices.Equal(kinds, want) {
			t.Errorf("got %s %q, want YQ-7 %q", tl.Incident, kinds, want)
		}
	})

	t.Run("unknown", func(t *testing.T) {
		for _, path := range []string{"/api/v1/incidents/YQ-404", "/api/v1/incidents/YQ-404/timeline", "/api/v1/nothing", "/api/v1/incidents/YQ-7/extra"} {
			rec := f.get(path)
			if rec.Code != http.StatusNotFound {
				t.Errorf("GET %s: got %d, want 404", path, rec.Code)
				continue
			}
			if e := decode[apiError](t, rec); e.Code != "not_found" || e.Error == "" {
				t.Errorf("GET %s: got %+v, want code not_found and a message", path, e)
			}
		}
	})

	t.Run("storage down", func(t *testing.T) {
		f.incidents.mu.Lock()
		f.incidents.err = workflow.Unavailable(io.ErrUnexpectedEOF)
		f.incidents.mu.Unlock()
		defer func() {
			f.incidents.mu.Lock()
			f.incidents.err = nil
			f.incidents.mu.Unlock()
		}()
		for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/YQ-7", "/api/v1/stats"} {
			if rec := f.get(path); rec.Code != http.StatusServiceUnavailable {
				t.Errorf("GET %s with storage down: got %d, want 503", path, rec.Code)
			}
		}
		if rec := f.get("/incidents/YQ-7"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "storage unavailable") {
			t.Errorf("GET /incidents/YQ-7 with storage down: got %d %q, want 503 saying storage is unavailable", rec.Code, rec.Body)
		}
	})
}

// TestAPIIncidentReportsAndFigures: one incident's JSON says who
// acknowledged the report and whose acknowledgement the double report
// awaits, when it was reported up, and carries the series of attention
// figures with the kinds given in it, for the page's chart.
func TestAPIIncidentReportsAndFigures(t *testing.T) {
	found := now.Add(-20 * time.Minute)
	n := func(v int64) *int64 { return &v }
	tests := []struct {
		name     string
		change   func(inc *workflow.Incident)
		receipts []string // by_name, "+p" for a principal
		double   bool
		awaiting []string // role: names
		upAt     time.Time
		kinds    []figureKindView
		series   string // the figures as JSON
	}{
		{name: "one leader acknowledged: a principal awaited", change: func(*workflow.Incident) {},
			receipts: []string{"Zhao Lei"}, awaiting: []string{"principal: Wang Fang"}, series: "[]"},
		{name: "nobody acknowledged: both halves awaited", change: func(inc *workflow.Incident) { inc.Receipts = nil },
			awaiting: []string{"principal: Wang Fang", "leader: Zhao Lei"}, series: "[]"},
		{name: "the principal and a leader: complete", change: func(inc *workflow.Incident) {
			inc.Receipts = append(inc.Receipts, workflow.Receipt{By: "wang", At: found.Add(3 * time.Minute), Principal: true})
			inc.ReportedUpAt = found.Add(10 * time.Minute)
		}, receipts: []string{"Zhao Lei", "Wang Fang+p"}, double: true, upAt: found.Add(10 * time.Minute), series: "[]"},
		{name: "not reported: nothing awaited", change: func(inc *workflow.Incident) {
			inc.Level, inc.ReportedAt, inc.Receipts = workflow.LevelGeneral, time.Time{}, nil
		}, series: "[]"},
		{name: "figures", change: func(inc *workflow.Incident) {
			inc.Figures = []workflow.Figures{
				{At: found.Add(5 * time.Minute), Posts: n(35), Heat: n(68)},
				{At: found.Add(15 * time.Minute), Posts: n(60), Views: n(12000)},
			}
		}, receipts: []string{"Zhao Lei"}, awaiting: []string{"principal: Wang Fang"},
			kinds: []figureKindView{
				{Kind: "posts", Name: "posts", Latest: 60, LatestAt: found.Add(15 * time.Minute), Max: 60, Points: 2},
				{Kind: "views", Name: "views", Latest: 12000, LatestAt: found.Add(15 * time.Minute), Max: 12000, Points: 1},
				{Kind: "heat", Name: "heat", Latest: 68, LatestAt: found.Add(5 * time.Minute), Max: 68, Points: 1},
			},
			series: `[{"at":"2026-03-02T01:45:00Z","posts":35,"heat":68},{"at":"2026-03-02T01:55:00Z","posts":60,"views":12000}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, true, "")
			tt.change(f.incidents.incidents["YQ-7"])
			rec := f.get("/api/v1/incidents/YQ-7")
			if rec.Code != http.StatusOK {
				t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
			}
			inc := decode[incidentOne](t, rec).Incident
			var receipts []string
			for _, r := range inc.Receipts {
				s := r.ByName
				if r.Principal {
					s += "+p"
				}
				receipts = append(receipts, s)
			}
			var awaiting []string
			for _, a := range inc.Awaiting {
				awaiting = append(awaiting, a.Role+": "+strings.Join(a.Names, ", "))
			}
			if !slices.Equal(receipts, tt.receipts) || inc.DoubleReported != tt.double || !slices.Equal(awaiting, tt.awaiting) {
				t.Errorf("got receipts %q, double report %v, awaiting %q; want %q, %v, %q",
					receipts, inc.DoubleReported, awaiting, tt.receipts, tt.double, tt.awaiting)
			}
			if !inc.ReportedUpAt.Equal(tt.upAt) {
				t.Errorf("reported up: got %s, want %s", inc.ReportedUpAt, tt.upAt)
			}
			if !slices.EqualFunc(inc.FigureKinds, tt.kinds, func(a, b figureKindView) bool {
				return a.Kind == b.Kind && a.Name == b.Name && a.Latest == b.Latest && a.LatestAt.Equal(b.LatestAt) && a.Max == b.Max && a.Points == b.Points
			}) {
				t.Errorf("figure kinds:\n got %+v\nwant %+v", inc.FigureKinds, tt.kinds)
			}

			// The page reads the lists as they are: empty, never null.
			var raw struct {
				Incident map[string]json.RawMessage `json:"incident"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if got := string(raw.Incident["figures"]); got != tt.series {
				t.Errorf("figures: got %s, want %s", got, tt.series)
			}
			for _, k := range []string{"receipts", "awaiting", "figure_kinds"} {
				if got := string(raw.Incident[k]); got == "" || got == "null" {
					t.Errorf("%s: got %q, want a list", k, got)
				}
			}
		})
	}

	t.Run("names in Chinese", func(t *testing.T) {
		f := newFixture(t, true, "")
		f.incidents.incidents["YQ-7"].Figures = []workflow.Figures{{At: found, Heat: n(80)}}
		inc := decode[incidentOne](t, f.get("/api/v1/incidents/YQ-7?lang=zh-CN")).Incident
		if len(inc.FigureKinds) != 1 || inc.FigureKinds[0].Name != "热度" {
			t.Errorf("got %+v, want heat named 热度", inc.FigureKinds)
		}
	})
	t.Run("a statement's voice", func(t *testing.T) {
		f := newFixture(t, true, "")
		f.incidents.incidents["YQ-7"].Statements = []workflow.Statement{{DraftVersion: 1, Text: "x", By: "wang", At: now,
			Organisation: "Qingshan Town", Spokesperson: true}}
		inc := decode[incidentOne](t, f.get("/api/v1/incidents/YQ-7")).Incident
		if len(inc.Statements) != 1 || inc.Statements[0].Organisation != "Qingshan Town" || !inc.Statements[0].Spokesperson {
			t.Errorf("got %+v, want the organisation's name and the spokesperson's voice", inc.Statements)
		}
	})
}

func TestAPIStats(t *testing.T) {
	f := newFixture(t, true, "")
	rec := f.get("/api/v1/stats")
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
	}
	st := decode[statsView](t, rec)
	if len(st.OpenByLevel) != chartPoints || !slices.Equal(st.Levels, []string{"general", "major", "critical"}) {
		t.Fatalf("got %d points of %q, want %d of general, major, critical", len(st.OpenByLevel), st.Levels, chartPoints)
	}
	if last := st.OpenByLevel[len(st.OpenByLevel)-1]; !last.T.Equal(now) || !slices.Equal(last.Counts, []int{0, 1, 0}) {
		t.Errorf("last point: got %+v, want one major open at %s", last, now)
	}
	var kinds []string
	for _, d := range st.Deadlines {
		kinds = append(kinds, d.Kind)
	}
	if !slices.Equal(kinds, []string{"report", "assign", "authority", "respond", "answer"}) {
		t.Errorf("deadline kinds: got %q, want report, assign, authority, respond, answer", kinds)
	}
}

func TestStats(t *testing.T) {
	v := views{roster: testRoster(t), locale: workflow.LocaleEN}
	h := func(n int) time.Time { return now.Add(time.Duration(n) * time.Hour) }
	inc := func(id string, level workflow.Level, found time.Time, mod func(*workflow.Incident)) *workflow.Incident {
		i := &workflow.Incident{ID: id, Title: id, Level: level, Category: workflow.CategoryOther, Status: workflow.StatusAssigned,
			FoundAt: found, OpenedAt: found}
		if mod != nil {
			mod(i)
		}
		return i
	}
	resolved := func(at time.Time) func(*workflow.Incident) {
		return func(i *workflow.Incident) { i.Status, i.ResolvedAt = workflow.StatusResolved, at }
	}
	recent := []*workflow.Incident{
		// Major, found 10h ago, reported at once, acknowledged late (1h after
		// found, due 30m), published in time, resolved 2h ago.
		inc("YQ-1", workflow.LevelMajor, h(-10), func(i *workflow.Incident) {
			i.ReportedAt, i.AckedAt = h(-10), h(-9)
			i.Receipts = []workflow.Receipt{{By: "wang", At: h(-10), Principal: true}}
			i.ReportedUpAt = h(-10)
			i.Statements = []workflow.Statement{{At: h(-8)}}
			resolved(h(-2))(i)
		}),
		// General, found 5h ago, still open, not acknowledged (due 2h: missed).
		inc("YQ-2", workflow.LevelGeneral, h(-5), nil),
		// Critical found 10 minutes ago: every deadline pending but the report.
		inc("YQ-3", workflow.LevelCritical, now.Add(-10*time.Minute), func(i *workflow.Incident) {
			i.ReportedAt = i.FoundAt
			i.Receipts = []workflow.Receipt{{By: "zhao", At: i.FoundAt}}
		}),
		// General resolved before its answer deadline, without acknowledging:
		// assign is missed for good.
		inc("YQ-4", workflow.LevelGeneral, h(-3), resolved(h(-2))),
	}
	st := v.stats(now, recent, []*workflow.Incident{recent[1], recent[2]})

	if first := st.OpenByLevel[0]; !first.T.Equal(h(-10)) {
		t.Errorf("first point: got %s, want the earliest discovery %s", first.T, h(-10))
	}
	at := func(t0 time.Time) []int {
		for i := len(st.OpenByLevel) - 1; i >= 0; i-- {
			if !st.OpenByLevel[i].T.After(t0) {
				return st.OpenByLevel[i].Counts
			}
		}
		return nil
	}
	tests := []struct {
		name string
		t    time.Time
		want []int // general, major, critical
	}{
		{"now", now, []int{1, 0, 1}},
		{"before YQ-1 and YQ-4 were resolved", h(-2).Add(-time.Second), []int{2, 1, 0}},
		{"when only YQ-1 was open", h(-6), []int{0, 1, 0}},
	}
	for _, tt := range tests {
		// Points are samples: look at the last one at or before the time.
		if got := at(tt.t); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}

	want := map[string][3]int{ // met, missed, pending
		"report":    {2, 0, 0},
		"assign":    {0, 2, 1}, // and one not needed: resolved before it fell
		"authority": {1, 0, 1},
		"respond":   {1, 0, 1},
		"answer":    {1, 0, 1},
	}
	if len(st.Deadlines) != len(want) {
		t.Errorf("got %d deadline kinds, want %d", len(st.Deadlines), len(want))
	}
	for _, d := range st.Deadlines {
		if got := [3]int{d.Met, d.Missed, d.Pending}; got != want[d.Kind] {
			t.Errorf("%s: got met/missed/pending %v, want %v", d.Kind, got, want[d.Kind])
		}
	}

	t.Run("the window starts at the earliest discovery, at most 30 days back", func(t *testing.T) {
		old := inc("YQ-0", workflow.LevelGeneral, now.Add(-40*24*time.Hour), nil) // open, found long ago
		st := v.stats(now, recent, []*workflow.Incident{old})
		if first := st.OpenByLevel[0].T; !first.Equal(now.Add(-chartWindow)) {
			t.Errorf("first point: got %s, want 30 days back", first)
		}
		if last := st.OpenByLevel[len(st.OpenByLevel)-1]; !slices.Equal(last.Counts, []int{2, 0, 1}) {
			t.Errorf("now: got %v, want the old open incident counted too", last.Counts)
		}
		st = v.stats(now, recent[2:3], recent[2:3])
		if first := st.OpenByLevel[0].T; !first.Equal(now.Add(-time.Hour)) {
			t.Errorf("young deployment: got first point %s, want an hour back (the window is at least an hour)", first)
		}
	})
}

func TestWarnAt(t *testing.T) {
	found := now
	tests := []struct {
		name string
		due  time.Duration
		lp   workflow.LevelPolicy
		want time.Duration
	}{
		{"half time comes first", 3 * time.Hour, workflow.LevelPolicy{WarnBefore: 15 * time.Minute}, 90 * time.Minute},
		// 15 minutes before a 20-minute deadline would fall before half time:
		// the timers send only the half-time warning, so amber starts then.
		{"short deadline warns once, at half time", 20 * time.Minute, workflow.LevelPolicy{WarnBefore: 15 * time.Minute}, 10 * time.Minute},
		{"short deadline without half warning", 20 * time.Minute, workflow.LevelPolicy{WarnBefore: 15 * time.Minute, NoHalfWarning: true}, 20 * time.Minute},
		{"no half warning", 3 * time.Hour, workflow.LevelPolicy{WarnBefore: 15 * time.Minute, NoHalfWarning: true}, 165 * time.Minute},
		{"no warning at all", 3 * time.Hour, workflow.LevelPolicy{NoHalfWarning: true}, 3 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := warnAt(found, found.Add(tt.due), tt.lp); !got.Equal(found.Add(tt.want)) {
				t.Errorf("got %s, want %s", got.Sub(found), tt.want)
			}
		})
	}
}

func TestAccess(t *testing.T) {
	const token = "correct-horse-battery-staple"
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	cookie := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: v}) }
	}
	tests := []struct {
		name       string
		playground bool
		token      string
		path       string
		mod        []func(*http.Request)
		wantCode   int
		wantBody   string
	}{
		{"playground: board without token", true, "", "/board", nil, 200, `id="board-list"`},
		{"playground: API without token", true, "", "/api/v1/incidents", nil, 200, `"YQ-7"`},
		{"playground: home is the playground", true, "", "/", nil, 200, `id="command-form"`},
		{"playground: shows the demo time", true, "", "/", nil, 200, "demo time: 60×"},
		{"production: board without token gets the login form", false, token, "/board", nil, 401, `name="token"`},
		{"production: incident page without token", false, token, "/incidents/YQ-7", nil, 401, `name="token"`},
		{"production: API without token", false, token, "/api/v1/incidents", nil, 401, `"unauthorized"`},
		{"production: one incident without token", false, token, "/api/v1/incidents/YQ-7", nil, 401, `"unauthorized"`},
		{"production: timeline without token", false, token, "/api/v1/incidents/YQ-7/timeline", nil, 401, `"unauthorized"`},
		{"production: stats without token", false, token, "/api/v1/stats", nil, 401, `"unauthorized"`},
		{"production: events without token", false, token, "/api/v1/events", nil, 401, `"unauthorized"`},
		{"production: wrong bearer", false, token, "/api/v1/incidents", []func(*http.Request){bearer("guess")}, 401, `"unauthorized"`},
		{"production: bearer", false, token, "/api/v1/incidents", []func(*http.Request){bearer(token)}, 200, `"YQ-7"`},
		{"production: the token itself is no cookie", false, token, "/board", []func(*http.Request){cookie(token)}, 401, `name="token"`},
		{"production: session cookie", false, token, "/board", []func(*http.Request){cookie(sessionValue(token))}, 200, `id="board-list"`},
		{"production: cookie of another token", false, token, "/board", []func(*http.Request){cookie(sessionValue("old"))}, 401, `name="token"`},
		{"production: unknown incident with token is 404", false, token, "/api/v1/incidents/YQ-404", []func(*http.Request){bearer(token)}, 404, `"not_found"`},
		{"production: no playground endpoint", false, token, "/api/v1/playground", []func(*http.Request){bearer(token)}, 404, `"not_found"`},
		{"production without a token: board off", false, "", "/board", nil, 403, "FIREBREAK_BOARD_TOKEN"},
		{"production without a token: API off", false, "", "/api/v1/incidents", []func(*http.Request){bearer("")}, 403, "FIREBREAK_BOARD_TOKEN"},
		{"production without a token: login off", false, "", "/login", nil, 403, "FIREBREAK_BOARD_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.playground, tt.token)
			rec := f.get(tt.path, tt.mod...)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("GET %s: got %d %.300q, want %d containing %q", tt.path, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
		})
	}

	t.Run("production: home redirects to the board", func(t *testing.T) {
		f := newFixture(t, false, token)
		rec := f.get("/")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/board" {
			t.Errorf("GET /: got %d to %q, want 303 to /board", rec.Code, rec.Header().Get("Location"))
		}
		if rec := f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"list"}`); rec.Code != http.StatusNotFound {
			t.Errorf("POST /api/v1/playground/command: got %d, want 404 (no playground in production)", rec.Code)
		}
		if got := f.router.requests(); len(got) != 0 {
			t.Errorf("router got %d requests, want none", len(got))
		}
	})
}

func TestLogin(t *testing.T) {
	const token = "correct-horse-battery-staple"
	f := newFixture(t, false, token)
	login := func(tok, next string) *httptest.ResponseRecorder {
		form := url.Values{"token": {tok}, "next": {next}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return f.do(req)
	}

	rec := login("wrong", "/incidents/YQ-7")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "That token is not right.") {
		t.Errorf("wrong token: got %d %.200q, want 401 and the form saying so", rec.Code, rec.Body)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("wrong token: got cookies %v, want none", rec.Result().Cookies())
	}

	rec = login(token, "/incidents/YQ-7")
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/incidents/YQ-7" {
		t.Fatalf("right token: got %d to %q, want 303 to /incidents/YQ-7", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("got cookies %v, want one", cookies)
	}
	c := cookies[0]
	if c.Name != CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("cookie: got %+v, want %s HttpOnly, SameSite=Strict, Path=/ and a lifetime", c, CookieName)
	}
	if strings.Contains(c.Value, token) {
		t.Errorf("cookie value %q holds the token", c.Value)
	}
	if rec := f.get("/incidents/YQ-7", func(r *http.Request) { r.AddCookie(c) }); rec.Code != http.StatusOK {
		t.Errorf("with the cookie: got %d, want 200", rec.Code)
	}

	for _, next := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "", "board"} {
		if rec := login(token, next); rec.Header().Get("Location") != "/board" {
			t.Errorf("next %q: got redirect to %q, want /board", next, rec.Header().Get("Location"))
		}
	}

	t.Run("behind TLS the cookie is Secure", func(t *testing.T) {
		form := url.Values{"token": {token}}
		req := httptest.NewRequest(http.MethodPost, "https://firebreak.example/login", strings.NewReader(form.Encode())) // r.TLS set
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cs := f.do(req).Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
			t.Errorf("got cookies %+v, want one Secure", cs)
		}
	})

	t.Run("logout clears the cookie", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/logout", nil)
		rec := f.do(req)
		cs := rec.Result().Cookies()
		if rec.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].MaxAge >= 0 {
			t.Errorf("got %d %+v, want 303 and the cookie expired", rec.Code, cs)
		}
	})
}

func TestPagesEscapeAndSecure(t *testing.T) {
	f := newFixture(t, true, "")
	tests := []struct {
		name     string
		path     string
		wantCode int
		want     string
		dontWant string
	}{
		{"incident page", "/incidents/YQ-7", 200, `data-incident="YQ-7"`, "<img"},
		{"unknown incident is a 404 page", "/incidents/YQ-404", 404, "There is no incident YQ-404.", ""},
		{"unknown incident with markup", "/incidents/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404, "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>alert(1)"},
		{"unknown page", "/nowhere/%3Cb%3E", 404, "There is no page at /nowhere/&lt;b&gt;.", "<b>"},
		{"board", "/board", 200, `<script src="/assets/board.js"></script>`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(tt.path)
			body := rec.Body.String()
			if rec.Code != tt.wantCode || !strings.Contains(body, tt.want) || (tt.dontWant != "" && strings.Contains(body, tt.dontWant)) {
				t.Errorf("GET %s: got %d %q, want %d containing %q and not %q", tt.path, rec.Code, body, tt.wantCode, tt.want, tt.dontWant)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type: got %q, want text/html; charset=utf-8", ct)
			}
			csp := rec.Header().Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP %q allows inline or eval", csp)
			}
			if strings.Contains(body, "<script>") || strings.Contains(body, " style=") || strings.Contains(body, "onclick") {
				t.Errorf("page has inline script or style: %q", body)
			}
		})
	}

	t.Run("the login form escapes where it returns to", func(t *testing.T) {
		f := newFixture(t, false, "tok")
		rec := f.get(`/incidents/YQ-7?x="><script>alert(1)</script>`)
		if body := rec.Body.String(); rec.Code != http.StatusUnauthorized || strings.Contains(body, "<script>alert(1)") {
			t.Errorf("got %d %q, want 401 with the next path escaped", rec.Code, body)
		}
	})

	t.Run("assets", func(t *testing.T) {
		if rec := f.get("/assets/"); rec.Code != http.StatusNotFound {
			t.Errorf("GET /assets/: got %d, want 404 (no directory listing)", rec.Code)
		}
		for _, name := range []string{"common.js", "board.js", "playground.js", "incident.js", "app.css"} {
			rec := f.get("/assets/" + name)
			if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
				t.Errorf("GET /assets/%s: got %d, %d bytes", name, rec.Code, rec.Body.Len())
			}
			if strings.HasSuffix(name, ".js") && strings.Contains(rec.Body.String(), "innerHTML") {
				t.Errorf("%s uses innerHTML: build the DOM with textContent", name)
			}
		}
	})

	t.Run("favicon", func(t *testing.T) {
		rec := f.get("/favicon.ico")
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "image/svg+xml") ||
			!strings.Contains(rec.Body.String(), "<svg") {
			t.Errorf("GET /favicon.ico: got %d %q, want 200 and the SVG icon", rec.Code, rec.Header().Get("Content-Type"))
		}
	})
}

func TestPlaygroundCommand(t *testing.T) {
	f := newFixture(t, true, "")
	f.router.reply = func(req *bot.Request) *bot.Reply {
		if req.Actor == "chen" && req.Text == "/incident approve YQ-7" {
			return &bot.Reply{Text: "approve is for leader; you are staff.", Failed: true}
		}
		return &bot.Reply{Text: "Opened YQ-8.", Card: &bot.Card{Incident: "YQ-8", Title: "YQ-8 <b>", Buttons: []bot.Button{{ID: "ack:YQ-8", Label: "Acknowledge"}}}, Public: true}
	}
	sub := f.srv.Hub().Subscribe()
	defer sub.Close()

	rec := f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"/incident open \"YQ <b>\" level:major"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
	}
	res := decode[actionResponse](t, rec)
	if res.Reply == nil || res.Reply.Text != "Opened YQ-8." || res.Reply.Card == nil || res.Reply.Card.Title != "YQ-8 <b>" || !res.Reply.Public {
		t.Errorf("got reply %+v, want the router's reply as it is", res.Reply)
	}
	want := bot.Request{Platform: bot.PlatformWeb, Actor: "chen", Conversation: Conversation, Text: `/incident open "YQ <b>" level:major`}
	if got := f.router.requests(); len(got) != 1 || got[0].Platform != want.Platform || got[0].Actor != want.Actor ||
		got[0].Conversation != want.Conversation || got[0].Text != want.Text || got[0].Action != nil {
		t.Errorf("router got %+v, want %+v", got, want)
	}
	select {
	case e := <-sub.C:
		if e.Name != EventChanged {
			t.Errorf("got event %s, want changed", e.Name)
		}
	case <-time.After(time.Second):
		t.Error("no changed event after a command")
	}

	rec = f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"/incident approve YQ-7"}`)
	if res := decode[actionResponse](t, rec); rec.Code != http.StatusOK || !res.Reply.Failed {
		t.Errorf("failed command: got %d %+v, want 200 with the Failed reply (as Slack shows it)", rec.Code, res.Reply)
	}

	bad := []struct {
		name     string
		body     string
		mod      func(*http.Request)
		wantCode int
	}{
		{"not JSON", `actor=chen`, nil, 400},
		{"form content type", `{"actor":"chen","text":"list"}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415},
		{"another site", `{"actor":"chen","text":"list"}`, func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") }, 403},
		{"cross-site fetch", `{"actor":"chen","text":"list"}`, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, 403},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			n := len(f.router.requests())
			var mods []func(*http.Request)
			if tt.mod != nil {
				mods = append(mods, tt.mod)
			}
			if rec := f.postJSON("/api/v1/playground/command", tt.body, mods...); rec.Code != tt.wantCode {
				t.Errorf("got %d, want %d", rec.Code, tt.wantCode)
			}
			if got := len(f.router.requests()); got != n {
				t.Errorf("the router ran %d more requests, want none", got-n)
			}
		})
	}
	t.Run("same origin", func(t *testing.T) {
		rec := f.postJSON("/api/v1/playground/command", `{"actor":"chen","text":"list"}`, func(r *http.Request) {
			r.Header.Set("Origin", "http://"+r.Host)
			r.Header.Set("Sec-Fetch-Site", "same-origin")
		})
		if rec.Code != http.StatusOK {
			t.Errorf("got %d, want 200", rec.Code)
		}
	})
}

func TestPlaygroundAction(t *testing.T) {
	f := newFixture(t, true, "")
	f.router.reply = func(req *bot.Request) *bot.Reply {
		if req.Actor == "chen" {
			return &bot.Reply{Text: "approve is for leader; you are staff.", Failed: true, Card: &bot.Card{Title: "not this"}}
		}
		return &bot.Reply{Text: "Zhao Lei approved version 1 of YQ-7: 2 of 2 approvals (Wang Fang, Zhao Lei), ready to publish.",
			Card: &bot.Card{Incident: "YQ-7", Title: "Approve the unified reply for YQ-7, version 1", Fields: []bot.Field{{Label: "Approvals", Value: "2 of 2"}}}}
	}
	post, _ := f.srv.Hub().Post(workflow.Notice{ID: "YQ-7#5.1>leaders", Incident: "YQ-7", Audience: workflow.ChannelLeaders},
		bot.Message{Kind: "approval", Card: &bot.Card{Incident: "YQ-7", Buttons: []bot.Button{{ID: "approve:YQ-7:1", Label: "Approve"}}}}, now)

	rec := f.postJSON("/api/v1/playground/action", `{"actor":"zhao","action":"approve:YQ-7:1","post":`+jsonInt(post.Seq)+`,"conversation":"leaders"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d, want 200: %s", rec.Code, rec.Body)
	}
	res := decode[actionResponse](t, rec)
	got := f.router.requests()
	if len(got) != 1 || got[0].Action == nil || got[0].Action.ID() != "approve:YQ-7:1" || got[0].Actor != "zhao" ||
		got[0].Platform != bot.PlatformWeb || got[0].Conversation != "leaders" || got[0].Text != "" {
		t.Fatalf("router got %+v, want zhao pressing approve:YQ-7:1 in leaders", got)
	}
	if res.Post == nil || len(res.Post.Answers) != 1 || res.Post.Answers[0].ActorName != "Zhao Lei" || res.Post.Rev <= post.Rev {
		t.Fatalf("got post %+v, want the post with Zhao Lei's answer and a later revision", res.Post)
	}
	if c := res.Post.Message.Card; c == nil || len(c.Fields) != 1 || c.Fields[0].Value != "2 of 2" {
		t.Errorf("got card %+v, want the reply's card in place of the request's (the message is updated)", c)
	}
	rec = f.postJSON("/api/v1/playground/action", `{"actor":"chen","action":"approve:YQ-7:1","post":`+jsonInt(post.Seq)+`}`)
	if res := decode[actionResponse](t, rec); res.Post == nil || len(res.Post.Answers) != 2 || !res.Post.Answers[1].Reply.Failed ||
		res.Post.Message.Card.Title == "not this" {
		t.Errorf("a failed press: got %+v, want the refusal added and the card kept", res.Post)
	}
	if kept := f.srv.Hub().Since(0); len(kept) != 1 || len(kept[0].Answers) != 2 {
		t.Errorf("hub keeps %+v, want the post with its answer", kept)
	}

	for _, body := range []string{`{"actor":"zhao","action":""}`, `{"actor":"zhao","action":"approve::1"}`, `{"actor":"zhao","action":"` + strings.Repeat("x", 65) + `"}`} {
		if rec := f.postJSON("/api/v1/playground/action", body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", body, rec.Code)
		}
	}
}

// TestPlaygroundUnknownActor: the playground acts only as someone of the
// roster; any other actor (none, made up, a stale pick) is refused with the
// router's words before anything runs or is shown on a post.
func TestPlaygroundUnknownActor(t *testing.T) {
	f := newFixture(t, true, "")
	post, _ := f.srv.Hub().Post(workflow.Notice{ID: "YQ-7#5.1>leaders", Incident: "YQ-7", Audience: workflow.ChannelLeaders},
		bot.Message{Kind: "approval", Card: &bot.Card{Incident: "YQ-7", Buttons: []bot.Button{{ID: "approve:YQ-7:1", Label: "Approve"}}}}, now)
	for _, tt := range []struct{ name, path, body string }{
		{"a command by no one", "/api/v1/playground/command", `{"text":"list"}`},
		{"a command by someone made up", "/api/v1/playground/command", `{"actor":"mallory","text":"list"}`},
		{"a press by someone made up", "/api/v1/playground/action",
			`{"actor":"mallory","action":"approve:YQ-7:1","post":` + jsonInt(post.Seq) + `,"conversation":"leaders"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.postJSON(tt.path, tt.body)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "you are not in the roster") {
				t.Errorf("got %d %s, want 403 saying the actor is not in the roster", rec.Code, rec.Body)
			}
		})
	}
	if got := f.router.requests(); len(got) != 0 {
		t.Errorf("router got %+v, want nothing", got)
	}
	if kept := f.srv.Hub().Since(0); len(kept) != 1 || len(kept[0].Answers) != 0 {
		t.Errorf("hub keeps %+v, want the post without answers", kept)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// sseEvent is one event read from a stream.
type sseEvent struct {
	id, name, data string
}

// readEvents reads events from an event stream until it ends, sending them
// on a channel.
func readEvents(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.name != "" {
					out <- e
				}
				e = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				e.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				e.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				e.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

func next(tb testing.TB, c <-chan sseEvent, name string) sseEvent {
	tb.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-c:
			if !ok {
				tb.Fatalf("stream ended waiting for %q", name)
			}
			if e.name == name {
				return e
			}
		case <-timeout:
			tb.Fatalf("no %q event within 5s", name)
		}
	}
}

func TestEventStream(t *testing.T) {
	f := newFixture(t, true, "")
	ts := httptest.NewServer(f.mux)
	defer ts.Close()
	send := func(id string, audience workflow.Audience, text string) {
		t.Helper()
		err := f.srv.Sender().Send(context.Background(), workflow.Notice{ID: id, Incident: "YQ-7", Audience: audience},
			bot.Message{Kind: "incident", Text: text})
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	send("n1", workflow.ChannelIncidents, "before anyone listened")

	open := func(lastID string) (<-chan sseEvent, func()) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/events", nil)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("got %d %q, want 200 text/event-stream", res.StatusCode, res.Header.Get("Content-Type"))
		}
		return readEvents(res.Body), func() { _ = res.Body.Close() }
	}

	events, stop := open("")
	first := next(t, events, EventPost)
	var p Post
	if err := json.Unmarshal([]byte(first.data), &p); err != nil || p.Message.Text != "before anyone listened" || first.id != "1" {
		t.Fatalf("replay: got %+v (%v), want the earlier post with id 1", first, err)
	}
	next(t, events, "ready")

	send("n2", workflow.PersonAudience("wang"), "to wang <b>")
	e := next(t, events, EventPost)
	if err := json.Unmarshal([]byte(e.data), &p); err != nil || p.Audience != "person:wang" || p.Message.Text != "to wang <b>" || e.id != "2" {
		t.Errorf("got %+v, want the post to wang with id 2", e)
	}
	if e := next(t, events, EventChanged); !strings.Contains(e.data, `"YQ-7"`) {
		t.Errorf("changed: got %q, want it to name YQ-7", e.data)
	}

	send("n2", workflow.PersonAudience("wang"), "to wang <b>") // delivered again: shown once
	send("n3", workflow.ChannelStatements, "statement")
	if e := next(t, events, EventPost); e.id != "3" {
		t.Errorf("after a duplicate: got post id %s, want 3 (the duplicate is not posted)", e.id)
	}
	stop()

	t.Run("reconnecting resumes after Last-Event-ID", func(t *testing.T) {
		events, stop := open("2")
		defer stop()
		e := next(t, events, EventPost)
		if e.id != "3" {
			t.Errorf("got post id %s first, want 3", e.id)
		}
	})

	t.Run("production streams only changed", func(t *testing.T) {
		g := newFixture(t, false, "tok")
		ts := httptest.NewServer(g.mux)
		defer ts.Close()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		events := readEvents(res.Body)
		next(t, events, "ready")
		_ = g.srv.Sender().Send(context.Background(), workflow.Notice{ID: "x", Incident: "YQ-7", Audience: "leaders"}, bot.Message{Text: "secret"})
		// The hub publishes the post before "changed": the first event after
		// "ready" must already be "changed", not a skipped post.
		select {
		case e, ok := <-events:
			if !ok || e.name != EventChanged {
				t.Fatalf("got event %q (stream open: %v), want %q: the board must not stream posts", e.name, ok, EventChanged)
			}
			if strings.Contains(e.data, "secret") {
				t.Errorf("changed event carries the message: %q", e.data)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q event within 5s", EventChanged)
		}
	})

	t.Run("closing the server ends the streams", func(t *testing.T) {
		g := newFixture(t, true, "")
		ts := httptest.NewServer(g.mux)
		defer ts.Close()
		res, err := http.Get(ts.URL + "/api/v1/events")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		events := readEvents(res.Body)
		next(t, events, "ready")
		g.srv.Close()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-events:
				if !ok {
					return
				}
			case <-timeout:
				t.Fatal("the stream is still open 5s after Close")
			}
		}
	})
}

func TestHubKeepsTheLastPosts(t *testing.T) {
	h := NewHub(3)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		h.Post(workflow.Notice{ID: id, Audience: "incidents"}, bot.Message{Text: id}, now)
	}
	var ids []string
	for _, p := range h.Since(0) {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"c", "d", "e"}) {
		t.Errorf("got %q, want the last three", ids)
	}
	if _, ok := h.Answer(1, Answer{Actor: "wang"}); ok {
		t.Error("Answer to a post no longer kept: got ok, want false")
	}
	if _, first := h.Post(workflow.Notice{ID: "a", Audience: "incidents"}, bot.Message{Text: "a"}, now); !first {
		t.Error("a notice posted again after its post was dropped: got a duplicate, want it posted")
	}

	t.Run("a subscriber that falls behind is dropped, not waited for", func(t *testing.T) {
		h := NewHub(10)
		sub := h.Subscribe()
		defer sub.Close()
		for i := range 1000 {
			h.Changed("YQ-" + jsonInt(int64(i)))
		}
		n := 0
		for range sub.C {
			n++
		}
		if n == 0 || n >= 1000 {
			t.Errorf("got %d events before the channel closed, want some but not all", n)
		}
	})
}

// TestIncidentsAPIPages: GET /api/v1/incidents?page=N pages the open
// incidents (it returned every one, whatever the page); without page it
// is the board's whole list; a page that is no page number is a 400.
func TestIncidentsAPIPages(t *testing.T) {
	f := newFixture(t, true, "")
	base := canteen()
	for i := range 120 {
		inc := base.Clone()
		inc.ID = fmt.Sprintf("YQ-%d", 100+i)
		inc.FoundAt = base.FoundAt.Add(time.Duration(i) * time.Second)
		f.incidents.incidents[inc.ID] = inc
	}
	type listed struct {
		Page, Pages, Total int
		More               *int
		Incidents          []struct{ ID string }
	}
	read := func(path string) listed {
		t.Helper()
		rec := f.get(path)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: got %d %s", path, rec.Code, rec.Body)
		}
		var l listed
		if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return l
	}
	for _, tt := range []struct {
		page                    string
		n, pages, more, wantIDs int
	}{
		{"1", 50, 3, 71, 50}, {"3", 21, 3, 0, 21}, {"99", 0, 3, 0, 0},
	} {
		l := read("/api/v1/incidents?page=" + tt.page)
		if len(l.Incidents) != tt.n || l.Pages != tt.pages || l.Total != 121 || l.More == nil || *l.More != tt.more {
			t.Errorf("page %s: got %d incidents, page %d of %d, total %d, more %v; want %d, of %d, 121, %d",
				tt.page, len(l.Incidents), l.Page, l.Pages, l.Total, l.More, tt.n, tt.pages, tt.more)
		}
	}
	one, two := read("/api/v1/incidents?page=1"), read("/api/v1/incidents?page=2")
	if len(one.Incidents) > 0 && len(two.Incidents) > 0 && one.Incidents[0].ID == two.Incidents[0].ID {
		t.Errorf("pages 1 and 2 both start with %s", one.Incidents[0].ID)
	}
	if all := read("/api/v1/incidents"); len(all.Incidents) != 121 || all.Total != 121 || all.More != nil || all.Page != 0 {
		t.Errorf("without page: got %d incidents (total %d, more %v, page %d), want all 121 and no paging", len(all.Incidents), all.Total, all.More, all.Page)
	}
	for _, bad := range []string{"0", "abc", "-1"} {
		rec := f.get("/api/v1/incidents?page=" + bad)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "not a page number") {
			t.Errorf("page=%s: got %d %s, want 400 saying it is not a page number", bad, rec.Code, rec.Body)
		}
	}
}
