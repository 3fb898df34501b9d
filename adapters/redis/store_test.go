package redis_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The contract suite runs every test against a real Redis (redistest) and
// against the embedded miniredis, which `firebreak` uses when no Redis is
// configured.

type fixture struct {
	store  *redis.Store
	client goredis.UniversalClient
	prefix string
}

var backends = []struct {
	name string
	open func(tb testing.TB) fixture
}{
	{"redis", func(tb testing.TB) fixture {
		c, prefix := redistest.Client(tb), redistest.Prefix(tb)
		return fixture{store: redis.New(c, redis.Options{Prefix: prefix}), client: c, prefix: prefix}
	}},
	{"miniredis", func(tb testing.TB) fixture {
		url, closeFn, err := redis.StartEmbedded()
		if err != nil {
			tb.Fatalf("StartEmbedded: %v", err)
		}
		tb.Cleanup(closeFn)
		c, err := redis.Dial(context.Background(), url)
		if err != nil {
			tb.Fatalf("Dial(%s): %v", url, err)
		}
		tb.Cleanup(func() { _ = c.Close() })
		return fixture{store: redis.New(c, redis.Options{Prefix: "fbt"}), client: c, prefix: "fbt"}
	}},
}

func forEachBackend(t *testing.T, test func(t *testing.T, f fixture)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b.open(t)) })
	}
}

// key names a per-shard key of the documented layout.
func (f fixture) key(id, name string) string {
	return f.prefix + ":{" + f.store.Shard(id) + "}:" + name
}

var (
	ctx  = context.Background()
	zone = time.FixedZone("CST", 8*3600)
	t0   = time.Date(2025, 3, 14, 9, 26, 53, 589793238, zone)
)

func TestNextID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		for _, want := range []string{"YQ-1", "YQ-2", "YQ-3"} {
			got, _, err := f.store.NextID(ctx, "")
			if err != nil || got != want {
				t.Fatalf("NextID: got %q, %v, want %q", got, err, want)
			}
		}
	})
}

func TestRoundRobin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		for _, step := range []struct {
			rotation string
			want     int64
		}{
			{"dept:office", 0}, {"dept:office", 1}, {"dept:press", 0}, {"dept:office", 2},
		} {
			got, err := f.store.RoundRobin(ctx, step.rotation)
			if err != nil || got != step.want {
				t.Fatalf("RoundRobin(%s): got %d, %v, want %d", step.rotation, got, err, step.want)
			}
		}
	})
}

func TestUnknownIncident(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		_, err := f.store.Get(ctx, "YQ-404")
		if got := workflow.ErrorCode(err); got != workflow.CodeNotFound {
			t.Errorf("Get: got code %q (%v), want %q", got, err, workflow.CodeNotFound)
		}
		if got, want := err.Error(), "no incident YQ-404"; got != want {
			t.Errorf("Get: got message %q, want %q", got, want)
		}
		_, _, err = f.store.History(ctx, "YQ-404")
		if got := workflow.ErrorCode(err); got != workflow.CodeNotFound {
			t.Errorf("History: got code %q (%v), want %q", got, err, workflow.CodeNotFound)
		}
	})
}

func TestApplyRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		want := fullIncident("YQ-1")
		mustApply(t, f.store, workflow.Change{Incident: want, Events: events(want, workflow.EventOpened)})
		got := mustGet(t, f.store, "YQ-1")
		for _, d := range diff("Incident", reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()) {
			t.Error(d)
		}
	})
}

func TestApplyConflict(t *testing.T) {
	// Each case builds a change from the two stored versions v1 and v2.
	for _, tc := range []struct {
		name string
		prev func(v1, v2 *workflow.Incident) *workflow.Incident
	}{
		{"create twice", func(v1, v2 *workflow.Incident) *workflow.Incident { return nil }},
		{"stale previous version", func(v1, v2 *workflow.Incident) *workflow.Incident { return v1 }},
		{"previous version from the future", func(v1, v2 *workflow.Incident) *workflow.Incident { return bump(v2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f fixture) {
				v1 := incident("YQ-7", t0)
				v1.Assignee = "chen"
				mustApply(t, f.store, fullChange(nil, v1, t0.Add(time.Hour)))
				v2 := bump(v1)
				v2.Assignee = "li"
				mustApply(t, f.store, fullChange(v1, v2, t0.Add(2*time.Hour)))
				before := snapshot(t, f, "YQ-7")

				next := v1.Clone()
				if prev := tc.prev(v1, v2); prev != nil {
					next = bump(prev)
				}
				next.Assignee, next.Status = "wang", workflow.StatusResolved
				err := f.store.Apply(ctx, fullChange(tc.prev(v1, v2), next, t0.Add(9*time.Hour)))
				if !errors.Is(err, workflow.ErrConflict) {
					t.Fatalf("Apply: got %v, want ErrConflict", err)
				}
				if after := snapshot(t, f, "YQ-7"); !reflect.DeepEqual(after, before) {
					t.Errorf("a failed Apply wrote something:\ngot  %v\nwant %v", after, before)
				}
				if got := mustGet(t, f.store, "YQ-7"); got.Version != 2 || got.Assignee != "li" {
					t.Errorf("Get: got version %d assignee %q, want 2 li", got.Version, got.Assignee)
				}
			})
		})
	}
	t.Run("previous of an incident never created", func(t *testing.T) {
		forEachBackend(t, func(t *testing.T, f fixture) {
			ghost := incident("YQ-77", t0)
			before := snapshot(t, f, "YQ-77")
			err := f.store.Apply(ctx, fullChange(ghost, bump(ghost), t0))
			if !errors.Is(err, workflow.ErrConflict) {
				t.Fatalf("Apply: got %v, want ErrConflict", err)
			}
			if after := snapshot(t, f, "YQ-77"); !reflect.DeepEqual(after, before) {
				t.Errorf("a failed Apply wrote something:\ngot  %v\nwant %v", after, before)
			}
		})
	})
}

func TestApplyRejectsMalformedChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		v1 := incident("YQ-1", t0)
		mustApply(t, f.store, workflow.Change{Incident: v1})
		sameVersion := v1.Clone()
		for _, tc := range []struct {
			name string
			c    workflow.Change
		}{
			{"no incident", workflow.Change{}},
			{"version not previous+1", workflow.Change{Prev: v1, Incident: sameVersion}},
			{"created at version 2", workflow.Change{Incident: bump(incident("YQ-2", t0))}},
			{"previous of another incident", workflow.Change{Prev: v1, Incident: bump(incident("YQ-2", t0))}},
			{"timer of another incident", workflow.Change{Prev: v1, Incident: bump(v1),
				Timers: []workflow.Timer{{ID: "YQ-2:respond:due", Incident: "YQ-2", Due: t0}}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := f.store.Apply(ctx, tc.c)
				if got := workflow.ErrorCode(err); got != workflow.CodeInternal {
					t.Errorf("Apply: got code %q (%v), want %q", got, err, workflow.CodeInternal)
				}
			})
		}
		if got := mustGet(t, f.store, "YQ-1"); got.Version != 1 {
			t.Errorf("Get: got version %d, want 1", got.Version)
		}
	})
}

func TestEventsAppendInOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		v1 := incident("YQ-3", t0)
		mustApply(t, f.store, workflow.Change{Incident: v1, Events: events(v1, workflow.EventOpened, workflow.EventAssigned)})
		v2 := bump(v1)
		mustApply(t, f.store, workflow.Change{Prev: v1, Incident: v2,
			Events: events(v2, workflow.EventDrafted, workflow.EventApproved, workflow.EventQuorum)})
		v3 := bump(v2)
		mustApply(t, f.store, workflow.Change{Prev: v2, Incident: v3}) // no events

		var got []string
		for _, e := range mustTimeline(t, f.store, "YQ-3") {
			got = append(got, fmt.Sprintf("%s %s v%d", e.ID, e.Kind, e.Version))
		}
		want := []string{
			"YQ-3#1.1 opened v1", "YQ-3#1.2 assigned v1",
			"YQ-3#2.1 drafted v2", "YQ-3#2.2 approved v2", "YQ-3#2.3 quorum_reached v2",
		}
		if !slices.Equal(got, want) {
			t.Errorf("Timeline:\ngot  %q\nwant %q", got, want)
		}
		first := mustTimeline(t, f.store, "YQ-3")[0]
		if !first.At.Equal(v1.UpdatedAt) || first.Data.Reason != "v" || first.Actor != "chen" {
			t.Errorf("event: got at %v data %v actor %q, want at %v data with reason v, actor chen",
				first.At, first.Data, first.Actor, v1.UpdatedAt)
		}
	})
}

// TestTimelineOfAnEarlierRelease: events that a release before typed event
// data wrote (data as an object of strings) read back typed.
func TestTimelineOfAnEarlierRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		v1 := incident("YQ-5", t0)
		mustApply(t, f.store, workflow.Change{Incident: v1})
		stored := []string{
			`{"id":"YQ-5#2.1","incident":"YQ-5","version":2,"kind":"acknowledged","at":"2024-03-01T09:05:00Z","actor":"zhou","data":{"from":"li"}}`,
			`{"id":"YQ-5#3.1","incident":"YQ-5","version":3,"kind":"overdue","at":"2024-03-01T11:00:00Z","data":{"deadline":"assign,respond","due":"2024-03-01T11:00:00Z,2024-03-01T12:00:00Z"}}`,
			`{"id":"YQ-5#4.1","incident":"YQ-5","version":4,"kind":"update_due","at":"2024-03-01T13:00:00Z","data":{"number":"2","due":"2024-03-01T13:00:00Z","every":"2h0m0s","filed":"1"}}`,
		}
		for _, raw := range stored {
			if err := f.client.RPush(ctx, f.key("YQ-5", "log:YQ-5"), raw).Err(); err != nil {
				t.Fatal(err)
			}
		}
		got := mustTimeline(t, f.store, "YQ-5")
		if len(got) != 3 {
			t.Fatalf("timeline: got %d events, want 3", len(got))
		}
		if d := got[0].Data; d.TakenFrom != "li" || d.From != "" {
			t.Errorf("acknowledged: got %+v, want taken from li", d)
		}
		due := time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC)
		if d := got[1].Data.Overdue; len(d) != 2 || d[0].Deadline != workflow.DeadlineAssign || !d[0].Due.Equal(due) ||
			d[1].Deadline != workflow.DeadlineRespond || !d[1].Due.Equal(due.Add(time.Hour)) {
			t.Errorf("overdue: got %+v, want assign at 11:00 and respond at 12:00", d)
		}
		if d := got[2].Data; d.Number != 2 || d.Every != 2*time.Hour || d.Filed == nil || *d.Filed != 1 || !d.Due.Equal(due.Add(2*time.Hour)) {
			t.Errorf("update_due: got %+v, want report 2 due 13:00 every 2h, 1 filed", d)
		}
	})
}

func TestTimersReplaced(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		due := func(d time.Duration) time.Time { return t0.Add(d) }
		v1 := incident("YQ-5", t0)
		mustApply(t, f.store, workflow.Change{Incident: v1, Timers: []workflow.Timer{
			{ID: "YQ-5:assign:due", Incident: "YQ-5", Due: due(30 * time.Minute)},
			{ID: "YQ-5:respond:due", Incident: "YQ-5", Due: due(3 * time.Hour)},
		}})
		// Another incident's timers in the same shard must survive.
		other := sameShardID(t, f.store, "YQ-5")
		o1 := incident(other, t0)
		mustApply(t, f.store, workflow.Change{Incident: o1, Timers: []workflow.Timer{
			{ID: other + ":assign:due", Incident: other, Due: due(time.Hour)},
		}})

		v2 := bump(v1)
		mustApply(t, f.store, workflow.Change{Prev: v1, Incident: v2, Timers: []workflow.Timer{
			{ID: "YQ-5:respond:due", Incident: "YQ-5", Due: due(2 * time.Hour)},
			{ID: "YQ-5:update:1", Due: due(4 * time.Hour)}, // Incident may be left empty
		}})
		wantTimers(t, f, "YQ-5", map[string]time.Time{
			"YQ-5:respond:due":    due(2 * time.Hour),
			"YQ-5:update:1":       due(4 * time.Hour),
			other + ":assign:due": due(time.Hour),
		})
		if got, _ := f.client.HGet(ctx, f.key("YQ-5", "timerinc"), "YQ-5:update:1").Result(); got != "YQ-5" {
			t.Errorf("timerinc YQ-5:update:1: got %q, want YQ-5", got)
		}

		v3 := bump(v2)
		v3.Status = workflow.StatusResolved
		mustApply(t, f.store, workflow.Change{Prev: v2, Incident: v3})
		wantTimers(t, f, "YQ-5", map[string]time.Time{other + ":assign:due": due(time.Hour)})
		if n := f.client.HLen(ctx, f.key("YQ-5", "timerinc")).Val(); n != 1 {
			t.Errorf("timerinc: got %d entries, want 1", n)
		}
	})
}

