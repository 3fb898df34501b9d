package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// headline is "YQ-7 [major/inquiry] Canteen complaint".
func (h *Handlers) headline(inc *workflow.Incident) string {
	return fmt.Sprintf("%s [%s/%s] %s", inc.ID, inc.Level.Text().In(h.locale),
		inc.Category.Text().In(h.locale), inc.Title)
}

// card renders an incident with its deadlines and the buttons of its next step.
func (h *Handlers) card(inc *workflow.Incident) *bot.Card {
	now := h.now()
	c := &bot.Card{Incident: inc.ID, Title: h.headline(inc)}
	field := func(en, zh, v string) { c.Fields = append(c.Fields, bot.Field{Label: h.t(en, zh), Value: v}) }
	status := inc.Status.Text().In(h.locale)
	if inc.Spreading {
		status += h.t(" (spreading)", "(有扩散迹象)")
	}
	field("Status", "状态", status)
	dept := h.t("none", "无")
	if inc.Department != "" {
		dept = h.name(inc.Department)
	}
	field("Department", "部门", dept)
	field("Assignee", "负责人", h.name(inc.Assignee))
	field("Found", "发现时间", clockTime(inc.FoundAt, now, h.loc()))
	if inc.Source != "" {
		field("Source", "来源", inc.Source)
	}
	if inc.Candidate != "" {
		field("Monitoring item", "监测条目", inc.Candidate)
	}
	for _, d := range h.svc.Deadlines(inc) {
		field(d.Kind.Text().EN, d.Kind.Text().ZH, h.deadlineState(d, now, inc.Open()))
	}
	if d := inc.CurrentDraft(); d != nil {
		field("Draft", "口径草稿", h.draftState(inc, d))
	}
	if inc.Reported() {
		field("Report received", "报告签收", h.receiptsState(inc))
	}
	if inc.Updates > 0 {
		field("Follow-up reports", "续报", fmt.Sprintf(h.t("%d, last %s", "%d 次,最近 %s"), inc.Updates,
			clockTime(inc.LastUpdateAt, now, h.loc())))
	}
	if f := h.figuresState(inc); f != "" {
		field("Attention", "关注度", f)
	}
	if !inc.ReferredAt.IsZero() {
		field("Referred", "已移交", inc.Referral)
	}
	if !inc.Open() {
		field("Resolved", "办结", inc.Summary)
	}
	// The card is seen by a whole channel: the buttons show while anyone
	// may still take the incident on (the Service checks the presser).
	if inc.MayTake(nil) {
		c.Buttons = append(c.Buttons,
			bot.Button{ID: "ack:" + inc.ID, Label: h.t("Acknowledge", "确认接办"), Style: bot.StylePrimary},
			bot.Button{ID: "take:" + inc.ID, Label: h.t("Take it", "我来负责")})
	}
	return c
}

// reportCard is the incident card as reported to the leaders: the
// incident, and the buttons of the report — Received while the double
// report is not complete, Report up while the higher authority waits.
func (h *Handlers) reportCard(inc *workflow.Incident) *bot.Card {
	c := h.card(inc)
	c.Buttons = nil
	if inc.Open() && inc.Reported() && !inc.DoubleReported(h.roster) {
		c.Buttons = append(c.Buttons, bot.Button{ID: "receive:" + inc.ID, Label: h.t("Received", "收到"), Style: bot.StylePrimary})
	}
	if inc.AwaitsReportUp(h.svc.Policy()) {
		c.Buttons = append(c.Buttons, bot.Button{ID: "reportup:" + inc.ID, Label: h.t("Report up", "上报上级")})
	}
	return c
}

// authorityCard is the incident as the higher authority sees it: the card,
// with no buttons (they are not in the roster).
func (h *Handlers) authorityCard(inc *workflow.Incident) *bot.Card {
	c := h.card(inc)
	c.Buttons = nil
	return c
}

