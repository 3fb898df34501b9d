package redis_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
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

// The intake (workflow.IntakeStore) on every backend of the contract suite:
// a real Redis, the embedded one and a Cluster.

// post is one monitoring item as the tests deliver it.
type post struct {
	source, item, url, title string
	figures                  workflow.Figures
}

func figures(posts, views int64) workflow.Figures {
	return workflow.Figures{Posts: &posts, Views: &views}
}

// arrival lays out p as workflow.Service does: the item key, the
// normalised URL and the fingerprint as dedupe keys, the delivery key,
// a pending candidate received at at, its triage timers and its card.
func arrival(p post, at time.Time) workflow.Arrival {
	var keys []string
	delivery := ""
	if p.item != "" {
		delivery = "i:" + p.source + "\x1f" + p.item
		keys = append(keys, delivery)
	}
	if u := workflow.NormalizeURL(p.url); u != "" {
		keys = append(keys, "u:"+u)
		if delivery == "" {
			delivery = "u:" + u
		}
	}
	if fp := workflow.Fingerprint(p.title, ""); fp != "" {
		keys = append(keys, "f:"+fp)
	}
	if delivery == "" && len(keys) > 0 {
		delivery = keys[len(keys)-1]
	}
	f := p.figures
	if !f.IsZero() {
		f.At = at
	}
	return workflow.Arrival{
		Keys:     keys,
		Delivery: delivery,
		Candidate: &workflow.Candidate{Version: 1, Source: p.source, Item: p.item, URL: p.url, Title: p.title,
			FoundAt: at.Add(-time.Minute), ReceivedAt: at, State: workflow.CandidatePending, Triage: 30 * time.Minute,
			Suggestion: workflow.Suggestion{Level: workflow.LevelGeneral, Category: workflow.CategoryOther}},
		Figures: f,
		Timers: []workflow.Timer{
			{ID: "triage:office", Due: at.Add(30 * time.Minute)},
			{ID: "triage:leaders", Due: at.Add(time.Hour)},
		},
		Notices: []workflow.Notice{{ID: "new>incidents", Audience: workflow.ChannelIncidents, Body: []byte(`{"kind":"triage"}`)}},
	}
}

func mustReceive(tb testing.TB, s *redis.Store, arrivals ...workflow.Arrival) []workflow.Stored {
	tb.Helper()
	stored, err := s.Receive(ctx, arrivals)
	if err != nil {
		tb.Fatalf("Receive: %v", err)
	}
	if len(stored) != len(arrivals) {
		tb.Fatalf("Receive %d arrivals: got %d answers", len(arrivals), len(stored))
	}
	return stored
}

func mustCandidate(tb testing.TB, s *redis.Store, id string) *workflow.Candidate {
	tb.Helper()
	c, err := s.Candidate(ctx, id)
	if err != nil {
		tb.Fatalf("Candidate(%s): %v", id, err)
	}
	return c
}

func wantStored(tb testing.TB, got workflow.Stored, id string, outcome workflow.ReceiveOutcome) {
	tb.Helper()
	if got.ID != id || got.Outcome != outcome {
		tb.Errorf("stored: got %s %s, want %s %s", got.ID, got.Outcome, id, outcome)
	}
}

// postsOf lists the posts figure of each point of a candidate's series.
func postsOf(c *workflow.Candidate) []int64 {
	var out []int64
	for _, f := range c.Figures {
		v, _ := f.Get(workflow.FigurePosts)
		out = append(out, v)
	}
	return out
}

