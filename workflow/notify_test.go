package workflow_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// told lists the notices of the last change as "audience kind thread"
// (thread "-" when none), with the event kind for those telling of one.
func told(tb testing.TB, e *env) []string {
	tb.Helper()
	c := e.store.lastChange(tb)
	var out []string
	ids := map[string]bool{}
	for _, n := range c.Notices {
		if ids[n.ID] {
			tb.Errorf("notice ID %s twice in one change", n.ID)
		}
		ids[n.ID] = true
		nt, err := n.Notification()
		if err != nil {
			tb.Fatalf("notice %s: %v", n.ID, err)
		}
		thread := nt.Thread.Key(n.Incident)
		if thread == "" {
			thread = "-"
		}
		s := string(n.Audience) + " " + string(nt.Kind) + " " + thread
		if nt.Event != nil {
			s += " " + string(nt.Event.Kind)
		}
		out = append(out, s)
	}
	return out
}

func wantTold(tb testing.TB, got []string, want ...string) {
	tb.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			tb.Errorf("missing notice %q; got:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func wantNotTold(tb testing.TB, got []string, prefix string) {
	tb.Helper()
	for _, g := range got {
		if strings.HasPrefix(g, prefix) {
			tb.Errorf("unexpected notice %q", g)
		}
	}
}

func TestNoticesOfOpeningAMajorIncident(t *testing.T) {
	e := newEnv(t)
	mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor, Category: workflow.CategoryInquiry})
	got := told(t, e)
	wantTold(t, got,
		"incidents card YQ-1 opened",
		"leaders report YQ-1:report opened",
		"person:li assigned YQ-1 assigned")
	// The opener hears of the assignment in the reply, not in private;
	// nothing was posted before, so nothing needs a refresh but the cards
	// just posted are not refreshed either.
	wantNotTold(t, got, "person:chen")
	wantNotTold(t, got, "incidents refresh")
	wantNotTold(t, got, "leaders refresh")
}

// TestNoticesFollowThePolicysReport: the REPORT goes to the leaders
// wherever the policy gives the level a report deadline, a general incident
// too, and not where it gives none: the notices follow the Service's rule,
// not the level's name.
func TestNoticesFollowThePolicysReport(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		if r.Policy == nil {
			r.Policy = workflow.DefaultPolicy()
		}
		lp := r.Policy.For(workflow.LevelGeneral)
		lp.Report = time.Hour
		r.Policy[workflow.LevelGeneral] = lp
		lp = r.Policy.For(workflow.LevelMajor)
		lp.Report = 0
		r.Policy[workflow.LevelMajor] = lp
	})
	general := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry})
	wantTold(t, told(t, e), "leaders report YQ-1:report opened")
	if !general.Reported() {
		t.Errorf("general with a report deadline: not reported")
	}
	mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelMajor, Category: workflow.CategoryInquiry})
	wantNotTold(t, told(t, e), "leaders report")

	// Raised to a level with a report deadline: reported again.
	must(t)(e.svc.SetLevel(t.Context(), "wang", "YQ-2", workflow.LevelChange{Level: workflow.LevelCritical}))
	wantTold(t, told(t, e), "leaders report YQ-2:report level_changed")
}

// TestNoticesAskThoseWhoMayPublish: the request to publish an approved
// reply goes to whoever the policy lets publish: the spokesperson when
// they may, the leaders when only they may.
func TestNoticesAskThoseWhoMayPublish(t *testing.T) {
	e := newEnv(t, func(r *workflow.Roster) {
		if r.Policy == nil {
			r.Policy = workflow.DefaultPolicy()
		}
		lp := r.Policy.For(workflow.LevelGeneral)
		lp.Publishers = []workflow.Role{workflow.RoleLeader}
		r.Policy[workflow.LevelGeneral] = lp
	})
	inc := draftReady(t, e, workflow.LevelGeneral, "We are checking the canteen.")
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
	got := told(t, e)
	wantNotTold(t, got, "person:sun publish")
	var leaders []string
	for _, id := range e.roster.WithRole(workflow.RoleLeader) {
		leaders = append(leaders, "person:"+id+" publish YQ-1:publish:1 quorum_reached")
	}
	if len(leaders) < 2 {
		t.Fatalf("the test roster has %d leaders", len(leaders))
	}
	wantTold(t, got, leaders...)
}

