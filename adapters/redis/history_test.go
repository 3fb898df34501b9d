package redis_test

import (
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// TestRecent is the contract of Store.Recent: the last max incidents by ID,
// those discovered at or after since, resolved ones included, oldest first.
func TestRecent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		if got, err := f.store.Recent(ctx, t0.Add(-time.Hour), 10); err != nil || len(got) != 0 {
			t.Fatalf("Recent before any incident: got %v, %v, want nothing", ids(got), err)
		}
		// Six IDs allocated as the Service does; YQ-4 is never written (an
		// open that failed after NextID).
		found := map[string]time.Duration{
			"YQ-1": -48 * time.Hour, "YQ-2": time.Hour, "YQ-3": 0, "YQ-5": 3 * time.Hour, "YQ-6": 2 * time.Hour,
		}
		for range 6 {
			id, _, err := f.store.NextID(ctx, "")
			if err != nil {
				t.Fatalf("NextID: %v", err)
			}
			d, ok := found[id]
			if !ok {
				continue
			}
			inc := incident(id, t0.Add(d))
			mustApply(t, f.store, workflow.Change{Incident: inc})
			if id == "YQ-3" {
				resolved := bump(inc)
				resolved.Status = workflow.StatusResolved
				resolved.ResolvedAt = t0.Add(30 * time.Minute)
				mustApply(t, f.store, workflow.Change{Prev: inc, Incident: resolved})
			}
		}

		tests := []struct {
			name  string
			since time.Time
			max   int
			want  []string
		}{
			{"everything since the start, by discovery", t0.Add(-72 * time.Hour), 100, []string{"YQ-1", "YQ-3", "YQ-2", "YQ-6", "YQ-5"}},
			{"since excludes older discoveries", t0.Add(-time.Hour), 100, []string{"YQ-3", "YQ-2", "YQ-6", "YQ-5"}},
			{"since is inclusive", t0, 100, []string{"YQ-3", "YQ-2", "YQ-6", "YQ-5"}},
			{"max counts IDs from the newest, gaps included", t0.Add(-72 * time.Hour), 3, []string{"YQ-6", "YQ-5"}},
			{"max of one", t0.Add(-72 * time.Hour), 1, []string{"YQ-6"}},
			{"max larger than the counter", t0.Add(-72 * time.Hour), 1000, []string{"YQ-1", "YQ-3", "YQ-2", "YQ-6", "YQ-5"}},
			{"zero max", t0.Add(-72 * time.Hour), 0, nil},
			{"since after everything", t0.Add(24 * time.Hour), 100, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := f.store.Recent(ctx, tt.since, tt.max)
				if err != nil {
					t.Fatalf("Recent: %v", err)
				}
				if !slices.Equal(ids(got), tt.want) {
					t.Errorf("Recent(%s, %d): got %q, want %q", tt.since, tt.max, ids(got), tt.want)
				}
			})
		}

		t.Run("resolved incidents come back whole", func(t *testing.T) {
			got, err := f.store.Recent(ctx, t0, 100)
			if err != nil {
				t.Fatalf("Recent: %v", err)
			}
			i := slices.IndexFunc(got, func(inc *workflow.Incident) bool { return inc.ID == "YQ-3" })
			if i < 0 {
				t.Fatalf("got %q, want YQ-3 among them", ids(got))
			}
			if got[i].Status != workflow.StatusResolved || got[i].Version != 2 || !got[i].ResolvedAt.Equal(t0.Add(30*time.Minute)) {
				t.Errorf("YQ-3: got status %s v%d resolved %s, want resolved v2 at %s",
					got[i].Status, got[i].Version, got[i].ResolvedAt, t0.Add(30*time.Minute))
			}
		})
	})
}
