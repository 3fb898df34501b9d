package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// The statistics page: GET /stats?period=week|month|YYYY-MM|YYYY-MM-DD..YYYY-MM-DD
// shows the figures of the incidents found in a period
// (workflow.ComputeStats, the same as the stats command) as tables and SVG
// bar charts in the board's style, drawn on the server: the page needs no
// script to show them. Same token rules as the board.

// statsLevelColors are the board's colours of the levels (board.js).
var statsLevelColors = map[string]string{"general": "#5b7fb8", "major": "#e07b24", "critical": "#b3261e"}

// statsBarColor is the colour of bars that stand for no level.
const statsBarColor = "#5b7fb8"

// The drawing area of a chart, as the board's (board.js W, H, M).
const (
	barW, barH                           = 560, 250
	barLeft, barRight, barTop, barBottom = 40, 14, 14, 52
)

// statsPageData is what templates/stats.html shows.
type statsPageData struct {
	pageData
	// Period is the period as asked for (for the form); PeriodText names
	// it; AsOf is the instant the figures are as of.
	Period, PeriodText, AsOf string
	Stats                    workflow.Stats
	Summary                  []statsRow
	Deadlines                []statsDeadlineRow
	Reply                    string
	Sources                  []statsRow
	Charts                   []barChart
}

// statsRow is a name and a value.
type statsRow struct {
	Name  string
	Value string
}

// statsDeadlineRow is one kind of deadline, as the table shows it.
type statsDeadlineRow struct {
	Kind, Name                               string
	Share                                    string
	OnTime, Missed, Pending                  int
	LateMedian, LateP90, MeetMedian, MeetP90 string
}

// barChart is one SVG bar chart, laid out.
type barChart struct {
	ID, Title        string
	Width, Height    int
	Bars             []chartBar
	Ticks            []chartTick
	Left, Right, Top int
	Base             int // the y of the value 0
	Empty            bool
}

// chartBar is one bar and its labels.
type chartBar struct {
	Key, Name, Value string
	Fill             string
	N                int
	X, Y, W, H       int
	CX, ValueY       int
	Lines            []string // the name under the bar, in at most two lines
}

// chartTick is one line of the y axis.
type chartTick struct {
	Y     int
	Label string
}

