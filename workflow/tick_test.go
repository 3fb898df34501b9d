package workflow_test

import (
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// planned returns the incident's planned timer with the given name (its
// Incident is inc's), as a store hands it back once claimed: its due time
// read back from whole milliseconds (a Redis sorted-set score).
func planned(tb testing.TB, e *env, inc *workflow.Incident, name workflow.TimerName) workflow.DueTimer {
	tb.Helper()
	name.Incident = inc.ID
	for _, t := range workflow.Plan(inc, e.roster.Policy, e.roster.Calendar()) {
		if t.ID == name.String() {
			return workflow.DueTimer{ID: t.ID, Incident: t.Incident, Due: time.UnixMilli(t.Due.UnixMilli())}
		}
	}
	tb.Fatalf("no timer %s planned for %s", name, inc.ID)
	return workflow.DueTimer{}
}

func TestTick(t *testing.T) {
	tests := []struct {
		name  string
		level workflow.Level
		timer workflow.TimerName
		setup func(e *env, id string) // before the clock moves to the timer
		want  []workflow.EventKind
	}{
		{name: "half-time warning", level: workflow.LevelMajor, timer: workflow.TimerName{Kind: "assign:half"},
			want: []workflow.EventKind{workflow.EventReminder}},
		{name: "overdue", level: workflow.LevelMajor, timer: workflow.TimerName{Kind: "assign:due"},
			want: []workflow.EventKind{workflow.EventOverdue}},
		{name: "general past its answer deadline escalates", level: workflow.LevelGeneral, timer: workflow.TimerName{Kind: "answer:due"},
			want: []workflow.EventKind{workflow.EventOverdue, workflow.EventEscalated}},
		{name: "follow-up report due", level: workflow.LevelCritical, timer: workflow.TimerName{Kind: workflow.TimerUpdate, N: 1},
			want: []workflow.EventKind{workflow.EventUpdateDue}},
		{name: "approval nudge", level: workflow.LevelMajor, timer: workflow.TimerName{Kind: workflow.TimerNudge, N: 1},
			setup: func(e *env, id string) { must(t)(e.svc.SubmitDraft(t.Context(), "chen", id, "text")) },
			want:  []workflow.EventKind{workflow.EventApprovalWait}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: tt.level})
			if tt.setup != nil {
				tt.setup(e, inc.ID)
			}
			inc = e.store.stored(t, inc.ID)
			timer := planned(t, e, inc, tt.timer)
			e.clock.Set(timer.Due)
			res, err := e.svc.Tick(t.Context(), timer)
			if err != nil {
				t.Fatal(err)
			}
			if got := kinds(res.Events); !slices.Equal(got, tt.want) || res.Outcome != workflow.TimerFired {
				t.Errorf("got %s %v, want fired %v", res.Outcome, got, tt.want)
			}
			after := e.store.stored(t, inc.ID)
			if !after.HasFired(tt.timer, timer.Due) {
				t.Errorf("timer %s not recorded as fired", tt.timer)
			}
			if slices.ContainsFunc(e.store.lastChange(t).Timers, func(x workflow.Timer) bool {
				return x.ID == timer.ID && x.Due.Equal(timer.Due)
			}) {
				t.Errorf("timer %s still planned after it fired", timer.ID)
			}
			// The same timer again (another replica after a lost lease) does nothing.
			before := e.store.snapshot(inc.ID)
			again, err := e.svc.Tick(t.Context(), timer)
			if err != nil || len(again.Events) != 0 || again.Outcome != workflow.TimerDuplicate {
				t.Errorf("second tick: got %s %v, %v; want duplicate, nothing recorded", again.Outcome, kinds(again.Events), err)
			}
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

// TestTickSilentWhenReasonPassed: a tick re-reads the incident and says
// nothing when the deadline was met, the incident resolved, or the timer
// re-planned to another time.
func TestTickSilentWhenReasonPassed(t *testing.T) {
	tests := []struct {
		name  string
		timer workflow.TimerName
		then  func(e *env, id string, timer *workflow.DueTimer)
		want  workflow.TimerOutcome
	}{
		{"deadline met", workflow.TimerName{Kind: "assign:due"}, func(e *env, id string, _ *workflow.DueTimer) {
			must(t)(e.svc.Ack(t.Context(), "li", id))
		}, workflow.TimerMet},
		{"incident resolved", workflow.TimerName{Kind: "respond:due"}, func(e *env, id string, _ *workflow.DueTimer) {
			must(t)(e.svc.Resolve(t.Context(), "wang", id, "done", true))
		}, workflow.TimerResolved},
		{"re-planned by a level change", workflow.TimerName{Kind: "assign:due"}, func(e *env, id string, _ *workflow.DueTimer) {
			must(t)(e.svc.SetLevel(t.Context(), "wang", id, workflow.LevelChange{Level: workflow.LevelCritical, Reason: "as assessed"}))
		}, workflow.TimerSuperseded},
		{"follow-up report filed", workflow.TimerName{Kind: workflow.TimerUpdate, N: 1}, func(e *env, id string, _ *workflow.DueTimer) {
			must(t)(e.svc.Update(t.Context(), "li", id, "posts down to 3 an hour", workflow.Figures{}))
		}, workflow.TimerFiled},
		{"draft approved", workflow.TimerName{Kind: workflow.TimerNudge, N: 1}, func(e *env, id string, _ *workflow.DueTimer) {
			must(t)(e.svc.Approve(t.Context(), "wang", id, 1, ""))
			must(t)(e.svc.Approve(t.Context(), "zhao", id, 1, ""))
		}, workflow.TimerDecided},
		{"unknown incident", workflow.TimerName{Kind: "assign:due"}, func(_ *env, _ string, timer *workflow.DueTimer) {
			timer.Incident, timer.ID = "YQ-404", workflow.TimerName{Incident: "YQ-404", Kind: "assign:due"}.String()
		}, workflow.TimerGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor, Category: workflow.CategoryInquiry})
			must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "We are looking into it."))
			timer := planned(t, e, e.store.stored(t, inc.ID), tt.timer)
			tt.then(e, inc.ID, &timer)
			e.clock.Set(timer.Due.Add(time.Second))
			before := e.store.snapshot(inc.ID)
			res, err := e.svc.Tick(t.Context(), timer)
			if err != nil || len(res.Events) != 0 || res.Outcome != tt.want || res.Reason == "" {
				t.Errorf("got %s (%q) %v, %v; want %s with a reason, silence", res.Outcome, res.Reason, kinds(res.Events), err, tt.want)
			}
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

// TestTickLateWarningSilent: a warning that fires after its deadline (the
// scheduler was down) says nothing; the overdue notice speaks instead.
func TestTickLateWarningSilent(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	halfTime := workflow.TimerName{Kind: workflow.DeadlineTimer(workflow.DeadlineAssign, workflow.PhaseHalf)}
	timer := planned(t, e, inc, halfTime)
	e.clock.Set(timer.Due.Add(time.Hour))
	res, err := e.svc.Tick(t.Context(), timer)
	if err != nil || len(res.Events) != 0 || res.Outcome != workflow.TimerOvertaken {
		t.Errorf("got %s %v, %v; want overtaken, silence", res.Outcome, kinds(res.Events), err)
	}
	if !e.store.stored(t, inc.ID).HasFired(halfTime, timer.Due) {
		t.Error("a silent warning must still be recorded as fired, or it would be planned again")
	}
}

func TestSpread(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	got, events, err := e.svc.Spread(t.Context(), "li", inc.ID, "shared in parents' groups")
	if err != nil {
		t.Fatal(err)
	}
	if got.Level != workflow.LevelMajor || !got.Spreading {
		t.Errorf("got level %s spreading %v, want major and spreading", got.Level, got.Spreading)
	}
	if want := []workflow.EventKind{workflow.EventSpreading, workflow.EventEscalated}; !slices.Equal(kinds(events), want) {
		t.Errorf("got events %v, want %v", kinds(events), want)
	}
	if got.ReportedAt.IsZero() {
		t.Error("escalation must report to the leaders (ReportedAt unset)")
	}
	// A major incident stays major; the note is still recorded.
	_, events, err = e.svc.Spread(t.Context(), "li", inc.ID, "now on a news site")
	if err != nil || !slices.Equal(kinds(events), []workflow.EventKind{workflow.EventSpreading}) {
		t.Errorf("second spread: got %v, %v; want one spreading event", kinds(events), err)
	}
	before := e.store.snapshot(inc.ID)
	_, _, err = e.svc.Spread(t.Context(), "li", inc.ID, "  ")
	wantCode(t, err, workflow.CodeInvalid)
	wantUnchanged(t, e.store, inc.ID, before)
}

// TestVersionedButtons: a Publish or Reject button names the version it was
// shown with; once a newer draft replaced it, nothing changes.
func TestVersionedButtons(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "first"))
	if _, err := e.svc.CheckDecision(t.Context(), "zhao", inc.ID, 1); err != nil {
		t.Fatalf("CheckDecision on the current version: %v", err)
	}
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 1, ""))
	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "second"))
	_, err := e.svc.CheckDecision(t.Context(), "zhao", inc.ID, 1)
	wantCode(t, err, workflow.CodeConflict)
	_, err = e.svc.CheckDecision(t.Context(), "chen", inc.ID, 2)
	wantCode(t, err, workflow.CodeForbidden)
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 2, ""))
	before := e.store.snapshot(inc.ID)
	_, _, err = e.svc.PublishVersion(t.Context(), "sun", inc.ID, 1)
	wantCode(t, err, workflow.CodeConflict)
	wantUnchanged(t, e.store, inc.ID, before)
	got := must(t)(e.svc.PublishVersion(t.Context(), "sun", inc.ID, 2))
	if len(got.Statements) != 1 || got.Statements[0].Text != "second" {
		t.Errorf("got statements %+v, want the text of version 2", got.Statements)
	}
}

