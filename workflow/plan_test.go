package workflow_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// fmtTimers renders timers as "ID at HH:MM" (day of March when not the 1st),
// in the given timezone.
func fmtTimers(ts []workflow.Timer, loc *time.Location) []string {
	out := make([]string, len(ts))
	for i, tm := range ts {
		out[i] = fmt.Sprintf("%s %s", tm.ID, tm.Due.In(loc).Format("01-02 15:04"))
	}
	return out
}

func TestPlan(t *testing.T) {
	loc := mustLocation(t, "Asia/Shanghai")
	at := func(day, hour, minute int) time.Time { return time.Date(2024, 3, day, hour, minute, 0, 0, loc) }
	fired := func(name string, due time.Time) string { return fmt.Sprintf("%s@%d", name, due.UnixMilli()) }
	p := workflow.DefaultPolicy()
	tests := []struct {
		name string
		inc  workflow.Incident
		want []string
	}{
		{name: "general other found at opening",
			inc: workflow.Incident{ID: "YQ-1", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
				Status: workflow.StatusAssigned, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0)},
			want: []string{
				"YQ-1:assign:half 03-01 11:00", "YQ-1:assign:warn 03-01 11:45", "YQ-1:assign:due 03-01 12:00",
				"YQ-1:answer:half 03-01 22:00", "YQ-1:answer:warn 03-02 09:45", "YQ-1:answer:due 03-02 10:00",
				"YQ-1:update:1 03-02 10:00",
			}},
		{name: "found before opening: deadlines count from discovery, an unfired past warning is kept",
			inc: workflow.Incident{ID: "YQ-2", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
				Status: workflow.StatusAssigned, FoundAt: at(1, 8, 30), OpenedAt: at(1, 10, 0)},
			want: []string{
				"YQ-2:assign:half 03-01 09:30", "YQ-2:assign:warn 03-01 10:15", "YQ-2:assign:due 03-01 10:30",
				"YQ-2:answer:half 03-01 20:30", "YQ-2:answer:warn 03-02 08:15", "YQ-2:answer:due 03-02 08:30",
				"YQ-2:update:1 03-02 10:00",
			}},
		{name: "fired timers are left out",
			inc: workflow.Incident{ID: "YQ-3", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
				Status: workflow.StatusAssigned, FoundAt: at(1, 9, 0), OpenedAt: at(1, 9, 0),
				Fired: []string{fired("assign:half", at(1, 10, 0)), fired("assign:warn", at(1, 10, 45))}},
			want: []string{
				"YQ-3:assign:due 03-01 11:00",
				"YQ-3:answer:half 03-01 21:00", "YQ-3:answer:warn 03-02 08:45", "YQ-3:answer:due 03-02 09:00",
				"YQ-3:update:1 03-02 09:00",
			}},
		{name: "a deadline moved by a level change is warned of again",
			inc: workflow.Incident{ID: "YQ-4", Level: workflow.LevelMajor, Category: workflow.CategoryOther,
				Status: workflow.StatusAssigned, FoundAt: at(1, 9, 0), OpenedAt: at(1, 9, 0), ReportedAt: at(1, 9, 50), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 9, 50), Principal: true}}, ReportedUpAt: at(1, 9, 50),
				// fired while general: assign due 11:00, half at 10:00
				Fired: []string{fired("assign:half", at(1, 10, 0))}},
			want: []string{
				"YQ-4:assign:half 03-01 09:15", "YQ-4:assign:due 03-01 09:30",
				"YQ-4:respond:half 03-01 10:30", "YQ-4:respond:warn 03-01 11:45", "YQ-4:respond:due 03-01 12:00",
				"YQ-4:update:1 03-01 11:00",
			}},
		{name: "general inquiry: same-day reply",
			inc: workflow.Incident{ID: "YQ-5", Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 14, 0), OpenedAt: at(1, 14, 0), AckedAt: at(1, 14, 5)},
			want: []string{
				"YQ-5:respond:half 03-01 19:00", "YQ-5:respond:warn 03-01 23:45", "YQ-5:respond:due 03-02 00:00",
				"YQ-5:answer:half 03-02 02:00", "YQ-5:answer:warn 03-02 13:45", "YQ-5:answer:due 03-02 14:00",
				"YQ-5:update:1 03-02 14:00",
			}},
		{name: "general inquiry found after hours on a Friday: the reply's clock runs on Monday morning",
			inc: workflow.Incident{ID: "YQ-10", Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 20, 0), OpenedAt: at(1, 20, 0), AckedAt: at(1, 20, 5)},
			want: []string{
				"YQ-10:answer:half 03-02 08:00", "YQ-10:answer:warn 03-02 19:45", "YQ-10:answer:due 03-02 20:00",
				"YQ-10:respond:half 03-04 10:15", "YQ-10:respond:warn 03-04 11:45", "YQ-10:respond:due 03-04 12:00",
				"YQ-10:update:1 03-02 20:00",
			}},
		{name: "critical: the report is met at opening, a 15-minute span has no last warning",
			inc: workflow.Incident{ID: "YQ-6", Level: workflow.LevelCritical, Category: workflow.CategoryRumor,
				Status: workflow.StatusAssigned, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), ReportedAt: at(1, 10, 0), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 10, 0), Principal: true}}, ReportedUpAt: at(1, 10, 0)},
			want: []string{
				"YQ-6:assign:half 03-01 10:07", "YQ-6:assign:due 03-01 10:15",
				"YQ-6:respond:half 03-01 11:30", "YQ-6:respond:warn 03-01 12:45", "YQ-6:respond:due 03-01 13:00",
				"YQ-6:update:1 03-01 11:00",
			}},
		{name: "major, acknowledged and published: only the follow-up after the last report",
			inc: workflow.Incident{ID: "YQ-7", ReportedAt: at(1, 10, 0), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 10, 0), Principal: true}}, ReportedUpAt: at(1, 10, 0), Level: workflow.LevelMajor, Category: workflow.CategoryHype,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 10),
				Statements: []workflow.Statement{{At: at(1, 12, 0)}}, Updates: 2, LastUpdateAt: at(1, 13, 0)},
			want: []string{"YQ-7:update:3 03-01 15:00"},
		},
		{name: "a fired follow-up reminder repeats every cadence, numbered on, until a report is filed",
			inc: workflow.Incident{ID: "YQ-8", ReportedAt: at(1, 10, 0), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 10, 0), Principal: true}}, ReportedUpAt: at(1, 10, 0), Level: workflow.LevelMajor, Category: workflow.CategoryHype,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 10),
				Statements: []workflow.Statement{{At: at(1, 12, 0)}},
				Fired:      []string{fired("update:1", at(1, 12, 0)), fired("update:2", at(1, 14, 0))}},
			want: []string{"YQ-8:update:3 03-01 16:00"},
		},
		{name: "a draft waiting for approval gets a nudge",
			inc: workflow.Incident{ID: "YQ-9", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 0),
				ResolvedAt: time.Time{}, Drafts: []workflow.Draft{{Version: 1, Text: "a", At: at(1, 10, 30)},
					{Version: 2, Text: "b", At: at(1, 11, 0)}}},
			want: []string{
				"YQ-9:answer:half 03-01 22:00", "YQ-9:answer:warn 03-02 09:45", "YQ-9:answer:due 03-02 10:00",
				"YQ-9:update:1 03-02 10:00", "YQ-9:nudge:2 03-01 12:00",
			}},
		{name: "an approved draft needs no nudge",
			inc: workflow.Incident{ID: "YQ-10", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 0),
				Drafts: []workflow.Draft{{Version: 1, Text: "a", At: at(1, 10, 30), Approvals: []workflow.Approval{{By: "zhao"}}}}},
			want: []string{
				"YQ-10:answer:half 03-01 22:00", "YQ-10:answer:warn 03-02 09:45", "YQ-10:answer:due 03-02 10:00",
				"YQ-10:update:1 03-02 10:00",
			}},
		{name: "a major draft with one approval still waits",
			inc: workflow.Incident{ID: "YQ-11", ReportedAt: at(1, 10, 0), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 10, 0), Principal: true}}, ReportedUpAt: at(1, 10, 0), Level: workflow.LevelMajor, Category: workflow.CategoryOther,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 0),
				Statements: []workflow.Statement{{At: at(1, 11, 0)}},
				Drafts: []workflow.Draft{{Version: 1, Published: true, At: at(1, 10, 30)},
					{Version: 2, Text: "b", At: at(1, 12, 0), Approvals: []workflow.Approval{{By: "wang", Principal: true}}}}},
			want: []string{"YQ-11:update:1 03-01 12:00", "YQ-11:nudge:2 03-01 12:30"},
		},
		{name: "a rejected draft needs no nudge",
			inc: workflow.Incident{ID: "YQ-12", ReportedAt: at(1, 10, 0), Receipts: []workflow.Receipt{{By: "wang", At: at(1, 10, 0), Principal: true}}, ReportedUpAt: at(1, 10, 0), Level: workflow.LevelMajor, Category: workflow.CategoryOther,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 0),
				Statements: []workflow.Statement{{At: at(1, 11, 0)}},
				Drafts:     []workflow.Draft{{Version: 1, At: at(1, 10, 30), Rejection: &workflow.Approval{By: "wang"}}}},
			want: []string{"YQ-12:update:1 03-01 12:00"},
		},
		{name: "major not yet reported to the leaders: the report deadline is planned",
			inc: workflow.Incident{ID: "YQ-14", Level: workflow.LevelMajor, Category: workflow.CategoryHype,
				Status: workflow.StatusAcknowledged, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), AckedAt: at(1, 10, 10),
				Statements: []workflow.Statement{{At: at(1, 12, 0)}}},
			want: []string{"YQ-14:report:half 03-01 10:15", "YQ-14:report:due 03-01 10:30",
				"YQ-14:authority:half 03-01 10:30", "YQ-14:authority:warn 03-01 10:45", "YQ-14:authority:due 03-01 11:00",
				"YQ-14:update:1 03-01 12:00"},
		},
		{name: "resolved needs none",
			inc: workflow.Incident{ID: "YQ-13", Level: workflow.LevelCritical, Category: workflow.CategoryOther,
				Status: workflow.StatusResolved, FoundAt: at(1, 10, 0), OpenedAt: at(1, 10, 0), ResolvedAt: at(1, 10, 5),
				Drafts: []workflow.Draft{{Version: 1, At: at(1, 10, 1)}}},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timers := workflow.Plan(&tt.inc, p, workflow.Calendar{Location: loc})
			if got := fmtTimers(timers, loc); !slices.Equal(got, tt.want) {
				t.Errorf("timers:\n got %q\nwant %q", got, tt.want)
			}
			for _, tm := range timers {
				if tm.Incident != tt.inc.ID {
					t.Errorf("timer %s: got incident %q, want %q", tm.ID, tm.Incident, tt.inc.ID)
				}
			}
		})
	}
}

