package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The record at scale (issue 13's acceptance): with 10,000 incidents
// resolved in one month, `stats month` and GET /stats answer in under a
// second, and the month's CSV streams without holding the month in memory.
// Each benchmark runs at 1,000 and at 10,000 resolved incidents, seeded
// through the real Store on the test Redis; the CSV reports the peak of the
// heap while it runs (peak-heap-MiB, above the heap after a GC just before
// it) beside its bytes allocated: a CSV held whole has a peak that grows
// with the month, one that streams does not. docs/benchmarks.md has the
// command and the figures.
//
//	go test ./cmd/firebreak -run '^$' -bench Record -benchmem -benchtime 5x

// recordNow is when the benchmarks look: 31 March 2026, 22:00 in Shanghai.
// The seeded incidents were found from 2 March on, so "month" (the last 30
// days) and the CSV of March hold them all.
var recordNow = time.Date(2026, 3, 31, 14, 0, 0, 0, time.UTC)

func BenchmarkRecord(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("resolved=%d", n), func(b *testing.B) {
			w := startWeb(b, Config{}, true, workflow.NewManualClock(recordNow))
			seedResolved(b, w.a, n)
			ctx := context.Background()

			b.Run("stats_month", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					reply := w.a.router.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: "stats month"})
					if reply.Failed || !strings.Contains(reply.Text, fmt.Sprintf("incidents %d,", n)) {
						b.Fatalf("stats month: got %q, want %d incidents", reply.Text, n)
					}
				}
			})
			b.Run("stats_page", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					body := mustGetBody(b, w.URL+"/stats?period=month")
					if !strings.Contains(body, fmt.Sprintf("%d", n)) {
						b.Fatalf("GET /stats: no count of %d in %.300s", n, body)
					}
				}
			})
			b.Run("csv_month", func(b *testing.B) {
				b.ReportAllocs()
				var peak uint64
				for b.Loop() {
					var rows int
					p := heapPeak(func() { rows = countCSVRows(b, w.URL+"/api/v1/incidents.csv?from=2026-03-01&to=2026-03-31") })
					if rows != n {
						b.Fatalf("CSV: got %d rows, want %d", rows, n)
					}
					peak = max(peak, p)
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			})
		})
	}
}

// seedResolved writes n incidents, found in March 2026 and resolved before
// recordNow, through the app's Store (Apply, eight at a time): a mix of
// levels, categories, departments and sources as an office would have, the
// major ones with a report, an approved draft and a published reply.
func seedResolved(tb testing.TB, a *app, n int) {
	tb.Helper()
	loc := a.roster.Location()
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, loc)
	span := recordNow.Add(-3 * 24 * time.Hour).Sub(start)
	categories := []workflow.Category{workflow.CategoryInquiry, workflow.CategoryHype, workflow.CategoryRumor, workflow.CategoryOther}
	hosts := []string{"weibo.com", "tieba.baidu.com", "www.zhihu.com", "mp.weixin.qq.com", "www.douyin.com", "bbs.example.edu.cn"}
	rnd := rand.New(rand.NewPCG(13, 10000))
	incs := make([]*workflow.Incident, n)
	for i := range incs {
		found := start.Add(time.Duration(rnd.Int64N(int64(span)))).Truncate(time.Second)
		level := workflow.LevelGeneral
		switch r := rnd.IntN(100); {
		case r < 5:
			level = workflow.LevelCritical
		case r < 20:
			level = workflow.LevelMajor
		}
		cat := categories[rnd.IntN(len(categories))]
		dept, assignee := "office", "chen"
		if cat == workflow.CategoryInquiry {
			dept, assignee = "logistics", []string{"li", "zhou"}[rnd.IntN(2)]
		}
		at := func(d time.Duration) time.Time { return found.Add(d + time.Duration(rnd.Int64N(int64(d)))) }
		inc := &workflow.Incident{
			ID: fmt.Sprintf("YQ-%d", i+1), Version: 1, Level: level, Category: cat, Status: workflow.StatusResolved,
			Title:      fmt.Sprintf("Post %d about the %s", i+1, []string{"canteen", "bus route", "library", "exam", "dormitory"}[rnd.IntN(5)]),
			Source:     fmt.Sprintf("https://%s/p/%d", hosts[rnd.IntN(len(hosts))], rnd.IntN(1_000_000)),
			Department: dept, Assignee: assignee, FoundAt: found, OpenedAt: found.Add(5 * time.Minute), OpenedBy: "chen",
			AckedAt: at(20 * time.Minute), AckedBy: assignee,
			Updates: 1 + rnd.IntN(4), LastUpdateAt: at(6 * time.Hour),
			ResolvedAt: at(24 * time.Hour), Summary: "Answered in public; the post was taken down by its author.",
		}
		if level != workflow.LevelGeneral {
			reply := "We have looked into the post and will publish the facts as they are established."
			inc.ReportedAt = at(5 * time.Minute)
			inc.Receipts = []workflow.Receipt{{By: "wang", At: at(10 * time.Minute), Principal: true}}
			inc.Drafts = []workflow.Draft{{Version: 1, Text: reply, Hash: workflow.HashText(reply), Author: assignee, At: at(time.Hour),
				Approvals: []workflow.Approval{{By: "wang", At: at(90 * time.Minute), Principal: true}, {By: "zhao", At: at(100 * time.Minute)}},
				Published: true}}
			inc.Statements = []workflow.Statement{{DraftVersion: 1, Text: reply, Hash: inc.Drafts[0].Hash, By: "sun", At: at(2 * time.Hour)}}
		}
		inc.UpdatedAt = inc.ResolvedAt
		incs[i] = inc
	}
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				inc := incs[i]
				ev := workflow.Event{ID: inc.ID + "#1.1", Incident: inc.ID, Version: 1, Kind: workflow.EventResolved,
					At: inc.ResolvedAt, Actor: inc.Assignee, Text: inc.Summary}
				if err := a.store.Apply(ctx, workflow.Change{Incident: inc, Events: []workflow.Event{ev}}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatalf("seed: %v", err)
	}
}

func mustGetBody(tb testing.TB, url string) string {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d, %v: %.300s", url, res.StatusCode, err, b)
	}
	return string(b)
}

// countCSVRows downloads a CSV as a client would, without keeping it, and
// counts its lines after the header (the seeded titles hold no line break).
func countCSVRows(tb testing.TB, url string) int {
	tb.Helper()
	res, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d", url, res.StatusCode)
	}
	lines := 0
	buf := make([]byte, 32<<10)
	for {
		k, err := res.Body.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' {
				lines++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return lines - 1
}

// heapPeak runs f and returns the highest the heap's objects rose above
// where they were after a GC just before it, sampled every 100 µs: the
// server's rows and the client's reading both count, as they share the
// process. Garbage counts until the GC collects it (GOGC), so the peak is
// about twice what f holds live at once, or the GC's 4 MiB floor.
func heapPeak(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	<-sampled
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}
