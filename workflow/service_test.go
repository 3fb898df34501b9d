package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name         string
		in           workflow.OpenInput
		wantLevel    workflow.Level
		wantCategory workflow.Category
		wantDept     string
		wantAssignee string
		wantFoundAt  time.Time
	}{
		{name: "defaults are general and other, routed to the office",
			in:        workflow.OpenInput{Title: "Canteen complaint"},
			wantLevel: workflow.LevelGeneral, wantCategory: workflow.CategoryOther,
			wantDept: "office", wantAssignee: "chen", wantFoundAt: t0},
		{name: "inquiry goes to logistics",
			in:        workflow.OpenInput{Title: "Why is the gate closed?", Category: workflow.CategoryInquiry},
			wantLevel: workflow.LevelGeneral, wantCategory: workflow.CategoryInquiry,
			wantDept: "logistics", wantAssignee: "li", wantFoundAt: t0},
		{name: "hype goes to the office",
			in:        workflow.OpenInput{Title: "Reposted video", Category: workflow.CategoryHype, Level: workflow.LevelMajor},
			wantLevel: workflow.LevelMajor, wantCategory: workflow.CategoryHype,
			wantDept: "office", wantAssignee: "chen", wantFoundAt: t0},
		{name: "rumor goes to the office, found in the past",
			in: workflow.OpenInput{Title: "Fake notice", Category: workflow.CategoryRumor, Level: workflow.LevelCritical,
				FoundAt: t0.Add(-10 * time.Minute)},
			wantLevel: workflow.LevelCritical, wantCategory: workflow.CategoryRumor,
			wantDept: "office", wantAssignee: "chen", wantFoundAt: t0.Add(-10 * time.Minute)},
		{name: "found slightly ahead of the clock is accepted",
			in:        workflow.OpenInput{Title: "Skewed phone", FoundAt: t0.Add(30 * time.Second)},
			wantLevel: workflow.LevelGeneral, wantCategory: workflow.CategoryOther,
			wantDept: "office", wantAssignee: "chen", wantFoundAt: t0.Add(30 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc, evs, err := e.svc.Open(t.Context(), "chen", tt.in)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if inc.ID != "YQ-1" || inc.Version != 1 {
				t.Errorf("id, version: got %s v%d, want YQ-1 v1", inc.ID, inc.Version)
			}
			if inc.Level != tt.wantLevel || inc.Category != tt.wantCategory {
				t.Errorf("level, category: got %s %s, want %s %s", inc.Level, inc.Category, tt.wantLevel, tt.wantCategory)
			}
			if inc.Department != tt.wantDept || inc.Assignee != tt.wantAssignee || inc.Status != workflow.StatusAssigned {
				t.Errorf("routing: got %s/%s %s, want %s/%s assigned", inc.Department, inc.Assignee, inc.Status,
					tt.wantDept, tt.wantAssignee)
			}
			if !inc.FoundAt.Equal(tt.wantFoundAt) || !inc.OpenedAt.Equal(t0) || inc.OpenedBy != "chen" {
				t.Errorf("found, opened: got %v %v by %s, want %v %v by chen", inc.FoundAt, inc.OpenedAt, inc.OpenedBy,
					tt.wantFoundAt, t0)
			}
			if got, want := kinds(evs), []workflow.EventKind{workflow.EventOpened, workflow.EventAssigned}; !slices.Equal(got, want) {
				t.Fatalf("events: got %v, want %v", got, want)
			}
			if evs[0].ID != "YQ-1#1.1" || evs[1].ID != "YQ-1#1.2" {
				t.Errorf("event ids: got %s %s, want YQ-1#1.1 YQ-1#1.2", evs[0].ID, evs[1].ID)
			}
			if got := evs[1].Data; got.Department != tt.wantDept || got.Assignee != tt.wantAssignee || !got.Auto {
				t.Errorf("assigned event data: got %+v, want department %s, assignee %s, auto", got, tt.wantDept, tt.wantAssignee)
			}
			c := e.store.lastChange(t)
			if c.Prev != nil {
				t.Errorf("Change.Prev: got %+v, want nil for a new incident", c.Prev)
			}
			if got := e.store.stored(t, "YQ-1"); got.Version != 1 || got.Title != strings.TrimSpace(tt.in.Title) {
				t.Errorf("stored: got v%d %q, want v1 %q", got.Version, got.Title, tt.in.Title)
			}
			if got := e.store.snapshot("YQ-1").events; got != 2 {
				t.Errorf("stored events: got %d, want 2", got)
			}
		})
	}
}

func TestOpenTrimsTitleAndSource(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Title: "  食堂  投诉 \n", Source: " https://weibo.com/1 "})
	if inc.Title != "食堂  投诉" || inc.Source != "https://weibo.com/1" {
		t.Errorf("title, source: got %q %q, want %q %q", inc.Title, inc.Source, "食堂  投诉", "https://weibo.com/1")
	}
}

func TestOpenRoundRobin(t *testing.T) {
	e := newEnv(t)
	var got []string
	for _, c := range []workflow.Category{
		workflow.CategoryInquiry, workflow.CategoryOther, workflow.CategoryInquiry, workflow.CategoryHype, workflow.CategoryInquiry,
	} {
		inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: c})
		got = append(got, inc.Department+"/"+inc.Assignee)
	}
	want := []string{"logistics/li", "office/chen", "logistics/zhou", "office/chen", "logistics/li"}
	if !slices.Equal(got, want) {
		t.Errorf("assignments: got %v, want %v", got, want)
	}
	if e.store.roundRobins != 0 {
		t.Errorf("Open asked for %d turns apart from the ID, want each turn taken with its ID (NextID)", e.store.roundRobins)
	}
}

func TestOpenWithoutOwningDepartment(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		r.Departments[0].Categories = []workflow.Category{workflow.CategoryHype}
	})
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Title: "Gate", Category: workflow.CategoryInquiry})
	if inc.Department != "logistics" {
		t.Fatalf("inquiry: got department %q, want logistics", inc.Department)
	}
	inc, evs, err := e.svc.Open(t.Context(), "chen", workflow.OpenInput{Title: "Noise", Category: workflow.CategoryRumor})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if inc.Status != workflow.StatusNew || inc.Assignee != "" || inc.Department != "" {
		t.Errorf("rumor nobody owns: got %s %q/%q, want new and unassigned", inc.Status, inc.Department, inc.Assignee)
	}
	if got, want := kinds(evs), []workflow.EventKind{workflow.EventOpened}; !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
}

func TestOpenRefused(t *testing.T) {
	tests := []struct {
		name  string
		actor string
		in    workflow.OpenInput
		want  workflow.Code
	}{
		{"actor not in roster", "mallory", workflow.OpenInput{Title: "x"}, workflow.CodeForbidden},
		{"no title", "chen", workflow.OpenInput{}, workflow.CodeInvalid},
		{"blank title", "chen", workflow.OpenInput{Title: " \t\n"}, workflow.CodeInvalid},
		{"title too long", "chen", workflow.OpenInput{Title: strings.Repeat("食", workflow.MaxTitle+1)}, workflow.CodeInvalid},
		{"unknown level", "chen", workflow.OpenInput{Title: "x", Level: "huge"}, workflow.CodeInvalid},
		{"unknown category", "chen", workflow.OpenInput{Title: "x", Category: "gossip"}, workflow.CodeInvalid},
		{"found in the future", "chen", workflow.OpenInput{Title: "x", FoundAt: t0.Add(2 * time.Minute)}, workflow.CodeInvalid},
		{"found more than 30 days ago", "chen", workflow.OpenInput{Title: "x", FoundAt: t0.Add(-31 * 24 * time.Hour)}, workflow.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.store.snapshot("YQ-1")
			inc, _, err := e.svc.Open(t.Context(), tt.actor, tt.in)
			wantCode(t, err, tt.want)
			if inc != nil {
				t.Errorf("incident: got %+v, want nil", inc)
			}
			if workflow.ErrorText(err) == nil {
				t.Errorf("error %v: got no person-facing text, want one", err)
			}
			wantUnchanged(t, e.store, "YQ-1", before)
		})
	}
}

