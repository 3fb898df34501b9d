package handlers

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The handling report (处置报告) of one incident: what happened, when, who
// decided, how it was answered (做好记录). It is built from the stored
// incident and its timeline alone, as of a moment the caller names, so the
// same record gives the same report whenever it is asked for; Markdown
// renders it as text and the web adapter as a printable page, both from the
// same sections.

// BuildReport writes the handling report of inc from it and its timeline
// (oldest first), as of asOf (the clock's now when zero), in the handlers'
// language. It reads nothing else but the roster, so the same record and
// asOf give the same report.
func (h *Handlers) BuildReport(inc *workflow.Incident, events []workflow.Event, asOf time.Time) *bot.Report {
	if asOf.IsZero() {
		asOf = h.now()
	}
	r := *h // the words speak from asOf: "time left", dates not of that day
	r.asOf = asOf
	return r.buildReport(inc, events)
}

func (h *Handlers) buildReport(inc *workflow.Incident, events []workflow.Event) *bot.Report {
	rep := &bot.Report{
		Locale:  h.locale,
		ID:      inc.ID,
		Heading: fmt.Sprintf(h.t("Handling report %s", "舆情处置报告 %s"), inc.ID),
		Title:   inc.Title,
		AsOf:    h.asOf,
		AsOfLine: fmt.Sprintf(h.t("As of %s (%s).", "截至 %s(%s)。"),
			h.reportTime(h.asOf), h.loc().String()),
		Interim: inc.Open(),
	}
	if rep.Interim {
		rep.InterimLine = fmt.Sprintf(h.t("INTERIM REPORT: %s is still open (%s); this report says where it stood as of the time above.",
			"阶段性报告:%s 尚未办结(%s),本报告反映截至上述时间的情况。"), inc.ID, inc.Status.Text().In(h.locale))
	}
	rep.Summary = h.reportSummary(inc)
	rep.Sections = []bot.ReportSection{
		h.summarySection(inc, rep.Summary),
		h.factsSection(inc, events),
		h.handlingSection(inc, events),
		h.replySection(inc),
		h.followupSection(inc, events),
		h.reportsSection(inc, events),
		h.timelineSection(events),
	}
	return rep
}

// deadlineOutcome is how a deadline stands in a report.
type deadlineOutcome int

const (
	outcomeOnTime deadlineOutcome = iota
	outcomeLate
	outcomeMissed
	outcomeRunning
	outcomeUnneeded
)

// deadlineResult says how deadline d stands as of the report: met on time,
// met late by how much, missed (overdue by how much, or left unmet when
// the incident was resolved), or running. Like the card (deadlineState) it
// reads in whole minutes.
func (h *Handlers) deadlineResult(d workflow.Deadline, inc *workflow.Incident) (deadlineOutcome, string) {
	// The outcome is the one the statistics and the export count; the
	// lateness is shown in whole minutes rounded up, as the export has it.
	now := h.now()
	late, _ := d.Lateness(inc, now)
	by := span(time.Duration(workflow.LateMinutes(late))*time.Minute, h.locale)
	switch d.Outcome(inc, now) {
	case workflow.OutcomeMissed:
		switch {
		case !d.Left.IsZero():
			return outcomeMissed, fmt.Sprintf(h.t("missed by %s, in the process the incident left at %s",
				"未完成,超时 %s(事件于 %s 转入其他流程)"), by, h.reportTime(d.Left))
		case !inc.Open():
			return outcomeMissed, fmt.Sprintf(h.t("missed by %s; the incident was resolved without it",
				"未完成,超时 %s(事件已办结)"), by)
		}
		return outcomeMissed, fmt.Sprintf(h.t("missed: overdue by %s", "未完成,已超时 %s"), by)
	case workflow.OutcomeLate:
		return outcomeLate, fmt.Sprintf(h.t("met %s late", "超时 %s 完成"), by)
	case workflow.OutcomeOnTime:
		return outcomeOnTime, h.t("met on time", "按时完成")
	case workflow.OutcomeUnneeded:
		return outcomeUnneeded, h.t("not needed: the incident was resolved before it was due",
			"无需完成(事件在到期前办结)")
	}
	if left := workflow.Instant(d.Due).Sub(now); left >= time.Minute {
		return outcomeRunning, fmt.Sprintf(h.t("running: due in %s", "进行中,剩余 %s"), span(left, h.locale))
	}
	return outcomeRunning, h.t("running: due now", "进行中,即将到期")
}

