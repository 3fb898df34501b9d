package workflow_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

func filed(n int) *int { return &n }

// TestEventDataReadsTheEarlierForm: timelines and outbox entries written by
// earlier releases keep their data as an object of strings; they read into
// the typed fields.
func TestEventDataReadsTheEarlierForm(t *testing.T) {
	due := time.Date(2024, 3, 1, 10, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		kind workflow.EventKind
		data string
		want workflow.EventData
	}{
		{"opened", workflow.EventOpened, `{"level":"major","category":"inquiry"}`,
			workflow.EventData{Level: workflow.LevelMajor, Category: workflow.CategoryInquiry}},
		{"assigned at opening", workflow.EventAssigned, `{"department":"office","assignee":"li","auto":"true"}`,
			workflow.EventData{Department: "office", Assignee: "li", Auto: true}},
		{"taken over: from was the previous assignee", workflow.EventAcknowledged, `{"from":"li"}`,
			workflow.EventData{TakenFrom: "li"}},
		{"level changed", workflow.EventLevelChanged, `{"from":"general","to":"critical"}`,
			workflow.EventData{From: workflow.LevelGeneral, To: workflow.LevelCritical}},
		{"escalated", workflow.EventEscalated, `{"from":"general","to":"major","reason":"spreading"}`,
			workflow.EventData{From: workflow.LevelGeneral, To: workflow.LevelMajor, Reason: workflow.EscalatedSpreading}},
		{"follow-up filed", workflow.EventUpdated, `{"number":"2"}`, workflow.EventData{Number: 2}},
		{"drafted", workflow.EventDrafted, `{"version":"2","hash":"3f9a0c1d2e4b","voided":"1"}`,
			workflow.EventData{Version: 2, Hash: "3f9a0c1d2e4b", Voided: 1}},
		{"quorum", workflow.EventQuorum, `{"version":"1"}`, workflow.EventData{Version: 1}},
		{"reminder", workflow.EventReminder, `{"deadline":"respond","due":"2024-03-01T18:30:00+08:00","phase":"half"}`,
			workflow.EventData{Deadline: workflow.DeadlineRespond, Due: due, Phase: workflow.PhaseHalf}},
		{"overdue, one deadline", workflow.EventOverdue, `{"deadline":"assign","due":"2024-03-01T10:30:00Z"}`,
			workflow.EventData{Overdue: []workflow.DeadlineDue{{Deadline: workflow.DeadlineAssign, Due: due}}}},
		{"overdue, born past several", workflow.EventOverdue,
			`{"deadline":"assign,respond","due":"2024-03-01T10:30:00Z,2024-03-01T13:30:00Z"}`,
			workflow.EventData{Overdue: []workflow.DeadlineDue{
				{Deadline: workflow.DeadlineAssign, Due: due}, {Deadline: workflow.DeadlineRespond, Due: due.Add(3 * time.Hour)}}}},
		{"follow-up due", workflow.EventUpdateDue, `{"number":"3","due":"2024-03-01T10:30:00Z","every":"2h0m0s","filed":"0"}`,
			workflow.EventData{Number: 3, Due: due, Every: 2 * time.Hour, Filed: filed(0)}},
		{"follow-up due, before the count was kept", workflow.EventUpdateDue, `{"number":"1","due":"2024-03-01T10:30:00Z","every":"24h0m0s"}`,
			workflow.EventData{Number: 1, Due: due, Every: 24 * time.Hour}},
		{"nudge", workflow.EventApprovalWait, `{"version":"2","since":"2024-03-01T10:30:00Z","waiting":"wang,zhao"}`,
			workflow.EventData{Version: 2, Since: due, Waiting: []string{"wang", "zhao"}}},
		{"nudge, nobody left", workflow.EventApprovalWait, `{"version":"2","since":"2024-03-01T10:30:00Z","waiting":""}`,
			workflow.EventData{Version: 2, Since: due}},
		{"no data", workflow.EventResolved, `{}`, workflow.EventData{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stored := `{"id":"YQ-7#3.1","incident":"YQ-7","version":3,"kind":"` + string(tt.kind) +
				`","at":"2024-03-01T10:30:00.437Z","actor":"chen","data":` + tt.data + `}`
			var e workflow.Event
			if err := json.Unmarshal([]byte(stored), &e); err != nil {
				t.Fatalf("decode %s: %v", stored, err)
			}
			if e.ID != "YQ-7#3.1" || e.Kind != tt.kind || e.Actor != "chen" || e.Version != 3 {
				t.Errorf("event: got %+v, want the stored one", e)
			}
			if !sameData(e.Data, tt.want) {
				t.Errorf("data: got %+v, want %+v", e.Data, tt.want)
			}
			// Written again, it reads back the same.
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			var again workflow.Event
			if err := json.Unmarshal(b, &again); err != nil || !sameData(again.Data, tt.want) {
				t.Errorf("rewritten %s: got %+v, %v; want %+v", b, again.Data, err, tt.want)
			}
		})
	}
}

