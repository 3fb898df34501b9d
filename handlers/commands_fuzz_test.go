package handlers_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// fuzzStore is a workflow.Store in memory, with Apply's compare-and-set: the
// command fuzz target checks what a command wrote, and that a refused
// command wrote nothing.
type fuzzStore struct {
	mu        sync.Mutex
	next      int
	incidents map[string]*workflow.Incident
	events    map[string][]workflow.Event
	turns     map[string]int64
	applied   []workflow.Change
}

func newFuzzStore() *fuzzStore {
	return &fuzzStore{next: 6, incidents: map[string]*workflow.Incident{}, events: map[string][]workflow.Event{},
		turns: map[string]int64{}}
}

// clone copies the store's incidents and timelines, not what was applied.
func (s *fuzzStore) clone() *fuzzStore {
	c := newFuzzStore()
	c.next = s.next
	for id, inc := range s.incidents {
		c.incidents[id] = inc.Clone()
		c.events[id] = slices.Clone(s.events[id])
	}
	for k, v := range s.turns {
		c.turns[k] = v
	}
	return c
}

func (s *fuzzStore) NextID(_ context.Context, rotation string) (string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	var turn int64
	if rotation != "" {
		turn = s.turns[rotation]
		s.turns[rotation]++
	}
	return fmt.Sprintf("YQ-%d", s.next), turn, nil
}

func (s *fuzzStore) Get(_ context.Context, id string) (*workflow.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[id]
	if !ok {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
	}
	return inc.Clone(), nil
}

func (s *fuzzStore) Apply(_ context.Context, c workflow.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, exists := s.incidents[c.Incident.ID]
	switch {
	case c.Prev == nil && exists, c.Prev != nil && (!exists || cur.Version != c.Prev.Version):
		return workflow.ErrConflict
	}
	s.incidents[c.Incident.ID] = c.Incident.Clone()
	s.events[c.Incident.ID] = append(s.events[c.Incident.ID], c.Events...)
	s.applied = append(s.applied, c)
	return nil
}

func (s *fuzzStore) Enqueue(context.Context, []workflow.Notice) error { return nil }

