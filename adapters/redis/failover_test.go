package redis_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func mustDial(tb testing.TB, o redis.DialOptions) goredis.UniversalClient {
	tb.Helper()
	c, err := redis.DialWith(ctx, o)
	if err != nil {
		tb.Fatalf("DialWith(%s, %s): %v", o.Mode, redis.Redact(o.URL), err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// TestClusterFailoverLosesNoTimer fires 1,000 timers on a 3-master,
// 3-replica cluster with two engines, and a third of the way through kills
// (SIGKILL) the master of one shard and promotes its replica (CLUSTER
// FAILOVER FORCE). Every timer fires, none before it is due, and none has
// its effect twice: the handler is idempotent the way the tick handler is
// (SET NX of a mark per timer and due time), and a timer whose claim or
// ack died with the master is delivered again and finds its mark.
func TestClusterFailoverLosesNoTimer(t *testing.T) {
	t.Parallel()
	const (
		incidents = 200
		perInc    = 5
		total     = incidents * perInc
		engines   = 2
		lease     = time.Second
	)
	cluster := redistest.StartCluster(t, 3)
	dial := redis.DialOptions{URL: cluster.URL(), Mode: redis.ModeCluster}
	prefix := randomPrefix()
	writer := redis.New(mustDial(t, dial), redis.Options{Prefix: prefix})

	// The timers fall due over 3s, starting in a second.
	start := time.Now().Add(time.Second)
	planSpread(t, writer, incidents, perInc, start, 3*time.Second)

	var (
		mu       sync.Mutex
		effects  = map[string]int{} // timer -> times its effect happened
		attempts = map[string]int{} // timer -> deliveries
		early    []string
		third    = make(chan struct{})
		allDone  = make(chan struct{})
	)
	engineCtx, stopEngines := context.WithCancel(ctx)
	defer stopEngines()
	runs := make([]chan error, engines)
	for i := range engines {
		client := mustDial(t, dial)
		store := redis.New(client, redis.Options{Prefix: prefix})
		wake, stopWake := store.WakeUps(engineCtx)
		t.Cleanup(stopWake)
		tick := func(ctx context.Context, tm workflow.DueTimer) (workflow.TickResult, error) {
			if time.Now().Before(tm.Due) {
				mu.Lock()
				early = append(early, tm.ID)
				mu.Unlock()
			}
			mark := prefix + ":fired:" + tm.ID + "@" + strconv.FormatInt(tm.Due.UnixMilli(), 10)
			fresh, err := client.SetNX(ctx, mark, i, 0).Result()
			if err != nil {
				return workflow.TickResult{}, err
			}
			mu.Lock()
			defer mu.Unlock()
			attempts[tm.ID]++
			if fresh {
				effects[tm.ID]++
				switch len(effects) {
				case total / 3:
					close(third)
				case total:
					close(allDone)
				}
			}
			return workflow.TickResult{Outcome: workflow.TimerFired}, nil
		}
		s := &bot.Scheduler{Timers: store, Handle: tick, Lease: lease, Batch: 20,
			MaxIdle: 250 * time.Millisecond, Wake: wake, Log: slog.New(slog.NewTextHandler(t.Output(), nil))}
		runs[i] = make(chan error, 1)
		go func() { runs[i] <- s.Run(engineCtx) }()
	}

	select {
	case <-third:
	case <-time.After(20 * time.Second):
		t.Fatal("a third of the timers did not fire within 20s")
	}
	master, replica := cluster.MasterOf(t, prefix+":{s00}:timers")
	master.Kill(t)
	mu.Lock()
	atKill := len(effects)
	mu.Unlock()
	// Not ready while a master is gone: its slots take no writes.
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := writer.Ping(pingCtx); err == nil {
		t.Error("Ping with a master killed: got nil, want an error (not ready)")
	}
	cancel()
	cluster.FailOver(t, replica)
	redistest.Eventually(t, 5*time.Second, "ready again after the failover", func() error { return writer.Ping(ctx) })
	t.Logf("killed the master %s with %d of %d timers fired; %s took over", master.Addr(), atKill, total, replica.Addr())
	if atKill == total {
		t.Fatal("every timer had fired before the master was killed: the test shows nothing")
	}

	select {
	case <-allDone:
	case <-time.After(30 * time.Second):
		mu.Lock()
		n := len(effects)
		mu.Unlock()
		t.Fatalf("fired %d of %d timers within 30s of the failover", n, total)
	}
	// Every timer is acknowledged: none pending, none in flight.
	redistest.Eventually(t, 10*time.Second, "no timer pending or in flight", func() error {
		_, pending, err := writer.NextDue(ctx)
		if err == nil && pending {
			err = fmt.Errorf("timers pending or in flight")
		}
		return err
	})
	stopEngines()
	for i := range runs {
		if err := <-runs[i]; err != nil {
			t.Errorf("engine %d: Run: %v", i, err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(effects) != total {
		t.Errorf("timers fired: got %d, want %d", len(effects), total)
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("timer %s: effect happened %d times, want once", id, n)
		}
	}
	if len(early) > 0 {
		t.Errorf("%d timers fired before they were due, e.g. %s", len(early), early[0])
	}
	again := 0
	for _, n := range attempts {
		if n > 1 {
			again++
		}
	}
	t.Logf("%d timers delivered again after the failover (without effect)", again)
}

// TestSentinelFailover opens incidents through Sentinel (FIREBREAK_REDIS_MODE=sentinel),
// fails the master over with SENTINEL FAILOVER, and opens more: they go to
// the new master, with incident IDs going on. The old master, which Sentinel
// turns into a replica, is not ready when dialled directly: /readyz answers
// 503 there, and 200 through Sentinel.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	sentinel := redistest.StartSentinel(t, 3)
	client := mustDial(t, redis.DialOptions{URL: sentinel.URL(), Mode: redis.ModeSentinel})
	if c, ok := client.(*goredis.Client); !ok || !c.Options().ContextTimeoutEnabled {
		t.Fatalf("DialWith(sentinel): got a %T, want a *Client that honours context deadlines", client)
	}
	prefix := randomPrefix()
	inst, err := redis.New(client, redis.Options{Prefix: prefix}).OpenInstance(ctx, redis.InitTest)
	if err != nil {
		t.Fatalf("OpenInstance: %v", err)
	}
	clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 7, 0, time.UTC))
	store := redis.New(client, redis.Options{Prefix: prefix, Instance: &inst, Clock: clock})
	svc := workflow.NewService(store, crowdRoster(t, 2), clock)
	first, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
	if err != nil || first.ID != "YQ-1" {
		t.Fatalf("Open before the failover: got %v, %v; want YQ-1", first, err)
	}

	// Replication is asynchronous: a failover right after a write may
	// promote a replica that never got it (the marker then reads as lost,
	// rightly). Wait until the replica has the writes, as an operator's
	// planned failover would.
	if n, err := client.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n < 1 {
		t.Fatalf("WAIT for the replica: got %d, %v; want 1", n, err)
	}
	oldMaster := sentinel.Master
	sentinel.FailOver(t)
	newMaster := sentinel.Master
	if got := sentinel.MasterAddr(t); got != newMaster.Addr() {
		t.Fatalf("Sentinel names %s, want the promoted %s", got, newMaster.Addr())
	}
	// The client follows the switch (+switch-master): a write through it
	// lands on the new master.
	direct := newMaster.Client(t)
	n := 0
	redistest.Eventually(t, 10*time.Second, "a write through Sentinel on the new master", func() error {
		n++
		probe := prefix + ":probe:" + strconv.Itoa(n)
		if err := client.Set(ctx, probe, "1", time.Minute).Err(); err != nil {
			return err
		}
		return direct.Get(ctx, probe).Err()
	})
	second, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Library hours", Level: workflow.LevelGeneral})
	if err != nil || second.ID != "YQ-2" {
		t.Fatalf("Open after the failover: got %v, %v; want YQ-2", second, err)
	}
	onNew := redis.New(direct, redis.Options{Prefix: prefix})
	for _, id := range []string{"YQ-1", "YQ-2"} {
		if _, err := onNew.Get(ctx, id); err != nil {
			t.Errorf("the new master holds no %s: %v", id, err)
		}
	}
	if code, body := readyzOf(t, store); code != http.StatusOK {
		t.Errorf("GET /readyz through Sentinel: got %d %q, want 200", code, body)
	}

	redistest.WaitReplica(t, oldMaster, 30*time.Second)
	old := redis.New(oldMaster.Client(t), redis.Options{Prefix: prefix})
	if _, err := old.Get(ctx, "YQ-2"); err != nil {
		t.Errorf("the old master, a replica now, does not have YQ-2: %v", err)
	}
	code, body := readyzOf(t, old)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "read-only") {
		t.Errorf("GET /readyz on the old master, a replica now: got %d %q, want 503 read-only", code, body)
	}
}

// readyzOf answers GET /readyz with the readiness of store.
func readyzOf(tb testing.TB, store *redis.Store) (int, string) {
	tb.Helper()
	mux := http.NewServeMux()
	web.Health(mux, store, http.NotFoundHandler(), slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}
