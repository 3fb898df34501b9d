package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"

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
		}
		m.Card = h.card(inc)
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
			Body:     e.Text,
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
	}
	return h.card(inc)
}

func (h *Handlers) renderDigest(ctx context.Context, kind string) (bot.Message, error) {
	open, err := h.svc.Incidents(ctx, workflow.ListOpen)
	if err != nil {
		return bot.Message{}, fmt.Errorf("digest: %w", err)
	}
	return h.digestMessage(kind, h.now(), open), nil
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
	if inc.Level == workflow.LevelCritical {
		s += "\n" + h.t("Critical: report to the higher authority as well.", "特别重大:同时上报上级主管部门。")
	}
	return s
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
		return fmt.Sprintf(h.t("%s opened %s: %s (%s, %s)", "%s 新建 %s:%s(%s,%s)"), who, id, e.Text,
			e.Data.Level.Text().In(h.locale), e.Data.Category.Text().In(h.locale))
	case workflow.EventAssigned:
		return fmt.Sprintf(h.t("%s assigned %s to %s (%s)", "%s 将 %s 指派给 %s(%s)"), who, id,
			h.name(e.Data.Assignee), h.name(e.Data.Department))
	case workflow.EventAcknowledged:
		if from := e.Data.TakenFrom; from != "" {
			return fmt.Sprintf(h.t("%s acknowledged %s, taking it over from %s", "%s 接办 %s(从 %s 处接手)"), who, id, h.name(from))
		}
		return fmt.Sprintf(h.t("%s acknowledged %s", "%s 接办 %s"), who, id)
	case workflow.EventLevelChanged:
		return fmt.Sprintf(h.t("%s changed %s from %s to %s", "%s 将 %s 由%s调整为%s"), who, id,
			e.Data.From.Text().In(h.locale), e.Data.To.Text().In(h.locale))
	case workflow.EventUpdated:
		return fmt.Sprintf(h.t("%s filed follow-up report #%s on %s: %s", "%s 提交 %s 第 %s 次续报:%s"),
			who, h.pair(e.Data.Number, id)[0], h.pair(e.Data.Number, id)[1], e.Text)
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
		return fmt.Sprintf(h.t("%s resolved %s: %s", "%s 办结 %s:%s"), who, id, e.Text)
	case workflow.EventReopened:
		return fmt.Sprintf(h.t("%s reopened %s", "%s 重新打开 %s"), who, id)
	}
	if line, ok := h.timerLine(e); ok {
		return line
	}
	return fmt.Sprintf("%s %s %s", who, e.Kind, id)
}

// pair orders a number and an incident ID for the locale's sentence order:
// English says "version 2 of YQ-7", Chinese "YQ-7 第 2 版".
func (h *Handlers) pair(n int, id string) [2]string {
	if h.locale == workflow.LocaleZH {
		return [2]string{id, strconv.Itoa(n)}
	}
	return [2]string{strconv.Itoa(n), id}
}
