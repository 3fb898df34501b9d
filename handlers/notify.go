package handlers

import (
	"context"
	"fmt"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Notify implements workflow.Notifier: it turns the events of a transition
// into notices for the people and channels who must hear of them. The
// Service stores them in the same atomic write as the change.
func (h *Handlers) Notify(_ context.Context, inc *workflow.Incident, events []workflow.Event) ([]workflow.Notice, error) {
	var out []workflow.Notice
	add := func(e workflow.Event, to workflow.Audience, m bot.Message) {
		out = append(out, workflow.Notice{
			ID: e.ID + ">" + string(to), Incident: inc.ID, Audience: to, Body: bot.EncodeMessage(m),
		})
	}
	toLeaders := func(e workflow.Event, m bot.Message) {
		for _, a := range h.leaderAudiences() {
			add(e, a, m)
		}
	}
	// Whoever opened the incident sees it assigned in the reply to open:
	// telling them again in private would only be noise.
	opener := ""
	for _, e := range events {
		if e.Kind == workflow.EventOpened {
			opener = e.Actor
		}
	}
	for i, e := range events {
		line := h.lineAt(events, i)
		switch e.Kind {
		case workflow.EventOpened:
			add(e, workflow.ChannelIncidents, bot.Message{Kind: "incident", Text: line, Card: h.card(inc), Thread: inc.ID})
			if inc.Level.Rank() >= workflow.LevelMajor.Rank() {
				toLeaders(e, bot.Message{Kind: "report", Text: h.reportText(inc), Card: h.card(inc), Thread: inc.ID + ":report"})
			}
		case workflow.EventAssigned:
			// A hand-over by a person (not the routing at open) is news
			// for the channel, where the previous assignee hears of it.
			if e.Actor != "" {
				add(e, workflow.ChannelIncidents, bot.Message{Kind: "assigned", Text: line, Thread: inc.ID})
			}
			if assignee := e.Data["assignee"]; assignee != "" && assignee != e.Actor && assignee != opener {
				add(e, workflow.PersonAudience(assignee), bot.Message{Kind: "assigned",
					Text: fmt.Sprintf(h.t("%s is assigned to you. Acknowledge it to tell everyone you have it.",
						"%s 已指派给您,请确认接办。"), h.headline(inc)), Card: h.assignedCard(inc)})
			}
		case workflow.EventAcknowledged:
			// Taken over from a colleague: the channel and the colleague hear of it.
			if from := e.Data["from"]; from != "" {
				m := bot.Message{Kind: "acknowledged", Text: line, Thread: inc.ID}
				add(e, workflow.ChannelIncidents, m)
				add(e, workflow.PersonAudience(from), m)
			}
		case workflow.EventLevelChanged:
			add(e, workflow.ChannelIncidents, bot.Message{Kind: "level", Text: line, Card: h.card(inc), Thread: inc.ID})
			if inc.Level.Rank() > workflow.Level(e.Data["from"]).Rank() && inc.Level.Rank() >= workflow.LevelMajor.Rank() {
				toLeaders(e, bot.Message{Kind: "report", Text: h.reportText(inc), Card: h.card(inc), Thread: inc.ID + ":report"})
			}
		case workflow.EventUpdated, workflow.EventApproved, workflow.EventReferred,
			workflow.EventResolved, workflow.EventReopened:
			add(e, workflow.ChannelIncidents, bot.Message{Kind: string(e.Kind), Text: line})
		case workflow.EventDrafted:
			d := inc.CurrentDraft()
			toLeaders(e, bot.Message{Kind: "approval", Text: fmt.Sprintf(h.t("%s asks you to approve the unified reply for %s.",
				"%s 请您审批 %s 的统一口径。"), h.name(d.Author), inc.ID), Card: h.draftCard(inc, d),
				Thread: fmt.Sprintf("%s:approval:%d", inc.ID, d.Version)})
		case workflow.EventQuorum:
			d := inc.CurrentDraft()
			m := bot.Message{Kind: "quorum", Text: line, Card: &bot.Card{
				Incident: inc.ID,
				Title:    fmt.Sprintf(h.t("Version %d of %s is approved; publish it", "%[2]s 第 %[1]d 版已批准,请发布"), d.Version, inc.ID),
				Body:     d.Text,
				Buttons: []bot.Button{{ID: fmt.Sprintf("publish:%s:%d", inc.ID, d.Version),
					Label: h.t("Publish", "发布"), Style: bot.StylePrimary}},
			}}
			add(e, workflow.ChannelIncidents, bot.Message{Kind: "quorum", Text: line})
			for _, id := range h.roster.WithRole(workflow.RoleSpokesperson) {
				add(e, workflow.PersonAudience(id), m)
			}
		case workflow.EventRejected:
			add(e, workflow.ChannelIncidents, bot.Message{Kind: "rejected", Text: line})
			if d := inc.CurrentDraft(); d != nil && d.Author != e.Actor {
				add(e, workflow.PersonAudience(d.Author), bot.Message{Kind: "rejected", Text: line + "\n" +
					fmt.Sprintf(h.t("Write a new version with: draft %s <text>", "请用 draft %s <正文> 起草新版本"), inc.ID)})
			}
		case workflow.EventPublished:
			add(e, workflow.ChannelStatements, bot.Message{Kind: "statement", Text: e.Text, Card: &bot.Card{
				Incident: inc.ID,
				Title:    fmt.Sprintf(h.t("Statement on %s", "关于%s的统一口径"), inc.Title),
				Body:     e.Text,
				Footer:   fmt.Sprintf("%s v%s #%s", inc.ID, e.Data["version"], e.Data["hash"]),
			}})
			add(e, workflow.ChannelIncidents, bot.Message{Kind: "published", Text: line})
		default:
			for _, n := range h.timerNotices(inc, e) {
				add(e, n.to, n.msg)
			}
		}
	}
	return out, nil
}

// leaderAudiences is where approval requests and reports go: the leaders
// channel when the roster sets one, else each leader directly.
func (h *Handlers) leaderAudiences() []workflow.Audience {
	if _, ok := h.roster.Channel(workflow.ChannelLeaders); ok {
		return []workflow.Audience{workflow.ChannelLeaders}
	}
	var out []workflow.Audience
	for _, id := range h.roster.WithRole(workflow.RoleLeader) {
		out = append(out, workflow.PersonAudience(id))
	}
	return out
}

func (h *Handlers) reportText(inc *workflow.Incident) string {
	s := fmt.Sprintf(h.t("REPORT: %s incident %s — %s", "报告:%s舆情 %s — %s"),
		inc.Level.Text().In(h.locale), inc.ID, inc.Title)
	if inc.Level == workflow.LevelCritical {
		s += "\n" + h.t("Critical: report to the higher authority as well.", "特别重大:同时上报上级主管部门。")
	}
	return s
}

// lineAt describes events[i] in a line, like EventLine, except that an
// assignment to oneself acknowledged in the same step is a take ("Chen Jing
// took YQ-7"), which EventLine alone cannot tell from an assignment to a
// department that happened to land on the actor.
func (h *Handlers) lineAt(events []workflow.Event, i int) string {
	e := events[i]
	if e.Kind == workflow.EventAssigned && e.Actor != "" && e.Actor == e.Data["assignee"] && i+1 < len(events) {
		next := events[i+1]
		if next.Kind == workflow.EventAcknowledged && next.Actor == e.Actor && next.Version == e.Version {
			return fmt.Sprintf(h.t("%s took %s (%s)", "%s 接手 %s(%s)"), h.name(e.Actor), e.Incident, h.name(e.Data["department"]))
		}
	}
	return h.EventLine(e)
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
			workflow.Level(e.Data["level"]).Text().In(h.locale), workflow.Category(e.Data["category"]).Text().In(h.locale))
	case workflow.EventAssigned:
		return fmt.Sprintf(h.t("%s assigned %s to %s (%s)", "%s 将 %s 指派给 %s(%s)"), who, id,
			h.name(e.Data["assignee"]), h.name(e.Data["department"]))
	case workflow.EventAcknowledged:
		if from := e.Data["from"]; from != "" {
			return fmt.Sprintf(h.t("%s acknowledged %s, taking it over from %s", "%s 接办 %s(从 %s 处接手)"), who, id, h.name(from))
		}
		return fmt.Sprintf(h.t("%s acknowledged %s", "%s 接办 %s"), who, id)
	case workflow.EventLevelChanged:
		return fmt.Sprintf(h.t("%s changed %s from %s to %s", "%s 将 %s 由%s调整为%s"), who, id,
			workflow.Level(e.Data["from"]).Text().In(h.locale), workflow.Level(e.Data["to"]).Text().In(h.locale))
	case workflow.EventUpdated:
		return fmt.Sprintf(h.t("%s filed follow-up report #%s on %s: %s", "%s 提交 %s 第 %s 次续报:%s"),
			who, h.pair(e.Data["number"], id)[0], h.pair(e.Data["number"], id)[1], e.Text)
	case workflow.EventDrafted:
		return fmt.Sprintf(h.t("%s wrote draft version %s of %s (#%s)", "%s 起草 %s 第 %s 版口径(#%s)"),
			who, h.pair(e.Data["version"], id)[0], h.pair(e.Data["version"], id)[1], e.Data["hash"])
	case workflow.EventApproved:
		s := fmt.Sprintf(h.t("%s approved version %s of %s", "%s 批准 %s 第 %s 版"), who, h.pair(e.Data["version"], id)[0], h.pair(e.Data["version"], id)[1])
		if e.Text != "" {
			s += ": " + e.Text
		}
		return s
	case workflow.EventQuorum:
		return fmt.Sprintf(h.t("version %s of %s has the approvals it needs and can be published", "%[2]s 第 %[1]s 版审批完成,可以发布"), e.Data["version"], id)
	case workflow.EventRejected:
		return fmt.Sprintf(h.t("%s rejected version %s of %s: %s", "%s 驳回 %s 第 %s 版:%s"), who,
			h.pair(e.Data["version"], id)[0], h.pair(e.Data["version"], id)[1], e.Text)
	case workflow.EventPublished:
		return fmt.Sprintf(h.t("%s published version %s of %s (#%s)", "%s 发布 %s 第 %s 版口径(#%s)"), who,
			h.pair(e.Data["version"], id)[0], h.pair(e.Data["version"], id)[1], e.Data["hash"])
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
func (h *Handlers) pair(n, id string) [2]string {
	if h.locale == workflow.LocaleZH {
		return [2]string{id, n}
	}
	return [2]string{n, id}
}
