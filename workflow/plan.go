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
		for _, w := range lp.Warnings(inc.FoundAt, d.Due) {
			add(string(d.Kind)+":"+w.Phase, w.At)
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

// Warning is one warning before a deadline: its phase (PhaseHalf or
// PhaseWarn) and when it fires.
type Warning struct {
	Phase string
	At    time.Time
}

// Warnings returns the warnings of a deadline that runs from found to due,
// in order: at half the time (unless NoHalfWarning), and WarnBefore the
// deadline when that falls after half time (a short deadline gets one
// warning, not two at nearly the same moment).
func (lp LevelPolicy) Warnings(found, due time.Time) []Warning {
	span := due.Sub(found)
	var out []Warning
	if !lp.NoHalfWarning && span > 0 {
		out = append(out, Warning{Phase: PhaseHalf, At: found.Add(span / 2)})
	}
	if lp.WarnBefore > 0 && span > 2*lp.WarnBefore {
		out = append(out, Warning{Phase: PhaseWarn, At: due.Add(-lp.WarnBefore)})
	}
	return out
}

// awaitsApproval reports whether draft d still waits for leaders to decide.
func awaitsApproval(p Policy, inc *Incident, d *Draft) bool {
	return !d.Published && d.Rejection == nil && !p.Quorum(inc.Level, d)
}
