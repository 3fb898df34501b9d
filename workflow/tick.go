package workflow

import (
	"context"
	"errors"
	"time"
)

// errNothingToDo ends a transition that turns out to change nothing.
var errNothingToDo = errors.New("nothing to do")

// TimerOutcome names what became of a timer that fell due and was claimed.
// Every claimed timer ends in one, so that silence is visible (metrics by
// kind and outcome, a debug log line with the reason).
type TimerOutcome string

// Timer outcomes.
const (
	// TimerFired: its reminder, overdue notice, escalation, follow-up
	// request or nudge was recorded, with its notices.
	TimerFired TimerOutcome = "fired"
	// TimerOvertaken: it fired late, after a later warning of the same
	// deadline, or the deadline itself, had fallen due (the replicas were
	// down, say); that one speaks. It is recorded as fired, silently.
	TimerOvertaken TimerOutcome = "overtaken"
	// TimerSuperseded: the incident was planned again and this timer with
	// it, for another time (a level change, a changed policy).
	TimerSuperseded TimerOutcome = "superseded"
	// TimerMet: the deadline it is about was met.
	TimerMet TimerOutcome = "met"
	// TimerFiled: the follow-up report it asks for was filed.
	TimerFiled TimerOutcome = "filed"
	// TimerDecided: the draft it nudges for was decided, published or
	// replaced by a new version.
	TimerDecided TimerOutcome = "decided"
	// TimerResolved: the incident was resolved.
	TimerResolved TimerOutcome = "resolved"
	// TimerDuplicate: it had fired already (a lease taken over after a
	// replica lost it mid-work).
	TimerDuplicate TimerOutcome = "duplicate"
	// TimerGone: its incident does not exist (any more).
	TimerGone TimerOutcome = "gone"
	// TimerUnreadable: its incident exists but cannot be read
	// (ErrUnreadable): it can never fire, and trying again would fail
	// for ever.
	TimerUnreadable TimerOutcome = "unreadable"
)

// TickResult is what Tick made of a timer: its outcome, a reason a person
// can read in the log, and the events recorded (only when it fired).
type TickResult struct {
	Outcome TimerOutcome
	Reason  string
	Events  []Event
}

// Tick handles a timer that fell due. It re-reads the incident and matches
// the timer against the incident's current plan by its name and due time,
// both in the precision the Store keeps (Resolution). When it is still
// planned, Tick records the reminder, overdue notice, escalation or nudge on
// the timeline, with its notices, and marks the timer fired — in one
// transition, so a timer takes effect once. Otherwise it records nothing and
// says why: the deadline was met, the incident resolved or planned again, the
// timer already fired. Errors: CodeUnavailable; an incident that does not
// exist is not an error but TimerGone, one that cannot be read
// TimerUnreadable.
func (s *Service) Tick(ctx context.Context, t DueTimer) (TickResult, error) {
	if IsCandidateID(t.Incident) {
		return s.tickCandidate(ctx, t)
	}
	var res TickResult
	_, events, err := s.change(ctx, t.Incident, func(inc *Incident, now time.Time) ([]Event, error) {
		var f firing
		f, res = s.judge(inc, t, now)
		if res.Outcome != TimerFired {
			return nil, errNothingToDo
		}
		inc.markFired(f.name, f.due)
		events, why := f.kind.fire(f)
		if len(events) == 0 {
			res = TickResult{Outcome: TimerOvertaken, Reason: why}
		}
		return events, nil
	})
	switch {
	case errors.Is(err, errNothingToDo):
		return res, nil
	case ErrorCode(err) == CodeNotFound:
		return TickResult{Outcome: TimerGone, Reason: "incident " + t.Incident + " does not exist"}, nil
	case errors.Is(err, ErrUnreadable):
		return TickResult{Outcome: TimerUnreadable, Reason: err.Error()}, nil
	case err != nil:
		return TickResult{}, err
	}
	res.Events = events
	return res, nil
}

// judge decides whether timer t is still the incident's to fire, and if not,
// why not; a timer to fire comes with its firing, for its kind to fire.
func (s *Service) judge(inc *Incident, t DueTimer, now time.Time) (firing, TickResult) {
	due := Instant(t.Due)
	if !inc.Open() {
		return firing{}, TickResult{Outcome: TimerResolved, Reason: "resolved " + stamp(inc.ResolvedAt)}
	}
	name, err := ParseTimerName(inc.ID, t.ID)
	if err != nil {
		return firing{}, TickResult{Outcome: TimerSuperseded, Reason: err.Error()}
	}
	f := firing{s: s, inc: inc, lp: s.roster.Policy.For(inc.Level), name: name, kind: timerKinds[name.Kind], due: due, now: now}
	if inc.HasFired(name, due) {
		return f, TickResult{Outcome: TimerDuplicate, Reason: "fired already"}
	}
	var plannedFor time.Time
	for _, p := range Plan(inc, s.roster.Policy, s.roster.Calendar()) {
		if p.ID == t.ID {
			if p.Due.Equal(due) {
				return f, TickResult{Outcome: TimerFired, Reason: "due " + stamp(due)}
			}
			plannedFor = p.Due
		}
	}
	if !plannedFor.IsZero() {
		return f, TickResult{Outcome: TimerSuperseded, Reason: "planned again for " + stamp(plannedFor)}
	}
	return f, f.kind.passed(f)
}

