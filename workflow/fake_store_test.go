package workflow_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// fakeStore is an in-memory workflow.Store with the compare-and-set of the
// Redis one. It keeps copies, so nothing the Service holds aliases it.
type fakeStore struct {
	mu        sync.Mutex
	lastID    int
	incidents map[string]*workflow.Incident
	events    map[string][]workflow.Event
	timers    map[string][]workflow.Timer
	nextDue   map[string]time.Time
	notices   []workflow.Notice // the outbox
	turns     map[string]int64
	clock     workflow.Clock    // for a ListQuery without Now
	changes   []workflow.Change // every Change written, in order

	gets    int // calls of Get
	applies int // calls of Apply, including refused ones

	// conflicts makes the next conflicts calls of Apply fail with ErrConflict.
	conflicts int
	// beforeApply, when set, runs once at the start of the next Apply (under
	// the lock): another replica writing between our read and our write.
	beforeApply func(s *fakeStore)
	// down makes every method fail as if Redis could not be reached;
	// roundRobinDown only the turns of rotations (RoundRobin, NextID).
	down           bool
	roundRobinDown bool
	// roundRobins counts the turns taken apart from an ID (RoundRobin).
	roundRobins int
}

func newFakeStore(clock workflow.Clock) *fakeStore {
	return &fakeStore{
		clock:     clock,
		incidents: map[string]*workflow.Incident{},
		events:    map[string][]workflow.Event{},
		timers:    map[string][]workflow.Timer{},
		nextDue:   map[string]time.Time{},
		turns:     map[string]int64{},
	}
}

var errDown = errors.New("dial tcp 10.0.0.7:6379: connection refused")

func (s *fakeStore) check(ctx context.Context) error {
	if s.down {
		return workflow.Unavailable(errDown)
	}
	if err := ctx.Err(); err != nil {
		return workflow.Unavailable(err)
	}
	return nil
}

func (s *fakeStore) NextID(ctx context.Context, rotation string) (string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return "", 0, err
	}
	if rotation != "" && s.roundRobinDown {
		return "", 0, workflow.Unavailable(errDown)
	}
	s.lastID++
	var turn int64
	if rotation != "" {
		turn = s.turns[rotation]
		s.turns[rotation]++
	}
	return fmt.Sprintf("YQ-%d", s.lastID), turn, nil
}

func (s *fakeStore) Get(ctx context.Context, id string) (*workflow.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	inc, ok := s.incidents[id]
	if !ok {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
	}
	return inc.Clone(), nil
}

func (s *fakeStore) Apply(ctx context.Context, c workflow.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applies++
	if err := s.check(ctx); err != nil {
		return err
	}
	if f := s.beforeApply; f != nil {
		s.beforeApply = nil
		f(s)
	}
	if s.conflicts > 0 {
		s.conflicts--
		return workflow.ErrConflict
	}
	id := c.Incident.ID
	cur, exists := s.incidents[id]
	switch {
	case c.Prev == nil && exists:
		return workflow.ErrConflict
	case c.Prev != nil && (!exists || cur.Version != c.Prev.Version):
		return workflow.ErrConflict
	case c.Prev != nil && mustJSON(c.Prev) != mustJSON(cur):
		// The Service must compute a transition on a copy and leave what it
		// read untouched.
		return fmt.Errorf("fake store: Change.Prev of %s differs from what was read", id)
	}
	want := int64(1)
	if c.Prev != nil {
		want = c.Prev.Version + 1
	}
	if c.Incident.Version != want {
		return fmt.Errorf("fake store: %s written as version %d, want %d", id, c.Incident.Version, want)
	}
	for _, tm := range c.Timers {
		if tm.Incident != id || !strings.HasPrefix(tm.ID, id+":") {
			return fmt.Errorf("fake store: timer %s (of %s) written with %s", tm.ID, tm.Incident, id)
		}
	}
	s.incidents[id] = c.Incident.Clone()
	s.events[id] = append(s.events[id], c.Events...)
	s.timers[id] = slices.Clone(c.Timers)
	s.nextDue[id] = c.NextDue
	s.notices = append(s.notices, c.Notices...)
	s.changes = append(s.changes, c)
	return nil
}

func (s *fakeStore) Enqueue(ctx context.Context, notices []workflow.Notice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	s.notices = append(s.notices, notices...)
	return nil
}

