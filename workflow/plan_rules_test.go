package workflow_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// withAuthority gives the roster the higher authority's channel.
func withAuthority(r *workflow.Roster) {
	r.Channels[workflow.ChannelAuthority] = workflow.ChannelRef{"slack": "C0AUTH"}
}

func figs(tb testing.TB, words ...string) workflow.Figures {
	tb.Helper()
	f, n, err := workflow.ParseFigures(words)
	if err != nil || n != len(words) {
		tb.Fatalf("ParseFigures(%q): took %d, %v", words, n, err)
	}
	return f
}

func TestReceiveMeetsTheReportDeadline(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	if d := e.svc.Deadlines(inc)[0]; d.Kind != workflow.DeadlineReport || d.Met() {
		t.Fatalf("report deadline after opening: got %+v, want unmet: posting is not receiving", d)
	}

	refused := []struct {
		name, actor string
		want        workflow.Code
	}{
		{"staff", "chen", workflow.CodeForbidden},
		{"spokesperson", "sun", workflow.CodeForbidden},
	}
	for _, tt := range refused {
		before := e.store.snapshot(inc.ID)
		_, _, err := e.svc.Receive(t.Context(), tt.actor, inc.ID)
		wantCode(t, err, tt.want)
		wantUnchanged(t, e.store, inc.ID, before)
	}

	e.clock.Advance(3 * time.Minute)
	inc, evs, err := e.svc.Receive(t.Context(), "zhao", inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := e.svc.Deadlines(inc)[0]; !d.MetAt.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("report deadline: got %+v, want met at the leader's receipt", d)
	}
	if len(evs) != 1 || evs[0].Kind != workflow.EventReceived || evs[0].Data.Principal {
		t.Errorf("events: got %+v, want one receipt by a leader who is not principal", evs)
	}
	if inc.DoubleReported(e.roster) {
		t.Errorf("double report complete after one leader; want the principal too")
	}
	wantTold(t, told(t, e), "incidents event - report_received", "incidents refresh YQ-1", "leaders refresh YQ-1:report")

	before := e.store.snapshot(inc.ID)
	_, _, err = e.svc.Receive(t.Context(), "zhao", inc.ID)
	wantCode(t, err, workflow.CodeConflict)
	wantUnchanged(t, e.store, inc.ID, before)

	e.clock.Advance(time.Minute)
	inc = must(t)(e.svc.Receive(t.Context(), "wang", inc.ID))
	if !inc.DoubleReported(e.roster) || !inc.Receipts[1].Principal {
		t.Errorf("after the principal: got receipts %+v, want the double report complete", inc.Receipts)
	}
	if d := e.svc.Deadlines(inc)[0]; !d.MetAt.Equal(t0.Add(3 * time.Minute)) {
		t.Errorf("report deadline: got met %v, want the first receipt", d.MetAt)
	}

	// Raised to critical: a new report, to be acknowledged again.
	inc = must(t)(e.svc.SetLevel(t.Context(), "chen", inc.ID, workflow.LevelChange{Level: workflow.LevelCritical}))
	if len(inc.Receipts) != 0 || e.svc.Deadlines(inc)[0].Met() {
		t.Errorf("after raising: got receipts %+v, want none: the new report waits", inc.Receipts)
	}
}

func TestReceiveAGeneralIncident(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	before := e.store.snapshot(inc.ID)
	_, _, err := e.svc.Receive(t.Context(), "wang", inc.ID)
	wantCode(t, err, workflow.CodeConflict)
	wantUnchanged(t, e.store, inc.ID, before)
}

