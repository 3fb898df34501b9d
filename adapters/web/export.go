package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
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

// exportIncidents returns the incidents discovered in rg, ordered by
// discovery, then ID: the open ones, and the resolved ones resolved since
// rg.From (an incident is resolved after it was found, so that covers every
// one found in rg). Both reads share one StoreTimeout.
//
// The open incidents are read first: one resolved between the two reads is
// then in both (and kept once, as resolved) rather than in neither.
// Incidents resolved before the resolved index existed (an earlier
// release) are not in it, so they are missing from exports.
func (s *Server) exportIncidents(ctx context.Context, rg exportRange) ([]*workflow.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StoreTimeout)
	defer cancel()
	open, err := s.cfg.Incidents.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil {
		return nil, err
	}
	resolved, err := s.cfg.Incidents.List(ctx, workflow.ListQuery{Filter: workflow.ListResolved, From: rg.From})
	if err != nil {
		return nil, err
	}
	byID := map[string]*workflow.Incident{}
	for _, inc := range append(open, resolved...) {
		if !inc.FoundAt.Before(rg.From) && inc.FoundAt.Before(rg.To) {
			byID[inc.ID] = inc
		}
	}
	out := make([]*workflow.Incident, 0, len(byID))
	for _, inc := range byID {
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b *workflow.Incident) int {
		if c := a.FoundAt.Compare(b.FoundAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	return out, nil
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
// workflow.DeadlineKinds, <kind>_due, <kind>_met and <kind>_late_minutes.
var exportColumns = func() []string {
	cols := []string{"id", "title", "level", "level_name", "category", "category_name", "status", "status_name",
		"department", "department_name", "assignee", "assignee_name", "source",
		"found_at", "opened_at", "resolved_at", "spreading", "published_at", "referred_at", "summary"}
	for _, k := range workflow.DeadlineKinds {
		cols = append(cols, string(k)+"_due", string(k)+"_met", string(k)+"_late_minutes")
	}
	return cols
}()

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
	return row
}

// lateMinutes is by how many minutes (rounded up) deadline d of inc was or
// is missed at now: 0 when met on time; for a met deadline, from its due
// time to when it was met; for an unmet one past due, to now while inc is
// open, or to its resolution when it was left unmet. False when it cannot
// be said yet (unmet and not due), or inc was resolved before it fell.
func lateMinutes(inc *workflow.Incident, d workflow.Deadline, now time.Time) (int, bool) {
	end := now
	switch {
	case d.Met():
		if !d.Late(d.MetAt) {
			return 0, true
		}
		end = d.MetAt
	case !inc.Open():
		if inc.ResolvedAt.IsZero() || !d.Late(inc.ResolvedAt) {
			return 0, false
		}
		end = inc.ResolvedAt
	case !d.Late(now):
		return 0, false
	}
	late := workflow.Instant(end).Sub(d.Due)
	return int((late + time.Minute - 1) / time.Minute), true
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

// exportRows reads the incidents of the request's range; on failure it
// has answered the request and returns false.
func (s *Server) exportRows(w http.ResponseWriter, r *http.Request) (exportRange, []exportRow, bool) {
	now := s.cfg.Clock.Now()
	rg, msg := exportRangeOf(r.URL.Query(), now, s.cfg.Roster.Location())
	if msg != nil {
		writeError(w, http.StatusBadRequest, "invalid", msg.In(s.localeOf(r)))
		return rg, nil, false
	}
	incs, err := s.exportIncidents(r.Context(), rg)
	if err != nil {
		s.writeFailure(w, r, err)
		return rg, nil, false
	}
	v := s.views(r)
	rows := make([]exportRow, len(incs))
	for i, inc := range incs {
		rows[i] = v.row(inc, now)
	}
	return rg, rows, true
}

// exportCSV answers GET /api/v1/incidents.csv: UTF-8 with a BOM, the
// header of exportColumns, one row per incident, times in RFC 3339 in the
// roster's timezone, as an attachment named by the range's days.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request) {
	rg, rows, ok := s.exportRows(w, r)
	if !ok {
		return
	}
	loc := s.cfg.Roster.Location()
	from, to := rg.days(loc)
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="firebreak-incidents-%s-%s.csv"`, from, to))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	// A write error is the client gone: there is nothing to answer it with.
	if _, err := io.WriteString(w, bom); err != nil {
		return
	}
	// Lines end in LF, which spreadsheet programs read as well as CRLF:
	// with UseCRLF, encoding/csv would drop a lone CR typed in a title.
	cw := csv.NewWriter(w)
	_ = cw.Write(exportColumns)
	record := make([]string, len(exportColumns))
	for _, row := range rows {
		for i, v := range row {
			record[i] = csvCell(v, loc)
		}
		_ = cw.Write(record)
	}
	cw.Flush()
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
func (s *Server) exportJSON(w http.ResponseWriter, r *http.Request) {
	rg, rows, ok := s.exportRows(w, r)
	if !ok {
		return
	}
	loc := s.cfg.Roster.Location()
	out := exportJSONBody{From: rg.From.In(loc), To: rg.To.In(loc), Timezone: loc.String(), Locale: s.localeOf(r),
		Count: len(rows), Columns: exportColumns, Incidents: make([]exportObject, len(rows))}
	for i, row := range rows {
		out.Incidents[i] = exportObject(row)
	}
	writeJSON(w, http.StatusOK, out)
}
