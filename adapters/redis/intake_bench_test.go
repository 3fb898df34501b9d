package redis_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
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

// Benchmarks of the monitoring intake on a real Redis (redistest: the one
// of FIREBREAK_TEST_REDIS_URL, else 127.0.0.1:6379), for docs/benchmarks.md:
//
//	go test ./adapters/redis/ -run '^$' -bench Intake -benchmem
//
// Each operation is one delivery of 100 items; items/s is what counts
// (target: 2,000 a second in batches of 100). The items look like a
// monitoring platform's: a URL, a Chinese title and excerpt, figures, the
// two triage timers and the triage card.

const benchBatch = 100

// benchExcerpt is a typical excerpt (about 150 characters).
var benchExcerpt = strings.Repeat("网友反映学校食堂饭菜质量下降,多名学生出现不适症状,相关帖子评论持续增加。", 4)

// benchPost is the i-th distinct post of a run.
func benchPost(run string, i int64, posts int64) post {
	return post{source: "weibo", item: run + "-" + strconv.FormatInt(i, 10),
		url:   "https://weibo.com/" + run + "/status/" + strconv.FormatInt(i, 10) + "?utm_source=share",
		title: fmt.Sprintf("某高校食堂饭菜质量引发学生不满 #%s-%d", run, i), figures: figures(posts, 100*posts)}
}

// benchArrival is arrival with the excerpt and the triage card the
// Service writes.
func benchArrival(p post, at time.Time) workflow.Arrival {
	a := arrival(p, at)
	a.Candidate.Excerpt = benchExcerpt
	a.Notices = []workflow.Notice{workflow.NewNotice("new>incidents", "", workflow.ChannelIncidents,
		workflow.Notification{Kind: workflow.NoticeTriage, Thread: workflow.Thread{Kind: workflow.ThreadTriage},
			Triage: &workflow.TriageStep{Step: workflow.TriageNew}})}
	return a
}

// benchStore is a Store on the tests' real Redis under a prefix of its
// own, deleted afterwards.
func benchStore(b *testing.B) (*redis.Store, goredis.UniversalClient, string) {
	b.Helper()
	redistest.RequireReal(b, "figures of the embedded Redis say nothing of a deployment")
	client, prefix := redistest.Client(b), redistest.Prefix(b)
	return redis.New(client, redis.Options{Prefix: prefix}), client, prefix
}