func TestReportUp(t *testing.T) {
	e := newEnv(t, withAuthority)
	gen := mustOpen(t, e, "chen", workflow.OpenInput{})
	before := e.store.snapshot(gen.ID)
	_, _, err := e.svc.ReportUp(t.Context(), "chen", gen.ID, "")
	wantCode(t, err, workflow.CodeConflict) // general: reported up when escalated
	wantUnchanged(t, e.store, gen.ID, before)

	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelCritical})
	ds := e.svc.Deadlines(inc)
	i := slices.IndexFunc(ds, func(d workflow.Deadline) bool { return d.Kind == workflow.DeadlineAuthority })
	if i < 0 || !ds[i].Due.Equal(t0.Add(30*time.Minute)) || ds[i].Met() {
		t.Fatalf("deadlines: got %+v, want report to higher authority due 30m after discovery", ds)
	}
	e.clock.Advance(10 * time.Minute)
	inc, evs, err := e.svc.ReportUp(t.Context(), "chen", inc.ID, "phoned the county office")
	if err != nil {
		t.Fatal(err)
	}
	if !inc.ReportedUpAt.Equal(t0.Add(10*time.Minute)) || len(evs) != 1 || evs[0].Kind != workflow.EventReportedUp || evs[0].Data.Auto {
		t.Errorf("got reported up %v, events %+v; want now, by a person", inc.ReportedUpAt, evs)
	}
	wantTold(t, told(t, e), "incidents event - reported_up", "authority report YQ-2:authority reported_up")

	before = e.store.snapshot(inc.ID)
	_, _, err = e.svc.ReportUp(t.Context(), "wang", inc.ID, "")
	wantCode(t, err, workflow.CodeConflict)
	wantUnchanged(t, e.store, inc.ID, before)

	// Follow-up reports of a major incident go to the leaders and, once it
	// was reported up, to the authority.
	must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "the video was taken down", workflow.Figures{}))
	wantTold(t, told(t, e), "incidents event - updated", "leaders event - updated", "authority event YQ-2:authority updated")

	// Raised after it was reported up, the authority hears of the raise
	// (it only ever heard of a major incident).
	major := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	must(t)(e.svc.ReportUp(t.Context(), "chen", major.ID, "phoned"))
	e.clock.Advance(time.Minute)
	must(t)(e.svc.SetLevel(t.Context(), "wang", major.ID, workflow.LevelChange{Level: workflow.LevelCritical}))
	wantTold(t, told(t, e), "authority event "+major.ID+":authority level_changed")
}

func TestReportUpAutomatically(t *testing.T) {
	e := newEnv(t, withAuthority, func(r *workflow.Roster) {
		lp := workflow.DefaultPolicy()[workflow.LevelMajor]
		lp.ReportUpAuto = true
		r.Policy = workflow.Policy{workflow.LevelMajor: lp}
		r.Spreading.Heat = 90
	})
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	if !inc.ReportedUpAt.Equal(t0) {
		t.Errorf("reported up: got %v, want at opening", inc.ReportedUpAt)
	}
	wantTold(t, told(t, e), "leaders report YQ-1:report opened", "authority report YQ-1:authority reported_up")

	// A general incident escalated by spreading is reported up with the
	// escalation.
	gen := mustOpen(t, e, "chen", workflow.OpenInput{})
	gen = must(t)(e.svc.Spread(t.Context(), "chen", gen.ID, "three parents' groups"))
	if gen.Level != workflow.LevelMajor || gen.ReportedUpAt.IsZero() {
		t.Errorf("escalated: got %s reported up %v, want major and reported up", gen.Level, gen.ReportedUpAt)
	}
	wantTold(t, told(t, e), "authority report YQ-2:authority reported_up", "leaders report YQ-2:report escalated")

	// Escalated by the figures of a follow-up report: the authority gets
	// the REPORT, which carries them, and not the follow-up line before it
	// as if it had the incident already.
	hot := mustOpen(t, e, "chen", workflow.OpenInput{})
	heat, _, err := workflow.ParseFigures([]string{"heat:95"})
	if err != nil {
		t.Fatal(err)
	}
	hot = must(t)(e.svc.Update(t.Context(), "chen", hot.ID, "reposted by a news account", heat))
	if hot.Level != workflow.LevelMajor || hot.ReportedUpAt.IsZero() {
		t.Fatalf("escalated by figures: got %s reported up %v, want major and reported up", hot.Level, hot.ReportedUpAt)
	}
	got := told(t, e)
	wantTold(t, got, "authority report YQ-3:authority reported_up")
	wantNotTold(t, got, "authority event")
}

