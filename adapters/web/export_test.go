package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
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

	"github.com/firebreak/firebreak/workflow"
)

// exportStore is a store of incidents that answers ListOpen and
// ListResolved (resolved in [From, To), a zero To: no end) as the Redis
// store does, and records what it was asked.
type exportStore struct {
	mu        sync.Mutex
	incidents []*workflow.Incident
	// staleOpen are returned by ListOpen besides the open ones: incidents
	// resolved between the two reads of an export.
	staleOpen []*workflow.Incident
	err       error
	queries   []workflow.ListQuery
	// onRead, when set, runs at the start of every read, the lock held,
	// with the number of reads before it: it may change incidents (another
	// replica at work between two pages) or fail the read.
	onRead func(s *exportStore, n int) error
}

func (s *exportStore) Get(context.Context, string) (*workflow.Incident, error) {
	return nil, workflow.Errorf(workflow.CodeNotFound, "no incident", "没有事件")
}

func (s *exportStore) History(context.Context, string) (*workflow.Incident, []workflow.Event, error) {
	return nil, nil, workflow.Errorf(workflow.CodeNotFound, "no incident", "没有事件")
}

func (s *exportStore) Recent(context.Context, time.Time, int) ([]*workflow.Incident, error) {
	return nil, nil
}

func (s *exportStore) List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	p, err := s.ListPage(ctx, q)
	return p.Incidents, err
}

// ListPage answers as the Redis store: the open by discovery; the resolved
// by resolution, in milliseconds (the same one: by ID, byte-wise), From and
// To compared in milliseconds; then Offset and Limit.
func (s *exportStore) ListPage(_ context.Context, q workflow.ListQuery) (workflow.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	if s.err != nil {
		return workflow.Page{}, s.err
	}
	if s.onRead != nil {
		if err := s.onRead(s, len(s.queries)-1); err != nil {
			return workflow.Page{}, err
		}
	}
	var out []*workflow.Incident
	switch q.Filter {
	case workflow.ListOpen:
		for _, inc := range s.incidents {
			if inc.Open() {
				out = append(out, inc.Clone())
			}
		}
		for _, inc := range s.staleOpen {
			out = append(out, inc.Clone())
		}
		slices.SortFunc(out, func(a, b *workflow.Incident) int { return a.FoundAt.Compare(b.FoundAt) })
	case workflow.ListResolved:
		for _, inc := range s.incidents {
			ms := inc.ResolvedAt.UnixMilli()
			if !inc.Open() && ms >= q.From.UnixMilli() && (q.To.IsZero() || ms < q.To.UnixMilli()) {
				out = append(out, inc.Clone())
			}
		}
		slices.SortFunc(out, func(a, b *workflow.Incident) int {
			if c := cmp.Compare(a.ResolvedAt.UnixMilli(), b.ResolvedAt.UnixMilli()); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
	default:
		return workflow.Page{}, fmt.Errorf("exportStore: unexpected filter %q", q.Filter)
	}
	total := len(out)
	out = out[min(q.Offset, len(out)):]
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return workflow.Page{Incidents: out, Total: total}, nil
}

func (s *exportStore) asked() []workflow.ListQuery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

func mustLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%s): %v", name, err)
	}
	return loc
}

// shanghai is the test roster's timezone.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// sh is a time of day in Shanghai.
func sh(y int, m time.Month, d, h, min, sec int) time.Time {
	return time.Date(y, m, d, h, min, sec, 0, shanghai)
}

// exportIncidents are the incidents of the export tests, at now (2 March
// 2026, 10:00 in Shanghai): the last 30 days reach back to 31 January,
// 10:00.
// withMissed is exportIncidents with a deadline of a process YQ-7 left:
// its assignment, missed when it was raised to major.
func withMissed() []*workflow.Incident {
	incs := exportIncidents()
	for _, inc := range incs {
		if inc.ID == "YQ-7" {
			inc.Missed = []workflow.Deadline{{Kind: workflow.DeadlineAssign, From: inc.FoundAt,
				Due: inc.FoundAt.Add(5 * time.Minute), Left: inc.FoundAt.Add(8*time.Minute + time.Second)}}
		}
	}
	return incs
}