func TestOpenTitleAtLimit(t *testing.T) {
	e := newEnv(t)
	title := strings.Repeat("食", workflow.MaxTitle)
	if inc := mustOpen(t, e, "chen", workflow.OpenInput{Title: title}); inc.Title != title {
		t.Errorf("title: got %d runes, want %d", len([]rune(inc.Title)), workflow.MaxTitle)
	}
}

func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	e.store.down = true
	tests := []struct {
		name string
		run  func() error
	}{
		{"open", func() error { _, _, err := e.svc.Open(t.Context(), "chen", workflow.OpenInput{Title: "x"}); return err }},
		{"ack", func() error { _, _, err := e.svc.Ack(t.Context(), "chen", inc.ID); return err }},
		{"get", func() error { _, err := e.svc.Get(t.Context(), "chen", inc.ID); return err }},
		{"list", func() error { _, err := e.svc.List(t.Context(), "chen", ""); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			wantCode(t, err, workflow.CodeUnavailable)
			if !errors.Is(err, errDown) {
				t.Errorf("error %v: got no cause, want the storage error kept for the log", err)
			}
		})
	}
}

func TestRoundRobinFailureStopsOpen(t *testing.T) {
	e := newEnv(t)
	e.store.roundRobinDown = true
	_, _, err := e.svc.Open(t.Context(), "chen", workflow.OpenInput{Title: "x"})
	wantCode(t, err, workflow.CodeUnavailable)
	if !strings.Contains(err.Error(), "round-robin of office") {
		t.Errorf("error: got %q, want it to name the rotation", err)
	}
	wantUnchanged(t, e.store, "YQ-1", snapshot{})
}

// fmtDeadlines renders deadlines in the roster's timezone, for comparison.
func fmtDeadlines(ds []workflow.Deadline, loc *time.Location) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = fmt.Sprintf("%s %s", d.Kind, d.Due.In(loc).Format("01-02 15:04"))
		if d.Met() {
			out[i] += " met " + d.MetAt.In(loc).Format("01-02 15:04")
		}
	}
	return out
}

func TestDeadlinesCountFromDiscovery(t *testing.T) {
	e := newEnv(t) // for e.at
	tests := []struct {
		name string
		now  time.Time // when the incident is opened
		in   workflow.OpenInput
		want []string
	}{
		{name: "general other: no reply deadline",
			now:  e.at(1, 10, 0),
			in:   workflow.OpenInput{FoundAt: e.at(1, 9, 0)},
			want: []string{"assign 03-01 11:00", "answer 03-02 09:00"}},
		{name: "general inquiry: reply the same day",
			now:  e.at(1, 10, 0),
			in:   workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: e.at(1, 9, 0)},
			want: []string{"assign 03-01 11:00", "respond 03-02 00:00", "answer 03-02 09:00"}},
		{name: "general inquiry found 07:00 Shanghai (the day before in UTC): same Shanghai day",
			now:  e.at(1, 7, 30),
			in:   workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: e.at(1, 7, 0)},
			want: []string{"assign 03-01 09:00", "respond 03-02 00:00", "answer 03-02 07:00"}},
		{name: "general inquiry found 23:30 on a Friday: reply by noon of the next working day",
			now:  e.at(1, 23, 40),
			in:   workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: e.at(1, 23, 30)},
			want: []string{"assign 03-02 01:30", "answer 03-02 23:30", "respond 03-04 12:00"}},
		{name: "general inquiry found 23:30 on a Monday: reply by noon on Tuesday, not in 30 minutes",
			now:  e.at(4, 23, 40),
			in:   workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: e.at(4, 23, 30)},
			want: []string{"assign 03-05 01:30", "respond 03-05 12:00", "answer 03-05 23:30"}},
		{name: "general inquiry found 17:29 on a Monday, in office hours: reply by midnight",
			now:  e.at(4, 17, 29),
			in:   workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: e.at(4, 17, 29)},
			want: []string{"assign 03-04 19:29", "respond 03-05 00:00", "answer 03-05 17:29"}},
		{name: "major found two hours before it was opened",
			now: e.at(1, 10, 0),
			in:  workflow.OpenInput{Level: workflow.LevelMajor, FoundAt: e.at(1, 8, 0)},
			want: []string{"report 03-01 08:30", "assign 03-01 08:30", "authority 03-01 09:00",
				"respond 03-01 11:00"}},
		{name: "critical",
			now: e.at(1, 10, 0),
			in:  workflow.OpenInput{Level: workflow.LevelCritical, Category: workflow.CategoryRumor, FoundAt: e.at(1, 9, 50)},
			want: []string{"report 03-01 10:05", "assign 03-01 10:05", "authority 03-01 10:20",
				"respond 03-01 12:50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.clock.Set(tt.now)
			inc := mustOpen(t, e, "chen", tt.in)
			ds := e.svc.Deadlines(inc)
			if got := fmtDeadlines(ds, e.loc); !slices.Equal(got, tt.want) {
				t.Errorf("deadlines:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDeadlineLate(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor, FoundAt: t0.Add(-2 * time.Hour)})
	e.clock.Advance(time.Minute)
	inc = must(t)(e.svc.Receive(t.Context(), "zhao", inc.ID))
	ds := e.svc.Deadlines(inc)
	report, assign := ds[0], ds[1]
	if report.Kind != workflow.DeadlineReport || !report.Met() || !report.Late(t0) || !report.MetAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("report acknowledged 2h after discovery: got %+v met %v late %v, want met at the receipt, late", report, report.Met(), report.Late(t0))
	}
	if assign.Kind != workflow.DeadlineAssign || assign.Met() || !assign.Late(t0) {
		t.Errorf("assign: got %+v, want unmet and late at %v", assign, t0)
	}
	if !inc.Overdue(e.roster.Policy, e.roster.Calendar(), t0) {
		t.Errorf("Overdue: got false, want true")
	}
	c := e.store.lastChange(t)
	if !c.NextDue.Equal(t0.Add(-90 * time.Minute)) {
		t.Errorf("Change.NextDue: got %v, want the assign deadline %v", c.NextDue, t0.Add(-90*time.Minute))
	}
}

func TestSetLevel(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{FoundAt: t0.Add(-10 * time.Minute)})
	if got, want := fmtDeadlines(e.svc.Deadlines(inc), e.loc), []string{"assign 03-01 11:50", "answer 03-02 09:50"}; !slices.Equal(got, want) {
		t.Fatalf("general deadlines: got %q, want %q", got, want)
	}

	e.clock.Advance(5 * time.Minute)
	inc, evs, err := e.svc.SetLevel(t.Context(), "chen", inc.ID, workflow.LevelChange{Level: workflow.LevelMajor, Reason: "as assessed"})
	if err != nil {
		t.Fatalf("staff raises to major: %v", err)
	}
	if got, want := fmtDeadlines(e.svc.Deadlines(inc), e.loc),
		[]string{"report 03-01 10:20", "assign 03-01 10:20", "authority 03-01 10:50", "respond 03-01 12:50"}; !slices.Equal(got, want) {
		t.Errorf("major deadlines: got %q, want %q", got, want)
	}
	if len(evs) != 1 || evs[0].Kind != workflow.EventLevelChanged || evs[0].Data.From != workflow.LevelGeneral || evs[0].Data.To != workflow.LevelMajor {
		t.Errorf("events: got %+v, want one level_changed general→major", evs)
	}
	timers := timerIDs(e.store.lastChange(t).Timers)
	if !slices.Contains(timers, "YQ-1:respond:due") || !slices.Contains(timers, "YQ-1:update:1") {
		t.Errorf("timers after raising: got %v, want the respond and follow-up timers", timers)
	}

	refused := []struct {
		name  string
		actor string
		level workflow.Level
		want  workflow.Code
	}{
		{"staff cannot lower", "chen", workflow.LevelGeneral, workflow.CodeForbidden},
		{"spokesperson cannot lower", "sun", workflow.LevelGeneral, workflow.CodeForbidden},
		{"same level", "wang", workflow.LevelMajor, workflow.CodeConflict},
		{"unknown level", "wang", "huge", workflow.CodeInvalid},
		{"empty level", "wang", "", workflow.CodeInvalid},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.SetLevel(t.Context(), tt.actor, inc.ID, workflow.LevelChange{Level: tt.level, Reason: "as assessed"})
			wantCode(t, err, tt.want)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}

	inc = must(t)(e.svc.SetLevel(t.Context(), "zhao", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "as assessed"}))
	if got, want := fmtDeadlines(e.svc.Deadlines(inc), e.loc), []string{"assign 03-01 11:50", "answer 03-02 09:50"}; !slices.Equal(got, want) {
		t.Errorf("deadlines after a leader lowers: got %q, want %q", got, want)
	}
	timers = timerIDs(e.store.lastChange(t).Timers)
	if slices.Contains(timers, "YQ-1:respond:due") {
		t.Errorf("timers after lowering: got %v, want no respond timer", timers)
	}
}

