package workflow

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Timer names, the part of a timer ID after "<incident>:". Deadline timers
// are "<kind>:half", "<kind>:warn" and "<kind>:due"; the follow-up reminder
// is "update:<n>" (n: the number of the report that is due); the approval
// nudge is "nudge:<draft version>".
const (
	PhaseHalf = "half"
	PhaseWarn = "warn"
	PhaseDue  = "due"
)

// TimerName returns the name of a timer of incident id: the part after
// "<id>:".
func TimerName(id, timerID string) string { return strings.TrimPrefix(timerID, id+":") }

// Plan returns every timer the incident still needs under policy p: for each
// unmet deadline a warning at half the time, one WarnBefore it and the
// deadline itself; the next follow-up report reminder while the incident is
// open (repeated every UpdateEvery until a report is filed); and a nudge to
// the approvers when the current draft waits too long. Timers that already
// fired are left out; timers already due are kept (they fire at once: a
// timer is never dropped because planning happened late). A resolved
// incident needs none.
func Plan(inc *Incident, p Policy, loc *time.Location) []Timer {
	if !inc.Open() {
		return nil
	}
	lp := p.For(inc.Level)
	var out []Timer
	add := func(name string, due time.Time) {
		if !inc.HasFired(name, due) {
			out = append(out, Timer{ID: inc.ID + ":" + name, Incident: inc.ID, Due: due})
		}
	}
	for _, d := range inc.Deadlines(p, loc) {
		if d.Met() {
			continue
		}
		span := d.Due.Sub(inc.FoundAt)
		if !lp.NoHalfWarning && span > 0 {
			add(string(d.Kind)+":"+PhaseHalf, inc.FoundAt.Add(span/2))
		}
		if lp.WarnBefore > 0 && span > 2*lp.WarnBefore {
			add(string(d.Kind)+":"+PhaseWarn, d.Due.Add(-lp.WarnBefore))
		}
		add(string(d.Kind)+":"+PhaseDue, d.Due)
	}
	if every := lp.UpdateEvery; every > 0 {
		name := fmt.Sprintf("update:%d", inc.Updates+1)
		last := inc.LastUpdateAt
		if last.IsZero() {
			last = inc.OpenedAt
		}
		due := last.Add(every)
		for inc.HasFired(name, due) {
			due = due.Add(every)
		}
		add(name, due)
	}
	if d := inc.CurrentDraft(); d != nil && lp.Nudge > 0 && awaitsApproval(p, inc, d) {
		// One nudge per version, even when a level change moves its time.
		name := fmt.Sprintf("nudge:%d", d.Version)
		if !slices.ContainsFunc(inc.Fired, func(f string) bool { return strings.HasPrefix(f, name+"@") }) {
			add(name, d.At.Add(lp.Nudge))
		}
	}
	return out
}

// awaitsApproval reports whether draft d still waits for leaders to decide.
func awaitsApproval(p Policy, inc *Incident, d *Draft) bool {
	return !d.Published && d.Rejection == nil && !p.Quorum(inc.Level, d)
}