func TestIntakeReceiveOutcomes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		canteen := post{source: "weibo", url: "https://www.weibo.com/post/77?utm_source=share",
			title: "Canteen food made students ill", figures: figures(35, 12000)}
		first := arrival(canteen, t0)
		wantStored(t, mustReceive(t, f.store, first)[0], "IT-1", workflow.ReceivedNew)

		c := mustCandidate(t, f.store, "IT-1")
		want := first.Candidate.Clone()
		want.ID, want.Figures, want.Deliveries = "IT-1", []workflow.Figures{first.Figures}, 1
		for _, d := range diff("candidate", reflect.ValueOf(*c), reflect.ValueOf(*want)) {
			t.Error(d)
		}

		t.Run("the same delivery with the same figures is a duplicate", func(t *testing.T) {
			again := arrival(canteen, t0.Add(time.Minute)) // another time, the same figures
			st := mustReceive(t, f.store, again)[0]
			wantStored(t, st, "IT-1", workflow.ReceivedDuplicate)
			if st.State != workflow.CandidatePending {
				t.Errorf("state: got %q, want pending", st.State)
			}
			if c := mustCandidate(t, f.store, "IT-1"); c.Deliveries != 1 || len(c.Figures) != 1 {
				t.Errorf("after a duplicate: got %d deliveries, %d figures, want 1 and 1", c.Deliveries, len(c.Figures))
			}
		})
		t.Run("the same URL with new figures merges", func(t *testing.T) {
			later := canteen
			later.url = "http://weibo.com/post/77/#comments" // the same once normalised
			later.figures = figures(80, 30000)
			wantStored(t, mustReceive(t, f.store, arrival(later, t0.Add(2*time.Minute)))[0], "IT-1", workflow.ReceivedMerged)
			c := mustCandidate(t, f.store, "IT-1")
			if got := postsOf(c); !slices.Equal(got, []int64{35, 80}) || c.Deliveries != 2 {
				t.Errorf("after a merge: got posts %v, %d deliveries; want [35 80], 2", got, c.Deliveries)
			}
			if c.Version != 1 {
				t.Errorf("version after a merge: got %d, want 1 (the series is kept apart)", c.Version)
			}
		})
		t.Run("the same text from another URL merges by fingerprint", func(t *testing.T) {
			copied := post{source: "forum", url: "https://bbs.example.edu/t/5", title: "Canteen food made students ill!!"}
			wantStored(t, mustReceive(t, f.store, arrival(copied, t0.Add(3*time.Minute)))[0], "IT-1", workflow.ReceivedMerged)
			// Its URL is known now: the same URL with other words (and
			// figures at last) merges too.
			reworded := post{source: "forum", url: "https://bbs.example.edu/t/5", title: "Edited: the canteen", figures: figures(5, 50)}
			wantStored(t, mustReceive(t, f.store, arrival(reworded, t0.Add(4*time.Minute)))[0], "IT-1", workflow.ReceivedMerged)
			c := mustCandidate(t, f.store, "IT-1")
			if got := postsOf(c); c.Deliveries != 4 || !slices.Equal(got, []int64{35, 80, 5}) {
				t.Errorf("got %d deliveries and posts %v, want 4 deliveries, posts [35 80 5]", c.Deliveries, got)
			}
		})
		t.Run("a key known to another candidate stays with it", func(t *testing.T) {
			other := post{source: "weibo", url: "https://weibo.com/post/99", title: "Library closes early on weekends"}
			wantStored(t, mustReceive(t, f.store, arrival(other, t0))[0], "IT-2", workflow.ReceivedNew)
			// The URL of IT-1 with the text of IT-2: the URL, the stronger
			// key, wins, and the fingerprint still names IT-2.
			mixed := post{source: "weibo", url: canteen.url, title: other.title, figures: figures(90, 31000)}
			wantStored(t, mustReceive(t, f.store, arrival(mixed, t0))[0], "IT-1", workflow.ReceivedMerged)
			textOnly := post{source: "rss", title: other.title}
			wantStored(t, mustReceive(t, f.store, arrival(textOnly, t0))[0], "IT-2", workflow.ReceivedMerged)
		})
		t.Run("the source's item ID", func(t *testing.T) {
			a := post{source: "yuqing", item: "A-1", title: "Dormitory water outage", figures: figures(1, 10)}
			b := post{source: "yuqing", item: "A-1", title: "Dormitory water outage, day 2", figures: figures(2, 20)}
			stored := mustReceive(t, f.store, arrival(a, t0), arrival(b, t0), arrival(b, t0))
			wantStored(t, stored[0], "IT-3", workflow.ReceivedNew)
			wantStored(t, stored[1], "IT-3", workflow.ReceivedMerged)
			wantStored(t, stored[2], "IT-3", workflow.ReceivedDuplicate)
			// The same ID from another source is another post.
			c := post{source: "feed", item: "A-1", title: "Sports day moved to Friday"}
			wantStored(t, mustReceive(t, f.store, arrival(c, t0))[0], "IT-4", workflow.ReceivedNew)
		})
		t.Run("an item with no key is always new", func(t *testing.T) {
			short := post{source: "rss", title: "视频"}
			stored := mustReceive(t, f.store, arrival(short, t0), arrival(short, t0))
			wantStored(t, stored[0], "IT-5", workflow.ReceivedNew)
			wantStored(t, stored[1], "IT-6", workflow.ReceivedNew)
		})
	})
}

// TestIntakeEarlierDeliveryResent: a delivery sent again after newer ones
// of the same item (a retry after a lost answer) is a duplicate, as long
// as it is one of the last SeenLimit; older ones are forgotten and merge.
func TestIntakeEarlierDeliveryResent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		deliver := func(posts int64) workflow.Stored {
			t.Helper()
			p := post{source: "idem", item: "i1", url: "https://weibo.com/post/i1", title: "Gate closed after an accident", figures: figures(posts, 10*posts)}
			return mustReceive(t, f.store, arrival(p, t0.Add(time.Duration(posts)*time.Second)))[0]
		}
		wantSeries := func(deliveries int, posts ...int64) {
			t.Helper()
			c := mustCandidate(t, f.store, "IT-1")
			if got := postsOf(c); c.Deliveries != deliveries || !slices.Equal(got, posts) {
				t.Errorf("got %d deliveries, posts %v; want %d, %v", c.Deliveries, got, deliveries, posts)
			}
		}
		wantStored(t, deliver(1), "IT-1", workflow.ReceivedNew)
		wantStored(t, deliver(2), "IT-1", workflow.ReceivedMerged)
		wantStored(t, deliver(1), "IT-1", workflow.ReceivedDuplicate) // the first again
		wantStored(t, deliver(2), "IT-1", workflow.ReceivedDuplicate)
		wantSeries(2, 1, 2)
		wantStored(t, deliver(3), "IT-1", workflow.ReceivedMerged)
		wantStored(t, deliver(1), "IT-1", workflow.ReceivedDuplicate)
		wantSeries(3, 1, 2, 3)

		// SeenLimit deliveries later, the first is forgotten: the seen
		// hash keeps the last SeenLimit signatures of a delivery key.
		const limit = redis.SeenLimit
		for posts := int64(4); posts <= limit; posts++ {
			wantStored(t, deliver(posts), "IT-1", workflow.ReceivedMerged)
		}
		wantStored(t, deliver(1), "IT-1", workflow.ReceivedDuplicate) // the oldest remembered
		wantStored(t, deliver(limit+1), "IT-1", workflow.ReceivedMerged)
		wantStored(t, deliver(1), "IT-1", workflow.ReceivedMerged) // forgotten: a new point
		wantStored(t, deliver(limit+1), "IT-1", workflow.ReceivedDuplicate)
		seen, err := f.client.HGet(ctx, f.prefix+":{"+redis.IntakeShard+"}:seen", "i:idem\x1fi1").Result()
		if err != nil {
			t.Fatalf("HGET seen: %v", err)
		}
		if n := len(strings.Split(seen, "\n")); n != limit {
			t.Errorf("signatures kept: got %d, want %d", n, limit)
		}
		if c := mustCandidate(t, f.store, "IT-1"); c.Deliveries != limit+2 || len(c.Figures) != limit+2 {
			t.Errorf("got %d deliveries and %d figures, want %d of each", c.Deliveries, len(c.Figures), limit+2)
		}
	})
}