func exportIncidents() []*workflow.Incident {
	resolvedFound := sh(2026, 2, 10, 9, 0, 0)
	canteen := canteen() // YQ-7: open, major, found 20 minutes ago
	canteen.Title = "食堂, \"投诉\"\n第二行"
	return []*workflow.Incident{
		// Resolved, found in the range: its assignment was an hour late, its
		// answer on time. The summary tries a formula.
		{ID: "YQ-3", Version: 6, Title: "Bus route complaint", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusResolved, Department: "office", Assignee: "chen", Source: "https://weibo.example/p/3",
			FoundAt: resolvedFound, OpenedAt: resolvedFound.Add(5 * time.Minute), OpenedBy: "chen",
			AckedAt: resolvedFound.Add(3 * time.Hour), AckedBy: "chen", ResolvedAt: resolvedFound.Add(20 * time.Hour),
			Summary: `=HYPERLINK("http://evil.example","click")`},
		// Open, found in the range, nobody took it on: overdue now.
		{ID: "YQ-2", Version: 1, Title: "+cmd|' /C calc'!A0", Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry,
			Status: workflow.StatusNew, Source: "@SUM(1+1)", Department: "office",
			FoundAt: sh(2026, 2, 20, 9, 0, 0), OpenedAt: sh(2026, 2, 20, 9, 1, 0), OpenedBy: "chen"},
		// Two found at the same moment: ordered by number, 9 before 10.
		{ID: "YQ-10", Version: 1, Title: "-1 point", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusNew, FoundAt: sh(2026, 2, 25, 8, 0, 0), OpenedAt: sh(2026, 2, 25, 8, 0, 0), OpenedBy: "chen"},
		{ID: "YQ-9", Version: 1, Title: "\tTabbed", Summary: "\rreturn", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusNew, FoundAt: sh(2026, 2, 25, 8, 0, 0), OpenedAt: sh(2026, 2, 25, 8, 0, 0), OpenedBy: "chen"},
		canteen,
		// Open, found before the range.
		{ID: "YQ-1", Version: 1, Title: "Old and open", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusNew, FoundAt: sh(2026, 1, 5, 9, 0, 0), OpenedAt: sh(2026, 1, 5, 9, 0, 0), OpenedBy: "chen"},
		// Resolved in the range, but found before it.
		{ID: "YQ-4", Version: 3, Title: "Found in December", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusResolved, FoundAt: sh(2025, 12, 1, 9, 0, 0), OpenedAt: sh(2025, 12, 1, 9, 0, 0), OpenedBy: "chen",
			ResolvedAt: sh(2026, 2, 15, 9, 0, 0), Summary: "done"},
		// Found and resolved before the range.
		{ID: "YQ-5", Version: 3, Title: "Found and resolved in January", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusResolved, FoundAt: sh(2026, 1, 15, 9, 0, 0), OpenedAt: sh(2026, 1, 15, 9, 0, 0), OpenedBy: "chen",
			ResolvedAt: sh(2026, 1, 20, 9, 0, 0), Summary: "done"},
	}
}

type exportFixture struct {
	store *exportStore
	mux   *http.ServeMux
}

func newExportFixture(tb testing.TB, playground bool, token string, store *exportStore) *exportFixture {
	tb.Helper()
	srv := New(Config{Router: &fakeRouter{}, Incidents: store, Roster: testRoster(tb), Clock: workflow.NewManualClock(now),
		Scale: 60, Playground: playground, Token: token})
	mux := http.NewServeMux()
	srv.Register(mux)
	tb.Cleanup(srv.Close)
	return &exportFixture{store: store, mux: mux}
}

func (f *exportFixture) get(path string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, m := range mod {
		m(req)
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

// mustCSV reads an export: it must start with the BOM and have the header
// of exportColumns; the rows are returned keyed by column.
func mustCSV(tb testing.TB, rec *httptest.ResponseRecorder) []map[string]string {
	tb.Helper()
	if rec.Code != http.StatusOK {
		tb.Fatalf("got %d %q, want 200", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		tb.Errorf("Content-Type: got %q, want text/csv; charset=utf-8", ct)
	}
	body := rec.Body.Bytes()
	if !bytes.HasPrefix(body, []byte{0xEF, 0xBB, 0xBF}) {
		tb.Fatalf("the CSV starts with % x, want the BOM EF BB BF", body[:min(3, len(body))])
	}
	r := csv.NewReader(bytes.NewReader(body[3:]))
	records, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("read CSV %q: %v", body, err)
	}
	if len(records) == 0 || !slices.Equal(records[0], exportColumns) {
		tb.Fatalf("header: got %q, want %q", records[:min(1, len(records))], exportColumns)
	}
	var rows []map[string]string
	for _, rec := range records[1:] {
		row := map[string]string{}
		for i, v := range rec {
			row[exportColumns[i]] = v
		}
		rows = append(rows, row)
	}
	return rows
}

func ids(rows []map[string]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["id"])
	}
	return out
}

