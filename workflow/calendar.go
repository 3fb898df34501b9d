package workflow

import (
	"slices"
	"time"
)

// OfficeHours are when the organisation works, for the plans' "same day"
// (当日内) reply to an inquiry. Start and End are times of day; Days are the
// working days.
type OfficeHours struct {
	Start time.Duration  `json:"start"`
	End   time.Duration  `json:"end"`
	Days  []time.Weekday `json:"days"`
}

// DefaultOfficeHours are 08:30–17:30, Monday to Friday.
func DefaultOfficeHours() OfficeHours {
	return OfficeHours{
		Start: 8*time.Hour + 30*time.Minute, End: 17*time.Hour + 30*time.Minute,
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
	}
}

// IsZero reports whether no office hours are set.
func (h OfficeHours) IsZero() bool { return h.Start == 0 && h.End == 0 && len(h.Days) == 0 }

// afterHoursMorning is when, on the next working day, the "same day" reply to
// an inquiry found after hours falls: noon, and never sooner than this long
// after the office opens (the hand-over to the department alone may take two
// hours).
const afterHoursMorning = 12 * time.Hour

// minMorning is the least office time an after-hours inquiry gets on the
// next working morning.
const minMorning = 3 * time.Hour

// Calendar is where and when the organisation works: its timezone (the day
// of a "same day" deadline, digests) and its office hours. The zero Calendar
// is UTC with DefaultOfficeHours.
type Calendar struct {
	Location *time.Location
	Hours    OfficeHours
}

func (c Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

func (c Calendar) hours() OfficeHours {
	if c.Hours.IsZero() {
		return DefaultOfficeHours()
	}
	return c.Hours
}

// working reports whether the day of t is a working day.
func (c Calendar) working(t time.Time) bool {
	return slices.Contains(c.hours().Days, t.Weekday())
}

// SameDay is the window of a reply due "the same day" (当日内) for a post
// found at found: when its clock starts and when it is due. Found on a
// working day before the office closes, it runs from found to the end of
// that day (24:00). Found after the office closed, or on a day off, nobody is
// there to handle it: the same day is then the next working day, and the
// reply is due that morning — at noon, and at least three hours after the
// office opens — counting from the opening. Office hours without a working
// day count every day as one, and every hour.
func (c Calendar) SameDay(found time.Time) (from, due time.Time) {
	loc, h := c.loc(), c.hours()
	f := found.In(loc)
	midnight := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	if len(h.Days) == 0 || (c.working(f) && f.Before(timeOfDay(midnight, h.End))) {
		return found, midnight.AddDate(0, 0, 1)
	}
	day := midnight.AddDate(0, 0, 1)
	for !c.working(day) {
		day = day.AddDate(0, 0, 1)
	}
	return timeOfDay(day, h.Start), timeOfDay(day, max(afterHoursMorning, h.Start+minMorning))
}

// timeOfDay is the clock time d on the day of t, in t's location. It sets
// the clock, rather than adding d to midnight: a day with a daylight-saving
// change is not 24 hours long.
func timeOfDay(t time.Time, d time.Duration) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), int(d/time.Hour), int(d%time.Hour/time.Minute), 0, 0, t.Location())
}
