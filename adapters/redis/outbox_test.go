package redis_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The delivery side of the outbox (bot.DeliveryStore): taking over stale
// entries, marks of sent notices, dead letters, target leases and handover.
// The idle times of stream entries are Redis server time: tests that need an
// entry to be idle set its idle time (backdate) rather than wait for it.

func outNotice(id string) workflow.Notice {
	return workflow.Notice{ID: id, Incident: "YQ-0", Audience: "incidents",
		Body: bot.EncodeMessage(bot.Message{Kind: "digest", Text: "text of " + id})}
}

func mustEnqueue(tb testing.TB, s *redis.Store, ns ...workflow.Notice) {
	tb.Helper()
	if err := s.Enqueue(ctx, ns); err != nil {
		tb.Fatalf("Enqueue: %v", err)
	}
}

func mustClaimStale(tb testing.TB, s *redis.Store, group, consumer string, minIdle time.Duration, max int) []bot.Delivery {
	tb.Helper()
	ds, err := s.ClaimStale(ctx, group, consumer, minIdle, max)
	if err != nil {
		tb.Fatalf("ClaimStale %s/%s: %v", group, consumer, err)
	}
	return ds
}

// shardOf returns the shard named by a delivery handle.
func shardOf(d bot.Delivery) string { s, _, _ := strings.Cut(d.Handle, "|"); return s }

// waitUntil waits until cond holds, checking it again and again; it fails
// tb when cond still does not hold after 10 s (something is broken, not
// slow: what it waits for takes milliseconds).
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// backdate makes the pending entries ds of group, held by consumer, idle for
// d at once (XCLAIM to their holder with IDLE), rather than waiting for it:
// a test that waits d and expects entries read "just now" to be idle for
// less than d depends on how long its own Redis calls take.
func backdate(tb testing.TB, f fixture, group, consumer string, d time.Duration, ds ...bot.Delivery) {
	tb.Helper()
	for _, dl := range ds {
		stream := f.prefix + ":{" + shardOf(dl) + "}:outbox"
		_, id, _ := strings.Cut(dl.Handle, "|")
		got, err := f.client.Do(ctx, "XCLAIM", stream, group, consumer, 0, id,
			"IDLE", d.Milliseconds(), "JUSTID").StringSlice()
		if err != nil || len(got) != 1 {
			tb.Fatalf("backdate %s of %s/%s: got %q, %v, want it claimed", dl.Handle, group, consumer, got, err)
		}
	}
}

func TestClaimStale(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"), outNotice("n3"), outNotice("n4"))
		read := mustRead(t, f.store, "slack", "w1", 10)
		if len(read) != 4 {
			t.Fatalf("ReadOutbox: got %d, want 4", len(read))
		}
		mustAck(t, f.store, "slack", read[3]) // acked: never claimed again

		if got := mustClaimStale(t, f.store, "slack", "w2", time.Hour, 10); len(got) != 0 {
			t.Errorf("ClaimStale(1h): got %q, want none (w1 read them just now)", noticeIDs(got))
		}
		if got := mustClaimStale(t, f.store, "telegram", "w2", 0, 10); len(got) != 0 {
			t.Errorf("ClaimStale(telegram): got %q, want none (nobody read them there)", noticeIDs(got))
		}
		// w1 stalled: its entries are idle for an hour.
		const minIdle = time.Minute
		backdate(t, f, "slack", "w1", time.Hour, read[:3]...)
		got := mustClaimStale(t, f.store, "slack", "w2", minIdle, 10)
		if !reflect.DeepEqual(got, read[:3]) {
			t.Errorf("ClaimStale:\ngot  %v\nwant %v", got, read[:3])
		}
		if got := mustRead(t, f.store, "slack", "w1", 10); len(got) != 0 {
			t.Errorf("ReadOutbox w1 after the takeover: got %q, want none", noticeIDs(got))
		}
		if got := mustRead(t, f.store, "slack", "w2", 10); !reflect.DeepEqual(got, read[:3]) {
			t.Errorf("ReadOutbox w2: got %q, want %q", noticeIDs(got), noticeIDs(read[:3]))
		}
		if got := mustClaimStale(t, f.store, "slack", "w3", minIdle, 10); len(got) != 0 {
			t.Errorf("ClaimStale right after w2 read them: got %q, want none", noticeIDs(got))
		}
	})
}

// TestOutboxSeq: every delivery carries its place in the outbox order: the
// stream ID of its entry (millisecond, sequence number) in the log of its
// shard, so entries of one shard compare in stream order. ClaimStale and
// DeadLetters return the same (see their tests).
func TestOutboxSeq(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		var ns []workflow.Notice
		for i := range 40 {
			ns = append(ns, outNotice(fmt.Sprintf("n%02d", i)))
		}
		mustEnqueue(t, f.store, ns...) // one transaction per shard: IDs share milliseconds
		read := mustRead(t, f.store, "slack", "w1", 100)
		if len(read) != len(ns) {
			t.Fatalf("ReadOutbox: got %d, want %d", len(read), len(ns))
		}
		last := map[string]bot.Delivery{} // by shard
		for _, d := range read {
			shard, id, _ := strings.Cut(d.Handle, "|")
			got := fmt.Sprintf("%s %d-%d", d.Seq.Log, d.Seq.At.UnixMilli(), d.Seq.N)
			if want := shard + " " + id; got != want {
				t.Errorf("%s: Seq %q, want its shard and stream ID %q", d.Notice.ID, got, want)
			}
			if p, ok := last[shard]; ok && p.Seq.Compare(d.Seq) >= 0 {
				t.Errorf("%s (%s) read after %s (%s): want its Seq after", d.Notice.ID, id, p.Notice.ID, p.Handle)
			}
			last[shard] = d
		}
	})
}

