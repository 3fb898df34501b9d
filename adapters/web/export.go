package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Export: GET /api/v1/incidents.csv and GET /api/v1/incidents.json list
// every incident discovered in a range of time, open and resolved, one row
// each with its deadlines, for spreadsheets and other tools (the record the
// plans ask for: 做好记录、统计). Both formats carry the same columns under
// the same stable English keys (exportColumns); names of levels, statuses,
// departments and people are in the request's language, beside the keys.

// exportDefaultSpan is the range exported when the request names none: the
// last 30 days up to now, as the board's charts.
const exportDefaultSpan = chartWindow

// exportMaxDays bounds the range of one export, in days of the roster's
// calendar (a leap year fits).
const exportMaxDays = 366

// exportRange is the range of discovery times an export covers: [From, To).
type exportRange struct {
	From, To time.Time
}

// days names the range by the calendar days it covers in loc, for the
// file's name: the day of From and the day of the last instant before To.
func (rg exportRange) days(loc *time.Location) (string, string) {
	return rg.From.In(loc).Format(time.DateOnly), rg.To.Add(-time.Nanosecond).In(loc).Format(time.DateOnly)
}

// msgExportBadTime says that the value of param is neither a day nor a time.
func msgExportBadTime(param, value string) workflow.Text {
	return workflow.Text{
		EN: fmt.Sprintf("%s=%q is not a date or time: use YYYY-MM-DD (%s=2026-03-01) or RFC 3339 (%s=2026-03-01T09:00:00%%2B08:00)",
			param, clip(value), param, param),
		ZH: fmt.Sprintf("%s=%q 不是日期或时间:请用 YYYY-MM-DD(%s=2026-03-01)或 RFC 3339(%s=2026-03-01T09:00:00%%2B08:00)",
			param, clip(value), param, param),
	}
}

// msgExportBackwards says that the range from..to holds no instant; toNow
// says that to was not given (it is now).
func msgExportBackwards(from, to string, toNow bool) workflow.Text {
	en, zh := to, to
	if toNow {
		en, zh = to+" (now)", to+"(现在)"
	}
	return workflow.Text{
		EN: fmt.Sprintf("the range is empty or runs backwards: from %s must come before to %s; for example from=2026-03-01&to=2026-03-31",
			from, en),
		ZH: fmt.Sprintf("时间范围为空或起止颠倒:from %s 必须早于 to %s;例如 from=2026-03-01&to=2026-03-31", from, zh),
	}
}

// msgExportTooLong says that a range is longer than an export may be.
var msgExportTooLong = workflow.Text{
	EN: fmt.Sprintf("the range spans more than %d days; export at most a year at a time, for example from=2025-04-01&to=2026-03-31", exportMaxDays),
	ZH: fmt.Sprintf("时间范围超过 %d 天;每次最多导出一年,例如 from=2025-04-01&to=2026-03-31", exportMaxDays),
}

// clip shortens a value echoed in a message.
func clip(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// parseBound reads from or to: a calendar day in loc (YYYY-MM-DD; day is
// true, t its first instant) or an RFC 3339 time. A "+" of an offset that
// arrived as a space (an unescaped query string) is read as "+".
func parseBound(v string, loc *time.Location) (t time.Time, day, ok bool) {
	if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return d, true, true
	}
	if t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); err == nil {
		return t, false, true
	}
	return time.Time{}, false, false
}

// exportRangeOf reads the range of a request at now. A day as from starts
// at its midnight in loc; a day as to includes that day, up to the next
// midnight; RFC 3339 times are taken as they are (to exclusive). Without
// to, the range ends now; without from, it starts 30 days before its end.
func exportRangeOf(q url.Values, now time.Time, loc *time.Location) (exportRange, *workflow.Text) {
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	rg := exportRange{To: now}
	// What from and to were, as the person wrote them, or as defaulted.
	fromText, toText := get("from"), get("to")
	if v := toText; v != "" {
		t, day, ok := parseBound(v, loc)
		if !ok {
			msg := msgExportBadTime("to", v)
			return rg, &msg
		}
		if day {
			t = t.AddDate(0, 0, 1)
		}
		rg.To = t
	}
	rg.From = rg.To.Add(-exportDefaultSpan)
	if v := fromText; v != "" {
		t, _, ok := parseBound(v, loc)
		if !ok {
			msg := msgExportBadTime("from", v)
			return rg, &msg
		}
		rg.From = t
	}
	if !rg.From.Before(rg.To) {
		if fromText == "" {
			fromText = rg.From.In(loc).Format(time.RFC3339)
		}
		toNow := toText == ""
		if toNow {
			toText = rg.To.In(loc).Format(time.RFC3339)
		}
		msg := msgExportBackwards(clip(fromText), clip(toText), toNow)
		return rg, &msg
	}
	if rg.To.After(rg.From.In(loc).AddDate(0, 0, exportMaxDays)) {
		msg := msgExportTooLong
		return rg, &msg
	}
	return rg, nil
}

