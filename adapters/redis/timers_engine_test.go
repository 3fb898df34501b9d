package redis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// countingTimers records what one engine claimed and acknowledged.
type countingTimers struct {
	workflow.Timers
	mu      sync.Mutex
	claimed map[string]bool
	acked   map[string]bool
	fresh   int // timers of the last claim not yet handed out
}

// firstOfBatch reports whether the timer now handled is the first of a
// claimed batch, and how big that batch is.
func (c *countingTimers) firstOfBatch() (bool, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.fresh
	c.fresh = 0
	return n > 0, n
}

func (c *countingTimers) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]workflow.DueTimer, error) {
	ts, err := c.Timers.ClaimDue(ctx, now, lease, max)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range ts {
		c.claimed[t.ID] = true
	}
	c.fresh = len(ts)
	return ts, err
}

func (c *countingTimers) AckTimer(ctx context.Context, t workflow.DueTimer) error {
	err := c.Timers.AckTimer(ctx, t)
	if err == nil {
		c.mu.Lock()
		c.acked[t.ID] = true
		c.mu.Unlock()
	}
	return err
}

// TestEnginesShareTimersAndSurviveALostEngine is the acceptance test of the
// timer engine: three engines on one real Redis, 10,000 timers due within a
// few seconds, one engine stopped abruptly halfway, between a claim and its
// acks. Every timer is handled, and none has its effect twice.
//
// The handler is idempotent the way the real tick handler is (it records
// with a compare-and-set that the reminder fired): here a SET NX of
// "fired:<timer>@<due>". A timer the lost engine claimed but did not
// acknowledge is delivered again after its lease, and that second delivery
// finds the mark and does nothing.
func TestEnginesShareTimersAndSurviveALostEngine(t *testing.T) {
	const (
		incidents = 1000
		perInc    = 10
		total     = incidents * perInc
		engines   = 3
		victim    = 2 // the engine stopped halfway
		lease     = 500 * time.Millisecond
	)
	prefix := redistest.Prefix(t)
	writer := redis.New(redistest.Client(t), redis.Options{Prefix: prefix})

	// Plan the timers, due over 2.5s starting in a second.
	start := time.Now().Add(time.Second)
	planSpread(t, writer, incidents, perInc, start, 2500*time.Millisecond)

	var (
		mu       sync.Mutex
		effects  = map[string]int{} // timer -> times its effect happened
		attempts = map[string]int{} // timer -> deliveries
		early    []string
		stopped  bool
		allDone  = make(chan struct{})
	)
	stopVictim := make(chan struct{})
	counters := make([]*countingTimers, engines)
	runs := make([]chan error, engines)
	cancels := make([]context.CancelFunc, engines)
	for i := range engines {
		client := redistest.Client(t)
		store := redis.New(client, redis.Options{Prefix: prefix})
		counters[i] = &countingTimers{Timers: store, claimed: map[string]bool{}, acked: map[string]bool{}}
		engineCtx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		wake, stopWake := store.WakeUps(engineCtx)
		t.Cleanup(stopWake)
		handle := func(ctx context.Context, tm workflow.DueTimer) error {
			first, batch := counters[i].firstOfBatch()
			if time.Now().Before(tm.Due) {
				mu.Lock()
				early = append(early, tm.ID)
				mu.Unlock()
			}
			mark := prefix + ":fired:" + tm.ID + "@" + strconv.FormatInt(tm.Due.UnixMilli(), 10)
			fresh, err := client.SetNX(ctx, mark, i, 0).Result()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			attempts[tm.ID]++
			if fresh {
				effects[tm.ID]++
				if len(effects) == total {
					close(allDone)
				}
			}
			if i == victim && !stopped && len(effects) >= total/2 && first && batch > 1 {
				// Die after the effect, before the ack, with the rest
				// of the batch claimed and unhandled.
				stopped = true
				cancel()
				close(stopVictim)
				return errors.New("engine lost")
			}
			return nil
		}
		tick := func(ctx context.Context, tm workflow.DueTimer) (workflow.TickResult, error) {
			return workflow.TickResult{Outcome: workflow.TimerFired}, handle(ctx, tm)
		}
		s := &bot.Scheduler{Timers: counters[i], Handle: tick, Lease: lease, Batch: 20,
			MaxIdle: 250 * time.Millisecond, Wake: wake, Log: slog.New(slog.DiscardHandler)}
		runs[i] = make(chan error, 1)
		go func() { runs[i] <- s.Run(engineCtx) }()
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()

	select {
	case <-stopVictim:
	case <-time.After(20 * time.Second):
		t.Fatal("the victim engine never reached the halfway mark")
	}
	select {
	case <-allDone:
	case <-time.After(20 * time.Second):
		mu.Lock()
		n := len(effects)
		mu.Unlock()
		t.Fatalf("handled %d of %d timers within 20s", n, total)
	}
	// Every timer is acknowledged: none pending, none in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, pending, err := writer.NextDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !pending {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timers still pending or in flight 10s after every timer was handled")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, cancel := range cancels {
		cancel()
		if err := <-runs[i]; err != nil {
			t.Errorf("engine %d: Run: %v", i, err)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(effects) != total {
		t.Errorf("timers handled: got %d, want %d", len(effects), total)
	}
	for id, n := range effects {
		if n != 1 {
			t.Errorf("timer %s: effect happened %d times, want once", id, n)
		}
	}
	if len(early) > 0 {
		t.Errorf("%d timers handled before they were due, e.g. %s", len(early), early[0])
	}
	marks := countKeys(t, redistest.Client(t), prefix+":fired:*")
	if marks != total {
		t.Errorf("fired marks: got %d, want %d", marks, total)
	}

	// The victim died holding claims, which the others took over; those
	// are the only timers delivered twice.
	lost := map[string]bool{}
	for id := range counters[victim].claimed {
		if !counters[victim].acked[id] {
			lost[id] = true
		}
	}
	if len(lost) == 0 {
		t.Error("the victim held no claims when it stopped: nothing was taken over")
	}
	again := 0
	for id, n := range attempts {
		if n > 1 {
			again++
			if !lost[id] {
				t.Errorf("timer %s delivered %d times without a lost claim", id, n)
			}
		}
	}
	var share []int
	for _, c := range counters {
		share = append(share, len(c.acked))
	}
	t.Logf("acked per engine %v; the victim left %d claims, %d delivered again (without effect)", share, len(lost), again)
}

func countKeys(tb testing.TB, c goredis.UniversalClient, match string) int {
	tb.Helper()
	n := 0
	iter := c.Scan(ctx, 0, match, 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// planSpread writes incidents incidents of perInc timers each, their due
// times spread evenly over the span from start, from 8 writers at once.
func planSpread(t *testing.T, writer *redis.Store, incidents, perInc int, start time.Time, over time.Duration) {
	t.Helper()
	total := incidents * perInc
	var wg sync.WaitGroup
	errs := make(chan error, incidents)
	for w := range 8 {
		wg.Go(func() {
			for n := w; n < incidents; n += 8 {
				id := fmt.Sprintf("YQ-%d", n+1)
				c := workflow.Change{Incident: incident(id, start)}
				for k := range perInc {
					j := k*incidents + n
					c.Timers = append(c.Timers, workflow.Timer{ID: fmt.Sprintf("%s:t%d", id, k), Incident: id,
						Due: start.Add(time.Duration(j) * over / time.Duration(total))})
				}
				if err := writer.Apply(ctx, c); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