// TestIntakeSeenOfOneSignature: a seen entry written before the seen hash
// kept several signatures (one signature, no line break) still tells its
// duplicate, and grows into a list.
func TestIntakeSeenOfOneSignature(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		p := post{source: "idem", item: "i2", title: "Library roof leaks again", figures: figures(1, 10)}
		wantStored(t, mustReceive(t, f.store, arrival(p, t0))[0], "IT-1", workflow.ReceivedNew)
		seenKey := f.prefix + ":{" + redis.IntakeShard + "}:seen"
		if err := f.client.HSet(ctx, seenKey, "i:idem\x1fi2", "posts=1 views=10").Err(); err != nil {
			t.Fatal(err)
		}
		wantStored(t, mustReceive(t, f.store, arrival(p, t0))[0], "IT-1", workflow.ReceivedDuplicate)
		p.figures = figures(2, 20)
		wantStored(t, mustReceive(t, f.store, arrival(p, t0))[0], "IT-1", workflow.ReceivedMerged)
		if got, _ := f.client.HGet(ctx, seenKey, "i:idem\x1fi2").Result(); got != "posts=1 views=10\nposts=2 views=20" {
			t.Errorf("seen: got %q, want both signatures, oldest first", got)
		}
	})
}

func TestIntakeMergeTellsStateAndIncident(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		p := post{source: "weibo", url: "https://weibo.com/post/1", title: "Teacher strike announced", figures: figures(1, 100)}
		mustReceive(t, f.store, arrival(p, t0))
		prev := mustCandidate(t, f.store, "IT-1")
		next := prev.Clone()
		next.Version++
		next.State, next.Incident, next.DecidedBy, next.DecidedAt = workflow.CandidateOpened, "YQ-9", "chen", t0.Add(time.Minute)
		mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: next})

		p.figures = figures(2, 200)
		st := mustReceive(t, f.store, arrival(p, t0.Add(2*time.Minute)))[0]
		want := workflow.Stored{ID: "IT-1", Outcome: workflow.ReceivedMerged, State: workflow.CandidateOpened, Incident: "YQ-9"}
		if st != want {
			t.Errorf("merged into an opened candidate: got %+v, want %+v", st, want)
		}
		c := mustCandidate(t, f.store, "IT-1")
		if c.Version != 2 || c.Incident != "YQ-9" || !slices.Equal(postsOf(c), []int64{1, 2}) {
			t.Errorf("got v%d incident %q posts %v, want v2 YQ-9 [1 2]", c.Version, c.Incident, postsOf(c))
		}
	})
}

// TestIntakeConcurrentSameURL: 50 deliveries of the same URL at once, each
// with its own figures, make one candidate whose series holds all 50.
func TestIntakeConcurrentSameURL(t *testing.T) {
	const n = 50
	forEachBackend(t, func(t *testing.T, f fixture) {
		var (
			wg       sync.WaitGroup
			outcomes sync.Map
			errs     = make(chan error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The same URL once normalised: utm_* only says how it was shared.
				p := post{source: "weibo", url: fmt.Sprintf("https://weibo.com/post/50?utm_medium=m%d", i),
					title: "Exam papers leaked before the test", figures: figures(int64(100+i), 1000)}
				stored, err := f.store.Receive(ctx, []workflow.Arrival{arrival(p, t0)})
				if err != nil {
					errs <- err
					return
				}
				outcomes.Store(i, stored[0])
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Receive: %v", err)
		}
		count := map[workflow.ReceiveOutcome]int{}
		outcomes.Range(func(_, v any) bool {
			st := v.(workflow.Stored)
			if st.ID != "IT-1" {
				t.Errorf("stored as %s, want IT-1", st.ID)
			}
			count[st.Outcome]++
			return true
		})
		if count[workflow.ReceivedNew] != 1 || count[workflow.ReceivedMerged] != n-1 {
			t.Errorf("outcomes: got %v, want 1 new and %d merged", count, n-1)
		}
		c := mustCandidate(t, f.store, "IT-1")
		got := postsOf(c)
		slices.Sort(got)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(100 + i)
		}
		if !slices.Equal(got, want) || c.Deliveries != n {
			t.Errorf("series: got posts %v and %d deliveries, want %v and %d", got, c.Deliveries, want, n)
		}
		if _, total, err := f.store.Candidates(ctx, workflow.CandidateQuery{}); err != nil || total != 1 {
			t.Errorf("pending candidates: got %d, %v, want 1", total, err)
		}
	})
}