// TestAssignTakesOneTurnAcrossRetries: a conflicting write makes the
// transition run again, but the department's rotation advances only once.
func TestAssignTakesOneTurnAcrossRetries(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{}) // office, chen
	before := e.store.turns["dept:logistics"]
	e.store.conflicts = 3
	got := must(t)(e.svc.Assign(t.Context(), "chen", inc.ID, "logistics"))
	if turns := e.store.turns["dept:logistics"] - before; turns != 1 {
		t.Errorf("got %d turns of the rotation taken, want 1", turns)
	}
	if got.Department != "logistics" || got.Assignee != "li" {
		t.Errorf("got %s/%s, want logistics/li (the first turn)", got.Department, got.Assignee)
	}
}

// TestBackfilledIncidentGetsOneOverdueNotice: an incident opened a week
// after discovery is told overdue once, naming every passed deadline, and a
// general one is escalated at once — the same whether the discovery time was
// a whole minute or an odd instant — with nothing left due in its plan.
func TestBackfilledIncidentGetsOneOverdueNotice(t *testing.T) {
	for _, found := range []time.Duration{
		-168 * time.Hour, // found:168h, typed at an odd instant
		-168*time.Hour - 123456789*time.Nanosecond, // a timestamp a week ago
	} {
		t.Run(found.String(), func(t *testing.T) {
			e := newEnv(t)
			e.clock.Advance(987654321 * time.Nanosecond)
			inc, evs, err := e.svc.Open(t.Context(), "chen", workflow.OpenInput{Title: "Old forum post",
				Category: workflow.CategoryInquiry, FoundAt: e.clock.Now().Add(found)})
			if err != nil {
				t.Fatal(err)
			}
			want := []workflow.EventKind{workflow.EventOpened, workflow.EventAssigned, workflow.EventOverdue, workflow.EventEscalated}
			if got := kinds(evs); !slices.Equal(got, want) {
				t.Fatalf("events: got %v, want %v", got, want)
			}
			var overdue []workflow.DeadlineKind
			for _, d := range evs[2].Data.Overdue {
				overdue = append(overdue, d.Deadline)
			}
			if want := []workflow.DeadlineKind{workflow.DeadlineAssign, workflow.DeadlineRespond, workflow.DeadlineAnswer}; !slices.Equal(overdue, want) {
				t.Errorf("overdue deadlines: got %v, want %v", overdue, want)
			}
			if inc.Level != workflow.LevelMajor || !inc.EscalatedAt.Equal(workflow.Instant(e.clock.Now())) {
				t.Errorf("got %s escalated at %v, want major escalated now", inc.Level, inc.EscalatedAt)
			}
			for _, tm := range e.store.lastChange(t).Timers {
				if !tm.Due.After(e.clock.Now()) {
					t.Errorf("timer %s due %v is already due: it would fire as a burst", tm.ID, tm.Due)
				}
			}
			for _, d := range e.svc.Deadlines(inc) {
				if d.Late(e.clock.Now()) {
					t.Errorf("deadline %s due %v is born overdue under the major process", d.Kind, d.Due)
				}
			}
		})
	}
}
