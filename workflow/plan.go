package workflow

import (
	"fmt"
	"time"
)

// ReminderLead is how long before a deadline the last warning fires.
const ReminderLead = 15 * time.Minute

// Plan returns the timers an incident needs from now on under policy p: for
// every unmet deadline a warning at half the time, a warning ReminderLead
// before it and the deadline itself, plus the next follow-up report reminder
// while the incident is open. Timers already due at now are left out: they
// fired when they fell due. A resolved incident needs none.
func Plan(inc *Incident, p Policy, loc *time.Location, now time.Time) []Timer {
	if !inc.Open() {
		return nil
	}
	var out []Timer
	add := func(name string, due time.Time) {
		if due.After(now) {
			out = append(out, Timer{ID: inc.ID + ":" + name, Incident: inc.ID, Due: due})
		}
	}
	for _, d := range inc.Deadlines(p, loc) {
		if d.Met() {
			continue
		}
		span := d.Due.Sub(inc.FoundAt)
		add(string(d.Kind)+":half", inc.FoundAt.Add(span/2))
		if span > 2*ReminderLead {
			add(string(d.Kind)+":warn", d.Due.Add(-ReminderLead))
		}
		add(string(d.Kind)+":due", d.Due)
	}
	if every := p.For(inc.Level).UpdateEvery; every > 0 {
		last := inc.LastUpdateAt
		if last.IsZero() {
			last = inc.OpenedAt
		}
		add(fmt.Sprintf("update:%d", inc.Updates+1), last.Add(every))
	}
	return out
}