// TestIntakeTimersAreClaimed: the timers of a new candidate are the timer
// engine's, named after the candidate; ApplyCandidate replaces them.
func TestIntakeTimersAreClaimed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		wake, stop := f.store.WakeUps(ctx)
		defer stop()
		a := arrival(post{source: "weibo", url: "https://weibo.com/post/3", title: "Flooding in the east campus"}, t0)
		mustReceive(t, f.store, a)
		select {
		case got := <-wake:
			if want := t0.Add(30 * time.Minute).Truncate(time.Millisecond); !got.Equal(want) {
				t.Errorf("wake-up: got %v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Error("no wake-up within 5s of a new candidate's timers")
		}

		due := mustClaim(t, f, t0.Add(time.Hour), time.Minute, 10)
		ms := func(d time.Duration) time.Time { return t0.Add(d).Truncate(time.Millisecond) }
		wantClaimed(t, due,
			workflow.DueTimer{ID: "IT-1:triage:office", Incident: "IT-1", Due: ms(30 * time.Minute)},
			workflow.DueTimer{ID: "IT-1:triage:leaders", Incident: "IT-1", Due: ms(time.Hour)})
		mustAckTimer(t, f, due[0])

		// A reminder re-plans: the leaders' timer only, as the Service does.
		prev := mustCandidate(t, f.store, "IT-1")
		next := prev.Clone()
		next.Version++
		next.Fired = append(next.Fired, "triage:office")
		leaders := workflow.Timer{ID: "IT-1:triage:leaders", Incident: "IT-1", Due: t0.Add(2 * time.Hour)}
		mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: next, Timers: []workflow.Timer{leaders}})
		wantTimers(t, f, "IT-1", map[string]time.Time{"IT-1:triage:leaders": t0.Add(2 * time.Hour)})
		mustAckTimer(t, f, due[1]) // the old claim, planned again since: it stays pending

		// Opened: no timer left.
		prev, next = next, next.Clone()
		next.Version++
		next.State, next.Incident, next.DecidedAt = workflow.CandidateOpened, "YQ-1", t0.Add(time.Hour)
		mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: next})
		wantTimers(t, f, "IT-1", map[string]time.Time{})
		if got := mustClaim(t, f, t0.Add(24*time.Hour), time.Minute, 10); len(got) != 0 {
			t.Errorf("ClaimDue after opening: got %v, want none", show(got))
		}
		if n := f.client.HLen(ctx, f.key("IT-1", "timerinc")).Val(); n != 0 {
			t.Errorf("timerinc after opening: got %d entries, want none", n)
		}
	})
}

// TestIntakeNoticesReachTheOutbox: a new candidate's card, and a change's
// notices, are read from the outbox like an incident's.
func TestIntakeNoticesReachTheOutbox(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		a := arrival(post{source: "weibo", url: "https://weibo.com/post/4", title: "Fire alarm at the library"}, t0)
		mustReceive(t, f.store, a)
		mustReceive(t, f.store, a) // a duplicate: no second card
		ds := mustRead(t, f.store, "slack", "w1", 10)
		want := workflow.Notice{ID: "IT-1:new>incidents", Incident: "IT-1", Audience: workflow.ChannelIncidents, Body: a.Notices[0].Body}
		if len(ds) != 1 || !reflect.DeepEqual(ds[0].Notice, want) {
			t.Fatalf("ReadOutbox: got %v, want [%+v]", ds, want)
		}
		if got := shardOf(ds[0]); got != redis.IntakeShard {
			t.Errorf("handle %q: got shard %q, want %q", ds[0].Handle, got, redis.IntakeShard)
		}
		mustAck(t, f.store, "slack", ds...)

		prev := mustCandidate(t, f.store, "IT-1")
		next := prev.Clone()
		next.Version++
		next.State, next.DecidedBy, next.DecidedAt, next.Reason = workflow.CandidateDismissed, "chen", t0.Add(time.Minute), "a drill"
		refresh := workflow.Notice{ID: "IT-1:dismissed.2>refresh>incidents", Incident: "IT-1", Audience: workflow.ChannelIncidents, Body: []byte("{}")}
		mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: next, Notices: []workflow.Notice{refresh}})
		if got := mustRead(t, f.store, "slack", "w1", 10); len(got) != 1 || !reflect.DeepEqual(got[0].Notice, refresh) {
			t.Errorf("ReadOutbox after dismissing: got %v, want [%+v]", got, refresh)
		}
	})
}

func mustApplyCandidate(tb testing.TB, s *redis.Store, c workflow.CandidateChange) {
	tb.Helper()
	if err := s.ApplyCandidate(ctx, c); err != nil {
		tb.Fatalf("ApplyCandidate %s v%d: %v", c.Candidate.ID, c.Candidate.Version, err)
	}
}

func TestApplyCandidateConflict(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		mustReceive(t, f.store, arrival(post{source: "weibo", url: "https://weibo.com/post/5", title: "Bus route cancelled"}, t0))
		prev := mustCandidate(t, f.store, "IT-1")
		dismiss := func(from *workflow.Candidate, by string) *workflow.Candidate {
			c := from.Clone()
			c.Version++
			c.State, c.DecidedBy, c.DecidedAt, c.Reason = workflow.CandidateDismissed, by, t0.Add(time.Minute), "old news"
			return c
		}
		mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: dismiss(prev, "chen")})

		err := f.store.ApplyCandidate(ctx, workflow.CandidateChange{Prev: prev, Candidate: dismiss(prev, "sun")})
		if !errors.Is(err, workflow.ErrConflict) {
			t.Errorf("ApplyCandidate on a stale version: got %v, want ErrConflict", err)
		}
		if c := mustCandidate(t, f.store, "IT-1"); c.DecidedBy != "chen" || c.Version != 2 {
			t.Errorf("after the conflict: got v%d decided by %q, want v2 by chen", c.Version, c.DecidedBy)
		}

		skip := dismiss(prev, "sun")
		skip.Version = 5
		err = f.store.ApplyCandidate(ctx, workflow.CandidateChange{Prev: prev, Candidate: skip})
		if err == nil || errors.Is(err, workflow.ErrConflict) {
			t.Errorf("ApplyCandidate skipping versions: got %v, want an error that is no conflict", err)
		}

		ghost := prev.Clone()
		ghost.ID = "IT-404"
		err = f.store.ApplyCandidate(ctx, workflow.CandidateChange{Prev: ghost, Candidate: dismiss(ghost, "sun")})
		if workflow.ErrorCode(err) != workflow.CodeNotFound {
			t.Errorf("ApplyCandidate of an unknown candidate: got %v, want not found", err)
		}
		_, err = f.store.Candidate(ctx, "IT-404")
		if workflow.ErrorCode(err) != workflow.CodeNotFound || err.Error() != "no candidate IT-404" {
			t.Errorf("Candidate(IT-404): got %v (code %q), want not found: no candidate IT-404", err, workflow.ErrorCode(err))
		}
	})
}

func TestIntakeRejectsMalformedInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		good := func() workflow.Arrival { return arrival(post{source: "rss", title: "A long enough title"}, t0) }
		for _, tc := range []struct {
			name  string
			spoil func(a *workflow.Arrival)
		}{
			{"no candidate", func(a *workflow.Arrival) { a.Candidate = nil }},
			{"an ID", func(a *workflow.Arrival) { a.Candidate.ID = "IT-9" }},
			{"version 2", func(a *workflow.Arrival) { a.Candidate.Version = 2 }},
			{"opened", func(a *workflow.Arrival) { a.Candidate.State = workflow.CandidateOpened }},
			{"a timer of an incident", func(a *workflow.Arrival) { a.Timers[0].Incident = "YQ-1" }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := good()
				tc.spoil(&a)
				if _, err := f.store.Receive(ctx, []workflow.Arrival{good(), a}); err == nil {
					t.Error("Receive: got no error")
				}
			})
		}
		// Nothing of a refused batch is written.
		if _, total, err := f.store.Candidates(ctx, workflow.CandidateQuery{}); err != nil || total != 0 {
			t.Errorf("pending after refused batches: got %d, %v, want 0", total, err)
		}
	})
}

func candidateIDs(cs []*workflow.Candidate) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestCandidatesPaging(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		var batch []workflow.Arrival
		for i := range 12 {
			// One delivery: every item received at the same instant.
			batch = append(batch, arrival(post{source: "feed", item: fmt.Sprint(i), title: fmt.Sprintf("Post number %d about parking", i)}, t0))
		}
		mustReceive(t, f.store, batch...)
		decide := func(id string, state workflow.CandidateState, at time.Duration) {
			prev := mustCandidate(t, f.store, id)
			c := prev.Clone()
			c.Version++
			c.State, c.DecidedAt = state, t0.Add(at)
			if state == workflow.CandidateOpened {
				c.Incident = "YQ-" + strings.TrimPrefix(id, "IT-")
			}
			mustApplyCandidate(t, f.store, workflow.CandidateChange{Prev: prev, Candidate: c})
		}
		decide("IT-2", workflow.CandidateDismissed, 3*time.Minute)
		decide("IT-11", workflow.CandidateDismissed, time.Minute)
		decide("IT-5", workflow.CandidateDismissed, 2*time.Minute)
		decide("IT-7", workflow.CandidateOpened, time.Minute)

		for _, tc := range []struct {
			name      string
			q         workflow.CandidateQuery
			want      []string
			wantTotal int
		}{
			{"pending, in the order of arrival", workflow.CandidateQuery{},
				[]string{"IT-1", "IT-3", "IT-4", "IT-6", "IT-8", "IT-9", "IT-10", "IT-12"}, 8},
			{"pending, page 1", workflow.CandidateQuery{State: workflow.CandidatePending, Limit: 3}, []string{"IT-1", "IT-3", "IT-4"}, 8},
			{"pending, page 3", workflow.CandidateQuery{State: workflow.CandidatePending, Offset: 6, Limit: 3}, []string{"IT-10", "IT-12"}, 8},
			{"pending, past the end", workflow.CandidateQuery{Offset: 9, Limit: 3}, []string{}, 8},
			{"dismissed, the latest first", workflow.CandidateQuery{State: workflow.CandidateDismissed},
				[]string{"IT-2", "IT-5", "IT-11"}, 3},
			{"dismissed, page 2", workflow.CandidateQuery{State: workflow.CandidateDismissed, Offset: 2, Limit: 2}, []string{"IT-11"}, 3},
			{"opened", workflow.CandidateQuery{State: workflow.CandidateOpened}, []string{"IT-7"}, 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cs, total, err := f.store.Candidates(ctx, tc.q)
				if err != nil {
					t.Fatal(err)
				}
				if got := candidateIDs(cs); !slices.Equal(got, tc.want) || total != tc.wantTotal {
					t.Errorf("got %v of %d, want %v of %d", got, total, tc.want, tc.wantTotal)
				}
				for _, c := range cs {
					if c.Deliveries != 1 || c.Figures == nil {
						t.Errorf("%s: got %d deliveries, figures %v; want it read whole", c.ID, c.Deliveries, c.Figures)
					}
				}
			})
		}
		if _, _, err := f.store.Candidates(ctx, workflow.CandidateQuery{State: "lost"}); workflow.ErrorCode(err) != workflow.CodeInvalid {
			t.Errorf("Candidates of an unknown state: got %v, want invalid", err)
		}
	})
}

