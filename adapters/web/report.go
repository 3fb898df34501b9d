package web

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The handling report (处置报告) of one incident, served as a printable page
// (GET /incidents/{id}/report) and as Markdown (GET
// /incidents/{id}/report.md). Both are the handlers' Report of the incident
// as stored, as of the server's clock: the words are the handlers', this
// file only lays them out. Both are behind the board's token rules.

// Reports builds the handling report of an incident from its record (the
// incident and its timeline, oldest first) in a locale, as of a moment:
// the handlers' BuildReport, in the handlers of that locale.
type Reports func(inc *workflow.Incident, events []workflow.Event, locale string, asOf time.Time) *bot.Report

// reportLabels are the few words of the page that are not the report's:
// the links above it on screen.
var reportLabels = map[string]workflow.Text{
	"incident": {EN: "Incident page", ZH: "事件页面"},
	"markdown": {EN: "Markdown", ZH: "Markdown 文本"},
	"print":    {EN: "Print it with your browser (A4).", ZH: "可用浏览器打印(A4)。"},
}

// msgNoReport is the answer for an incident that does not exist, in both
// languages: the link may have been sent to someone who reads either.
func msgNoReport(id string) workflow.Text {
	return workflow.Text{EN: fmt.Sprintf("No incident %s.", id), ZH: fmt.Sprintf("没有事件 %s。", id)}
}

// loadReport reads the incident of the request and its timeline, within
// one StoreTimeout, and builds its report in the request's language. It
// answers the request itself when there is no report to show: 404 for an
// unknown incident (in both languages), 503 or 500 when storage fails.
// markdown says how to answer: in plain text, or with a page.
func (s *Server) loadReport(w http.ResponseWriter, r *http.Request, markdown bool) (*bot.Report, bool) {
	id := workflow.NormalizeID(r.PathValue("id"))
	if s.cfg.Reports == nil {
		s.notFoundPage(w, r)
		return nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.StoreTimeout)
	defer cancel()
	inc, events, err := s.cfg.Incidents.History(ctx, id)
	switch {
	case err == nil:
		return s.cfg.Reports(inc, events, s.localeOf(r), s.cfg.Clock.Now()), true
	case workflow.ErrorCode(err) == workflow.CodeNotFound:
		msg := msgNoReport(id)
		if markdown {
			writeText(w, http.StatusNotFound, msg.EN+"\n"+msg.ZH+"\n")
		} else {
			s.renderMessage(w, r, http.StatusNotFound, "title.no_incident", msg.EN+" "+msg.ZH)
		}
	default:
		status, msg := s.failure(r, err)
		if markdown {
			writeText(w, status, msg+"\n")
		} else {
			s.renderMessage(w, r, status, "title.incident_fail", msg)
		}
	}
	return nil, false
}

func writeText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}

// reportMarkdown serves the report as Markdown.
func (s *Server) reportMarkdown(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.loadReport(w, r, true)
	if !ok {
		return
	}
	keepLocale(w, r)
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-report.md"`, rep.ID))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(rep.Markdown()))
}