func TestClaimStaleMax(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		var want []string
		for i := range 12 {
			id := fmt.Sprintf("n%02d", i)
			mustEnqueue(t, f.store, outNotice(id))
			want = append(want, id)
		}
		backdate(t, f, "g", "w1", time.Hour, mustRead(t, f.store, "g", "w1", 20)...)
		var got []string
		for range 20 {
			ds := mustClaimStale(t, f.store, "g", "w2", time.Minute, 5)
			if len(ds) > 5 {
				t.Fatalf("ClaimStale(max 5): got %d", len(ds))
			}
			if len(ds) == 0 {
				break
			}
			got = append(got, noticeIDs(ds)...)
			mustAck(t, f.store, "g", ds...)
		}
		// Nothing is claimed beyond max: an entry claimed and not returned
		// would wait behind newer ones of its shard returned by the next
		// call.
		rest := mustRead(t, f.store, "g", "w2", 20)
		if len(rest) != 0 {
			t.Errorf("claimed and not returned: got %q, want none", noticeIDs(rest))
		}
		got = append(got, noticeIDs(rest)...)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("claimed:\ngot  %q\nwant %q (each exactly once)", got, want)
		}
	})
}

func TestClaimStaleSkipsDeletedEntries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"))
		backdate(t, f, "g", "w1", time.Hour, mustRead(t, f.store, "g", "w1", 10)...)
		n, err := f.store.TrimOutbox(ctx, time.Now().Add(time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("TrimOutbox: got %d, %v, want 2", n, err)
		}
		if got := mustClaimStale(t, f.store, "g", "w2", time.Minute, 10); len(got) != 0 {
			t.Errorf("ClaimStale: got %q, want none", noticeIDs(got))
		}
		if got := mustRead(t, f.store, "g", "w2", 10); len(got) != 0 {
			t.Errorf("ReadOutbox: got %q, want none", noticeIDs(got))
		}
	})
}

func TestTrimOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"))
		if n, err := f.store.TrimOutbox(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Errorf("TrimOutbox(an hour ago): got %d, %v, want 0", n, err)
		}
		if got := noticeIDs(mustRead(t, f.store, "g", "w", 10)); len(got) != 2 {
			t.Errorf("ReadOutbox: got %q, want both", got)
		}
	})
}

func TestMarkSent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		// A notice lives in the outbox of its incident's shard, whatever
		// its ID: the mark goes there too.
		inc := incident("YQ-1", t0)
		id := "YQ-1#1.1"
		for i := 0; f.store.Shard(id) == f.store.Shard("YQ-1"); i++ {
			id = fmt.Sprintf("YQ-1#1.%d", i)
		}
		mustApply(t, f.store, workflow.Change{Incident: inc, Notices: []workflow.Notice{
			{ID: id, Incident: "YQ-1", Audience: "incidents", Body: []byte("x")},
		}})
		d := mustRead(t, f.store, "slack", "w", 1)[0]

		one := func(got []bool, err error) (bool, error) {
			if err == nil && len(got) != 1 {
				return false, fmt.Errorf("%d answers for one notice", len(got))
			}
			if err != nil {
				return false, err
			}
			return got[0], nil
		}
		steps := []struct {
			name string
			do   func() (bool, error)
			want bool
		}{
			{"WasSent before", func() (bool, error) { return one(f.store.WasSent(ctx, "slack", d)) }, false},
			{"MarkSent first", func() (bool, error) { return one(f.store.MarkSent(ctx, "slack", time.Hour, d)) }, true},
			{"MarkSent again", func() (bool, error) { return one(f.store.MarkSent(ctx, "slack", time.Hour, d)) }, false},
			{"WasSent after", func() (bool, error) { return one(f.store.WasSent(ctx, "slack", d)) }, true},
			{"WasSent on another platform", func() (bool, error) { return one(f.store.WasSent(ctx, "telegram", d)) }, false},
		}
		for _, s := range steps {
			if got, err := s.do(); err != nil || got != s.want {
				t.Errorf("%s: got %v, %v, want %v", s.name, got, err, s.want)
			}
		}
		key := f.prefix + ":{" + f.store.Shard("YQ-1") + "}:sent:slack:" + id
		ttl, err := f.client.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("PTTL %s: got %s, %v, want up to 1h", key, ttl, err)
		}

		bad := []struct {
			name string
			do   func() error
		}{
			{"bad handle", func() error {
				_, err := f.store.MarkSent(ctx, "slack", time.Hour, d, bot.Delivery{Handle: "x|1-0", Notice: d.Notice})
				return err
			}},
			{"no ttl", func() error { _, err := f.store.MarkSent(ctx, "slack", 0, d); return err }},
			{"no group", func() error { _, err := f.store.WasSent(ctx, "", d); return err }},
			{"no notices", func() error { _, err := f.store.WasSent(ctx, "slack"); return err }},
		}
		for _, b := range bad {
			if err := b.do(); err == nil {
				t.Errorf("%s: got nil, want an error", b.name)
			}
		}
	})
}