// draftReady opens an incident of the level and has chen draft text.
func draftReady(tb testing.TB, e *env, level workflow.Level, text string) *workflow.Incident {
	tb.Helper()
	inc := mustOpen(tb, e, "chen", workflow.OpenInput{Level: level, Category: workflow.CategoryInquiry})
	return must(tb)(e.svc.SubmitDraft(tb.Context(), "chen", inc.ID, text))
}

func TestQuorum(t *testing.T) {
	tests := []struct {
		name      string
		level     workflow.Level
		approvers []string
		// quorumAt is the index of the approval that reaches quorum; -1: none.
		quorumAt int
		// wantMsg is part of the refusal to publish without quorum.
		wantMsg string
	}{
		{name: "general needs one leader", level: workflow.LevelGeneral, approvers: []string{"zhao"}, quorumAt: 0},
		{name: "general, a principal is enough", level: workflow.LevelGeneral, approvers: []string{"wang"}, quorumAt: 0},
		{name: "major, one approval is not enough", level: workflow.LevelMajor, approvers: []string{"wang"}, quorumAt: -1,
			wantMsg: "has 1 of the 2 approvals"},
		{name: "major, leader then principal", level: workflow.LevelMajor, approvers: []string{"zhao", "wang"}, quorumAt: 1},
		{name: "major, principal then leader", level: workflow.LevelMajor, approvers: []string{"wang", "zhao"}, quorumAt: 1},
		{name: "major, two non-principals are not enough", level: workflow.LevelMajor, approvers: []string{"zhao", "qian"},
			quorumAt: -1, wantMsg: "needs the approval of a principal"},
		{name: "major, two non-principals then the principal", level: workflow.LevelMajor,
			approvers: []string{"zhao", "qian", "wang"}, quorumAt: 2},
		{name: "critical, two non-principals are not enough", level: workflow.LevelCritical, approvers: []string{"qian", "zhao"},
			quorumAt: -1, wantMsg: "needs the approval of a principal"},
		{name: "critical, leader and principal", level: workflow.LevelCritical, approvers: []string{"qian", "wang"}, quorumAt: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withQian)
			inc := draftReady(t, e, tt.level, "We have noted the post and will answer today.")
			for i, who := range tt.approvers {
				_, evs, err := e.svc.Approve(t.Context(), who, inc.ID, 0, "ok")
				if err != nil {
					t.Fatalf("approval %d by %s: %v", i+1, who, err)
				}
				want := []workflow.EventKind{workflow.EventApproved}
				if i == tt.quorumAt {
					want = append(want, workflow.EventQuorum)
				}
				if got := kinds(evs); !slices.Equal(got, want) {
					t.Errorf("approval %d by %s: got events %v, want %v", i+1, who, got, want)
				}
			}
			before := e.store.snapshot(inc.ID)
			_, evs, err := e.svc.Publish(t.Context(), "sun", inc.ID)
			if tt.quorumAt < 0 {
				wantCode(t, err, workflow.CodeConflict)
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("refusal: got %q, want it to say %q", err, tt.wantMsg)
				}
				wantUnchanged(t, e.store, inc.ID, before)
				return
			}
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			if got, want := kinds(evs), []workflow.EventKind{workflow.EventPublished}; !slices.Equal(got, want) {
				t.Errorf("publish events: got %v, want %v", got, want)
			}
		})
	}
}

func TestNewDraftVoidsApprovals(t *testing.T) {
	e := newEnv(t)
	inc := draftReady(t, e, workflow.LevelGeneral, "version one")
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 1, ""))

	inc, evs, err := e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "version two")
	if err != nil {
		t.Fatalf("SubmitDraft v2: %v", err)
	}
	if got := evs[0].Data; got.Version != 2 || got.Voided != 1 || got.Hash != workflow.HashText("version two") {
		t.Errorf("drafted event data: got %+v, want version 2, voided 1, hash of the text", got)
	}
	if d := inc.CurrentDraft(); d.Version != 2 || len(d.Approvals) != 0 || e.roster.Policy.Quorum(inc.Level, d) {
		t.Errorf("current draft: got v%d with %d approvals, want v2 with none and no quorum", d.Version, len(d.Approvals))
	}

	refused := []struct {
		name string
		run  func() error
		want workflow.Code
	}{
		{"publish without approval of the new version", func() error {
			_, _, err := e.svc.Publish(t.Context(), "sun", inc.ID)
			return err
		}, workflow.CodeConflict},
		{"approve the replaced version", func() error {
			_, _, err := e.svc.Approve(t.Context(), "wang", inc.ID, 1, "")
			return err
		}, workflow.CodeConflict},
		{"reject the replaced version", func() error {
			_, _, err := e.svc.Reject(t.Context(), "wang", inc.ID, 1, "too vague")
			return err
		}, workflow.CodeConflict},
		{"resubmit the same text", func() error {
			_, _, err := e.svc.SubmitDraft(t.Context(), "li", inc.ID, "  version two ")
			return err
		}, workflow.CodeConflict},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			wantCode(t, tt.run(), tt.want)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}

	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 2, ""))
	inc = must(t)(e.svc.Publish(t.Context(), "sun", inc.ID))
	if got := inc.Statements; len(got) != 1 || got[0].DraftVersion != 2 || got[0].Text != "version two" {
		t.Errorf("statements: got %+v, want version 2 published", got)
	}
}

