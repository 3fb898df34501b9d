package redis_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
)

func TestTelegramLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		st := f.store.PlatformState("telegram")
		steps := []struct {
			name  string
			do    func() (bool, error)
			want  bool
			owner string // who holds the lease afterwards; "" for nobody
		}{
			{"a takes the free lease", func() (bool, error) { return st.AcquireLease(ctx, "poll", "a", time.Minute) }, true, "a"},
			{"b cannot take it", func() (bool, error) { return st.AcquireLease(ctx, "poll", "b", time.Minute) }, false, "a"},
			{"b cannot renew it", func() (bool, error) { return st.RenewLease(ctx, "poll", "b", time.Minute) }, false, "a"},
			{"a renews it", func() (bool, error) { return st.RenewLease(ctx, "poll", "a", time.Minute) }, true, "a"},
			{"a takes it again (renewal)", func() (bool, error) { return st.AcquireLease(ctx, "poll", "a", time.Minute) }, true, "a"},
			{"b cannot release it", func() (bool, error) { return true, st.ReleaseLease(ctx, "poll", "b") }, true, "a"},
			{"a releases it", func() (bool, error) { return true, st.ReleaseLease(ctx, "poll", "a") }, true, ""},
			{"a cannot renew a released lease", func() (bool, error) { return st.RenewLease(ctx, "poll", "a", time.Minute) }, false, ""},
			{"b takes it", func() (bool, error) { return st.AcquireLease(ctx, "poll", "b", time.Minute) }, true, "b"},
		}
		key := f.prefix + ":tg:lease:poll"
		for _, s := range steps {
			got, err := s.do()
			if err != nil || got != s.want {
				t.Fatalf("%s: got %v, %v; want %v", s.name, got, err, s.want)
			}
			owner, _ := f.client.Get(ctx, key).Result()
			if owner != s.owner {
				t.Fatalf("%s: lease held by %q, want %q", s.name, owner, s.owner)
			}
		}
		if ttl, err := f.client.PTTL(ctx, key).Result(); err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("lease TTL: got %s, %v; want within (0, 1m]", ttl, err)
		}
	})
}

// TestTelegramLeaseExpires: a replica that stops renewing (it died) loses
// the lease, and another one takes it.
func TestTelegramLeaseExpires(t *testing.T) {
	redistest.RequireReal(t, "keys expire with time")
	st := redistest.NewStore(t).PlatformState("telegram")
	if ok, err := st.AcquireLease(ctx, "poll", "a", 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("a: got %v, %v; want the lease", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := st.AcquireLease(ctx, "poll", "b", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never got the lease after a's expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ok, _ := st.RenewLease(ctx, "poll", "a", time.Minute); ok {
		t.Error("a renewed a lease b holds")
	}
}

func TestTelegramUpdateLog(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		st := f.store.PlatformState("telegram")
		claim := func(name, try string, wantClaimed, wantDone bool, wantSaved string) {
			t.Helper()
			claimed, done, saved, err := st.ClaimUpdate(ctx, 42, try, time.Minute)
			if err != nil || claimed != wantClaimed || done != wantDone || string(saved) != wantSaved {
				t.Fatalf("%s: got claimed=%v done=%v saved=%q err=%v; want claimed=%v done=%v saved=%q",
					name, claimed, done, saved, err, wantClaimed, wantDone, wantSaved)
			}
		}
		claim("first claim", "a", true, false, "")
		claim("while another try holds it", "b", false, false, "")
		// The same try claiming again is its claim sent again by go-redis
		// after the reply timed out (the first one ran): still its own.
		claim("the same try again", "a", true, false, "")
		if err := st.SaveUpdate(ctx, 42, []byte(`{"next":1}`)); err != nil {
			t.Fatal(err)
		}
		if err := st.AbandonUpdate(ctx, 42, "b"); err != nil {
			t.Fatal(err)
		}
		claim("after another try gave up a claim it did not hold", "c", false, false, "")
		if err := st.AbandonUpdate(ctx, 42, "a"); err != nil {
			t.Fatal(err)
		}
		claim("after a failed try", "c", true, false, `{"next":1}`)
		if err := st.FinishUpdate(ctx, 42); err != nil {
			t.Fatal(err)
		}
		claim("after it was handled", "c", false, true, "")
		if n, _ := f.client.Exists(ctx, f.prefix+":tg:{upd:42}:out").Result(); n != 0 {
			t.Errorf("saved outcome after FinishUpdate: still there")
		}
		if ttl, _ := f.client.PTTL(ctx, f.prefix+":tg:{upd:42}").Result(); ttl <= 23*time.Hour || ttl > 24*time.Hour {
			t.Errorf("handled update TTL: got %s, want about 24h", ttl)
		}
		// Another update is independent.
		claimed, _, _, err := st.ClaimUpdate(ctx, 43, "try", time.Minute)
		if err != nil || !claimed {
			t.Errorf("update 43: got claimed=%v, %v; want claimed", claimed, err)
		}
	})
}

func TestTelegramMemo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		st := f.store.PlatformState("telegram")
		if _, ok, err := st.GetMemo(ctx, "chat:-1"); ok || err != nil {
			t.Fatalf("GetMemo of nothing: got ok=%v, %v", ok, err)
		}
		if err := st.SetMemo(ctx, "chat:-1", "-1009", 0); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := st.GetMemo(ctx, "chat:-1"); v != "-1009" || !ok || err != nil {
			t.Errorf("GetMemo: got %q, %v, %v; want -1009", v, ok, err)
		}
		if ttl, _ := f.client.PTTL(ctx, f.prefix+":tg:memo:chat:-1").Result(); ttl != -1 {
			t.Errorf("memo with ttl 0: got PTTL %s, want none", ttl)
		}

		if err := st.SetMemoFields(ctx, "msg:1", map[string]string{"html": "<b>x</b>", "kb": "[]"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.SetMemoFields(ctx, "msg:1", map[string]string{"l:1": "one"}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteMemoFields(ctx, "msg:1", "kb"); err != nil {
			t.Fatal(err)
		}
		got, err := st.MemoFields(ctx, "msg:1")
		if err != nil {
			t.Fatal(err)
		}
		if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"html", "l:1"}) || got["html"] != "<b>x</b>" {
			t.Errorf("MemoFields: got %v", got)
		}
		if ttl, _ := f.client.PTTL(ctx, f.prefix+":tg:memo:msg:1").Result(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("memo hash TTL: got %s, want within (0, 1h]", ttl)
		}
		if got, err := st.MemoFields(ctx, "msg:none"); err != nil || len(got) != 0 {
			t.Errorf("MemoFields of nothing: got %v, %v", got, err)
		}
	})
}

func TestTelegramKeysStayUnderThePrefix(t *testing.T) {
	client, prefix := redistest.Client(t), redistest.Prefix(t)
	st := redis.New(client, redis.Options{Prefix: prefix}).PlatformState("telegram")
	_, _ = st.AcquireLease(ctx, "poll", "a", time.Minute)
	_, _, _, _ = st.ClaimUpdate(ctx, 1, "try", time.Minute)
	_ = st.SaveUpdate(ctx, 1, []byte("x"))
	_ = st.SetMemo(ctx, "k", "v", time.Minute)
	_ = st.SetMemoFields(ctx, "h", map[string]string{"f": "v"}, time.Minute)
	keys, err := client.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 5 {
		t.Errorf("keys: got %v, want 5", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix+":tg:") {
			t.Errorf("key %s is not under %s:tg:", k, prefix)
		}
	}
}
