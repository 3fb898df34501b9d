package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// The handling report (处置报告) of one incident, as handlers words it and the
// adapters render it: Markdown here, a printable page in the web adapter,
// from the same sections, as a Card is one message rendered per platform.

// Report is the handling report of one incident, worded in one language.
// Every string is plain text: text typed by people (titles, reasons, drafts)
// is kept as typed, and each renderer escapes all of it.
type Report struct {
	// Locale is the language the report is worded in.
	Locale string
	// ID is the incident's; Heading the report's title ("Handling report
	// YQ-7"); Title the incident's title as typed.
	ID      string
	Heading string
	Title   string
	// AsOf is the moment the report speaks from, AsOfLine says it.
	AsOf     time.Time
	AsOfLine string
	// Interim is set while the incident is open: the report is not final,
	// and InterimLine says so.
	Interim     bool
	InterimLine string
	// Summary holds the figures the report's first section words.
	Summary ReportSummary
	// Sections are the report's parts, in order: summary, facts, handling,
	// reply, follow-ups, reports, timeline (ReportSection.Key).
	Sections []ReportSection
}

// ReportSummary is where the incident stands as of the report.
type ReportSummary struct {
	Level  workflow.Level
	Status workflow.Status
	// Deadlines of the incident's current process: met on time, met late,
	// missed (past and unmet, or left unmet by a resolution after they fell
	// due), still running, and not needed (left unmet by a resolution
	// before they fell due).
	OnTime, Late, Missed, Running, Unneeded int
	// Published is the latest published statement, nil when none is.
	Published *workflow.Statement
}

// ReportSection is one part of the report: a title and its blocks.
type ReportSection struct {
	// Key names the section for styles and anchors: summary, facts,
	// handling, reply, followups, reports, timeline.
	Key    string
	Title  string
	Blocks []ReportBlock
}

// ReportBlock is one piece of a section; each sets one of its fields but
// Heading, which may head any of them.
type ReportBlock struct {
	Heading string
	// Note is a sentence of the report's own.
	Note string
	// Fields are labelled facts.
	Fields []ReportField
	// Table is a table of rows.
	Table *ReportTable
	// Text is a text exactly as people wrote or published it (a statement,
	// a draft): shown verbatim, line breaks kept.
	Text string
	// Chart is the attention figures as a chart (a page draws it; the
	// same figures are in a table beside it).
	Chart *ReportChart
}

// ReportField is one labelled fact.
type ReportField struct{ Label, Value string }

// ReportTable is a table: its column headings and its rows of cells.
type ReportTable struct {
	Columns []string
	Rows    [][]string
}

// ReportChart is the series of attention figures: one series per figure
// given, each drawn to its own scale.
type ReportChart struct {
	Title string
	// Note says how to read it (each line scaled to its own maximum).
	Note   string
	Series []ReportSeries
}

// ReportSeries is one attention figure over time.
type ReportSeries struct {
	Kind workflow.Figure
	Name string
	// Legend is "posts (max 60)"; Latest is "posts 60", shown at the end
	// of its line.
	Legend string
	Latest string
	Max    int64
	Points []ReportPoint
}

// ReportPoint is one recorded value; Label says it in words.
type ReportPoint struct {
	At    time.Time
	Value int64
	Label string
}

// ReportPath is where the web serves the report of an incident, as a
// printable page; with ".md" added, as Markdown.
func ReportPath(id string) string { return "/incidents/" + id + "/report" }

// Markdown renders the report as Markdown (CommonMark with GitHub's
// tables). Every text is escaped, so that a title like "*bold*
// [x](http://evil)" reads as typed: nothing in it formats, links or breaks
// the layout. Verbatim texts (statements, drafts) go in fenced code blocks,
// byte for byte, so their hash can be checked; the chart is left out, its
// figures are in the table beside it.
func (r *Report) Markdown() string {
	colon := ": "
	if r.Locale == workflow.LocaleZH {
		colon = ":"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdLine(r.Heading))
	fmt.Fprintf(&b, "**%s**\n\n", mdLine(r.Title))
	fmt.Fprintf(&b, "%s\n\n", mdLine(r.AsOfLine))
	if r.Interim {
		fmt.Fprintf(&b, "> **%s**\n\n", mdLine(r.InterimLine))
	}
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n", mdLine(s.Title))
		for _, bl := range s.Blocks {
			if bl.Heading != "" {
				fmt.Fprintf(&b, "### %s\n\n", mdLine(bl.Heading))
			}
			if bl.Note != "" {
				fmt.Fprintf(&b, "%s\n\n", mdText(bl.Note, ""))
			}
			if len(bl.Fields) > 0 {
				for _, f := range bl.Fields {
					fmt.Fprintf(&b, "- **%s**%s%s\n", mdLine(f.Label), colon, mdText(f.Value, "  "))
				}
				b.WriteString("\n")
			}
			if t := bl.Table; t != nil {
				writeMarkdownTable(&b, t)
			}
			if bl.Text != "" {
				writeFenced(&b, bl.Text)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func writeMarkdownTable(b *strings.Builder, t *ReportTable) {
	row := func(cells []string) {
		b.WriteString("|")
		for _, c := range cells {
			b.WriteString(" " + mdCell(c) + " |")
		}
		b.WriteString("\n")
	}
	row(t.Columns)
	b.WriteString("|")
	for range t.Columns {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("\n")
}

// writeFenced writes text as a fenced code block, its fence longer than
// any run of backticks in it.
func writeFenced(b *strings.Builder, text string) {
	fence := "```"
	for strings.Contains(text, fence) {
		fence += "`"
	}
	fmt.Fprintf(b, "%stext\n%s\n%s\n\n", fence, text, fence)
}

// mdText escapes text for Markdown, keeping its line breaks: the lines
// after the first are indented by indent (to stay inside a list item) and
// end the line before with a hard break.
func mdText(s, indent string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = mdLine(l)
	}
	return strings.Join(lines, "\\\n"+indent)
}

// mdCell escapes text for a table cell: one line, its breaks as <br>.
func mdCell(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return " "
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = mdLine(strings.TrimSpace(l))
	}
	return strings.Join(lines, "<br>")
}

// mdLine escapes one line of text so that Markdown shows it as it is: the
// characters that make emphasis, code, links, images, HTML, entities,
// strikethrough and table cells are escaped everywhere; those that start a
// heading, a list, a quote or a rule only at the start of the line; and
// what GitHub's renderer would turn into a link by itself (http://…,
// www.…, an e-mail address) is broken up by an escape.
func mdLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	var b strings.Builder
	rs := []rune(s)
	start := 0
	for start < len(rs) && (rs[start] == ' ' || rs[start] == '\t') {
		start++
	}
	// A number and "." or ")" at the start is an ordered list item.
	digits := start
	for digits < len(rs) && rs[digits] >= '0' && rs[digits] <= '9' {
		digits++
	}
	for i, c := range rs {
		switch {
		case strings.ContainsRune("\\`*_[]<>|~&@", c):
			b.WriteRune('\\')
		case i == start && strings.ContainsRune("#+-=", c):
			b.WriteRune('\\')
		case i == digits && digits > start && (c == '.' || c == ')'):
			b.WriteRune('\\')
		case c == ':' && strings.HasPrefix(string(rs[i+1:]), "//"):
			b.WriteRune('\\')
		case c == '.' && i >= 3 && strings.EqualFold(string(rs[i-3:i]), "www"):
			b.WriteRune('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