func TestExportCSV(t *testing.T) {
	f := newExportFixture(t, true, "", &exportStore{incidents: withMissed()})
	rec := f.get("/api/v1/incidents.csv")
	rows := mustCSV(t, rec)

	if want := []string{"YQ-3", "YQ-2", "YQ-9", "YQ-10", "YQ-7"}; !slices.Equal(ids(rows), want) {
		t.Fatalf("rows: got %q, want %q (found in the last 30 days, by discovery then number)", ids(rows), want)
	}
	if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="firebreak-incidents-2026-01-31-2026-03-02.csv"`; got != want {
		t.Errorf("Content-Disposition: got %q, want %q", got, want)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}

	t.Run("a resolved incident", func(t *testing.T) {
		want := map[string]string{
			"id": "YQ-3", "title": "Bus route complaint", "level": "general", "level_name": "general",
			"category": "other", "category_name": "other", "status": "resolved", "status_name": "resolved",
			"department": "office", "department_name": "Public Opinion Office", "assignee": "chen", "assignee_name": "Chen Jing",
			"source": "https://weibo.example/p/3", "found_at": "2026-02-10T09:00:00+08:00", "opened_at": "2026-02-10T09:05:00+08:00",
			"resolved_at": "2026-02-11T05:00:00+08:00", "spreading": "false", "published_at": "", "referred_at": "",
			"summary": `'=HYPERLINK("http://evil.example","click")`,
			// A general incident has no report or authority deadline, and no
			// reply deadline unless it is an inquiry.
			"report_due": "", "report_met": "", "report_late_minutes": "",
			"authority_due": "", "authority_met": "", "authority_late_minutes": "",
			"respond_due": "", "respond_met": "", "respond_late_minutes": "",
			"assign_due": "2026-02-10T11:00:00+08:00", "assign_met": "2026-02-10T12:00:00+08:00", "assign_late_minutes": "60",
			"answer_due": "2026-02-11T09:00:00+08:00", "answer_met": "2026-02-11T05:00:00+08:00", "answer_late_minutes": "0",
		}
		for _, col := range exportColumns {
			if got := rows[0][col]; got != want[col] {
				t.Errorf("%s: got %q, want %q", col, got, want[col])
			}
		}
	})

	t.Run("open incidents", func(t *testing.T) {
		overdue := rows[1] // YQ-2: found 20 February 09:00, nobody took it on
		for col, want := range map[string]string{
			"status": "new", "assignee": "", "assignee_name": "", "resolved_at": "",
			"assign_due": "2026-02-20T11:00:00+08:00", "assign_met": "",
			"assign_late_minutes": fmt.Sprint(int((9*24*time.Hour + 23*time.Hour) / time.Minute)),
			"answer_due":          "2026-02-21T09:00:00+08:00", "answer_met": "",
			"answer_late_minutes": fmt.Sprint(int((9*24*time.Hour + time.Hour) / time.Minute)),
		} {
			if got := overdue[col]; got != want {
				t.Errorf("YQ-2 %s: got %q, want %q", col, got, want)
			}
		}
		running := rows[4] // YQ-7: major, found 20 minutes ago, reported
		for col, want := range map[string]string{
			"level": "major", "report_due": "2026-03-02T10:10:00+08:00", "report_met": "2026-03-02T09:41:00+08:00",
			"report_late_minutes": "0", "assign_due": "2026-03-02T10:10:00+08:00", "assign_met": "", "assign_late_minutes": "",
			"respond_due": "2026-03-02T12:40:00+08:00", "answer_due": "", "answer_late_minutes": "",
			// missed by 3 min 1 s, counted in whole minutes rounded up
			"missed_earlier": "assign due 2026-03-02T09:45:00+08:00 missed by 4 min (left 2026-03-02T09:48:01+08:00)",
		} {
			if got := running[col]; got != want {
				t.Errorf("YQ-7 %s: got %q, want %q", col, got, want)
			}
		}
	})

	t.Run("text typed by people is data", func(t *testing.T) {
		for _, c := range []struct{ id, col, want string }{
			{"YQ-2", "title", "'+cmd|' /C calc'!A0"},
			{"YQ-2", "source", "'@SUM(1+1)"},
			{"YQ-10", "title", "'-1 point"},
			{"YQ-9", "title", "'\tTabbed"},
			{"YQ-9", "summary", "'\rreturn"},
			{"YQ-7", "title", "食堂, \"投诉\"\n第二行"},
		} {
			i := slices.Index(ids(rows), c.id)
			if got := rows[i][c.col]; got != c.want {
				t.Errorf("%s %s: got %q, want %q", c.id, c.col, got, c.want)
			}
		}
		// Commas, quotes and newlines are quoted as RFC 4180 says, and
		// Chinese text is UTF-8 as it was typed.
		if raw := rec.Body.String(); !strings.Contains(raw, "\"食堂, \"\"投诉\"\"\n第二行\"") {
			t.Errorf("the title of YQ-7 is not quoted in %q", raw)
		}
	})

	t.Run("names in the language asked for, keys in English", func(t *testing.T) {
		rows := mustCSV(t, f.get("/api/v1/incidents.csv?lang=zh-CN"))
		got := []string{rows[4]["level"], rows[4]["level_name"], rows[0]["status"], rows[0]["status_name"]}
		if want := []string{"major", workflow.LevelMajor.Text().ZH, "resolved", workflow.StatusResolved.Text().ZH}; !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})

	t.Run("resolved between the two reads", func(t *testing.T) {
		incs := exportIncidents()
		stale := incs[0].Clone() // YQ-3 as it stood, open, when the open incidents were read
		stale.Status, stale.ResolvedAt, stale.Summary = workflow.StatusAssigned, time.Time{}, ""
		f := newExportFixture(t, true, "", &exportStore{incidents: incs, staleOpen: []*workflow.Incident{stale}})
		rows := mustCSV(t, f.get("/api/v1/incidents.csv"))
		if want := []string{"YQ-3", "YQ-2", "YQ-9", "YQ-10", "YQ-7"}; !slices.Equal(ids(rows), want) || rows[0]["status"] != "resolved" {
			t.Errorf("got %q (YQ-3 %s), want %q with YQ-3 once, resolved", ids(rows), rows[0]["status"], want)
		}
	})

	t.Run("reads", func(t *testing.T) {
		from := now.Add(-30 * 24 * time.Hour)
		got := f.store.asked()
		want := []workflow.ListQuery{{Filter: workflow.ListOpen}, {Filter: workflow.ListResolved, From: from}}
		if len(got) < 2 || got[0].Filter != want[0].Filter || got[1].Filter != want[1].Filter || !got[1].From.Equal(from) || !got[1].To.IsZero() {
			t.Errorf("store asked %+v, want %+v", got, want)
		}
	})
}