func (h *Handlers) reportSummary(inc *workflow.Incident) bot.ReportSummary {
	s := bot.ReportSummary{Level: inc.Level, Status: inc.Status}
	for _, d := range h.svc.Record(inc) {
		switch o, _ := h.deadlineResult(d, inc); o {
		case outcomeOnTime:
			s.OnTime++
		case outcomeLate:
			s.Late++
		case outcomeMissed:
			s.Missed++
		case outcomeUnneeded:
			s.Unneeded++
		default:
			s.Running++
		}
	}
	if n := len(inc.Statements); n > 0 {
		st := inc.Statements[n-1]
		s.Published = &st
	}
	return s
}

// deadlineCounts is "3 met on time, 1 met late, 1 missed, 0 running".
func (h *Handlers) deadlineCounts(s bot.ReportSummary) string {
	out := fmt.Sprintf(h.t("%d met on time, %d met late, %d missed, %d running", "按时完成 %d 项,超时完成 %d 项,未完成 %d 项,进行中 %d 项"),
		s.OnTime, s.Late, s.Missed, s.Running)
	if s.Unneeded > 0 {
		out += fmt.Sprintf(h.t(", %d not needed (resolved before due)", ",无需完成 %d 项(到期前已办结)"), s.Unneeded)
	}
	return out
}

// reportTime is a moment in full, in the organisation's timezone.
func (h *Handlers) reportTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(h.loc()).Format("2006-01-02 15:04")
}

// reportDue is a due time in full; a deadline at midnight reads 24:00 of
// the day it ends, as on the card (dueTime).
func (h *Handlers) reportDue(t time.Time) string {
	l := t.In(h.loc())
	if l.Hour() == 0 && l.Minute() == 0 && l.Second() == 0 && l.Nanosecond() == 0 {
		return l.AddDate(0, 0, -1).Format("2006-01-02") + " 24:00"
	}
	return h.reportTime(t)
}

// atBy is "2026-03-02 09:40 by Chen Jing".
func (h *Handlers) atBy(t time.Time, who string) string {
	return fmt.Sprintf(h.t("%s by %s", "%s(%s)"), h.reportTime(t), h.actorName(who))
}

// actorName names who did a step: the person, or Firebreak for the bot.
func (h *Handlers) actorName(id string) string {
	if id == "" {
		return "Firebreak"
	}
	return h.name(id)
}

func (h *Handlers) field(label tx, value string) bot.ReportField {
	return bot.ReportField{Label: label.In(h.locale), Value: value}
}

func (h *Handlers) columns(cols ...tx) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.In(h.locale)
	}
	return out
}

// levelText is the level, with "spreading" when it is marked so.
func (h *Handlers) levelText(inc *workflow.Incident) string {
	s := inc.Level.Text().In(h.locale)
	if inc.Spreading {
		s += h.t(" (spreading)", "(有扩散迹象)")
	}
	return s
}

// publishedText says which version was published when and by whom.
func (h *Handlers) publishedText(st *workflow.Statement) string {
	if st == nil {
		return h.t("not published", "未发布")
	}
	return fmt.Sprintf(h.t("version %d (#%s) published %s by %s", "第 %d 版(#%s)已于 %s 由 %s 发布"),
		st.DraftVersion, st.Hash, h.reportTime(st.At), h.name(st.By))
}