func wantTimers(tb testing.TB, f fixture, id string, want map[string]time.Time) {
	tb.Helper()
	zs, err := f.client.ZRangeWithScores(ctx, f.key(id, "timers"), 0, -1).Result()
	if err != nil {
		tb.Fatal(err)
	}
	got := map[string]int64{}
	for _, z := range zs {
		got[z.Member.(string)] = int64(z.Score)
	}
	wantMillis := map[string]int64{}
	for m, d := range want {
		wantMillis[m] = d.UnixMilli()
	}
	if !reflect.DeepEqual(got, wantMillis) {
		tb.Errorf("timers: got %v, want %v", got, wantMillis)
	}
}

func TestOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		a := incident("YQ-1", t0)
		b := incident("YQ-2", t0)
		if f.store.Shard("YQ-1") == f.store.Shard("YQ-2") {
			t.Fatal("test needs YQ-1 and YQ-2 in different shards")
		}
		mustApply(t, f.store, workflow.Change{Incident: a, Notices: []workflow.Notice{
			{ID: "YQ-1#1.1", Incident: "YQ-1", Audience: "incidents", Body: []byte(`{"text":"一"}`)},
			{ID: "YQ-1#1.2", Incident: "YQ-1", Audience: workflow.PersonAudience("chen"), Body: []byte{0, 1, 0xff}},
		}})
		mustApply(t, f.store, workflow.Change{Incident: b, Notices: []workflow.Notice{
			{ID: "YQ-2#1.1", Incident: "YQ-2", Audience: "leaders", Body: []byte("b")},
		}})
		a2 := bump(a)
		mustApply(t, f.store, workflow.Change{Prev: a, Incident: a2, Notices: []workflow.Notice{
			{ID: "YQ-1#2.1", Incident: "YQ-1", Audience: "statements", Body: []byte("c")},
		}})
		// Ordered by shard, then by stream ID within the shard.
		want := []string{"YQ-1#1.1", "YQ-1#1.2", "YQ-1#2.1"}
		if f.store.Shard("YQ-2") < f.store.Shard("YQ-1") {
			want = append([]string{"YQ-2#1.1"}, want...)
		} else {
			want = append(want, "YQ-2#1.1")
		}

		first := mustRead(t, f.store, "slack", "w1", 10)
		if got := noticeIDs(first); !slices.Equal(got, want) {
			t.Fatalf("ReadOutbox: got %q, want %q", got, want)
		}
		byID := map[string]workflow.Notice{}
		for _, d := range first {
			byID[d.Notice.ID] = d.Notice
			if !strings.HasPrefix(d.Handle, f.store.Shard(d.Notice.Incident)+"|") {
				t.Errorf("handle %q: want prefix %q", d.Handle, f.store.Shard(d.Notice.Incident)+"|")
			}
		}
		wantNotice := workflow.Notice{ID: "YQ-1#1.2", Incident: "YQ-1", Audience: "person:chen", Body: []byte{0, 1, 0xff}}
		if got := byID["YQ-1#1.2"]; !reflect.DeepEqual(got, wantNotice) {
			t.Errorf("notice: got %+v, want %+v", got, wantNotice)
		}

		t.Run("unacknowledged come back to the same consumer", func(t *testing.T) {
			again := mustRead(t, f.store, "slack", "w1", 10)
			if !reflect.DeepEqual(again, first) {
				t.Errorf("ReadOutbox again: got %v, want %v", again, first)
			}
		})
		t.Run("claimed ones are not given to another consumer", func(t *testing.T) {
			if got := mustRead(t, f.store, "slack", "w2", 10); len(got) != 0 {
				t.Errorf("ReadOutbox w2: got %q, want none", noticeIDs(got))
			}
		})
		t.Run("another group sees everything", func(t *testing.T) {
			if got := noticeIDs(mustRead(t, f.store, "telegram", "w1", 10)); !slices.Equal(got, want) {
				t.Errorf("ReadOutbox telegram: got %q, want %q", got, want)
			}
		})
		t.Run("acknowledged ones are gone", func(t *testing.T) {
			mustAck(t, f.store, "slack", first[0], first[2])
			got := noticeIDs(mustRead(t, f.store, "slack", "w1", 10))
			if wantLeft := []string{want[1], want[3]}; !slices.Equal(got, wantLeft) {
				t.Errorf("ReadOutbox after ack: got %q, want %q", got, wantLeft)
			}
			mustAck(t, f.store, "slack", first...)
			if got := mustRead(t, f.store, "slack", "w1", 10); len(got) != 0 {
				t.Errorf("ReadOutbox after acking all: got %q, want none", noticeIDs(got))
			}
		})
		t.Run("new notices after the first read", func(t *testing.T) {
			a3 := bump(a2)
			mustApply(t, f.store, workflow.Change{Prev: a2, Incident: a3, Notices: []workflow.Notice{
				{ID: "YQ-1#3.1", Incident: "YQ-1", Audience: "incidents"},
			}})
			// w1 read these shards last and holds their reader leases: a
			// second consumer reads nothing new of them meanwhile (one reader
			// per shard keeps per-target order across replicas).
			if got := mustRead(t, f.store, "slack", "w2", 10); len(got) != 0 {
				t.Errorf("ReadOutbox w2 while w1 reads the shard: got %q, want none", noticeIDs(got))
			}
			if got := noticeIDs(mustRead(t, f.store, "slack", "w1", 10)); !slices.Equal(got, []string{"YQ-1#3.1"}) {
				t.Errorf("ReadOutbox: got %q, want [YQ-1#3.1]", got)
			}
		})
	})
}

func TestOutboxMax(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		var want []string
		for i := 1; i <= 12; i++ {
			id := fmt.Sprintf("YQ-%d", i)
			inc := incident(id, t0)
			mustApply(t, f.store, workflow.Change{Incident: inc, Notices: []workflow.Notice{
				{ID: id + "#1.1", Incident: id, Audience: "incidents"},
				{ID: id + "#1.2", Incident: id, Audience: "leaders"},
			}})
			want = append(want, id+"#1.1", id+"#1.2")
		}
		var got []string
		for range 20 {
			ds := mustRead(t, f.store, "g", "w", 3)
			if len(ds) > 3 {
				t.Fatalf("ReadOutbox(max 3): got %d deliveries", len(ds))
			}
			if len(ds) == 0 {
				break
			}
			got = append(got, noticeIDs(ds)...)
			mustAck(t, f.store, "g", ds...)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("delivered:\ngot  %q\nwant %q (each exactly once)", got, want)
		}
	})
}