func TestNoticesOfApprovalRefreshTheRequestEverywhere(t *testing.T) {
	e := newEnv(t)
	inc := draftReady(t, e, workflow.LevelGeneral, "We are checking the canteen.")
	wantTold(t, told(t, e), "leaders approval YQ-1:approval:1 drafted")

	e.clock.Advance(time.Minute)
	must(t)(e.svc.Approve(t.Context(), "zhao", inc.ID, 0, ""))
	got := told(t, e)
	wantTold(t, got,
		"incidents event - approved",
		"incidents event - quorum_reached",
		"person:sun publish YQ-1:publish:1 quorum_reached",
		// The request shows who approved and loses its buttons wherever it
		// went: the leaders chat and any leader nudged in private.
		"leaders refresh YQ-1:approval:1",
		"person:zhao refresh YQ-1:approval:1",
		"person:wang refresh YQ-1:approval:1",
		"incidents refresh YQ-1")

	e.clock.Advance(time.Minute)
	must(t)(e.svc.Publish(t.Context(), "sun", inc.ID))
	got = told(t, e)
	wantTold(t, got,
		"statements statement - published",
		"incidents event - published",
		"person:sun refresh YQ-1:publish:1",
		"leaders refresh YQ-1:approval:1")
	n := 0
	for _, g := range got {
		if strings.HasPrefix(g, "statements ") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("statements notices: got %d, want the statement once", n)
	}
}

func TestNoticesOfANewVersionSupersedeTheOldRequest(t *testing.T) {
	e := newEnv(t)
	inc := draftReady(t, e, workflow.LevelGeneral, "v1")
	must(t)(e.svc.Reject(t.Context(), "zhao", inc.ID, 0, "too vague"))
	got := told(t, e)
	wantTold(t, got, "incidents event - rejected", "person:chen redraft - rejected", "leaders refresh YQ-1:approval:1")

	must(t)(e.svc.SubmitDraft(t.Context(), "chen", inc.ID, "v2"))
	got = told(t, e)
	wantTold(t, got, "leaders approval YQ-1:approval:2 drafted", "leaders refresh YQ-1:approval:1")
	wantNotTold(t, got, "leaders refresh YQ-1:approval:2")
}

func TestNoticesOfAckRefreshTheCards(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry})
	must(t)(e.svc.Ack(t.Context(), "li", inc.ID))
	got := told(t, e)
	// The card in the channel and the one li got in private lose their
	// Acknowledge and Take it buttons.
	wantTold(t, got, "incidents refresh YQ-1", "person:li refresh YQ-1")
	wantNotTold(t, got, "leaders")
}

func TestNoticesOfATakeOver(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Category: workflow.CategoryInquiry})
	must(t)(e.svc.Take(t.Context(), "zhou", inc.ID))
	c := e.store.lastChange(t)
	var took bool
	for _, n := range c.Notices {
		nt, err := n.Notification()
		if err != nil {
			t.Fatal(err)
		}
		if nt.Event != nil && nt.Event.Kind == workflow.EventAssigned && n.Audience == workflow.ChannelIncidents {
			took = nt.Took
		}
	}
	if !took {
		t.Errorf("the channel's notice of zhou's assignment to himself: Took false, want true (he took it)")
	}
	// li, assigned at open, hears he was relieved; both assignees' private
	// cards are refreshed.
	wantTold(t, told(t, e), "person:li refresh YQ-1", "person:zhou refresh YQ-1")
}

func TestDigestNotice(t *testing.T) {
	fire := time.Date(2024, 3, 1, 8, 30, 0, 0, time.UTC)
	n := workflow.DigestNotice("daily", fire)
	if n.ID != "digest:daily:2024-03-01T08:30>incidents" || n.Audience != workflow.ChannelIncidents {
		t.Errorf("digest notice: got %s to %s", n.ID, n.Audience)
	}
	nt, err := n.Notification()
	if err != nil || nt.Kind != workflow.NoticeDigest || nt.Digest != "daily" {
		t.Errorf("digest notification: got %+v, %v", nt, err)
	}
	if _, err := (workflow.Notice{ID: "old", Body: []byte(`{"kind":"incident","text":"hi"}`)}).Notification(); err != workflow.ErrNotNotification {
		t.Errorf("a message of an earlier release: got %v, want ErrNotNotification", err)
	}
}
