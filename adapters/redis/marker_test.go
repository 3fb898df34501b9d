package redis_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// markerWorld is one test's Redis keys: a client, its prefix and a plain
// Store on it (no instance), for initialising and opening.
type markerWorld struct {
	client goredis.UniversalClient
	prefix string
	plain  *redis.Store
}

func newMarkerWorld(tb testing.TB) *markerWorld {
	tb.Helper()
	c := redistest.Client(tb)
	p := redistest.Prefix(tb)
	return &markerWorld{client: c, prefix: p, plain: redis.New(c, redis.Options{Prefix: p})}
}

// open opens the store's instance (refusing an empty one) and returns a
// Store guarded by it.
func (m *markerWorld) open(tb testing.TB) *redis.Store {
	tb.Helper()
	inst, err := m.plain.OpenInstance(context.Background(), "")
	if err != nil {
		tb.Fatalf("OpenInstance: %v", err)
	}
	return redis.New(m.client, redis.Options{Prefix: m.prefix, Instance: &inst})
}

func mustInit(tb testing.TB, s *redis.Store, next int64) int64 {
	tb.Helper()
	_, first, err := s.InitInstance(context.Background(), next, redis.InitByOperator)
	if err != nil {
		tb.Fatalf("InitInstance(%d): %v", next, err)
	}
	return first
}

func mustNextID(tb testing.TB, s *redis.Store, want string) {
	tb.Helper()
	got, _, err := s.NextID(context.Background(), "")
	if err != nil || got != want {
		tb.Fatalf("NextID: got %q, %v, want %q", got, err, want)
	}
}

func wantProblem(tb testing.TB, err error, problem string, phrases ...string) {
	tb.Helper()
	var ie *redis.InstanceError
	if !errors.As(err, &ie) || ie.Problem != problem {
		tb.Fatalf("got %v, want an InstanceError of problem %q", err, problem)
	}
	for _, p := range phrases {
		if !strings.Contains(err.Error(), p) {
			tb.Errorf("got message %q, want it to contain %q", err.Error(), p)
		}
	}
}

// wantLostRefusal checks that NextID refuses as people should be told.
func wantLostRefusal(tb testing.TB, s *redis.Store, problem string) {
	tb.Helper()
	id, _, err := s.NextID(context.Background(), "")
	if err == nil {
		tb.Fatalf("NextID: got %q, want a refusal (%s)", id, problem)
	}
	wantProblem(tb, err, problem)
	if code := workflow.ErrorCode(err); code != workflow.CodeUnavailable {
		tb.Errorf("NextID: got code %q, want %q", code, workflow.CodeUnavailable)
	}
	text := workflow.ErrorText(err)
	if text == nil || !strings.Contains(text.EN, "firebreak store init") || !strings.Contains(text.ZH, "firebreak store init") ||
		!strings.Contains(text.ZH, "丢失") {
		tb.Errorf("NextID: got message %+v, want one in English and Chinese naming the loss and `firebreak store init`", text)
	}
}

func TestOpenInstanceRefusesEmptyStoreAndWritesNothing(t *testing.T) {
	m := newMarkerWorld(t)
	_, err := m.plain.OpenInstance(context.Background(), "")
	wantProblem(t, err, redis.ProblemEmpty, m.prefix+":instance", "new installation", "lost")
	if keys := m.client.Keys(context.Background(), m.prefix+":*").Val(); len(keys) != 0 {
		t.Errorf("a refused store got keys %v, want none", keys)
	}
}

func TestOpenInstanceInitialisesEmptyStoreWhenTold(t *testing.T) {
	m := newMarkerWorld(t)
	inst, err := m.plain.OpenInstance(context.Background(), redis.InitEmbedded)
	if err != nil || inst.By != redis.InitEmbedded || len(inst.ID) != 16 {
		t.Fatalf("OpenInstance(embedded): got %+v, %v, want a new instance by %q", inst, err, redis.InitEmbedded)
	}
	s := redis.New(m.client, redis.Options{Prefix: m.prefix, Instance: &inst})
	mustNextID(t, s, "YQ-1")
	again := m.open(t)
	if got, _ := again.Instance(); got.ID != inst.ID {
		t.Errorf("reopened: got instance %s, want %s", got.ID, inst.ID)
	}
	mustNextID(t, again, "YQ-2")
}