// TestMarkSentMany marks and checks notices of many shards at once (a
// coalesced message's), each answered in its place.
func TestMarkSentMany(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		ctx := context.Background()
		shards := map[string]bool{}
		for i := 1; i <= 40; i++ {
			id := fmt.Sprintf("YQ-%d", i)
			mustApply(t, f.store, workflow.Change{Incident: incident(id, t0), Notices: []workflow.Notice{
				{ID: id + "#1", Incident: id, Audience: "incidents", Body: []byte("x")},
			}})
			shards[f.store.Shard(id)] = true
		}
		if len(shards) < 2 {
			t.Fatalf("40 incidents in %d shard", len(shards))
		}
		ds := mustRead(t, f.store, "slack", "w", 100)
		if len(ds) != 40 {
			t.Fatalf("read %d notices, want 40", len(ds))
		}
		// Every third marked first, alone.
		var some []bot.Delivery
		for i := 0; i < len(ds); i += 3 {
			some = append(some, ds[i])
		}
		first, err := f.store.MarkSent(ctx, "slack", time.Hour, some...)
		if err != nil || len(first) != len(some) || slices.Contains(first, false) {
			t.Fatalf("MarkSent of %d: got %v, %v, want all first", len(some), first, err)
		}
		sent, err := f.store.WasSent(ctx, "slack", ds...)
		if err != nil || len(sent) != len(ds) {
			t.Fatalf("WasSent of %d: got %d answers, %v", len(ds), len(sent), err)
		}
		for i := range ds {
			if want := i%3 == 0; sent[i] != want {
				t.Errorf("WasSent %s: got %v, want %v", ds[i].Notice.ID, sent[i], want)
			}
		}
		first, err = f.store.MarkSent(ctx, "slack", time.Hour, ds...)
		if err != nil || len(first) != len(ds) {
			t.Fatalf("MarkSent of %d: got %d answers, %v", len(ds), len(first), err)
		}
		for i := range ds {
			if want := i%3 != 0; first[i] != want {
				t.Errorf("MarkSent %s: first %v, want %v", ds[i].Notice.ID, first[i], want)
			}
		}
		if sent, err := f.store.WasSent(ctx, "slack", ds...); err != nil || slices.Contains(sent, false) {
			t.Errorf("WasSent after marking all: got %v, %v, want all true", sent, err)
		}
	})
}

func TestDeadLetter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		// n1 and n3 in one shard: their dead letters are in one stream,
		// whose IDs order them even within one millisecond.
		id3 := "n3"
		for i := 0; f.store.Shard(id3) != f.store.Shard("n1"); i++ {
			id3 = fmt.Sprintf("n3.%d", i)
		}
		n1 := outNotice("n1")
		n1.Body = []byte{0, 1, 0xff}
		mustEnqueue(t, f.store, n1, outNotice("n2"), outNotice(id3))
		read := mustRead(t, f.store, "slack", "w", 10)
		byID := map[string]bot.Delivery{}
		for _, d := range read {
			byID[d.Notice.ID] = d
		}
		before := time.Now().Add(-time.Second)
		for _, id := range []string{"n1", id3} {
			if err := f.store.DeadLetter(ctx, "slack", byID[id], "8 attempts failed, the last: 502"); err != nil {
				t.Fatalf("DeadLetter %s: %v", id, err)
			}
		}
		if got := noticeIDs(mustRead(t, f.store, "slack", "w", 10)); !slices.Equal(got, []string{"n2"}) {
			t.Errorf("ReadOutbox after DeadLetter: got %q, want [n2] (dead letters are acked)", got)
		}

		dead, err := f.store.DeadLetters(ctx, "slack", 10)
		if err != nil {
			t.Fatalf("DeadLetters: %v", err)
		}
		if len(dead) != 2 {
			t.Fatalf("DeadLetters: got %d, want 2", len(dead))
		}
		for _, dl := range dead {
			want := byID[dl.Notice.ID]
			if !reflect.DeepEqual(dl.Delivery, want) {
				t.Errorf("dead letter: got %+v, want %+v", dl.Delivery, want)
			}
			if dl.Reason != "8 attempts failed, the last: 502" {
				t.Errorf("reason: got %q", dl.Reason)
			}
			if dl.At.Before(before) || dl.At.After(time.Now().Add(time.Second)) {
				t.Errorf("At: got %s, want about now", dl.At)
			}
			key := f.prefix + ":{" + shardOf(want) + "}:dead:slack"
			if n, err := f.client.XLen(ctx, key).Result(); err != nil || n == 0 {
				t.Errorf("XLEN %s: got %d, %v, want the dead letter there", key, n, err)
			}
		}
		if !dead[0].At.After(dead[1].At) && !dead[0].At.Equal(dead[1].At) {
			t.Errorf("DeadLetters: got %s before %s, want newest first", dead[0].At, dead[1].At)
		}
		if got, want := noticeIDs([]bot.Delivery{dead[0].Delivery, dead[1].Delivery}), []string{id3, "n1"}; !slices.Equal(got, want) {
			t.Errorf("DeadLetters: got %q, want %q (newest first)", got, want)
		}
		if got, _ := f.store.DeadLetters(ctx, "slack", 1); len(got) != 1 {
			t.Errorf("DeadLetters(max 1): got %d", len(got))
		}
		if got, _ := f.store.DeadLetters(ctx, "telegram", 10); len(got) != 0 {
			t.Errorf("DeadLetters(telegram): got %d, want none", len(got))
		}
	})
}