// ListPage pages List; the urgent order is by the change's NextDue, the
// incidents without one after, by discovery.
func (s *fakeStore) ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error) {
	all := q
	all.Offset, all.Limit = 0, 0
	incs, err := s.List(ctx, all)
	if err != nil {
		return workflow.Page{}, err
	}
	if q.Urgent && q.Filter != workflow.ListResolved {
		s.mu.Lock()
		// In milliseconds, as the Redis store keeps them; ties by ID,
		// YQ-9 before YQ-10.
		key := func(inc *workflow.Incident) int64 {
			if d := s.nextDue[inc.ID]; !d.IsZero() {
				return d.UnixMilli()
			}
			return 1<<50 + inc.FoundAt.UnixMilli()
		}
		slices.SortStableFunc(incs, func(a, b *workflow.Incident) int {
			return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID))
		})
		s.mu.Unlock()
	}
	total := len(incs)
	incs = incs[min(q.Offset, len(incs)):]
	if q.Limit > 0 && len(incs) > q.Limit {
		incs = incs[:q.Limit]
	}
	return workflow.Page{Incidents: incs, Total: total}, nil
}

func (s *fakeStore) List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if q.Filter == "" {
		q.Filter = workflow.ListOpen
	}
	if q.Now.IsZero() {
		q.Now = s.clock.Now()
	}
	switch {
	case q.Filter != workflow.ListOpen && q.Filter != workflow.ListOverdue && q.Filter != workflow.ListMine &&
		q.Filter != workflow.ListResolved:
		return nil, workflow.Errorf(workflow.CodeInvalid, "unknown filter %q", "未知筛选 %q", q.Filter)
	case q.Filter == workflow.ListMine && q.Person == "":
		return nil, workflow.Errorf(workflow.CodeInvalid, "mine needs a person", "mine 需要人员")
	}
	var out []*workflow.Incident
	for id, inc := range s.incidents {
		if q.Filter == workflow.ListResolved {
			if !inc.Open() && !inc.ResolvedAt.Before(q.From) && (q.To.IsZero() || inc.ResolvedAt.Before(q.To)) {
				out = append(out, inc.Clone())
			}
			continue
		}
		if !inc.Open() {
			continue
		}
		switch q.Filter {
		case workflow.ListOverdue:
			if due := s.nextDue[id]; due.IsZero() || !q.Now.After(due) {
				continue
			}
		case workflow.ListMine:
			if inc.Assignee != q.Person {
				continue
			}
		}
		out = append(out, inc.Clone())
	}
	// By discovery, as the Redis store; the resolved by resolution (the
	// same millisecond: by ID, byte-wise).
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].FoundAt, out[j].FoundAt
		if q.Filter == workflow.ListResolved {
			a, b = out[i].ResolvedAt.Truncate(time.Millisecond), out[j].ResolvedAt.Truncate(time.Millisecond)
		}
		if !a.Equal(b) {
			return a.Before(b)
		}
		return out[i].ID < out[j].ID
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (s *fakeStore) History(ctx context.Context, id string) (*workflow.Incident, []workflow.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, nil, err
	}
	inc, ok := s.incidents[id]
	if !ok {
		return nil, nil, workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
	}
	return inc.Clone(), slices.Clone(s.events[id]), nil
}

func (s *fakeStore) RoundRobin(ctx context.Context, rotation string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if s.roundRobinDown {
		return 0, workflow.Unavailable(errDown)
	}
	s.roundRobins++
	turn := s.turns[rotation]
	s.turns[rotation]++
	return turn, nil
}

// snapshot is what a refused command must leave as it was.
type snapshot struct {
	incidents int
	version   int64
	events    int
	notices   int
	changes   int
}

func (s *fakeStore) snapshot(id string) snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn := snapshot{incidents: len(s.incidents), events: len(s.events[id]), notices: len(s.notices), changes: len(s.changes)}
	if inc, ok := s.incidents[id]; ok {
		sn.version = inc.Version
	}
	return sn
}

func (s *fakeStore) stored(tb testing.TB, id string) *workflow.Incident {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[id]
	if !ok {
		tb.Fatalf("store: got no incident %s, want one", id)
	}
	return inc.Clone()
}

func (s *fakeStore) lastChange(tb testing.TB) workflow.Change {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.changes) == 0 {
		tb.Fatal("store: got no change written, want one")
	}
	return s.changes[len(s.changes)-1]
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

var _ workflow.Store = (*fakeStore)(nil)

// t0 is 10:00 on 1 March 2024 in Asia/Shanghai.
var t0 = time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)