func (h *Handlers) summarySection(inc *workflow.Incident, s bot.ReportSummary) bot.ReportSection {
	sec := bot.ReportSection{Key: "summary", Title: h.t("Summary", "概要")}
	var f []bot.ReportField
	if org := h.roster.Organisation.Name; org != "" {
		f = append(f, h.field(tx{EN: "Organisation", ZH: "单位"}, org))
	}
	f = append(f,
		h.field(tx{EN: "Incident", ZH: "事件"}, inc.ID),
		h.field(tx{EN: "Title", ZH: "标题"}, inc.Title),
		h.field(tx{EN: "Level", ZH: "级别"}, h.levelText(inc)),
		h.field(tx{EN: "Category", ZH: "类别"}, inc.Category.Text().In(h.locale)),
		h.field(tx{EN: "Status", ZH: "状态"}, inc.Status.Text().In(h.locale)),
		h.field(tx{EN: "Discovered", ZH: "发现时间"}, h.reportTime(inc.FoundAt)),
	)
	if !inc.Open() {
		f = append(f, h.field(tx{EN: "Resolved", ZH: "办结时间"}, h.reportTime(inc.ResolvedAt)))
	}
	f = append(f,
		h.field(tx{EN: "Deadlines", ZH: "处置时限"}, h.deadlineCounts(s)),
		h.field(tx{EN: "Unified reply", ZH: "统一口径"}, h.publishedText(s.Published)),
	)
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{Fields: f})
	if s.Published != nil {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Published reply", "已发布的统一口径"), Text: s.Published.Text})
	}
	return sec
}

func (h *Handlers) factsSection(inc *workflow.Incident, events []workflow.Event) bot.ReportSection {
	sec := bot.ReportSection{Key: "facts", Title: h.t("Facts and grading", "基本情况与定级")}
	source := inc.Source
	if source == "" {
		source = h.t("not given", "未填写")
	}
	f := []bot.ReportField{
		h.field(tx{EN: "Title", ZH: "标题"}, inc.Title),
		h.field(tx{EN: "Source", ZH: "来源"}, source),
		h.field(tx{EN: "Category", ZH: "类别"}, inc.Category.Text().In(h.locale)),
		h.field(tx{EN: "Discovered", ZH: "发现时间"}, h.reportTime(inc.FoundAt)),
		h.field(tx{EN: "Opened", ZH: "登记"}, h.atBy(inc.OpenedAt, inc.OpenedBy)),
		h.field(tx{EN: "Level", ZH: "级别"}, h.levelText(inc)),
	}
	if inc.Spreading && !inc.SpreadAt.IsZero() {
		f = append(f, h.field(tx{EN: "Signs of spreading", ZH: "扩散迹象"},
			fmt.Sprintf(h.t("last recorded %s", "最近记录于 %s"), h.reportTime(inc.SpreadAt))))
	}
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{Fields: f})

	t := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "Level", ZH: "级别"},
		tx{EN: "By", ZH: "操作人"}, tx{EN: "Why", ZH: "理由"})}
	for _, e := range events {
		switch e.Kind {
		case workflow.EventOpened:
			t.Rows = append(t.Rows, []string{h.reportTime(e.At), e.Data.Level.Text().In(h.locale), h.actorName(e.Actor),
				h.t("graded when opened", "新建时定级")})
		case workflow.EventLevelChanged:
			why := e.Text
			if why == "" {
				why = "—"
			}
			if e.Data.Cleared {
				why += h.t(" (no longer spreading)", "(并清除扩散标记)")
			}
			t.Rows = append(t.Rows, []string{h.reportTime(e.At), h.levelChange(e), h.actorName(e.Actor), why})
		case workflow.EventEscalated:
			t.Rows = append(t.Rows, []string{h.reportTime(e.At), h.levelChange(e),
				h.t("Firebreak, by the plan's rule", "Firebreak(按预案规则)"), h.escalationReason(e)})
		}
	}
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Grade and every change of it", "定级及调整"), Table: t})
	return sec
}

// levelChange is "general → major".
func (h *Handlers) levelChange(e workflow.Event) string {
	return e.Data.From.Text().In(h.locale) + " → " + e.Data.To.Text().In(h.locale)
}

// escalationReason says why a general incident became major by rule.
func (h *Handlers) escalationReason(e workflow.Event) string {
	if e.Data.Reason != workflow.EscalatedSpreading {
		return h.t("not resolved by its answer deadline", "未在实质答复时限内办结")
	}
	if e.Data.Sign != nil {
		return h.t("signs of spreading: ", "有扩散迹象:") + h.signText(*e.Data.Sign)
	}
	return h.t("signs of spreading: ", "有扩散迹象:") + e.Text
}