func TestParseFigures(t *testing.T) {
	tests := []struct {
		words   []string
		posts   int64
		took    int
		wantErr string
	}{
		{words: []string{"posts:35", "views:12,000", "heat:68", "reposted"}, posts: 35, took: 3},
		{words: []string{"跟帖：35", "浏览:12000", "热度:68", "已转发"}, posts: 35, took: 3},
		{words: []string{"reposted", "posts:35"}, took: 0},
		{words: []string{"posts:-3"}, wantErr: "posts:-3 is not a whole number"},
		{words: []string{"heat:abc"}, wantErr: "heat:abc is not a whole number"},
		{words: []string{"heat:6.5"}, wantErr: "not a whole number"},
		{words: []string{"posts:1", "posts:2"}, wantErr: "posts is given twice"},
		{words: []string{"views:999999999999999"}, wantErr: "cannot be right"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			f, n, err := workflow.ParseFigures(tt.words)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || workflow.ErrorCode(err) != workflow.CodeInvalid {
					t.Fatalf("got %v, want an invalid-input error containing %q", err, tt.wantErr)
				}
				if !strings.Contains(workflow.ErrorText(err).ZH, "指标") {
					t.Errorf("zh: got %q, want the usage in Chinese", workflow.ErrorText(err).ZH)
				}
				return
			}
			if err != nil || n != tt.took {
				t.Fatalf("got %d words, %v; want %d", n, err, tt.took)
			}
			if p, _ := f.Get(workflow.FigurePosts); n > 0 && p != tt.posts {
				t.Errorf("posts: got %d, want %d", p, tt.posts)
			}
		})
	}
}

func TestFiguresMarkSpreading(t *testing.T) {
	rule := func(r *workflow.Roster) {
		r.Spreading = workflow.SpreadingRule{PostsGrowth: 0.5, Within: time.Hour, Heat: 80}
	}
	t.Run("posts growing by half within the hour", func(t *testing.T) {
		e := newEnv(t, rule)
		inc := mustOpen(t, e, "chen", workflow.OpenInput{})
		must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "first", figs(t, "posts:20")))
		e.clock.Advance(20 * time.Minute)
		inc = must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "posts:26"))) // +30%: not yet
		if inc.Spreading {
			t.Fatalf("spreading at +30%%; want not yet")
		}
		e.clock.Advance(20 * time.Minute)
		inc, evs, err := e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "posts:31"))
		if err != nil {
			t.Fatal(err)
		}
		if !inc.Spreading || inc.Level != workflow.LevelMajor || len(inc.Figures) != 3 {
			t.Fatalf("got spreading %v level %s, %d figures; want spreading, escalated, 3 figures", inc.Spreading, inc.Level, len(inc.Figures))
		}
		if got := kinds(evs); !slices.Equal(got, []workflow.EventKind{workflow.EventUpdated, workflow.EventSpreading, workflow.EventEscalated}) {
			t.Fatalf("events: got %v", got)
		}
		if sg := evs[1].Data.Sign; sg == nil || sg.Figure != workflow.FigurePosts || sg.From != 20 || sg.To != 31 || sg.Growth != 55 || sg.Within != 40*time.Minute {
			t.Errorf("sign: got %+v, want posts 20 → 31 (+55%%) in 40m", sg)
		}
		wantTold(t, told(t, e), "leaders report YQ-1:report escalated")
		// Once marked, more growth tells nothing new.
		e.clock.Advance(10 * time.Minute)
		_, evs, _ = e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "posts:90"))
		if len(evs) != 1 {
			t.Errorf("events once spreading: got %v, want the update only", kinds(evs))
		}
	})
	t.Run("slow growth over a long time is not spreading", func(t *testing.T) {
		e := newEnv(t, rule)
		inc := mustOpen(t, e, "chen", workflow.OpenInput{})
		must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "posts:20")))
		e.clock.Advance(5 * time.Hour)
		inc = must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "posts:35"))) // +75% in 5h: 15%/h
		if inc.Spreading {
			t.Errorf("spreading at 15%% an hour; want not")
		}
	})
	t.Run("heat at the threshold", func(t *testing.T) {
		e := newEnv(t, rule)
		inc := mustOpen(t, e, "chen", workflow.OpenInput{})
		inc, evs, _ := e.svc.Update(t.Context(), "chen", inc.ID, "trending", figs(t, "heat:80"))
		if !inc.Spreading || len(evs) != 3 || evs[1].Data.Sign.Figure != workflow.FigureHeat || evs[1].Data.Sign.Threshold != 80 {
			t.Errorf("got spreading %v, events %v; want spreading by heat", inc.Spreading, kinds(evs))
		}
	})
	t.Run("no rule, no spreading", func(t *testing.T) {
		e := newEnv(t)
		inc := mustOpen(t, e, "chen", workflow.OpenInput{})
		inc = must(t)(e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "heat:100000")))
		if inc.Spreading {
			t.Errorf("spreading without a rule")
		}
	})
}

