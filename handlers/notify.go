package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Render implements bot.Renderer: it words a notice, for any platform, from
// the incident as it is now. The notice says who is told and of what (the
// workflow decided that); the card it shows is the present state, so a card
// delivered late or refreshed never contradicts the live board, and buttons
// that no longer apply are gone.
func (h *Handlers) Render(ctx context.Context, n workflow.Notice, _ string) (bot.Message, error) {
	nt, err := n.Notification()
	if errors.Is(err, workflow.ErrNotNotification) {
		// Written by an earlier release: a rendered message.
		m, err := bot.DecodeMessage(n.Body)
		if err != nil {
			return bot.Message{}, fmt.Errorf("%w: %v", bot.ErrBadNotice, err)
		}
		return m, nil
	}
	if err != nil {
		return bot.Message{}, fmt.Errorf("%w: %v", bot.ErrBadNotice, err)
	}
	if nt.Kind == workflow.NoticeDigest {
		return h.renderDigest(ctx, nt.Digest)
	}
	if workflow.IsCandidateID(n.Incident) {
		return h.renderCandidate(ctx, n, nt)
	}
	inc, err := h.svc.Incident(ctx, n.Incident)
	if workflow.ErrorCode(err) == workflow.CodeNotFound {
		return bot.Message{}, fmt.Errorf("%w: %v", bot.ErrBadNotice, err)
	}
	if err != nil {
		return bot.Message{}, err
	}
	thread := nt.Thread.Key(inc.ID)
	if nt.Kind == workflow.NoticeRefresh {
		_, private := n.Audience.Person()
		return bot.Message{Kind: "refresh", Card: h.threadCard(inc, nt.Thread, private, true), Thread: thread, Refresh: true}, nil
	}
	if nt.Event == nil {
		return bot.Message{}, fmt.Errorf("%w: notice %s of kind %s tells of no event", bot.ErrBadNotice, n.ID, nt.Kind)
	}
	e := *nt.Event
	line := h.EventLine(e)
	if nt.Took {
		line = h.tookLine(e)
	}
	m := bot.Message{Kind: string(e.Kind), Text: line, Thread: thread}
	switch nt.Kind {
	case workflow.NoticeEvent:
	case workflow.NoticeCard:
		if e.Kind == workflow.EventOpened {
			m.Kind = "incident"
		}
		if e.Kind == workflow.EventEscalated {
			m.Text += "\n" + h.reportText(inc)
		}
		m.Card = h.card(inc)
	case workflow.NoticeReport:
		switch e.Kind {
		case workflow.EventOpened, workflow.EventLevelChanged:
			m.Kind, m.Text = "report", h.reportText(inc)
		case workflow.EventEscalated:
			m.Text += "\n" + h.reportText(inc)
		case workflow.EventReportedUp:
			m.Kind, m.Text = "report", h.reportUpText(inc)
		}
		m.Card = h.reportCard(inc)
		if n.Audience == workflow.ChannelAuthority {
			m.Card = h.authorityCard(inc)
		}
	case workflow.NoticeAssigned:
		m.Kind = "assigned"
		m.Text = fmt.Sprintf(h.t("%s is assigned to you. Acknowledge it to tell everyone you have it.",
			"%s 已指派给您,请确认接办。"), h.headline(inc))
		m.Card = h.assignedCard(inc)
	case workflow.NoticeApproval:
		m.Kind = "approval"
		if e.Kind == workflow.EventDrafted {
			m.Text = fmt.Sprintf(h.t("%s asks you to approve the unified reply for %s.",
				"%s 请您审批 %s 的统一口径。"), h.name(e.Actor), inc.ID)
		}
		// The request is posted once per chat; a nudge is a new message, so
		// that it reaches the person again.
		m.Card, m.Once = h.threadCard(inc, nt.Thread, false, false), e.Kind == workflow.EventDrafted
	case workflow.NoticePublish:
		m.Kind = "quorum"
		m.Card, m.Once = h.threadCard(inc, nt.Thread, false, false), true
	case workflow.NoticeRedraft:
		m.Text += "\n" + fmt.Sprintf(h.t("Write a new version with: draft %s <text>", "请用 draft %s <正文> 起草新版本"), inc.ID)
	case workflow.NoticeStatement:
		// The statement is posted once: as the card's body, not also as text.
		m.Kind, m.Text = "statement", ""
		m.Card = &bot.Card{
			Incident: inc.ID,
			Title:    fmt.Sprintf(h.t("Statement on %s", "关于%s的统一口径"), inc.Title),
			Body:     e.Text + "\n" + h.voice(inc, e),
			Footer:   fmt.Sprintf("%s v%d #%s", inc.ID, e.Data.Version, e.Data.Hash),
		}
	default:
		return bot.Message{}, fmt.Errorf("%w: notice %s has unknown kind %q", bot.ErrBadNotice, n.ID, nt.Kind)
	}
	return m, nil
}

