package redis_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis"
)

// TestKeepDemoEpoch: the first epoch stored is the one every later caller
// gets, also callers racing each other; it is JSON under <prefix>:democlock
// and never expires.
func TestKeepDemoEpoch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f fixture) {
		if _, ok, err := f.store.DemoEpoch(ctx); err != nil || ok {
			t.Fatalf("DemoEpoch before any: got ok %v, %v, want none", ok, err)
		}
		first := redis.DemoEpoch{Start: t0, Scale: 60}
		got, fresh, err := f.store.KeepDemoEpoch(ctx, first)
		if err != nil || !fresh || !got.Start.Equal(t0) || got.Scale != 60 {
			t.Fatalf("KeepDemoEpoch first: got %+v, fresh %v, %v, want %+v, fresh", got, fresh, err, first)
		}

		// Later callers, at once and with other epochs: all get the first.
		var wg sync.WaitGroup
		results := make([]redis.DemoEpoch, 8)
		errs := make([]error, len(results))
		for i := range results {
			wg.Go(func() {
				e := redis.DemoEpoch{Start: t0.Add(time.Duration(i+1) * time.Hour), Scale: float64(10 * (i + 1))}
				var fresh bool
				results[i], fresh, errs[i] = f.store.KeepDemoEpoch(ctx, e)
				if fresh {
					t.Errorf("KeepDemoEpoch %d: got fresh, want the stored one", i)
				}
			})
		}
		wg.Wait()
		for i, e := range results {
			if errs[i] != nil || !e.Start.Equal(t0) || e.Scale != 60 {
				t.Errorf("KeepDemoEpoch %d: got %+v, %v, want %+v", i, e, errs[i], first)
			}
		}
		if e, ok, err := f.store.DemoEpoch(ctx); err != nil || !ok || !e.Start.Equal(t0) || e.Scale != 60 {
			t.Errorf("DemoEpoch: got %+v, %v, %v, want %+v", e, ok, err, first)
		}

		key := f.store.DemoEpochKey()
		if want := f.prefix + ":democlock"; key != want {
			t.Errorf("DemoEpochKey: got %q, want %q", key, want)
		}
		raw, err := f.client.Get(ctx, key).Result()
		var stored struct {
			Start string  `json:"start"`
			Scale float64 `json:"scale"`
		}
		if err != nil || json.Unmarshal([]byte(raw), &stored) != nil ||
			stored.Start != t0.UTC().Format(time.RFC3339Nano) || stored.Scale != 60 {
			t.Errorf("GET %s: got %q, %v, want the start in UTC to the nanosecond and the scale", key, raw, err)
		}
		if ttl, err := f.client.TTL(ctx, key).Result(); err != nil || ttl != -1 {
			t.Errorf("TTL %s: got %s, %v, want none (-1)", key, ttl, err)
		}

		if err := f.client.Set(ctx, key, "garbage", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.store.KeepDemoEpoch(ctx, first); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("KeepDemoEpoch on a garbled key: got %v, want an error naming %s", err, key)
		}
		if _, _, err := f.store.KeepDemoEpoch(ctx, redis.DemoEpoch{Start: t0}); err == nil {
			t.Error("KeepDemoEpoch without a scale: got nil, want an error")
		}
	})
}
