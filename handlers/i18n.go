package handlers

import (
	"fmt"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// tx is a message in both languages; the locale picks one.
type tx = workflow.Text

// levelWords maps what people type (English or Chinese) to the canonical
// level; the category words live in workflow (ParseCategory).
var levelWords = map[string]workflow.Level{
	"general": workflow.LevelGeneral, "一般": workflow.LevelGeneral,
	"major": workflow.LevelMajor, "重大": workflow.LevelMajor,
	"critical": workflow.LevelCritical, "特别重大": workflow.LevelCritical, "特大": workflow.LevelCritical,
}

func parseLevel(s string) workflow.Level {
	if l, ok := levelWords[strings.ToLower(strings.TrimSpace(s))]; ok {
		return l
	}
	return workflow.Level(s)
}

// parseFound reads the found: option: an RFC 3339 time (seconds optional),
// "2006-01-02T15:04" or "15:04" in the organisation's timezone, or a
// duration meaning that long ago ("45m", "-45m", "2h"). A clock time means
// today, exactly as the same time written with today's date, so a time ahead
// of now is refused as in the future whatever the spelling (Service.Open);
// only a clock time more than 12 hours ahead means yesterday (typed at 00:20,
// found:23:50 is last night).
// yesterdayAhead is how far ahead of now a found: clock time must be to
// mean yesterday rather than a mistyped (future) time today.
const yesterdayAhead = 12 * time.Hour

func parseFound(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(strings.TrimPrefix(s, "-")); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.ParseInLocation("15:04", s, loc); err == nil {
		n := now.In(loc)
		at := time.Date(n.Year(), n.Month(), n.Day(), t.Hour(), t.Minute(), 0, 0, loc)
		if at.Sub(now) > yesterdayAhead {
			at = at.AddDate(0, 0, -1)
		}
		return at, nil
	}
	return time.Time{}, workflow.Errorf(workflow.CodeInvalid,
		"found:%s is not a time; write found:09:40, found:45m (45 minutes ago), found:2026-03-02T09:40 or found:2026-03-02T09:40+08:00",
		"found:%s 不是有效时间;请写 found:09:40、found:45m(45 分钟前)、found:2026-03-02T09:40 或 found:2026-03-02T09:40+08:00", s)
}

// clockTime formats t in the organisation's timezone, with the date when it
// is not the day of now.
func clockTime(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	return t.Format("01-02 15:04")
}

// dueTime formats a deadline like clockTime, except that a deadline at
// midnight is shown as 24:00 of the day it ends: a same-day deadline reads
// "24:00", not "00:00" or tomorrow's date.
func dueTime(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if t.Hour() != 0 || t.Minute() != 0 || t.Second() != 0 || t.Nanosecond() != 0 {
		return clockTime(t, now, loc)
	}
	day := t.AddDate(0, 0, -1)
	if day.Year() == now.Year() && day.YearDay() == now.YearDay() {
		return "24:00"
	}
	return day.Format("01-02") + " 24:00"
}

// span formats a duration for people, in the locale: "1h30m", "45m", "2d3h"
// in English, "1小时30分钟", "45分钟", "2天3小时" in Chinese.
func span(d time.Duration, locale string) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	m := (d - h*time.Hour) / time.Minute
	units := [3]string{"d", "h", "m"}
	if locale == workflow.LocaleZH {
		units = [3]string{"天", "小时", "分钟"}
	}
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%d%s", days, units[0])
	}
	if h > 0 {
		fmt.Fprintf(&b, "%d%s", h, units[1])
	}
	if m > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%d%s", m, units[2])
	}
	return b.String()
}
