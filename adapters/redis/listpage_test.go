package redis_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// The pages of the urgent and the resolved lists read a few members of
// each shard's index first and more of a shard only when the merge needs
// them (shardTops): these tests put the first members of a list in one
// shard, and compare random pages with the whole list.

// TestListPageCrowdedShard: when one shard holds the 25 most urgent
// incidents, the first page and the second are still those of the whole
// list; the first takes one round trip more (the rest of that shard's
// first 20), a page the shards' first members hold takes none.
func TestListPageCrowdedShard(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		crowded := f.store.Shard("YQ-1")
		var in, out []string // incidents of the crowded shard, and of others
		for i := 1; len(in) < 25 || len(out) < 25; i++ {
			id := fmt.Sprintf("YQ-%d", i)
			if f.store.Shard(id) == crowded {
				in = append(in, id)
			} else {
				out = append(out, id)
			}
		}
		in, out = in[:25], out[:25]
		// The crowded shard's are due first, in order; the others after.
		for i, id := range slices.Concat(in, out) {
			mustApply(t, f.store, workflow.Change{Incident: incident(id, t0), NextDue: t0.Add(time.Duration(i+1) * time.Minute)})
		}
		want := slices.Concat(in, out)
		trips := countTrips(f)
		for _, tt := range []struct {
			q     workflow.ListQuery
			trips int64
		}{
			// The first 20 are the crowded shard's, beyond the members
			// read of it first.
			{workflow.ListQuery{Urgent: true, Limit: 20}, 3},
			{workflow.ListQuery{Urgent: true, Offset: 20, Limit: 20}, 3},
			// The first 2 are among every shard's first members.
			{workflow.ListQuery{Urgent: true, Limit: 2}, 2},
		} {
			trips.n.Store(0)
			p, err := f.store.ListPage(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			end := min(tt.q.Offset+tt.q.Limit, len(want))
			if got := ids(p.Incidents); !slices.Equal(got, want[tt.q.Offset:end]) || p.Total != len(want) {
				t.Errorf("ListPage(%+v): got %q of %d, want %q of %d", tt.q, got, p.Total, want[tt.q.Offset:end], len(want))
			}
			if n := trips.n.Load(); n != tt.trips {
				t.Errorf("ListPage(%+v): %d round trips, want %d", tt.q, n, tt.trips)
			}
		}

		// Resolved, the first three in the crowded shard: its two members
		// read first hold the page of two, in the index's own order, so
		// no more is read of it.
		for i, id := range []string{in[0], in[1], in[2], out[0]} {
			inc := mustGet(t, f.store, id)
			next := bump(inc)
			next.Status, next.ResolvedAt = workflow.StatusResolved, t0.Add(time.Duration(i+1)*time.Hour)
			mustApply(t, f.store, workflow.Change{Prev: inc, Incident: next})
		}
		trips.n.Store(0)
		q := workflow.ListQuery{Filter: workflow.ListResolved, Limit: 2}
		p, err := f.store.ListPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p.Incidents); !slices.Equal(got, in[:2]) || p.Total != 4 {
			t.Errorf("ListPage(%+v): got %q of %d, want %q of 4", q, got, p.Total, in[:2])
		}
		if n := trips.n.Load(); n != 2 {
			t.Errorf("ListPage(%+v): %d round trips, want 2", q, n)
		}
	})
}

// TestListPagesMatchTheWholeList: random incidents, due or not, some
// resolved, in stores of 1, 3 and 16 shards; every page of the urgent, the
// overdue and the resolved list, of random sizes, is that part of the
// whole list read without a limit.
func TestListPagesMatchTheWholeList(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	forEachBackend(t, func(t *testing.T, f fixture) {
		rng := rand.New(rand.NewPCG(seed, 15))
		for _, shards := range []int{1, 3, 16} {
			store := redis.New(f.client, redis.Options{Prefix: fmt.Sprintf("%s:n%d", f.prefix, shards), Shards: shards})
			for i := 1; i <= 120; i++ {
				inc := incident(fmt.Sprintf("YQ-%d", i), t0.Add(time.Duration(rng.IntN(600))*time.Minute))
				c := workflow.Change{Incident: inc}
				if rng.IntN(4) > 0 {
					// Due times collide often, so that ties are ordered by ID.
					c.NextDue = t0.Add(time.Duration(rng.IntN(40)) * time.Hour)
				}
				mustApply(t, store, c)
				if rng.IntN(5) == 0 {
					next := bump(inc)
					next.Status = workflow.StatusResolved
					next.ResolvedAt = t0.Add(time.Duration(rng.IntN(50)) * time.Hour)
					mustApply(t, store, workflow.Change{Prev: inc, Incident: next})
				}
			}
			for _, q := range []workflow.ListQuery{
				{Urgent: true},
				{Filter: workflow.ListOverdue, Urgent: true, Now: t0.Add(20 * time.Hour)},
				{Filter: workflow.ListResolved},
			} {
				whole := ids(mustList(t, store, q))
				for range 20 {
					page := q
					page.Limit = 1 + rng.IntN(30)
					page.Offset = rng.IntN(len(whole) + 5)
					p, err := store.ListPage(ctx, page)
					if err != nil {
						t.Fatal(err)
					}
					from, to := min(page.Offset, len(whole)), min(page.Offset+page.Limit, len(whole))
					if got := ids(p.Incidents); !slices.Equal(got, whole[from:to]) || p.Total != len(whole) {
						t.Errorf("%d shards, seed %d: ListPage(%+v): got %q of %d, want %q of %d",
							shards, seed, page, got, p.Total, whole[from:to], len(whole))
					}
				}
			}
		}
	})
}

// BenchmarkListPage reads the first page of the urgent list, and the
// second, with 10,000 open incidents in 16 shards, on a real Redis: the
// read behind `/incident list` (docs/benchmarks.md).
func BenchmarkListPage(b *testing.B) {
	c, prefix := redistest.Client(b), redistest.Prefix(b)
	store := redis.New(c, redis.Options{Prefix: prefix})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 1; i <= 10_000; i++ {
		inc := incident(fmt.Sprintf("YQ-%d", i), t0.Add(time.Duration(rng.IntN(600))*time.Minute))
		mustApply(b, store, workflow.Change{Incident: inc, NextDue: t0.Add(time.Duration(rng.IntN(48*60)) * time.Minute)})
	}
	for _, q := range []workflow.ListQuery{{Urgent: true, Limit: 20}, {Urgent: true, Offset: 20, Limit: 20}} {
		b.Run(fmt.Sprintf("offset=%d", q.Offset), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p, err := store.ListPage(ctx, q); err != nil || len(p.Incidents) != 20 {
					b.Fatalf("ListPage: %d incidents, %v", len(p.Incidents), err)
				}
			}
		})
	}
}
