package redis_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// sentTwice sends every call twice while on, and gives the caller the
// second reply: what go-redis does when a reply times out during a Redis
// stall (it sends the command again on another connection) and the first
// copy ran when Redis came back. Installed after the Store's own hooks, it
// sits where go-redis's retry does, below them.
type sentTwice struct{ on atomic.Bool }

func (h *sentTwice) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *sentTwice) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.on.Load() && !handshake(cmd) {
			_ = next(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}

func (h *sentTwice) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if h.on.Load() && len(cmds) > 0 && !handshake(cmds[0]) {
			_ = next(ctx, cmds)
		}
		return next(ctx, cmds)
	}
}

// resend installs the guard's hook (a first Once), then sentTwice, off.
func resend(f fixture) *sentTwice {
	f.store.Once(ctx, "install", time.Second)
	h := &sentTwice{}
	f.client.AddHook(h)
	return h
}

func eventCount(tb testing.TB, f fixture, id string) int {
	tb.Helper()
	_, evs, err := f.store.History(ctx, id)
	if err != nil {
		tb.Fatalf("History %s: %v", id, err)
	}
	return len(evs)
}

// A change sent twice is written once and succeeds: no conflict (on which
// the Service would apply the transition again), one event.
func TestApplySentTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		twice := resend(f)
		inc := incident("YQ-1", t0)
		twice.on.Store(true)
		if err := f.store.Apply(ctx, workflow.Change{Incident: inc, Events: events(inc, workflow.EventOpened)}); err != nil {
			t.Fatalf("Apply of a new incident, sent twice: %v", err)
		}
		next := inc.Clone()
		next.Version, next.Title = 2, "updated once"
		if err := f.store.Apply(ctx, workflow.Change{Prev: inc, Incident: next, Events: events(next, workflow.EventUpdated)}); err != nil {
			t.Fatalf("Apply of a change, sent twice: %v", err)
		}
		twice.on.Store(false)
		if got := mustGet(t, f.store, "YQ-1"); got.Version != 2 || got.Title != "updated once" {
			t.Errorf("after two changes sent twice: version %d %q, want version 2", got.Version, got.Title)
		}
		if n := eventCount(t, f, "YQ-1"); n != 2 {
			t.Errorf("events: got %d, want 2 (each change once)", n)
		}
		// A change from the same version that is not this one still conflicts.
		other := inc.Clone()
		other.Version, other.Title = 2, "someone else's"
		if err := f.store.Apply(ctx, workflow.Change{Prev: inc, Incident: other, Events: events(other, workflow.EventUpdated)}); err != workflow.ErrConflict {
			t.Errorf("another change from version 1: got %v, want ErrConflict", err)
		}
	})
}

// A request's guard sent twice is still the request's: the copy of the
// SET that finds the key taken finds this guard's own token.
func TestOnceSentTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		twice := resend(f)
		inc := incident("YQ-1", t0)
		mustApply(t, f.store, workflow.Change{Incident: inc, Events: events(inc, workflow.EventOpened)})
		twice.on.Store(true)

		read, o := f.store.Once(ctx, "slack:cmd:read", time.Minute)
		if _, err := f.store.Get(read, "YQ-1"); err != nil {
			t.Fatalf("Get with the guard, sent twice: %v", err)
		}
		wantFirst(t, o, true)

		write, o := f.store.Once(ctx, "slack:cmd:write", time.Minute)
		next := inc.Clone()
		next.Version = 2
		if err := f.store.Apply(write, workflow.Change{Prev: inc, Incident: next, Events: events(next, workflow.EventUpdated)}); err != nil {
			t.Fatalf("Apply with the guard, sent twice: %v", err)
		}
		wantFirst(t, o, true)

		open, o := f.store.Once(ctx, "slack:cmd:open", time.Minute)
		if _, _, err := f.store.NextID(open, "dept:office"); err != nil {
			t.Fatalf("NextID with the guard, sent twice: %v", err)
		}
		wantFirst(t, o, true)

		twice.on.Store(false)
		copyOf, o := f.store.Once(ctx, "slack:cmd:open", time.Minute)
		_, _, err := f.store.NextID(copyOf, "dept:office")
		wantRepeated(t, "NextID", err)
		wantFirst(t, o, false)
	})
}

// A Telegram update's claim sent twice is the try's own.
func TestClaimUpdateSentTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		twice := resend(f)
		st := f.store.PlatformState("telegram")
		twice.on.Store(true)
		claimed, done, _, err := st.ClaimUpdate(ctx, 7, "try-1", time.Minute)
		twice.on.Store(false)
		if err != nil || !claimed || done {
			t.Fatalf("claim sent twice: got claimed=%v done=%v, %v; want claimed", claimed, done, err)
		}
		if claimed, _, _, _ := st.ClaimUpdate(ctx, 7, "try-2", time.Minute); claimed {
			t.Errorf("another try while the first holds it: claimed, want refused")
		}
	})
}

// A candidate's change sent twice is written once and succeeds.
func TestApplyCandidateSentTwice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		twice := resend(f)
		mustReceive(t, f.store, arrival(post{source: "weibo", url: "https://weibo.com/post/5", title: "Bus route cancelled"}, t0))
		prev := mustCandidate(t, f.store, "IT-1")
		c := prev.Clone()
		c.Version++
		c.State, c.DecidedBy, c.DecidedAt, c.Reason = workflow.CandidateDismissed, "chen", t0.Add(time.Minute), "old news"
		twice.on.Store(true)
		err := f.store.ApplyCandidate(ctx, workflow.CandidateChange{Prev: prev, Candidate: c})
		twice.on.Store(false)
		if err != nil {
			t.Fatalf("ApplyCandidate sent twice: %v", err)
		}
		if got := mustCandidate(t, f.store, "IT-1"); got.Version != 2 || got.DecidedBy != "chen" {
			t.Errorf("after it: v%d by %q, want v2 by chen", got.Version, got.DecidedBy)
		}
	})
}
