package smoke

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Idle cost (issue 15): what one replica with nothing to do costs Redis.
const (
	idleWarmUp = 10 * time.Second
	idleSpan   = 30 * time.Second
	// idleBudget is the most commands a second an idle replica may send,
	// with all three dispatchers (Slack, Telegram, web) running.
	idleBudget = 20.0
)

// TestIdleRedisCommands starts replicas with Slack, Telegram and the web
// page configured (three dispatchers each), opens an incident, whose card
// goes out at once (the wake-up, not a poll), lets them settle, and counts
// the commands Redis processes while nothing more happens: under 20 a
// second per replica. It counts commands, not time, so a slow machine does
// not fail it; the figures are in docs/benchmarks.md.
func TestIdleRedisCommands(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("counting commands needs a real redis-server (INFO stats); miniredis has none")
	}
	tests := []struct {
		name     string
		replicas int
		// warmUp follows the card: two replicas settle once the shard
		// reader leases the first one took with it ran out (15 s).
		warmUp time.Duration
	}{
		{name: "one replica", replicas: 1, warmUp: idleWarmUp},
		{name: "two replicas", replicas: 2, warmUp: 15*time.Second + idleWarmUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, worldOptions{scale: 1})
			var ps []*proc
			for i := range tt.replicas {
				ps = append(ps, w.start(fmt.Sprintf("idle-%d", i+1)))
			}
			time.Sleep(2 * time.Second) // every dispatcher is idle by now

			// Idle is not asleep: a notice goes out on the wake-up, well
			// before any idle check (every 5 s) would have found it.
			opened := ps[0].openSlack(chen, "general", "Idle no more")
			card := w.await(t, tgIncidents, "the new incident's card", func(m message) bool {
				return strings.Contains(m.Text, opened.ID)
			})
			delay := card.At.Sub(opened.opened.done)
			t.Logf("card of %s reached Telegram %s after the command was answered", opened.ID, delay.Round(time.Millisecond))
			if delay > 2500*time.Millisecond {
				t.Errorf("card of %s: reached Telegram %s after the command, want at once (under 2.5s): was the dispatcher woken?",
					opened.ID, delay.Round(time.Millisecond))
			}

			// Then nothing happens until its first reminder, many minutes
			// away.
			time.Sleep(tt.warmUp)
			client := w.redisClient()
			before := commandStats(t, client)
			time.Sleep(idleSpan)
			after := commandStats(t, client)
			total := after.total - before.total - 1 // the first INFO counts itself
			rate := float64(total) / idleSpan.Seconds() / float64(tt.replicas)
			t.Logf("idle for %s, %d replica(s) of 3 dispatchers: %d commands, %.1f a second per replica: %s",
				idleSpan, tt.replicas, total, rate, after.minus(before, idleSpan))
			if rate >= idleBudget {
				t.Errorf("idle: got %.1f Redis commands a second per replica, want under %.0f", rate, idleBudget)
			}
		})
	}
}

// redisClient is a client of the world's Redis, closed when the test ends.
func (w *world) redisClient() *goredis.Client {
	w.t.Helper()
	opts, err := goredis.ParseURL(w.redisURL)
	if err != nil {
		w.t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	w.t.Cleanup(func() { _ = c.Close() })
	return c
}

// cmdStats are Redis's command counters: the total processed, and calls by
// command (INFO commandstats, which also counts those scripts call).
type cmdStats struct {
	total int64
	calls map[string]int64
}

func commandStats(tb testing.TB, c *goredis.Client) cmdStats {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.Info(ctx, "stats", "commandstats").Result()
	if err != nil {
		tb.Fatalf("INFO: %v", err)
	}
	s := cmdStats{calls: map[string]int64{}}
	for line := range strings.Lines(info) {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			s.total, _ = strconv.ParseInt(v, 10, 64)
		}
		// cmdstat_get:calls=12,usec=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		s.calls[name], _ = strconv.ParseInt(n, 10, 64)
	}
	return s
}

// minus describes the calls by command between b and s, per second over
// span, most first.
func (s cmdStats) minus(b cmdStats, span time.Duration) string {
	type count struct {
		name string
		n    int64
	}
	var cs []count
	for name, n := range s.calls {
		if d := n - b.calls[name]; d > 0 {
			cs = append(cs, count{name, d})
		}
	}
	slices.SortFunc(cs, func(x, y count) int {
		if x.n != y.n {
			return int(y.n - x.n)
		}
		return strings.Compare(x.name, y.name)
	})
	var parts []string
	for _, c := range cs {
		parts = append(parts, fmt.Sprintf("%s %.1f/s", strings.ToUpper(c.name), float64(c.n)/span.Seconds()))
	}
	return strings.Join(parts, ", ")
}