func TestApproveRefused(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *env, id string) // after chen drafted
		actor   string
		version int
		want    workflow.Code
	}{
		{name: "the author cannot approve", actor: "wang", want: workflow.CodeForbidden,
			setup: func(t *testing.T, e *env, id string) {
				must(t)(e.svc.SubmitDraft(t.Context(), "wang", id, "wang's own text"))
			}},
		{name: "staff cannot approve", actor: "li", want: workflow.CodeForbidden},
		{name: "the spokesperson cannot approve", actor: "sun", want: workflow.CodeForbidden},
		{name: "twice by the same leader", actor: "wang", want: workflow.CodeConflict,
			setup: func(t *testing.T, e *env, id string) { must(t)(e.svc.Approve(t.Context(), "wang", id, 0, "")) }},
		{name: "a rejected draft", actor: "wang", want: workflow.CodeConflict,
			setup: func(t *testing.T, e *env, id string) { must(t)(e.svc.Reject(t.Context(), "zhao", id, 0, "too vague")) }},
		{name: "a published draft", actor: "wang", want: workflow.CodeConflict,
			setup: func(t *testing.T, e *env, id string) {
				must(t)(e.svc.Approve(t.Context(), "zhao", id, 0, ""))
				must(t)(e.svc.Publish(t.Context(), "sun", id))
			}},
		{name: "a version that does not exist yet", actor: "wang", version: 5, want: workflow.CodeConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := draftReady(t, e, workflow.LevelGeneral, "We have noted the post.")
			if tt.setup != nil {
				tt.setup(t, e, inc.ID)
			}
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.Approve(t.Context(), tt.actor, inc.ID, tt.version, "")
			wantCode(t, err, tt.want)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestDecideWithoutDraft(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	for _, tt := range []struct {
		name string
		run  func() error
	}{
		{"approve", func() error { _, _, err := e.svc.Approve(t.Context(), "wang", inc.ID, 0, ""); return err }},
		{"reject", func() error { _, _, err := e.svc.Reject(t.Context(), "wang", inc.ID, 0, "no"); return err }},
		{"publish", func() error { _, _, err := e.svc.Publish(t.Context(), "sun", inc.ID); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			err := tt.run()
			wantCode(t, err, workflow.CodeConflict)
			if !strings.Contains(err.Error(), "has no draft yet") {
				t.Errorf("error: got %q, want it to say there is no draft", err)
			}
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestApproveRecordsPrincipalAndNote(t *testing.T) {
	e := newEnv(t)
	inc := draftReady(t, e, workflow.LevelMajor, "text")
	e.clock.Advance(time.Minute)
	inc = must(t)(e.svc.Approve(t.Context(), "wang", inc.ID, 1, "  fine by me "))
	a := inc.CurrentDraft().Approvals
	if len(a) != 1 || a[0].By != "wang" || !a[0].Principal || a[0].Note != "fine by me" || !a[0].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("approvals: got %+v, want wang, principal, note trimmed, at %v", a, t0.Add(time.Minute))
	}
	if !inc.CurrentDraft().ApprovedBy("wang") || inc.CurrentDraft().ApprovedBy("zhao") {
		t.Errorf("ApprovedBy: got wang %v zhao %v, want true false",
			inc.CurrentDraft().ApprovedBy("wang"), inc.CurrentDraft().ApprovedBy("zhao"))
	}
}

func TestReject(t *testing.T) {
	e := newEnv(t)
	inc := draftReady(t, e, workflow.LevelGeneral, "first text")
	for _, tt := range []struct {
		name   string
		actor  string
		reason string
		want   workflow.Code
	}{
		{"no reason", "wang", "  ", workflow.CodeInvalid},
		{"staff", "li", "bad", workflow.CodeForbidden},
		{"spokesperson", "sun", "bad", workflow.CodeForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.Reject(t.Context(), tt.actor, inc.ID, 0, tt.reason)
			wantCode(t, err, tt.want)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}

	inc, evs, err := e.svc.Reject(t.Context(), "zhao", inc.ID, 1, " names the wrong canteen ")
	if err != nil {
		t.Fatalf("Reject: %v", err)
	}
	if r := inc.CurrentDraft().Rejection; r == nil || r.By != "zhao" || r.Note != "names the wrong canteen" {
		t.Errorf("rejection: got %+v, want zhao with the reason trimmed", r)
	}
	if len(evs) != 1 || evs[0].Kind != workflow.EventRejected || evs[0].Text != "names the wrong canteen" {
		t.Errorf("events: got %+v, want one rejected with the reason", evs)
	}
	_, _, err = e.svc.Publish(t.Context(), "sun", inc.ID)
	wantCode(t, err, workflow.CodeConflict)
	if !strings.Contains(err.Error(), "rejected by Zhao Lei") {
		t.Errorf("publish a rejected draft: got %q, want it to name Zhao Lei", err)
	}
	// The same text may be submitted again after a rejection: it is a new version.
	inc = must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "first text"))
	if d := inc.CurrentDraft(); d.Version != 2 || d.Rejection != nil {
		t.Errorf("resubmitted draft: got v%d rejection %+v, want v2 without rejection", d.Version, d.Rejection)
	}
}

func TestPublish(t *testing.T) {
	// The text keeps its inner spacing, line breaks and quotes; only the
	// white space around it is trimmed when the draft is recorded.
	const typed = "  我们已关注到网友反映的“食堂”问题。\n\n  将于今日 18:00 前答复 — \"Logistics\"  "
	const text = "我们已关注到网友反映的“食堂”问题。\n\n  将于今日 18:00 前答复 — \"Logistics\""
	tests := []struct {
		name  string
		actor string
		want  workflow.Code // "" for success
	}{
		{"spokesperson", "sun", ""},
		{"leader", "zhao", ""},
		{"principal", "wang", ""},
		{"staff", "chen", workflow.CodeForbidden},
		{"staff of the department", "li", workflow.CodeForbidden},
		{"not in roster", "mallory", workflow.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := draftReady(t, e, workflow.LevelGeneral, typed)
			if got := inc.CurrentDraft().Text; got != text {
				t.Fatalf("draft text: got %q, want %q", got, text)
			}
			must(t)(e.svc.Approve(t.Context(), "wang", inc.ID, 0, ""))
			e.clock.Advance(time.Hour)
			before := e.store.snapshot(inc.ID)
			inc, evs, err := e.svc.Publish(t.Context(), tt.actor, inc.ID)
			if tt.want != "" {
				wantCode(t, err, tt.want)
				wantUnchanged(t, e.store, "YQ-1", before)
				return
			}
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			st := inc.Statements
			if len(st) != 1 {
				t.Fatalf("statements: got %d, want 1", len(st))
			}
			if st[0].Text != text || st[0].Hash != workflow.HashText(text) || st[0].DraftVersion != 1 || st[0].By != tt.actor {
				t.Errorf("statement: got %+v, want exactly the draft text %q by %s", st[0], text, tt.actor)
			}
			if evs[0].Text != text || evs[0].Data.Hash != workflow.HashText(text) {
				t.Errorf("published event: got %q %+v, want the exact text and its hash", evs[0].Text, evs[0].Data)
			}
			if !inc.CurrentDraft().Published || !inc.PublishedAt().Equal(t0.Add(time.Hour)) {
				t.Errorf("published: got %v at %v, want true at %v", inc.CurrentDraft().Published, inc.PublishedAt(), t0.Add(time.Hour))
			}
			for _, d := range e.svc.Deadlines(inc) {
				if d.Kind == workflow.DeadlineRespond && !d.MetAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("respond deadline: got met at %v, want %v", d.MetAt, t0.Add(time.Hour))
				}
			}
			if got := e.store.stored(t, inc.ID).Statements[0].Text; got != text {
				t.Errorf("stored statement: got %q, want %q", got, text)
			}
			_, _, err = e.svc.Publish(t.Context(), tt.actor, inc.ID)
			wantCode(t, err, workflow.CodeConflict)
		})
	}
}

func TestDraftRefused(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	for _, tt := range []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"blank", " \n\t "},
		{"too long", strings.Repeat("字", workflow.MaxText+1)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.SubmitDraft(t.Context(), "chen", inc.ID, tt.text)
			wantCode(t, err, workflow.CodeInvalid)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
	inc = must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, strings.Repeat("字", workflow.MaxText)))
	if got := len([]rune(inc.CurrentDraft().Text)); got != workflow.MaxText {
		t.Errorf("draft at the limit: got %d runes, want %d", got, workflow.MaxText)
	}
}