// receiptsState says who acknowledged the report: "Wang Fang (principal)
// 10:05, Zhao Lei 10:07 — double report complete", or who is awaited.
func (h *Handlers) receiptsState(inc *workflow.Incident) string {
	now := h.now()
	var parts []string
	for _, r := range inc.Receipts {
		name := h.name(r.By)
		if r.Principal {
			name += h.t(" (principal)", "(主要领导)")
		}
		parts = append(parts, name+" "+clockTime(r.At, now, h.loc()))
	}
	s := h.t("nobody yet", "尚无人签收")
	if len(parts) > 0 {
		s = strings.Join(parts, h.t(", ", "、"))
	}
	principal, leader := inc.AwaitedReceipts(h.roster)
	switch {
	case len(inc.Receipts) == 0:
	case !principal && !leader:
		return s + h.t(" — double report complete", "——双重报告已完成")
	case principal:
		return s + h.t(" — a principal leader has not acknowledged it", "——主要领导尚未签收")
	default:
		return s + h.t(" — the leader in charge has not acknowledged it", "——分管领导尚未签收")
	}
	return s
}

// figuresState is the latest attention figures and their change since the
// report before: "posts 60 (+25), views 12,000 (+4,000), heat 68 (−2)".
func (h *Handlers) figuresState(inc *workflow.Incident) string {
	last, prev, ok := inc.LatestFigures()
	if !ok {
		return ""
	}
	var parts []string
	for _, k := range workflow.FigureList {
		v, ok := last.Get(k)
		if !ok {
			continue
		}
		part := k.Text().In(h.locale) + " " + thousands(v)
		if p, ok := prev.Get(k); ok && p != v {
			sign := "+"
			if v < p {
				sign = "−"
			}
			part += " (" + sign + thousands(abs(v-p)) + ")"
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, h.t(", ", ",")) + " " + fmt.Sprintf(h.t("at %s", "(%s)"), clockTime(last.At, h.now(), h.loc()))
}

// thousands writes n with commas between thousands: 12,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// deadlineState is "by 12:30 (in 1h20m)", "by 12:30 (due now)", "met
// 10:05 (due 10:30)", "OVERDUE by 20m (due 10:30)"; an unmet deadline of a
// resolved incident is "not met". A same-day deadline reads "24:00". It reads
// in whole minutes, as it is written: a deadline met or looked at within
// half a minute of its due time reads as met, or due now (the record keeps
// the exact lateness).
func (h *Handlers) deadlineState(d workflow.Deadline, now time.Time, open bool) string {
	due := dueTime(d.Due, now, h.loc())
	late := func(t time.Time) time.Duration { return t.Sub(d.Due).Round(time.Minute) }
	switch {
	case d.Met() && late(d.MetAt) > 0:
		return fmt.Sprintf(h.t("met %s, %s late (due %s)", "已完成 %s,超时 %s(时限 %s)"),
			clockTime(d.MetAt, now, h.loc()), span(late(d.MetAt), h.locale), due)
	case d.Met():
		return fmt.Sprintf(h.t("met %s (due %s)", "已完成 %s(时限 %s)"), clockTime(d.MetAt, now, h.loc()), due)
	case !open:
		return fmt.Sprintf(h.t("not met (due %s)", "未完成(时限 %s)"), due)
	case late(now) > 0:
		return fmt.Sprintf(h.t("OVERDUE by %s (due %s)", "已超时 %s(时限 %s)"), span(late(now), h.locale), due)
	case late(now) == 0:
		return fmt.Sprintf(h.t("by %s (due now)", "%s 前(即将到期)"), due)
	default:
		return fmt.Sprintf(h.t("by %s (in %s)", "%s 前(剩余 %s)"), due, span(d.Due.Sub(now), h.locale))
	}
}

// draftState is "v2 #3f9a…, 1 of 2 approvals (Wang Fang), a principal
// leader's approval needed", or says that the version was published or
// rejected.
func (h *Handlers) draftState(inc *workflow.Incident, d *workflow.Draft) string {
	s := fmt.Sprintf("v%d #%s", d.Version, d.Hash) + h.t(", ", ",")
	switch {
	case d.Published:
		return s + h.t("published", "已发布")
	case d.Rejection != nil:
		return s + fmt.Sprintf(h.t("rejected by %s: %s", "被 %s 驳回:%s"), h.name(d.Rejection.By), d.Rejection.Note)
	}
	return s + h.approvalProgress(inc, d)
}

// approvalProgress says how far a draft is from quorum.
func (h *Handlers) approvalProgress(inc *workflow.Incident, d *workflow.Draft) string {
	lp := h.svc.Policy().For(inc.Level)
	names := make([]string, len(d.Approvals))
	principal := false
	for i, a := range d.Approvals {
		names[i] = h.name(a.By)
		principal = principal || a.Principal
	}
	s := fmt.Sprintf(h.t("%d of %d approvals", "已批准 %d/%d"), len(d.Approvals), lp.ApprovalsNeeded())
	if len(names) > 0 {
		s += fmt.Sprintf(h.t(" (%s)", "(%s)"), strings.Join(names, h.t(", ", "、")))
	}
	if h.svc.Policy().Quorum(inc.Level, d) {
		return s + h.t(", ready to publish", ",可以发布")
	}
	if lp.Principal && !principal {
		s += h.t(", a principal leader's approval needed", ",需主要领导批准")
	}
	return s
}

// maxQuote is how much of a draft an edited card quotes: an edit must fit
// the platform's limit in one message (Telegram: 4,096 characters with the
// card around it), and the full text went out with the request.
const maxQuote = 1500

// quoteDraft is the draft's text, shortened for an edited card when long
// (excerpt), saying where the full text is.
func (h *Handlers) quoteDraft(inc *workflow.Incident, d *workflow.Draft, quote bool) (body string, excerpt bool) {
	runes := []rune(d.Text)
	if !quote || len(runes) <= maxQuote {
		return d.Text, false
	}
	return string(runes[:maxQuote]) + "…\n" + fmt.Sprintf(h.t("(%d more characters: the full text is in the first request, with status %s and on the board's page /incidents/%s)",
		"(另有 %d 字:全文见首次审批请求、status %s 及看板页面 /incidents/%s)"), len(runes)-maxQuote, inc.ID, inc.ID), true
}

// draftCard is the approval request of draft version v: the exact text,
// version and hash, and where it stands; Approve and Reject buttons naming
// the version only while it can be decided.
func (h *Handlers) draftCard(inc *workflow.Incident, v int, quote bool) *bot.Card {
	now := h.now()
	d, stage := inc.DraftStage(v, h.svc.Policy())
	c := &bot.Card{
		Incident: inc.ID,
		Title:    fmt.Sprintf(h.t("Approve the unified reply for %s, version %d", "请审批 %s 的统一口径(第 %d 版)"), inc.ID, v),
	}
	if d == nil {
		c.Fields = []bot.Field{{Label: h.t("Version", "版本"), Value: h.t("no longer exists", "已不存在")}}
		return c
	}
	c.Body, c.Excerpt = h.quoteDraft(inc, d, quote)
	c.Fields = []bot.Field{
		{Label: h.t("Incident", "事件"), Value: h.headline(inc)},
		{Label: h.t("Written by", "起草人"), Value: h.name(d.Author)},
		{Label: h.t("Version", "版本"), Value: fmt.Sprintf("v%d #%s", d.Version, d.Hash)},
		{Label: h.t("Approvals", "审批"), Value: h.approvalProgress(inc, d)},
	}
	if note := h.stageNote(inc, d, stage); note != "" {
		c.Fields = append(c.Fields, bot.Field{Label: h.t("Status", "状态"), Value: note})
	}
	if stage == workflow.StagePending {
		c.Buttons = []bot.Button{
			{ID: fmt.Sprintf("approve:%s:%d", inc.ID, d.Version), Label: h.t("Approve", "批准"), Style: bot.StylePrimary},
			{ID: fmt.Sprintf("reject:%s:%d", inc.ID, d.Version), Label: h.t("Reject", "驳回"), Style: bot.StyleDanger},
		}
	}
	for _, dl := range h.svc.Deadlines(inc) {
		if dl.Kind == workflow.DeadlineRespond && !dl.Met() && inc.Open() {
			c.Fields = append(c.Fields, bot.Field{Label: h.t("Publish by", "发布时限"), Value: h.deadlineState(dl, now, true)})
		}
	}
	return c
}

// publishCard asks a spokesperson to publish approved version v, with the
// button only while it can be published.
func (h *Handlers) publishCard(inc *workflow.Incident, v int, quote bool) *bot.Card {
	d, stage := inc.DraftStage(v, h.svc.Policy())
	c := &bot.Card{
		Incident: inc.ID,
		Title:    fmt.Sprintf(h.t("Version %d of %s is approved; publish it", "%[2]s 第 %[1]d 版已批准,请发布"), v, inc.ID),
	}
	if d == nil {
		return c
	}
	c.Body, c.Excerpt = h.quoteDraft(inc, d, quote)
	if note := h.stageNote(inc, d, stage); note != "" && stage != workflow.StageApproved {
		c.Fields = []bot.Field{{Label: h.t("Status", "状态"), Value: note}}
	}
	if stage == workflow.StageApproved {
		c.Buttons = []bot.Button{{ID: fmt.Sprintf("publish:%s:%d", inc.ID, v), Label: h.t("Publish", "发布"), Style: bot.StylePrimary}}
	}
	return c
}

// stageNote says why a version's request can no longer be acted on ("" for
// a pending one).
func (h *Handlers) stageNote(inc *workflow.Incident, d *workflow.Draft, stage workflow.DraftStage) string {
	switch stage {
	case workflow.StageApproved:
		return h.t("approved; waiting to be published", "已批准,待发布")
	case workflow.StagePublished:
		return h.t("✅ published", "✅ 已发布")
	case workflow.StageRejected:
		return fmt.Sprintf(h.t("⛔ rejected by %s: %s", "⛔ 被 %s 驳回:%s"), h.name(d.Rejection.By), d.Rejection.Note)
	case workflow.StageSuperseded:
		return fmt.Sprintf(h.t("⛔ Superseded by version %d: this request can no longer be decided",
			"⛔ 已被第 %d 版取代:本审批请求已失效"), inc.CurrentDraft().Version)
	case workflow.StageClosed:
		return fmt.Sprintf(h.t("%s is resolved", "%s 已办结"), inc.ID)
	}
	return ""
}

// maxListTitle is how much of a title a list line shows.
const maxListTitle = 60

// listLine is one incident in a list.
//
// The title is shortened to maxListTitle characters: a page of list
// (workflow.PageSize lines) then fits one Telegram message of 4,096
// characters whatever the titles; status shows the whole title.
func (h *Handlers) listLine(inc *workflow.Incident) string {
	now := h.now()
	s := fmt.Sprintf("%s — %s, %s", h.shortHeadline(inc), inc.Status.Text().In(h.locale), h.name(inc.Assignee))
	if d, ok := inc.NextDue(h.svc.Policy(), h.svc.Roster().Calendar()); ok {
		s += fmt.Sprintf("; %s %s", d.Kind.Text().In(h.locale), h.deadlineState(d, now, inc.Open()))
	}
	return s
}

// resolvedLine is a line of list resolved: the incident, when it was
// resolved and who handled it ("YQ-7 [major/inquiry] Canteen complaint —
// resolved 03-02 14:05, Li Ming").
func (h *Handlers) resolvedLine(inc *workflow.Incident) string {
	at := clockTime(inc.ResolvedAt, h.now(), h.loc())
	return fmt.Sprintf(h.t("%s — resolved %s, %s", "%s — %s 办结,%s"), h.shortHeadline(inc), at, h.name(inc.Assignee))
}

// shortHeadline is headline with the title cut to maxListTitle characters,
// so that a page of a list fits one message.
func (h *Handlers) shortHeadline(inc *workflow.Incident) string {
	short := *inc
	if t := []rune(inc.Title); len(t) > maxListTitle {
		short.Title = string(t[:maxListTitle-1]) + "…"
	}
	return h.headline(&short)
}

// assignedCard is the short card sent to a new assignee: what, by when, and
// the buttons to take it on.
func (h *Handlers) assignedCard(inc *workflow.Incident) *bot.Card {
	full := h.card(inc)
	c := &bot.Card{Incident: inc.ID, Title: full.Title, Buttons: full.Buttons}
	// The assignee's own next step, not the leaders' report.
	if d, ok := inc.NextHandlingDue(h.svc.Policy(), h.svc.Roster().Calendar()); ok {
		c.Fields = []bot.Field{{Label: d.Kind.Text().In(h.locale), Value: h.deadlineState(d, h.now(), true)}}
	}
	return c
}
