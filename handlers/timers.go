package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Tick handles a timer that fell due (the Scheduler calls it): the Service
// decides whether the reason still holds and records it with its notices,
// and says what became of the timer.
func (h *Handlers) Tick(ctx context.Context, t workflow.DueTimer) (workflow.TickResult, error) {
	return h.svc.Tick(ctx, t)
}

// escalationCommands are the commands added for spreading incidents.
func (h *Handlers) escalationCommands() []bot.Command {
	return []bot.Command{
		{Name: "spread", Aliases: []string{"扩散"}, Roles: anyone, Usage: "<id> <note>",
			Summary: tx{EN: "report signs of spreading; a general incident becomes major",
				ZH: "报告扩散迹象;一般舆情升级为重大"},
			Examples: []string{"spread YQ-7 reposted by two local news accounts"}, Run: h.spread},
	}
}

func (h *Handlers) spread(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
	id, err := h.need1(args)
	if err != nil {
		return nil, err
	}
	inc, events, err := h.svc.Spread(ctx, req.Actor, id, args.Rest(1))
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf(h.t("Spreading recorded on %s.", "已记录 %s 的扩散情况。"), inc.ID)
	for _, e := range events {
		if e.Kind == workflow.EventEscalated {
			text += h.t(" It is now major: the major process and deadlines apply, and the principal leaders are told.",
				"已升级为重大舆情,按重大舆情流程和时限处置,并已报告主要领导。")
		}
	}
	return h.done(inc, text), nil
}

// timerLine describes the events of timers and escalation. Every reminder
// names its incident, its deadline and when that falls, so two different
// reminders never read the same. Time left is told from the moment of the
// event, so the timeline read later says what was due and when, not a
// countdown from now; dates are shown when not today.
func (h *Handlers) timerLine(e workflow.Event) (string, bool) {
	now := h.now()
	d := e.Data
	at := func(t time.Time) string { return dueTime(t, now, h.loc()) } // a due time: midnight reads 24:00 of its day
	id := e.Incident
	switch e.Kind {
	case workflow.EventReminder:
		deadline := d.Deadline.Text().In(h.locale)
		left := span(d.Due.Sub(e.At), h.locale)
		if d.Phase == workflow.PhaseHalf {
			return fmt.Sprintf(h.t("⏰ %s: half the time for \"%s\" has passed; due %s (in %s)",
				"⏰ %s:「%s」时限已过半,%s 截止(剩余 %s)"), id, deadline, at(d.Due), left), true
		}
		return fmt.Sprintf(h.t("⏰ %s: \"%s\" is due %s (in %s)", "⏰ %s:「%s」将于 %s 截止(剩余 %s)"),
			id, deadline, at(d.Due), left), true
	case workflow.EventOverdue:
		// One notice may name several deadlines: those an incident was born
		// past (opened late, raised, reopened).
		var parts []string
		for _, o := range d.Overdue {
			parts = append(parts, fmt.Sprintf(h.t("\"%s\" was due %s", "「%s」时限为 %s"),
				o.Deadline.Text().In(h.locale), at(o.Due)))
		}
		return fmt.Sprintf(h.t("🔴 %s is OVERDUE: %s", "🔴 %s 已超时:%s"), id, strings.Join(parts, h.t("; ", ";"))), true
	case workflow.EventUpdateDue:
		filed := ""
		if d.Filed != nil {
			filed = fmt.Sprintf(h.t(", %d filed so far", ",已续报 %d 次"), *d.Filed)
		}
		return fmt.Sprintf(h.t("📝 %s: follow-up report #%d is due %s (every %s%s); file it with: update %s <text>",
			"📝 %s:第 %d 次续报于 %s 到期(每 %s 一次%s);请用 续报 %s <内容> 提交"),
			id, d.Number, at(d.Due), span(d.Every, h.locale), filed, id), true
	case workflow.EventApprovalWait:
		return fmt.Sprintf(h.t("⏳ %s: draft version %d has waited since %s for your approval",
			"⏳ %s:第 %d 版口径自 %s 起等待您审批"), id, d.Version, clockTime(d.Since, now, h.loc())), true
	case workflow.EventSpreading:
		if d.Sign != nil {
			return fmt.Sprintf(h.t("📈 %s is spreading by its figures: %s", "📈 %s 指标显示有扩散迹象:%s"), id, h.signText(*d.Sign)), true
		}
		return fmt.Sprintf(h.t("%s reported that %s is spreading: %s", "%s 报告 %s 有扩散迹象:%s"),
			h.name(e.Actor), id, e.Text), true
	case workflow.EventEscalated:
		why := h.t("not resolved by its answer deadline", "未在实质答复时限内办结")
		if d.Reason == workflow.EscalatedSpreading {
			why = h.t("signs of spreading: ", "有扩散迹象:") + e.Text
			if d.Sign != nil {
				why = h.t("signs of spreading: ", "有扩散迹象:") + h.signText(*d.Sign)
			}
		}
		return fmt.Sprintf(h.t("⬆ %s escalated from %s to %s — %s; the major process applies from now, its deadlines counting from %s",
			"⬆ %s 由%s升级为%s——%s;自 %s 起按重大舆情流程处置,时限从此时起算"), id,
			d.From.Text().In(h.locale), d.To.Text().In(h.locale),
			why, clockTime(e.At, now, h.loc())), true
	}
	return "", false
}