func TestSpreadingRuleBounds(t *testing.T) {
	for _, r := range []workflow.SpreadingRule{{PostsGrowth: 10.01}, {PostsGrowth: -0.1}, {Heat: -1}} {
		_, err := workflow.NewRoster(workflow.Roster{People: []workflow.Person{{ID: "a", Roles: []workflow.Role{workflow.RolePrincipal}},
			{ID: "b", Roles: []workflow.Role{workflow.RoleLeader}}}, Spreading: r})
		if workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("%+v: got %v, want invalid", r, err)
		}
	}
}

func TestResolveNeedsThePublishedReply(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	refused := []struct {
		name, actor string
		override    bool
		want        workflow.Code
	}{
		{"staff, no reply", "chen", false, workflow.CodeConflict},
		{"a leader without saying override", "wang", false, workflow.CodeConflict},
		{"staff cannot override", "chen", true, workflow.CodeForbidden},
		{"the spokesperson cannot override", "sun", true, workflow.CodeForbidden},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			before := e.store.snapshot(inc.ID)
			_, _, err := e.svc.Resolve(t.Context(), tt.actor, inc.ID, "answered in person", tt.override)
			wantCode(t, err, tt.want)
			wantUnchanged(t, e.store, inc.ID, before)
		})
	}
	inc, evs, err := e.svc.Resolve(t.Context(), "zhao", inc.ID, "answered each family in person", true)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Open() || len(evs) != 1 || !evs[0].Data.Override {
		t.Errorf("override: got open %v events %+v, want resolved with the override recorded", inc.Open(), evs)
	}

	// With the reply published, anyone may resolve, and no override is recorded.
	pub := draftReady(t, e, workflow.LevelMajor, "The facts.")
	must(t)(e.svc.Approve(t.Context(), "zhao", pub.ID, 0, ""))
	must(t)(e.svc.Approve(t.Context(), "wang", pub.ID, 0, ""))
	must(t)(e.svc.Publish(t.Context(), "sun", pub.ID))
	_, evs, err = e.svc.Resolve(t.Context(), "chen", pub.ID, "done", true)
	if err != nil || evs[0].Data.Override {
		t.Errorf("resolve after publishing: got %v, override %v; want resolved, no override", err, evs[0].Data.Override)
	}
}

func TestReopenNeedsAReason(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	must(t)(e.svc.Resolve(t.Context(), "chen", inc.ID, "done", false))
	before := e.store.snapshot(inc.ID)
	_, _, err := e.svc.Reopen(t.Context(), "chen", inc.ID, "  ")
	wantCode(t, err, workflow.CodeInvalid)
	wantUnchanged(t, e.store, inc.ID, before)
	_, evs, err := e.svc.Reopen(t.Context(), "chen", inc.ID, "new posts")
	if err != nil || evs[0].Text != "new posts" {
		t.Errorf("reopen: got %v %+v, want the reason recorded", err, evs)
	}
}

func TestLoweringNeedsAReasonAndKeepsSpreading(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	inc = must(t)(e.svc.Spread(t.Context(), "chen", inc.ID, "reposted"))
	refused := []struct {
		name string
		ch   workflow.LevelChange
		want workflow.Code
	}{
		{"no reason", workflow.LevelChange{Level: workflow.LevelGeneral}, workflow.CodeInvalid},
		{"clearing spreading when raising", workflow.LevelChange{Level: workflow.LevelCritical, ClearSpreading: true}, workflow.CodeInvalid},
	}
	for _, tt := range refused {
		before := e.store.snapshot(inc.ID)
		_, _, err := e.svc.SetLevel(t.Context(), "wang", inc.ID, tt.ch)
		wantCode(t, err, tt.want)
		wantUnchanged(t, e.store, inc.ID, before)
	}
	inc, evs, err := e.svc.SetLevel(t.Context(), "wang", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "another school"})
	if err != nil || !inc.Spreading || evs[0].Text != "another school" {
		t.Fatalf("lowered: got %v spreading %v %+v, want lowered, still spreading, the reason recorded", err, inc.Spreading, evs)
	}
	inc = must(t)(e.svc.SetLevel(t.Context(), "chen", inc.ID, workflow.LevelChange{Level: workflow.LevelMajor}))
	inc, evs, err = e.svc.SetLevel(t.Context(), "wang", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "deleted", ClearSpreading: true})
	if err != nil || inc.Spreading || !evs[0].Data.Cleared {
		t.Errorf("lowered with spreading:no: got %v spreading %v, want cleared", err, inc.Spreading)
	}
}