func TestOwnTarget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		own := func(consumer string, lease time.Duration) (string, time.Duration) {
			t.Helper()
			owner, left, err := f.store.OwnTarget(ctx, "telegram", "-100222", consumer, lease)
			if err != nil {
				t.Fatalf("OwnTarget %s: %v", consumer, err)
			}
			return owner, left
		}
		if owner, left := own("r1", time.Hour); owner != "r1" || left != time.Hour {
			t.Errorf("r1 takes it: got %s, %s, want r1, 1h", owner, left)
		}
		if owner, left := own("r2", time.Hour); owner != "r1" || left <= 0 || left > time.Hour {
			t.Errorf("r2 asks: got %s, %s, want r1 with up to 1h left", owner, left)
		}
		if owner, left := own("r1", 30*time.Millisecond); owner != "r1" || left != 30*time.Millisecond {
			t.Errorf("r1 renews: got %s, %s, want r1, 30ms", owner, left)
		}
		if _, _, err := f.store.OwnTarget(ctx, "slack", "-100222", "r2", time.Hour); err != nil {
			t.Errorf("another group: %v", err)
		}
		tag := regexp.MustCompile(`^` + regexp.QuoteMeta(f.prefix) + `:\{s\d\d\}:owner:`)
		for _, k := range mustKeys(t, f, "*owner*") {
			if !tag.MatchString(k) {
				t.Errorf("key %q: want %s:{sNN}:owner:...", k, f.prefix)
			}
		}
	})
}

func TestHandover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"), outNotice("n3"))
		read := mustRead(t, f.store, "slack", "w1", 10)
		mustAck(t, f.store, "slack", read[0])
		if err := f.store.Handover(ctx, "slack", "w2", 0, read...); err != nil {
			t.Fatalf("Handover: %v", err)
		}
		if got := mustRead(t, f.store, "slack", "w1", 10); len(got) != 0 {
			t.Errorf("ReadOutbox w1: got %q, want none", noticeIDs(got))
		}
		if got := mustRead(t, f.store, "slack", "w2", 10); !reflect.DeepEqual(got, read[1:]) {
			t.Errorf("ReadOutbox w2: got %q, want %q (the acked one stays acked)", noticeIDs(got), noticeIDs(read[1:]))
		}
		if got := mustClaimStale(t, f.store, "slack", "w3", time.Minute, 10); len(got) != 0 {
			t.Errorf("ClaimStale(1m) after a handover with no idle time: got %q, want none", noticeIDs(got))
		}
		// Handed over as if read an hour ago: claimable at once, in case
		// the consumer it went to has stopped.
		if err := f.store.Handover(ctx, "slack", "w2", time.Hour, read[1]); err != nil {
			t.Fatalf("Handover: %v", err)
		}
		if got := noticeIDs(mustClaimStale(t, f.store, "slack", "w3", time.Minute, 10)); !slices.Equal(got, []string{read[1].Notice.ID}) {
			t.Errorf("ClaimStale(1m) after a handover idle 1h: got %q, want [%s]", got, read[1].Notice.ID)
		}
		if err := f.store.Handover(ctx, "slack", "w2", 0, bot.Delivery{Handle: "s99|1-0"}); err == nil {
			t.Error("Handover(bad handle): got nil, want an error")
		}
	})
}

// TestOwnTargetExpires runs on a real Redis only: miniredis does not expire
// keys with time (the embedded Redis runs one replica, which owns every
// target anyway).
func TestOwnTargetExpires(t *testing.T) {
	redistest.RequireReal(t, "keys expire with time")
	client, prefix := redistest.Client(t), redistest.Prefix(t)
	s := redis.New(client, redis.Options{Prefix: prefix})
	if owner, _, err := s.OwnTarget(ctx, "slack", "C1", "r1", 30*time.Millisecond); err != nil || owner != "r1" {
		t.Fatalf("OwnTarget r1: got %s, %v, want r1", owner, err)
	}
	key := prefix + ":{" + s.Shard("C1") + "}:owner:slack:C1"
	if ttl, err := client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > 30*time.Millisecond {
		t.Fatalf("PTTL %s: got %s, %v, want up to the lease of 30ms", key, ttl, err)
	}
	waitUntil(t, "the lease of r1 to run out", func() bool {
		n, err := client.Exists(ctx, key).Result()
		return err == nil && n == 0
	})
	if owner, _, err := s.OwnTarget(ctx, "slack", "C1", "r2", time.Hour); err != nil || owner != "r2" {
		t.Errorf("OwnTarget r2 after the lease ran out: got %s, %v, want r2", owner, err)
	}
}

