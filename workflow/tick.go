package workflow

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// errNothingToDo ends a transition that turns out to change nothing.
var errNothingToDo = errors.New("nothing to do")

// Tick handles a timer that fell due. It re-reads the incident and does
// nothing when the reason has passed: the deadline was met, the incident was
// resolved or re-planned, or the timer already fired (another replica took
// over after a lost lease). Otherwise it records the reminder, overdue notice,
// escalation or nudge on the timeline, with its notices, and marks the timer
// fired — in one transition, so a timer takes effect once. It returns the
// events recorded (none when there was nothing to do).
func (s *Service) Tick(ctx context.Context, t DueTimer) ([]Event, error) {
	_, events, err := s.change(ctx, t.Incident, func(inc *Incident, now time.Time) ([]Event, error) {
		name := TimerName(inc.ID, t.ID)
		planned := false
		for _, p := range Plan(inc, s.roster.Policy, s.roster.Location()) {
			if p.ID == t.ID && p.Due.Equal(t.Due) {
				planned = true
			}
		}
		if !planned {
			return nil, errNothingToDo
		}
		inc.markFired(name, t.Due)
		return s.tickEvents(inc, name, t.Due, now), nil
	})
	switch {
	case errors.Is(err, errNothingToDo), ErrorCode(err) == CodeNotFound:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return events, nil
}

// tickEvents decides what a fired timer says. A warning whose moment has
// passed says nothing (a later warning or the overdue notice speaks).
func (s *Service) tickEvents(inc *Incident, name string, due, now time.Time) []Event {
	lp := s.roster.Policy.For(inc.Level)
	kind, arg, _ := strings.Cut(name, ":")
	switch kind {
	case "update":
		if lp.UpdateEvery > 0 && !now.Before(due.Add(lp.UpdateEvery)) {
			return nil // a later reminder is already due: only the latest speaks
		}
		return []Event{{Kind: EventUpdateDue, Data: map[string]string{
			"number": arg, "due": due.Format(time.RFC3339), "every": lp.UpdateEvery.String()}}}
	case "nudge":
		d := inc.CurrentDraft()
		if d == nil || strconv.Itoa(d.Version) != arg || !awaitsApproval(s.roster.Policy, inc, d) {
			return nil
		}
		return []Event{{Kind: EventApprovalWait, Data: map[string]string{
			"version": arg, "since": d.At.Format(time.RFC3339), "waiting": strings.Join(s.undecided(d), ",")}}}
	}
	var dl Deadline
	found := false
	for _, d := range s.Deadlines(inc) {
		if string(d.Kind) == kind {
			dl, found = d, true
		}
	}
	if !found {
		return nil
	}
	data := map[string]string{"deadline": kind, "due": dl.Due.Format(time.RFC3339)}
	switch arg {
	case PhaseHalf, PhaseWarn:
		// A warning whose moment passed says nothing: the overdue notice,
		// or the later warning when there is one, speaks instead.
		if !now.Before(dl.Due) {
			return nil
		}
		for _, w := range lp.Warnings(inc.FoundAt, dl.Due) {
			if w.Phase != arg && w.At.After(due) && !now.Before(w.At) {
				return nil
			}
		}
		data["phase"] = arg
		return []Event{{Kind: EventReminder, Data: data}}
	case PhaseDue:
		events := []Event{{Kind: EventOverdue, Data: data}}
		if dl.Kind == DeadlineAnswer && inc.Level == LevelGeneral {
			events = append(events, escalate(inc, "", EscalatedUnresolved, "", now))
		}
		return events
	}
	return nil
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
		inc.Spreading = true
		events := []Event{{Kind: EventSpreading, Actor: actor, Text: note}}
		if inc.Level == LevelGeneral {
			events = append(events, escalate(inc, actor, EscalatedSpreading, note, now))
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
// 按照重大舆情应对处置流程办理) and returns the timeline event.
func escalate(inc *Incident, actor, reason, note string, now time.Time) Event {
	from := inc.Level
	inc.Level = LevelMajor
	inc.ReportedAt = now // the principal leaders are told with this change
	return Event{Kind: EventEscalated, Actor: actor, Text: note, Data: map[string]string{
		"from": string(from), "to": string(LevelMajor), "reason": reason}}
}

// Incidents returns incidents by filter for the system (digests, the board):
// no actor is checked. ListMine is not available here.
func (s *Service) Incidents(ctx context.Context, filter ListFilter) ([]*Incident, error) {
	if filter == ListMine {
		return nil, Errorf(CodeInvalid, "mine needs a person", "mine 需要指定人员")
	}
	return s.store.List(ctx, ListQuery{Filter: filter, Now: s.clock.Now()})
}

// Enqueue hands notices that belong to no incident change (digests) to the
// outbox.
func (s *Service) Enqueue(ctx context.Context, notices []Notice) error {
	if len(notices) == 0 {
		return nil
	}
	return s.store.Enqueue(ctx, notices)
}
