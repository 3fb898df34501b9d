package workflow_test

import (
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

func TestCalendarSameDay(t *testing.T) {
	shanghai := mustLocation(t, "Asia/Shanghai")
	berlin := mustLocation(t, "Europe/Berlin")
	at := func(loc *time.Location, month time.Month, day, h, m int) time.Time {
		return time.Date(2026, month, day, h, m, 0, 0, loc)
	}
	tests := []struct {
		name     string
		cal      workflow.Calendar
		found    time.Time
		from, by time.Time
	}{
		{"in office hours: by the end of the day", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 2, 10, 15), at(shanghai, 3, 2, 10, 15), at(shanghai, 3, 3, 0, 0)},
		{"before the office opens on a working day: that day", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 2, 6, 40), at(shanghai, 3, 2, 6, 40), at(shanghai, 3, 3, 0, 0)},
		{"a minute before closing: that day", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 2, 17, 29), at(shanghai, 3, 2, 17, 29), at(shanghai, 3, 3, 0, 0)},
		{"23:30 on a Monday: noon on Tuesday, from the opening", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 2, 23, 30), at(shanghai, 3, 3, 8, 30), at(shanghai, 3, 3, 12, 0)},
		{"Friday evening: Monday noon", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 6, 19, 0), at(shanghai, 3, 9, 8, 30), at(shanghai, 3, 9, 12, 0)},
		{"Sunday morning: Monday noon", workflow.Calendar{Location: shanghai},
			at(shanghai, 3, 8, 10, 0), at(shanghai, 3, 9, 8, 30), at(shanghai, 3, 9, 12, 0)},
		{"a late-opening office gets three hours of its morning",
			workflow.Calendar{Location: shanghai, Hours: workflow.OfficeHours{Start: 10 * time.Hour, End: 19 * time.Hour,
				Days: []time.Weekday{time.Monday, time.Tuesday}}},
			at(shanghai, 3, 2, 20, 0), at(shanghai, 3, 3, 10, 0), at(shanghai, 3, 3, 13, 0)},
		{"the night before a daylight-saving change keeps clock times", workflow.Calendar{Location: berlin},
			at(berlin, 3, 27, 22, 0), at(berlin, 3, 30, 8, 30), at(berlin, 3, 30, 12, 0)},
		{"zero calendar: UTC, default hours", workflow.Calendar{},
			at(time.UTC, 3, 2, 9, 0), at(time.UTC, 3, 2, 9, 0), at(time.UTC, 3, 3, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, by := tt.cal.SameDay(tt.found)
			if !from.Equal(tt.from) || !by.Equal(tt.by) {
				t.Errorf("got %v → %v, want %v → %v", from, by, tt.from, tt.by)
			}
		})
	}
}

func TestInstantIsTheStorePrecision(t *testing.T) {
	raw := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.UTC)
	got := workflow.Instant(raw)
	if !got.Equal(time.UnixMilli(raw.UnixMilli())) || got.After(raw) {
		t.Errorf("Instant(%v): got %v, want the whole millisecond at or before it", raw, got)
	}
	if again := workflow.Instant(got); !again.Equal(got) {
		t.Errorf("Instant is not idempotent: %v then %v", got, again)
	}
}