func mustLocation(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// demoRoster is the people of the demo: chen in the office (other, hype,
// rumor), li and zhou in logistics (inquiry), wang a principal leader, zhao a
// leader, sun the spokesperson.
func demoRoster() workflow.Roster {
	staff := []workflow.Role{workflow.RoleStaff}
	return workflow.Roster{
		Timezone: "Asia/Shanghai",
		Locale:   workflow.LocaleEN,
		People: []workflow.Person{
			{ID: "chen", Name: "Chen Jing", Roles: staff, Departments: []string{"office"}, Accounts: accounts("U0CHEN", "1001")},
			{ID: "li", Name: "Li Ming", Roles: staff, Departments: []string{"logistics"}, Accounts: accounts("U0LI", "1002")},
			{ID: "zhou", Name: "Zhou Qiang", Roles: staff, Departments: []string{"logistics"}, Accounts: accounts("U0ZHOU", "1003")},
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}, Accounts: accounts("U0WANG", "1004")},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}, Accounts: accounts("U0ZHAO", "1005")},
			{ID: "sun", Name: "Sun Yue", Roles: []workflow.Role{workflow.RoleSpokesperson}, Accounts: accounts("U0SUN", "1006")},
		},
		Departments: []workflow.Department{
			{ID: "office", Name: "Public Opinion Office", Categories: []workflow.Category{
				workflow.CategoryOther, workflow.CategoryHype, workflow.CategoryRumor}},
			{ID: "logistics", Name: "Logistics Department", Categories: []workflow.Category{workflow.CategoryInquiry}},
		},
		Channels: map[string]workflow.ChannelRef{
			workflow.ChannelIncidents:  {"slack": "C0INCIDENTS", "telegram": "-100111"},
			workflow.ChannelLeaders:    {"telegram": "-100222"},
			workflow.ChannelStatements: {"slack": "C0STATEMENTS"},
		},
	}
}

// accounts are a person's user IDs on the two chat platforms of the demo.
func accounts(slack, telegram string) map[string]string {
	return map[string]string{"slack": slack, "telegram": telegram}
}

// withQian adds qian, a second leader who is not a principal.
func withQian(r *workflow.Roster) {
	r.People = append(r.People, workflow.Person{ID: "qian", Name: "Qian Hao", Roles: []workflow.Role{workflow.RoleLeader}})
}

func mustRoster(tb testing.TB, edits ...func(*workflow.Roster)) *workflow.Roster {
	tb.Helper()
	r := demoRoster()
	for _, edit := range edits {
		edit(&r)
	}
	roster, err := workflow.NewRoster(r)
	if err != nil {
		tb.Fatalf("NewRoster: %v", err)
	}
	return roster
}

// env is a Service on a fake store and a manual clock at t0.
type env struct {
	svc    *workflow.Service
	store  *fakeStore
	clock  *workflow.ManualClock
	roster *workflow.Roster
	loc    *time.Location
}

func newEnv(tb testing.TB, edits ...func(*workflow.Roster)) *env {
	tb.Helper()
	clock := workflow.NewManualClock(t0)
	e := &env{store: newFakeStore(clock), clock: clock, roster: mustRoster(tb, edits...)}
	e.loc = e.roster.Location()
	e.svc = workflow.NewService(e.store, e.roster, e.clock)
	return e
}

// at is a wall time in Asia/Shanghai on the given day of March 2024.
func (e *env) at(day, hour, minute int) time.Time {
	return time.Date(2024, 3, day, hour, minute, 0, 0, e.loc)
}

func mustOpen(tb testing.TB, e *env, actor string, in workflow.OpenInput) *workflow.Incident {
	tb.Helper()
	if in.Title == "" {
		in.Title = "Canteen complaint"
	}
	inc, _, err := e.svc.Open(tb.Context(), actor, in)
	if err != nil {
		tb.Fatalf("Open(%s, %+v): %v", actor, in, err)
	}
	return inc
}

// must checks a transition that has to succeed and returns the incident:
// must(t)(e.svc.Ack(ctx, "li", id)).
func must(tb testing.TB) func(*workflow.Incident, []workflow.Event, error) *workflow.Incident {
	tb.Helper()
	return func(inc *workflow.Incident, _ []workflow.Event, err error) *workflow.Incident {
		tb.Helper()
		if err != nil {
			tb.Fatalf("got error %v, want none", err)
		}
		return inc
	}
}

func wantCode(tb testing.TB, err error, want workflow.Code) {
	tb.Helper()
	if got := workflow.ErrorCode(err); got != want {
		tb.Fatalf("error code: got %q (%v), want %q", got, err, want)
	}
}

func wantUnchanged(tb testing.TB, s *fakeStore, id string, before snapshot) {
	tb.Helper()
	if got := s.snapshot(id); got != before {
		tb.Errorf("store after a refused command: got %+v, want %+v unchanged", got, before)
	}
}

func kinds(evs []workflow.Event) []workflow.EventKind {
	out := make([]workflow.EventKind, len(evs))
	for i, e := range evs {
		out[i] = e.Kind
	}
	return out
}