// stamp writes an instant for a log line.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// overdue records that the deadlines ds passed unmet, as one notice: a
// general incident whose answer deadline passed is escalated to major with it
// (若不能消除 … 按照重大舆情应对处置流程办理).
func (s *Service) overdue(inc *Incident, ds []Deadline, now time.Time) []Event {
	var data EventData
	escalates := false
	for _, d := range ds {
		data.Overdue = append(data.Overdue, DeadlineDue{Deadline: d.Kind, Due: d.Due})
		escalates = escalates || (d.Kind == DeadlineAnswer && inc.Level == LevelGeneral)
	}
	events := []Event{{Kind: EventOverdue, Data: data}}
	if escalates {
		events = append(events, s.escalate(inc, "", EscalatedUnresolved, "", now)...)
	}
	return events
}

// bornOverdue handles the deadlines that a person's change leaves past and
// unmet without their overdue notice: an incident opened late (found: long
// ago), raised to a level with shorter deadlines, or reopened. Their timers
// would all fire at once, a burst of warnings and notices; instead they are
// marked fired and the deadlines told in one overdue notice, the same way
// however found: was written.
func (s *Service) bornOverdue(inc *Incident, now time.Time) []Event {
	if !inc.Open() {
		return nil
	}
	lp := s.roster.Policy.For(inc.Level)
	var past []Deadline
	for _, d := range s.Deadlines(inc) {
		due := Instant(d.Due)
		name := TimerName{Incident: inc.ID, Kind: DeadlineTimer(d.Kind, PhaseDue)}
		if d.Met() || due.After(now) || inc.HasFired(name, due) {
			continue
		}
		for _, w := range lp.Warnings(d.From, d.Due) {
			inc.markFired(TimerName{Incident: inc.ID, Kind: DeadlineTimer(d.Kind, w.Phase)}, w.At)
		}
		inc.markFired(name, due)
		past = append(past, d)
	}
	if len(past) == 0 {
		return nil
	}
	return s.overdue(inc, past, now)
}

// undecided lists the leaders who have not approved draft d.
func (s *Service) undecided(d *Draft) []string {
	var ids []string
	for _, id := range s.roster.WithRole(RoleLeader) {
		if !d.ApprovedBy(id) && id != d.Author {
			ids = append(ids, id)
		}
	}
	return ids
}

// Spread records signs that the incident is spreading (还有扩大迹象); a
// general incident then becomes major under the major policy. Errors:
// CodeInvalid (no note), CodeConflict (resolved).
func (s *Service) Spread(ctx context.Context, actor, id, note string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, now time.Time) ([]Event, error) {
		note, err := checkText(note, "say how it is spreading", "请说明扩散情况")
		if err != nil {
			return nil, err
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		inc.Spreading, inc.SpreadAt = true, now
		events := []Event{{Kind: EventSpreading, Actor: actor, Text: note}}
		if inc.Level == LevelGeneral {
			events = append(events, s.escalate(inc, actor, EscalatedSpreading, note, now)...)
		}
		return events, nil
	})
}

// Reasons for an escalation, in the "reason" of an EventEscalated.
const (
	EscalatedUnresolved = "unresolved" // not resolved by the answer deadline
	EscalatedSpreading  = "spreading"  // signs of spreading reported
)

// escalate makes a general incident major (the plans' 若不能消除或还有扩大迹象,
// 按照重大舆情应对处置流程办理) and returns the timeline events: the
// escalation first, then a report up when the policy makes one.
//
// From now on the major process applies: its deadlines count from the
// escalation (EscalatedAt), and the leaders are told with this change.
func (s *Service) escalate(inc *Incident, actor, reason, note string, now time.Time) []Event {
	inc.leaveProcess(s.roster.Policy, s.roster.Calendar(), now)
	from := inc.Level
	inc.Level = LevelMajor
	inc.EscalatedAt = now
	inc.Escalations++
	events := []Event{{Kind: EventEscalated, Actor: actor, Text: note, Data: EventData{
		From: from, To: LevelMajor, Reason: reason}}}
	return append(events, s.report(inc, now)...)
}

// Incidents returns incidents by filter for the system (digests, the board):
// no actor is checked. ListMine is not available here.
func (s *Service) Incidents(ctx context.Context, filter ListFilter) ([]*Incident, error) {
	if filter == ListMine {
		return nil, Errorf(CodeInvalid, "mine needs a person", "mine 需要指定人员")
	}
	return s.store.List(ctx, ListQuery{Filter: filter, Now: s.clock.Now()})
}

// ResolvedBetween returns the incidents resolved in [from, to), for the
// weekly summary (no actor is checked).
func (s *Service) ResolvedBetween(ctx context.Context, from, to time.Time) ([]*Incident, error) {
	return s.store.List(ctx, ListQuery{Filter: ListResolved, From: from, To: to})
}

// Enqueue hands notices that belong to no incident change (digests) to the
// outbox.
func (s *Service) Enqueue(ctx context.Context, notices []Notice) error {
	if len(notices) == 0 {
		return nil
	}
	return s.store.Enqueue(ctx, notices)
}