func (h *Handlers) handlingSection(inc *workflow.Incident, events []workflow.Event) bot.ReportSection {
	sec := bot.ReportSection{Key: "handling", Title: h.t("Handling and deadlines", "处置与时限")}
	dept := h.t("none", "无")
	if inc.Department != "" {
		dept = h.name(inc.Department)
	}
	acked := h.t("not yet", "尚未接办")
	if !inc.AckedAt.IsZero() {
		acked = h.atBy(inc.AckedAt, inc.AckedBy)
	}
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{Fields: []bot.ReportField{
		h.field(tx{EN: "Department", ZH: "责任部门"}, dept),
		h.field(tx{EN: "Assignee", ZH: "负责人"}, h.name(inc.Assignee)),
		h.field(tx{EN: "Acknowledged", ZH: "接办"}, acked),
	}})

	steps := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "Step", ZH: "事项"}, tx{EN: "By", ZH: "操作人"})}
	for _, e := range events {
		switch e.Kind {
		case workflow.EventAssigned:
			by := h.actorName(e.Actor)
			if e.Data.Auto {
				by = h.t("Firebreak, routed by category", "Firebreak(按类别分派)")
			}
			steps.Rows = append(steps.Rows, []string{h.reportTime(e.At),
				fmt.Sprintf(h.t("assigned to %s (%s)", "指派给 %s(%s)"), h.name(e.Data.Assignee), h.name(e.Data.Department)), by})
		case workflow.EventAcknowledged:
			step := h.t("acknowledged", "接办")
			if e.Data.TakenFrom != "" {
				step = fmt.Sprintf(h.t("acknowledged, taking it over from %s", "接办(从 %s 处接手)"), h.name(e.Data.TakenFrom))
			}
			steps.Rows = append(steps.Rows, []string{h.reportTime(e.At), step, h.actorName(e.Actor)})
		}
	}
	if len(steps.Rows) > 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Assignments and acknowledgements", "指派与接办"), Table: steps})
	}

	deadlines := h.svc.Record(inc)
	b := bot.ReportBlock{Heading: h.t("Deadlines", "处置时限")}
	if len(deadlines) == 0 {
		b.Note = h.t("The plan sets no deadline at this level.", "预案对该级别未设时限。")
		sec.Blocks = append(sec.Blocks, b)
		return sec
	}
	from := fmt.Sprintf(h.t("counting from discovery, %s", "自发现时间 %s 起算"), h.reportTime(inc.FoundAt))
	if start := inc.ClockStart(); !start.Equal(inc.FoundAt) {
		from = fmt.Sprintf(h.t("counting from the escalation, %s", "自升级时间 %s 起算"), h.reportTime(start))
	}
	b.Note = fmt.Sprintf(h.t("Deadlines of the %s process, %s: %s.", "按%s舆情流程的时限,%s:%s。"),
		inc.Level.Text().In(h.locale), from, h.deadlineCounts(h.reportSummary(inc)))
	if n := len(inc.Missed); n > 0 {
		// Record lists them first: the deadlines of the earlier process.
		if n == 1 {
			b.Note += h.t(" The first row: missed in the process the incident left.", "第 1 行为事件转出的原流程中未完成的时限。")
		} else {
			b.Note += fmt.Sprintf(h.t(" The first %d rows: missed in the process the incident left.",
				"前 %d 行为事件转出的原流程中未完成的时限。"), n)
		}
	}
	b.Table = &bot.ReportTable{Columns: h.columns(tx{EN: "Deadline", ZH: "时限"}, tx{EN: "Due", ZH: "截止时间"},
		tx{EN: "Met", ZH: "完成时间"}, tx{EN: "Result", ZH: "结果"})}
	for _, d := range deadlines {
		_, result := h.deadlineResult(d, inc)
		b.Table.Rows = append(b.Table.Rows, []string{d.Kind.Text().In(h.locale), h.reportDue(d.Due), h.reportTime(d.MetAt), result})
	}
	sec.Blocks = append(sec.Blocks, b)
	return sec
}