// threadCard is the card of a thread as the incident now stands: the
// incident card (the short one in private), the approval request or the
// publish prompt of a version. quote shortens a long draft, for a message
// edited in place, which must fit the platform's limits in one piece.
func (h *Handlers) threadCard(inc *workflow.Incident, t workflow.Thread, private, quote bool) *bot.Card {
	switch t.Kind {
	case workflow.ThreadApproval:
		return h.draftCard(inc, t.Version, quote)
	case workflow.ThreadPublish:
		return h.publishCard(inc, t.Version, quote)
	case workflow.ThreadIncident:
		if private {
			return h.assignedCard(inc)
		}
	case workflow.ThreadReport:
		return h.reportCard(inc)
	case workflow.ThreadAuthority:
		return h.authorityCard(inc)
	}
	return h.card(inc)
}

func (h *Handlers) renderDigest(ctx context.Context, kind string) (bot.Message, error) {
	open, err := h.svc.Incidents(ctx, workflow.ListOpen)
	if err != nil {
		return bot.Message{}, fmt.Errorf("digest: %w", err)
	}
	now := h.now()
	var resolved []*workflow.Incident
	if kind == DigestWeekly {
		if resolved, err = h.svc.ResolvedBetween(ctx, now.Add(-digestWeek), time.Time{}); err != nil {
			return bot.Message{}, fmt.Errorf("digest: %w", err)
		}
	}
	return h.digestMessage(kind, now, open, resolved), nil
}

// lineAt describes events[i] in a line, like EventLine, except that an
// assignment to oneself acknowledged in the same step reads as a take
// ("Chen Jing took YQ-7").
func (h *Handlers) lineAt(events []workflow.Event, i int) string {
	if workflow.Took(events, i) {
		return h.tookLine(events[i])
	}
	return h.EventLine(events[i])
}

func (h *Handlers) tookLine(e workflow.Event) string {
	return fmt.Sprintf(h.t("%s took %s (%s)", "%s 接手 %s(%s)"), h.name(e.Actor), e.Incident, h.name(e.Data.Department))
}

func (h *Handlers) reportText(inc *workflow.Incident) string {
	s := fmt.Sprintf(h.t("REPORT: %s incident %s — %s", "报告:%s舆情 %s — %s"),
		inc.Level.Text().In(h.locale), inc.ID, inc.Title)
	s += "\n" + h.t("Leaders: press Received (or type receive "+inc.ID+") so the report counts as made.",
		"请领导点击「收到」(或输入 /incident 收到 "+inc.ID+")签收,报告方为完成。")
	for _, d := range h.svc.Deadlines(inc) {
		if d.Kind == workflow.DeadlineAuthority && !d.Met() {
			// The due time alone: the card's live field says how long is
			// left, or by how much it is overdue; words like "in 1h" here
			// would stand frozen beside it.
			s += "\n" + fmt.Sprintf(h.t("Report it to the higher authority by %s: press Report up, or type report-up %s once done.",
				"须于 %s 前向上级主管部门报告:点击「上报上级」,或报告后输入 /incident 上报 %s。"), dueTime(d.Due, h.now(), h.loc()), inc.ID)
		}
	}
	return s
}

// reportUpText is the report to the higher authority: over the
// organisation's name.
func (h *Handlers) reportUpText(inc *workflow.Incident) string {
	from := h.roster.Organisation.Name
	if from == "" {
		from = "Firebreak"
	}
	return fmt.Sprintf(h.t("REPORT from %s: %s incident %s — %s", "报告(%s):%s舆情 %s — %s"),
		from, inc.Level.Text().In(h.locale), inc.ID, inc.Title)
}

// voice is the line a statement is published over: the organisation's name,
// or its spokesperson's (以单位或网络新闻发言人的名义), as it was at
// publication.
func (h *Handlers) voice(inc *workflow.Incident, e workflow.Event) string {
	var st *workflow.Statement
	for i := range inc.Statements {
		if inc.Statements[i].DraftVersion == e.Data.Version {
			st = &inc.Statements[i]
		}
	}
	org := h.roster.Organisation.Name
	if st != nil {
		org = st.Organisation
	}
	switch {
	case st != nil && st.Spokesperson && org != "":
		return fmt.Sprintf(h.t("— %s, spokesperson of %s", "——%[2]s新闻发言人 %[1]s"), h.name(st.By), org)
	case st != nil && st.Spokesperson:
		return fmt.Sprintf(h.t("— %s, spokesperson", "——新闻发言人 %s"), h.name(st.By))
	case org != "":
		return "— " + org
	}
	return h.t("— the unified reply", "——统一口径")
}