// exportPageSize is how many resolved incidents an export reads from the
// store at a time: what it holds in memory, besides the open incidents,
// however long the range.
const exportPageSize = 500

// eachIncident calls fn with every incident discovered in rg: first those
// resolved since rg.From (an incident is resolved after it was found, so
// that covers every resolved one found in rg), in the order they were
// resolved, read exportPageSize at a time; then the open ones, by discovery,
// then ID. It holds the open incidents (the office's current work, not its
// history) and one page of the resolved, never the whole range. Each read
// is bounded by StoreTimeout on its own (Config.Incidents is bounded); an
// error of fn ends the walk and is returned.
//
// The open incidents are read first and those found resolved are left out
// of them: one resolved between the two reads is then listed once, as
// resolved, rather than not at all. Incidents resolved before the resolved
// index existed (an earlier release) are not in it, so they are missing.
func (s *Server) eachIncident(ctx context.Context, rg exportRange, fn func(*workflow.Incident) error) error {
	inRange := func(inc *workflow.Incident) bool { return !inc.FoundAt.Before(rg.From) && inc.FoundAt.Before(rg.To) }
	open, err := s.cfg.Incidents.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil {
		return err
	}
	stillOpen := make(map[string]*workflow.Incident, len(open))
	for _, inc := range open {
		if inRange(inc) {
			stillOpen[inc.ID] = inc
		}
	}
	q := workflow.ListQuery{Filter: workflow.ListResolved, From: rg.From, Limit: exportPageSize}
	for {
		p, err := s.cfg.Incidents.ListPage(ctx, q)
		if err != nil {
			return err
		}
		for _, inc := range p.Incidents {
			delete(stillOpen, inc.ID)
			if inRange(inc) {
				if err := fn(inc); err != nil {
					return err
				}
			}
		}
		if q.Offset+q.Limit >= p.Total {
			break
		}
		q = nextResolvedPage(q, p.Incidents)
	}
	rest := slices.Collect(maps.Values(stillOpen))
	slices.SortFunc(rest, func(a, b *workflow.Incident) int {
		if c := a.FoundAt.Compare(b.FoundAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	for _, inc := range rest {
		if err := fn(inc); err != nil {
			return err
		}
	}
	return nil
}

// nextResolvedPage is the query of the page of resolved incidents after
// page, read with q. It starts from the last one's resolution (the index
// counts milliseconds) and skips those of that millisecond already seen,
// rather than counting an offset from the start: each read then costs the
// same however far the walk has gone, and an incident reopened meanwhile
// (which leaves the index) moves nothing else out of its place. A page of
// which nothing could be read (every incident reopened or gone) is skipped
// by offset.
func nextResolvedPage(q workflow.ListQuery, page []*workflow.Incident) workflow.ListQuery {
	if len(page) == 0 {
		q.Offset += q.Limit
		return q
	}
	last := page[len(page)-1].ResolvedAt.UnixMilli()
	same := 0
	for i := len(page) - 1; i >= 0 && page[i].ResolvedAt.UnixMilli() == last; i-- {
		same++
	}
	if q.From.UnixMilli() == last {
		q.Offset += same
		return q
	}
	q.From, q.Offset = time.UnixMilli(last), same
	return q
}

// exportIncidents returns every incident eachIncident walks, for the
// statistics page and the JSON export, which need them all at once.
func (s *Server) exportIncidents(ctx context.Context, rg exportRange) ([]*workflow.Incident, error) {
	var out []*workflow.Incident
	err := s.eachIncident(ctx, rg, func(inc *workflow.Incident) error {
		out = append(out, inc)
		return nil
	})
	return out, err
}

// compareIDs orders incident IDs by number: YQ-9 before YQ-10.
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// exportColumns are the keys of an export's columns, in order: the CSV's
// header and the JSON rows' keys. Then, for each kind of
// workflow.DeadlineKinds, <kind>_due, <kind>_met and <kind>_late_minutes
// of the deadlines of the incident's process; then missed_earlier, the
// deadlines of the processes it left (an escalation, a change of level)
// that were past due and unmet then (workflow.Incident.Missed).
var exportColumns = func() []string {
	cols := []string{"id", "title", "level", "level_name", "category", "category_name", "status", "status_name",
		"department", "department_name", "assignee", "assignee_name", "source",
		"found_at", "opened_at", "resolved_at", "spreading", "published_at", "referred_at", "summary"}
	for _, k := range workflow.DeadlineKinds {
		cols = append(cols, string(k)+"_due", string(k)+"_met", string(k)+"_late_minutes")
	}
	return append(cols, "missed_earlier")
}()

// missedEarlier is the missed_earlier column: in the CSV one cell,
// "assign due 2026-12-01T10:00:00+08:00 missed by 45 min (left
// 2026-12-01T10:45:00+08:00)" for each, joined by "; "; in the JSON an
// array of objects, empty for none.
type missedEarlier []missedDeadline

// missedDeadline is a deadline of a process the incident left unmet.
type missedDeadline struct {
	Kind        string    `json:"kind"`
	Due         time.Time `json:"due"`
	Left        time.Time `json:"left"`
	LateMinutes int       `json:"late_minutes"`
}

// String is the CSV cell.
func (m missedEarlier) String() string {
	parts := make([]string, len(m))
	for i, d := range m {
		parts[i] = fmt.Sprintf("%s due %s missed by %d min (left %s)",
			d.Kind, d.Due.Format(time.RFC3339), d.LateMinutes, d.Left.Format(time.RFC3339))
	}
	return strings.Join(parts, "; ")
}

// exportRow is one incident's values, in the order of exportColumns: a
// string, a bool, an int, a time.Time, or nil for none.
type exportRow []any

// row is inc's export at now, names in the views' locale.
func (v views) row(inc *workflow.Incident, now time.Time) exportRow {
	text := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	at := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.In(v.roster.Location())
	}
	row := exportRow{inc.ID, inc.Title, string(inc.Level), inc.Level.Text().In(v.locale),
		string(inc.Category), inc.Category.Text().In(v.locale), string(inc.Status), inc.Status.Text().In(v.locale),
		text(inc.Department), text(v.name(inc.Department)), text(inc.Assignee), text(v.name(inc.Assignee)), text(inc.Source),
		at(inc.FoundAt), at(inc.OpenedAt), at(inc.ResolvedAt), inc.Spreading, at(inc.PublishedAt()), at(inc.ReferredAt),
		text(inc.Summary)}
	byKind := map[workflow.DeadlineKind]workflow.Deadline{}
	for _, d := range inc.Deadlines(v.roster.Policy, v.roster.Calendar()) {
		byKind[d.Kind] = d
	}
	for _, k := range workflow.DeadlineKinds {
		d, ok := byKind[k]
		if !ok {
			row = append(row, nil, nil, nil)
			continue
		}
		var late any
		if n, ok := lateMinutes(inc, d, now); ok {
			late = n
		}
		row = append(row, at(d.Due), at(d.MetAt), late)
	}
	missed := missedEarlier{}
	for _, d := range inc.Missed {
		late, _ := lateMinutes(inc, d, now)
		missed = append(missed, missedDeadline{Kind: string(d.Kind), Due: d.Due.In(v.roster.Location()),
			Left: d.Left.In(v.roster.Location()), LateMinutes: late})
	}
	return append(row, missed)
}

// lateMinutes is by how many minutes (rounded up) deadline d of inc was or
// is missed at now: 0 when met on time; for a deadline of a process inc
// left, from its due time to when it left; for a met deadline, from its due
// time to when it was met; for an unmet one past due, to now while inc is
// open, or to its resolution when it was left unmet. False when it cannot
// be said yet (unmet and not due), or inc was resolved before it fell.
func lateMinutes(inc *workflow.Incident, d workflow.Deadline, now time.Time) (int, bool) {
	if d.Outcome(inc, now) == workflow.OutcomeOnTime {
		return 0, true
	}
	late, ok := d.Lateness(inc, now)
	if !ok {
		return 0, false
	}
	return workflow.LateMinutes(late), true
}

// csvCell is one value of a CSV row. A text that a spreadsheet would take
// for a formula (it starts with =, +, -, @, a tab or a carriage return)
// gets a leading apostrophe, which the spreadsheet shows as text (OWASP's
// advice against CSV injection): titles, sources and summaries are typed
// by people, so they are data, never formulas.
func csvCell(v any, loc *time.Location) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			return "'" + v
		}
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case time.Time:
		return v.In(loc).Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// bom starts the CSV, so that spreadsheet programs read it as UTF-8 (and
// show Chinese text as such).
const bom = "\xef\xbb\xbf"

// exportRangeOfRequest reads the range of the request; when it does not
// parse it has answered 400 and returns false.
func (s *Server) exportRangeOfRequest(w http.ResponseWriter, r *http.Request, now time.Time) (exportRange, bool) {
	rg, msg := exportRangeOf(r.URL.Query(), now, s.cfg.Roster.Location())
	if msg != nil {
		writeError(w, http.StatusBadRequest, "invalid", msg.In(s.localeOf(r)))
		return rg, false
	}
	return rg, true
}

// exportCSV answers GET /api/v1/incidents.csv: UTF-8 with a BOM, the
// header of exportColumns, one row per incident (eachIncident's order),
// times in RFC 3339 in the roster's timezone, as an attachment named by the
// range's days. The rows are written as the pages of incidents are read,
// so the answer streams whatever the range holds. The status is sent with
// the first row (or at the end of an empty export): a store that fails
// before then gets the usual error answer; one that fails after it breaks
// the connection off, so that the client sees a failed download, not a
// shorter file that looks complete.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Clock.Now()
	rg, ok := s.exportRangeOfRequest(w, r, now)
	if !ok {
		return
	}
	loc := s.cfg.Roster.Location()
	v := s.views(r)
	// Lines end in LF, which spreadsheet programs read as well as CRLF:
	// with UseCRLF, encoding/csv would drop a lone CR typed in a title.
	cw := csv.NewWriter(w)
	record := make([]string, len(exportColumns))
	started := false
	start := func() error {
		started = true
		from, to := rg.days(loc)
		h := w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="firebreak-incidents-%s-%s.csv"`, from, to))
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(w, bom); err != nil {
			return err
		}
		return cw.Write(exportColumns)
	}
	err := s.eachIncident(r.Context(), rg, func(inc *workflow.Incident) error {
		if !started {
			if err := start(); err != nil {
				return err
			}
		}
		for i, val := range v.row(inc, now) {
			record[i] = csvCell(val, loc)
		}
		return cw.Write(record) // an error: the client is gone
	})
	if err == nil && !started {
		err = start()
	}
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	switch {
	case err == nil:
	case !started:
		s.writeFailure(w, r, err)
	default:
		if r.Context().Err() == nil {
			s.cfg.Log.Warn("export broken off after its first rows", "path", r.URL.Path, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
}

// exportObject is one row as a JSON object with exportColumns' keys, in
// their order; times are RFC 3339 in the roster's timezone, null for none.
type exportObject exportRow

// MarshalJSON writes the row's keys in the order of exportColumns.
func (o exportObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, v := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, exportColumns[i])
		b = append(b, ':')
		vb, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("export column %s: %w", exportColumns[i], err)
		}
		b = append(b, vb...)
	}
	return append(b, '}'), nil
}

// exportJSONBody is the answer of GET /api/v1/incidents.json: the range
// (to exclusive) and the rows.
type exportJSONBody struct {
	From      time.Time      `json:"from"`
	To        time.Time      `json:"to"`
	Timezone  string         `json:"timezone"`
	Locale    string         `json:"locale"`
	Count     int            `json:"count"`
	Columns   []string       `json:"columns"`
	Incidents []exportObject `json:"incidents"`
}

// exportJSON answers GET /api/v1/incidents.json: the rows of the CSV as
// objects, with the range echoed.
//
// Unlike the CSV it is built whole before it is sent (its count comes
// first), from the same walk.
func (s *Server) exportJSON(w http.ResponseWriter, r *http.Request) {
	now := s.cfg.Clock.Now()
	rg, ok := s.exportRangeOfRequest(w, r, now)
	if !ok {
		return
	}
	incs, err := s.exportIncidents(r.Context(), rg)
	if err != nil {
		s.writeFailure(w, r, err)
		return
	}
	v := s.views(r)
	rows := make([]exportRow, len(incs))
	for i, inc := range incs {
		rows[i] = v.row(inc, now)
	}
	loc := s.cfg.Roster.Location()
	out := exportJSONBody{From: rg.From.In(loc), To: rg.To.In(loc), Timezone: loc.String(), Locale: s.localeOf(r),
		Count: len(rows), Columns: exportColumns, Incidents: make([]exportObject, len(rows))}
	for i, row := range rows {
		out.Incidents[i] = exportObject(row)
	}
	writeJSON(w, http.StatusOK, out)
}