func TestInitInstance(t *testing.T) {
	tests := []struct {
		name    string
		counter string // <prefix>:seq before, "" for none
		next    int64
		want    int64 // the first number handed out after
	}{
		{"new installation from 1", "", 1, 1},
		{"from the number the operator gives", "", 1043, 1043},
		{"never below a counter already there", "41", 5, 42},
		{"above a counter already there", "41", 500, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMarkerWorld(t)
			ctx := context.Background()
			if tt.counter != "" {
				m.client.Set(ctx, m.prefix+":seq", tt.counter, 0)
			}
			if first := mustInit(t, m.plain, tt.next); first != tt.want {
				t.Errorf("InitInstance(%d): got first %d, want %d", tt.next, first, tt.want)
			}
			mustNextID(t, m.open(t), "YQ-"+strconv.FormatInt(tt.want, 10))
		})
	}
}

func TestInitInstanceLeavesAnInitialisedStoreAlone(t *testing.T) {
	m := newMarkerWorld(t)
	mustInit(t, m.plain, 1)
	s := m.open(t)
	mustNextID(t, s, "YQ-1")
	inst, _, err := m.plain.InitInstance(context.Background(), 9000, redis.InitByOperator)
	if !errors.Is(err, redis.ErrInitialised) {
		t.Fatalf("second InitInstance: got %v, want ErrInitialised", err)
	}
	if want, _ := s.Instance(); inst.ID != want.ID {
		t.Errorf("second InitInstance: got instance %s, want the existing %s", inst.ID, want.ID)
	}
	mustNextID(t, s, "YQ-2") // nothing changed
	if err := s.CheckInstance(context.Background()); err != nil {
		t.Errorf("CheckInstance: %v", err)
	}
}

// TestOpenInstanceAdoptsStoreFromBeforeMarkers: incidents but no marker is
// an upgrade, not a loss; IDs go on from the counter.
func TestOpenInstanceAdoptsStoreFromBeforeMarkers(t *testing.T) {
	m := newMarkerWorld(t)
	m.client.Set(context.Background(), m.prefix+":seq", "7", 0)
	s := m.open(t)
	if inst, _ := s.Instance(); inst.By != redis.InitAdopted || !inst.Fresh {
		t.Errorf("got instance by %q (fresh: %v), want %q, fresh", inst.By, inst.Fresh, redis.InitAdopted)
	}
	if again, _ := m.open(t).Instance(); again.By != redis.InitAdopted || again.Fresh {
		t.Errorf("reopened: got instance by %q (fresh: %v), want %q, not fresh", again.By, again.Fresh, redis.InitAdopted)
	}
	mustNextID(t, s, "YQ-8")
}

func TestOpenInstanceRefusesMarkerWithoutCounter(t *testing.T) {
	m := newMarkerWorld(t)
	mustInit(t, m.plain, 1)
	m.client.Del(context.Background(), m.prefix+":seq")
	_, err := m.plain.OpenInstance(context.Background(), redis.InitEmbedded)
	wantProblem(t, err, redis.ProblemCounter, "counter", "missing")
	// `store init` accepts what is left, as it accepts an empty store.
	if first := mustInit(t, m.plain, 50); first != 50 {
		t.Errorf("InitInstance on a marker without counter: got first %d, want 50", first)
	}
	mustNextID(t, m.open(t), "YQ-50")
}

