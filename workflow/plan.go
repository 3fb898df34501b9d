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
// open (report n is due n-Updates cadences after the last report filed, or
// after opening or escalation, so each request has its own number); and a nudge to the approvers
// when the current draft waits too long. Due times are in Resolution (Instant),
// the precision the Store keeps. Timers that already fired are left out;
// timers already due are kept (they fire at once: a timer is never dropped
// because planning happened late). A resolved incident needs none.
func Plan(inc *Incident, p Policy, cal Calendar) []Timer {
	if !inc.Open() {
		return nil
	}
	lp := p.For(inc.Level)
	var out []Timer
	add := func(name string, due time.Time) {
		due = Instant(due)
		if !inc.HasFired(name, due) {
			out = append(out, Timer{ID: inc.ID + ":" + name, Incident: inc.ID, Due: due})
		}
	}
	for _, d := range inc.Deadlines(p, cal) {
		if d.Met() {
			continue
		}
		for _, w := range lp.Warnings(d.From, d.Due) {
			add(string(d.Kind)+":"+w.Phase, w.At)
		}
		add(string(d.Kind)+":"+PhaseDue, d.Due)
	}
	if every := lp.UpdateEvery; every > 0 {
		// The cadence runs from the last report, or from opening, or from
		// the escalation that started the major process, whichever is last.
		last := inc.LastUpdateAt
		if last.IsZero() {
			last = inc.OpenedAt
		}
		if start := inc.ClockStart(); start.After(last) {
			last = start
		}
		n, due := inc.Updates+1, last.Add(every)
		for inc.HasFired(UpdateTimer(n), due) {
			n, due = n+1, due.Add(every)
		}
		add(UpdateTimer(n), due)
	}
	if d := inc.CurrentDraft(); d != nil && lp.Nudge > 0 && awaitsApproval(p, inc, d) {
		// One nudge per version, even when a level change moves its time.
		name := NudgeTimer(d.Version)
		if !slices.ContainsFunc(inc.Fired, func(f string) bool { return strings.HasPrefix(f, name+"@") }) {
			add(name, d.At.Add(lp.Nudge))
		}
	}
	return out
}

// UpdateTimer names the reminder that follow-up report n is due.
func UpdateTimer(n int) string { return fmt.Sprintf("%s:%d", timerUpdate, n) }

// NudgeTimer names the nudge of the approvers of draft version v.
func NudgeTimer(v int) string { return fmt.Sprintf("%s:%d", timerNudge, v) }

// The first part of the names of the timers that are not deadlines.
const (
	timerUpdate = "update"
	timerNudge  = "nudge"
)

// TimerKind is the kind of a timer, for metrics and logs: "<deadline>:<phase>"
// for a deadline ("assign:half"), "update" or "nudge" — a small, fixed set.
// A name it does not know is "unknown".
func TimerKind(name string) string {
	kind, arg, _ := strings.Cut(name, ":")
	switch kind {
	case timerUpdate, timerNudge:
		return kind
	}
	if !slices.Contains(DeadlineKinds, DeadlineKind(kind)) {
		return "unknown"
	}
	switch arg {
	case PhaseHalf, PhaseWarn, PhaseDue:
		return kind + ":" + arg
	}
	return "unknown"
}

// Warning is one warning before a deadline: its phase (PhaseHalf or
// PhaseWarn) and when it fires.
type Warning struct {
	Phase string
	At    time.Time
}

// Warnings returns the warnings of a deadline whose clock runs from from to
// due (Deadline.From, Deadline.Due), in order, in Resolution: at half the
// time (unless NoHalfWarning), and WarnBefore the deadline when that falls
// after half time (a short deadline gets one warning, not two at nearly the
// same moment).
func (lp LevelPolicy) Warnings(from, due time.Time) []Warning {
	span := due.Sub(from)
	var out []Warning
	if !lp.NoHalfWarning && span > 0 {
		out = append(out, Warning{Phase: PhaseHalf, At: Instant(from.Add(span / 2))})
	}
	if lp.WarnBefore > 0 && span > 2*lp.WarnBefore {
		out = append(out, Warning{Phase: PhaseWarn, At: Instant(due.Add(-lp.WarnBefore))})
	}
	return out
}

// awaitsApproval reports whether draft d still waits for leaders to decide.
func awaitsApproval(p Policy, inc *Incident, d *Draft) bool {
	return !d.Published && d.Rejection == nil && !p.Quorum(inc.Level, d)
}