func TestRefer(t *testing.T) {
	tests := []struct {
		name      string
		category  workflow.Category
		published bool // the unified reply was published first
		actor     string
		reason    string
		want      workflow.Code
	}{
		{"hype by the principal", workflow.CategoryHype, true, "wang", "keeps reposting after the facts", ""},
		{"rumor by a leader", workflow.CategoryRumor, true, "zhao", "fabricated notice", ""},
		{"general with no sign of spreading after the reply", workflow.CategoryHype, true, "wang", "still there", workflow.CodeConflict},
		{"hype before the facts are published", workflow.CategoryHype, false, "wang", "x", workflow.CodeConflict},
		{"other is not referable", workflow.CategoryOther, true, "wang", "x", workflow.CodeConflict},
		{"inquiry is not referable", workflow.CategoryInquiry, true, "wang", "x", workflow.CodeConflict},
		{"staff cannot refer", workflow.CategoryHype, true, "chen", "x", workflow.CodeForbidden},
		{"spokesperson cannot refer", workflow.CategoryHype, true, "sun", "x", workflow.CodeForbidden},
		{"a reason is needed", workflow.CategoryHype, true, "wang", " ", workflow.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: tt.category})
			if tt.published {
				must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "The notice is fabricated."))
				must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
				must(t)(e.svc.Publish(t.Context(), "sun", inc.ID))
				if tt.reason != "still there" {
					// The posts kept growing after the facts were published
					// (仍继续恶意传播或炒作).
					for _, posts := range []string{"posts:10", "posts:30"} {
						e.clock.Advance(10 * time.Minute)
						f, _, err := workflow.ParseFigures([]string{posts})
						if err != nil {
							t.Fatal(err)
						}
						must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "", f))
					}
				}
			}
			e.clock.Advance(time.Hour)
			before := e.store.snapshot(inc.ID)
			inc2, evs, err := e.svc.Refer(t.Context(), tt.actor, inc.ID, tt.reason)
			if tt.want != "" {
				wantCode(t, err, tt.want)
				wantUnchanged(t, e.store, inc.ID, before)
				return
			}
			if err != nil {
				t.Fatalf("Refer: %v", err)
			}
			if !inc2.ReferredAt.Equal(e.clock.Now()) || inc2.Referral != tt.reason {
				t.Errorf("referral: got %v %q, want %v %q", inc2.ReferredAt, inc2.Referral, e.clock.Now(), tt.reason)
			}
			if len(evs) != 1 || evs[0].Kind != workflow.EventReferred || evs[0].Actor != tt.actor || evs[0].Text != tt.reason {
				t.Errorf("events: got %+v, want one referred by %s with the reason", evs, tt.actor)
			}
			before = e.store.snapshot(inc.ID)
			_, _, err = e.svc.Refer(t.Context(), tt.actor, inc.ID, "again")
			wantCode(t, err, workflow.CodeConflict)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestAssign(t *testing.T) {
	tests := []struct {
		name         string
		category     workflow.Category // the incident; other goes to office/chen
		target       string
		wantDept     string
		wantAssignee string
		want         workflow.Code
	}{
		{name: "to a person of another department", target: "li", wantDept: "logistics", wantAssignee: "li"},
		{name: "to a person without department", target: "wang", wantDept: "office", wantAssignee: "wang"},
		{name: "to a department", target: "logistics", wantDept: "logistics", wantAssignee: "li"},
		{name: "to the department that has it", target: "office", want: workflow.CodeConflict},
		{name: "to the person who has it", target: "chen", want: workflow.CodeConflict},
		{name: "to nobody known", target: "nobody", want: workflow.CodeInvalid},
		{name: "to a colleague of the assignee", category: workflow.CategoryInquiry, target: "zhou",
			wantDept: "logistics", wantAssignee: "zhou"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: tt.category})
			before := e.store.snapshot(inc.ID)
			got, evs, err := e.svc.Assign(t.Context(), "chen", inc.ID, tt.target)
			if tt.want != "" {
				wantCode(t, err, tt.want)
				wantUnchanged(t, e.store, inc.ID, before)
				return
			}
			if err != nil {
				t.Fatalf("Assign: %v", err)
			}
			if got.Department != tt.wantDept || got.Assignee != tt.wantAssignee || got.Status != workflow.StatusAssigned {
				t.Errorf("got %s/%s %s, want %s/%s assigned", got.Department, got.Assignee, got.Status, tt.wantDept, tt.wantAssignee)
			}
			if len(evs) != 1 || evs[0].Kind != workflow.EventAssigned || evs[0].Data.Assignee != tt.wantAssignee ||
				evs[0].Data.Department != tt.wantDept || evs[0].Actor != "chen" {
				t.Errorf("events: got %+v, want one assigned to %s/%s by chen", evs, tt.wantDept, tt.wantAssignee)
			}
		})
	}
}

func TestAssignToDepartmentWithoutMembers(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		r.Departments = append(r.Departments, workflow.Department{ID: "press", Name: "Press Office"})
	})
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	inc = must(t)(e.svc.Assign(t.Context(), "wang", inc.ID, "press"))
	if inc.Department != "press" || inc.Assignee != "" || inc.Status != workflow.StatusAssigned {
		t.Errorf("got %s/%q %s, want press with nobody in particular, assigned", inc.Department, inc.Assignee, inc.Status)
	}
}

func TestAssignRoundRobinUnavailable(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	e.store.roundRobinDown = true
	before := e.store.snapshot(inc.ID)
	_, _, err := e.svc.Assign(t.Context(), "chen", inc.ID, "logistics")
	wantCode(t, err, workflow.CodeUnavailable)
	wantUnchanged(t, e.store, inc.ID, before)
}

func TestAssignToDepartmentRoundRobin(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry}) // logistics/li
	var got []string
	for _, target := range []string{"office", "logistics", "office", "logistics"} {
		inc = must(t)(e.svc.Assign(t.Context(), "chen", inc.ID, target))
		got = append(got, inc.Department+"/"+inc.Assignee)
	}
	// The rotation is shared with Open: li had the first turn of logistics.
	want := []string{"office/chen", "logistics/zhou", "office/chen", "logistics/li"}
	if !slices.Equal(got, want) {
		t.Errorf("assignments: got %v, want %v", got, want)
	}
}

func TestAck(t *testing.T) {
	unowned := func(r *workflow.Roster) { r.Departments[0].Categories = nil }
	tests := []struct {
		name         string
		edit         func(*workflow.Roster)
		category     workflow.Category
		actor        string
		want         workflow.Code
		wantAssignee string
		wantDept     string
	}{
		{name: "the assignee", category: workflow.CategoryInquiry, actor: "li", wantAssignee: "li", wantDept: "logistics"},
		{name: "a colleague takes it over", category: workflow.CategoryInquiry, actor: "zhou", wantAssignee: "zhou", wantDept: "logistics"},
		{name: "someone of another department", category: workflow.CategoryInquiry, actor: "chen", want: workflow.CodeForbidden},
		{name: "a leader outside the department", category: workflow.CategoryInquiry, actor: "wang", want: workflow.CodeForbidden},
		{name: "unassigned: a leader takes it", edit: unowned, actor: "wang", wantAssignee: "wang", wantDept: ""},
		{name: "unassigned: staff bring their department", edit: unowned, actor: "chen", wantAssignee: "chen", wantDept: "office"},
		{name: "not in roster", category: workflow.CategoryInquiry, actor: "mallory", want: workflow.CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*workflow.Roster)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			e := newEnv(t, edits...)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: tt.category, FoundAt: t0.Add(-time.Hour)})
			e.clock.Advance(10 * time.Minute)
			before := e.store.snapshot(inc.ID)
			got, evs, err := e.svc.Ack(t.Context(), tt.actor, inc.ID)
			if tt.want != "" {
				wantCode(t, err, tt.want)
				wantUnchanged(t, e.store, inc.ID, before)
				return
			}
			if err != nil {
				t.Fatalf("Ack: %v", err)
			}
			if got.Status != workflow.StatusAcknowledged || got.Assignee != tt.wantAssignee || got.AckedBy != tt.actor ||
				got.Department != tt.wantDept {
				t.Errorf("got %s %s/%s acked by %s, want acknowledged %s/%s by %s", got.Status, got.Department, got.Assignee,
					got.AckedBy, tt.wantDept, tt.wantAssignee, tt.actor)
			}
			if len(evs) != 1 || evs[0].Kind != workflow.EventAcknowledged {
				t.Errorf("events: got %v, want one acknowledged", kinds(evs))
			}
			for _, d := range e.svc.Deadlines(got) {
				if d.Kind == workflow.DeadlineAssign && !d.MetAt.Equal(t0.Add(10*time.Minute)) {
					t.Errorf("assign deadline: got met at %v, want %v", d.MetAt, t0.Add(10*time.Minute))
				}
			}
			_, _, err = e.svc.Ack(t.Context(), tt.actor, inc.ID)
			wantCode(t, err, workflow.CodeConflict)
		})
	}
}

