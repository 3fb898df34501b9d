// Command fbbench measures Firebreak's timer queue on a real Redis, side by
// side with the scheduled tasks of github.com/hibiken/asynq as the peer:
// schedule throughput, firing delay (due time to handler) and Redis memory
// per pending timer, at -pending pending timers. docs/benchmarks.md records
// a run.
//
//	go run ./cmd/fbbench -redis redis://127.0.0.1:6379/0 -asynq-db 15
//
// Firebreak writes under a key prefix of its own ("fbbench:<random>") and
// deletes those keys when done. asynq gets a database of its own (-asynq-db,
// never the Firebreak one, never 0), which must hold nothing but asynq keys:
// it is flushed before and after.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

type config struct {
	url         string
	asynqDB     int
	pending     int
	perIncident int
	writers     int
	fire        int
	fireOver    time.Duration
	burst       int
	engines     int
	only        string
}

func main() {
	var c config
	flag.StringVar(&c.url, "redis", "redis://127.0.0.1:6379/0", "Redis URL for Firebreak (keys under fbbench:<random>, deleted afterwards)")
	flag.IntVar(&c.asynqDB, "asynq-db", 15, "Redis database for asynq; flushed before and after, so never 0")
	flag.IntVar(&c.pending, "pending", 100_000, "pending timers to schedule")
	flag.IntVar(&c.perIncident, "per-incident", 10, "timers per incident in Firebreak's main schedule run")
	flag.IntVar(&c.writers, "writers", 8, "concurrent writers while scheduling")
	flag.IntVar(&c.fire, "fire", 10_000, "timers fired for the delay measurement, on top of the pending ones")
	flag.DurationVar(&c.fireOver, "fire-over", 10*time.Second, "span over which the fired timers fall due")
	flag.IntVar(&c.burst, "burst", 1000, "timers fired all due at the same instant, after the spread ones (0: none)")
	flag.IntVar(&c.engines, "engines", 1, "Firebreak scheduler engines firing")
	flag.StringVar(&c.only, "only", "", `run only "firebreak" or "asynq"`)
	flag.Parse()

	ctx := context.Background()
	if err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fbbench:", err)
		os.Exit(1)
	}
}

// result is one row of the report.
type result struct {
	system, what string
	value        string
}

func run(ctx context.Context, c config, out io.Writer) error {
	// A single Redis: asynq runs beside Firebreak in another database.
	// Dialled first: its errors never show the password, go-redis's may.
	client, err := redis.DialWith(ctx, redis.DialOptions{URL: c.url})
	if err != nil {
		return err
	}
	defer client.Close()
	opts, err := goredis.ParseURL(c.url)
	if err != nil {
		return fmt.Errorf("redis url %s does not parse", redis.Redact(c.url))
	}
	if c.asynqDB == 0 || c.asynqDB == opts.DB {
		return fmt.Errorf("-asynq-db %d: asynq needs a database of its own, not 0 and not Firebreak's %d", c.asynqDB, opts.DB)
	}
	fmt.Fprintf(out, "redis %s, %s\n", opts.Addr, serverInfo(ctx, client))

	var rows []result
	if c.only == "" || c.only == "firebreak" {
		r, err := benchFirebreak(ctx, c, client, out)
		rows = append(rows, r...)
		if err != nil {
			return err
		}
	}
	if c.only == "" || c.only == "asynq" {
		aopts := *opts
		aopts.DB = c.asynqDB
		r, err := benchAsynq(ctx, c, &aopts, out)
		rows = append(rows, r...)
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "| system | measure | value |")
	fmt.Fprintln(out, "|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(out, "| %s | %s | %s |\n", r.system, r.what, r.value)
	}
	return nil
}

func serverInfo(ctx context.Context, c goredis.UniversalClient) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "version unknown"
	}
	return "redis_version " + infoField(info, "redis_version")
}

func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return v
		}
	}
	return ""
}

func usedMemory(ctx context.Context, c goredis.UniversalClient) (int64, error) {
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
}