func (s *fuzzStore) List(_ context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*workflow.Incident
	resolved := q.Filter == workflow.ListResolved
	for _, inc := range s.incidents {
		switch {
		case resolved && (inc.Open() || inc.ResolvedAt.Before(q.From) || !q.To.IsZero() && !inc.ResolvedAt.Before(q.To)):
			continue
		case !resolved && (!inc.Open() || q.Filter == workflow.ListMine && inc.Assignee != q.Person):
			continue
		}
		out = append(out, inc.Clone())
	}
	// As the Redis store: by discovery, or the resolved by resolution (the
	// same millisecond: by ID, byte-wise).
	slices.SortFunc(out, func(a, b *workflow.Incident) int {
		c := a.FoundAt.Compare(b.FoundAt)
		if resolved {
			c = cmp.Compare(a.ResolvedAt.UnixMilli(), b.ResolvedAt.UnixMilli())
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *fuzzStore) ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error) {
	all, err := s.List(ctx, q)
	total := len(all)
	all = all[min(q.Offset, len(all)):]
	if q.Limit > 0 && len(all) > q.Limit {
		all = all[:q.Limit]
	}
	return workflow.Page{Incidents: all, Total: total}, err
}

func (s *fuzzStore) History(_ context.Context, id string) (*workflow.Incident, []workflow.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inc, ok := s.incidents[id]
	if !ok {
		return nil, nil, workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
	}
	return inc.Clone(), slices.Clone(s.events[id]), nil
}

func (s *fuzzStore) RoundRobin(_ context.Context, rotation string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.turns[rotation]
	s.turns[rotation]++
	return n, nil
}

// fuzzActors are the people who type commands in the fuzz target, one of
// each role.
var fuzzActors = []string{"chen", "zhao", "wang", "sun", "li"}

func fuzzRoster(tb testing.TB) *workflow.Roster {
	tb.Helper()
	r, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		Departments: []workflow.Department{
			{ID: "office", Name: "Office", Categories: []workflow.Category{workflow.CategoryOther, workflow.CategoryHype, workflow.CategoryRumor}},
			{ID: "logistics", Name: "Logistics", Categories: []workflow.Category{workflow.CategoryInquiry}},
		},
		People: []workflow.Person{
			{ID: "chen", Name: "Chen Jing", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "li", Name: "Li Ming", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"logistics"}},
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}},
			{ID: "sun", Name: "Sun Yue", Roles: []workflow.Role{workflow.RoleSpokesperson}},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// fuzzCommands are lines people type, with every option of open, found:
// in each spelling, versions and the Chinese aliases.
var fuzzCommands = []string{
	`open "Canteen complaint" level:major category:inquiry source:https://weibo.com/123 found:09:40`,
	"open 食堂投诉 级别:重大 类别:询问",
	"open 食堂投诉 级别：特别重大 类别：谣言 发现：45m",
	"open Canteen found:2026-03-01T09:40+08:00",
	"open Canteen found:2026-03-01T09:40",
	"open Canteen found:2026-03-01T09:40:30",
	"open Canteen found:2026-03-01",
	"open Canteen found:2026-03-01T01:40:00Z",
	"open Canteen found:-2h",
	"open Canteen found:23:59",
	"open Canteen found:00:00",
	"open Canteen found:24:00",
	"open Canteen found:720h",
	"open Canteen found:721h",
	"open Canteen found:1h30m level:critical",
	"open Canteen found: level:major",
	"open Canteen level:enormous",
	"open Canteen category:gossip",
	"open level:major",
	"open " + strings.Repeat("长", 201),
	"assign YQ-7 li", "assign YQ-7 logistics", "assign YQ-7 nobody", "assign YQ-7",
	"ack YQ-7", "ack yq-7", "level YQ-7 major", "level YQ-7 general", "定级 YQ-7 特大",
	"update YQ-7 Met the parents; inspection report due 16:00",
	"draft YQ-7 We have inspected the canteen and will publish the results today.",
	"approve YQ-7", "approve YQ-7 v1 fine, publish now", "approve YQ-7 v2", "approve YQ-7 v0", "approve YQ-7 v99999999999999999999",
	"reject YQ-7 do not name the supplier", "reject YQ-7 v1 do not name the supplier", "reject YQ-7 v1",
	"publish YQ-7", "refer YQ-7 the account keeps spreading it", "resolve YQ-7 Supplier replaced",
	"reopen YQ-7", "status YQ-7", "状态 YQ-7", "list", "list overdue", "list mine", "list 我的", "list open extra",
	"list resolved", "list resolved 2026-03 page:2", "list 已办结 2026-13", "list resolved nov",
	"help", "help open", "help nothing", "opne Canteen", "%s %d %!", "",
}

// FuzzCommand types any line as one of the roster's people, in either
// language, at an odd instant, against an incident with a draft awaiting
// approval. The router always answers, never with an internal error or a
// broken format; a refused command changes nothing; a command that changed
// something says so; and an incident opened has a title, a known level and
// category and a discovery time no later than now and no earlier than 30
// days ago, that of found: when it gave a duration or a clock time.
func FuzzCommand(f *testing.F) {
	for i, s := range fuzzCommands {
		f.Add(uint8(i), s, uint32(i*7919))
	}
	roster := fuzzRoster(f)
	base := time.Date(2026, 3, 2, 1, 17, 23, 456_000_000, time.UTC) // 09:17:23.456 in Shanghai
	// The incident every command may act on: YQ-7, assigned to chen, with
	// a draft of chen's awaiting the leaders.
	seed := newFuzzStore()
	{
		svc := workflow.NewService(seed, roster, workflow.NewManualClock(base.Add(-time.Hour)))
		ctx := context.Background()
		inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: "Canteen complaint", Level: workflow.LevelMajor})
		if err != nil {
			f.Fatal(err)
		}
		if _, _, err := svc.SubmitDraft(ctx, "chen", inc.ID, "We are looking into it."); err != nil {
			f.Fatal(err)
		}
	}

	f.Fuzz(func(t *testing.T, who uint8, line string, offset uint32) {
		actor := fuzzActors[int(who)%len(fuzzActors)]
		locale := workflow.LocaleEN
		if who&0x80 != 0 {
			locale = workflow.LocaleZH
		}
		// Up to 40 days after base, to the millisecond.
		now := base.Add(time.Duration(offset%(40*24*3600*1000)) * time.Millisecond)
		store := seed.clone()
		svc := workflow.NewService(store, roster, workflow.NewManualClock(now))
		r := bot.NewRouter(roster, locale, nil)
		handlers.New(svc, locale).Register(r)

		reply := r.Handle(context.Background(), &bot.Request{Platform: bot.PlatformConsole, Actor: actor, Text: line})
		switch {
		case reply == nil:
			t.Fatalf("%s: %q: no reply", actor, line)
		case strings.Contains(reply.Text, "internal error") || strings.Contains(reply.Text, "内部错误"):
			t.Fatalf("%s: %q: %q, want no internal error for a typed line", actor, line, reply.Text)
		case strings.Contains(reply.Text, "%!") && !strings.Contains(line, "%!"):
			t.Fatalf("%s: %q: %q, a broken format", actor, line, reply.Text)
		case !utf8.ValidString(reply.Text) && utf8.ValidString(line):
			t.Fatalf("%s: %q: reply %q is not UTF-8", actor, line, reply.Text)
		case reply.Failed && len(store.applied) > 0:
			t.Fatalf("%s: %q: refused (%q) yet %d changes were written", actor, line, reply.Text, len(store.applied))
		case !reply.Failed && reply.Text == "" && reply.Card == nil:
			t.Fatalf("%s: %q: an empty reply", actor, line)
		}
		for _, c := range store.applied {
			if c.Prev == nil {
				checkOpened(t, line, c.Incident, now, roster.Location())
			}
		}
	})
}

