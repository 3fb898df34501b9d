package workflow

import "time"

// Plan returns every timer the incident still needs under policy p, as the
// kinds of the registry (timers.go) plan them: for each unmet deadline, in
// due order, a warning at half the time, one WarnBefore it and the deadline
// itself; then the next follow-up report reminder while the incident is open,
// and a nudge to the approvers when the current draft waits too long. Due
// times are in Resolution (Instant), the precision the Store keeps. Timers
// that already fired are left out; timers already due are kept (they fire at
// once: a timer is never dropped because planning happened late). A resolved
// incident needs none.
func Plan(inc *Incident, p Policy, cal Calendar) []Timer {
	if !inc.Open() {
		return nil
	}
	lp := p.For(inc.Level)
	var out []Timer
	add := func(k TimerKind, d Deadline) {
		tk := timerKinds[k]
		n, due, ok := tk.plan(planning{inc: inc, p: p, lp: lp, kind: tk, deadline: d})
		if !ok {
			return
		}
		name, due := TimerName{Incident: inc.ID, Kind: k, N: n}, Instant(due)
		if !inc.HasFired(name, due) {
			out = append(out, Timer{ID: name.String(), Incident: inc.ID, Due: due})
		}
	}
	for _, d := range inc.Deadlines(p, cal) {
		if d.Met() {
			continue
		}
		for _, phase := range deadlinePhases {
			add(DeadlineTimer(d.Kind, phase), d)
		}
	}
	for _, k := range cadenceKinds {
		add(k, Deadline{})
	}
	return out
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