// reportPage serves the report as a page to print: templates/report.html
// and static/report.css (A4, a page per section, black and white).
func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	rep, ok := s.loadReport(w, r, false)
	if !ok {
		return
	}
	locale := s.localeOf(r)
	v := reportPageView{
		Locale: locale, Title: rep.Heading + " — " + rep.Title, R: rep,
		IncidentURL: "/incidents/" + rep.ID, MarkdownURL: bot.ReportPath(rep.ID) + ".md",
		Labels: map[string]string{}, Lang: langLinks(&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}, locale),
	}
	for k, t := range reportLabels {
		v.Labels[k] = t.In(locale)
	}
	for _, sec := range rep.Sections {
		sv := reportSectionView{Key: sec.Key, Title: sec.Title}
		for _, b := range sec.Blocks {
			bv := reportBlockView{ReportBlock: b}
			if b.Chart != nil && len(b.Chart.Series) > 0 {
				bv.SVG = drawChart(b.Chart, s.cfg.Roster.Location())
			}
			sv.Blocks = append(sv.Blocks, bv)
		}
		v.Sections = append(v.Sections, sv)
	}
	var b bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&b, "report.html", v); err != nil {
		s.cfg.Log.Error("render page", "page", "report.html", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	keepLocale(w, r)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

// reportPageView is what templates/report.html sees; html/template escapes
// every string in it.
type reportPageView struct {
	Locale      string
	Title       string
	R           *bot.Report
	Sections    []reportSectionView
	IncidentURL string
	MarkdownURL string
	Labels      map[string]string
	Lang        []langLink
}

type reportSectionView struct {
	Key    string
	Title  string
	Blocks []reportBlockView
}

// reportBlockView is a block of the report and, for a chart, its drawing.
type reportBlockView struct {
	bot.ReportBlock
	SVG *chartSVG
}

// The chart of the attention figures, drawn here as SVG in the page (the
// page runs no script of its own): one line per figure, each scaled to its
// own maximum, its latest value at the right, the time along the bottom,
// as on the incident page. Lines differ in dash and marker, not only in
// colour, so the chart reads in black and white.
const (
	chartW, chartH                      = 640, 240
	chartL, chartR, chartTop, chartBott = 14, 120, 14, 56
)

type chartSVG struct {
	Title, Note string
	ViewBox     string
	Grid        []svgLine
	Series      []svgSeries
	Latest      []svgText
	Ticks       []svgText
	Legend      []svgLegend
}

type svgLine struct{ X1, Y1, X2, Y2 string }

type svgSeries struct {
	Kind string
	D    string
	Dots []svgDot
}

type svgDot struct{ X, Y, Label string }

type svgText struct{ X, Y, Anchor, Kind, Text string }

type svgLegend struct {
	Kind                  string
	X1, X2, Y, TX, TY, MX string
	Text                  string
}

func px(v float64) string { return fmt.Sprintf("%.1f", v) }

func drawChart(c *bot.ReportChart, loc *time.Location) *chartSVG {
	out := &chartSVG{Title: c.Title, Note: c.Note, ViewBox: fmt.Sprintf("0 0 %d %d", chartW, chartH)}
	t0, t1 := time.Time{}, time.Time{}
	for _, s := range c.Series {
		for _, p := range s.Points {
			if t0.IsZero() || p.At.Before(t0) {
				t0 = p.At
			}
			if p.At.After(t1) {
				t1 = p.At
			}
		}
	}
	plotW, plotH := float64(chartW-chartL-chartR), float64(chartH-chartTop-chartBott)
	x := func(at time.Time) float64 {
		if !t1.After(t0) {
			return chartL + plotW/2
		}
		return chartL + float64(at.Sub(t0))/float64(t1.Sub(t0))*plotW
	}
	bottom := float64(chartH - chartBott)
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
		gy := px(bottom - f*plotH)
		out.Grid = append(out.Grid, svgLine{X1: px(chartL), X2: px(chartL + plotW), Y1: gy, Y2: gy})
	}
	type end struct {
		y    float64
		kind string
		text string
	}
	var ends []end
	for _, s := range c.Series {
		top := math.Max(1, float64(s.Max))
		y := func(v int64) float64 { return bottom - float64(v)/top*plotH }
		ss := svgSeries{Kind: string(s.Kind)}
		var d strings.Builder
		for i, p := range s.Points {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&d, "%s%s,%s ", cmd, px(x(p.At)), px(y(p.Value)))
			ss.Dots = append(ss.Dots, svgDot{X: px(x(p.At)), Y: px(y(p.Value)), Label: p.Label})
		}
		ss.D = strings.TrimSpace(d.String())
		out.Series = append(out.Series, ss)
		ends = append(ends, end{y: y(s.Points[len(s.Points)-1].Value), kind: string(s.Kind), text: s.Latest})
	}
	// The latest values in the right margin at their lines' heights,
	// pushed apart where lines end close together.
	sort.SliceStable(ends, func(i, j int) bool { return ends[i].y < ends[j].y })
	prev := math.Inf(-1)
	for _, e := range ends {
		ly := math.Max(math.Max(e.y+4, prev+13), chartTop+4)
		prev = ly
		out.Latest = append(out.Latest, svgText{X: px(chartL + plotW + 8), Y: px(ly), Anchor: "start", Kind: e.kind, Text: e.text})
	}
	layout := "15:04"
	if t1.Sub(t0) > 36*time.Hour || t0.In(loc).YearDay() != t1.In(loc).YearDay() {
		layout = "01-02 15:04"
	}
	ticks := 4
	if !t1.After(t0) {
		ticks = 0
	}
	for i := 0; i <= ticks; i++ {
		at, anchor := t0, "middle"
		if ticks > 0 {
			at = t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / float64(ticks)))
			switch i {
			case 0:
				anchor = "start"
			case ticks:
				anchor = "end"
			}
		}
		out.Ticks = append(out.Ticks, svgText{X: px(x(at)), Y: px(bottom + 16), Anchor: anchor, Text: at.In(loc).Format(layout)})
	}
	lx := float64(chartL)
	for _, s := range c.Series {
		ly := float64(chartH - 14)
		out.Legend = append(out.Legend, svgLegend{Kind: string(s.Kind), X1: px(lx), X2: px(lx + 22), MX: px(lx + 11), Y: px(ly),
			TX: px(lx + 28), TY: px(ly + 4), Text: s.Legend})
		lx += 200
	}
	return out
}
