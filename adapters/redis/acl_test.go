package redis_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// The minimum ACL of docs/redis.md, in its parts. Each is needed: without
// it, the first failure of exercise says fails.
var aclParts = []struct {
	name, rules, fails string
}{
	{"keys", "~fb:*", "Ping: write to redis: NOPERM this user has no permissions to access one of the keys"},
	{"channels", "&fb:*", "Open: apply change to YQ-1: ERR The user executing the script can't publish to the channel"},
	{"connection", "+ping", "connect to redis redis://fb2:xxxxx@"},
	{"strings", "+get +set +incr +del +exists +pexpire +pttl", "Ping: write to redis: NOPERM this user has no permissions to run the 'set' command"},
	{"hashes", "+hget +hset +hdel +hgetall", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"lists", "+rpush +lrange", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"sets", "+sadd +srem +smembers", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"sorted sets", "+zadd +zrem +zscore +zrange +zrangebyscore +zcount", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"streams", "+xadd +xreadgroup +xack +xautoclaim +xclaim +xgroup|create +xpending +xrevrange +xtrim", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"pub/sub", "+publish +subscribe", "Open: apply change to YQ-1: ERR The user executing the script can't run this command"},
	{"scripting", "+eval +evalsha +script|load", "OpenInstance: init store fb:instance: NOPERM this user has no permissions to run the 'evalsha' command"},
	{"transactions", "+multi +exec", "KeepDemoEpoch: keep demo epoch in fb:democlock: NOPERM this user has no permissions to run the 'multi' command"},
}

// clusterACL is what a Cluster needs on top: the client reads the slots.
const clusterACL = "+cluster|slots +command"

