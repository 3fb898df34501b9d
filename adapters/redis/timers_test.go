package redis_test

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// The Timers contract, against a real Redis and miniredis.

// plan creates incident id with timers due at the given offsets from t0,
// named "<id>:<name>".
func plan(tb testing.TB, f fixture, id string, dues map[string]time.Duration) *workflow.Incident {
	tb.Helper()
	inc := incident(id, t0)
	mustApply(tb, f.store, workflow.Change{Incident: inc, Timers: timers(id, dues)})
	return inc
}

// replan writes the next version of inc with the given timers.
func replan(tb testing.TB, f fixture, inc *workflow.Incident, dues map[string]time.Duration) *workflow.Incident {
	tb.Helper()
	next := bump(inc)
	mustApply(tb, f.store, workflow.Change{Prev: inc, Incident: next, Timers: timers(inc.ID, dues)})
	return next
}

func timers(id string, dues map[string]time.Duration) []workflow.Timer {
	var ts []workflow.Timer
	for name, d := range dues {
		ts = append(ts, workflow.Timer{ID: id + ":" + name, Incident: id, Due: t0.Add(d)})
	}
	return ts
}

func due(id, name string, d time.Duration) workflow.DueTimer {
	return workflow.DueTimer{ID: id + ":" + name, Incident: id, Due: t0.Add(d).Truncate(time.Millisecond)}
}

func mustClaim(tb testing.TB, f fixture, now time.Time, lease time.Duration, max int) []workflow.DueTimer {
	tb.Helper()
	ts, err := f.store.ClaimDue(ctx, now, lease, max)
	if err != nil {
		tb.Fatalf("ClaimDue(%v): %v", now, err)
	}
	return ts
}

func mustAckTimer(tb testing.TB, f fixture, t workflow.DueTimer) {
	tb.Helper()
	if err := f.store.AckTimer(ctx, t); err != nil {
		tb.Fatalf("AckTimer(%s): %v", t.ID, err)
	}
}

func wantClaimed(tb testing.TB, got []workflow.DueTimer, want ...workflow.DueTimer) {
	tb.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].ID == want[i].ID && got[i].Incident == want[i].Incident && got[i].Due.Equal(want[i].Due)
	}
	if !same {
		tb.Errorf("claimed:\ngot  %v\nwant %v", show(got), show(want))
	}
}

func show(ts []workflow.DueTimer) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s(%s)@%s", t.ID, t.Incident, t.Due.UTC().Format("15:04:05.000")))
	}
	return out
}

// inFlight returns the in-flight timers of id's shard: ID -> claimed due
// millis, read from the documented keys.
func inFlight(tb testing.TB, f fixture, id string) map[string]int64 {
	tb.Helper()
	members, err := f.client.ZRange(ctx, f.key(id, "inflight"), 0, -1).Result()
	if err != nil {
		tb.Fatal(err)
	}
	claims, err := f.client.HGetAll(ctx, f.key(id, "claimdue")).Result()
	if err != nil {
		tb.Fatal(err)
	}
	if len(claims) != len(members) {
		tb.Errorf("claimdue has %d entries, inflight %d", len(claims), len(members))
	}
	out := map[string]int64{}
	for _, m := range members {
		var ms int64
		var inc string
		if _, err := fmt.Sscanf(claims[m], "%d %s", &ms, &inc); err != nil {
			tb.Errorf("claimdue %s: %q: %v", m, claims[m], err)
		}
		out[m] = ms
	}
	return out
}

func TestClaimDue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		plan(t, f, "YQ-1", map[string]time.Duration{"assign:due": 30 * time.Minute, "respond:due": 3 * time.Hour})
		plan(t, f, "YQ-2", map[string]time.Duration{"assign:half": 15 * time.Minute, "assign:due": 30 * time.Minute})
		plan(t, f, "YQ-3", map[string]time.Duration{"assign:due": 2 * time.Hour})
		if f.store.Shard("YQ-1") == f.store.Shard("YQ-2") {
			t.Fatal("the test wants YQ-1 and YQ-2 in different shards")
		}

		now := t0.Add(30 * time.Minute)
		got := mustClaim(t, f, now, time.Minute, 100)
		wantClaimed(t, got,
			due("YQ-2", "assign:half", 15*time.Minute),
			due("YQ-1", "assign:due", 30*time.Minute),
			due("YQ-2", "assign:due", 30*time.Minute))
		if again := mustClaim(t, f, now, time.Minute, 100); len(again) != 0 {
			t.Errorf("claimed twice: %v", show(again))
		}
		wantTimers(t, f, "YQ-1", map[string]time.Time{"YQ-1:respond:due": t0.Add(3 * time.Hour)})
		if got, want := inFlight(t, f, "YQ-1"), map[string]int64{"YQ-1:assign:due": t0.Add(30 * time.Minute).UnixMilli()}; !reflect.DeepEqual(got, want) {
			t.Errorf("in flight: got %v, want %v", got, want)
		}
		lease, err := f.client.ZScore(ctx, f.key("YQ-1", "inflight"), "YQ-1:assign:due").Result()
		if want := now.Add(time.Minute).UnixMilli(); err != nil || int64(lease) != want {
			t.Errorf("lease: got %v, %v, want %d", int64(lease), err, want)
		}
	})
}