// pagedTie is the millisecond in which 31 of pagedIncidents were resolved:
// about 490 were resolved before it.
var pagedTie = sh(2026, 2, 27, 0, 0, 0).Add(-702*time.Minute - 30*time.Second)

// pagedIncidents are 1,203 incidents resolved in February 2026 (more than
// two pages of an export), found in February but for every tenth, found in
// January; 31 of them, across the first page's end, resolved in one
// millisecond (nanoseconds apart). Then two open ones found in February.
func pagedIncidents() []*workflow.Incident {
	var incs []*workflow.Incident
	for i := range 1203 {
		found := sh(2026, 2, 1, 0, 0, 0).Add(time.Duration(i) * 30 * time.Minute % (26 * 24 * time.Hour))
		if i%10 == 9 {
			found = sh(2026, 1, 20, 9, 0, 0)
		}
		// Resolved in an order other than found's.
		resolved := sh(2026, 2, 27, 0, 0, 0).Add(-time.Duration((i*7919)%1203) * time.Minute)
		if i >= 480 && i <= 510 {
			resolved = pagedTie.Add(time.Duration(i) * time.Nanosecond)
		}
		incs = append(incs, &workflow.Incident{ID: fmt.Sprintf("YQ-%d", 100+i), Version: 3, Title: fmt.Sprintf("Complaint %d", i),
			Level: workflow.LevelGeneral, Category: workflow.CategoryOther, Status: workflow.StatusResolved,
			FoundAt: found, OpenedAt: found, OpenedBy: "chen", ResolvedAt: resolved, Summary: "done"})
	}
	for i, found := range []time.Time{sh(2026, 2, 3, 9, 0, 0), sh(2026, 2, 2, 9, 0, 0)} {
		incs = append(incs, &workflow.Incident{ID: fmt.Sprintf("YQ-%d", 10+i), Version: 1, Title: "open",
			Level: workflow.LevelGeneral, Category: workflow.CategoryOther, Status: workflow.StatusNew,
			FoundAt: found, OpenedAt: found, OpenedBy: "chen"})
	}
	return incs
}