// TestRelease: a consumer that stops gives up its shard reader leases and
// the targets it owns (never another's), and its pending entries become
// claimable at once, in order, so the next consumer need not wait for a
// lease or MinIdle.
func TestRelease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"), outNotice("n3"))
		read := mustRead(t, f.store, "slack", "r1", 10) // r1 is now every shard's reader
		own := func(target, consumer string) string {
			t.Helper()
			owner, _, err := f.store.OwnTarget(ctx, "slack", target, consumer, time.Hour)
			if err != nil {
				t.Fatalf("OwnTarget %s %s: %v", target, consumer, err)
			}
			return owner
		}
		own("C1", "r1")
		own("C2", "r2")
		mustEnqueue(t, f.store, outNotice("n4"))
		if got := mustRead(t, f.store, "slack", "r3", 10); len(got) != 0 {
			t.Fatalf("ReadOutbox r3 while r1 reads: got %q, want none", noticeIDs(got))
		}
		if got := mustClaimStale(t, f.store, "slack", "r3", time.Hour, 10); len(got) != 0 {
			t.Fatalf("ClaimStale(1h) before Release: got %q, want none", noticeIDs(got))
		}

		if err := f.store.Release(ctx, "slack", "r1", "C1", "C2", "C3"); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if got := own("C1", "r3"); got != "r3" {
			t.Errorf("owner of C1 after r1 released it: got %s, want r3", got)
		}
		if got := own("C2", "r3"); got != "r2" {
			t.Errorf("owner of C2 after r1 released it: got %s, want r2 (not r1's to release)", got)
		}
		if got := mustClaimStale(t, f.store, "slack", "r3", time.Hour, 10); !reflect.DeepEqual(got, read) {
			t.Errorf("ClaimStale(1h) after Release: got %q, want %q", noticeIDs(got), noticeIDs(read))
		}
		if got := noticeIDs(mustRead(t, f.store, "slack", "r3", 10)); !slices.Equal(got, append(noticeIDs(read), "n4")) {
			t.Errorf("ReadOutbox r3: got %q, want r1's and the new n4", got)
		}

		// r3 reads now: r1 releasing again (a retry) takes nothing from it.
		if err := f.store.Release(ctx, "slack", "r1"); err != nil {
			t.Fatalf("Release again: %v", err)
		}
		mustEnqueue(t, f.store, outNotice("n5"))
		if got := mustRead(t, f.store, "slack", "r4", 10); len(got) != 0 {
			t.Errorf("ReadOutbox r4 while r3 reads: got %q, want none", noticeIDs(got))
		}
		if got := mustClaimStale(t, f.store, "slack", "r4", time.Hour, 10); len(got) != 0 {
			t.Errorf("ClaimStale(1h) of r3's entries: got %q, want none", noticeIDs(got))
		}
		if err := f.store.Release(ctx, "", "r1"); err == nil {
			t.Error("Release without a group: got nil, want an error")
		}
	})
}

// TestReleaseMany: Release hands out every pending entry, also more than
// one script call takes in a shard.
func TestReleaseMany(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		const total = 1234 // over two pages of 500, all in one shard
		var ns []workflow.Notice
		for i := 0; len(ns) < total; i++ {
			if id := fmt.Sprintf("n%05d", i); f.store.Shard(id) == "s03" {
				ns = append(ns, outNotice(id))
			}
		}
		mustEnqueue(t, f.store, ns...)
		if got := mustRead(t, f.store, "g", "r1", 2*total); len(got) != total {
			t.Fatalf("ReadOutbox: got %d, want %d", len(got), total)
		}
		if err := f.store.Release(ctx, "g", "r1"); err != nil {
			t.Fatalf("Release: %v", err)
		}
		got := noticeIDs(mustClaimStale(t, f.store, "g", "r2", time.Hour, 2*total))
		want := noticeIDs(nil)
		for _, n := range ns {
			want = append(want, n.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("claimed after Release: got %d entries, want all %d in order", len(got), len(want))
		}
	})
}

// TestDispatcherReleaseOnStop runs two Dispatchers on one real Redis, on an
// injected clock, with MinIdle of an hour and leases of 1.5 h: when A stops
// gracefully, B delivers what A held and a new notice at once, in order,
// each once. Only Release can make that happen within the hour.
func TestDispatcherReleaseOnStop(t *testing.T) {
	client, prefix := redistest.Client(t), redistest.Prefix(t)
	store := redis.New(client, redis.Options{Prefix: prefix, OutboxReaderLease: 90 * time.Minute})
	clock := workflow.NewManualClock(t0)
	rec := &e2eRecord{by: map[string]int{}, news: make(chan struct{}, 1)}
	dispatcher := func(name string) *bot.Dispatcher {
		return &bot.Dispatcher{Store: store, Sender: &e2eSender{name: name, rec: rec}, Consumer: name,
			MinIdle: time.Hour, Clock: clock}
	}
	enqueue := func(id string) {
		n := outNotice(id)
		n.Audience = "C1"
		mustEnqueue(t, store, n)
	}
	enqueue("n1")
	enqueue("n2")

	// A sends n1; n2 waits for the rate limit (1ms on the clock, which
	// stands still), and A stops while it waits.
	a := dispatcher("A")
	ctxA, stopA := context.WithCancel(context.Background())
	a.Sleep = func(context.Context, time.Duration) error { stopA(); return nil }
	if err := a.Run(ctxA); err != nil {
		t.Fatalf("Run A: %v", err)
	}
	for _, pattern := range []string{"*:reader:*", "*:owner:*"} {
		keys := mustKeys(t, fixture{client: client, prefix: prefix}, pattern)
		for _, k := range keys {
			if v, _ := client.Get(ctx, k).Result(); v == "A" {
				t.Errorf("%s: still held by A after it stopped", k)
			}
		}
	}

	enqueue("n3")
	b := dispatcher("B")
	for range 2 {
		clock.Advance(time.Millisecond) // the rate limit, not a lease
		mustDeliverOnceOn(t, b)
	}
	var got []string
	for _, s := range rec.sent {
		got = append(got, s.id+" by "+s.by)
	}
	if want := []string{"n1 by A", "n2 by B", "n3 by B"}; !slices.Equal(got, want) {
		t.Errorf("sent: got %q, want %q", got, want)
	}
	if got, err := store.ClaimStale(ctx, "e2e", "C", 0, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimStale after: got %q, %v, want none (all acked)", noticeIDs(got), err)
	}
}

func mustDeliverOnceOn(tb testing.TB, d *bot.Dispatcher) {
	tb.Helper()
	if _, err := d.DeliverOnce(ctx); err != nil {
		tb.Fatalf("DeliverOnce %s: %v", d.Consumer, err)
	}
}