func TestOutboxSurvivesDeletedStream(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustRead(t, f.store, "g", "w", 10) // creates and caches the groups
		keys := mustKeys(t, f, "*:outbox")
		if len(keys) != 17 { // 16 shards and the intake's
			t.Fatalf("outbox streams: got %d, want 17", len(keys))
		}
		for _, key := range keys { // one at a time: on a Cluster they are in 16 slots
			if err := f.client.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
		}
		inc := incident("YQ-1", t0)
		mustApply(t, f.store, workflow.Change{Incident: inc, Notices: []workflow.Notice{{ID: "n1", Incident: "YQ-1"}}})
		if got := noticeIDs(mustRead(t, f.store, "g", "w", 10)); !slices.Equal(got, []string{"n1"}) {
			t.Errorf("ReadOutbox: got %q, want [n1]", got)
		}
	})
}

func TestAckOutboxBadHandle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		for _, h := range []string{"", "s01", "s99|1-0", "x|1-0", "s01|"} {
			if err := f.store.AckOutbox(ctx, "g", bot.Delivery{Handle: h}); err == nil {
				t.Errorf("AckOutbox(%q): got nil, want an error", h)
			}
		}
	})
}

func TestList(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		now := t0.Add(24 * time.Hour)
		type spec struct {
			id       string
			found    time.Duration // after t0
			assignee string
			nextDue  time.Time
		}
		versions := map[string]*workflow.Incident{}
		for _, s := range []spec{
			{"YQ-1", 2 * time.Hour, "chen", now.Add(-time.Minute)},
			{"YQ-2", 0, "", now.Add(time.Hour)},
			{"YQ-3", 3 * time.Hour, "li", time.Time{}},
			{"YQ-9", time.Hour, "", now.Add(-time.Hour)},
			// Same FoundAt as YQ-9: ordered by ID (the shards hold them as
			// 11 | 100, 9 | 10, so merging the shard indexes alone is not enough).
			{"YQ-10", time.Hour, "li", time.Time{}},
			{"YQ-11", time.Hour, "", time.Time{}},
			{"YQ-100", time.Hour, "", time.Time{}},
			{"YQ-4", 5 * time.Hour, "", now}, // due exactly now is not yet overdue
		} {
			inc := incident(s.id, t0.Add(s.found))
			inc.Assignee = s.assignee
			mustApply(t, f.store, workflow.Change{Incident: inc, NextDue: s.nextDue})
			versions[s.id] = inc
		}
		update := func(id string, change func(*workflow.Incident), nextDue time.Time) {
			t.Helper()
			prev := versions[id]
			next := bump(prev)
			change(next)
			mustApply(t, f.store, workflow.Change{Prev: prev, Incident: next, NextDue: nextDue})
			versions[id] = next
		}
		open := workflow.ListQuery{Filter: workflow.ListOpen}
		overdue := workflow.ListQuery{Filter: workflow.ListOverdue, Now: now}
		mine := func(p string) workflow.ListQuery { return workflow.ListQuery{Filter: workflow.ListMine, Person: p} }
		resolved := func(from, to time.Time) workflow.ListQuery {
			return workflow.ListQuery{Filter: workflow.ListResolved, From: from, To: to}
		}

		steps := []struct {
			name  string
			do    func()
			query workflow.ListQuery
			want  []string
		}{
			{"open by discovery then ID", nil, open, []string{"YQ-2", "YQ-9", "YQ-10", "YQ-11", "YQ-100", "YQ-1", "YQ-3", "YQ-4"}},
			{"empty filter means open", nil, workflow.ListQuery{}, []string{"YQ-2", "YQ-9", "YQ-10", "YQ-11", "YQ-100", "YQ-1", "YQ-3", "YQ-4"}},
			{"limit", nil, workflow.ListQuery{Filter: workflow.ListOpen, Limit: 2}, []string{"YQ-2", "YQ-9"}},
			{"overdue", nil, overdue, []string{"YQ-9", "YQ-1"}},
			{"overdue with limit", nil, workflow.ListQuery{Filter: workflow.ListOverdue, Now: now, Limit: 2}, []string{"YQ-9", "YQ-1"}},
			{"overdue a minute earlier", nil, workflow.ListQuery{Filter: workflow.ListOverdue, Now: now.Add(-2 * time.Minute)}, []string{"YQ-9"}},
			{"mine chen", nil, mine("chen"), []string{"YQ-1"}},
			{"mine li", nil, mine("li"), []string{"YQ-10", "YQ-3"}},
			{"mine with limit", nil, workflow.ListQuery{Filter: workflow.ListMine, Person: "li", Limit: 1}, []string{"YQ-10"}},
			{"mine nobody", nil, mine("wang"), nil},
			{"reassigned leaves the old mine", func() {
				update("YQ-1", func(inc *workflow.Incident) { inc.Assignee = "li" }, now.Add(-time.Minute))
			}, mine("chen"), nil},
			{"reassigned joins the new mine", nil, mine("li"), []string{"YQ-10", "YQ-1", "YQ-3"}},
			{"deadline met leaves overdue", func() {
				update("YQ-9", func(inc *workflow.Incident) {}, time.Time{})
			}, overdue, []string{"YQ-1"}},
			{"nothing resolved yet", nil, resolved(time.Time{}, time.Time{}), nil},
			{"resolved leaves open", func() {
				update("YQ-1", func(inc *workflow.Incident) {
					inc.Status, inc.ResolvedAt = workflow.StatusResolved, now.Add(-time.Minute)
				}, now.Add(-time.Minute))
			}, open, []string{"YQ-2", "YQ-9", "YQ-10", "YQ-11", "YQ-100", "YQ-3", "YQ-4"}},
			{"resolved joins resolved", nil, resolved(now.Add(-time.Hour), now), []string{"YQ-1"}},
			{"resolved, from its very moment", nil, resolved(now.Add(-time.Minute), time.Time{}), []string{"YQ-1"}},
			{"resolved, before the range", nil, resolved(now.Add(-time.Minute+time.Millisecond), time.Time{}), nil},
			{"resolved, the range ends before", nil, resolved(time.Time{}, now.Add(-time.Minute)), nil},
			{"resolved leaves overdue", nil, overdue, nil},
			{"due now is overdue a moment later", nil, workflow.ListQuery{Filter: workflow.ListOverdue, Now: now.Add(time.Millisecond)}, []string{"YQ-4"}},
			{"resolved leaves mine", nil, mine("li"), []string{"YQ-10", "YQ-3"}},
			{"reopened comes back", func() {
				update("YQ-1", func(inc *workflow.Incident) { inc.Status, inc.ResolvedAt = workflow.StatusAssigned, time.Time{} }, now.Add(-time.Minute))
			}, mine("li"), []string{"YQ-10", "YQ-1", "YQ-3"}},
			{"reopened leaves resolved", nil, resolved(time.Time{}, time.Time{}), nil},
		}
		for _, step := range steps {
			if step.do != nil {
				step.do()
			}
			if got := ids(mustList(t, f.store, step.query)); !slices.Equal(got, step.want) {
				t.Errorf("%s: List(%+v): got %q, want %q", step.name, step.query, got, step.want)
			}
		}

		update("YQ-3", func(inc *workflow.Incident) { inc.Status = workflow.StatusResolved }, now.Add(-time.Hour))
		// A resolved incident is in the resolved index only.
		for _, name := range []string{"open", "due", "mine:li"} {
			if err := f.client.ZScore(ctx, f.key("YQ-3", name), "YQ-3").Err(); !errors.Is(err, goredis.Nil) {
				t.Errorf("ZSCORE %s YQ-3: got %v, want nil reply", name, err)
			}
		}
		if got := f.client.ZScore(ctx, f.key("YQ-2", "due"), "YQ-2").Val(); int64(got) != now.Add(time.Hour).UnixMilli() {
			t.Errorf("due score of YQ-2: got %d, want %d", int64(got), now.Add(time.Hour).UnixMilli())
		}
	})
}