// TestEventDataTypedForm: the form written now, numbers as numbers, lists as
// lists, the cadence a Go duration; an event without data has none.
func TestEventDataTypedForm(t *testing.T) {
	due := time.Date(2024, 3, 1, 10, 30, 0, 437_000_000, time.UTC)
	tests := []struct {
		name string
		data workflow.EventData
		want string
	}{
		{"none", workflow.EventData{}, ``},
		{"drafted", workflow.EventData{Version: 2, Hash: "3f9a0c1d2e4b", Voided: 1},
			`"data":{"version":2,"hash":"3f9a0c1d2e4b","voided":1}`},
		{"taken over", workflow.EventData{TakenFrom: "li"}, `"data":{"taken_from":"li"}`},
		{"follow-up due, none filed", workflow.EventData{Number: 1, Due: due, Every: 2 * time.Hour, Filed: filed(0)},
			`"data":{"number":1,"every":"2h0m0s","filed":0,"due":"2024-03-01T10:30:00.437Z"}`},
		{"overdue", workflow.EventData{Overdue: []workflow.DeadlineDue{{Deadline: workflow.DeadlineAssign, Due: due}}},
			`"data":{"overdue":[{"deadline":"assign","due":"2024-03-01T10:30:00.437Z"}]}`},
		{"nudge", workflow.EventData{Version: 2, Since: due, Waiting: []string{"wang", "zhao"}},
			`"data":{"version":2,"since":"2024-03-01T10:30:00.437Z","waiting":["wang","zhao"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := workflow.Event{ID: "YQ-7#3.1", Incident: "YQ-7", Version: 3, Kind: workflow.EventUpdateDue, At: due, Data: tt.data}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" && strings.Contains(string(b), `"data"`) || !strings.Contains(string(b), tt.want) {
				t.Errorf("got %s, want %s", b, tt.want)
			}
			var back workflow.Event
			if err := json.Unmarshal(b, &back); err != nil || !sameData(back.Data, tt.data) {
				t.Errorf("read back: got %+v, %v; want %+v", back.Data, err, tt.data)
			}
		})
	}
}

func TestEventDataRefusesMalformed(t *testing.T) {
	for _, data := range []string{
		`{"version":"two"}`, `{"every":"daily"}`, `{"due":"tomorrow"}`, `{"auto":"yes"}`,
		`{"deadline":"assign,respond","due":"2024-03-01T10:30:00Z"}`,
	} {
		var d workflow.EventData
		if err := json.Unmarshal([]byte(data), &d); err == nil {
			t.Errorf("%s: got %+v, want an error", data, d)
		}
	}
}

// sameData compares event data with times compared as instants.
func sameData(a, b workflow.EventData) bool {
	norm := func(d workflow.EventData) workflow.EventData {
		d.Due, d.Since = d.Due.UTC(), d.Since.UTC()
		d.Overdue = append([]workflow.DeadlineDue(nil), d.Overdue...)
		for i := range d.Overdue {
			d.Overdue[i].Due = d.Overdue[i].Due.UTC()
		}
		if len(d.Overdue) == 0 {
			d.Overdue = nil
		}
		if len(d.Waiting) == 0 {
			d.Waiting = nil
		}
		return d
	}
	return reflect.DeepEqual(norm(a), norm(b))
}