func TestClaimDueTakesTheEarliestAcrossShards(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		// 40 incidents spread over the shards, due one a minute in an
		// order unrelated to their shards.
		var want []workflow.DueTimer
		for i := range 40 {
			id := fmt.Sprintf("YQ-%d", i+1)
			d := time.Duration((i*17)%40) * time.Minute
			plan(t, f, id, map[string]time.Duration{"respond:due": d})
			want = append(want, due(id, "respond:due", d))
		}
		slices.SortFunc(want, func(a, b workflow.DueTimer) int { return a.Due.Compare(b.Due) })

		now := t0.Add(time.Hour)
		var got []workflow.DueTimer
		for range 8 {
			batch := mustClaim(t, f, now, time.Minute, 5)
			if len(batch) != 5 {
				t.Fatalf("claimed %d, want 5", len(batch))
			}
			got = append(got, batch...)
		}
		wantClaimed(t, got, want...)
		if rest := mustClaim(t, f, now, time.Minute, 5); len(rest) != 0 {
			t.Errorf("claimed more: %v", show(rest))
		}
		if got := mustClaim(t, f, now, time.Minute, 0); len(got) != 0 {
			t.Errorf("ClaimDue max 0: got %v, want none", show(got))
		}
	})
}

func TestClaimDueTakesOverAnExpiredLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		inc := plan(t, f, "YQ-4", map[string]time.Duration{"respond:due": 0, "respond:half": time.Hour})
		now := t0.Add(time.Minute)
		first := mustClaim(t, f, now, 30*time.Second, 10)
		wantClaimed(t, first, due("YQ-4", "respond:due", 0))

		// The claimer died. Meanwhile the incident was re-planned without
		// the timer, which forgets its timerinc entry.
		replan(t, f, inc, map[string]time.Duration{"respond:half": time.Hour})
		if got := mustClaim(t, f, now.Add(29*time.Second), 30*time.Second, 10); len(got) != 0 {
			t.Errorf("claimed before the lease expired: %v", show(got))
		}
		later := now.Add(30 * time.Second)
		again := mustClaim(t, f, later, 30*time.Second, 10)
		wantClaimed(t, again, due("YQ-4", "respond:due", 0))
		lease, _ := f.client.ZScore(ctx, f.key("YQ-4", "inflight"), "YQ-4:respond:due").Result()
		if want := later.Add(30 * time.Second).UnixMilli(); int64(lease) != want {
			t.Errorf("renewed lease: got %d, want %d", int64(lease), want)
		}

		mustAckTimer(t, f, again[0])
		if got := inFlight(t, f, "YQ-4"); len(got) != 0 {
			t.Errorf("in flight after ack: %v", got)
		}
		// The first claimer comes back and acks late: nothing happens.
		mustAckTimer(t, f, first[0])
		if got := mustClaim(t, f, t0.Add(24*time.Hour), time.Minute, 10); len(got) != 1 || got[0].ID != "YQ-4:respond:half" {
			t.Errorf("claim: got %v, want only YQ-4:respond:half", show(got))
		}
	})
}

func TestAckTimer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		plan(t, f, "YQ-5", map[string]time.Duration{"assign:due": 0, "respond:due": time.Hour})
		claimed := mustClaim(t, f, t0, time.Minute, 10)
		wantClaimed(t, claimed, due("YQ-5", "assign:due", 0))
		mustAckTimer(t, f, claimed[0])

		if got := inFlight(t, f, "YQ-5"); len(got) != 0 {
			t.Errorf("in flight after ack: %v", got)
		}
		// The fired timer leaves the incident's bookkeeping; the pending
		// one stays.
		if got := f.client.HKeys(ctx, f.key("YQ-5", "timerinc")).Val(); !slices.Equal(got, []string{"YQ-5:respond:due"}) {
			t.Errorf("timerinc: got %q, want [YQ-5:respond:due]", got)
		}
		if got := f.client.SMembers(ctx, f.key("YQ-5", "itimers:YQ-5")).Val(); !slices.Equal(got, []string{"YQ-5:respond:due"}) {
			t.Errorf("itimers: got %q, want [YQ-5:respond:due]", got)
		}
		mustAckTimer(t, f, claimed[0]) // twice: nothing happens
		if err := f.store.AckTimer(ctx, workflow.DueTimer{ID: "YQ-5:respond:due", Due: t0}); err == nil {
			t.Error("AckTimer without incident: got nil, want an error")
		}
	})
}

func TestAckKeepsATimerReplannedInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		inc := plan(t, f, "YQ-6", map[string]time.Duration{"update:next": 0})
		first := mustClaim(t, f, t0, time.Hour, 10)
		wantClaimed(t, first, due("YQ-6", "update:next", 0))

		// While it is handled, a transition plans the same timer again.
		inc = replan(t, f, inc, map[string]time.Duration{"update:next": 2 * time.Hour})
		mustAckTimer(t, f, first[0])
		wantTimers(t, f, "YQ-6", map[string]time.Time{"YQ-6:update:next": t0.Add(2 * time.Hour)})
		if got := inFlight(t, f, "YQ-6"); len(got) != 0 {
			t.Errorf("in flight: got %v, want none", got)
		}
		if got := f.client.HGet(ctx, f.key("YQ-6", "timerinc"), "YQ-6:update:next").Val(); got != "YQ-6" {
			t.Errorf("timerinc: got %q, want YQ-6", got)
		}
		if ok := f.client.SIsMember(ctx, f.key("YQ-6", "itimers:YQ-6"), "YQ-6:update:next").Val(); !ok {
			t.Error("itimers lost the re-planned timer")
		}

		// Re-planned, due and claimed again before the old claim is
		// acknowledged: the old ack must not drop the new claim.
		second := mustClaim(t, f, t0.Add(3*time.Hour), time.Hour, 10)
		wantClaimed(t, second, due("YQ-6", "update:next", 2*time.Hour))
		replan(t, f, inc, map[string]time.Duration{"update:next": 4 * time.Hour})
		third := mustClaim(t, f, t0.Add(5*time.Hour), time.Hour, 10)
		wantClaimed(t, third, due("YQ-6", "update:next", 4*time.Hour))
		mustAckTimer(t, f, second[0])
		if got, want := inFlight(t, f, "YQ-6"), map[string]int64{"YQ-6:update:next": t0.Add(4 * time.Hour).UnixMilli()}; !reflect.DeepEqual(got, want) {
			t.Errorf("in flight after a stale ack: got %v, want %v", got, want)
		}
		mustAckTimer(t, f, third[0])
		if got := inFlight(t, f, "YQ-6"); len(got) != 0 {
			t.Errorf("in flight: got %v, want none", got)
		}
	})
}

func TestApplyLeavesInFlightTimers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		inc := plan(t, f, "YQ-7", map[string]time.Duration{"assign:due": 0})
		claimed := mustClaim(t, f, t0, time.Minute, 10)
		v2 := bump(inc)
		v2.Status = workflow.StatusResolved
		mustApply(t, f.store, workflow.Change{Prev: inc, Incident: v2})
		if got := inFlight(t, f, "YQ-7"); len(got) != 1 {
			t.Errorf("in flight after Apply: got %v, want the claimed timer", got)
		}
		mustAckTimer(t, f, claimed[0])
		if got := inFlight(t, f, "YQ-7"); len(got) != 0 {
			t.Errorf("in flight after ack: got %v, want none", got)
		}
	})
}

func TestNextDue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		if _, ok, err := f.store.NextDue(ctx); ok || err != nil {
			t.Fatalf("NextDue of nothing: got %v, %v, want false, nil", ok, err)
		}
		plan(t, f, "YQ-1", map[string]time.Duration{"assign:due": 30 * time.Minute})
		plan(t, f, "YQ-2", map[string]time.Duration{"assign:due": 10 * time.Minute, "respond:due": time.Hour})
		wantNext := func(want time.Time) {
			t.Helper()
			got, ok, err := f.store.NextDue(ctx)
			if !ok || err != nil || !got.Equal(want.Truncate(time.Millisecond)) {
				t.Errorf("NextDue: got %v, %v, %v, want %v", got, ok, err, want)
			}
		}
		wantNext(t0.Add(10 * time.Minute))
		// In flight counts at its lease expiry.
		mustClaim(t, f, t0.Add(10*time.Minute), 5*time.Minute, 10)
		wantNext(t0.Add(15 * time.Minute))
		mustClaim(t, f, t0.Add(15*time.Minute), 30*time.Minute, 10)
		wantNext(t0.Add(30 * time.Minute))
	})
}