// TestSpreadingAfterLowering: lowered to general with the mark kept, the
// mark can be cleared at the same level (the command the lowering's reply
// suggests was refused as "already general"), by a leader with a reason;
// kept, new figures that meet the rule escalate the incident again (they
// did nothing).
func TestSpreadingAfterLowering(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) { r.Spreading = workflow.SpreadingRule{Heat: 80} })
	lowered := func() *workflow.Incident {
		inc := mustOpen(t, e, "chen", workflow.OpenInput{})
		inc = must(t)(e.svc.Spread(t.Context(), "chen", inc.ID, "reposted"))
		inc = must(t)(e.svc.SetLevel(t.Context(), "wang", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "wrong call"}))
		if inc.Level != workflow.LevelGeneral || !inc.Spreading {
			t.Fatalf("lowered: got %s spreading %v, want general, still spreading", inc.Level, inc.Spreading)
		}
		return inc
	}

	inc := lowered()
	for _, tt := range []struct {
		name, actor string
		ch          workflow.LevelChange
		want        workflow.Code
	}{
		{"by staff", "chen", workflow.LevelChange{Level: workflow.LevelGeneral, ClearSpreading: true, Reason: "gone"}, workflow.CodeForbidden},
		{"with no reason", "wang", workflow.LevelChange{Level: workflow.LevelGeneral, ClearSpreading: true}, workflow.CodeInvalid},
		{"the same level, nothing to clear", "wang", workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "x"}, workflow.CodeConflict},
	} {
		before := e.store.snapshot(inc.ID)
		_, _, err := e.svc.SetLevel(t.Context(), tt.actor, inc.ID, tt.ch)
		wantCode(t, err, tt.want)
		wantUnchanged(t, e.store, inc.ID, before)
	}
	cleared, evs, err := e.svc.SetLevel(t.Context(), "wang", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, ClearSpreading: true, Reason: "posts deleted"})
	if err != nil || cleared.Spreading || cleared.Level != workflow.LevelGeneral || !evs[0].Data.Cleared || evs[0].Data.From != evs[0].Data.To {
		t.Fatalf("clearing the mark at the same level: got %v, spreading %v, %s, %+v", err, cleared.Spreading, cleared.Level, evs)
	}

	inc = lowered()
	again, evs, err := e.svc.Update(t.Context(), "chen", inc.ID, "", figs(t, "heat:95"))
	if err != nil || again.Level != workflow.LevelMajor || !slices.Contains(kinds(evs), workflow.EventEscalated) {
		t.Errorf("figures meeting the rule, marked already: got %v, level %s, events %v; want escalated again", err, again.Level, kinds(evs))
	}
}

func TestPublishersArePolicy(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		lp := workflow.DefaultPolicy()[workflow.LevelGeneral]
		lp.Publishers = []workflow.Role{workflow.RoleSpokesperson}
		r.Policy = workflow.Policy{workflow.LevelGeneral: lp}
		r.Organisation = workflow.Organisation{Name: "Riverside School"}
	})
	inc := draftReady(t, e, workflow.LevelGeneral, "The facts.")
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
	before := e.store.snapshot(inc.ID)
	_, _, err := e.svc.Publish(t.Context(), "wang", inc.ID)
	wantCode(t, err, workflow.CodeForbidden)
	if !strings.Contains(err.Error(), "only the spokesperson can publish") {
		t.Errorf("got %q, want it to name who may publish", err)
	}
	wantUnchanged(t, e.store, inc.ID, before)
	inc = must(t)(e.svc.Publish(t.Context(), "sun", inc.ID))
	if st := inc.Statements[0]; st.Organisation != "Riverside School" || !st.Spokesperson {
		t.Errorf("statement: got %+v, want it over the organisation's name, by its spokesperson", st)
	}
	// The default lets a leader publish too.
	e2 := newEnv(t)
	inc = draftReady(t, e2, workflow.LevelGeneral, "The facts.")
	must(t)(e2.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
	if inc = must(t)(e2.svc.Publish(t.Context(), "wang", inc.ID)); inc.Statements[0].Spokesperson {
		t.Errorf("a leader publishing: got spokesperson, want the unit's voice")
	}
}

func TestGeneralResultFedBackToLeaders(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{})
	must(t)(e.svc.Resolve(t.Context(), "chen", inc.ID, "explained at the meeting", false))
	wantTold(t, told(t, e), "leaders event - fed_back")
}