// checkOpened checks an incident the line opened.
func checkOpened(t *testing.T, line string, inc *workflow.Incident, now time.Time, loc *time.Location) {
	t.Helper()
	switch {
	case strings.TrimSpace(inc.Title) == "" || utf8.RuneCountInString(inc.Title) > workflow.MaxTitle:
		t.Fatalf("%q opened %s with the title %q", line, inc.ID, inc.Title)
	case !inc.Level.Valid() || !inc.Category.Valid():
		t.Fatalf("%q opened %s with level %q, category %q", line, inc.ID, inc.Level, inc.Category)
	case inc.FoundAt.After(now.Add(workflow.MaxClockSkew)) || now.Sub(inc.FoundAt) > 30*24*time.Hour:
		t.Fatalf("%q opened %s found at %v, now %v: want within the last 30 days", line, inc.ID, inc.FoundAt, now)
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if name != "open" {
		return
	}
	opts, _ := bot.ParseArgs(rest).Options(map[string]string{"found": "found", "发现": "found"})
	found, ok := opts["found"]
	if !ok {
		if !inc.FoundAt.Equal(workflow.Instant(now)) {
			t.Fatalf("%q: found at %v, want now (%v)", line, inc.FoundAt, now)
		}
		return
	}
	found = strings.TrimSpace(found)
	if d, err := time.ParseDuration(strings.TrimPrefix(found, "-")); err == nil {
		if want := workflow.Instant(now.Add(-d)); !inc.FoundAt.Equal(want) {
			t.Fatalf("%q: found at %v, want %v ago: %v", line, inc.FoundAt, d, want)
		}
		return
	}
	if c, err := time.Parse("15:04", found); err == nil {
		at := inc.FoundAt.In(loc)
		if at.Hour() != c.Hour() || at.Minute() != c.Minute() || at.Second() != 0 || at.Nanosecond() != 0 {
			t.Fatalf("%q: found at %v, want %s in %s", line, at, found, loc)
		}
		if now.Sub(inc.FoundAt) >= 36*time.Hour {
			t.Fatalf("%q at %v: found at %v, want today or yesterday", line, now.In(loc), at)
		}
	}
}