// TestListPage: the urgent order (the soonest next deadline first, those
// without one after, by discovery), pages by offset and limit, and the
// total whatever the page.
func TestListPage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		for _, s := range []struct {
			id      string
			found   time.Duration
			nextDue time.Duration // after t0; 0: none
		}{
			{"YQ-1", 0, 5 * time.Hour},
			{"YQ-2", time.Hour, time.Hour},
			{"YQ-3", 2 * time.Hour, 0},
			{"YQ-4", 3 * time.Hour, 30 * time.Minute},
			{"YQ-5", 30 * time.Minute, 0},
		} {
			c := workflow.Change{Incident: incident(s.id, t0.Add(s.found))}
			if s.nextDue > 0 {
				c.NextDue = t0.Add(s.nextDue)
			}
			mustApply(t, f.store, c)
		}
		tests := []struct {
			name string
			q    workflow.ListQuery
			want []string
		}{
			{"urgent", workflow.ListQuery{Urgent: true}, []string{"YQ-4", "YQ-2", "YQ-1", "YQ-5", "YQ-3"}},
			{"urgent, first page", workflow.ListQuery{Urgent: true, Limit: 2}, []string{"YQ-4", "YQ-2"}},
			{"urgent, second page", workflow.ListQuery{Urgent: true, Offset: 2, Limit: 2}, []string{"YQ-1", "YQ-5"}},
			{"urgent, last page", workflow.ListQuery{Urgent: true, Offset: 4, Limit: 2}, []string{"YQ-3"}},
			{"past the last page", workflow.ListQuery{Urgent: true, Offset: 6, Limit: 2}, nil},
			{"by discovery, second page", workflow.ListQuery{Offset: 2, Limit: 2}, []string{"YQ-2", "YQ-3"}},
			{"overdue by discovery, paged", workflow.ListQuery{Filter: workflow.ListOverdue, Now: t0.Add(6 * time.Hour), Offset: 1, Limit: 1},
				[]string{"YQ-2"}},
		}
		for _, tt := range tests {
			p, err := f.store.ListPage(ctx, tt.q)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if got := ids(p.Incidents); !slices.Equal(got, tt.want) {
				t.Errorf("%s: ListPage(%+v): got %q, want %q", tt.name, tt.q, got, tt.want)
			}
			want := 5
			if tt.q.Filter == workflow.ListOverdue {
				want = 3
			}
			if p.Total != want {
				t.Errorf("%s: total %d, want %d", tt.name, p.Total, want)
			}
		}
		// An open incident with no deadline is in the due index after those
		// with one (so a page is read from it alone); one left out of it by
		// an earlier release is still listed, from the whole indexes.
		if err := f.client.ZScore(ctx, f.key("YQ-3", "due"), "YQ-3").Err(); err != nil {
			t.Errorf("YQ-3, open without a deadline: not in the due index: %v", err)
		}
		if err := f.client.ZRem(ctx, f.key("YQ-5", "due"), "YQ-5").Err(); err != nil {
			t.Fatal(err)
		}
		p, err := f.store.ListPage(ctx, workflow.ListQuery{Urgent: true, Offset: 2, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p.Incidents); !slices.Equal(got, []string{"YQ-1", "YQ-5"}) || p.Total != 5 {
			t.Errorf("with YQ-5 missing from the due index: got %q of %d, want YQ-1, YQ-5 of 5", got, p.Total)
		}
	})
}

// TestListResolvedByResolution: the resolved are listed in the order they
// were resolved, oldest first, not in the order they were found, and the
// pages of any size, put end to end, are that list: ordering by discovery
// after picking a page by resolution would reorder each page. Incidents
// resolved in the same millisecond (nanoseconds apart, in different shards)
// come by ID compared byte-wise, as Redis orders equal scores.
func TestListResolvedByResolution(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		const n = 25
		resolvedAt := map[string]time.Time{}
		var all []*workflow.Incident
		for i := 1; i <= n; i++ {
			id := fmt.Sprintf("YQ-%d", i)
			inc := incident(id, t0.Add(time.Duration(i)*time.Minute))
			mustApply(t, f.store, workflow.Change{Incident: inc})
			next := bump(inc)
			// Found in ID order, resolved in the reverse order, every third
			// one an hour later; YQ-9, YQ-10 and YQ-20 are resolved in the
			// same millisecond.
			at := t0.Add(48*time.Hour - time.Duration(i)*7*time.Minute + time.Duration(i%3)*time.Hour)
			if i == 9 || i == 10 || i == 20 {
				at = t0.Add(30 * time.Hour).Truncate(time.Millisecond).Add(time.Duration(i) * time.Microsecond)
			}
			next.Status, next.ResolvedAt = workflow.StatusResolved, at
			mustApply(t, f.store, workflow.Change{Prev: inc, Incident: next})
			resolvedAt[id] = at
			all = append(all, next)
		}
		if f.store.Shard("YQ-9") == f.store.Shard("YQ-10") && f.store.Shard("YQ-10") == f.store.Shard("YQ-20") {
			t.Fatal("YQ-9, YQ-10 and YQ-20 share a shard: the test wants ties across shards")
		}
		slices.SortFunc(all, func(a, b *workflow.Incident) int {
			if c := cmp.Compare(a.ResolvedAt.UnixMilli(), b.ResolvedAt.UnixMilli()); c != 0 {
				return c
			}
			return cmp.Compare(a.ID, b.ID)
		})
		want := ids(all)
		if got := ids(mustList(t, f.store, workflow.ListQuery{Filter: workflow.ListResolved})); !slices.Equal(got, want) {
			t.Fatalf("List(resolved): got %q, want %q", got, want)
		}
		if i := slices.Index(want, "YQ-10"); want[i+1] != "YQ-20" || want[i+2] != "YQ-9" {
			t.Errorf("the same millisecond: got %q, want YQ-10, YQ-20, YQ-9", want[i:i+3])
		}
		for size := 1; size <= 7; size++ {
			var got []string
			for offset := 0; offset < n; offset += size {
				q := workflow.ListQuery{Filter: workflow.ListResolved, Offset: offset, Limit: size}
				p, err := f.store.ListPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != n || len(p.Incidents) != min(size, n-offset) {
					t.Fatalf("ListPage(%+v): got %d of %d, want %d of %d", q, len(p.Incidents), p.Total, min(size, n-offset), n)
				}
				got = append(got, ids(p.Incidents)...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("pages of %d end to end: got %q, want %q", size, got, want)
			}
		}
		// A window [From, To), in milliseconds: its total and a page.
		from, to := resolvedAt[want[5]], resolvedAt[want[17]]
		var window []string
		for _, id := range want {
			if ms := resolvedAt[id].UnixMilli(); ms >= from.UnixMilli() && ms < to.UnixMilli() {
				window = append(window, id)
			}
		}
		q := workflow.ListQuery{Filter: workflow.ListResolved, From: from, To: to, Offset: 4, Limit: 5}
		p, err := f.store.ListPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p.Incidents); !slices.Equal(got, window[4:9]) || p.Total != len(window) {
			t.Errorf("ListPage(%+v): got %q of %d, want %q of %d", q, got, p.Total, window[4:9], len(window))
		}
	})
}