// approvalsText lists who approved a draft and when: "Wang Fang (principal)
// 2026-03-02 10:40: fine; Zhao Lei 2026-03-02 10:45".
func (h *Handlers) approvalsText(d *workflow.Draft) string {
	if len(d.Approvals) == 0 {
		return h.t("none", "无")
	}
	parts := make([]string, len(d.Approvals))
	for i, a := range d.Approvals {
		s := h.name(a.By)
		if a.Principal {
			s += h.t(" (principal)", "(主要领导)")
		}
		s += " " + h.reportTime(a.At)
		if a.Note != "" {
			s += h.t(": ", ":") + a.Note
		}
		parts[i] = s
	}
	return strings.Join(parts, h.t("; ", ";"))
}

// voiceText says whose name a statement was published over.
func (h *Handlers) voiceText(st workflow.Statement) string {
	switch {
	case st.Spokesperson && st.Organisation != "":
		return fmt.Sprintf(h.t("%s, as spokesperson of %s", "%[2]s新闻发言人 %[1]s"), h.name(st.By), st.Organisation)
	case st.Spokesperson:
		return fmt.Sprintf(h.t("%s, as spokesperson", "新闻发言人 %s"), h.name(st.By))
	case st.Organisation != "":
		return fmt.Sprintf(h.t("%s, in the name of %s", "%s(以%s名义)"), h.name(st.By), st.Organisation)
	}
	return h.name(st.By)
}

func (h *Handlers) replySection(inc *workflow.Incident) bot.ReportSection {
	sec := bot.ReportSection{Key: "reply", Title: h.t("Unified reply", "统一口径")}
	if len(inc.Drafts) == 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Note: h.t("No draft of the unified reply was written.", "未起草统一口径。")})
		return sec
	}
	if len(inc.Statements) == 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Note: h.t("No version was published.", "尚未发布任何版本。")})
	}
	for _, st := range inc.Statements {
		b := bot.ReportBlock{Heading: fmt.Sprintf(h.t("Published: version %d (#%s)", "已发布:第 %d 版(#%s)"), st.DraftVersion, st.Hash)}
		b.Fields = []bot.ReportField{
			h.field(tx{EN: "Published", ZH: "发布时间"}, h.reportTime(st.At)),
			h.field(tx{EN: "Published by", ZH: "发布人"}, h.voiceText(st)),
		}
		if d, _ := inc.DraftStage(st.DraftVersion, h.svc.Policy()); d != nil {
			b.Fields = append(b.Fields, h.field(tx{EN: "Approved by", ZH: "批准"}, h.approvalsText(d)))
		}
		sec.Blocks = append(sec.Blocks, b, bot.ReportBlock{Text: st.Text})
	}
	for i := range inc.Drafts {
		d := &inc.Drafts[i]
		_, stage := inc.DraftStage(d.Version, h.svc.Policy())
		b := bot.ReportBlock{Heading: fmt.Sprintf(h.t("Version %d (#%s): %s", "第 %d 版(#%s):%s"), d.Version, d.Hash, h.stageText(inc, stage))}
		b.Fields = []bot.ReportField{
			h.field(tx{EN: "Written", ZH: "起草"}, h.atBy(d.At, d.Author)),
			h.field(tx{EN: "Approvals", ZH: "批准"}, h.approvalsText(d)),
		}
		if r := d.Rejection; r != nil {
			b.Fields = append(b.Fields, h.field(tx{EN: "Rejected", ZH: "驳回"},
				fmt.Sprintf(h.t("%s by %s: %s", "%s 由 %s 驳回:%s"), h.reportTime(r.At), h.name(r.By), r.Note)))
		}
		sec.Blocks = append(sec.Blocks, b)
		if d.Published {
			sec.Blocks = append(sec.Blocks, bot.ReportBlock{Note: h.t("Its text is the published text above.", "正文即上述已发布文本。")})
		} else {
			sec.Blocks = append(sec.Blocks, bot.ReportBlock{Text: d.Text})
		}
	}
	return sec
}

// stageText names where a draft version stands.
func (h *Handlers) stageText(inc *workflow.Incident, stage workflow.DraftStage) string {
	switch stage {
	case workflow.StagePublished:
		return h.t("published", "已发布")
	case workflow.StageRejected:
		return h.t("rejected", "被驳回")
	case workflow.StageSuperseded:
		return h.t("superseded by a later version", "已被后续版本取代")
	case workflow.StageClosed:
		return h.t("not published; the incident was resolved", "未发布,事件已办结")
	case workflow.StageApproved:
		return h.t("approved, not yet published", "已批准,尚未发布")
	}
	return h.t("awaiting approval", "待审批")
}

