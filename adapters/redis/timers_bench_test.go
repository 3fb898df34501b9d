package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// BenchmarkApplyPipelined measures how many Applies (each opening an
// incident with one timer) a real Redis takes per second when the scripts
// are sent one per round trip and when they are pipelined: the question
// docs/benchmarks.md asks of the gap to asynq's one-task Enqueue. Store has
// no pipelined Apply; this calls the script directly. It runs against
// FIREBREAK_TEST_REDIS_URL, else 127.0.0.1:6379, under a prefix of its own,
// deleted afterwards:
//
//	go test ./adapters/redis -run '^$' -bench ApplyPipelined
func BenchmarkApplyPipelined(b *testing.B) {
	url := os.Getenv("FIREBREAK_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := goredis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	client := goredis.NewClient(opts)
	defer client.Close()
	ctx := context.Background()
	if err := applyScript.Load(ctx, client).Err(); err != nil {
		b.Fatalf("redis at %s: %v", url, err)
	}
	for _, batch := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("pipeline=%d", batch), func(b *testing.B) {
			suffix := make([]byte, 6)
			_, _ = rand.Read(suffix)
			s := New(client, Options{Prefix: "fbbench-go:" + hex.EncodeToString(suffix)})
			b.Cleanup(func() { deleteAll(b, client, s.prefix+":*") })
			far := time.Now().Add(time.Hour)
			var seq atomic.Int64
			b.SetParallelism(4) // 8 writers on 2 cores, as cmd/fbbench
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				p := client.Pipeline()
				flush := func() {
					if _, err := p.Exec(ctx); err != nil {
						b.Error(err)
					}
				}
				for pb.Next() {
					n := seq.Add(1)
					id := fmt.Sprintf("YQ-%d", n)
					inc := &workflow.Incident{ID: id, Version: 1, Title: "negative post about the canteen " + id,
						Level: workflow.LevelMajor, Category: workflow.CategoryInquiry, Status: workflow.StatusNew,
						FoundAt: far, OpenedAt: far, OpenedBy: "chen", UpdatedAt: far}
					keys, args, err := s.applyArgs(workflow.Change{Incident: inc, Timers: []workflow.Timer{
						{ID: id + ":respond:due", Incident: id, Due: far.Add(time.Duration(n) * time.Millisecond)}}})
					if err != nil {
						b.Fatal(err)
					}
					applyScript.EvalSha(ctx, p, keys, args...)
					if p.Len() == batch {
						flush()
					}
				}
				if p.Len() > 0 {
					flush()
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "timers/s")
		})
	}
}

func deleteAll(tb testing.TB, c *goredis.Client, match string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, match, 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			c.Unlink(ctx, batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		c.Unlink(ctx, batch...)
	}
	if err := iter.Err(); err != nil {
		tb.Error(err)
	}
}