func TestListInvalid(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		for _, q := range []workflow.ListQuery{
			{Filter: "closed"},
			{Filter: workflow.ListMine},
		} {
			_, err := f.store.List(ctx, q)
			if got := workflow.ErrorCode(err); got != workflow.CodeInvalid {
				t.Errorf("List(%+v): got code %q (%v), want %q", q, got, err, workflow.CodeInvalid)
			}
		}
	})
}

func TestKeysShareTheShardTag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		v1 := incident("YQ-42", t0)
		v1.Assignee = "chen"
		mustApply(t, f.store, fullChange(nil, v1, t0.Add(time.Hour)))
		if _, err := f.store.ReadOutbox(ctx, "g", "w", 1); err != nil {
			t.Fatal(err)
		}
		// The outbox groups create a stream in every shard (the intake's
		// too); skip those.
		tag := regexp.MustCompile(`^` + regexp.QuoteMeta(f.prefix) + `:\{(s\d\d|intake)\}:`)
		var written []string
		for _, k := range mustKeys(t, f, "*") {
			m := tag.FindStringSubmatch(k)
			if m == nil {
				t.Errorf("key %q has no {sNN} shard tag after the prefix", k)
				continue
			}
			if strings.HasSuffix(k, ":outbox") && m[1] != f.store.Shard("YQ-42") {
				continue
			}
			if strings.HasSuffix(k, ":reader:g") {
				continue // the read's shard reader leases, not Apply's
			}
			if m[1] != f.store.Shard("YQ-42") {
				t.Errorf("key %q: got shard %s, want %s", k, m[1], f.store.Shard("YQ-42"))
			}
			written = append(written, strings.TrimPrefix(k, m[0]))
		}
		slices.Sort(written)
		want := []string{"due", "inc:YQ-42", "itimers:YQ-42", "log:YQ-42", "mine:chen", "open", "outbox", "timerinc", "timers"}
		if !slices.Equal(written, want) {
			t.Errorf("keys of one Apply:\ngot  %q\nwant %q", written, want)
		}
	})
}

func TestShardIsFNV1a(t *testing.T) {
	fnv1a := func(s string) uint32 {
		h := uint32(2166136261)
		for i := range len(s) {
			h ^= uint32(s[i])
			h *= 16777619
		}
		return h
	}
	for _, tc := range []struct {
		shards int
		id     string
	}{
		{16, "YQ-1"}, {16, "YQ-2"}, {16, "YQ-1042"}, {0, "YQ-1042"}, {4, "YQ-9"}, {1, "YQ-3"},
	} {
		s := redis.New(nil, redis.Options{Shards: tc.shards})
		n := tc.shards
		if n == 0 {
			n = 16
		}
		want := fmt.Sprintf("s%02d", fnv1a(tc.id)%uint32(n))
		if got := s.Shard(tc.id); got != want {
			t.Errorf("Shard(%s) of %d: got %s, want %s", tc.id, tc.shards, got, want)
		}
	}
}

func TestConcurrentApply(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		v1 := incident("YQ-8", t0)
		mustApply(t, f.store, workflow.Change{Incident: v1})
		const writers = 50
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			conflicts int
		)
		for range writers {
			wg.Go(func() {
				for {
					prev, err := f.store.Get(ctx, "YQ-8")
					if err != nil {
						t.Error(err)
						return
					}
					next := bump(prev)
					next.Updates++
					err = f.store.Apply(ctx, workflow.Change{Prev: prev, Incident: next,
						Events: events(next, workflow.EventUpdated)})
					if errors.Is(err, workflow.ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Error(err)
					}
					return
				}
			})
		}
		wg.Wait()
		got := mustGet(t, f.store, "YQ-8")
		if got.Version != 1+writers || got.Updates != writers {
			t.Errorf("final: got version %d updates %d, want %d %d", got.Version, got.Updates, 1+writers, writers)
		}
		timeline := mustTimeline(t, f.store, "YQ-8")
		if len(timeline) != writers {
			t.Fatalf("timeline: got %d events, want %d", len(timeline), writers)
		}
		for i, e := range timeline {
			if e.Version != int64(i+2) {
				t.Errorf("event %d: got version %d, want %d", i, e.Version, i+2)
			}
		}
		t.Logf("%d conflicts retried", conflicts)
	})
}

// commandLog is a go-redis hook that records the commands sent.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (l *commandLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (l *commandLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		l.add(cmd)
		return next(ctx, cmd)
	}
}

func (l *commandLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		l.add(cmds...)
		return next(ctx, cmds)
	}
}

func (l *commandLog) add(cmds ...goredis.Cmder) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range cmds {
		l.names = append(l.names, c.Name())
	}
}

func (l *commandLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := l.names
	l.names = nil
	return names
}

func TestApplyIsOneRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		log := &commandLog{}
		f.client.AddHook(log)
		v1 := incident("YQ-1", t0)
		v1.Assignee = "chen"
		mustApply(t, f.store, fullChange(nil, v1, t0.Add(time.Hour))) // caches the script
		log.take()

		v2 := bump(v1)
		v2.Assignee = "li"
		mustApply(t, f.store, fullChange(v1, v2, t0.Add(2*time.Hour)))
		if got, want := log.take(), []string{"evalsha"}; !slices.Equal(got, want) {
			t.Errorf("commands of one Apply: got %q, want %q", got, want)
		}
	})
}