func TestApplyPublishesSoonerTimers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		ps := f.client.Subscribe(ctx, f.prefix+":timers:wake")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
		other := sameShardID(t, f.store, "YQ-1")
		plan(t, f, "YQ-1", map[string]time.Duration{"respond:due": time.Hour, "assign:due": 30 * time.Minute})
		plan(t, f, other, map[string]time.Duration{"respond:due": 2 * time.Hour}) // later: no wake-up
		plan(t, f, "YQ-2", map[string]time.Duration{"respond:due": 3 * time.Hour})
		plan(t, f, sameShardID(t, f.store, "YQ-2"), map[string]time.Duration{"assign:due": 5 * time.Minute})
		mustApply(t, f.store, workflow.Change{Incident: incident("YQ-3", t0)}) // no timers

		var got []string
		for range 3 {
			select {
			case m := <-ps.Channel():
				got = append(got, m.Payload)
			case <-time.After(5 * time.Second):
				t.Fatalf("wake-ups: got %q, then nothing for 5s", got)
			}
		}
		ms := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).UnixMilli(), 10) }
		if want := []string{ms(30 * time.Minute), ms(3 * time.Hour), ms(5 * time.Minute)}; !slices.Equal(got, want) {
			t.Errorf("wake-ups: got %q, want %q", got, want)
		}
	})
}

func TestWakeUps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		wake, stop := f.store.WakeUps(ctx)
		defer stop()
		plan(t, f, "YQ-1", map[string]time.Duration{"respond:due": time.Hour, "assign:due": 30 * time.Minute})
		select {
		case got := <-wake:
			if want := t0.Add(30 * time.Minute).Truncate(time.Millisecond); !got.Equal(want) {
				t.Errorf("wake-up: got %v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no wake-up within 5s")
		}
		stop()
		if _, ok := <-wake; ok {
			t.Error("wake-up channel still open after stop")
		}
		stop() // twice is fine
	})
}

func TestClaimKeysShareTheShardTag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		plan(t, f, "YQ-42", map[string]time.Duration{"assign:due": 0, "respond:due": time.Hour})
		mustClaim(t, f, t0, time.Minute, 10)
		tag := regexp.MustCompile(`^` + regexp.QuoteMeta(f.prefix) + `:\{(s\d\d)\}:`)
		var written []string
		for _, k := range mustKeys(t, f, "*") {
			m := tag.FindStringSubmatch(k)
			if m == nil || m[1] != f.store.Shard("YQ-42") {
				t.Errorf("key %q: want the shard tag {%s} after the prefix", k, f.store.Shard("YQ-42"))
				continue
			}
			written = append(written, strings.TrimPrefix(k, m[0]))
		}
		slices.Sort(written)
		// due: every open incident is in the due index (urgent order of list).
		want := []string{"claimdue", "due", "inc:YQ-42", "inflight", "itimers:YQ-42", "open", "timerinc", "timers"}
		if !slices.Equal(written, want) {
			t.Errorf("keys after Apply and ClaimDue:\ngot  %q\nwant %q", written, want)
		}
	})
}

// TestOutboxWakeUps: a change that appends notices, and Enqueue, announce
// it, so idle dispatchers deliver at once; a change without notices does not.
func TestOutboxWakeUps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		wake, stop := f.store.OutboxWakeUps(ctx)
		defer stop()
		woken := func() bool {
			select {
			case <-wake:
				return true
			case <-time.After(300 * time.Millisecond):
				return false
			}
		}
		inc := plan(t, f, "YQ-1", map[string]time.Duration{"assign:due": time.Hour})
		if woken() {
			t.Error("wake-up after a change without notices: got one, want none")
		}
		next := bump(inc)
		mustApply(t, f.store, workflow.Change{Prev: inc, Incident: next, Notices: []workflow.Notice{
			{ID: "YQ-1#2.1>incidents", Incident: "YQ-1", Audience: workflow.ChannelIncidents, Body: []byte("{}")}}})
		if !woken() {
			t.Error("no wake-up after a change that appended a notice")
		}
		if err := f.store.Enqueue(ctx, []workflow.Notice{{ID: "digest:daily>incidents",
			Audience: workflow.ChannelIncidents, Body: []byte("{}")}}); err != nil {
			t.Fatal(err)
		}
		if !woken() {
			t.Error("no wake-up after Enqueue")
		}
		stop()
		if _, ok := <-wake; ok {
			t.Error("wake-up channel still open after stop")
		}
	})
}