// TestDispatcherReaderLease: a Dispatcher on the Store takes its MinIdle from
// the store's reader lease, and refuses to run with a MinIdle the lease is
// too short for (a reader that died could be read past before its entries
// are claimed), rather than lose the order of a target's notices.
func TestDispatcherReaderLease(t *testing.T) {
	tests := []struct {
		name        string
		lease       time.Duration // Options.OutboxReaderLease
		minIdle     time.Duration // Dispatcher.MinIdle
		wantMinIdle time.Duration
		wantErr     bool
	}{
		{name: "the defaults", wantMinIdle: 10 * time.Second},
		{name: "a longer lease, MinIdle unset", lease: time.Minute, wantMinIdle: 40 * time.Second},
		{name: "MinIdle set, the lease 1.5×MinIdle", lease: 600 * time.Millisecond, minIdle: 400 * time.Millisecond, wantMinIdle: 400 * time.Millisecond},
		{name: "MinIdle set, the default lease too short", minIdle: 11 * time.Second, wantErr: true},
		{name: "MinIdle set, the lease too short", lease: time.Hour, minIdle: time.Hour, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := redis.New(redistest.Client(t), redis.Options{Prefix: redistest.Prefix(t), OutboxReaderLease: tt.lease})
			mustEnqueue(t, store, outNotice("n1"))
			rec := &e2eRecord{by: map[string]int{}, news: make(chan struct{}, 1)}
			d := &bot.Dispatcher{Store: store, Sender: &e2eSender{name: "A", rec: rec}, Consumer: "A", MinIdle: tt.minIdle}
			_, err := d.DeliverOnce(ctx)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "reader lease") {
					t.Errorf("DeliverOnce: got %v, want an error about the reader lease", err)
				}
				if len(rec.sent) != 0 {
					t.Errorf("sent %v: want nothing", rec.sent)
				}
				if err := d.Run(ctx); err == nil {
					t.Error("Run: got nil, want the same error at once")
				}
				return
			}
			if err != nil {
				t.Fatalf("DeliverOnce: %v", err)
			}
			if d.MinIdle != tt.wantMinIdle {
				t.Errorf("MinIdle: got %s, want %s", d.MinIdle, tt.wantMinIdle)
			}
			if err := d.Release(ctx); err != nil {
				t.Errorf("Release: %v", err)
			}
		})
	}
}

// crashedStore is the store as seen by a replica killed (SIGKILL) when it
// stops: it releases nothing.
type crashedStore struct{ bot.DeliveryStore }

func (crashedStore) Release(context.Context, string, string, ...string) error { return nil }

// e2eSender accepts every message and records it; when kill is set, its
// call number killAt cancels its Dispatcher instead (a replica stopped
// abruptly in the middle of a delivery: nothing it read is acked).
type e2eSender struct {
	name   string
	rec    *e2eRecord
	killAt int
	kill   context.CancelFunc

	mu    sync.Mutex
	calls int
}

type e2eRecord struct {
	mu   sync.Mutex
	sent []e2eSent
	by   map[string]int // accepted sends per replica
	news chan struct{}
}

type e2eSent struct {
	id, target, shard, by string
}

func (s *e2eSender) Platform() string                { return "e2e" }
func (s *e2eSender) Target(n workflow.Notice) string { return string(n.Audience) }
func (s *e2eSender) RateLimit(string) bot.RateLimit {
	return bot.RateLimit{Interval: time.Millisecond, Burst: 1}
}