// wantPaged is what an export of February shows of incs: the resolved ones
// found in February in the order resolved (by millisecond, then ID
// byte-wise), then the open ones by discovery.
func wantPaged(incs []*workflow.Incident) []string {
	var resolved, open []*workflow.Incident
	for _, inc := range incs {
		switch {
		case inc.FoundAt.Before(sh(2026, 2, 1, 0, 0, 0)):
		case inc.Open():
			open = append(open, inc)
		default:
			resolved = append(resolved, inc)
		}
	}
	slices.SortFunc(resolved, func(a, b *workflow.Incident) int {
		if c := cmp.Compare(a.ResolvedAt.UnixMilli(), b.ResolvedAt.UnixMilli()); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	slices.SortFunc(open, func(a, b *workflow.Incident) int { return a.FoundAt.Compare(b.FoundAt) })
	var out []string
	for _, inc := range append(resolved, open...) {
		out = append(out, inc.ID)
	}
	return out
}

// TestExportStreamsPages: the CSV reads the resolved incidents a page at a
// time, each page after the last one's resolution (so each read is as
// cheap as the first), and lists each exactly once, the same millisecond
// across a page's end included; the JSON and the statistics read the same.
func TestExportStreamsPages(t *testing.T) {
	const feb = "?from=2026-02-01&to=2026-02-28"
	t.Run("pages", func(t *testing.T) {
		incs := pagedIncidents()
		f := newExportFixture(t, true, "", &exportStore{incidents: incs})
		if got, want := ids(mustCSV(t, f.get("/api/v1/incidents.csv"+feb))), wantPaged(incs); !slices.Equal(got, want) {
			t.Fatalf("rows: got %d %q…, want %d %q…", len(got), got[:min(5, len(got))], len(want), want[:5])
		}
		asked := f.store.asked()
		if len(asked) != 4 || asked[0].Filter != workflow.ListOpen {
			t.Fatalf("reads: got %+v, want the open incidents, then 3 pages of the resolved", asked)
		}
		for i, q := range asked[1:] {
			if q.Filter != workflow.ListResolved || q.Limit != exportPageSize || q.Offset > 31 || !q.To.IsZero() {
				t.Errorf("read %d: got %+v, want a page of %d resolved from the last one read", i+1, q, exportPageSize)
			}
		}
		if !asked[1].From.Equal(sh(2026, 2, 1, 0, 0, 0)) || !asked[2].From.Equal(pagedTie) || asked[2].Offset == 0 {
			t.Errorf("pages 1 and 2 from %s +%d and %s +%d; want from the range's start, then from %s past those of that millisecond seen",
				asked[1].From, asked[1].Offset, asked[2].From, asked[2].Offset, pagedTie)
		}
	})
	t.Run("one reopened between two pages moves nothing else", func(t *testing.T) {
		incs := pagedIncidents()
		want := wantPaged(incs)
		early, late := want[3], want[len(want)-10] // on the first page, on the third
		f := newExportFixture(t, true, "", &exportStore{incidents: incs, onRead: func(s *exportStore, n int) error {
			if n == 2 { // before the second page
				for _, inc := range s.incidents {
					if inc.ID == early || inc.ID == late {
						inc.Status, inc.ResolvedAt = workflow.StatusAssigned, time.Time{}
					}
				}
			}
			return nil
		}})
		// The late one was not open when the open incidents were read.
		want = slices.DeleteFunc(want, func(id string) bool { return id == late })
		if got := ids(mustCSV(t, f.get("/api/v1/incidents.csv"+feb))); !slices.Equal(got, want) {
			t.Errorf("rows: got %d, want %d, each once", len(got), len(want))
		}
	})
	t.Run("JSON and statistics", func(t *testing.T) {
		incs := pagedIncidents()
		f := newExportFixture(t, true, "", &exportStore{incidents: incs})
		rec := f.get("/api/v1/incidents.json" + feb)
		got := decode[exportJSONRows](t, rec)
		var gotIDs []string
		for _, row := range got.Incidents {
			gotIDs = append(gotIDs, fmt.Sprint(row["id"]))
		}
		if want := wantPaged(incs); got.Count != len(want) || !slices.Equal(gotIDs, want) {
			t.Errorf("JSON: got %d rows, want %d in the CSV's order", got.Count, len(want))
		}
		stats := f.get("/stats?period=2026-02")
		if n := len(wantPaged(incs)); stats.Code != http.StatusOK || !strings.Contains(stats.Body.String(), fmt.Sprint(n)) {
			t.Errorf("GET /stats: got %d, want 200 counting %d incidents", stats.Code, n)
		}
	})
	t.Run("the store fails after the first rows", func(t *testing.T) {
		f := newExportFixture(t, true, "", &exportStore{incidents: pagedIncidents(), onRead: func(_ *exportStore, n int) error {
			if n == 2 {
				return workflow.Unavailable(io.ErrUnexpectedEOF)
			}
			return nil
		}})
		srv := httptest.NewServer(f.mux)
		defer srv.Close()
		res, err := http.Get(srv.URL + "/api/v1/incidents.csv" + feb)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK || err == nil {
			t.Errorf("got %d, %d bytes, read error %v; want 200, then the connection broken off (not a file that looks complete)",
				res.StatusCode, len(body), err)
		}
	})
}

// exportJSONRows is the JSON answer with every row as a map.
type exportJSONRows struct {
	From      time.Time        `json:"from"`
	To        time.Time        `json:"to"`
	Timezone  string           `json:"timezone"`
	Locale    string           `json:"locale"`
	Count     int              `json:"count"`
	Columns   []string         `json:"columns"`
	Incidents []map[string]any `json:"incidents"`
}

func TestExportJSON(t *testing.T) {
	f := newExportFixture(t, true, "", &exportStore{incidents: withMissed()})
	rec := f.get("/api/v1/incidents.json?from=2026-02-01&to=2026-02-28")
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %q, want 200", rec.Code, rec.Body)
	}
	got := decode[exportJSONRows](t, rec)
	if !got.From.Equal(sh(2026, 2, 1, 0, 0, 0)) || !got.To.Equal(sh(2026, 3, 1, 0, 0, 0)) || got.Timezone != "Asia/Shanghai" ||
		got.Locale != "en" || got.Count != 4 || !slices.Equal(got.Columns, exportColumns) {
		t.Errorf("got range %s..%s %s %s, %d rows, columns %q; want 2026-02-01..2026-03-01 in Asia/Shanghai, en, 4 rows, %q",
			got.From, got.To, got.Timezone, got.Locale, got.Count, got.Columns, exportColumns)
	}
	if !strings.Contains(rec.Body.String(), `"from":"2026-02-01T00:00:00+08:00","to":"2026-03-01T00:00:00+08:00"`) {
		t.Errorf("the range is not echoed in the roster's timezone: %.200s", rec.Body)
	}
	var gotIDs []string
	for _, row := range got.Incidents {
		gotIDs = append(gotIDs, fmt.Sprint(row["id"]))
		var keys []string
		for k := range row {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		want := slices.Sorted(slices.Values(exportColumns))
		if !slices.Equal(keys, want) {
			t.Errorf("%s: got keys %q, want %q", row["id"], keys, want)
		}
	}
	if want := []string{"YQ-3", "YQ-2", "YQ-9", "YQ-10"}; !slices.Equal(gotIDs, want) {
		t.Fatalf("rows: got %q, want %q", gotIDs, want)
	}
	// The keys come in the order of the CSV's columns.
	if raw := rec.Body.String(); !strings.Contains(raw, `{"id":"YQ-3","title":"Bus route complaint","level":"general",`) {
		t.Errorf("the row of YQ-3 does not start with id, title, level: %.300s", raw)
	}

	row := got.Incidents[0]
	for k, want := range map[string]any{
		"summary":     `=HYPERLINK("http://evil.example","click")`, // JSON is no spreadsheet: text as typed
		"spreading":   false,
		"resolved_at": "2026-02-11T05:00:00+08:00", "published_at": nil, "referred_at": nil,
		"assign_due": "2026-02-10T11:00:00+08:00", "assign_met": "2026-02-10T12:00:00+08:00", "assign_late_minutes": float64(60),
		"answer_late_minutes": float64(0), "report_due": nil, "report_met": nil, "report_late_minutes": nil,
	} {
		if row[k] != want {
			t.Errorf("YQ-3 %s: got %#v, want %#v", k, row[k], want)
		}
	}
	if missed, ok := row["missed_earlier"].([]any); !ok || len(missed) != 0 {
		t.Errorf("YQ-3 missed_earlier: got %#v, want an empty array", row["missed_earlier"])
	}
	// The deadlines of a process the incident left, as objects.
	all := decode[exportJSONRows](t, f.get("/api/v1/incidents.json"))
	i := slices.IndexFunc(all.Incidents, func(r map[string]any) bool { return r["id"] == "YQ-7" })
	if i < 0 {
		t.Fatal("YQ-7 is not in the last 30 days' export")
	}
	want := []any{map[string]any{"kind": "assign", "due": "2026-03-02T09:45:00+08:00", "left": "2026-03-02T09:48:01+08:00", "late_minutes": float64(4)}}
	if got := all.Incidents[i]["missed_earlier"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("YQ-7 missed_earlier: got %#v, want %#v", got, want)
	}
	if open := got.Incidents[1]; open["assignee"] != nil || open["assignee_name"] != nil || open["resolved_at"] != nil || open["assign_met"] != nil {
		t.Errorf("YQ-2: got assignee %#v %#v, resolved_at %#v, assign_met %#v; want null for none",
			open["assignee"], open["assignee_name"], open["resolved_at"], open["assign_met"])
	}
}

func TestExportRanges(t *testing.T) {
	open := func(id string, found time.Time) *workflow.Incident {
		return &workflow.Incident{ID: id, Version: 1, Title: id, Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Status: workflow.StatusNew, FoundAt: found, OpenedAt: found, OpenedBy: "chen"}
	}
	store := &exportStore{incidents: []*workflow.Incident{
		open("YQ-20", sh(2026, 1, 31, 23, 59, 59)),
		open("YQ-21", sh(2026, 2, 1, 0, 0, 0)),
		open("YQ-22", sh(2026, 2, 28, 23, 59, 59)),
		open("YQ-23", sh(2026, 3, 1, 0, 0, 0)),
		canteen(), // YQ-7, 2 March 09:40
	}}
	f := newExportFixture(t, true, "", store)
	tests := []struct {
		name  string
		query string
		want  []string
		file  string // the days of the file name
	}{
		{"the last 30 days", "", []string{"YQ-20", "YQ-21", "YQ-22", "YQ-23", "YQ-7"}, "2026-01-31-2026-03-02"},
		{"days: to includes its day", "from=2026-02-01&to=2026-02-28", []string{"YQ-21", "YQ-22"}, "2026-02-01-2026-02-28"},
		{"one day", "from=2026-02-01&to=2026-02-01", []string{"YQ-21"}, "2026-02-01-2026-02-01"},
		{"RFC 3339 in UTC, to exclusive", "from=2026-01-31T16:00:00Z&to=2026-02-28T16:00:00Z", []string{"YQ-21", "YQ-22"}, "2026-02-01-2026-02-28"},
		{"RFC 3339 with an offset", "from=2026-02-01T00:00:00%2B08:00&to=2026-03-01T00:00:00%2B08:00", []string{"YQ-21", "YQ-22"}, "2026-02-01-2026-02-28"},
		{"an offset whose + was not escaped", "from=2026-02-01T00:00:00+08:00&to=2026-03-01T00:00:00+08:00", []string{"YQ-21", "YQ-22"}, "2026-02-01-2026-02-28"},
		{"from alone: up to now", "from=2026-02-28", []string{"YQ-22", "YQ-23", "YQ-7"}, "2026-02-28-2026-03-02"},
		{"to alone: the 30 days before", "to=2026-02-01", []string{"YQ-20", "YQ-21"}, "2026-01-03-2026-02-01"},
		{"a leap year is not too long", "from=2024-01-01&to=2024-12-31", nil, "2024-01-01-2024-12-31"},
		{"surrounding spaces", "from=%202026-02-01%20&to=2026-02-01", []string{"YQ-21"}, "2026-02-01-2026-02-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get("/api/v1/incidents.csv?" + tt.query)
			rows := mustCSV(t, rec)
			if !slices.Equal(ids(rows), tt.want) {
				t.Errorf("?%s: got %q, want %q", tt.query, ids(rows), tt.want)
			}
			if got, want := rec.Header().Get("Content-Disposition"), `attachment; filename="firebreak-incidents-`+tt.file+`.csv"`; got != want {
				t.Errorf("?%s: got %s, want %s", tt.query, got, want)
			}
		})
	}

	bad := []struct {
		name   string
		query  string
		en, zh string // in the message of each language
	}{
		{"not a date", "from=2026-13-01", `from="2026-13-01" is not a date or time: use YYYY-MM-DD`, `from="2026-13-01" 不是日期或时间`},
		{"not a time", "to=yesterday", `to="yesterday" is not a date or time`, `to="yesterday" 不是日期或时间`},
		{"a time without its zone", "to=2026-03-01T09:00:00", `to="2026-03-01T09:00:00" is not a date or time`, "RFC 3339"},
		{"backwards", "from=2026-03-05&to=2026-03-04", "the range is empty or runs backwards: from 2026-03-05 must come before to 2026-03-04", "from 2026-03-05 必须早于 to 2026-03-04"},
		{"empty", "from=2026-03-01T09:00:00Z&to=2026-03-01T09:00:00Z", "the range is empty or runs backwards", "时间范围为空"},
		{"from in the future", "from=2026-03-03", "from 2026-03-03 must come before to 2026-03-02T10:00:00+08:00 (now)", "必须早于 to 2026-03-02T10:00:00+08:00(现在)"},
		{"over a year", "from=2024-01-01&to=2025-01-01", "more than 366 days; export at most a year at a time", "超过 366 天"},
		{"a long value is cut", "from=" + strings.Repeat("x", 200), `from="` + strings.Repeat("x", 40) + `…"`, "不是日期"},
	}
	for _, tt := range bad {
		t.Run("400: "+tt.name, func(t *testing.T) {
			before := len(store.asked())
			for _, path := range []string{"/api/v1/incidents.csv", "/api/v1/incidents.json"} {
				for lang, want := range map[string]string{workflow.LocaleEN: tt.en, workflow.LocaleZH: tt.zh} {
					q, _ := url.ParseQuery(tt.query)
					q.Set("lang", lang)
					rec := f.get(path + "?" + q.Encode())
					if rec.Code != http.StatusBadRequest {
						t.Errorf("GET %s?%s: got %d %.200q, want 400", path, q.Encode(), rec.Code, rec.Body)
						continue
					}
					if e := decode[apiError](t, rec); e.Code != "invalid" || !strings.Contains(e.Error, want) {
						t.Errorf("GET %s?%s: got %+v, want code invalid saying %q", path, q.Encode(), e, want)
					}
				}
			}
			if after := len(store.asked()); after != before {
				t.Errorf("a bad range read the store %d times, want none", after-before)
			}
		})
	}
}

func TestExportAccess(t *testing.T) {
	const token = "correct-horse-battery-staple"
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	cookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: CookieName, Value: sessionValue(token)}) }
	tests := []struct {
		name       string
		playground bool
		token      string
		mod        []func(*http.Request)
		wantCode   int
		wantBody   string
	}{
		{"playground: no token needed", true, "", nil, 200, "YQ-7"},
		{"production: without the token", false, token, nil, 401, `"unauthorized"`},
		{"production: a wrong token", false, token, []func(*http.Request){bearer("guess")}, 401, `"unauthorized"`},
		{"production: the bearer token", false, token, []func(*http.Request){bearer(token)}, 200, "YQ-7"},
		{"production: the session cookie", false, token, []func(*http.Request){cookie}, 200, "YQ-7"},
		{"production without a token: off", false, "", []func(*http.Request){bearer("")}, 403, "FIREBREAK_BOARD_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &exportStore{incidents: []*workflow.Incident{canteen()}}
			f := newExportFixture(t, tt.playground, tt.token, store)
			for _, path := range []string{"/api/v1/incidents.csv", "/api/v1/incidents.json"} {
				rec := f.get(path, tt.mod...)
				if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
					t.Errorf("GET %s: got %d %.200q, want %d containing %q", path, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
				}
			}
			if tt.wantCode != http.StatusOK && len(store.asked()) != 0 {
				t.Errorf("a refused request read the store: %+v", store.asked())
			}
		})
	}
}

