package workflow

import (
	"fmt"
	"strings"
	"time"
)

// MonthLayout is how a calendar month is written: "2026-03".
const MonthLayout = "2006-01"

// MonthOf is the calendar month of loc that holds t: [its first day 00:00,
// the next month's first day 00:00).
func MonthOf(t time.Time, loc *time.Location) Period {
	t = t.In(loc)
	from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	return Period{From: from, To: from.AddDate(0, 1, 0)}
}

// ParseMonth reads a calendar month of loc written YYYY-MM ("2026-03"), or
// the month that holds now when s is empty. Anything else ("2026-13",
// "nov", "2026-3") is CodeInvalid, saying how to write one with the month
// of now as the example.
func ParseMonth(s string, now time.Time, loc *time.Location) (Period, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return MonthOf(now, loc), nil
	}
	m, err := time.ParseInLocation(MonthLayout, s, loc)
	if err != nil {
		example := now.In(loc).Format(MonthLayout)
		return Period{}, &Error{Code: CodeInvalid, Msg: Text{
			EN: fmt.Sprintf("%q is not a month: write it YYYY-MM, for example %s", clipText(s), example),
			ZH: fmt.Sprintf("%q 不是月份:请写作 YYYY-MM,例如 %s", clipText(s), example),
		}}
	}
	return MonthOf(m, loc), nil
}