func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there any more
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1,
		DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	s := redis.New(c, redis.Options{})
	inc := incident("YQ-1", t0)

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, "YQ-1"); return err }},
		{"Apply", func() error { return s.Apply(ctx, workflow.Change{Incident: inc}) }},
		{"List", func() error { _, err := s.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen}); return err }},
		{"History", func() error { _, _, err := s.History(ctx, "YQ-1"); return err }},
		{"NextID", func() error { _, _, err := s.NextID(ctx, ""); return err }},
		{"RoundRobin", func() error { _, err := s.RoundRobin(ctx, "x"); return err }},
		{"ReadOutbox", func() error { _, err := s.ReadOutbox(ctx, "g", "w", 1); return err }},
		{"AckOutbox", func() error { return s.AckOutbox(ctx, "g", bot.Delivery{Handle: "s01|1-0"}) }},
		{"Ping", func() error { return s.Ping(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := workflow.ErrorCode(err); got != workflow.CodeUnavailable {
				t.Errorf("got code %q (%v), want %q", got, err, workflow.CodeUnavailable)
			}
		})
	}

	t.Run("server that never answers", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { _ = conn.Close() }) // hold it open, say nothing
			}
		}()
		c := goredis.NewClient(&goredis.Options{Addr: l.Addr().String(), MaxRetries: -1,
			DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
			DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		_, err = redis.New(c, redis.Options{}).Get(ctx, "YQ-1")
		if got := workflow.ErrorCode(err); got != workflow.CodeUnavailable {
			t.Errorf("got code %q (%v), want %q", got, err, workflow.CodeUnavailable)
		}
	})

	t.Run("deadline exceeded", func(t *testing.T) {
		expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
		defer cancel()
		_, err := redistest.NewStore(t).Get(expired, "YQ-1")
		if got := workflow.ErrorCode(err); got != workflow.CodeUnavailable {
			t.Errorf("got code %q (%v), want %q", got, err, workflow.CodeUnavailable)
		}
	})
}

func TestDial(t *testing.T) {
	t.Run("answers", func(t *testing.T) {
		c, err := redis.Dial(ctx, redistest.URL(t))
		if err != nil {
			t.Fatalf("Dial: %v", err)
		}
		_ = c.Close()
	})
	t.Run("bad url", func(t *testing.T) {
		if _, err := redis.Dial(ctx, "http://127.0.0.1:6379"); err == nil {
			t.Error("Dial(http://...): got nil, want an error")
		}
	})
	t.Run("unreachable, password not shown", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		_, err = redis.Dial(ctx, "redis://u:s3cret@"+addr+"/0?dial_timeout=200ms&max_retries=-1")
		if got := workflow.ErrorCode(err); got != workflow.CodeUnavailable {
			t.Errorf("got code %q (%v), want %q", got, err, workflow.CodeUnavailable)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	})
}

// Fixtures and helpers.

func incident(id string, found time.Time) *workflow.Incident {
	return &workflow.Incident{
		ID: id, Version: 1, Title: "post about " + id, Level: workflow.LevelGeneral,
		Category: workflow.CategoryInquiry, Status: workflow.StatusNew,
		FoundAt: found, OpenedAt: found.Add(time.Minute), OpenedBy: "chen", UpdatedAt: found.Add(time.Minute),
	}
}

// fullIncident sets every field, so a round trip shows any that is lost.
func fullIncident(id string) *workflow.Incident {
	inc := incident(id, t0)
	at := func(m int) time.Time { return t0.Add(time.Duration(m)*time.Minute + 123456789) }
	inc.Level, inc.Category, inc.Status = workflow.LevelMajor, workflow.CategoryRumor, workflow.StatusAcknowledged
	inc.Title = "校门口视频 \"fight\" <b>"
	inc.Source = "https://weibo.example/p/1"
	inc.Spreading = true
	inc.Department, inc.Assignee = "office", "chen"
	inc.AckedAt, inc.AckedBy = at(5), "chen"
	inc.ResolvedAt, inc.Summary = at(90).UTC(), "answered"
	inc.ReferredAt, inc.Referral = at(80), "police"
	inc.Updates, inc.LastUpdateAt = 2, at(60)
	inc.Drafts = []workflow.Draft{
		{Version: 1, Text: "v1", Hash: workflow.HashText("v1"), Author: "chen", At: at(10),
			Rejection: &workflow.Approval{By: "wang", At: at(11), Note: "too long"}},
		{Version: 2, Text: "v2", Hash: workflow.HashText("v2"), Author: "chen", At: at(20), Published: true,
			Approvals: []workflow.Approval{{By: "wang", At: at(21), Principal: true}, {By: "zhao", At: at(22), Note: "ok"}}},
	}
	inc.Statements = []workflow.Statement{{DraftVersion: 2, Text: "v2", Hash: workflow.HashText("v2"), By: "li", At: at(30)}}
	return inc
}

// bump returns the next version of inc, as a transition would.
func bump(inc *workflow.Incident) *workflow.Incident {
	next := inc.Clone()
	next.Version++
	next.UpdatedAt = next.UpdatedAt.Add(time.Minute)
	return next
}

func events(inc *workflow.Incident, kinds ...workflow.EventKind) []workflow.Event {
	var es []workflow.Event
	for i, k := range kinds {
		es = append(es, workflow.Event{
			ID: fmt.Sprintf("%s#%d.%d", inc.ID, inc.Version, i+1), Incident: inc.ID, Version: inc.Version,
			Kind: k, At: inc.UpdatedAt, Actor: "chen", Data: workflow.EventData{Reason: "v"},
		})
	}
	return es
}

// fullChange is a transition with an event, two timers and two notices.
func fullChange(prev, inc *workflow.Incident, nextDue time.Time) workflow.Change {
	v := fmt.Sprint(inc.Version)
	return workflow.Change{
		Prev: prev, Incident: inc, NextDue: nextDue,
		Events: events(inc, workflow.EventUpdated),
		Timers: []workflow.Timer{
			{ID: inc.ID + ":respond:due", Incident: inc.ID, Due: nextDue},
			{ID: inc.ID + ":update:" + v, Incident: inc.ID, Due: nextDue.Add(time.Hour)},
		},
		Notices: []workflow.Notice{
			{ID: inc.ID + "#" + v + ".a", Incident: inc.ID, Audience: "incidents", Body: []byte("a")},
			{ID: inc.ID + "#" + v + ".b", Incident: inc.ID, Audience: "leaders", Body: []byte("b")},
		},
	}
}