// EventLine describes one timeline event in a sentence, in the roster's
// language (the board's timeline uses it too).
func (h *Handlers) EventLine(e workflow.Event) string {
	who := h.name(e.Actor)
	if e.Actor == "" {
		who = "Firebreak"
	}
	id := e.Incident
	switch e.Kind {
	case workflow.EventOpened:
		if from := e.Data.Candidate; from != "" {
			if e.Actor == "" {
				who = fmt.Sprintf(h.t("The intake rule %s", "监测规则 %s"), e.Data.Rule)
			}
			return fmt.Sprintf(h.t("%s opened %s from monitoring item %s: %s (%s, %s)", "%s 将监测条目 %s 立为事件 %s:%s(%s,%s)"),
				who, h.pair2(id, from)[0], h.pair2(id, from)[1], e.Text,
				e.Data.Level.Text().In(h.locale), e.Data.Category.Text().In(h.locale))
		}
		return fmt.Sprintf(h.t("%s opened %s: %s (%s, %s)", "%s 新建 %s:%s(%s,%s)"), who, id, e.Text,
			e.Data.Level.Text().In(h.locale), e.Data.Category.Text().In(h.locale))
	case workflow.EventMonitored:
		return h.monitoredLine(e)
	case workflow.EventAssigned:
		return fmt.Sprintf(h.t("%s assigned %s to %s (%s)", "%s 将 %s 指派给 %s(%s)"), who, id,
			h.name(e.Data.Assignee), h.name(e.Data.Department))
	case workflow.EventAcknowledged:
		if from := e.Data.TakenFrom; from != "" {
			return fmt.Sprintf(h.t("%s acknowledged %s, taking it over from %s", "%s 接办 %s(从 %s 处接手)"), who, id, h.name(from))
		}
		return fmt.Sprintf(h.t("%s acknowledged %s", "%s 接办 %s"), who, id)
	case workflow.EventLevelChanged:
		s := fmt.Sprintf(h.t("%s changed %s from %s to %s", "%s 将 %s 由%s调整为%s"), who, id,
			e.Data.From.Text().In(h.locale), e.Data.To.Text().In(h.locale))
		if e.Data.From == e.Data.To {
			s = fmt.Sprintf(h.t("%s cleared the spreading mark of %s, which stays %s", "%s 清除了 %s 的扩散标记,级别仍为%s"), who, id,
				e.Data.To.Text().In(h.locale))
		} else if e.Data.Cleared {
			s += h.t(", no longer spreading", ",并清除扩散标记")
		}
		if e.Text != "" {
			s += h.t(": ", ":") + e.Text
		}
		return s
	case workflow.EventUpdated:
		text := e.Text
		if f := e.Data.Figures; f != nil {
			figs := h.figureList(*f)
			if text == "" {
				text = figs
			} else {
				text = figs + h.t(" — ", "——") + text
			}
		}
		return fmt.Sprintf(h.t("%s filed follow-up report #%s on %s: %s", "%s 提交 %s 第 %s 次续报:%s"),
			who, h.pair(e.Data.Number, id)[0], h.pair(e.Data.Number, id)[1], text)
	case workflow.EventDrafted:
		return fmt.Sprintf(h.t("%s wrote draft version %s of %s (#%s)", "%s 起草 %s 第 %s 版口径(#%s)"),
			who, h.pair(e.Data.Version, id)[0], h.pair(e.Data.Version, id)[1], e.Data.Hash)
	case workflow.EventApproved:
		s := fmt.Sprintf(h.t("%s approved version %s of %s", "%s 批准 %s 第 %s 版"), who, h.pair(e.Data.Version, id)[0], h.pair(e.Data.Version, id)[1])
		if e.Text != "" {
			s += ": " + e.Text
		}
		return s
	case workflow.EventQuorum:
		return fmt.Sprintf(h.t("version %d of %s has the approvals it needs and can be published", "%[2]s 第 %[1]d 版审批完成,可以发布"), e.Data.Version, id)
	case workflow.EventRejected:
		return fmt.Sprintf(h.t("%s rejected version %s of %s: %s", "%s 驳回 %s 第 %s 版:%s"), who,
			h.pair(e.Data.Version, id)[0], h.pair(e.Data.Version, id)[1], e.Text)
	case workflow.EventPublished:
		return fmt.Sprintf(h.t("%s published version %s of %s (#%s)", "%s 发布 %s 第 %s 版口径(#%s)"), who,
			h.pair(e.Data.Version, id)[0], h.pair(e.Data.Version, id)[1], e.Data.Hash)
	case workflow.EventReferred:
		return fmt.Sprintf(h.t("%s referred %s to law enforcement: %s", "%s 将 %s 移交执纪执法部门:%s"), who, id, e.Text)
	case workflow.EventResolved:
		if e.Data.Override {
			return fmt.Sprintf(h.t("%s resolved %s without a published reply (leader's override): %s", "%s 特批办结 %s(未发布口径):%s"), who, id, e.Text)
		}
		return fmt.Sprintf(h.t("%s resolved %s: %s", "%s 办结 %s:%s"), who, id, e.Text)
	case workflow.EventReopened:
		if e.Text != "" {
			return fmt.Sprintf(h.t("%s reopened %s: %s", "%s 重新打开 %s:%s"), who, id, e.Text)
		}
		return fmt.Sprintf(h.t("%s reopened %s", "%s 重新打开 %s"), who, id)
	case workflow.EventReceived:
		role := ""
		if e.Data.Principal {
			role = h.t(" (principal)", "(主要领导)")
		}
		return fmt.Sprintf(h.t("%s%s acknowledged the report of %s", "%s%s 已签收 %s 的报告"), who, role, id)
	case workflow.EventReportedUp:
		if e.Data.Auto {
			return fmt.Sprintf(h.t("Firebreak reported %s to the higher authority", "Firebreak 已向上级主管部门报告 %s"), id)
		}
		if e.Text != "" {
			return fmt.Sprintf(h.t("%s reported %s to the higher authority: %s", "%s 已向上级主管部门报告 %s:%s"), who, id, e.Text)
		}
		return fmt.Sprintf(h.t("%s reported %s to the higher authority", "%s 已向上级主管部门报告 %s"), who, id)
	case workflow.EventFedBack:
		return fmt.Sprintf(h.t("Result of %s fed back to the leaders: %s", "%s 办结结果已反馈领导:%s"), id, e.Text)
	}
	if line, ok := h.timerLine(e); ok {
		return line
	}
	return fmt.Sprintf("%s %s %s", who, e.Kind, id)
}

