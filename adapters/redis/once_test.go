package redis_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// countTrips installs the guard's hook (a first Once) and then a counter
// (roundTrips), which then sees what the guard makes of each call.
func countTrips(f fixture) *roundTrips {
	f.store.Once(ctx, "install", time.Second)
	r := &roundTrips{}
	f.client.AddHook(r)
	return r
}

func wantRepeated(tb testing.TB, what string, err error) {
	tb.Helper()
	if !errors.Is(err, bot.ErrRepeated) {
		tb.Fatalf("%s of a second copy: got %v, want bot.ErrRepeated", what, err)
	}
}

func wantFirst(tb testing.TB, o bot.Once, want bool) {
	tb.Helper()
	if first, ok, err := o.Decided(); err != nil || !ok || first != want {
		tb.Fatalf("Decided: got first %v, decided %v, %v, want first %v", first, ok, err, want)
	}
}

// A read carries the guard's SET in its own round trip; a second copy of
// the request reads nothing and can write nothing.
func TestOnceTakesTheKeyWithTheFirstRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		inc := incident("YQ-1", t0)
		mustApply(t, f.store, workflow.Change{Incident: inc, Events: events(inc, workflow.EventOpened)})
		trips := countTrips(f)

		one, o1 := f.store.Once(ctx, "slack:cmd:a", time.Minute)
		got, err := f.store.Get(one, "YQ-1")
		if err != nil || got.Version != 1 {
			t.Fatalf("Get of the first copy: got %v, %v", got, err)
		}
		if n := trips.n.Load(); n != 1 {
			t.Errorf("first read: %d round trips, want 1 (the SET with the read)", n)
		}
		wantFirst(t, o1, true)
		if _, _, err := f.store.History(one, "YQ-1"); err != nil {
			t.Fatalf("History of the first copy: %v", err)
		}
		if n := trips.n.Load(); n != 2 {
			t.Errorf("First and a second read: %d round trips in all, want 2", n)
		}

		two, o2 := f.store.Once(ctx, "slack:cmd:a", time.Minute)
		_, err = f.store.Get(two, "YQ-1")
		wantRepeated(t, "Get", err)
		next := inc.Clone()
		next.Version, next.Title = 2, "changed by a replay"
		err = f.store.Apply(two, workflow.Change{Prev: inc, Incident: next, Events: events(next, workflow.EventUpdated)})
		wantRepeated(t, "Apply", err)
		wantFirst(t, o2, false)
		if got := mustGet(t, f.store, "YQ-1"); got.Version != 1 || got.Title != inc.Title {
			t.Errorf("after the second copy: version %d %q, want version 1 unchanged", got.Version, got.Title)
		}
	})
}

// A write waits for the SET; a second copy's write is refused before it
// is sent.
func TestOnceTakesTheKeyBeforeAWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		trips := countTrips(f)
		inc := incident("YQ-1", t0)
		one, o1 := f.store.Once(ctx, "k", time.Minute)
		if err := f.store.Apply(one, workflow.Change{Incident: inc, Events: events(inc, workflow.EventOpened)}); err != nil {
			t.Fatalf("Apply of the first copy: %v", err)
		}
		wantFirst(t, o1, true)
		if n := trips.n.Load(); n < 2 {
			t.Errorf("a write first: %d round trips, want the SET alone, then the write", n)
		}
		two, o2 := f.store.Once(ctx, "k", time.Minute)
		before := trips.n.Load()
		err := f.store.Apply(two, workflow.Change{Incident: incident("YQ-2", t0), Events: events(incident("YQ-2", t0), workflow.EventOpened)})
		wantRepeated(t, "Apply", err)
		if n := trips.n.Load() - before; n != 1 {
			t.Errorf("the second copy: %d round trips, want 1 (the SET that failed)", n)
		}
		wantFirst(t, o2, false)
		if _, err := f.store.Get(ctx, "YQ-2"); workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Errorf("YQ-2 after the second copy: got %v, want it never written", err)
		}
	})
}

// NextID takes the key in its script: one round trip allocates the ID, the
// rotation's turn and the guard; a second copy allocates nothing.
func TestOnceInNextID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		if _, _, err := f.store.NextID(ctx, ""); err != nil { // YQ-1, and the script cached
			t.Fatal(err)
		}
		trips := countTrips(f)
		one, o1 := f.store.Once(ctx, "open", time.Minute)
		id, turn, err := f.store.NextID(one, "dept:office")
		if err != nil || id != "YQ-2" || turn != 0 {
			t.Fatalf("NextID of the first copy: got %q turn %d, %v, want YQ-2 turn 0", id, turn, err)
		}
		if n := trips.n.Load(); n != 1 {
			t.Errorf("NextID with a guard: %d round trips, want 1", n)
		}
		wantFirst(t, o1, true)
		two, o2 := f.store.Once(ctx, "open", time.Minute)
		_, _, err = f.store.NextID(two, "dept:office")
		wantRepeated(t, "NextID", err)
		wantFirst(t, o2, false)
		id, turn, err = f.store.NextID(ctx, "dept:office")
		if err != nil || id != "YQ-3" || turn != 1 {
			t.Errorf("NextID after the second copy: got %q turn %d, %v, want YQ-3 turn 1 (the copy took neither)", id, turn, err)
		}
		if n, err := f.store.RoundRobin(ctx, "dept:office"); err != nil || n != 2 {
			t.Errorf("RoundRobin after NextID took two turns: got %d, %v, want 2 (one counter)", n, err)
		}
	})
}

// Copies racing: exactly one is first, and only it allocates.
func TestOnceCopiesRacing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		const copies = 16
		var (
			wg    sync.WaitGroup
			first atomic.Int64
		)
		for i := range copies {
			wg.Go(func() {
				c, o := f.store.Once(ctx, "race", time.Minute)
				var err error
				if i%2 == 0 {
					_, err = f.store.Get(c, "YQ-404") // a read first, as an update does
				}
				if err == nil || workflow.ErrorCode(err) == workflow.CodeNotFound {
					_, _, err = f.store.NextID(c, "")
				}
				ok, decided, ferr := o.Decided()
				switch {
				case ferr != nil || !decided:
					t.Errorf("copy %d: Decided: %v, %v", i, decided, ferr)
				case ok && err != nil:
					t.Errorf("copy %d: first, but NextID: %v", i, err)
				case !ok && !errors.Is(err, bot.ErrRepeated):
					t.Errorf("copy %d: not first, but got %v", i, err)
				case ok:
					first.Add(1)
				}
			})
		}
		wg.Wait()
		if n := first.Load(); n != 1 {
			t.Errorf("%d copies were first, want 1", n)
		}
		if id, _, err := f.store.NextID(ctx, ""); err != nil || id != "YQ-2" {
			t.Errorf("NextID after the race: got %q, %v, want YQ-2 (one ID allocated)", id, err)
		}
	})
}

// A request that never reached the store took no key: it decided nothing,
// and a copy of it runs as the first.
func TestOnceUndecidedWithoutACall(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		_, o1 := f.store.Once(ctx, "help", time.Minute)
		if _, ok, err := o1.Decided(); ok || err != nil {
			t.Fatalf("a request with no call: got decided %v, %v, want undecided", ok, err)
		}
		c2, o2 := f.store.Once(ctx, "help", time.Minute)
		if _, err := f.store.Get(c2, "YQ-404"); workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Fatalf("Get: got %v, want not found", err)
		}
		wantFirst(t, o2, true)
	})
}