func TestAckKeepsFirstAckTime(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry})
	e.clock.Advance(10 * time.Minute)
	must(t)(e.svc.Ack(t.Context(), "li", inc.ID))
	e.clock.Advance(time.Hour)
	inc = must(t)(e.svc.Assign(t.Context(), "li", inc.ID, "chen"))
	if inc.Status != workflow.StatusAssigned {
		t.Fatalf("after reassigning: got %s, want assigned", inc.Status)
	}
	inc = must(t)(e.svc.Ack(t.Context(), "chen", inc.ID))
	if !inc.AckedAt.Equal(t0.Add(10*time.Minute)) || inc.AckedBy != "chen" {
		t.Errorf("acked: got %v by %s, want the first acknowledgement time %v, by chen", inc.AckedAt, inc.AckedBy, t0.Add(10*time.Minute))
	}
}

func TestTake(t *testing.T) {
	tests := []struct {
		name     string
		actor    string
		wantDept string
	}{
		{"staff of another department bring theirs", "chen", "office"},
		{"staff of the department", "zhou", "logistics"},
		{"a leader keeps the department", "wang", "logistics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry}) // logistics/li
			got, evs, err := e.svc.Take(t.Context(), tt.actor, inc.ID)
			if err != nil {
				t.Fatalf("Take: %v", err)
			}
			if got.Assignee != tt.actor || got.Department != tt.wantDept || got.Status != workflow.StatusAcknowledged ||
				!got.AckedAt.Equal(t0) {
				t.Errorf("got %s/%s %s acked %v, want %s/%s acknowledged at %v", got.Department, got.Assignee, got.Status,
					got.AckedAt, tt.wantDept, tt.actor, t0)
			}
			if want := []workflow.EventKind{workflow.EventAssigned, workflow.EventAcknowledged}; !slices.Equal(kinds(evs), want) {
				t.Errorf("events: got %v, want %v", kinds(evs), want)
			}
			if evs[0].ID != "YQ-1#2.1" || evs[1].ID != "YQ-1#2.2" {
				t.Errorf("event ids: got %s %s, want YQ-1#2.1 YQ-1#2.2", evs[0].ID, evs[1].ID)
			}
			before := e.store.snapshot(inc.ID)
			_, _, err = e.svc.Take(t.Context(), tt.actor, inc.ID)
			wantCode(t, err, workflow.CodeConflict)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	if got := timerIDs(e.store.lastChange(t).Timers); !slices.Contains(got, "YQ-1:update:1") {
		t.Errorf("timers: got %v, want the first follow-up reminder", got)
	}
	e.clock.Advance(90 * time.Minute)
	inc, evs, err := e.svc.Update(t.Context(), "li", inc.ID, " canteen inspected ", workflow.Figures{})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if inc.Updates != 1 || !inc.LastUpdateAt.Equal(t0.Add(90*time.Minute)) {
		t.Errorf("updates: got %d at %v, want 1 at %v", inc.Updates, inc.LastUpdateAt, t0.Add(90*time.Minute))
	}
	if len(evs) != 1 || evs[0].Text != "canteen inspected" || evs[0].Data.Number != 1 {
		t.Errorf("events: got %+v, want one update number 1 with the trimmed text", evs)
	}
	var next workflow.Timer
	for _, tm := range e.store.lastChange(t).Timers {
		if strings.Contains(tm.ID, ":update:") {
			next = tm
		}
	}
	if next.ID != "YQ-1:update:2" || !next.Due.Equal(t0.Add(90*time.Minute+2*time.Hour)) {
		t.Errorf("follow-up timer: got %s at %v, want YQ-1:update:2 two hours after the report", next.ID, next.Due)
	}
	before := e.store.snapshot(inc.ID)
	_, _, err = e.svc.Update(t.Context(), "li", inc.ID, "", workflow.Figures{})
	wantCode(t, err, workflow.CodeInvalid)
	wantUnchanged(t, e.store, inc.ID, before)
}

func TestResolveReopen(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env, id string)
		edit       func(*workflow.Roster)
		wantStatus workflow.Status
	}{
		{name: "assigned comes back assigned", wantStatus: workflow.StatusAssigned},
		{name: "acknowledged comes back acknowledged", wantStatus: workflow.StatusAcknowledged,
			setup: func(t *testing.T, e *env, id string) { must(t)(e.svc.Ack(t.Context(), "chen", id)) }},
		{name: "reassigned after ack comes back assigned", wantStatus: workflow.StatusAssigned,
			setup: func(t *testing.T, e *env, id string) {
				must(t)(e.svc.Ack(t.Context(), "chen", id))
				must(t)(e.svc.Assign(t.Context(), "chen", id, "li"))
			}},
		{name: "unassigned comes back new", wantStatus: workflow.StatusNew,
			edit: func(r *workflow.Roster) { r.Departments[0].Categories = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*workflow.Roster)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			e := newEnv(t, edits...)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{})
			if tt.setup != nil {
				tt.setup(t, e, inc.ID)
			}
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.Resolve(t.Context(), "chen", inc.ID, " ", false)
			wantCode(t, err, workflow.CodeInvalid)
			wantUnchanged(t, e.store, inc.ID, before)
			_, _, err = e.svc.Reopen(t.Context(), "chen", inc.ID, "reopened")
			wantCode(t, err, workflow.CodeConflict)
			wantUnchanged(t, e.store, inc.ID, before)

			e.clock.Advance(3 * time.Hour)
			inc, evs, err := e.svc.Resolve(t.Context(), "chen", inc.ID, "Canteen cleaned, post answered", false)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if inc.Open() || !inc.ResolvedAt.Equal(t0.Add(3*time.Hour)) || inc.Summary != "Canteen cleaned, post answered" {
				t.Errorf("resolved: got %s at %v %q, want resolved at %v with the summary", inc.Status, inc.ResolvedAt, inc.Summary, t0.Add(3*time.Hour))
			}
			// A general incident's result is fed back to the leaders.
			if len(evs) != 2 || evs[0].Kind != workflow.EventResolved || evs[1].Kind != workflow.EventFedBack || evs[1].Text != inc.Summary {
				t.Errorf("events: got %v, want resolved and fed_back with the summary", kinds(evs))
			}
			c := e.store.lastChange(t)
			if len(c.Timers) != 0 || !c.NextDue.IsZero() {
				t.Errorf("resolved change: got timers %v next due %v, want none", timerIDs(c.Timers), c.NextDue)
			}

			inc, evs, err = e.svc.Reopen(t.Context(), "wang", inc.ID, "reopened")
			if err != nil {
				t.Fatalf("Reopen: %v", err)
			}
			if inc.Status != tt.wantStatus || !inc.ResolvedAt.IsZero() || inc.Summary != "" {
				t.Errorf("reopened: got %s resolved %v %q, want %s and no resolution", inc.Status, inc.ResolvedAt, inc.Summary, tt.wantStatus)
			}
			// Reopened three hours after discovery, an incident nobody
			// acknowledged is born overdue for its 2-hour hand-over: one
			// overdue notice comes with the reopening.
			want := []workflow.EventKind{workflow.EventReopened}
			if inc.AckedAt.IsZero() {
				want = append(want, workflow.EventOverdue)
			}
			if !slices.Equal(kinds(evs), want) || evs[0].Actor != "wang" {
				t.Errorf("events: got %+v, want %v, reopened by wang", evs, want)
			}
			if c := e.store.lastChange(t); len(c.Timers) == 0 || c.NextDue.IsZero() {
				t.Errorf("reopened change: got timers %v next due %v, want the deadlines planned again", timerIDs(c.Timers), c.NextDue)
			}
		})
	}
}

