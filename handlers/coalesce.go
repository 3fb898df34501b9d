package handlers

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Coalesced messages: when a chat's backlog is more than its rate limit
// sends in a minute, the Dispatcher hands its oldest routine notices here
// to be worded as one message (bot.Coalescer). The message lists them under
// a few headings, in the order they came, each as a line a person can act
// on: the incident's headline as it is now for an opened or assigned one,
// the event's sentence for the rest. Text people typed (titles, updates)
// goes into the message's Text as in every other message; the adapters
// escape it.

// maxCoalescedLine is how long one line of a coalesced message may be.
const maxCoalescedLine = 200

// coalesceGroup is a heading of a coalesced message.
type coalesceGroup int

const (
	groupOpened   coalesceGroup = iota // incident cards of an opening
	groupAssigned                      // an incident assigned to the person the message is for
	groupReports                       // reports to the leaders (overdue, escalated)
	groupTriage                        // new monitoring candidates to judge
	groupWaiting                       // candidates nobody judged in time
	groupOther                         // every other event
	groupCount
)

// Coalesce implements bot.Coalescer: it words the first notices of ns as
// one message, as many as budget (UTF-16 code units of text, the
// sender's bot.BudgetSender) holds, and returns how many it covers. A notice it cannot
// word (not a notification of an event) ends the message before it; a
// store failure before the first line is returned, after it the message
// ends there.
func (h *Handlers) Coalesce(ctx context.Context, ns []workflow.Notice, budget int) (bot.Message, int, error) {
	var (
		lines [groupCount][]string
		size  = utf16Len(h.coalesceFooter(len(ns))) + 1
		used  = map[coalesceGroup]bool{}
		count int
		cache = map[string]*workflow.Incident{}
	)
	for i, n := range ns {
		nt, err := n.Notification()
		if err != nil || (nt.Event == nil && (nt.Kind != workflow.NoticeTriage || nt.Triage == nil)) {
			break
		}
		var (
			g    coalesceGroup
			line string
		)
		if nt.Kind == workflow.NoticeTriage {
			g, line, err = h.triageLine(ctx, n, nt)
		} else {
			g, line, err = h.coalescedLine(ctx, n, nt, cache)
		}
		if err != nil {
			if i == 0 {
				return bot.Message{}, 0, err
			}
			break
		}
		cost := utf16Len(line) + 1
		if !used[g] {
			cost += utf16Len(h.coalesceHeading(g, len(ns))) + 1
		}
		if size+cost > budget {
			break
		}
		size += cost
		used[g] = true
		lines[g] = append(lines[g], line)
		count++
	}
	if count < 2 {
		return bot.Message{}, count, nil
	}
	var b strings.Builder
	for g := range groupCount {
		if len(lines[g]) == 0 {
			continue
		}
		b.WriteString(h.coalesceHeading(g, len(lines[g])) + "\n")
		for _, l := range lines[g] {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString(h.coalesceFooter(count))
	return bot.Message{Kind: bot.MessageCoalesced, Text: b.String()}, count, nil
}

// coalescedLine is the line of one notice and its heading.
func (h *Handlers) coalescedLine(ctx context.Context, n workflow.Notice, nt workflow.Notification,
	cache map[string]*workflow.Incident) (coalesceGroup, string, error) {
	e := *nt.Event
	group := groupOther
	switch {
	case nt.Kind == workflow.NoticeCard && e.Kind == workflow.EventOpened:
		group = groupOpened
	case nt.Kind == workflow.NoticeAssigned:
		group = groupAssigned
	case nt.Kind == workflow.NoticeReport:
		group = groupReports
	}
	if group == groupOpened || group == groupAssigned {
		inc, ok := cache[n.Incident]
		if !ok {
			var err error
			inc, err = h.svc.Incident(ctx, n.Incident)
			switch {
			case workflow.ErrorCode(err) == workflow.CodeNotFound:
				inc = nil // gone (wiped): the event still tells what it was
			case err != nil:
				return 0, "", fmt.Errorf("incident %s: %w", n.Incident, err)
			}
			cache[n.Incident] = inc
		}
		if inc != nil {
			return group, "• " + clip(h.shortHeadline(inc), maxCoalescedLine), nil
		}
		if group == groupOpened {
			return group, "• " + clip(e.Incident+" "+e.Text, maxCoalescedLine), nil
		}
		return group, "• " + e.Incident, nil
	}
	line := h.EventLine(e)
	if nt.Took {
		line = h.tookLine(e)
	}
	return group, "• " + clip(line, maxCoalescedLine), nil
}

// triageLine is the line of a triage notice: the candidate as it is now,
// with the grade suggested (a new one) or how long it waited (a reminder).
// A candidate judged since says so.
func (h *Handlers) triageLine(ctx context.Context, n workflow.Notice, nt workflow.Notification) (coalesceGroup, string, error) {
	group := groupTriage
	if nt.Triage.Step == workflow.TriageReminder {
		group = groupWaiting
	}
	c, err := h.svc.Candidate(ctx, n.Incident)
	switch {
	case workflow.ErrorCode(err) == workflow.CodeNotFound:
		return group, "• " + n.Incident, nil
	case err != nil:
		return 0, "", fmt.Errorf("candidate %s: %w", n.Incident, err)
	}
	line := fmt.Sprintf("%s [%s] %s", c.ID, h.suggestedGrade(c), c.Title)
	switch {
	case c.State != workflow.CandidatePending:
		line += h.t(" — ", " — ") + h.candidateState(c)
	case group == groupWaiting:
		line += h.t(" — waited ", " — 已等待 ") + span(nt.Triage.Waited, h.locale)
	}
	return group, "• " + clip(line, maxCoalescedLine), nil
}

// coalesceHeading is the heading of a group of n lines.
func (h *Handlers) coalesceHeading(g coalesceGroup, n int) string {
	switch g {
	case groupOpened:
		if n == 1 {
			return h.t("1 more incident opened:", "另有 1 起事件新建:")
		}
		return fmt.Sprintf(h.t("%d more incidents opened:", "另有 %d 起事件新建:"), n)
	case groupAssigned:
		if n == 1 {
			return h.t("1 more incident assigned to you (acknowledge it with: ack <id>):",
				"另有 1 起事件指派给您(请用 确认 <编号> 确认接办):")
		}
		return fmt.Sprintf(h.t("%d more incidents assigned to you (acknowledge each with: ack <id>):",
			"另有 %d 起事件指派给您(请逐一用 确认 <编号> 确认接办):"), n)
	case groupTriage, groupWaiting:
		items := fmt.Sprintf(h.t("%d more items", "另有 %d 条监测发现"), n)
		if n == 1 {
			items = h.t("1 more item", "另有 1 条监测发现")
		}
		if g == groupWaiting {
			return items + h.t(" still waiting for a judgement:", "仍待研判:")
		}
		return items + h.t(" found by the monitoring, to judge (intake open <item>, intake dismiss <item> <reason>, or the board's triage lane):",
			"待研判(监测 立案 <编号>、监测 排除 <编号> <理由>,或看板的研判栏):")
	case groupReports:
		if n == 1 {
			return h.t("1 more report (leaders: receive <id> so it counts as made):",
				"另有 1 份报告(请领导输入 /incident 收到 <编号> 签收):")
		}
		return fmt.Sprintf(h.t("%d more reports (leaders: receive <id> for each, so they count as made):",
			"另有 %d 份报告(请领导逐一输入 /incident 收到 <编号> 签收):"), n)
	}
	if n == 1 {
		return h.t("1 more notice:", "另有 1 条通知:")
	}
	return fmt.Sprintf(h.t("%d more notices:", "另有 %d 条通知:"), n)
}

// coalesceFooter says why n notices came in one message, and where each
// incident is in full.
func (h *Handlers) coalesceFooter(n int) string {
	return fmt.Sprintf(h.t("(%d notices in one message: more was waiting for this chat than it can be sent in a minute. status <id> shows an incident in full.)",
		"(以上 %d 条通知合并为一条消息:本会话待发消息超过一分钟内可发送的数量。用 status <编号> 查看事件详情。)"), n)
}

// clip puts s on one line of at most n characters, ending it with "…"
// when cut.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// utf16Len is the length Telegram counts a text in.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

var _ bot.Coalescer = (*Handlers)(nil)