// TestTakeQuota: fixed one-minute windows of the Store's clock.
func TestTakeQuota(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		clock := workflow.NewManualClock(t0) // 09:26:53.589793238
		store := redis.New(f.client, redis.Options{Prefix: f.prefix, Clock: clock})
		takeAll := func(counts map[string]int, wantRefused string, wantRetry time.Duration) {
			t.Helper()
			refused, retry, err := store.TakeQuota(ctx, counts, 5)
			if err != nil {
				t.Fatalf("TakeQuota(%v): %v", counts, err)
			}
			if refused != wantRefused || retry != wantRetry {
				t.Errorf("TakeQuota(%v) of 5 at %s: got refused %q, retry %v; want %q, retry %v",
					counts, clock.Now().Format("15:04:05.000"), refused, retry, wantRefused, wantRetry)
			}
		}
		take := func(source string, n int, wantOK bool, wantRetry time.Duration) {
			t.Helper()
			refused := ""
			if !wantOK {
				refused = source
			}
			takeAll(map[string]int{source: n}, refused, wantRetry)
		}
		toWindowEnd := 6*time.Second + 410206762*time.Nanosecond // to 09:27:00
		take("weibo", 3, true, 0)
		take("weibo", 3, false, toWindowEnd) // 6 > 5: nothing counted
		take("weibo", 2, true, 0)
		take("weibo", 1, false, toWindowEnd)
		take("feed", 5, true, 0)             // another source has its own count
		take("weibo", 6, false, time.Minute) // more than the limit never fits
		take("weibo", 0, true, 0)            // nothing to count
		// All or none: with feed full, or forum's items above the limit,
		// blog's are not counted either.
		takeAll(map[string]int{"blog": 1, "feed": 1}, "feed", toWindowEnd)
		takeAll(map[string]int{"blog": 1, "forum": 6}, "forum", time.Minute)
		take("blog", 5, true, 0)

		key := fmt.Sprintf("%s:{%s}:quota:weibo:%d", f.prefix, redis.IntakeShard, t0.Unix()/60)
		if got := f.client.Get(ctx, key).Val(); got != "5" {
			t.Errorf("%s: got %q, want 5", key, got)
		}
		if ttl := f.client.PTTL(ctx, key).Val(); ttl <= time.Minute || ttl > 2*time.Minute {
			t.Errorf("TTL of %s: got %v, want up to 2m", key, ttl)
		}

		clock.Set(t0.Truncate(time.Minute).Add(time.Minute)) // 09:27:00: a new window
		take("weibo", 5, true, 0)
		take("weibo", 1, false, time.Minute)
		clock.Advance(time.Minute - time.Millisecond) // 09:27:59.999
		take("weibo", 1, false, time.Second)          // at least a second
	})
}

// TestIntakeKeysShareOneSlot: every key the intake writes carries the
// {intake} tag.
func TestIntakeKeysShareOneSlot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		p := post{source: "weibo", url: "https://weibo.com/post/8", title: "Stadium roof damaged by storm", figures: figures(3, 40)}
		mustReceive(t, f.store, arrival(p, t0))
		p.figures = figures(4, 50)
		mustReceive(t, f.store, arrival(p, t0))
		at := redis.New(f.client, redis.Options{Prefix: f.prefix, Clock: workflow.NewManualClock(t0)})
		if _, _, err := at.TakeQuota(ctx, map[string]int{"weibo": 1}, 60); err != nil {
			t.Fatal(err)
		}
		tag := f.prefix + ":{" + redis.IntakeShard + "}:"
		var written []string
		for _, k := range mustKeys(t, f, "*") {
			if !strings.HasPrefix(k, tag) {
				t.Errorf("key %q: want the tag {%s} after the prefix", k, redis.IntakeShard)
			}
			written = append(written, strings.TrimPrefix(k, tag))
		}
		slices.Sort(written)
		want := []string{"cand:IT-1", "cfig:IT-1", "dedupe", "itimers:IT-1", "outbox", "pending", fmt.Sprintf("quota:weibo:%d", t0.Unix()/60), "seen", "seq", "timerinc", "timers"}
		if !slices.Equal(written, want) {
			t.Errorf("keys:\ngot  %q\nwant %q", written, want)
		}
	})
}

// roundTrips counts the requests a client sends, a command or a pipeline,
// leaving out the handshake of a new connection (HELLO, CLIENT SETINFO).
type roundTrips struct{ n atomic.Int64 }