func (s *e2eSender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	s.mu.Lock()
	s.calls++
	killed := s.kill != nil && s.calls >= s.killAt
	s.mu.Unlock()
	if killed {
		// The process dies before this request leaves it: nothing shown.
		s.kill()
		return errors.New("killed before sending")
	}
	if m.Text != "text of "+n.ID {
		return fmt.Errorf("message of %s: got %q", n.ID, m.Text)
	}
	s.rec.mu.Lock()
	s.rec.sent = append(s.rec.sent, e2eSent{id: n.ID, target: string(n.Audience), shard: n.Incident, by: s.name})
	s.rec.by[s.name]++
	s.rec.mu.Unlock()
	select {
	case s.rec.news <- struct{}{}:
	default:
	}
	return nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDispatchersTakeOver runs two Dispatchers on one real Redis. A is
// killed in the middle of a delivery (it releases nothing), holding entries
// it read and targets it owns; B takes them over after MinIdle. Every notice is sent
// exactly once, and in outbox order per target within a shard.
func TestDispatchersTakeOver(t *testing.T) {
	redistest.RequireReal(t, "the outbox reader leases expire with time")
	client, prefix := redistest.Client(t), redistest.Prefix(t)
	// Readers keep a shard 1.5 × MinIdle after their last read, so that a
	// stopped reader's entries are claimed before B reads past them.
	store := redis.New(client, redis.Options{Prefix: prefix, OutboxReaderLease: 600 * time.Millisecond})
	pending := func() int64 {
		var n int64
		for i := range 16 {
			p, err := client.XPending(ctx, fmt.Sprintf("%s:{s%02d}:outbox", prefix, i), "e2e").Result()
			if err != nil {
				t.Fatalf("XPENDING: %v", err)
			}
			n += p.Count
		}
		return n
	}
	const total = 300
	targets := []string{"C1", "C2", "C3", "-100111", "1001"}
	for i := range total {
		id := fmt.Sprintf("n%03d", i)
		n := outNotice(id)
		n.Audience = workflow.Audience(targets[i%len(targets)])
		n.Incident = store.Shard(id) // Enqueue files a notice under the shard of its ID
		mustEnqueue(t, store, n)     // one at a time: stream IDs follow this order
	}

	rec := &e2eRecord{by: map[string]int{}, news: make(chan struct{}, 1)}
	ctxA, killA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer killA()
	defer stopB()
	var logB lockedBuffer
	dispatcher := func(s *e2eSender) *bot.Dispatcher {
		return &bot.Dispatcher{Store: store, Sender: s, Consumer: s.name,
			MinIdle: 400 * time.Millisecond, Poll: 10 * time.Millisecond, Batch: 25,
			Log: slog.New(slog.NewTextHandler(&logB, nil))}
	}
	a := dispatcher(&e2eSender{name: "A", rec: rec, killAt: 41, kill: killA})
	a.Store = crashedStore{store} // killed: it cannot release anything
	b := dispatcher(&e2eSender{name: "B", rec: rec})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = a.Run(ctxA) }()
	<-rec.news // A owns a target or more
	go func() { defer wg.Done(); _ = b.Run(ctxB) }()

	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case <-rec.news:
			rec.mu.Lock()
			done = len(rec.sent) >= total
			rec.mu.Unlock()
		case <-deadline:
			done = true
		}
	}
	// The last one sent may not be marked and acked yet: B finishes it
	// before Run returns, even though it is told to stop.
	stopB()
	wg.Wait()
	if n := pending(); n != 0 {
		t.Errorf("pending after B stopped: got %d, want 0", n)
	}

	count := map[string]int{}
	for _, s := range rec.sent {
		count[s.id]++
	}
	for i := range total {
		if id := fmt.Sprintf("n%03d", i); count[id] != 1 {
			t.Errorf("%s sent %d times, want once", id, count[id])
		}
	}
	if !regexp.MustCompile(`took over outbox entries.* consumer=B`).MatchString(logB.String()) {
		t.Errorf("log: B did not take entries over:\n%s", logB.String())
	}
	if rec.by["A"] != 40 || rec.by["B"] != total-40 {
		t.Errorf("sent by A, B: got %d, %d, want 40, %d (A stopped at its 41st)", rec.by["A"], rec.by["B"], total-40)
	}
	last := map[string]string{} // "target shard" -> last ID sent
	for _, s := range rec.sent {
		k := s.target + " " + s.shard
		if s.id < last[k] {
			t.Errorf("to %s from shard %s: %s after %s", s.target, s.shard, s.id, last[k])
		}
		last[k] = s.id
	}
	// Nothing is left pending.
	if got, err := store.ClaimStale(ctx, "e2e", "C", 0, total); err != nil || len(got) != 0 {
		t.Errorf("ClaimStale after: got %q, %v, want none", noticeIDs(got), err)
	}
	if got, err := store.ReadOutbox(ctx, "e2e", "C", total); err != nil || len(got) != 0 {
		t.Errorf("ReadOutbox after: got %q, %v, want none", noticeIDs(got), err)
	}
}

// commandCounter counts the commands a client sends, pipelined or not.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *commandCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestProbeOutbox: ProbeOutbox says what a pass would find, reading and
// claiming nothing: unread entries (also when their wake-up was lost),
// entries pending for the consumer or for others. It may raise a false
// alarm for what this Store has not seen read (another replica read it),
// until this Store reads the shard itself; never a false all-clear. Once
// settled it costs one command per shard.
func TestProbeOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		counter := &commandCounter{}
		f.client.AddHook(counter)
		const shards = 16 + 1 // the default shards and the intake shard
		// other is another replica: a Store of its own on the same Redis.
		other := redis.New(f.client, redis.Options{Prefix: f.prefix})
		probe := func(step, consumer string, want bot.Backlog, wantCmds int64) {
			t.Helper()
			before := counter.n.Load()
			got, err := f.store.ProbeOutbox(ctx, "slack", consumer)
			if err != nil {
				t.Fatalf("%s: ProbeOutbox %s: %v", step, consumer, err)
			}
			if got != want {
				t.Errorf("%s: ProbeOutbox %s: got %+v, want %+v", step, consumer, got, want)
			}
			if n := counter.n.Load() - before; wantCmds > 0 && n != wantCmds {
				t.Errorf("%s: ProbeOutbox %s sent %d commands, want %d", step, consumer, n, wantCmds)
			}
		}
		unread, mine, others, none := bot.Backlog{Unread: true}, bot.Backlog{Mine: true}, bot.Backlog{Others: true}, bot.Backlog{}

		probe("a Store that has read nothing", "A", unread, 0) // and the client connects
		mustRead(t, f.store, "slack", "A", 10)                 // creates the groups, reads nothing
		probe("read to the end, nothing pending", "A", none, 0)
		probe("settled", "A", none, shards)

		mustEnqueue(t, f.store, outNotice("n1"), outNotice("n2"))
		probe("appended, the wake-up lost", "A", unread, shards)
		read := mustRead(t, f.store, "slack", "A", 10)
		probe("read by A, not acked", "A", mine, 0)
		probe("read by A, not acked, asked by B", "B", others, 0)
		mustAck(t, f.store, "slack", read...)
		probe("acked", "A", none, 0)
		probe("acked, settled", "A", none, shards)

		// Another replica reads n3 (A's reader leases ran out: released
		// here): this Store has not seen it read, and cannot read the shard
		// while the other holds its reader lease.
		if err := f.store.Release(ctx, "slack", "A"); err != nil {
			t.Fatal(err)
		}
		mustEnqueue(t, f.store, outNotice("n3"))
		n3 := mustRead(t, other, "slack", "B", 10)
		probe("read by another replica", "A", unread, 0)
		if got := mustRead(t, f.store, "slack", "A", 10); len(got) != 0 {
			t.Fatalf("ReadOutbox A while B reads: got %q, want none", noticeIDs(got))
		}
		probe("read by another replica, still its shard", "A", unread, 0)
		if err := other.Release(ctx, "slack", "B"); err != nil {
			t.Fatal(err)
		}
		mustRead(t, f.store, "slack", "A", 10) // A reads the shard: nothing new
		probe("B stopped, n3 left pending", "A", others, 0)
		mustAck(t, other, "slack", n3...)
		probe("n3 acked", "A", none, 0)

		// Handed over to C, which may be idle: pending for C, and a wake-up.
		wake, stop := f.store.OutboxWakeUps(ctx)
		defer stop()
		woken := func(what string) {
			t.Helper()
			select {
			case <-wake:
			case <-time.After(2 * time.Second):
				t.Errorf("%s: no wake-up within 2s", what)
			}
		}
		mustEnqueue(t, f.store, outNotice("n4"))
		woken("Enqueue")
		n4 := mustRead(t, f.store, "slack", "A", 10)
		if err := f.store.Handover(ctx, "slack", "C", 0, n4...); err != nil {
			t.Fatal(err)
		}
		woken("Handover")
		probe("handed over to C", "C", mine, 0)
		probe("handed over to C, asked by A", "A", others, 0)
		if err := f.store.Release(ctx, "slack", "C"); err != nil {
			t.Fatal(err)
		}
		woken("Release")
		mustAck(t, f.store, "slack", n4...)
		probe("n4 acked", "A", none, 0)

		// Wiped: a pass makes the groups again.
		for i := range 16 {
			f.client.Del(ctx, fmt.Sprintf("%s:{s%02d}:outbox", f.prefix, i))
		}
		f.client.Del(ctx, f.prefix+":{"+redis.IntakeShard+"}:outbox")
		probe("wiped", "A", unread, shards)
		mustRead(t, f.store, "slack", "A", 10)
		probe("wiped, read again", "A", none, 0)
		probe("wiped, settled", "A", none, shards)
		if _, err := f.store.ProbeOutbox(ctx, "", "A"); err == nil {
			t.Error("ProbeOutbox without a group: got nil, want an error")
		}
	})
}