func (h *Handlers) followupSection(inc *workflow.Incident, events []workflow.Event) bot.ReportSection {
	sec := bot.ReportSection{Key: "followups", Title: h.t("Follow-up reports and attention figures", "续报与关注度")}
	last := h.t("none", "无")
	if inc.Updates > 0 {
		last = fmt.Sprintf(h.t("%d, the last %s", "%d 次,最近一次 %s"), inc.Updates, h.reportTime(inc.LastUpdateAt))
	}
	f := []bot.ReportField{h.field(tx{EN: "Follow-up reports", ZH: "续报"}, last)}
	if every := h.svc.Policy().For(inc.Level).UpdateEvery; every > 0 {
		f = append(f, h.field(tx{EN: "Cadence", ZH: "续报频次"},
			fmt.Sprintf(h.t("every %[1]s at the %[2]s level", "%[2]s级别每 %[1]s 一次"), span(every, h.locale), inc.Level.Text().In(h.locale))))
	}
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{Fields: f})

	updates := &bot.ReportTable{Columns: h.columns(tx{EN: "No.", ZH: "序号"}, tx{EN: "Time", ZH: "时间"},
		tx{EN: "By", ZH: "报告人"}, tx{EN: "Figures", ZH: "指标"}, tx{EN: "Report", ZH: "内容"})}
	spread := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "By", ZH: "报告人"}, tx{EN: "Sign", ZH: "迹象"})}
	for _, e := range events {
		switch e.Kind {
		case workflow.EventUpdated:
			figs := "—"
			if e.Data.Figures != nil && !e.Data.Figures.IsZero() {
				figs = h.figureList(*e.Data.Figures)
			}
			text := e.Text
			if text == "" {
				text = "—"
			}
			updates.Rows = append(updates.Rows, []string{strconv.Itoa(e.Data.Number), h.reportTime(e.At), h.actorName(e.Actor), figs, text})
		case workflow.EventSpreading:
			what := e.Text
			if e.Data.Sign != nil {
				what = h.signText(*e.Data.Sign)
			}
			spread.Rows = append(spread.Rows, []string{h.reportTime(e.At), h.actorName(e.Actor), what})
		}
	}
	if len(updates.Rows) > 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Follow-up reports", "续报记录"), Table: updates})
	}

	fig := bot.ReportBlock{Heading: h.t("Attention figures", "关注度指标")}
	if len(inc.Figures) == 0 {
		fig.Note = h.t("No attention figures were recorded.", "未记录关注度指标。")
		sec.Blocks = append(sec.Blocks, fig)
	} else {
		fig.Table = &bot.ReportTable{Columns: []string{h.t("Time", "时间")}}
		for _, k := range workflow.FigureList {
			fig.Table.Columns = append(fig.Table.Columns, k.Text().In(h.locale))
		}
		for _, f := range inc.Figures {
			row := []string{h.reportTime(f.At)}
			for _, k := range workflow.FigureList {
				v, ok := f.Get(k)
				cell := "—"
				if ok {
					cell = thousands(v)
				}
				row = append(row, cell)
			}
			fig.Table.Rows = append(fig.Table.Rows, row)
		}
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Chart: h.figuresChart(inc.Figures)}, fig)
	}
	if len(spread.Rows) > 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Signs of spreading", "扩散迹象"), Table: spread})
	}
	return sec
}