func TestReportRemindersGoToTheLeaders(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	var half workflow.Timer
	for _, tm := range e.store.lastChange(t).Timers {
		if tm.ID == inc.ID+":report:half" {
			half = tm
		}
	}
	if half.ID == "" {
		t.Fatalf("no report:half timer planned")
	}
	e.clock.Set(half.Due)
	res, err := e.svc.Tick(t.Context(), workflow.DueTimer{ID: half.ID, Incident: inc.ID, Due: half.Due})
	if err != nil || res.Outcome != workflow.TimerFired {
		t.Fatalf("tick: got %+v %v, want fired", res, err)
	}
	got := told(t, e)
	wantTold(t, got, "leaders event YQ-1:report reminder")
	wantNotTold(t, got, "person:chen")
	wantNotTold(t, got, "incidents")
}

func TestDoubleReportWithoutPrincipals(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		for i := range r.People {
			if slices.Contains(r.People[i].Roles, workflow.RolePrincipal) {
				r.People[i].Roles = []workflow.Role{workflow.RoleLeader}
			}
		}
		lp := workflow.DefaultPolicy()[workflow.LevelMajor]
		lp.Principal = false
		r.Policy = workflow.Policy{workflow.LevelMajor: lp, workflow.LevelCritical: lp}
	})
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	if inc.DoubleReported(e.roster) {
		t.Fatalf("double report complete before anyone acknowledged")
	}
	inc = must(t)(e.svc.Receive(t.Context(), "zhao", inc.ID))
	if !inc.DoubleReported(e.roster) {
		t.Errorf("a roster with no principal: got the double report incomplete after a leader's receipt, want complete")
	}
}

func TestAwaitedReceipts(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	if p, l := inc.AwaitedReceipts(e.roster); !p || !l {
		t.Errorf("nobody acknowledged: got principal %v leader %v awaited, want both", p, l)
	}
	inc = must(t)(e.svc.Receive(t.Context(), "wang", inc.ID)) // the principal
	if p, l := inc.AwaitedReceipts(e.roster); p || !l {
		t.Errorf("after the principal: got principal %v leader %v awaited, want the leader in charge only", p, l)
	}
	// Where every leader is a principal, the principal's receipt is enough.
	all := newEnv(t, func(r *workflow.Roster) {
		for i := range r.People {
			if slices.Contains(r.People[i].Roles, workflow.RoleLeader) {
				r.People[i].Roles = []workflow.Role{workflow.RolePrincipal}
			}
		}
	})
	inc = mustOpen(t, all, "chen", workflow.OpenInput{Level: workflow.LevelMajor})
	inc = must(t)(all.svc.Receive(t.Context(), "wang", inc.ID))
	if !inc.DoubleReported(all.roster) {
		t.Errorf("every leader a principal: got the double report incomplete after a principal's receipt")
	}
}

// TestEscalationKeepsWhatWasMissed: a general incident that missed its
// department deadline and then escalates is planned again under the major
// process; the missed deadline stays in its record, and the statistics
// count it (they showed a clean record).
func TestEscalationKeepsWhatWasMissed(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{FoundAt: e.clock.Now()})
	e.clock.Advance(3 * time.Hour) // the general process's 2h to take it on passed
	inc = must(t)(e.svc.Spread(t.Context(), "chen", inc.ID, "reposted widely"))
	if inc.Level != workflow.LevelMajor || len(inc.Missed) != 1 || inc.Missed[0].Kind != workflow.DeadlineAssign ||
		!inc.Missed[0].Left.Equal(workflow.Instant(e.clock.Now())) {
		t.Fatalf("escalated: got %s, missed %+v; want major, the general assign deadline kept as missed now", inc.Level, inc.Missed)
	}
	if d := inc.Missed[0]; d.Outcome(inc, e.clock.Now().Add(time.Hour)) != workflow.OutcomeMissed {
		t.Errorf("the kept deadline: got outcome %v, want missed", d.Outcome(inc, e.clock.Now()))
	}
	st := workflow.ComputeStats(workflow.Period{From: inc.FoundAt, To: e.clock.Now().Add(time.Hour)}, []*workflow.Incident{inc},
		e.svc.Policy(), workflow.Calendar{}, e.clock.Now())
	for _, ds := range st.Deadlines {
		if ds.Kind == workflow.DeadlineAssign && (ds.Missed != 1 || ds.Lateness.N != 1 || ds.Lateness.Median != time.Hour) {
			t.Errorf("assign in the statistics: got %+v, want 1 missed, by 1h (2h due, left at 3h)", ds)
		}
	}
}