// keyMemory sums MEMORY USAGE (exact: SAMPLES 0) of the keys matching match.
func keyMemory(ctx context.Context, c goredis.UniversalClient, match string) (int64, int, error) {
	var (
		total int64
		keys  int
	)
	iter := c.Scan(ctx, 0, match, 1000).Iterator()
	var batch []string
	flush := func() error {
		cmds, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range batch {
				p.MemoryUsage(ctx, k, 0)
			}
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		for _, cmd := range cmds {
			total += cmd.(*goredis.IntCmd).Val()
		}
		keys += len(batch)
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return 0, 0, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return 0, 0, err
	}
	if err := flush(); err != nil {
		return 0, 0, err
	}
	return total, keys, nil
}

func deleteKeys(ctx context.Context, c goredis.UniversalClient, match string) error {
	iter := c.Scan(ctx, 0, match, 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return c.Unlink(ctx, batch...).Err()
	}
	return nil
}

// parallel runs do(i) for i in [0, n) on workers goroutines and returns the
// elapsed time and the first error.
func parallel(n, workers int, do func(i int) error) (time.Duration, error) {
	var (
		next     atomic.Int64
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// delays summarises firing delays.
type delays struct {
	mu sync.Mutex
	d  []time.Duration
}

func (d *delays) add(x time.Duration) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.d = append(d.d, x)
	return len(d.d)
}

func (d *delays) summary() (n int, p50, p99, worst time.Duration, early int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := slices.Clone(d.d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0, 0, 0, 0
	}
	for _, x := range s {
		if x < 0 {
			early++
		}
	}
	return len(s), s[len(s)*50/100], s[min(len(s)*99/100, len(s)-1)], s[len(s)-1], early
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func randomHex() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newIncident(id string, found time.Time) *workflow.Incident {
	return &workflow.Incident{
		ID: id, Version: 1, Title: "negative post about the canteen " + id,
		Level: workflow.LevelMajor, Category: workflow.CategoryInquiry, Status: workflow.StatusNew,
		FoundAt: found, OpenedAt: found, OpenedBy: "chen", UpdatedAt: found,
	}
}

func next(inc *workflow.Incident) *workflow.Incident {
	n := inc.Clone()
	n.Version++
	return n
}

// benchFirebreak schedules, measures memory and fires on Firebreak's queue.
func benchFirebreak(ctx context.Context, c config, client goredis.UniversalClient, out io.Writer) (rows []result, err error) {
	prefix := "fbbench:" + randomHex()
	defer func() {
		if derr := deleteKeys(context.Background(), client, prefix+":*"); derr != nil && err == nil {
			err = fmt.Errorf("delete %s:*: %w", prefix, derr)
		}
	}()
	row := func(what, value string) {
		rows = append(rows, result{"Firebreak", what, value})
		fmt.Fprintf(out, "firebreak: %s: %s\n", what, value)
	}
	far := time.Now().Add(time.Hour)
	store := redis.New(client, redis.Options{Prefix: prefix})

	// 1. One timer per Apply: each Apply opens an incident with one timer,
	// the closest to one asynq Enqueue per task.
	one := redis.New(client, redis.Options{Prefix: prefix + "-one"})
	elapsed, err := parallel(c.pending, c.writers, func(i int) error {
		id := fmt.Sprintf("YQ-%d", i+1)
		return one.Apply(ctx, workflow.Change{Incident: newIncident(id, far), Timers: []workflow.Timer{
			{ID: id + ":respond:due", Incident: id, Due: far.Add(time.Duration(i) * time.Millisecond)}}})
	})
	if err != nil {
		return rows, fmt.Errorf("schedule one timer per Apply: %w", err)
	}
	row("schedule, 1 timer per Apply (new incident each)", fmt.Sprintf("%.0f timers/s (%d in %v, %d writers)",
		float64(c.pending)/elapsed.Seconds(), c.pending, elapsed.Round(time.Millisecond), c.writers))
	if err := deleteKeys(ctx, client, prefix+"-one:*"); err != nil {
		return rows, err
	}

	// 2. perIncident timers per Apply, re-planning existing incidents: the
	// shape of a real transition. The incidents are created first, without
	// timers, so that the memory delta is the timers' alone.
	incidents := (c.pending + c.perIncident - 1) / c.perIncident
	v1 := make([]*workflow.Incident, incidents)
	if _, err := parallel(incidents, c.writers, func(i int) error {
		v1[i] = newIncident(fmt.Sprintf("YQ-%d", i+1), far)
		return store.Apply(ctx, workflow.Change{Incident: v1[i]})
	}); err != nil {
		return rows, fmt.Errorf("create incidents: %w", err)
	}
	before, err := usedMemory(ctx, client)
	if err != nil {
		return rows, err
	}
	elapsed, err = parallel(incidents, c.writers, func(i int) error {
		inc := v1[i]
		ch := workflow.Change{Prev: inc, Incident: next(inc)}
		for k := range c.perIncident {
			n := i*c.perIncident + k
			if n >= c.pending {
				break
			}
			ch.Timers = append(ch.Timers, workflow.Timer{ID: fmt.Sprintf("%s:t%d", inc.ID, k), Incident: inc.ID,
				Due: far.Add(time.Duration(n) * time.Millisecond)})
		}
		return store.Apply(ctx, ch)
	})
	if err != nil {
		return rows, fmt.Errorf("schedule %d timers per Apply: %w", c.perIncident, err)
	}
	row(fmt.Sprintf("schedule, %d timers per Apply (re-plan)", c.perIncident), fmt.Sprintf("%.0f timers/s (%d in %v, %d writers)",
		float64(c.pending)/elapsed.Seconds(), c.pending, elapsed.Round(time.Millisecond), c.writers))
	after, err := usedMemory(ctx, client)
	if err != nil {
		return rows, err
	}
	var timerBytes int64
	var timerKeys int
	for _, pattern := range []string{"*:timers", "*:timerinc", "*:itimers:*"} {
		b, k, err := keyMemory(ctx, client, prefix+":"+pattern)
		if err != nil {
			return rows, err
		}
		timerBytes, timerKeys = timerBytes+b, timerKeys+k
	}
	row("memory per pending timer, used_memory delta", fmt.Sprintf("%.0f B", float64(after-before)/float64(c.pending)))
	row("memory per pending timer, MEMORY USAGE of timer keys", fmt.Sprintf("%.0f B (%d keys: timers, timerinc, itimers)",
		float64(timerBytes)/float64(c.pending), timerKeys))

	// 3. Firing delay with the pending timers in place: c.fire timers due
	// over c.fireOver, then a burst of c.burst timers due at one instant.
	for _, run := range []struct {
		tag   string
		count int
		over  time.Duration
	}{{"F", c.fire, c.fireOver}, {"B", c.burst, 0}} {
		if run.count == 0 {
			continue
		}
		n, p50, p99, worst, early, err := fireFirebreak(ctx, c, client, prefix, run.tag, run.count, run.over)
		what := fmt.Sprintf("firing delay, %d timers over %v, %d engine(s), %d pending", run.count, run.over, c.engines, c.pending)
		if run.over == 0 {
			what = fmt.Sprintf("firing delay, burst of %d timers due at once, %d engine(s), %d pending", run.count, c.engines, c.pending)
		}
		row(what, fmt.Sprintf("p50 %s, p99 %s, max %s (%d fired, %d early)", ms(p50), ms(p99), ms(worst), n, early))
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// fireFirebreak runs c.engines schedulers and plans count timers due over
// the span over (all at once when over is 0), starting 2s ahead, while the
// engines already sleep, so that the wake-up path is exercised. It reports
// the delays from due time to handler.
func fireFirebreak(ctx context.Context, c config, client goredis.UniversalClient, prefix, tag string, count int, over time.Duration) (n int, p50, p99, worst time.Duration, early int, err error) {
	var (
		got     delays
		allDone = make(chan struct{})
		doneOne sync.Once
	)
	engineCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for range c.engines {
		s := redis.New(client, redis.Options{Prefix: prefix})
		wake, stopWake := s.WakeUps(engineCtx)
		defer stopWake()
		sched := &bot.Scheduler{
			Timers: s, Wake: wake, Log: slog.New(slog.DiscardHandler),
			Handle: func(ctx context.Context, t workflow.DueTimer) (workflow.TickResult, error) {
				if got.add(time.Since(t.Due)) == count {
					doneOne.Do(func() { close(allDone) })
				}
				return workflow.TickResult{Outcome: workflow.TimerFired}, nil
			},
		}
		wg.Go(func() { _ = sched.Run(engineCtx) })
	}
	time.Sleep(200 * time.Millisecond) // let the engines go to sleep
	store := redis.New(client, redis.Options{Prefix: prefix})
	start := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	incidents := (count + 9) / 10
	if _, err := parallel(incidents, c.writers, func(i int) error {
		id := fmt.Sprintf("%s-%d", tag, i+1)
		ch := workflow.Change{Incident: newIncident(id, start)}
		for k := range 10 {
			j := k*incidents + i
			if j >= count {
				break
			}
			ch.Timers = append(ch.Timers, workflow.Timer{ID: fmt.Sprintf("%s:t%d", id, k), Incident: id,
				Due: start.Add(time.Duration(j) * over / time.Duration(count))})
		}
		return store.Apply(ctx, ch)
	}); err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("schedule fired timers: %w", err)
	}
	select {
	case <-allDone:
	case <-time.After(over + 2*time.Second + time.Minute):
	}
	stop()
	wg.Wait()
	n, p50, p99, worst, early = got.summary()
	if n < count {
		return n, p50, p99, worst, early, fmt.Errorf("firebreak fired %d of %d timers", n, count)
	}
	return n, p50, p99, worst, early, nil
}

// benchAsynq does the same with asynq scheduled tasks in their own database.
func benchAsynq(ctx context.Context, c config, opts *goredis.Options, out io.Writer) (rows []result, err error) {
	db := goredis.NewClient(opts)
	defer db.Close()
	if err := checkAsynqOnly(ctx, db); err != nil {
		return nil, err
	}
	if err := db.FlushDB(ctx).Err(); err != nil {
		return nil, err
	}
	defer func() {
		if ferr := db.FlushDB(context.Background()).Err(); ferr != nil && err == nil {
			err = ferr
		}
	}()
	row := func(what, value string) {
		rows = append(rows, result{"asynq v0.26.0", what, value})
		fmt.Fprintf(out, "asynq: %s: %s\n", what, value)
	}
	conn := asynq.RedisClientOpt{Addr: opts.Addr, Username: opts.Username, Password: opts.Password, DB: opts.DB}
	client := asynq.NewClient(conn)
	defer client.Close()

	far := time.Now().Add(time.Hour)
	before, err := usedMemory(ctx, db)
	if err != nil {
		return nil, err
	}
	elapsed, err := parallel(c.pending, c.writers, func(i int) error {
		id := fmt.Sprintf("YQ-%d:t%d", i/c.perIncident+1, i%c.perIncident)
		_, err := client.EnqueueContext(ctx, asynq.NewTask("timer", []byte(id)),
			asynq.ProcessAt(far.Add(time.Duration(i)*time.Millisecond)))
		return err
	})
	if err != nil {
		return rows, fmt.Errorf("enqueue: %w", err)
	}
	row("schedule, 1 task per Enqueue", fmt.Sprintf("%.0f timers/s (%d in %v, %d writers)",
		float64(c.pending)/elapsed.Seconds(), c.pending, elapsed.Round(time.Millisecond), c.writers))
	after, err := usedMemory(ctx, db)
	if err != nil {
		return rows, err
	}
	keyBytes, keys, err := keyMemory(ctx, db, "*")
	if err != nil {
		return rows, err
	}
	row("memory per pending timer, used_memory delta", fmt.Sprintf("%.0f B", float64(after-before)/float64(c.pending)))
	row("memory per pending timer, MEMORY USAGE of its keys", fmt.Sprintf("%.0f B (%d keys: a hash per task, the scheduled set)",
		float64(keyBytes)/float64(c.pending), keys))

	const (
		defaults = "defaults (DelayedTaskCheckInterval 5s, TaskCheckInterval 1s)"
		tuned    = "tuned (DelayedTaskCheckInterval 100ms, TaskCheckInterval 10ms)"
	)
	for _, run := range []struct {
		tag, tuning         string
		delayedCheck, check time.Duration
		count               int
		over                time.Duration
	}{
		{"F", defaults, 0, 0, c.fire, c.fireOver},
		{"G", tuned, 100 * time.Millisecond, 10 * time.Millisecond, c.fire, c.fireOver},
		{"B", tuned, 100 * time.Millisecond, 10 * time.Millisecond, c.burst, 0},
	} {
		if run.count == 0 {
			continue
		}
		n, p50, p99, worst, early, err := fireAsynq(ctx, c, conn, client, run.tag, run.delayedCheck, run.check, run.count, run.over)
		what := fmt.Sprintf("firing delay, %d tasks over %v, %s, %d pending", run.count, run.over, run.tuning, c.pending)
		if run.over == 0 {
			what = fmt.Sprintf("firing delay, burst of %d tasks due at once, %s, %d pending", run.count, run.tuning, c.pending)
		}
		row(what, fmt.Sprintf("p50 %s, p99 %s, max %s (%d fired, %d early)", ms(p50), ms(p99), ms(worst), n, early))
		if err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// checkAsynqOnly refuses a database that holds anything but asynq's keys.
func checkAsynqOnly(ctx context.Context, db *goredis.Client) error {
	iter := db.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasPrefix(iter.Val(), "asynq:") {
			return fmt.Errorf("database %d holds %q, which is not asynq's: pick an empty one with -asynq-db", db.Options().DB, iter.Val())
		}
	}
	return iter.Err()
}

// fireAsynq runs an asynq server and enqueues count tasks due over the span
// over (all at once when over is 0), starting 2s ahead, and reports the
// delays from due time to handler.
func fireAsynq(ctx context.Context, c config, conn asynq.RedisClientOpt, client *asynq.Client, tag string, delayedCheck, check time.Duration, count int, over time.Duration) (n int, p50, p99, worst time.Duration, early int, err error) {
	var (
		got     delays
		allDone = make(chan struct{})
		doneOne sync.Once
	)
	srv := asynq.NewServer(conn, asynq.Config{
		Concurrency:              10,
		LogLevel:                 asynq.FatalLevel,
		DelayedTaskCheckInterval: delayedCheck,
		TaskCheckInterval:        check,
		ShutdownTimeout:          time.Second,
	})
	err = srv.Start(asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		_, dueMs, _ := strings.Cut(string(t.Payload()), "@")
		ms, _ := strconv.ParseInt(dueMs, 10, 64)
		if got.add(time.Since(time.UnixMilli(ms))) == count {
			doneOne.Do(func() { close(allDone) })
		}
		return nil
	}))
	if err != nil {
		return 0, 0, 0, 0, 0, err
	}
	defer srv.Shutdown()
	time.Sleep(200 * time.Millisecond)
	start := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	if _, err := parallel(count, c.writers, func(i int) error {
		due := start.Add(time.Duration(i) * over / time.Duration(count))
		payload := fmt.Sprintf("%s-%d@%d", tag, i, due.UnixMilli())
		_, err := client.EnqueueContext(ctx, asynq.NewTask("timer", []byte(payload)), asynq.ProcessAt(due))
		return err
	}); err != nil {
		return 0, 0, 0, 0, 0, fmt.Errorf("enqueue fired tasks: %w", err)
	}
	select {
	case <-allDone:
	case <-time.After(over + 2*time.Second + time.Minute):
	}
	n, p50, p99, worst, early = got.summary()
	if n < count {
		return n, p50, p99, worst, early, fmt.Errorf("asynq fired %d of %d tasks", n, count)
	}
	return n, p50, p99, worst, early, nil
}