func handshake(cmd goredis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

func (r *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !handshake(cmd) {
			r.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && !handshake(cmds[0]) {
			r.n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestReceiveBatchIsOneRoundTrip: a batch of 100 is one pipeline of
// script calls once the script is cached, two before (NOSCRIPT, then the
// body), with nothing stored twice. It runs on a server of its own, which
// has no script cached yet.
func TestReceiveBatchIsOneRoundTrip(t *testing.T) {
	client := redistest.StartServer(t).Client(t)
	trips := &roundTrips{}
	client.AddHook(trips)
	store := redis.New(client, redis.Options{Prefix: randomPrefix()})
	batch := func(from int) []workflow.Arrival {
		var out []workflow.Arrival
		for i := from; i < from+100; i++ {
			out = append(out, arrival(post{source: "feed", item: fmt.Sprint(i), title: fmt.Sprintf("Item %d of the batch test", i)}, t0))
		}
		return out
	}
	stored := mustReceive(t, store, batch(0)...)
	if got := trips.n.Load(); got != 2 {
		t.Errorf("uncached: got %d round trips, want 2", got)
	}
	trips.n.Store(0)
	stored = append(stored, mustReceive(t, store, batch(100)...)...)
	if got := trips.n.Load(); got != 1 {
		t.Errorf("cached: got %d round trips, want 1", got)
	}
	for i, st := range stored {
		wantStored(t, st, fmt.Sprintf("IT-%d", i+1), workflow.ReceivedNew)
	}
}

// TestClusterIntakeFlow runs the intake through the Service on a Redis
// Cluster: nothing is refused with CROSSSLOT.
func TestClusterIntakeFlow(t *testing.T) {
	client := redistest.SharedCluster(t).Client(t)
	refused := &crossSlotLog{}
	client.AddHook(refused)
	intakeFlow(t, client, randomPrefix())
	refused.mu.Lock()
	defer refused.mu.Unlock()
	if len(refused.refused) > 0 {
		t.Errorf("refused with CROSSSLOT: %v", refused.refused)
	}
}

// TestIntakeMinimumACL runs the intake through the Service as a user with
// the minimum ACL of docs/redis.md, on a Redis of its own: the intake's
// scripts call no command outside it.
func TestIntakeMinimumACL(t *testing.T) {
	redistest.RequireServers(t)
	srv := redistest.StartServer(t)
	client, err := aclUser(t, srv, "fbintake", "")
	if err != nil {
		t.Fatal(err)
	}
	intakeFlow(t, client, "fb") // the ACL's keys and channels are fb:*
}

// intakeFlow runs the intake through the Service on client: items
// received, merged and deduplicated, a quota taken, one dismissed, one
// opened as an incident, the timers claimed and the cards read.
func intakeFlow(t *testing.T, client goredis.UniversalClient, prefix string) {
	t.Helper()
	start := time.Date(2026, 3, 2, 1, 0, 7, 123e6, time.UTC)
	clock := workflow.NewManualClock(start)
	store := redis.New(client, redis.Options{Prefix: prefix, Clock: clock})
	svc := workflow.NewService(store, crowdRoster(t, 2), clock)
	svc.UseIntake(store)

	views := func(n int64) workflow.Figures { return workflow.Figures{Views: &n} }
	items := []workflow.Item{
		{URL: "https://weibo.com/p/1", Title: "Canteen food made students ill", Figures: views(100)},
		{URL: "https://weibo.com/p/2", Title: "Library closes early on weekends"},
	}
	got, err := svc.Intake(ctx, "weibo", items)
	if err != nil {
		t.Fatalf("Intake: %v", err)
	}
	if len(got) != 2 || got[0].Outcome != workflow.ReceivedNew || got[1].Outcome != workflow.ReceivedNew {
		t.Fatalf("Intake: got %+v, want two new", got)
	}
	clock.Advance(time.Minute)
	items[0].Figures = views(250)
	got, err = svc.Intake(ctx, "weibo", items)
	if err != nil {
		t.Fatalf("Intake again: %v", err)
	}
	if got[0].Outcome != workflow.ReceivedMerged || got[1].Outcome != workflow.ReceivedDuplicate {
		t.Errorf("Intake again: got %+v, want merged and duplicate", got)
	}

	if _, err := svc.DismissCandidate(ctx, "chen", got[1].Candidate, "not about us"); err != nil {
		t.Fatalf("DismissCandidate: %v", err)
	}
	inc, _, err := svc.OpenCandidate(ctx, "chen", got[0].Candidate, workflow.LevelMajor, "")
	if err != nil {
		t.Fatalf("OpenCandidate: %v", err)
	}
	if !inc.FoundAt.Equal(start) {
		t.Errorf("incident found at %v, want the item's %v", inc.FoundAt, start)
	}
	c, err := svc.Candidate(ctx, got[0].Candidate)
	if err != nil || c.State != workflow.CandidateOpened || c.Incident != inc.ID || len(c.Figures) != 2 {
		t.Errorf("Candidate: got %+v, %v; want opened as %s with 2 figures", c, err, inc.ID)
	}
	// Opened as major: the choice is recorded, the rule's suggestion kept
	// as the rule made it (it was overwritten).
	if c.OpenedLevel != workflow.LevelMajor || c.Suggestion.Level == workflow.LevelMajor || inc.Level != workflow.LevelMajor {
		t.Errorf("opened as major: got opened level %q, suggestion %q, incident %s; want major, the rule's suggestion, major",
			c.OpenedLevel, c.Suggestion.Level, inc.Level)
	}
	for _, state := range []workflow.CandidateState{workflow.CandidatePending, workflow.CandidateOpened, workflow.CandidateDismissed} {
		cs, total, err := svc.CandidatesOf(ctx, state, 1)
		if err != nil || (state == workflow.CandidatePending) != (total == 0) || len(cs) != total {
			t.Errorf("CandidatesOf(%s): got %v of %d, %v", state, candidateIDs(cs), total, err)
		}
	}
	if _, err := store.ClaimDue(ctx, start.Add(48*time.Hour), time.Minute, 100); err != nil {
		t.Errorf("ClaimDue: %v", err)
	}
	ds, err := store.ReadOutbox(ctx, "slack", "w1", 100)
	if err != nil {
		t.Fatalf("ReadOutbox: %v", err)
	}
	cards := 0
	for _, d := range ds {
		if strings.HasSuffix(d.Notice.ID, ":new>incidents") {
			cards++
		}
	}
	if cards != 2 {
		t.Errorf("triage cards in the outbox: got %d, want 2 (of %q)", cards, noticeIDs(ds))
	}
	if err := store.AckOutbox(ctx, "slack", ds...); err != nil {
		t.Errorf("AckOutbox: %v", err)
	}
}

// TestOpenCandidateRoutes checks which department an incident opened
// from a candidate goes to: the one its rule names when opened as
// suggested, the roster's department of the category when a person opens
// it as another category ("Open as…").
func TestOpenCandidateRoutes(t *testing.T) {
	roster, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		Departments: []workflow.Department{
			{ID: "office", Categories: []workflow.Category{workflow.CategoryOther}},
			{ID: "logistics"},
			{ID: "press", Categories: []workflow.Category{workflow.CategoryRumor}},
		},
		People: []workflow.Person{
			{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "wang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
			{ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}},
		},
		Intake: workflow.IntakeConfig{Rules: []workflow.IntakeRule{
			{Name: "canteen", Any: []string{"canteen"}, Level: workflow.LevelMajor, Department: "logistics"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		category workflow.Category
		want     string
	}{
		{"as suggested", "", "logistics"},
		{"as the suggested category", workflow.CategoryOther, "logistics"},
		{"as another category", workflow.CategoryRumor, "press"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 7, 123e6, time.UTC))
			store := redistest.NewStore(t)
			svc := workflow.NewService(store, roster, clock)
			svc.UseIntake(store)
			got, err := svc.Intake(ctx, "weibo", []workflow.Item{{URL: "https://weibo.com/p/1", Title: "Canteen food made students ill"}})
			if err != nil || len(got) != 1 {
				t.Fatalf("Intake: %+v, %v", got, err)
			}
			inc, _, err := svc.OpenCandidate(ctx, "chen", got[0].Candidate, "", tt.category)
			if err != nil {
				t.Fatalf("OpenCandidate: %v", err)
			}
			if inc.Department != tt.want {
				t.Errorf("opened %s as %s: department %q, want %q", inc.ID, inc.Category, inc.Department, tt.want)
			}
		})
	}
}

// TestIntakeServiceAudit replays the audit's deliveries through the
// Service on a real store: a critical phrase spaced or wrapped otherwise
// than in the rule opens an incident at once, and the first delivery of
// an item sent again after a newer one changes nothing.
func TestIntakeServiceAudit(t *testing.T) {
	roster, err := workflow.NewRoster(workflow.Roster{
		Timezone:    "Asia/Shanghai",
		Departments: []workflow.Department{{ID: "office", Categories: []workflow.Category{workflow.CategoryOther}}},
		People: []workflow.Person{
			{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "wang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
			{ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}},
		},
		Intake: workflow.IntakeConfig{Rules: []workflow.IntakeRule{
			{Name: "casualties", Any: []string{"死亡", "died", "was killed"}, Level: workflow.LevelCritical, Auto: true},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := workflow.NewManualClock(time.Date(2026, 3, 2, 1, 0, 7, 123e6, time.UTC))
	store := redistest.NewStore(t)
	svc := workflow.NewService(store, roster, clock)
	svc.UseIntake(store)
	intake := func(items ...workflow.Item) []workflow.Received {
		t.Helper()
		got, err := svc.Intake(ctx, "idem", items)
		if err != nil || len(got) != len(items) {
			t.Fatalf("Intake: got %+v, %v", got, err)
		}
		return got
	}

	t.Run("a phrase across a run of white space opens at once", func(t *testing.T) {
		for _, title := range []string{"Man was  killed near the gate", "Student was\nkilled at the gate", "Guard was\u3000killed"} {
			got := intake(workflow.Item{Title: title})[0]
			if got.Outcome != workflow.ReceivedOpened || got.Incident == "" {
				t.Errorf("%q: got %+v, want opened as an incident", title, got)
			}
		}
	})
	t.Run("a later delivery with words a rule opens at once opens the waiting candidate", func(t *testing.T) {
		first := intake(workflow.Item{URL: "https://weibo.com/p/gate", Title: "Accident at the school gate"})[0]
		if first.Outcome != workflow.ReceivedNew {
			t.Fatalf("first delivery: got %+v, want new", first)
		}
		clock.Advance(time.Minute)
		later := intake(workflow.Item{URL: "https://weibo.com/p/gate", Title: "Accident at the school gate",
			Excerpt: "a student was killed, two injured"})[0]
		if later.Outcome != workflow.ReceivedOpened || later.Candidate != first.Candidate || later.Incident == "" {
			t.Fatalf("later delivery: got %+v, want %s opened as an incident", later, first.Candidate)
		}
		inc, err := svc.Incident(ctx, later.Incident)
		if err != nil || inc.Level != workflow.LevelCritical {
			t.Errorf("the incident: got %+v, %v; want critical, as the rule suggests", inc, err)
		}
		c, err := svc.Candidate(ctx, first.Candidate)
		if err != nil || c.State != workflow.CandidateOpened || c.Suggestion.Rule != "casualties" {
			t.Errorf("the candidate: got %+v, %v; want opened, by the casualties rule", c, err)
		}
	})
	t.Run("an earlier delivery sent again is a duplicate", func(t *testing.T) {
		posts := func(n int64) workflow.Figures { return workflow.Figures{Posts: &n} }
		first := workflow.Item{ID: "i1", URL: "https://weibo.com/p/i1", Title: "Library closes early on weekends", Figures: posts(1)}
		second := first
		second.Figures = posts(2)
		var outcomes []workflow.ReceiveOutcome
		var id string
		for _, it := range []workflow.Item{first, second, first, second} {
			clock.Advance(time.Minute)
			got := intake(it)[0]
			outcomes = append(outcomes, got.Outcome)
			id = got.Candidate
		}
		want := []workflow.ReceiveOutcome{workflow.ReceivedNew, workflow.ReceivedMerged, workflow.ReceivedDuplicate, workflow.ReceivedDuplicate}
		if !slices.Equal(outcomes, want) {
			t.Errorf("outcomes: got %v, want %v", outcomes, want)
		}
		c, err := svc.Candidate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := postsOf(c); c.Deliveries != 2 || !slices.Equal(got, []int64{1, 2}) {
			t.Errorf("got %d deliveries, posts %v; want 2, [1 2]", c.Deliveries, got)
		}
	})
}