// TestReadNewOutbox: ReadNewOutbox returns the entries nobody read yet,
// every one it claimed, and leaves out what the consumer read before and
// holds; ReadOutbox still returns those.
func TestReadNewOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("a"), outNotice("b"))
		first, err := f.store.ReadOutbox(ctx, "slack", "w1", 10)
		if err != nil || len(first) != 2 {
			t.Fatalf("ReadOutbox: %d, %v; want 2", len(first), err)
		}
		got, err := f.store.ReadNewOutbox(ctx, "slack", "w1", 10)
		if err != nil || len(got) != 0 {
			t.Fatalf("ReadNewOutbox with nothing new: %q, %v; want nothing (a and b are held)", noticeIDs(got), err)
		}
		mustEnqueue(t, f.store, outNotice("c"), outNotice("d"), outNotice("e"))
		got, err = f.store.ReadNewOutbox(ctx, "slack", "w1", 2)
		if err != nil || len(got) < 2 || slices.ContainsFunc(got, func(d bot.Delivery) bool { return d.Notice.ID == "a" || d.Notice.ID == "b" }) {
			t.Fatalf("ReadNewOutbox(2): %q, %v; want two or more of c, d, e", noticeIDs(got), err)
		}
		// What it claimed it returned: a third one claimed and left out
		// would not be new for the next call.
		rest, err := f.store.ReadNewOutbox(ctx, "slack", "w1", 10)
		if err != nil || len(got)+len(rest) != 3 {
			t.Errorf("ReadNewOutbox again: %q after %q, %v; want c, d and e in all", noticeIDs(rest), noticeIDs(got), err)
		}
		all, err := f.store.ReadOutbox(ctx, "slack", "w1", 10)
		if ids := noticeIDs(all); err != nil || len(all) != 5 || !slices.Equal(slices.Sorted(slices.Values(ids)), []string{"a", "b", "c", "d", "e"}) {
			t.Errorf("ReadOutbox after: %q, %v; want a to e (4 held, 1 new)", ids, err)
		}
		if _, err := f.store.ReadNewOutbox(ctx, "", "w1", 1); err == nil {
			t.Error("ReadNewOutbox without a group: no error")
		}
	})
}

// TestReadNewOutboxAfterScriptFlush: a Redis that lost its script cache
// (restarted, or a replica promoted by a Sentinel failover) answers the
// reader script NOSCRIPT; the read sends the script again in the same
// call instead of failing the delivery pass (it failed once per failover,
// a pass's 2 s late).
func TestReadNewOutboxAfterScriptFlush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustEnqueue(t, f.store, outNotice("a"))
		if got, err := f.store.ReadNewOutbox(ctx, "slack", "w1", 10); err != nil || len(got) != 1 {
			t.Fatalf("ReadNewOutbox: %q, %v; want a", noticeIDs(got), err)
		}
		if err := f.client.ScriptFlush(ctx).Err(); err != nil {
			t.Fatalf("SCRIPT FLUSH: %v", err)
		}
		mustEnqueue(t, f.store, outNotice("b"))
		got, err := f.store.ReadNewOutbox(ctx, "slack", "w1", 10)
		if err != nil || len(got) != 1 || got[0].Notice.ID != "b" {
			t.Fatalf("ReadNewOutbox after SCRIPT FLUSH: %q, %v; want b", noticeIDs(got), err)
		}
	})
}
