package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// The contract suite (forEachBackend) runs on a Redis Cluster too: three
// masters with a replica each, started once per test binary, reached with
// a cluster client. A command whose keys fall in two slots fails there
// with CROSSSLOT, which passes unseen on a single Redis.
func init() {
	backends = append(backends, struct {
		name string
		open func(tb testing.TB) fixture
	}{"cluster", openCluster})
}

func openCluster(tb testing.TB) fixture {
	tb.Helper()
	c := redistest.SharedCluster(tb).Client(tb)
	c.AddHook(scanEveryMaster{c})
	prefix := randomPrefix()
	return fixture{store: redis.New(c, redis.Options{Prefix: prefix}), client: c, prefix: prefix}
}

// randomPrefix is a key prefix of its own for a test on a throwaway
// server, which is not cleaned up: it goes away with the server.
func randomPrefix() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "fbt:" + hex.EncodeToString(b)
}

// scanEveryMaster answers SCAN from cursor 0 with the keys of every master
// in one page: a cluster client sends SCAN to one node, which holds only
// its own slots, and the suite lists keys with SCAN.
type scanEveryMaster struct{ c *goredis.ClusterClient }

func (h scanEveryMaster) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h scanEveryMaster) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (h scanEveryMaster) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		scan, ok := cmd.(*goredis.ScanCmd)
		if !ok || cmd.Name() != "scan" {
			return next(ctx, cmd)
		}
		args := cmd.Args()
		match := "*"
		for i := 2; i+1 < len(args); i++ {
			if s, _ := args[i].(string); s == "match" || s == "MATCH" {
				match, _ = args[i+1].(string)
			}
		}
		var (
			mu   sync.Mutex
			keys []string
		)
		err := h.c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			iter := node.Scan(ctx, 0, match, 1000).Iterator()
			for iter.Next(ctx) {
				mu.Lock()
				keys = append(keys, iter.Val())
				mu.Unlock()
			}
			return iter.Err()
		})
		scan.SetVal(keys, 0)
		scan.SetErr(err)
		return err
	}
}

// crossSlotLog records every command that Redis refused with CROSSSLOT.
type crossSlotLog struct {
	mu      sync.Mutex
	refused []string
}

func (l *crossSlotLog) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (l *crossSlotLog) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		l.note(cmd)
		return err
	}
}

func (l *crossSlotLog) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			l.note(cmd)
		}
		return err
	}
}

func (l *crossSlotLog) note(cmd goredis.Cmder) {
	if err := cmd.Err(); err != nil && (strings.Contains(err.Error(), "CROSSSLOT") || err == goredis.ErrCrossSlot) {
		l.mu.Lock()
		l.refused = append(l.refused, cmd.String())
		l.mu.Unlock()
	}
}

// TestClusterIncidentFlow runs an incident from open to resolved through
// the Service on a Redis Cluster, dialled as FIREBREAK_REDIS_MODE=cluster
// does, on a store opened on its instance marker (the one script that
// reads two keys outside the shards), with its timers claimed and its
// notices read and acknowledged: nothing is refused with CROSSSLOT.
func TestClusterIncidentFlow(t *testing.T) {
	cluster := redistest.SharedCluster(t)
	client, err := redis.DialWith(ctx, redis.DialOptions{URL: cluster.URL(), Mode: redis.ModeCluster})
	if err != nil {
		t.Fatalf("DialWith(cluster): %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if cc, ok := client.(*goredis.ClusterClient); !ok || !cc.Options().ContextTimeoutEnabled {
		t.Fatalf("DialWith(cluster): got a %T, want a *ClusterClient that honours context deadlines", client)
	}
	refused := &crossSlotLog{}
	client.AddHook(refused)
	prefix := randomPrefix()

	plain := redis.New(client, redis.Options{Prefix: prefix})
	if got, want := plain.InstanceKey(), prefix+":{meta}:instance"; got != want {
		t.Errorf("InstanceKey on a cluster: got %s, want %s (one slot with the counter)", got, want)
	}
	inst, err := plain.OpenInstance(ctx, redis.InitTest)
	if err != nil {
		t.Fatalf("OpenInstance: %v", err)
	}
	start := time.Date(2026, 3, 2, 1, 0, 7, 123e6, time.UTC)
	clock := workflow.NewManualClock(start)
	store := redis.New(client, redis.Options{Prefix: prefix, Instance: &inst, Clock: clock})
	svc := workflow.NewService(store, crowdRoster(t, 2), clock)

	inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if inc.ID != "YQ-1" {
		t.Errorf("first incident: got %s, want YQ-1", inc.ID)
	}
	due, err := store.ClaimDue(ctx, start.Add(48*time.Hour), time.Minute, 100)
	if err != nil || len(due) == 0 {
		t.Fatalf("ClaimDue two days on: got %d timers, %v; want the major incident's deadlines", len(due), err)
	}
	for _, tm := range due {
		mustAckTimer(t, fixture{store: store}, tm)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"draft", func() error {
			_, _, err := svc.SubmitDraft(ctx, "chen", inc.ID, "We are inspecting the canteen.")
			return err
		}},
		{"approve", func() error { _, _, err := svc.Approve(ctx, "leader00", inc.ID, 0, ""); return err }},
		{"approve again", func() error { _, _, err := svc.Approve(ctx, "leader01", inc.ID, 0, ""); return err }},
		{"publish", func() error { _, _, err := svc.Publish(ctx, "sun", inc.ID); return err }},
		{"update", func() error {
			_, _, err := svc.Update(ctx, "chen", inc.ID, "inspection done", workflow.Figures{})
			return err
		}},
		{"resolve", func() error { _, _, err := svc.Resolve(ctx, "chen", inc.ID, "canteen cleaned", false); return err }},
	}
	for _, step := range steps {
		clock.Advance(17 * time.Minute)
		if err := step.run(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
	}
	second, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Library hours", Level: workflow.LevelGeneral})
	if err != nil || second.ID != "YQ-2" {
		t.Fatalf("second Open: got %v, %v; want YQ-2", second, err)
	}

	got, err := store.Get(ctx, inc.ID)
	if err != nil || got.Status != workflow.StatusResolved {
		t.Errorf("Get %s: got %+v, %v; want resolved", inc.ID, got, err)
	}
	if _, events, err := store.History(ctx, inc.ID); err != nil || len(events) < len(steps) {
		t.Errorf("Timeline: got %d events, %v; want at least %d", len(events), err, len(steps))
	}
	open, err := store.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil || len(open) != 1 || open[0].ID != "YQ-2" {
		t.Errorf("List open: got %v, %v; want [YQ-2]", ids(open), err)
	}
	notices, err := store.ReadOutbox(ctx, "slack", "w1", 1000)
	if err != nil || len(notices) == 0 {
		t.Fatalf("ReadOutbox: got %d notices, %v; want the incident's", len(notices), err)
	}
	if err := store.AckOutbox(ctx, "slack", notices...); err != nil {
		t.Errorf("AckOutbox: %v", err)
	}
	if err := store.CheckInstance(ctx); err != nil {
		t.Errorf("CheckInstance: %v", err)
	}
	if err := store.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	refused.mu.Lock()
	defer refused.mu.Unlock()
	if len(refused.refused) > 0 {
		t.Errorf("refused with CROSSSLOT: %v", refused.refused)
	}
}