func TestCommandsOnResolvedIncident(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryHype})
	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "draft"))
	must(t)(e.svc.Resolve(t.Context(), "chen", inc.ID, "done", false))
	ctx := t.Context()
	tests := []struct {
		name string
		run  func() error
	}{
		{"assign", func() error { _, _, err := e.svc.Assign(ctx, "chen", inc.ID, "li"); return err }},
		{"assign department", func() error { _, _, err := e.svc.Assign(ctx, "chen", inc.ID, "logistics"); return err }},
		{"ack", func() error { _, _, err := e.svc.Ack(ctx, "chen", inc.ID); return err }},
		{"take", func() error { _, _, err := e.svc.Take(ctx, "li", inc.ID); return err }},
		{"level", func() error {
			_, _, err := e.svc.SetLevel(ctx, "chen", inc.ID, workflow.LevelChange{Level: workflow.LevelMajor, Reason: "as assessed"})
			return err
		}},
		{"update", func() error { _, _, err := e.svc.Update(ctx, "chen", inc.ID, "more", workflow.Figures{}); return err }},
		{"draft", func() error { _, _, err := e.svc.SubmitDraft(ctx, "chen", inc.ID, "new draft"); return err }},
		{"approve", func() error { _, _, err := e.svc.Approve(ctx, "wang", inc.ID, 0, ""); return err }},
		{"reject", func() error { _, _, err := e.svc.Reject(ctx, "wang", inc.ID, 0, "no"); return err }},
		{"publish", func() error { _, _, err := e.svc.Publish(ctx, "sun", inc.ID); return err }},
		{"refer", func() error { _, _, err := e.svc.Refer(ctx, "wang", inc.ID, "still hyped"); return err }},
		{"resolve", func() error { _, _, err := e.svc.Resolve(ctx, "chen", inc.ID, "again", false); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			err := tt.run()
			wantCode(t, err, workflow.CodeConflict)
			if workflow.ErrorText(err) == nil {
				t.Errorf("error %v: got no person-facing text, want one", err)
			}
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestRefusedChangesNothing(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	ctx := t.Context()
	tests := []struct {
		name string
		run  func() error
		want workflow.Code
	}{
		{"unknown incident", func() error { _, _, err := e.svc.Ack(ctx, "chen", "YQ-99"); return err }, workflow.CodeNotFound},
		{"unknown incident by number", func() error { _, _, err := e.svc.Update(ctx, "chen", "99", "x", workflow.Figures{}); return err }, workflow.CodeNotFound},
		{"empty id", func() error { _, _, err := e.svc.Resolve(ctx, "chen", "", "x", false); return err }, workflow.CodeNotFound},
		{"assign by someone not in roster", func() error { _, _, err := e.svc.Assign(ctx, "mallory", inc.ID, "li"); return err }, workflow.CodeForbidden},
		{"ack by someone not in roster", func() error { _, _, err := e.svc.Ack(ctx, "", inc.ID); return err }, workflow.CodeForbidden},
		{"take by someone not in roster", func() error { _, _, err := e.svc.Take(ctx, "mallory", inc.ID); return err }, workflow.CodeForbidden},
		{"update by someone not in roster", func() error { _, _, err := e.svc.Update(ctx, "mallory", inc.ID, "x", workflow.Figures{}); return err }, workflow.CodeForbidden},
		{"draft by someone not in roster", func() error { _, _, err := e.svc.SubmitDraft(ctx, "mallory", inc.ID, "x"); return err }, workflow.CodeForbidden},
		{"resolve by someone not in roster", func() error { _, _, err := e.svc.Resolve(ctx, "mallory", inc.ID, "x", false); return err }, workflow.CodeForbidden},
		{"reopen by someone not in roster", func() error { _, _, err := e.svc.Reopen(ctx, "mallory", inc.ID, "reopened"); return err }, workflow.CodeForbidden},
		{"assign to nobody", func() error { _, _, err := e.svc.Assign(ctx, "chen", inc.ID, ""); return err }, workflow.CodeInvalid},
		{"empty update", func() error { _, _, err := e.svc.Update(ctx, "chen", inc.ID, "  ", workflow.Figures{}); return err }, workflow.CodeInvalid},
		{"update too long", func() error {
			_, _, err := e.svc.Update(ctx, "chen", inc.ID, strings.Repeat("x", workflow.MaxText+1), workflow.Figures{})
			return err
		}, workflow.CodeInvalid},
		{"empty summary", func() error { _, _, err := e.svc.Resolve(ctx, "chen", inc.ID, "", false); return err }, workflow.CodeInvalid},
		{"refer without reason", func() error { _, _, err := e.svc.Refer(ctx, "wang", inc.ID, ""); return err }, workflow.CodeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			err := tt.run()
			wantCode(t, err, tt.want)
			if workflow.ErrorText(err) == nil {
				t.Errorf("error %v: got no person-facing text, want one", err)
			}
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
}

func TestNormalizeID(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"canonical", "YQ-7", "YQ-7"},
		{"lower case", "yq-7", "YQ-7"},
		{"number only", "7", "YQ-7"},
		{"spaces", "  yq-1042 ", "YQ-1042"},
		{"number with spaces", " 42\t", "YQ-42"},
		{"empty", "", ""},
		{"blank", "   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workflow.NormalizeID(tt.in); got != tt.want {
				t.Errorf("NormalizeID(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCommandsAcceptLooseIDs(t *testing.T) {
	e := newEnv(t)
	mustOpen(t, e, "chen", workflow.OpenInput{})
	for _, id := range []string{"1", "yq-1", " YQ-1 "} {
		t.Run(id, func(t *testing.T) {
			inc, err := e.svc.Get(t.Context(), "chen", id)
			if err != nil || inc.ID != "YQ-1" {
				t.Errorf("Get(%q): got %v, %v, want YQ-1", id, inc, err)
			}
		})
	}
	inc := must(t)(e.svc.Update(t.Context(), "chen", "yq-1", "report", workflow.Figures{}))
	if inc.ID != "YQ-1" || inc.Updates != 1 {
		t.Errorf("Update(yq-1): got %s with %d updates, want YQ-1 with 1", inc.ID, inc.Updates)
	}
}

func TestGetTimelineList(t *testing.T) {
	e := newEnv(t)
	a := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: t0.Add(-time.Hour)})     // li
	b := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: t0.Add(-3 * time.Hour)}) // zhou
	c := mustOpen(t, e, "chen", workflow.OpenInput{})                                                                    // chen
	must(t)(e.svc.Ack(t.Context(), "li", a.ID))
	must(t)(e.svc.Resolve(t.Context(), "chen", c.ID, "done", false))

	if _, err := e.svc.Get(t.Context(), "mallory", a.ID); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("Get by someone not in roster: got %v, want forbidden", err)
	}
	if _, err := e.svc.Get(t.Context(), "chen", "YQ-9"); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("Get unknown: got %v, want not_found", err)
	}
	_, evs, err := e.svc.History(t.Context(), "wang", "1")
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	wantKinds := []workflow.EventKind{workflow.EventOpened, workflow.EventAssigned, workflow.EventAcknowledged}
	if !slices.Equal(kinds(evs), wantKinds) {
		t.Errorf("timeline kinds: got %v, want %v", kinds(evs), wantKinds)
	}
	var ids []string
	for _, ev := range evs {
		ids = append(ids, ev.ID)
	}
	if want := []string{"YQ-1#1.1", "YQ-1#1.2", "YQ-1#2.1"}; !slices.Equal(ids, want) {
		t.Errorf("timeline ids: got %v, want %v", ids, want)
	}
	if _, _, err := e.svc.History(t.Context(), "wang", "YQ-9"); workflow.ErrorCode(err) != workflow.CodeNotFound {
		t.Errorf("History of an unknown incident: got %v, want not_found", err)
	}

	// b's assign deadline (found 3h ago, 2h to take it on) has passed; a's was met.
	e.clock.Advance(time.Minute)
	tests := []struct {
		name   string
		actor  string
		filter workflow.ListFilter
		want   []string
	}{
		{"default is open, by discovery", "wang", "", []string{b.ID, a.ID}},
		{"open", "wang", workflow.ListOpen, []string{b.ID, a.ID}},
		{"overdue", "wang", workflow.ListOverdue, []string{b.ID}},
		{"mine", "zhou", workflow.ListMine, []string{b.ID}},
		{"mine, nothing", "sun", workflow.ListMine, nil},
		{"resolved this month", "sun", workflow.ListResolved, []string{c.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			incs, err := e.svc.List(t.Context(), tt.actor, tt.filter)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var got []string
			for _, inc := range incs {
				got = append(got, inc.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q): got %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
	if _, err := e.svc.List(t.Context(), "wang", "closed"); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("List(closed): got %v, want invalid", err)
	}
	if _, err := e.svc.List(t.Context(), "mallory", ""); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("List by someone not in roster: got %v, want forbidden", err)
	}
}

func TestNilClock(t *testing.T) {
	store := newFakeStore(workflow.SystemClock{})
	svc := workflow.NewService(store, mustRoster(t), nil)
	if _, ok := svc.Clock().(workflow.SystemClock); !ok {
		t.Errorf("clock: got %T, want workflow.SystemClock", svc.Clock())
	}
	inc, _, err := svc.Open(t.Context(), "chen", workflow.OpenInput{Title: "x"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if inc.ID != "YQ-1" {
		t.Errorf("first incident: got %s, want YQ-1", inc.ID)
	}
	if svc.Roster().Location().String() != "Asia/Shanghai" || svc.Policy().For(workflow.LevelMajor).Approvals != 2 {
		t.Errorf("Roster, Policy: got %v and %+v, want the roster's", svc.Roster(), svc.Policy())
	}
}

func TestRetryOnConflict(t *testing.T) {
	for _, n := range []int{1, 3, 10} {
		t.Run(fmt.Sprintf("%d conflicts", n), func(t *testing.T) {
			e := newEnv(t)
			inc := mustOpen(t, e, "chen", workflow.OpenInput{})
			gets, applies := e.store.gets, e.store.applies
			e.store.conflicts = n
			inc, evs, err := e.svc.Update(t.Context(), "chen", inc.ID, "report", workflow.Figures{})
			if err != nil {
				t.Fatalf("Update after %d conflicts: %v", n, err)
			}
			if got := e.store.gets - gets; got != n+1 {
				t.Errorf("reads: got %d, want %d (one per attempt)", got, n+1)
			}
			if got := e.store.applies - applies; got != n+1 {
				t.Errorf("writes: got %d, want %d", got, n+1)
			}
			if inc.Version != 2 || len(evs) != 1 || evs[0].ID != "YQ-1#2.1" {
				t.Errorf("result: got v%d events %+v, want v2 with YQ-1#2.1", inc.Version, evs)
			}
			if got := e.store.snapshot(inc.ID); got.version != 2 || got.events != 3 {
				t.Errorf("stored: got %+v, want version 2 with 3 events", got)
			}
		})
	}
}

func TestRetryRereadsAfterAnotherWriter(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "text"))
	// Between our read and our write, another replica records zhao's approval.
	e.store.beforeApply = func(s *fakeStore) {
		other := s.incidents[inc.ID].Clone()
		other.Version++
		d := other.CurrentDraft()
		d.Approvals = append(d.Approvals, workflow.Approval{By: "zhao", At: t0})
		s.incidents[inc.ID] = other
		s.events[inc.ID] = append(s.events[inc.ID], workflow.Event{ID: "YQ-1#3.1", Kind: workflow.EventApproved, Actor: "zhao"})
	}
	inc, evs, err := e.svc.Approve(t.Context(), "wang", inc.ID, 0, "")
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if inc.Version != 4 || len(inc.CurrentDraft().Approvals) != 2 {
		t.Errorf("result: got v%d with %d approvals, want v4 with zhao's and wang's", inc.Version, len(inc.CurrentDraft().Approvals))
	}
	// Quorum is computed on the re-read draft: wang's approval completes it.
	if got, want := kinds(evs), []workflow.EventKind{workflow.EventApproved, workflow.EventQuorum}; !slices.Equal(got, want) {
		t.Errorf("events: got %v, want %v", got, want)
	}
	if evs[0].ID != "YQ-1#4.1" {
		t.Errorf("event id: got %s, want YQ-1#4.1", evs[0].ID)
	}
}

func TestRetryGivesUp(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	e.store.conflicts = 1 << 30
	before := e.store.snapshot(inc.ID)
	applies := e.store.applies
	_, _, err := e.svc.Update(t.Context(), "chen", inc.ID, "report", workflow.Figures{})
	if !errors.Is(err, workflow.ErrConflict) {
		t.Fatalf("error: got %v, want ErrConflict", err)
	}
	if got := e.store.applies - applies; got < 2 {
		t.Errorf("writes: got %d, want several retries", got)
	}
	wantUnchanged(t, e.store, inc.ID, before)
}

// cancellingStore cancels the request's context when it refuses a write, as
// when the person gives up while replicas fight over the incident.
type cancellingStore struct {
	*fakeStore
	cancel context.CancelFunc
}

func (s cancellingStore) Apply(ctx context.Context, c workflow.Change) error {
	s.cancel()
	return workflow.ErrConflict
}

func TestRetryStopsWhenCancelled(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	svc := workflow.NewService(cancellingStore{fakeStore: e.store, cancel: cancel}, e.roster, e.clock)
	before := e.store.snapshot(inc.ID)
	_, _, err := svc.Update(ctx, "chen", inc.ID, "report", workflow.Figures{})
	wantCode(t, err, workflow.CodeUnavailable)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error: got %v, want it to wrap context.Canceled", err)
	}
	wantUnchanged(t, e.store, inc.ID, before)
}

func timerIDs(ts []workflow.Timer) []string {
	out := make([]string, len(ts))
	for i, tm := range ts {
		out[i] = tm.ID
	}
	return out
}

// TestInvisibleCharactersAreRefused: a NUL (which made Telegram refuse the
// notice and hold its chat back for 93 s), other control characters and
// bidi overrides are refused at input with a message, and nothing changes.
func TestInvisibleCharactersAreRefused(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	for _, text := range []string{"nul\x00byte", "bell\x07", "esc\x1b[31m", "c1\u0085mid", "del\x7f",
		"rlo \u202etxt.exe", "isolate \u2066x\u2069", "bad \xff utf8", "rlm \u200fmark", "alm \u061cmark",
		"tag \U000E0041\U000E007F", "line\u2028sep"} {
		before := e.store.snapshot(inc.ID)
		if _, _, err := e.svc.Update(t.Context(), "chen", inc.ID, text, workflow.Figures{}); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Fatalf("Update(%q): got %v, want invalid", text, err)
		}
		wantUnchanged(t, e.store, inc.ID, before)
		if _, _, err := e.svc.Open(t.Context(), "chen", workflow.OpenInput{Title: text}); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("Open(%q): got %v, want invalid", text, err)
		}
	}
	// Newlines, tabs, CRLF (kept as LF), Chinese and emoji are text.
	inc = must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "第一行\r\n\tsecond 🔥 👨\u200d👩\u200d👧 \uFFFD", workflow.Figures{}))
	_, evs, _ := e.svc.History(t.Context(), "chen", inc.ID)
	if got := evs[len(evs)-1].Text; got != "第一行\n\tsecond 🔥 👨\u200d👩\u200d👧 \uFFFD" {
		t.Errorf("update text: got %q", got)
	}
}

// TestSameTextFromAnotherWhenTheDraftIsStuck: the only principal's own
// major draft can never be approved, and the warning says to have someone
// else submit it; that person may submit the very same text, which the
// principal can then approve. The same text from anyone else, when the
// version can be approved, is still refused as changing nothing.
func TestSameTextFromAnotherWhenTheDraftIsStuck(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	const text = "We have inspected the canteen."
	must(t)(e.svc.SubmitDraft(t.Context(), "wang", inc.ID, text))
	if e.roster.DraftApprovers(workflow.LevelMajor, "wang").Reachable() {
		t.Fatal("the test roster must make wang's major draft unapprovable (the only principal)")
	}
	inc = must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, text))
	if d := inc.CurrentDraft(); d.Version != 2 || d.Author != "chen" || d.Text != text {
		t.Fatalf("current draft: got v%d by %s, want v2 by chen with the same text", d.Version, d.Author)
	}
	must(t)(e.svc.Approve(t.Context(), "wang", inc.ID, 2, ""))

	before := e.store.snapshot(inc.ID)
	_, _, err := e.svc.SubmitDraft(t.Context(), "li", inc.ID, text)
	wantCode(t, err, workflow.CodeConflict)
	wantUnchanged(t, e.store, inc.ID, before)
}