func TestPlanPolicyKnobs(t *testing.T) {
	inc := workflow.Incident{ID: "YQ-1", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
		Status: workflow.StatusAssigned, FoundAt: t0, OpenedAt: t0, AckedAt: t0}
	tests := []struct {
		name string
		edit func(*workflow.LevelPolicy)
		want []string
	}{
		{"defaults", func(*workflow.LevelPolicy) {}, []string{
			"YQ-1:answer:half 03-01 14:00", "YQ-1:answer:warn 03-02 01:45", "YQ-1:answer:due 03-02 02:00", "YQ-1:update:1 03-02 02:00"}},
		{"no cadence", func(lp *workflow.LevelPolicy) { lp.UpdateEvery = 0 }, []string{
			"YQ-1:answer:half 03-01 14:00", "YQ-1:answer:warn 03-02 01:45", "YQ-1:answer:due 03-02 02:00"}},
		{"no half warning", func(lp *workflow.LevelPolicy) { lp.NoHalfWarning = true }, []string{
			"YQ-1:answer:warn 03-02 01:45", "YQ-1:answer:due 03-02 02:00", "YQ-1:update:1 03-02 02:00"}},
		{"no last warning", func(lp *workflow.LevelPolicy) { lp.WarnBefore = 0 }, []string{
			"YQ-1:answer:half 03-01 14:00", "YQ-1:answer:due 03-02 02:00", "YQ-1:update:1 03-02 02:00"}},
		{"an hour's warning", func(lp *workflow.LevelPolicy) { lp.WarnBefore = time.Hour }, []string{
			"YQ-1:answer:half 03-01 14:00", "YQ-1:answer:warn 03-02 01:00", "YQ-1:answer:due 03-02 02:00", "YQ-1:update:1 03-02 02:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := workflow.DefaultPolicy()
			lp := p[workflow.LevelGeneral]
			tt.edit(&lp)
			p[workflow.LevelGeneral] = lp
			if got := fmtTimers(workflow.Plan(&inc, p, workflow.Calendar{}), time.UTC); !slices.Equal(got, tt.want) {
				t.Errorf("timers:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The timers the Service writes are exactly the plan of the new state.
func TestServiceWritesThePlan(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry, FoundAt: t0.Add(-30 * time.Minute)})
	e.clock.Advance(20 * time.Minute)
	inc = must(t)(e.svc.Ack(t.Context(), "li", inc.ID))
	c := e.store.lastChange(t)
	want := fmtTimers(workflow.Plan(inc, e.roster.Policy, e.roster.Calendar()), e.loc)
	if got := fmtTimers(c.Timers, e.loc); !slices.Equal(got, want) || len(got) == 0 {
		t.Errorf("timers written: got %q, want the plan %q", got, want)
	}
	for _, id := range timerIDs(c.Timers) {
		if strings.HasPrefix(id, "YQ-1:assign:") {
			t.Errorf("timers after ack: got %s, want no assign timers once it is met", id)
		}
	}
	if d, ok := inc.NextDue(e.roster.Policy, e.roster.Calendar()); !ok || !c.NextDue.Equal(d.Due) || d.Kind != workflow.DeadlineRespond {
		t.Errorf("Change.NextDue: got %v, want the respond deadline %v", c.NextDue, d.Due)
	}
}

func TestQuorumPolicy(t *testing.T) {
	p := workflow.DefaultPolicy()
	leader := workflow.Approval{By: "zhao"}
	leader2 := workflow.Approval{By: "qian"}
	principal := workflow.Approval{By: "wang", Principal: true}
	zero := workflow.Policy{workflow.LevelGeneral: {Approvals: 0}}
	tests := []struct {
		name   string
		policy workflow.Policy
		level  workflow.Level
		draft  *workflow.Draft
		want   bool
	}{
		{"no draft", p, workflow.LevelGeneral, nil, false},
		{"general, none", p, workflow.LevelGeneral, &workflow.Draft{}, false},
		{"general, one leader", p, workflow.LevelGeneral, &workflow.Draft{Approvals: []workflow.Approval{leader}}, true},
		{"general, rejected", p, workflow.LevelGeneral, &workflow.Draft{Approvals: []workflow.Approval{leader},
			Rejection: &workflow.Approval{By: "wang"}}, false},
		{"major, the principal alone", p, workflow.LevelMajor, &workflow.Draft{Approvals: []workflow.Approval{principal}}, false},
		{"major, two non-principals", p, workflow.LevelMajor, &workflow.Draft{Approvals: []workflow.Approval{leader, leader2}}, false},
		{"major, leader and principal", p, workflow.LevelMajor, &workflow.Draft{Approvals: []workflow.Approval{leader, principal}}, true},
		{"critical, leader and principal", p, workflow.LevelCritical, &workflow.Draft{Approvals: []workflow.Approval{principal, leader}}, true},
		{"zero approvals still needs one", zero, workflow.LevelGeneral, &workflow.Draft{}, false},
		{"zero approvals, one", zero, workflow.LevelGeneral, &workflow.Draft{Approvals: []workflow.Approval{leader}}, true},
		{"a level the policy lacks takes the default", zero, workflow.LevelMajor,
			&workflow.Draft{Approvals: []workflow.Approval{leader, leader2}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Quorum(tt.level, tt.draft); got != tt.want {
				t.Errorf("Quorum: got %v, want %v", got, tt.want)
			}
		})
	}
}

// planFigures are the figures of DESIGN.md §1 in a LevelPolicy.
type planFigures struct {
	Report, Assign, Respond, Answer, UpdateEvery time.Duration
	RespondSameDay, Principal                    bool
	Approvals                                    int
}

func figures(lp workflow.LevelPolicy) planFigures {
	return planFigures{Report: lp.Report, Assign: lp.Assign, Respond: lp.Respond, Answer: lp.Answer,
		UpdateEvery: lp.UpdateEvery, RespondSameDay: lp.RespondSameDay, Principal: lp.Principal, Approvals: lp.Approvals}
}

func TestDefaultPolicyFigures(t *testing.T) {
	p := workflow.DefaultPolicy()
	tests := []struct {
		level workflow.Level
		want  planFigures
	}{
		{workflow.LevelGeneral, planFigures{Assign: 2 * time.Hour, RespondSameDay: true, Answer: 24 * time.Hour,
			UpdateEvery: 24 * time.Hour, Approvals: 1}},
		{workflow.LevelMajor, planFigures{Report: 30 * time.Minute, Assign: 30 * time.Minute, Respond: 3 * time.Hour,
			UpdateEvery: 2 * time.Hour, Approvals: 2, Principal: true}},
		{workflow.LevelCritical, planFigures{Report: 15 * time.Minute, Assign: 15 * time.Minute, Respond: 3 * time.Hour,
			UpdateEvery: time.Hour, Approvals: 2, Principal: true}},
	}
	for _, tt := range tests {
		t.Run(string(tt.level), func(t *testing.T) {
			if got := figures(p.For(tt.level)); got != tt.want {
				t.Errorf("policy: got %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := p.For("huge"); !reflect.DeepEqual(got, workflow.LevelPolicy{}) {
		t.Errorf("For(unknown level): got %+v, want the zero policy", got)
	}
}

func TestLevelsAndCategories(t *testing.T) {
	tests := []struct {
		name  string
		level workflow.Level
		rank  int
	}{
		{"general", workflow.LevelGeneral, 1},
		{"major", workflow.LevelMajor, 2},
		{"critical", workflow.LevelCritical, 3},
		{"unknown", "huge", 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.level.Rank(); got != tt.rank {
				t.Errorf("Rank: got %d, want %d", got, tt.rank)
			}
			if got := tt.level.Valid(); got != (tt.rank > 0) {
				t.Errorf("Valid: got %v, want %v", got, tt.rank > 0)
			}
		})
	}
	for _, c := range []struct {
		category workflow.Category
		want     bool
	}{{"inquiry", true}, {"hype", true}, {"rumor", true}, {"other", true}, {"gossip", false}, {"", false}} {
		if got := c.category.Valid(); got != c.want {
			t.Errorf("Category(%q).Valid: got %v, want %v", c.category, got, c.want)
		}
	}
}

func TestParseCategory(t *testing.T) {
	tests := []struct {
		name, word string
		want       workflow.Category
	}{
		{"inquiry", "inquiry", workflow.CategoryInquiry},
		{"询问", "询问", workflow.CategoryInquiry},
		{"置疑", "置疑", workflow.CategoryInquiry},
		{"诉求", "诉求", workflow.CategoryInquiry},
		{"询问类", "询问类", workflow.CategoryInquiry},
		{"hype upper case", "HYPE", workflow.CategoryHype},
		{"炒作", "炒作", workflow.CategoryHype},
		{"恶意炒作", "恶意炒作", workflow.CategoryHype},
		{"恶意传播", " 恶意传播 ", workflow.CategoryHype},
		{"谣言", "谣言", workflow.CategoryRumor},
		{"捏造", "捏造", workflow.CategoryRumor},
		{"歪曲", "歪曲", workflow.CategoryRumor},
		{"其他", "其他", workflow.CategoryOther},
		{"unknown kept as typed", "gossip", "gossip"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workflow.ParseCategory(tt.word)
			if got != tt.want {
				t.Errorf("ParseCategory(%q): got %q, want %q", tt.word, got, tt.want)
			}
			if got.Valid() != (tt.want != "gossip" && tt.want != "") {
				t.Errorf("ParseCategory(%q).Valid: got %v", tt.word, got.Valid())
			}
		})
	}
}

func TestHashText(t *testing.T) {
	a, b := workflow.HashText("我们已关注"), workflow.HashText("我们已关注 ")
	if len(a) != 12 || a == b || a != workflow.HashText("我们已关注") {
		t.Errorf("HashText: got %q and %q, want 12 stable hex digits that tell the texts apart", a, b)
	}
}

func TestCloneIsDeep(t *testing.T) {
	inc := &workflow.Incident{ID: "YQ-1", Drafts: []workflow.Draft{{Version: 1, Approvals: []workflow.Approval{{By: "zhao"}}}},
		Statements: []workflow.Statement{{Text: "a"}}}
	c := inc.Clone()
	c.Drafts[0].Approvals[0].By = "qian"
	c.Drafts[0].Approvals = append(c.Drafts[0].Approvals, workflow.Approval{By: "wang"})
	c.Drafts[0].Text = "changed"
	c.Statements[0].Text = "b"
	if got := inc.Drafts[0]; got.Text != "" || len(got.Approvals) != 1 || got.Approvals[0].By != "zhao" || inc.Statements[0].Text != "a" {
		t.Errorf("original after changing the clone: got %+v %+v, want it untouched", got, inc.Statements)
	}
}

func TestManualClock(t *testing.T) {
	c := workflow.NewManualClock(t0)
	c.Advance(90 * time.Minute)
	if got, want := c.Now(), t0.Add(90*time.Minute); !got.Equal(want) {
		t.Errorf("after Advance: got %v, want %v", got, want)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Errorf("after Set: got %v, want %v", got, t0)
	}
}

func TestAudience(t *testing.T) {
	tests := []struct {
		name   string
		in     workflow.Audience
		person string
		ok     bool
	}{
		{"person", workflow.PersonAudience("wang"), "wang", true},
		{"channel", workflow.ChannelLeaders, "", false},
		{"empty person", "person:", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := tt.in.Person()
			if p != tt.person || ok != tt.ok {
				t.Errorf("Person(): got %q %v, want %q %v", p, ok, tt.person, tt.ok)
			}
		})
	}
}

func TestNextDueWhenEverythingIsMet(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelCritical})
	must(t)(e.svc.Ack(t.Context(), "chen", inc.ID))
	must(t)(e.svc.Receive(t.Context(), "zhao", inc.ID))
	must(t)(e.svc.ReportUp(t.Context(), "chen", inc.ID, "phoned the county office"))
	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "The facts."))
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
	must(t)(e.svc.Approve(t.Context(), "wang", inc.ID, 0, ""))
	inc = must(t)(e.svc.Publish(t.Context(), "sun", inc.ID))
	if d, ok := inc.NextDue(e.roster.Policy, e.roster.Calendar()); ok {
		t.Errorf("NextDue: got %+v, want none: report, assign, authority and respond are met and critical has no answer deadline", d)
	}
	if c := e.store.lastChange(t); !c.NextDue.IsZero() {
		t.Errorf("Change.NextDue: got %v, want zero", c.NextDue)
	}
	if inc.Overdue(e.roster.Policy, e.roster.Calendar(), t0.Add(48*time.Hour)) {
		t.Errorf("Overdue two days later: got true, want false")
	}
	if got := timerIDs(e.store.lastChange(t).Timers); !slices.Equal(got, []string{"YQ-1:update:1"}) {
		t.Errorf("timers: got %v, want only the follow-up reminder", got)
	}
}

func TestDeadlinesWithoutLocationUseUTC(t *testing.T) {
	inc := workflow.Incident{Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry,
		FoundAt: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	for _, d := range inc.Deadlines(workflow.DefaultPolicy(), workflow.Calendar{}) {
		if d.Kind == workflow.DeadlineRespond && !d.Due.Equal(time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("respond: got %v, want midnight UTC", d.Due)
		}
	}
}

// TestTimerNames: timer IDs are stored (Redis, Incident.Fired), so their form
// is fixed; a name reads back as it was written, and what is not a timer
// name of the incident is refused.
func TestTimerNames(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want workflow.TimerName
	}{
		{"deadline", "YQ-7:respond:due", workflow.TimerName{Incident: "YQ-7", Kind: workflow.DeadlineTimer(workflow.DeadlineRespond, workflow.PhaseDue)}},
		{"half-time warning", "YQ-7:assign:half", workflow.TimerName{Incident: "YQ-7", Kind: "assign:half"}},
		{"last warning", "YQ-7:report:warn", workflow.TimerName{Incident: "YQ-7", Kind: "report:warn"}},
		{"follow-up", "YQ-7:update:3", workflow.TimerName{Incident: "YQ-7", Kind: workflow.TimerUpdate, N: 3}},
		{"nudge", "YQ-7:nudge:2", workflow.TimerName{Incident: "YQ-7", Kind: workflow.TimerNudge, N: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.want.String(); got != tt.id {
				t.Errorf("String: got %q, want %q", got, tt.id)
			}
			got, err := workflow.ParseTimerName("YQ-7", tt.id)
			if err != nil || got != tt.want {
				t.Errorf("ParseTimerName(YQ-7, %q): got %+v, %v; want %+v", tt.id, got, err, tt.want)
			}
			if k := (workflow.DueTimer{ID: tt.id, Incident: "YQ-7"}).Kind(); k != tt.want.Kind {
				t.Errorf("kind: got %q, want %q", k, tt.want.Kind)
			}
		})
	}
	for _, id := range []string{
		"YQ-70:respond:due", "respond:due", "YQ-7:respond", "YQ-7:respond:soon", "YQ-7:publish:due",
		"YQ-7:update", "YQ-7:update:x", "YQ-7:update:0", "YQ-7:nudge:-1", "YQ-7:respond:due:1", "YQ-7:",
	} {
		if got, err := workflow.ParseTimerName("YQ-7", id); err == nil {
			t.Errorf("ParseTimerName(YQ-7, %q): got %+v, want an error", id, got)
		}
		if k := (workflow.DueTimer{ID: id, Incident: "YQ-7"}).Kind(); k != workflow.TimerUnknown {
			t.Errorf("kind of %q: got %q, want unknown", id, k)
		}
	}
}

// TestTimerKindLabels: the kinds are the metric labels
// (firebreak_timers_total{kind}), which dashboards rely on.
func TestTimerKindLabels(t *testing.T) {
	var got []string
	for _, d := range workflow.DeadlineKinds {
		for _, p := range []string{workflow.PhaseHalf, workflow.PhaseWarn, workflow.PhaseDue} {
			k := workflow.DeadlineTimer(d, p)
			if dk, phase, ok := k.Deadline(); !k.Known() || !ok || dk != d || phase != p {
				t.Errorf("%s: got known %v, deadline %q %q %v; want known, %s %s", k, k.Known(), dk, phase, ok, d, p)
			}
			got = append(got, string(k))
		}
	}
	for _, k := range []workflow.TimerKind{workflow.TimerUpdate, workflow.TimerNudge} {
		if _, _, ok := k.Deadline(); !k.Known() || ok {
			t.Errorf("%s: got known %v, deadline %v; want known, no deadline", k, k.Known(), ok)
		}
		got = append(got, string(k))
	}
	want := []string{
		"report:half", "report:warn", "report:due", "assign:half", "assign:warn", "assign:due",
		"authority:half", "authority:warn", "authority:due", "respond:half", "respond:warn", "respond:due", "answer:half", "answer:warn", "answer:due", "update", "nudge",
	}
	if !slices.Equal(got, want) {
		t.Errorf("labels:\n got %q\nwant %q", got, want)
	}
	if workflow.TimerUnknown.Known() {
		t.Error("unknown: got known, want not")
	}
}

func TestLevelAndCategoryText(t *testing.T) {
	tests := []struct {
		name string
		got  workflow.Text
		want workflow.Text
	}{
		{"general", workflow.LevelGeneral.Text(), workflow.Text{EN: "general", ZH: "一般"}},
		{"major", workflow.LevelMajor.Text(), workflow.Text{EN: "major", ZH: "重大"}},
		{"critical", workflow.LevelCritical.Text(), workflow.Text{EN: "critical", ZH: "特别重大"}},
		{"unknown level", workflow.Level("huge").Text(), workflow.Text{EN: "huge", ZH: "huge"}},
		{"inquiry", workflow.CategoryInquiry.Text(), workflow.Text{EN: "inquiry", ZH: "询问、置疑、诉求类"}},
		{"hype", workflow.CategoryHype.Text(), workflow.Text{EN: "hype", ZH: "恶意传播、炒作类"}},
		{"rumor", workflow.CategoryRumor.Text(), workflow.Text{EN: "rumor", ZH: "捏造、歪曲、谣言类"}},
		{"other", workflow.CategoryOther.Text(), workflow.Text{EN: "other", ZH: "其他类"}},
		{"unknown category", workflow.Category("gossip").Text(), workflow.Text{EN: "gossip", ZH: "gossip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}