// figuresChart is the series of each figure given in series.
func (h *Handlers) figuresChart(series []workflow.Figures) *bot.ReportChart {
	c := &bot.ReportChart{Title: h.t("Attention figures over time", "关注度指标变化")}
	for _, k := range workflow.FigureList {
		s := bot.ReportSeries{Kind: k, Name: k.Text().In(h.locale)}
		for _, f := range series {
			v, ok := f.Get(k)
			if !ok {
				continue
			}
			s.Max = max(s.Max, v)
			s.Points = append(s.Points, bot.ReportPoint{At: f.At, Value: v,
				Label: fmt.Sprintf(h.t("%s %s at %s", "%s %s(%s)"), s.Name, thousands(v), h.reportTime(f.At))})
		}
		if len(s.Points) == 0 {
			continue
		}
		s.Legend = fmt.Sprintf(h.t("%s (max %s)", "%s(最高 %s)"), s.Name, thousands(s.Max))
		s.Latest = s.Name + " " + thousands(s.Points[len(s.Points)-1].Value)
		c.Series = append(c.Series, s)
	}
	if len(c.Series) > 1 {
		c.Note = h.t("Each line is drawn to its own scale, up to its largest value.", "每条折线按各自的最高值缩放。")
	}
	return c
}

func (h *Handlers) reportsSection(inc *workflow.Incident, events []workflow.Event) bot.ReportSection {
	sec := bot.ReportSection{Key: "reports", Title: h.t("Reports, referral and resolution", "报告、移交与办结")}
	lp := h.svc.Policy().For(inc.Level)

	leaders := bot.ReportBlock{Heading: h.t("Report to the leaders", "报告领导")}
	switch {
	case inc.Reported():
		state := h.t("complete", "已完成")
		if !inc.DoubleReported(h.roster) {
			principal, _ := inc.AwaitedReceipts(h.roster)
			state = h.t("awaiting the leader in charge's acknowledgement", "待分管领导签收")
			if principal {
				state = h.t("awaiting a principal leader's acknowledgement", "待主要领导签收")
			}
		}
		leaders.Fields = []bot.ReportField{
			h.field(tx{EN: "Reported", ZH: "报告时间"}, h.reportTime(inc.ReportedAt)),
			h.field(tx{EN: "Double report", ZH: "双重报告"}, state),
		}
	case lp.Report > 0:
		leaders.Note = h.t("Not reported to the leaders at this level yet.", "尚未按该级别报告领导。")
	default:
		leaders.Note = h.t("The plan asks for no report to the leaders at this level.", "预案对该级别不要求报告领导。")
	}
	receipts := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "Acknowledged by", ZH: "签收人"})}
	up := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "By", ZH: "报告人"}, tx{EN: "Note", ZH: "说明"})}
	referrals := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "By", ZH: "操作人"}, tx{EN: "Reason", ZH: "理由"})}
	closing := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "Step", ZH: "事项"},
		tx{EN: "By", ZH: "操作人"}, tx{EN: "Text", ZH: "内容"})}
	for _, e := range events {
		at, who := h.reportTime(e.At), h.actorName(e.Actor)
		switch e.Kind {
		case workflow.EventReceived:
			if e.Data.Principal {
				who += h.t(" (principal)", "(主要领导)")
			}
			receipts.Rows = append(receipts.Rows, []string{at, who})
		case workflow.EventReportedUp:
			if e.Data.Auto {
				who = h.t("Firebreak, by the roster's rule", "Firebreak(按名册设置自动上报)")
			}
			note := e.Text
			if note == "" {
				note = "—"
			}
			up.Rows = append(up.Rows, []string{at, who, note})
		case workflow.EventReferred:
			referrals.Rows = append(referrals.Rows, []string{at, who, e.Text})
		case workflow.EventResolved:
			step := h.t("resolved", "办结")
			if e.Data.Override {
				step = h.t("resolved without a published reply (leader's override)", "特批办结(未发布口径)")
			}
			closing.Rows = append(closing.Rows, []string{at, step, who, e.Text})
		case workflow.EventFedBack:
			closing.Rows = append(closing.Rows, []string{at, h.t("result fed back to the leaders", "办结结果反馈领导"), who, e.Text})
		case workflow.EventReopened:
			text := e.Text
			if text == "" {
				text = "—"
			}
			closing.Rows = append(closing.Rows, []string{at, h.t("reopened", "重新打开"), who, text})
		}
	}
	sec.Blocks = append(sec.Blocks, leaders)
	if len(receipts.Rows) > 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Heading: h.t("Acknowledgements of the reports (收到)", "报告签收(收到)"), Table: receipts})
	}

	authority := bot.ReportBlock{Heading: h.t("Report to the higher authority", "报告上级主管部门")}
	switch {
	case !inc.ReportedUpAt.IsZero():
		authority.Fields = []bot.ReportField{h.field(tx{EN: "Reported up", ZH: "上报时间"}, h.reportTime(inc.ReportedUpAt))}
		if len(up.Rows) > 0 {
			authority.Table = up
		}
	case lp.Authority > 0:
		authority.Note = h.t("Not reported to the higher authority yet.", "尚未报告上级主管部门。")
	default:
		authority.Note = h.t("The plan asks for no report to the higher authority at this level.", "预案对该级别不要求报告上级主管部门。")
	}
	sec.Blocks = append(sec.Blocks, authority)

	referral := bot.ReportBlock{Heading: h.t("Referral to law enforcement", "移交执纪执法部门")}
	if len(referrals.Rows) > 0 {
		referral.Table = referrals
	} else {
		referral.Note = h.t("Not referred.", "未移交。")
	}
	sec.Blocks = append(sec.Blocks, referral)

	resolution := bot.ReportBlock{Heading: h.t("Resolution and feedback", "办结与反馈")}
	if inc.Open() {
		resolution.Note = h.t("Not resolved: the incident is still open.", "尚未办结:事件仍在处置中。")
	} else {
		resolution.Fields = []bot.ReportField{
			h.field(tx{EN: "Resolved", ZH: "办结时间"}, h.reportTime(inc.ResolvedAt)),
			h.field(tx{EN: "Substantive answer", ZH: "实质答复"}, inc.Summary),
		}
	}
	sec.Blocks = append(sec.Blocks, resolution)
	if len(closing.Rows) > 0 {
		sec.Blocks = append(sec.Blocks, bot.ReportBlock{Table: closing})
	}
	return sec
}

