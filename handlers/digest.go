package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Digest kinds.
const (
	DigestDaily  = "daily"
	DigestWeekly = "weekly"
)

// DigestJobs returns the cron jobs of the roster's digest schedule (none
// when the roster sets none).
func (h *Handlers) DigestJobs() []bot.CronJob {
	var jobs []bot.CronJob
	add := func(kind, spec string) {
		if spec != "" {
			jobs = append(jobs, bot.CronJob{Name: kind + "-digest", Spec: spec,
				Run: func(ctx context.Context, at time.Time) error { return h.Digest(ctx, kind, at) }})
		}
	}
	add(DigestDaily, h.roster.Digest.Daily)
	add(DigestWeekly, h.roster.Digest.Weekly)
	return jobs
}

// Digest posts the digest of kind for the fire time at to the incidents
// channel: what is overdue, which deadlines fall today, every open incident;
// the weekly one also counts them by level and sums up the week. Its notice ID names the kind and
// the fire time, so a digest is delivered once even if two replicas build it.
// What it says is as of the Service's clock, the one the deadlines run on:
// in demo time the cron fires by the wall clock, far behind it.
func (h *Handlers) Digest(ctx context.Context, kind string, at time.Time) error {
	return h.svc.Enqueue(ctx, []workflow.Notice{workflow.DigestNotice(kind, at.In(h.loc()))})
}

// digestWeek is the span a weekly summary looks back over.
const digestWeek = 7 * 24 * time.Hour

// digestMessage renders the digest of kind at the instant at, from the open
// incidents and, for the weekly summary, those resolved in the week.
// Incidents and deadlines are counted apart and each count says which it
// is: "2 overdue" are incidents, "(5 deadlines past)" their missed
// deadlines. The weekly summary also sums up the week: the incidents opened
// in it (and how many of them are still open), those resolved in it, and
// the deadlines of both that fell in it, met on time or missed; and it
// lists the resolved ones.
func (h *Handlers) digestMessage(kind string, at time.Time, open, resolved []*workflow.Incident) bot.Message {
	loc := h.loc()
	day := at.In(loc)
	endOfDay := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	weekStart := at.Add(-digestWeek)
	var overdue, today []string
	var overdueIncidents int
	byLevel := map[workflow.Level]int{}
	// The incidents found in the week and their deadlines are counted as
	// the stats command counts them (found up to and including at), by the
	// same code: the summary and stats week agree.
	weekStats := workflow.ComputeStats(workflow.Period{From: weekStart, To: at.Add(time.Nanosecond)},
		append(slices.Clone(resolved), open...), h.svc.Policy(), h.roster.Calendar(), at)
	var metThisWeek, missedThisWeek int
	for _, ds := range weekStats.Deadlines {
		metThisWeek += ds.OnTime
		missedThisWeek += ds.Missed
	}
	for _, inc := range open {
		byLevel[inc.Level]++
		late := false
		for _, d := range h.svc.Deadlines(inc) {
			switch {
			case d.Met():
			case d.Late(at): // compared as the deadline keeps time (Instant)
				late = true
				overdue = append(overdue, fmt.Sprintf("%s %s — %s %s", inc.ID, inc.Title,
					d.Kind.Text().In(h.locale), h.deadlineState(d, at, true)))
			case !d.Due.After(endOfDay): // a same-day reply is due at 24:00, today's end
				today = append(today, fmt.Sprintf("%s %s — %s %s", inc.ID, inc.Title,
					d.Kind.Text().In(h.locale), h.deadlineState(d, at, true)))
			}
		}
		if late {
			overdueIncidents++
		}
	}
	counts := fmt.Sprintf(h.t("%d open, %d overdue", "未办结 %d 件,超时 %d 件"), len(open), overdueIncidents)
	if kind == DigestWeekly {
		counts = fmt.Sprintf(h.t("%d open (general %d, major %d, critical %d), %d overdue",
			"未办结 %d 件(一般 %d、重大 %d、特别重大 %d),超时 %d 件"), len(open),
			byLevel[workflow.LevelGeneral], byLevel[workflow.LevelMajor], byLevel[workflow.LevelCritical], overdueIncidents)
	}
	if n := len(overdue); n == 1 {
		counts += h.t(" (1 deadline past)", "(逾期时限 1 项)")
	} else if n > 1 {
		counts += fmt.Sprintf(h.t(" (%d deadlines past)", "(逾期时限 %d 项)"), n)
	}
	title := fmt.Sprintf(h.t("Daily digest %s: %s", "每日简报 %s:%s"), day.Format("01-02"), counts)
	if kind == DigestWeekly {
		title = fmt.Sprintf(h.t("Weekly summary %s–%s: %s", "每周汇总 %s—%s:%s"),
			weekStart.In(loc).Format("01-02"), day.Format("01-02"), counts)
	}
	c := &bot.Card{Title: title}
	section := func(en, zh string, lines []string) {
		if len(lines) > 0 {
			c.Fields = append(c.Fields, bot.Field{Label: h.t(en, zh), Value: strings.Join(lines, "\n")})
		}
	}
	if kind == DigestWeekly {
		c.Fields = append(c.Fields, bot.Field{Label: h.t("This week", "本周"),
			Value: fmt.Sprintf(h.t("incidents opened %d (%d still open), resolved %d; their deadlines met on time %d, missed %d",
				"新建事件 %d 件(%d 件未办结),办结 %d 件;新建事件的时限按时完成 %d 项,超时 %d 项"),
				weekStats.Incidents, weekStats.Open, len(resolved), metThisWeek, missedThisWeek)})
	}
	done := make([]string, len(resolved))
	for i, inc := range resolved {
		done[i] = fmt.Sprintf(h.t("%s — resolved %s: %s", "%s — %s 办结:%s"), h.headline(inc),
			clockTime(inc.ResolvedAt, at, loc), inc.Summary)
	}
	section("Resolved this week", "本周办结", done)
	section("Overdue deadlines", "已超时的时限", overdue)
	section("Due today", "今日到期", today)
	lines := make([]string, len(open))
	for i, inc := range open {
		lines[i] = h.listLine(inc)
	}
	section("Open incidents", "未办结事件", lines)
	if len(open) == 0 {
		c.Body = h.t("No open incidents.", "没有未办结的事件。")
	}
	return bot.Message{Kind: "digest", Text: title, Card: c}
}