// figureList is "posts 35, views 12,000, heat 68".
func (h *Handlers) figureList(f workflow.Figures) string {
	var parts []string
	for _, k := range workflow.FigureList {
		if v, ok := f.Get(k); ok {
			parts = append(parts, k.Text().In(h.locale)+" "+thousands(v))
		}
	}
	return strings.Join(parts, h.t(", ", ","))
}

// signText says which figure met the spreading rule: "posts 20 → 60 (+200%
// in 40m)" or "heat 85 (at or above 80)".
func (h *Handlers) signText(sg workflow.Sign) string {
	name := sg.Figure.Text().In(h.locale)
	if sg.Figure == workflow.FigureHeat {
		return fmt.Sprintf(h.t("%s %s (the roster's threshold is %s)", "%s %s(名册阈值 %s)"), name, thousands(sg.To), thousands(sg.Threshold))
	}
	took := span(sg.Within, h.locale)
	if sg.Within < time.Minute {
		took = h.t("under a minute", "不到 1 分钟") // not "0m"
	}
	return fmt.Sprintf(h.t("%[1]s %[2]s → %[3]s (+%[4]d%% in %[5]s)", "%[1]s %[2]s → %[3]s(%[5]s内增长 %[4]d%%)"), name,
		thousands(sg.From), thousands(sg.To), sg.Growth, took)
}

// pair2 orders an incident and the candidate it was opened from for the
// locale's sentence order.
func (h *Handlers) pair2(id, from string) [2]string {
	if h.locale == workflow.LocaleZH {
		return [2]string{from, id}
	}
	return [2]string{id, from}
}

// pair orders a number and an incident ID for the locale's sentence order:
// English says "version 2 of YQ-7", Chinese "YQ-7 第 2 版".
func (h *Handlers) pair(n int, id string) [2]string {
	if h.locale == workflow.LocaleZH {
		return [2]string{id, strconv.Itoa(n)}
	}
	return [2]string{strconv.Itoa(n), id}
}