// snapshot reads everything an Apply of the incidents may touch.
func snapshot(tb testing.TB, f fixture, ids ...string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	show := func(name string, v any, err error) {
		if errors.Is(err, goredis.Nil) {
			v = "(nil)"
		} else if err != nil {
			tb.Fatalf("snapshot %s: %v", name, err)
		}
		out[name] = fmt.Sprint(v)
	}
	for _, id := range ids {
		v, err := f.client.HGetAll(ctx, f.key(id, "inc:"+id)).Result()
		show(id+" inc", v, err)
		n, err := f.client.LLen(ctx, f.key(id, "log:"+id)).Result()
		show(id+" log", n, err)
		n, err = f.client.XLen(ctx, f.key(id, "outbox")).Result()
		show(id+" outbox", n, err)
		zs, err := f.client.ZRangeWithScores(ctx, f.key(id, "timers"), 0, -1).Result()
		show(id+" timers", zs, err)
		ms, err := f.client.SMembers(ctx, f.key(id, "itimers:"+id)).Result()
		slices.Sort(ms)
		show(id+" itimers", ms, err)
		h, err := f.client.HGetAll(ctx, f.key(id, "timerinc")).Result()
		show(id+" timerinc", h, err)
		for _, index := range []string{"open", "due", "mine:chen", "mine:li"} {
			score, err := f.client.ZScore(ctx, f.key(id, index), id).Result()
			show(id+" "+index, score, err)
		}
	}
	return out
}

// sameShardID finds an incident ID in the shard of id.
func sameShardID(tb testing.TB, s *redis.Store, id string) string {
	tb.Helper()
	for n := 1000; n < 2000; n++ {
		other := fmt.Sprintf("YQ-%d", n)
		if s.Shard(other) == s.Shard(id) {
			return other
		}
	}
	tb.Fatalf("no ID in the shard of %s", id)
	return ""
}

func mustApply(tb testing.TB, s *redis.Store, c workflow.Change) {
	tb.Helper()
	if err := s.Apply(ctx, c); err != nil {
		tb.Fatalf("Apply %s v%d: %v", c.Incident.ID, c.Incident.Version, err)
	}
}

func mustGet(tb testing.TB, s *redis.Store, id string) *workflow.Incident {
	tb.Helper()
	inc, err := s.Get(ctx, id)
	if err != nil {
		tb.Fatalf("Get %s: %v", id, err)
	}
	return inc
}

func mustTimeline(tb testing.TB, s *redis.Store, id string) []workflow.Event {
	tb.Helper()
	_, es, err := s.History(ctx, id)
	if err != nil {
		tb.Fatalf("Timeline %s: %v", id, err)
	}
	return es
}

func mustList(tb testing.TB, s *redis.Store, q workflow.ListQuery) []*workflow.Incident {
	tb.Helper()
	incs, err := s.List(ctx, q)
	if err != nil {
		tb.Fatalf("List %+v: %v", q, err)
	}
	return incs
}

func mustRead(tb testing.TB, s *redis.Store, group, consumer string, max int) []bot.Delivery {
	tb.Helper()
	ds, err := s.ReadOutbox(ctx, group, consumer, max)
	if err != nil {
		tb.Fatalf("ReadOutbox %s/%s: %v", group, consumer, err)
	}
	return ds
}

func mustAck(tb testing.TB, s *redis.Store, group string, ds ...bot.Delivery) {
	tb.Helper()
	if err := s.AckOutbox(ctx, group, ds...); err != nil {
		tb.Fatalf("AckOutbox %s: %v", group, err)
	}
}

// mustKeys lists the fixture's keys matching pattern (after the prefix).
func mustKeys(tb testing.TB, f fixture, pattern string) []string {
	tb.Helper()
	var keys []string
	iter := f.client.Scan(ctx, 0, f.prefix+":"+pattern, 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
	return keys
}

func ids(incs []*workflow.Incident) []string {
	var out []string
	for _, inc := range incs {
		out = append(out, inc.ID)
	}
	return out
}

func noticeIDs(ds []bot.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Notice.ID)
	}
	return out
}

// diff compares two values field by field, times with Equal, and describes
// every difference.
func diff(path string, got, want reflect.Value) []string {
	if got.Type() == reflect.TypeFor[time.Time]() {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if !g.Equal(w) {
			return []string{fmt.Sprintf("%s: got %v, want %v", path, g, w)}
		}
		return nil
	}
	var out []string
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			out = append(out, diff(path+"."+got.Type().Field(i).Name, got.Field(i), want.Field(i))...)
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			return []string{fmt.Sprintf("%s: got %d elements, want %d", path, got.Len(), want.Len())}
		}
		for i := range got.Len() {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))...)
		}
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", path, got, want))
			}
			return out
		}
		return diff(path, got.Elem(), want.Elem())
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface()))
		}
	}
	return out
}

// TestDecodedIncidentsAreTheCallersOwn: an incident read again in the same
// version (from the store's memory of decoded incidents) is equal to the
// first read, and changing what a read returned changes no later read; a
// new version is read as written.
func TestDecodedIncidentsAreTheCallersOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		inc := fullIncident("YQ-1")
		mustApply(t, f.store, workflow.Change{Incident: inc, Events: events(inc, workflow.EventOpened)})
		first := mustGet(t, f.store, "YQ-1")
		again := mustGet(t, f.store, "YQ-1")
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("a second read differs from the first:\n%+v\n%+v", again, first)
		}
		first.Title = "changed by a caller"
		if len(first.Drafts) > 0 {
			first.Drafts[0].Text = "changed by a caller"
		}
		if got := mustGet(t, f.store, "YQ-1"); got.Title != inc.Title || (len(got.Drafts) > 0 && got.Drafts[0].Text != inc.Drafts[0].Text) {
			t.Errorf("a caller's change to what it read reached a later read: %q", got.Title)
		}
		page, err := f.store.ListPage(ctx, workflow.ListQuery{Filter: workflow.ListOpen, Limit: 20})
		if err != nil || len(page.Incidents) != 1 || !reflect.DeepEqual(page.Incidents[0], again) {
			t.Fatalf("a page: got %v, %v, want the incident as read", page.Incidents, err)
		}
		next := again.Clone()
		next.Version, next.Title = 2, "a new title"
		mustApply(t, f.store, workflow.Change{Prev: again, Incident: next, Events: events(next, workflow.EventUpdated)})
		if got := mustGet(t, f.store, "YQ-1"); got.Version != 2 || got.Title != "a new title" {
			t.Errorf("after a change: got version %d %q, want 2 %q", got.Version, got.Title, "a new title")
		}
	})
}
