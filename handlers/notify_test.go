package handlers_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		Channels: map[string]workflow.ChannelRef{workflow.ChannelIncidents: {"slack": "C1"}},
	}
	if leadersChannel {
		r.Channels[workflow.ChannelLeaders] = workflow.ChannelRef{"telegram": "-100"}
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

// oneStore is a workflow.Store holding one incident, for rendering.
type oneStore struct {
	workflow.Store // nil: any other call panics
	inc            *workflow.Incident
}

func (s oneStore) Get(_ context.Context, id string) (*workflow.Incident, error) {
	if id != s.inc.ID {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no %s", "没有 %s", id)
	}
	return s.inc.Clone(), nil
}

func render(tb testing.TB, h *handlers.Handlers, n workflow.Notice) bot.Message {
	tb.Helper()
	m, err := h.Render(context.Background(), n, "test")
	if err != nil {
		tb.Fatalf("Render(%s): %v", n.ID, err)
	}
	return m
}

func buttonIDs(c *bot.Card) []string {
	var ids []string
	if c != nil {
		for _, b := range c.Buttons {
			ids = append(ids, b.ID)
		}
	}
	return ids
}

// TestApprovalRequestShowsItsPresentStage: the request carries the exact
// draft and Approve/Reject buttons naming the version while it can be
// decided; rendered again once approved, superseded or on a resolved
// incident, it says so and has no buttons.
func TestApprovalRequestShowsItsPresentStage(t *testing.T) {
	inc := draftIncident()
	svc := workflow.NewService(oneStore{inc: inc}, mustRoster(t, true), workflow.NewManualClock(start))
	h := handlers.New(svc, "en")
	drafted := workflow.Event{ID: "YQ-7#2.1", Incident: "YQ-7", Kind: workflow.EventDrafted, Actor: "chen", Data: workflow.EventData{Version: 1}}
	req := workflow.NewNotice("YQ-7#2.1>leaders", "YQ-7", workflow.ChannelLeaders,
		workflow.Notification{Kind: workflow.NoticeApproval, Thread: workflow.Thread{Kind: workflow.ThreadApproval, Version: 1}, Event: &drafted})

	m := render(t, h, req)
	if m.Card == nil || m.Card.Body != inc.Drafts[0].Text || m.Thread != "YQ-7:approval:1" {
		t.Fatalf("got %+v, want the exact draft text as the card body in thread YQ-7:approval:1", m)
	}
	if got, want := buttonIDs(m.Card), []string{"approve:YQ-7:1", "reject:YQ-7:1"}; !slices.Equal(got, want) {
		t.Errorf("pending: got buttons %v, want %v", got, want)
	}

	refresh := workflow.NewNotice("YQ-7#3.1>refresh", "YQ-7", workflow.ChannelLeaders,
		workflow.Notification{Kind: workflow.NoticeRefresh, Thread: workflow.Thread{Kind: workflow.ThreadApproval, Version: 1}})
	inc.Drafts[0].Approvals = []workflow.Approval{{By: "wang", Principal: true, At: start}, {By: "zhao", At: start}}
	m = render(t, h, refresh)
	if !m.Refresh || len(m.Card.Buttons) != 0 || !strings.Contains(cardText(m.Card), "2 of 2 approvals (wang, zhao)") {
		t.Errorf("after quorum: got refresh=%v buttons %v text %q, want the count and no buttons", m.Refresh, buttonIDs(m.Card), cardText(m.Card))
	}

	inc.Drafts = append(inc.Drafts, workflow.Draft{Version: 2, Text: "v2", Hash: workflow.HashText("v2"), Author: "chen", At: start})
	if m = render(t, h, req); len(m.Card.Buttons) != 0 || !strings.Contains(cardText(m.Card), "Superseded by version 2") {
		t.Errorf("superseded: got buttons %v text %q", buttonIDs(m.Card), cardText(m.Card))
	}
}

// TestEditedApprovalQuotesALongDraftShortened: an edit must fit one
// Telegram message; the full text went out with the request.
func TestEditedApprovalQuotesALongDraftShortened(t *testing.T) {
	inc := draftIncident()
	inc.Drafts[0].Text = strings.Repeat("我们正在核实。", 560) // 3,920 characters
	svc := workflow.NewService(oneStore{inc: inc}, mustRoster(t, true), workflow.NewManualClock(start))
	h := handlers.New(svc, "en")
	refresh := workflow.NewNotice("r", "YQ-7", workflow.ChannelLeaders,
		workflow.Notification{Kind: workflow.NoticeRefresh, Thread: workflow.Thread{Kind: workflow.ThreadApproval, Version: 1}})
	m := render(t, h, refresh)
	if n := utf8.RuneCountInString(cardText(m.Card)); n > 2500 {
		t.Errorf("refreshed card: %d characters, want the draft shortened", n)
	}
	if !strings.Contains(m.Card.Body, "/incidents/YQ-7") {
		t.Errorf("shortened body %q…: want it to say where the full text is", m.Card.Body[:40])
	}
}

func cardText(c *bot.Card) string {
	if c == nil {
		return ""
	}
	s := c.Title + "\n" + c.Body + "\n" + c.Footer
	for _, f := range c.Fields {
		s += "\n" + f.Label + ": " + f.Value
	}
	return s
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
	line := func(locale string, k workflow.EventKind) string {
		svc := workflow.NewService(nil, mustRoster(t, true), workflow.NewManualClock(start))
		h := handlers.New(svc, locale)
		return h.EventLine(workflow.Event{ID: "YQ-7#3.1", Incident: "YQ-7", Kind: k, Actor: "zhao", Text: "note",
			Data: workflow.EventData{Deadline: workflow.DeadlineRespond, Due: start.Add(3 * time.Hour),
				Overdue: []workflow.DeadlineDue{{Deadline: workflow.DeadlineRespond, Due: start.Add(3 * time.Hour)}},
				Version: 1, From: workflow.LevelGeneral, To: workflow.LevelMajor, Number: 1, Every: 2 * time.Hour,
				Level: workflow.LevelMajor, Category: workflow.CategoryOther, Since: start, Waiting: []string{"wang"},
				Assignee: "chen", Department: "office"}})
	}
	for _, k := range kinds {
		en, zh := line(workflow.LocaleEN, k), line(workflow.LocaleZH, k)
		if en == "" || en == zh {
			t.Errorf("%s: got en %q and zh %q, want a line in each language", k, en, zh)
		}
	}
}

// TestNoticeOfAnEarlierRelease: an outbox entry written before event data was
// typed (an object of strings) still reads as the same line.
func TestNoticeOfAnEarlierRelease(t *testing.T) {
	svc := workflow.NewService(oneStore{inc: draftIncident()}, mustRoster(t, true), workflow.NewManualClock(start))
	h := handlers.New(svc, "en")
	tests := []struct {
		name  string
		event string
		want  string
	}{
		{"overdue, two deadlines", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"overdue","at":"2026-03-02T01:30:00Z",` +
			`"data":{"deadline":"assign,respond","due":"2026-03-02T01:30:00Z,2026-03-02T04:00:00Z"}}`,
			`🔴 YQ-7 is OVERDUE: "department takes it on" was due 09:30; "approved reply published" was due 12:00`},
		{"follow-up due", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"update_due","at":"2026-03-02T03:00:00Z",` +
			`"data":{"number":"2","due":"2026-03-02T03:00:00Z","every":"2h0m0s","filed":"1"}}`,
			"📝 YQ-7: follow-up report #2 is due 11:00 (every 2h, 1 filed so far); file it with: update YQ-7 <text>"},
		{"follow-up due, before the count was kept", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"update_due","at":"2026-03-02T03:00:00Z",` +
			`"data":{"number":"2","due":"2026-03-02T03:00:00Z","every":"2h0m0s"}}`,
			"📝 YQ-7: follow-up report #2 is due 11:00 (every 2h); file it with: update YQ-7 <text>"},
		{"reminder", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"reminder","at":"2026-03-02T01:15:00Z",` +
			`"data":{"deadline":"assign","due":"2026-03-02T01:30:00Z","phase":"half"}}`,
			`⏰ YQ-7: half the time for "department takes it on" has passed; due 09:30 (in 15m)`},
		{"taken over", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"acknowledged","at":"2026-03-02T01:15:00Z","actor":"zhao",` +
			`"data":{"from":"chen"}}`, "zhao acknowledged YQ-7, taking it over from chen"},
		{"published", `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"published","at":"2026-03-02T01:15:00Z","actor":"sun",` +
			`"data":{"version":"1","hash":"3f9a0c1d2e4b"}}`, "sun published version 1 of YQ-7 (#3f9a0c1d2e4b)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := workflow.Notice{ID: "YQ-7#3.1>incidents", Incident: "YQ-7", Audience: workflow.ChannelIncidents,
				Body: []byte(`{"kind":"event","event":` + tt.event + `,"format":1}`)}
			if got := render(t, h, n).Text; got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
