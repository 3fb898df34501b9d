package workflow_test

import (
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// TestLateness: how late a deadline was, one rule for the report, the
// statistics and the export, at an irregular instant (a few seconds late
// is late, and shown as a whole minute).
func TestLateness(t *testing.T) {
	found := time.Date(2026, 3, 2, 13, 14, 7, 123_000_000, time.UTC)
	due := found.Add(30 * time.Minute)
	open := &workflow.Incident{FoundAt: found, Status: workflow.StatusAssigned}
	resolved := &workflow.Incident{FoundAt: found, Status: workflow.StatusResolved, ResolvedAt: due.Add(95 * time.Minute)}
	now := due.Add(2 * time.Hour)
	tests := []struct {
		name        string
		inc         *workflow.Incident
		d           workflow.Deadline
		want        time.Duration
		wantOK      bool
		wantMinutes int
	}{
		{"met 8.5 s late", open, workflow.Deadline{Due: due, MetAt: due.Add(8500 * time.Millisecond)}, 8500 * time.Millisecond, true, 1},
		{"met on time", open, workflow.Deadline{Due: due, MetAt: due.Add(-time.Second)}, 0, false, 0},
		{"running overdue", open, workflow.Deadline{Due: due}, 2 * time.Hour, true, 120},
		{"running in time", open, workflow.Deadline{Due: now.Add(time.Minute)}, 0, false, 0},
		{"left in another process", open, workflow.Deadline{Due: due, Left: due.Add(61 * time.Minute)}, 61 * time.Minute, true, 61},
		{"resolved without it", resolved, workflow.Deadline{Due: due}, 95 * time.Minute, true, 95},
		{"resolved before it fell", resolved, workflow.Deadline{Due: now}, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.d.Lateness(tt.inc, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Lateness: got %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
			if m := workflow.LateMinutes(got); m != tt.wantMinutes {
				t.Errorf("LateMinutes(%v): got %d, want %d", got, m, tt.wantMinutes)
			}
		})
	}
}

// TestTimeToMeet: a deadline met before an escalation restarted its clock
// took as long as from discovery, never a negative time.
func TestTimeToMeet(t *testing.T) {
	found := time.Date(2026, 3, 2, 13, 0, 0, 123_456_789, time.UTC)
	inc := &workflow.Incident{FoundAt: found}
	escalated := found.Add(30 * time.Minute)
	acked := found.Add(10 * time.Minute)
	if got := (workflow.Deadline{From: escalated, MetAt: acked}).TimeToMeet(inc); got != 10*time.Minute {
		t.Errorf("met before the clock restarted: got %v, want 10m from discovery", got)
	}
	if got := (workflow.Deadline{From: escalated, MetAt: escalated.Add(time.Hour)}).TimeToMeet(inc); got != time.Hour {
		t.Errorf("met after: got %v, want 1h from the escalation", got)
	}
}