// aclUser creates the user name with the minimum ACL less the part named
// without ("" for none) on srv, and returns a client of it.
func aclUser(tb testing.TB, srv *redistest.Server, name, without string) (goredis.UniversalClient, error) {
	tb.Helper()
	setACLUser(tb, srv, name, without)
	c, err := redis.DialWith(ctx, redis.DialOptions{URL: "redis://" + name + ":" + aclSecret + "@" + srv.Addr() + "/0?max_retries=-1"})
	if err == nil {
		tb.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

// aclSecret is the ACL users' password.
const aclSecret = "Vb7kQz2m"

// setACLUser creates (or replaces) the user name on srv with the minimum
// ACL less the part named without, and more.
func setACLUser(tb testing.TB, srv *redistest.Server, name, without string, more ...string) {
	tb.Helper()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">" + aclSecret, "resetkeys", "resetchannels", "-@all"}
	for _, p := range aclParts {
		if p.name != without {
			for _, r := range strings.Fields(p.rules) {
				args = append(args, r)
			}
		}
	}
	for _, r := range strings.Fields(strings.Join(more, " ")) {
		args = append(args, r)
	}
	if err := srv.Client(tb).Do(ctx, args...).Err(); err != nil {
		tb.Fatalf("%v: %v", args, err)
	}
}

// exercise runs every kind of Redis work Firebreak does through c, under
// the prefix fb, and returns the first failure, naming the step.
func exercise(tb testing.TB, c goredis.UniversalClient) error {
	tb.Helper()
	s := redis.New(c, redis.Options{Prefix: "fb"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	step := func(name string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if err := step("Ping", s.Ping(ctx)); err != nil {
		return err
	}
	inst, err := s.OpenInstance(ctx, redis.InitTest)
	if err != nil {
		return step("OpenInstance", err)
	}
	clock := workflow.NewManualClock(time.Now())
	store := redis.New(c, redis.Options{Prefix: "fb", Instance: &inst, Clock: clock})
	wake, stopWake := store.WakeUps(ctx)
	defer stopWake()
	outboxWake, stopOutboxWake := store.OutboxWakeUps(ctx)
	defer stopOutboxWake()
	svc := workflow.NewService(store, crowdRoster(tb, 2), clock)
	inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
	if err != nil {
		return step("Open", err)
	}
	select {
	case <-wake:
	case <-time.After(2 * time.Second):
		return step("WakeUps", fmt.Errorf("no wake-up within 2s of planning timers"))
	}
	select {
	case <-outboxWake:
	case <-time.After(2 * time.Second):
		return step("OutboxWakeUps", fmt.Errorf("no wake-up within 2s of a notice"))
	}
	for _, st := range []struct {
		name string
		run  func() error
	}{
		{"SubmitDraft", func() error { _, _, err := svc.SubmitDraft(ctx, "chen", inc.ID, "text"); return err }},
		{"Approve", func() error { _, _, err := svc.Approve(ctx, "leader00", inc.ID, 0, ""); return err }},
		{"Get", func() error { _, err := store.Get(ctx, inc.ID); return err }},
		{"History", func() error { _, _, err := store.History(ctx, inc.ID); return err }},
		{"List", func() error { _, err := store.List(ctx, workflow.ListQuery{Filter: workflow.ListOverdue}); return err }},
		{"Recent", func() error { _, err := store.Recent(ctx, clock.Now().Add(-time.Hour), 10); return err }},
		{"RoundRobin", func() error { _, err := store.RoundRobin(ctx, "office"); return err }},
		{"TryLock", func() error { _, err := store.TryLock(ctx, "digest", time.Minute); return err }},
		{"CheckInstance", func() error { return store.CheckInstance(ctx) }},
		{"KeepDemoEpoch", func() error {
			_, _, err := store.KeepDemoEpoch(ctx, redis.DemoEpoch{Start: clock.Now(), Scale: 60})
			return err
		}},
		{"timers", func() error {
			due, err := store.ClaimDue(ctx, clock.Now().Add(48*time.Hour), time.Minute, 10)
			for _, tm := range due {
				if err == nil {
					err = store.AckTimer(ctx, tm)
				}
			}
			if err == nil {
				_, _, err = store.NextDue(ctx)
			}
			return err
		}},
		{"outbox", func() error {
			if err := store.Enqueue(ctx, []workflow.Notice{{ID: "digest-1", Body: []byte("digest")},
				{ID: "digest-2", Body: []byte("digest")}, {ID: "digest-3", Body: []byte("digest")}}); err != nil {
				return err
			}
			ds, err := store.ReadOutbox(ctx, "slack", "w1", 100)
			if err != nil || len(ds) < 3 {
				return fmt.Errorf("read %d notices: %v", len(ds), err)
			}
			for _, w := range []string{"w1", "w2"} { // w2 is told how long w1 holds it
				if _, _, err := store.OwnTarget(ctx, "slack", "C1", w, time.Minute); err != nil {
					return err
				}
			}
			if _, err := store.MarkSent(ctx, "slack", time.Hour, ds[0]); err != nil {
				return err
			}
			if _, err := store.WasSent(ctx, "slack", ds[0]); err != nil {
				return err
			}
			if err := store.AckOutbox(ctx, "slack", ds[0]); err != nil {
				return err
			}
			if err := store.DeadLetter(ctx, "slack", ds[1], "refused"); err != nil {
				return err
			}
			if _, err := store.DeadLetters(ctx, "slack", 10); err != nil {
				return err
			}
			if err := store.Handover(ctx, "slack", "w2", 0, ds[2]); err != nil {
				return err
			}
			if _, err := store.ClaimStale(ctx, "slack", "w1", 0, 10); err != nil {
				return err
			}
			if err := store.Release(ctx, "slack", "w1", "C1"); err != nil {
				return err
			}
			_, err = store.TrimOutbox(ctx, clock.Now().Add(-time.Hour))
			return err
		}},
		{"memo", func() error {
			m := store.Memo("slack")
			if err := m.SetMemo(ctx, "k", "v", time.Hour); err != nil {
				return err
			}
			if _, _, err := m.GetMemo(ctx, "k"); err != nil {
				return err
			}
			if err := m.SetMemoFields(ctx, "h", map[string]string{"a": "1"}, time.Hour); err != nil {
				return err
			}
			if _, err := m.MemoFields(ctx, "h"); err != nil {
				return err
			}
			return m.DeleteMemoFields(ctx, "h", "a")
		}},
		{"telegram", func() error {
			tg := store.PlatformState("telegram")
			if _, err := tg.AcquireLease(ctx, "poll", "w1", time.Minute); err != nil {
				return err
			}
			if _, err := tg.RenewLease(ctx, "poll", "w1", time.Minute); err != nil {
				return err
			}
			if err := tg.ReleaseLease(ctx, "poll", "w1"); err != nil {
				return err
			}
			if _, _, _, err := tg.ClaimUpdate(ctx, 42, "try", time.Minute); err != nil {
				return err
			}
			if err := tg.SaveUpdate(ctx, 42, []byte("{}")); err != nil {
				return err
			}
			if err := tg.FinishUpdate(ctx, 42); err != nil {
				return err
			}
			if _, _, _, err := tg.ClaimUpdate(ctx, 43, "try", time.Minute); err != nil {
				return err
			}
			return tg.AbandonUpdate(ctx, 43, "try")
		}},
		{"Resolve", func() error { _, _, err := svc.Resolve(ctx, "leader00", inc.ID, "done", true); return err }},
	} {
		if err := step(st.name, st.run()); err != nil {
			return err
		}
	}
	return nil
}

// TestMinimumACL runs all of Firebreak's Redis work as a user with the ACL
// of docs/redis.md, on a Redis of its own and on a Cluster: it works; and
// without each part of it, it fails where the document says.
func TestMinimumACL(t *testing.T) {
	redistest.RequireServers(t)
	srv := redistest.StartServer(t)
	admin := srv.Client(t)
	c, err := aclUser(t, srv, "fb", "")
	if err == nil {
		err = exercise(t, c)
	}
	if err != nil {
		log, _ := admin.Do(ctx, "ACL", "LOG").Slice()
		t.Fatalf("with the minimum ACL: %v\nACL LOG: %v", err, log)
	}
	for i, part := range aclParts {
		t.Run("without "+part.name, func(t *testing.T) {
			if err := admin.FlushAll(ctx).Err(); err != nil { // a Redis of its own
				t.Fatal(err)
			}
			c, err := aclUser(t, srv, "fb"+strconv.Itoa(i), part.name)
			if err == nil {
				err = exercise(t, c)
			}
			if err == nil || !strings.Contains(err.Error(), part.fails) {
				t.Errorf("without %s (%s): got %v, want %q", part.name, part.rules, err, part.fails)
			}
		})
	}
	t.Run("cluster", func(t *testing.T) {
		cluster := redistest.SharedCluster(t)
		for _, without := range []bool{false, true} {
			for _, node := range cluster.Nodes {
				if without {
					setACLUser(t, node, "fbcluster", "")
				} else {
					setACLUser(t, node, "fbcluster", "", clusterACL)
				}
			}
			url := "redis://fbcluster:" + aclSecret + "@" + strings.TrimPrefix(cluster.URL(), "redis://")
			c, err := redis.DialWith(ctx, redis.DialOptions{URL: url, Mode: redis.ModeCluster})
			if err == nil {
				t.Cleanup(func() { _ = c.Close() })
				err = exercise(t, c)
			}
			switch {
			case !without && err != nil:
				t.Errorf("with the minimum ACL and %s: %v", clusterACL, err)
			case without && (err == nil || !strings.Contains(err.Error(), "cluster|slots")):
				t.Errorf("without %s: got %v, want a refusal of cluster|slots", clusterACL, err)
			}
		}
	})
}