func (h *Handlers) timelineSection(events []workflow.Event) bot.ReportSection {
	sec := bot.ReportSection{Key: "timeline", Title: h.t("Complete timeline", "完整处置记录")}
	t := &bot.ReportTable{Columns: h.columns(tx{EN: "Time", ZH: "时间"}, tx{EN: "Step", ZH: "事项"})}
	for i, e := range events {
		t.Rows = append(t.Rows, []string{h.reportTime(e.At), h.lineAt(events, i)})
	}
	sec.Blocks = append(sec.Blocks, bot.ReportBlock{
		Note:  fmt.Sprintf(h.t("%d recorded steps, oldest first.", "共 %d 条记录,按时间先后排列。"), len(events)),
		Table: t,
	})
	return sec
}

// reportCommand answers report: where the incident stands in a few
// lines, and where the full report is.
func (h *Handlers) reportCommand(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, events, err := h.svc.History(ctx, req.Actor, id)
	if err != nil {
		return nil, err
	}
	rep := h.BuildReport(inc, events, h.now())
	title := fmt.Sprintf(h.t("Handling report of %s, as of %s", "%s 处置报告,截至 %s"), inc.ID, clockTime(rep.AsOf, rep.AsOf, h.loc()))
	if rep.Interim {
		title = fmt.Sprintf(h.t("Handling report of %s (INTERIM: still open), as of %s", "%s 处置报告(阶段性:尚未办结),截至 %s"),
			inc.ID, clockTime(rep.AsOf, rep.AsOf, h.loc()))
	}
	s := rep.Summary
	state := fmt.Sprintf(h.t("Level: %s; status: %s; deadlines: %s; unified reply: %s", "级别:%s;状态:%s;处置时限:%s;统一口径:%s"),
		h.levelText(inc), inc.Status.Text().In(h.locale), h.deadlineCounts(s), h.publishedText(s.Published))
	path := h.publicURL + bot.ReportPath(inc.ID)
	link := fmt.Sprintf(h.t("Report: %s (Markdown: %s.md)", "报告:%s(Markdown:%s.md)"), path, path)
	if h.publicURL == "" {
		link += h.t(" on Firebreak's web server (FIREBREAK_PUBLIC_URL makes this a link)",
			",在 Firebreak 的网页服务上(设置 FIREBREAK_PUBLIC_URL 后此处为链接)")
	}
	return &bot.Reply{Text: title + "\n" + state + "\n" + link}, nil
}
