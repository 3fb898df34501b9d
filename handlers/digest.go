package handlers

import (
	"context"
	"fmt"
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
// the weekly one also counts them by level. Its notice ID names the kind and
// the fire time, so a digest is delivered once even if two replicas build it.
// What it says is as of the Service's clock, the one the deadlines run on:
// in demo time the cron fires by the wall clock, far behind it.
func (h *Handlers) Digest(ctx context.Context, kind string, at time.Time) error {
	return h.svc.Enqueue(ctx, []workflow.Notice{workflow.DigestNotice(kind, at.In(h.loc()))})
}

func (h *Handlers) digestMessage(kind string, at time.Time, open []*workflow.Incident) bot.Message {
	loc := h.loc()
	day := at.In(loc)
	endOfDay := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
	var overdue, today []string
	byLevel := map[workflow.Level]int{}
	for _, inc := range open {
		byLevel[inc.Level]++
		for _, d := range h.svc.Deadlines(inc) {
			switch {
			case d.Met():
			case at.After(d.Due):
				overdue = append(overdue, fmt.Sprintf("%s %s — %s %s", inc.ID, inc.Title,
					d.Kind.Text().In(h.locale), h.deadlineState(d, at, true)))
			case d.Due.Before(endOfDay):
				today = append(today, fmt.Sprintf("%s %s — %s %s", inc.ID, inc.Title,
					d.Kind.Text().In(h.locale), h.deadlineState(d, at, true)))
			}
		}
	}
	title := fmt.Sprintf(h.t("Daily digest %s: %d open, %d overdue", "每日简报 %s:未办结 %d 件,超时 %d 项"),
		day.Format("01-02"), len(open), len(overdue))
	if kind == DigestWeekly {
		title = fmt.Sprintf(h.t("Weekly summary %s: %d open (general %d, major %d, critical %d), %d overdue",
			"每周汇总 %s:未办结 %d 件(一般 %d、重大 %d、特别重大 %d),超时 %d 项"), day.Format("01-02"), len(open),
			byLevel[workflow.LevelGeneral], byLevel[workflow.LevelMajor], byLevel[workflow.LevelCritical], len(overdue))
	}
	c := &bot.Card{Title: title}
	section := func(en, zh string, lines []string) {
		if len(lines) > 0 {
			c.Fields = append(c.Fields, bot.Field{Label: h.t(en, zh), Value: strings.Join(lines, "\n")})
		}
	}
	section("Overdue", "已超时", overdue)
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