func TestExportStorageUnavailable(t *testing.T) {
	paths := []string{"/api/v1/incidents.csv", "/api/v1/incidents.json"}
	t.Run("the store fails", func(t *testing.T) {
		f := newExportFixture(t, true, "", &exportStore{err: workflow.Unavailable(io.ErrUnexpectedEOF)})
		for _, path := range paths {
			for _, lang := range []string{workflow.LocaleEN, workflow.LocaleZH} {
				rec := f.get(path + "?lang=" + lang)
				if rec.Code != http.StatusServiceUnavailable {
					t.Errorf("GET %s: got %d %q, want 503", path, rec.Code, rec.Body)
					continue
				}
				if e := decode[apiError](t, rec); e.Code != "unavailable" || e.Error != label(lang, "msg.unavailable") {
					t.Errorf("GET %s?lang=%s: got %+v, want unavailable saying %q", path, lang, e, label(lang, "msg.unavailable"))
				}
			}
		}
	})
	t.Run("the store stalls", func(t *testing.T) {
		const timeout = 50 * time.Millisecond
		for _, honour := range []bool{true, false} {
			store := &stalledStore{honour: honour, release: make(chan struct{})}
			srv := New(Config{Router: &fakeRouter{}, Incidents: store, Roster: testRoster(t), Clock: workflow.NewManualClock(now),
				Playground: true, StoreTimeout: timeout})
			mux := http.NewServeMux()
			srv.Register(mux)
			for _, path := range paths {
				start := time.Now()
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if took := time.Since(start); rec.Code != http.StatusServiceUnavailable || took > 20*timeout {
					t.Errorf("GET %s, store honours deadlines %v: got %d after %s, want 503 within about %s", path, honour, rec.Code, took, timeout)
				}
			}
			close(store.release)
			srv.Close()
		}
	})
}

