package redis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/bot"
)

// TestCronOneDigestPerFire runs two cron runners (two replicas) on one real
// Redis: each fire of a job runs exactly once, whichever replica wins.
func TestCronOneDigestPerFire(t *testing.T) {
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	replicas := []*bot.Cron{
		{Locker: redis.New(client, redis.Options{Prefix: prefix})},
		{Locker: redis.New(client, redis.Options{Prefix: prefix})},
	}
	var runs atomic.Int64
	job := bot.CronJob{Name: "daily-digest", Spec: "0 8 * * *",
		Run: func(context.Context, time.Time) error { runs.Add(1); return nil }}
	for _, c := range replicas {
		if err := c.Add(job); err != nil {
			t.Fatal(err)
		}
	}

	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	fires := []time.Time{monday, monday.Add(24 * time.Hour), monday.Add(48 * time.Hour)}
	for _, at := range fires {
		var wg sync.WaitGroup
		var ran atomic.Int64
		for _, c := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := c.Fire(context.Background(), job, at)
				if err != nil {
					t.Errorf("fire %s: %v", at, err)
				}
				if got {
					ran.Add(1)
				}
			}()
		}
		wg.Wait()
		if ran.Load() != 1 {
			t.Errorf("fire %s: ran on %d replicas, want 1", at, ran.Load())
		}
	}
	if got := runs.Load(); got != int64(len(fires)) {
		t.Errorf("got %d digests, want %d (one per fire)", got, len(fires))
	}
}

// TestTryLockExpires checks that a lock is taken once and carries its TTL,
// so a crashed replica never holds a fire's lock for ever.
func TestTryLockExpires(t *testing.T) {
	client := redistest.Client(t)
	prefix := redistest.Prefix(t)
	store := redis.New(client, redis.Options{Prefix: prefix})
	ctx := context.Background()
	got, err := store.TryLock(ctx, "x", time.Minute)
	if err != nil || !got {
		t.Fatalf("first TryLock: got %v, %v; want true", got, err)
	}
	if got, _ := store.TryLock(ctx, "x", time.Minute); got {
		t.Fatal("second TryLock while held: got true, want false")
	}
	ttl, err := client.PTTL(ctx, prefix+":lock:x").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("got lock TTL %s, want within (0, 1m]", ttl)
	}
}
