package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// crowdRoster has one author, n leaders of whom the first is the principal,
// and a spokesperson.
func crowdRoster(tb testing.TB, n int) *workflow.Roster {
	tb.Helper()
	r := workflow.Roster{
		Timezone:    "Asia/Shanghai",
		Departments: []workflow.Department{{ID: "office", Categories: []workflow.Category{workflow.CategoryOther}}},
		People: []workflow.Person{
			{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "sun", Roles: []workflow.Role{workflow.RoleSpokesperson}},
		},
	}
	for i := range n {
		roles := []workflow.Role{workflow.RoleLeader}
		if i == 0 {
			roles = append(roles, workflow.RolePrincipal)
		}
		r.People = append(r.People, workflow.Person{ID: fmt.Sprintf("leader%02d", i), Roles: roles})
	}
	roster, err := workflow.NewRoster(r)
	if err != nil {
		tb.Fatalf("roster: %v", err)
	}
	return roster
}

// TestServiceConcurrentApprovalsAndUpdates runs 50 approvals by different
// leaders, 50 follow-up reports and 50 presses of Approve by the principal,
// all at once on one incident in a real Redis: no update may be lost, each
// leader counts once, and quorum is reached exactly once.
func TestServiceConcurrentApprovalsAndUpdates(t *testing.T) {
	const n = 50
	ctx := context.Background()
	store := redistest.NewStore(t)
	clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	svc := workflow.NewService(store, crowdRoster(t, n+1), clock)

	inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.SubmitDraft(ctx, "chen", inc.ID, "We are inspecting the canteen."); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var approved, updated, principalOK, principalConflict atomic.Int64
	errs := make(chan error, 3*n)
	for i := range n {
		wg.Add(3)
		go func() {
			defer wg.Done()
			if _, _, err := svc.Approve(ctx, fmt.Sprintf("leader%02d", i+1), inc.ID, 1, ""); err != nil {
				errs <- fmt.Errorf("approve by leader%02d: %w", i+1, err)
				return
			}
			approved.Add(1)
		}()
		go func() {
			defer wg.Done()
			if _, _, err := svc.Update(ctx, "chen", inc.ID, fmt.Sprintf("report %d", i), workflow.Figures{}); err != nil {
				errs <- fmt.Errorf("update %d: %w", i, err)
				return
			}
			updated.Add(1)
		}()
		go func() {
			defer wg.Done()
			// The principal presses Approve again and again.
			_, _, err := svc.Approve(ctx, "leader00", inc.ID, 1, "")
			switch workflow.ErrorCode(err) {
			case "":
				principalOK.Add(1)
			case workflow.CodeConflict:
				principalConflict.Add(1)
			default:
				errs <- fmt.Errorf("principal's press: %w", err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if approved.Load() != n || updated.Load() != n {
		t.Fatalf("got %d approvals and %d updates accepted, want %d each", approved.Load(), updated.Load(), n)
	}
	if principalOK.Load() != 1 || principalConflict.Load() != n-1 {
		t.Errorf("got the principal's presses accepted %d and refused %d times, want 1 and %d",
			principalOK.Load(), principalConflict.Load(), n-1)
	}

	got, err := store.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	d := got.CurrentDraft()
	if len(d.Approvals) != n+1 {
		t.Errorf("got %d approvals stored, want %d", len(d.Approvals), n+1)
	}
	seen := map[string]bool{}
	for _, a := range d.Approvals {
		if seen[a.By] {
			t.Errorf("%s approved twice", a.By)
		}
		seen[a.By] = true
	}
	if got.Updates != n {
		t.Errorf("got Updates %d, want %d", got.Updates, n)
	}
	// open (1) + draft (1) + n+1 approvals + n updates.
	if want := int64(3 + 2*n); got.Version != want {
		t.Errorf("got version %d, want %d", got.Version, want)
	}
	_, events, err := store.History(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[workflow.EventKind]int{}
	for _, e := range events {
		counts[e.Kind]++
	}
	if counts[workflow.EventApproved] != n+1 || counts[workflow.EventUpdated] != n || counts[workflow.EventQuorum] != 1 {
		t.Errorf("got timeline approved=%d updated=%d quorum=%d, want %d, %d, 1",
			counts[workflow.EventApproved], counts[workflow.EventUpdated], counts[workflow.EventQuorum], n+1, n)
	}

	// A later press by a leader who already approved changes nothing.
	_, _, err = svc.Approve(ctx, "leader07", inc.ID, 1, "")
	if workflow.ErrorCode(err) != workflow.CodeConflict {
		t.Errorf("got %v for a double approval, want conflict", err)
	}
}

// scriptCounter counts the commands a client sends, and the script calls
// among them.
type scriptCounter struct {
	commands, scripts atomic.Int64
}

func (c *scriptCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (c *scriptCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}

func (c *scriptCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}

func (c *scriptCounter) count(cmd goredis.Cmder) {
	c.commands.Add(1)
	switch cmd.Name() {
	case "eval", "evalsha", "evalsha_ro", "eval_ro":
		c.scripts.Add(1)
	}
}

// TestServiceOneScriptCallPerTransition shows that every transition after
// Open is one read and one script call, so a state change is atomic.
func TestServiceOneScriptCallPerTransition(t *testing.T) {
	ctx := context.Background()
	client := redistest.Client(t)
	counter := &scriptCounter{}
	client.AddHook(counter)
	store := redis.New(client, redis.Options{Prefix: redistest.Prefix(t)})
	clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
	svc := workflow.NewService(store, crowdRoster(t, 2), clock)

	inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"draft", func() error { _, _, err := svc.SubmitDraft(ctx, "chen", inc.ID, "text"); return err }},
		{"approve", func() error { _, _, err := svc.Approve(ctx, "leader00", inc.ID, 0, ""); return err }},
		{"approve again", func() error { _, _, err := svc.Approve(ctx, "leader01", inc.ID, 0, ""); return err }},
		{"publish", func() error { _, _, err := svc.Publish(ctx, "sun", inc.ID); return err }},
		{"update", func() error { _, _, err := svc.Update(ctx, "chen", inc.ID, "report", workflow.Figures{}); return err }},
		{"level", func() error {
			_, _, err := svc.SetLevel(ctx, "chen", inc.ID, workflow.LevelChange{Level: workflow.LevelCritical, Reason: "as assessed"})
			return err
		}},
		{"resolve", func() error { _, _, err := svc.Resolve(ctx, "chen", inc.ID, "done", false); return err }},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			counter.commands.Store(0)
			counter.scripts.Store(0)
			if err := step.run(); err != nil {
				t.Fatal(err)
			}
			if got := counter.scripts.Load(); got != 1 {
				t.Errorf("got %d script calls, want 1", got)
			}
			if got := counter.commands.Load(); got != 2 {
				t.Errorf("got %d commands (read + script), want 2", got)
			}
		})
	}
}

// TestTimerOfAnUnreadableIncident: an incident whose stored record is
// damaged (not JSON; a key of another type) ends its timers as
// "unreadable", a named outcome, instead of failing and being retried
// after every lease for ever.
func TestTimerOfAnUnreadableIncident(t *testing.T) {
	for _, damage := range []struct {
		name string
		do   func(c goredis.UniversalClient, key string) error
	}{
		{"not JSON", func(c goredis.UniversalClient, key string) error {
			return c.HSet(context.Background(), key, "data", `{"id":"YQ-1",garbage`).Err()
		}},
		{"a key of another type", func(c goredis.UniversalClient, key string) error {
			if err := c.Del(context.Background(), key).Err(); err != nil {
				return err
			}
			return c.Set(context.Background(), key, "x", 0).Err()
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			ctx := context.Background()
			client, prefix := redistest.Client(t), redistest.Prefix(t)
			store := redis.New(client, redis.Options{Prefix: prefix})
			clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC))
			svc := workflow.NewService(store, crowdRoster(t, 2), clock)
			inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
			if err != nil {
				t.Fatal(err)
			}
			if err := damage.do(client, prefix+":{"+store.Shard(inc.ID)+"}:inc:"+inc.ID); err != nil {
				t.Fatal(err)
			}
			due, err := store.ClaimDue(ctx, clock.Now().Add(48*time.Hour), time.Minute, 100)
			if err != nil || len(due) == 0 {
				t.Fatalf("ClaimDue: got %d timers, %v; want the incident's", len(due), err)
			}
			for _, timer := range due {
				res, err := svc.Tick(ctx, timer)
				if err != nil || res.Outcome != workflow.TimerUnreadable || !strings.Contains(res.Reason, inc.ID) {
					t.Errorf("Tick %s: got %s (%q), %v; want unreadable, naming %s", timer.ID, res.Outcome, res.Reason, err, inc.ID)
				}
			}
		})
	}
}
