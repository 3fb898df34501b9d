package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// stats answers stats [week|month|YYYY-MM|YYYY-MM-DD..YYYY-MM-DD]: the
// figures of the incidents found in the period (workflow.ComputeStats, the
// same as the /stats page), a few compact lines in the roster's language.
func (h *Handlers) stats(ctx context.Context, _ *bot.Request, args bot.Args) (*bot.Reply, error) {
	p, err := workflow.ParsePeriod(args.Rest(0), h.now(), h.loc())
	if err != nil {
		return nil, err
	}
	st, err := h.svc.Stats(ctx, p)
	if err != nil {
		return nil, err
	}
	return &bot.Reply{Text: h.statsText(st)}, nil
}

// periodText names a period: its days when it runs from midnight to
// midnight (the last day included), else its first and last instants.
func periodText(p workflow.Period, loc *time.Location) string {
	from, to := p.From.In(loc), p.To.In(loc)
	midnight := func(t time.Time) bool { return t.Equal(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)) }
	if midnight(from) && midnight(to) {
		return from.Format(time.DateOnly) + " – " + to.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	return from.Format("01-02 15:04") + " – " + to.Format("01-02 15:04")
}

// statsText renders the figures of a period.
func (h *Handlers) statsText(st workflow.Stats) string {
	loc := h.loc()
	head := fmt.Sprintf(h.t("Statistics %s (incidents found in it, as of %s): ", "统计 %s(期间发现的事件,截至 %s):"),
		periodText(st.Period, loc), st.Now.In(loc).Format("01-02 15:04"))
	if st.Incidents == 0 {
		return head + h.t("no incidents.", "没有事件。")
	}
	// Chinese category names hold 、 themselves.
	sep := h.t(", ", ",")
	var b strings.Builder
	fmt.Fprintf(&b, h.t("%sincidents %d, still open %d; escalated %d, referred %d", "%s事件 %d 件,未办结 %d 件;升级 %d 件,移交 %d 件"),
		head, st.Incidents, st.Open, st.Escalated, st.Referred)
	counts := func(cs []workflow.Count, name func(string) string) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = fmt.Sprintf("%s %d", name(c.Key), c.N)
		}
		return strings.Join(parts, sep)
	}
	fmt.Fprintf(&b, "\n"+h.t("Level: %s · Category: %s", "级别:%s · 类别:%s"),
		counts(st.ByLevel, func(k string) string { return workflow.Level(k).Text().In(h.locale) }),
		counts(st.ByCategory, func(k string) string { return workflow.Category(k).Text().In(h.locale) }))
	fmt.Fprintf(&b, "\n"+h.t("Departments: %s", "部门:%s"), counts(st.ByDepartment, func(k string) string {
		if k == "" {
			return h.t("not assigned", "未分派")
		}
		return h.name(k)
	}))
	for _, d := range st.Deadlines {
		fmt.Fprintf(&b, "\n%s%s%s", d.Kind.Text().In(h.locale), h.t(": ", ":"), h.deadlineStatsText(d))
	}
	reply := h.t("none published", "尚未发布")
	if st.ToReply.N > 0 {
		reply = fmt.Sprintf(h.t("median %s (%d published)", "中位数 %s(已发布 %d 件)"), span(st.ToReply.Median, h.locale), st.ToReply.N)
	}
	fmt.Fprintf(&b, "\n"+h.t("Discovery to published reply: %s", "发现至发布口径:%s"), reply)
	if len(st.Sources) > 0 {
		fmt.Fprintf(&b, "\n"+h.t("Busiest sources: %s", "主要来源:%s"), counts(st.Sources, func(k string) string { return k }))
	}
	return b.String()
}

// deadlineStatsText is one kind of deadline: the share met on time, then
// the lateness of the missed and the time the met took.
func (h *Handlers) deadlineStatsText(d workflow.DeadlineStats) string {
	var parts []string
	if share, ok := d.Share(); ok {
		parts = append(parts, fmt.Sprintf(h.t("%d%% on time (%d of %d)", "按时 %d%%(%d/%d)"), share, d.OnTime, d.Decided()))
	} else {
		parts = append(parts, h.t("none due yet", "尚无到期"))
	}
	if d.Pending > 0 {
		parts = append(parts, fmt.Sprintf(h.t("%d running", "进行中 %d"), d.Pending))
	}
	if d.Unneeded > 0 {
		parts = append(parts, fmt.Sprintf(h.t("%d not needed (resolved before due)", "无需完成 %d(到期前已办结)"), d.Unneeded))
	}
	spread := func(en, zh string, s workflow.Spread) {
		if s.N > 0 {
			parts = append(parts, fmt.Sprintf(h.t(en, zh), span(s.Median, h.locale), span(s.P90, h.locale)))
		}
	}
	spread("late by median %s, p90 %s", "超时中位数 %s、P90 %s", d.Lateness)
	spread("met in median %s, p90 %s", "完成用时中位数 %s、P90 %s", d.TimeToMeet)
	return strings.Join(parts, h.t("; ", ";"))
}
