package handlers_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

func mustRoster(tb testing.TB, leadersChannel bool) *workflow.Roster {
	tb.Helper()
	r := workflow.Roster{
		Timezone:    "Asia/Shanghai",
		Departments: []workflow.Department{{ID: "office", Name: "Office", Categories: []workflow.Category{workflow.CategoryOther}}},
		People: []workflow.Person{
			{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "wang", Roles: []workflow.Role{workflow.RolePrincipal}},
			{ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}},
			{ID: "sun", Roles: []workflow.Role{workflow.RoleSpokesperson}},
		},
		Channels: map[string]workflow.ChannelRef{workflow.ChannelIncidents: {Slack: "C1"}},
	}
	if leadersChannel {
		r.Channels[workflow.ChannelLeaders] = workflow.ChannelRef{Telegram: -100}
	}
	roster, err := workflow.NewRoster(r)
	if err != nil {
		tb.Fatal(err)
	}
	return roster
}

var start = time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)

func draftIncident() *workflow.Incident {
	return &workflow.Incident{ID: "YQ-7", Version: 2, Title: "Canteen", Level: workflow.LevelMajor,
		Category: workflow.CategoryOther, Status: workflow.StatusAssigned, Assignee: "chen",
		FoundAt: start, OpenedAt: start, UpdatedAt: start,
		Drafts: []workflow.Draft{{Version: 1, Text: "We are looking into it.", Hash: workflow.HashText("We are looking into it."), Author: "chen", At: start}}}
}

func audiences(ns []workflow.Notice) []string {
	var out []string
	for _, n := range ns {
		out = append(out, string(n.Audience))
	}
	return out
}

// TestApprovalRequestsGoToLeaders: the leaders channel when the roster has
// one, else each leader directly (DESIGN.md §4), with Approve and Reject
// buttons naming the draft version.
func TestApprovalRequestsGoToLeaders(t *testing.T) {
	tests := []struct {
		name    string
		channel bool
		want    []string
	}{
		{"leaders channel", true, []string{"leaders"}},
		{"no leaders channel", false, []string{"person:wang", "person:zhao"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roster := mustRoster(t, tt.channel)
			svc := workflow.NewService(nil, roster, workflow.NewManualClock(start), nil)
			h := handlers.New(svc, "en")
			inc := draftIncident()
			notices, err := h.Notify(context.Background(), inc, []workflow.Event{{ID: "YQ-7#2.1", Incident: "YQ-7", Kind: workflow.EventDrafted, Actor: "chen"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := audiences(notices); !slices.Equal(got, tt.want) {
				t.Fatalf("got audiences %v, want %v", got, tt.want)
			}
			m, err := bot.DecodeMessage(notices[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			if m.Card == nil || m.Card.Body != inc.Drafts[0].Text {
				t.Fatalf("got card %+v, want the exact draft text as its body", m.Card)
			}
			var ids []string
			for _, b := range m.Card.Buttons {
				ids = append(ids, b.ID)
			}
			if want := []string{"approve:YQ-7:1", "reject:YQ-7:1"}; !slices.Equal(ids, want) {
				t.Errorf("got buttons %v, want %v", ids, want)
			}
			if notices[0].ID != "YQ-7#2.1>"+tt.want[0] {
				t.Errorf("got notice ID %q, want the event ID and audience", notices[0].ID)
			}
		})
	}
}

// TestEveryEventHasALine: each event kind is described in both languages,
// never by the generic fallback (which reads the same in both).
func TestEveryEventHasALine(t *testing.T) {
	kinds := []workflow.EventKind{
		workflow.EventOpened, workflow.EventAssigned, workflow.EventLevelChanged,
		workflow.EventUpdated, workflow.EventDrafted, workflow.EventApproved, workflow.EventQuorum,
		workflow.EventRejected, workflow.EventPublished, workflow.EventReferred, workflow.EventResolved,
		workflow.EventReopened, workflow.EventSpreading, workflow.EventEscalated, workflow.EventReminder,
		workflow.EventOverdue, workflow.EventUpdateDue, workflow.EventApprovalWait,
	}
	lines := func(locale string, k workflow.EventKind) []string {
		roster := mustRoster(t, true)
		svc := workflow.NewService(nil, roster, workflow.NewManualClock(start), nil)
		h := handlers.New(svc, locale)
		e := workflow.Event{ID: "YQ-7#3.1", Incident: "YQ-7", Kind: k, Actor: "zhao", Text: "note",
			Data: map[string]string{"deadline": "respond", "due": start.Add(3 * time.Hour).Format(time.RFC3339),
				"version": "1", "from": "general", "to": "major", "number": "1", "every": "2h0m0s", "level": "major",
				"category": "other", "since": start.Format(time.RFC3339), "waiting": "wang", "assignee": "chen", "department": "office"}}
		notices, err := h.Notify(context.Background(), draftIncident(), []workflow.Event{e})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range notices {
			if n.Audience == workflow.ChannelStatements {
				continue // the published statement is the approved text itself
			}
			m, err := bot.DecodeMessage(n.Body)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, m.Text)
		}
		return out
	}
	for _, k := range kinds {
		en, zh := lines(workflow.LocaleEN, k), lines(workflow.LocaleZH, k)
		if len(en) == 0 {
			t.Errorf("%s: no notice at all", k)
			continue
		}
		for i := range en {
			if en[i] == "" || en[i] == zh[i] {
				t.Errorf("%s: got en %q and zh %q, want a line in each language", k, en[i], zh[i])
			}
		}
	}
}