// receiveBatches runs b.N deliveries of benchBatch items made by next,
// on parallel goroutines (1: one after the other), and reports items/s.
func receiveBatches(b *testing.B, store *redis.Store, parallel int, next func() workflow.Arrival, want workflow.ReceiveOutcome) {
	b.Helper()
	var ops atomic.Int64
	ops.Store(int64(b.N))
	b.ResetTimer()
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch := make([]workflow.Arrival, benchBatch)
			for ops.Add(-1) >= 0 {
				for j := range batch {
					batch[j] = next()
				}
				stored, err := store.Receive(ctx, batch)
				if err != nil {
					b.Error(err)
					return
				}
				if stored[0].Outcome != want {
					b.Errorf("outcome: got %s, want %s", stored[0].Outcome, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkIntakeReceive stores deliveries of 100 new items: one after the
// other, and from 8 senders at once.
func BenchmarkIntakeReceive(b *testing.B) {
	for _, parallel := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d/senders=%d", benchBatch, parallel), func(b *testing.B) {
			store, _, _ := benchStore(b)
			var n atomic.Int64
			now := time.Now()
			receiveBatches(b, store, parallel, func() workflow.Arrival {
				return benchArrival(benchPost("new", n.Add(1), 10), now)
			}, workflow.ReceivedNew)
		})
	}
}

// BenchmarkIntakeService takes deliveries of 100 items through
// workflow.Service.Intake: checks, the rate quota (one script a
// delivery), keyword rules, then Receive.
func BenchmarkIntakeService(b *testing.B) {
	for _, parallel := range []int{1, 8} {
		b.Run(fmt.Sprintf("batch=%d/senders=%d", benchBatch, parallel), func(b *testing.B) {
			store, _, _ := benchStore(b)
			roster, err := workflow.NewRoster(workflow.Roster{
				Timezone:    "Asia/Shanghai",
				Departments: []workflow.Department{{ID: "office", Categories: []workflow.Category{workflow.CategoryOther}}},
				People: []workflow.Person{
					{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
					{ID: "wang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
					{ID: "li", Roles: []workflow.Role{workflow.RoleLeader}},
				},
				Intake: workflow.IntakeConfig{Rate: 1 << 30, Rules: []workflow.IntakeRule{
					{Name: "death", Any: []string{"死亡", "died"}, Level: workflow.LevelCritical},
					{Name: "canteen", Any: []string{"食堂", "canteen"}, Level: workflow.LevelMajor},
				}},
			})
			if err != nil {
				b.Fatal(err)
			}
			svc := workflow.NewService(store, roster, workflow.SystemClock{})
			svc.UseIntake(store)
			var n atomic.Int64
			var ops atomic.Int64
			ops.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for range parallel {
				wg.Add(1)
				go func() {
					defer wg.Done()
					items := make([]workflow.Item, benchBatch)
					for ops.Add(-1) >= 0 {
						for j := range items {
							p := benchPost("svc", n.Add(1), 10)
							items[j] = workflow.Item{ID: p.item, URL: p.url, Title: p.title, Excerpt: benchExcerpt, Figures: p.figures}
						}
						got, err := svc.Intake(ctx, "weibo", items)
						if err != nil {
							b.Error(err)
							return
						}
						if got[0].Outcome != workflow.ReceivedNew {
							b.Errorf("outcome: got %s, want new", got[0].Outcome)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkIntakeDedupe measures the dedupe lookup with 100 and 100,000
// items stored: deliveries of 100 known items again (duplicate, nothing
// written), of 100 known items with new figures (merged, the figures
// appended), and of 100 new ones. It reports the memory one stored item
// takes: its candidate, figures, dedupe and seen entries, pending index,
// two timers and triage card in the outbox (MEMORY USAGE of the prefix's
// keys, and the growth of INFO used_memory, which also counts whatever
// else the server did meanwhile).
func BenchmarkIntakeDedupe(b *testing.B) {
	for _, stored := range []int64{100, 100_000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			store, client, prefix := benchStore(b)
			now := time.Now()
			before := usedMemory(b, client)
			seed(b, store, stored, now)
			if stored >= 10_000 {
				grew := usedMemory(b, client) - before
				keys, byKind := keysMemory(b, client, prefix)
				var parts []string
				for _, kind := range slices.Sorted(maps.Keys(byKind)) {
					parts = append(parts, fmt.Sprintf("%s %.0f", kind, float64(byKind[kind])/float64(stored)))
				}
				// Printed, not logged: the log of a benchmark with
				// sub-benchmarks is shown only when it fails.
				fmt.Printf("%s: %d items stored: MEMORY USAGE of their keys %.0f B/item (%s); INFO used_memory grew %.0f B/item\n",
					b.Name(), stored, float64(keys)/float64(stored), strings.Join(parts, ", "), float64(grew)/float64(stored))
			}

			var figuresSeq atomic.Int64
			figuresSeq.Store(1000)
			pick := func(k int64) int64 { return 1 + (k*7919)%stored } // spread over the stored items
			b.Run("duplicate", func(b *testing.B) {
				// The same delivery as the seed, with its figures (before
				// merges change them).
				var k atomic.Int64
				receiveBatches(b, store, 1, func() workflow.Arrival {
					i := k.Add(1)
					return benchArrival(benchPost("seed", stored-i%stored, 10), now)
				}, workflow.ReceivedDuplicate)
			})
			b.Run("merge", func(b *testing.B) {
				var k atomic.Int64
				receiveBatches(b, store, 1, func() workflow.Arrival {
					return benchArrival(benchPost("seed", pick(k.Add(1)), figuresSeq.Add(1)), now)
				}, workflow.ReceivedMerged)
			})
			var fresh atomic.Int64 // across the runs of "new", which must not repeat
			b.Run("new", func(b *testing.B) {
				k := &fresh
				receiveBatches(b, store, 1, func() workflow.Arrival {
					return benchArrival(benchPost("fresh", k.Add(1), 10), now)
				}, workflow.ReceivedNew)
			})
		})
	}
}

// seed stores n items "seed-1" ... "seed-<n>", 8 deliveries at a time.
func seed(b *testing.B, store *redis.Store, n int64, now time.Time) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(benchBatch) - benchBatch + 1
				if from > n {
					return
				}
				var batch []workflow.Arrival
				for i := from; i < from+benchBatch && i <= n; i++ {
					batch = append(batch, benchArrival(benchPost("seed", i, 10), now))
				}
				if _, err := store.Receive(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func usedMemory(b *testing.B, c goredis.UniversalClient) int64 {
	b.Helper()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory: no used_memory")
	return 0
}

// keysMemory sums MEMORY USAGE (every element counted) of the keys under
// prefix, in all and by kind ("cand", "dedupe", ...).
func keysMemory(b *testing.B, c goredis.UniversalClient, prefix string) (int64, map[string]int64) {
	b.Helper()
	var total int64
	byKind := map[string]int64{}
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	p := c.Pipeline()
	var (
		cmds  []*goredis.IntCmd
		kinds []string
	)
	flush := func() {
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
		for i, cmd := range cmds {
			total += cmd.Val()
			byKind[kinds[i]] += cmd.Val()
		}
		cmds, kinds = cmds[:0], kinds[:0]
	}
	for iter.Next(ctx) {
		_, name, _ := strings.Cut(iter.Val(), "}:")
		kind, _, _ := strings.Cut(name, ":")
		cmds = append(cmds, p.MemoryUsage(ctx, iter.Val(), 0))
		kinds = append(kinds, kind)
		if len(cmds) == 1000 {
			flush()
		}
	}
	if err := iter.Err(); err != nil {
		b.Fatal(err)
	}
	if len(cmds) > 0 {
		flush()
	}
	return total, byKind
}