func TestCSVCell(t *testing.T) {
	loc := mustLocation(t, "Asia/Shanghai")
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"a formula", "=1+1", "'=1+1"},
		{"a plus", "+86 10 1234", "'+86 10 1234"},
		{"a minus", "-2+3", "'-2+3"},
		{"an at", "@SUM(A1)", "'@SUM(A1)"},
		{"a tab", "\t=1", "'\t=1"},
		{"a carriage return", "\r=1", "'\r=1"},
		{"plain text", "Canteen complaint", "Canteen complaint"},
		{"Chinese", "食堂投诉", "食堂投诉"},
		{"an equals sign inside", "a=b", "a=b"},
		{"empty", "", ""},
		{"none", nil, ""},
		{"a flag", true, "true"},
		{"minutes", 42, "42"},
		{"a time, in the roster's timezone", time.Date(2026, 3, 2, 1, 30, 15, 500e6, time.UTC), "2026-03-02T09:30:15+08:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := csvCell(tt.v, loc); got != tt.want {
				t.Errorf("csvCell(%q): got %q, want %q", tt.v, got, tt.want)
			}
		})
	}
}

func TestLateMinutes(t *testing.T) {
	due := sh(2026, 3, 1, 10, 0, 0)
	openInc := &workflow.Incident{Status: workflow.StatusNew}
	resolvedAt := func(t time.Time) *workflow.Incident {
		return &workflow.Incident{Status: workflow.StatusResolved, ResolvedAt: t}
	}
	tests := []struct {
		name   string
		inc    *workflow.Incident
		met    time.Time
		now    time.Time
		want   int
		wantOK bool
	}{
		{"met on time", openInc, due.Add(-time.Minute), due.Add(time.Hour), 0, true},
		{"met at the due instant", openInc, due, due.Add(time.Hour), 0, true},
		{"met late", openInc, due.Add(90 * time.Minute), due.Add(3 * time.Hour), 90, true},
		{"met a second late: a minute", openInc, due.Add(time.Second), due.Add(time.Hour), 1, true},
		{"open, not yet due", openInc, time.Time{}, due.Add(-time.Minute), 0, false},
		{"open, overdue", openInc, time.Time{}, due.Add(25 * time.Minute), 25, true},
		{"resolved late, left unmet", resolvedAt(due.Add(2 * time.Hour)), time.Time{}, due.Add(48 * time.Hour), 120, true},
		{"resolved before it fell, left unmet", resolvedAt(due.Add(-time.Hour)), time.Time{}, due.Add(48 * time.Hour), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := workflow.Deadline{Kind: workflow.DeadlineRespond, From: due.Add(-3 * time.Hour), Due: due, MetAt: tt.met}
			got, ok := lateMinutes(tt.inc, d, tt.now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// The JSON of a row keeps the columns' order and types.
func TestExportObjectJSON(t *testing.T) {
	row := make(exportObject, len(exportColumns))
	row[0], row[1] = "YQ-1", "a \"quoted\" <title>"
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"YQ-1","title":"a \"quoted\" \u003ctitle\u003e","level":null,`
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("got %.120s, want it to start with %s", b, want)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || len(m) != len(exportColumns) {
		t.Errorf("decode: %v, %d keys, want %d", err, len(m), len(exportColumns))
	}
}