// TestWipeUnderRunningStore is the attack: Redis comes back empty under a
// running Firebreak. No ID is handed out again, the check names the cause,
// a restart is refused, and after `store init` the IDs go on above the old
// ones while the old Store stays refused (its process holds the old
// instance's state: it must restart).
func TestWipeUnderRunningStore(t *testing.T) {
	m := newMarkerWorld(t)
	ctx := context.Background()
	mustInit(t, m.plain, 1)
	running := m.open(t)
	for _, id := range []string{"YQ-1", "YQ-2", "YQ-3"} {
		mustNextID(t, running, id)
	}
	if err := running.CheckInstance(ctx); err != nil {
		t.Fatalf("CheckInstance before the wipe: %v", err)
	}

	redistest.Wipe(t, m.client, m.prefix)
	err := running.CheckInstance(ctx)
	wantProblem(t, err, redis.ProblemMissing, m.prefix+":instance", "gone", "YQ-3")
	wantLostRefusal(t, running, redis.ProblemMissing)
	if n := m.client.Exists(ctx, m.prefix+":seq").Val(); n != 0 {
		t.Errorf("a refused NextID left the counter behind; want no key written")
	}
	_, err = m.plain.OpenInstance(ctx, "")
	wantProblem(t, err, redis.ProblemEmpty)

	if first := mustInit(t, m.plain, 1000); first != 1000 {
		t.Fatalf("InitInstance after the wipe: got first %d, want 1000", first)
	}
	wantProblem(t, running.CheckInstance(ctx), redis.ProblemChanged, "changed")
	wantLostRefusal(t, running, redis.ProblemChanged)
	mustNextID(t, m.open(t), "YQ-1000")
}

// TestCounterGoingBackIsNoticed: a Redis restored from an older snapshot
// keeps the marker; a running Store knows which IDs it handed out.
func TestCounterGoingBackIsNoticed(t *testing.T) {
	m := newMarkerWorld(t)
	ctx := context.Background()
	mustInit(t, m.plain, 1)
	running := m.open(t)
	for _, id := range []string{"YQ-1", "YQ-2", "YQ-3"} {
		mustNextID(t, running, id)
	}
	m.client.Set(ctx, m.prefix+":seq", "1", 0)
	wantProblem(t, running.CheckInstance(ctx), redis.ProblemCounter, "went back from 3 to 1")
	wantLostRefusal(t, running, redis.ProblemCounter)
	if got := m.client.Get(ctx, m.prefix+":seq").Val(); got != "1" {
		t.Errorf("counter after a refused NextID: got %s, want 1 (untouched)", got)
	}
}

// TestOtherReplicasIDsCountAsSeen: IDs handed out by another replica raise
// what this one saw at its next check, so a later loss is measured from
// there, and a counter ahead of this replica is no loss.
func TestOtherReplicasIDsCountAsSeen(t *testing.T) {
	m := newMarkerWorld(t)
	ctx := context.Background()
	mustInit(t, m.plain, 1)
	a, b := m.open(t), m.open(t)
	mustNextID(t, a, "YQ-1")
	mustNextID(t, b, "YQ-2")
	mustNextID(t, a, "YQ-3")
	if err := b.CheckInstance(ctx); err != nil {
		t.Fatalf("CheckInstance of b: %v", err)
	}
	m.client.Set(ctx, m.prefix+":seq", "2", 0)
	wantProblem(t, b.CheckInstance(ctx), redis.ProblemCounter, "went back from 3 to 2")
}

func TestStoreWithoutInstanceAllocatesUnchecked(t *testing.T) {
	s := redistest.NewStore(t)
	if err := s.CheckInstance(context.Background()); err != nil {
		t.Errorf("CheckInstance without an instance: got %v, want nil", err)
	}
	mustNextID(t, s, "YQ-1")
}

// TestInstanceOnEmbeddedRedis runs the scripts on the embedded Redis
// (miniredis) that the demo uses, whatever Redis the other tests have.
func TestInstanceOnEmbeddedRedis(t *testing.T) {
	url, closeFn, err := redis.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	ctx := context.Background()
	c, err := redis.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	m := &markerWorld{client: c, prefix: "fb", plain: redis.New(c, redis.Options{})}
	inst, err := m.plain.OpenInstance(ctx, redis.InitEmbedded)
	if err != nil {
		t.Fatalf("OpenInstance: %v", err)
	}
	s := redis.New(c, redis.Options{Instance: &inst})
	mustNextID(t, s, "YQ-1")
	mustNextID(t, s, "YQ-2")
	if err := s.CheckInstance(ctx); err != nil {
		t.Fatalf("CheckInstance: %v", err)
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, s.CheckInstance(ctx), redis.ProblemMissing)
	wantLostRefusal(t, s, redis.ProblemMissing)
	mustInit(t, m.plain, 7)
	wantLostRefusal(t, s, redis.ProblemChanged)
	mustNextID(t, m.open(t), "YQ-7")
}