// statsPage answers GET /stats.
func (s *Server) statsPage(w http.ResponseWriter, r *http.Request) {
	locale := s.localeOf(r)
	loc := s.cfg.Roster.Location()
	now := s.cfg.Clock.Now()
	asked := strings.TrimSpace(r.URL.Query().Get("period"))
	p, err := workflow.ParsePeriod(asked, now, loc)
	if err != nil {
		msg := err.Error()
		if t := workflow.ErrorText(err); t != nil {
			msg = t.In(locale)
		}
		s.renderMessage(w, r, http.StatusBadRequest, "title.stats_bad", label(locale, "stats.bad_period", msg, workflow.PeriodUsage))
		return
	}
	incs, err := s.exportIncidents(r.Context(), exportRange{From: p.From, To: p.To})
	if err != nil {
		status, msg := s.failure(r, err)
		s.renderMessage(w, r, status, "title.stats_fail", msg)
		return
	}
	st := workflow.ComputeStats(p, incs, s.cfg.Roster.Policy, s.cfg.Roster.Calendar(), now)
	if asked == "" {
		asked = "week"
	}
	d := statsPageData{pageData: s.data(r, "stats", "title.stats"), Period: asked, Stats: st,
		PeriodText: periodText(p, loc), AsOf: now.In(loc).Format("2006-01-02 15:04")}
	s.views(r).fillStats(&d)
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "stats.html", d); err != nil {
		s.cfg.Log.Error("render page", "page", "stats.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	keepLocale(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// periodText names a period: its days when it runs from midnight to
// midnight (the last day included), else its first and last instants.
func periodText(p workflow.Period, loc *time.Location) string {
	from, to := p.From.In(loc), p.To.In(loc)
	midnight := func(t time.Time) bool { return t.Equal(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)) }
	if midnight(from) && midnight(to) {
		return from.Format(time.DateOnly) + " – " + to.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	return from.Format("2006-01-02 15:04") + " – " + to.Format("2006-01-02 15:04")
}

// fillStats lays out the figures of d.Stats in the views' locale.
func (v views) fillStats(d *statsPageData) {
	st := d.Stats
	l := func(key string, args ...any) string { return label(v.locale, key, args...) }
	n := func(i int) string { return fmt.Sprint(i) }
	d.Summary = []statsRow{
		{l("stats.incidents"), n(st.Incidents)},
		{l("stats.open"), n(st.Open)},
		{l("stats.escalated"), n(st.Escalated)},
		{l("stats.referred"), n(st.Referred)},
	}
	for _, ds := range st.Deadlines {
		row := statsDeadlineRow{Kind: string(ds.Kind), Name: ds.Kind.Text().In(v.locale), Share: "—",
			OnTime: ds.OnTime, Missed: ds.Missed, Pending: ds.Pending,
			LateMedian: v.spread(ds.Lateness, false), LateP90: v.spread(ds.Lateness, true),
			MeetMedian: v.spread(ds.TimeToMeet, false), MeetP90: v.spread(ds.TimeToMeet, true)}
		if share, ok := ds.Share(); ok {
			row.Share = fmt.Sprintf("%d%%", share)
		}
		d.Deadlines = append(d.Deadlines, row)
	}
	d.Reply = l("stats.reply_none")
	if st.ToReply.N > 0 {
		d.Reply = l("stats.reply_median", statsSpan(st.ToReply.Median, v.locale), st.ToReply.N)
	}
	for _, c := range st.Sources {
		d.Sources = append(d.Sources, statsRow{c.Key, n(c.N)})
	}

	bars := func(cs []workflow.Count, name func(string) string, fill func(string) string) []chartBar {
		out := make([]chartBar, len(cs))
		for i, c := range cs {
			out[i] = chartBar{Key: c.Key, Name: name(c.Key), N: c.N, Value: n(c.N), Fill: fill(c.Key)}
		}
		return out
	}
	plain := func(string) string { return statsBarColor }
	dept := func(k string) string {
		if k == "" {
			return l("stats.unassigned")
		}
		return v.name(k)
	}
	share := make([]chartBar, 0, len(st.Deadlines))
	for _, ds := range st.Deadlines {
		b := chartBar{Key: string(ds.Kind), Name: ds.Kind.Text().In(v.locale), Value: "—", Fill: "#2e9d5b"}
		if pct, ok := ds.Share(); ok {
			b.N, b.Value = pct, fmt.Sprintf("%d%%", pct)
		}
		share = append(share, b)
	}
	d.Charts = []barChart{
		layoutBars("chart-level", l("stats.chart_level"), st.Incidents,
			bars(st.ByLevel, func(k string) string { return workflow.Level(k).Text().In(v.locale) },
				func(k string) string { return statsLevelColors[k] }), 0),
		layoutBars("chart-category", l("stats.chart_category"), st.Incidents,
			bars(st.ByCategory, func(k string) string { return workflow.Category(k).Text().In(v.locale) }, plain), 0),
		layoutBars("chart-department", l("stats.chart_department"), st.Incidents, bars(st.ByDepartment, dept, plain), 0),
		layoutBars("chart-share", l("stats.chart_share"), len(st.Deadlines), share, 100),
	}
}

// spread is the median (or, p90, the 90th percentile) of s for a table
// cell, "—" when there is none.
func (v views) spread(s workflow.Spread, p90 bool) string {
	if s.N == 0 {
		return "—"
	}
	if p90 {
		return statsSpan(s.P90, v.locale)
	}
	return statsSpan(s.Median, v.locale)
}

// statsSpan formats a duration to the minute: "2d 3h", "1h 5m", "45m".
func statsSpan(d time.Duration, locale string) string {
	d = d.Round(time.Minute)
	days, h, m := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0:
		return label(locale, "span.dh", days, h)
	case h > 0:
		return label(locale, "span.hm", h, m)
	}
	return label(locale, "stats.span_m", m)
}

// axisTop is the top of a y axis for values up to v, as the board's.
func axisTop(v int) int {
	if v <= 4 {
		return max(1, v)
	}
	return (v + 3) / 4 * 4
}

// layoutBars lays out a bar chart of bars; fixedTop, when not 0, is the
// value at the top of the axis (100 for shares), else it fits the
// largest bar. The chart is empty when nothing is counted (total 0).
func layoutBars(id, title string, total int, bars []chartBar, fixedTop int) barChart {
	c := barChart{ID: id, Title: title, Width: barW, Height: barH, Left: barLeft, Right: barW - barRight,
		Top: barTop, Base: barH - barBottom, Empty: total == 0 || len(bars) == 0}
	if c.Empty {
		return c
	}
	top := fixedTop
	if top == 0 {
		most := 0
		for _, b := range bars {
			most = max(most, b.N)
		}
		top = axisTop(most)
	}
	y := func(v int) int { return c.Base - v*(c.Base-barTop)/top }
	step := 1
	if top > 4 {
		step = top / 4
	}
	for v := 0; v <= top; v += step {
		tick := chartTick{Y: y(v), Label: fmt.Sprint(v)}
		if fixedTop == 100 {
			tick.Label += "%"
		}
		c.Ticks = append(c.Ticks, tick)
	}
	slot := (c.Right - c.Left) / len(bars)
	bw := min(48, slot*3/5)
	for i := range bars {
		b := &bars[i]
		b.CX = c.Left + slot*i + slot/2
		b.X, b.W = b.CX-bw/2, bw
		b.Y = y(b.N)
		b.H = c.Base - b.Y
		b.ValueY = b.Y - 4
		b.Lines = barLines(b.Name, slot)
	}
	c.Bars = bars
	return c
}

// barLines breaks a bar's name into at most two lines that fit a slot of
// width px (about 6 px a Latin letter, 11 a Chinese one).
func barLines(s string, px int) []string {
	fits := func(t string) bool {
		w := 0
		for _, r := range t {
			if r < 0x2E80 {
				w += 6
			} else {
				w += 11
			}
		}
		return w <= px
	}
	if fits(s) {
		return []string{s}
	}
	words := strings.Fields(s)
	if len(words) > 1 {
		for i := len(words) - 1; i > 0; i-- {
			first := strings.Join(words[:i], " ")
			if fits(first) {
				return []string{first, strings.Join(words[i:], " ")}
			}
		}
	}
	r := []rune(s)
	half := (len(r) + 1) / 2
	return []string{string(r[:half]), string(r[half:])}
}
