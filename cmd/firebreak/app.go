package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/rosterfile"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/cmd/internal/core"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// outboxRetention is how long delivered notices stay in the outbox streams.
const outboxRetention = 7 * 24 * time.Hour

// app is Firebreak wired together: roster, Redis, service, router.
type app struct {
	cfg     Config
	log     *slog.Logger
	roster  *workflow.Roster
	locale  string
	clock   workflow.Clock
	store   *fbredis.Store
	svc     *workflow.Service
	router  *bot.Router
	metrics *bot.Metrics
	h       *handlers.Handlers
	sched   *bot.Scheduler
	cron    *bot.Cron
	watch   *storeWatch
	closers []func()
}

// wiring holds what tests replace: the clock and the Redis key prefix.
type wiring struct {
	clock  workflow.Clock
	prefix string
	// refuseEmpty refuses a configured Redis that holds neither the
	// instance marker nor an incident counter: a new installation and a
	// Redis that lost its data look the same, so `firebreak store init`
	// must say which (serve and console set it). Tests leave it false: a
	// fresh prefix is empty by construction and is initialised. The
	// embedded Redis is always initialised.
	refuseEmpty bool
	// wrapClock, when set and clock is not, wraps the base clock (the
	// console's OffsetClock, which :advance moves).
	wrapClock func(base workflow.Clock) workflow.Clock
}

// newApp builds the app from cfg. Close releases what it opened.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, w wiring) (*app, error) {
	a := &app{cfg: cfg, log: log, metrics: bot.NewMetrics()}
	a.metrics.CountFrom("firebreak_redis_errors_total",
		"Redis operations that failed, by operation (read outbox, load incident, …).", "op", fbredis.Failures)
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()

	roster, err := loadRoster(cfg)
	if err != nil {
		return nil, err
	}
	a.roster = roster
	a.locale = roster.Locale
	if cfg.Locale != "" {
		if cfg.Locale != workflow.LocaleEN && cfg.Locale != workflow.LocaleZH {
			return nil, fmt.Errorf("FIREBREAK_LOCALE must be en or zh-CN, not %q", cfg.Locale)
		}
		a.locale = cfg.Locale
	}

	url := cfg.RedisURL
	initEmpty := fbredis.InitTest
	if w.refuseEmpty {
		initEmpty = ""
	}
	if url == "" {
		initEmpty = fbredis.InitEmbedded
		embedded, closeFn, err := fbredis.StartEmbedded()
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, closeFn)
		url = embedded
		log.Warn("FIREBREAK_REDIS_URL is not set: using an embedded in-memory Redis. NOTHING IS PERSISTED — " +
			"every incident, timer and message is lost when Firebreak stops. Set FIREBREAK_REDIS_URL for real use.")
	}
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := dialRedis(dialCtx, cfg, url)
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = client.Close() })
	// The store's instance first: nothing is written to a Redis that is
	// refused.
	plain := fbredis.New(client, fbredis.Options{Prefix: w.prefix})
	inst, err := plain.OpenInstance(dialCtx, initEmpty)
	if err != nil {
		return nil, refusedStore(err, url)
	}
	if inst.By == fbredis.InitAdopted && inst.Fresh {
		log.Warn("this Redis held incidents but no instance marker (from before markers): wrote one; "+
			"incident IDs go on from its counter", "key", plain.InstanceKey(), "instance", inst.ID)
	}
	log.Debug("store instance", "key", plain.InstanceKey(), "instance", inst.ID, "created", inst.Created, "by", inst.By)
	// The demo clock's epoch lives in Redis, so the clock comes after the
	// connection, and before the Store that tells the time with it.
	a.clock = w.clock
	if a.clock == nil {
		if a.clock, err = baseClock(dialCtx, cfg, log, plain); err != nil {
			return nil, err
		}
		if w.wrapClock != nil {
			a.clock = w.wrapClock(a.clock)
		}
	}
	a.store = fbredis.New(client, fbredis.Options{Prefix: w.prefix, Clock: a.clock, Instance: &inst})
	a.watch = &storeWatch{store: a.store, log: log}

	parts := core.New(core.Options{Store: a.store, Roster: roster, Locale: a.locale, Clock: a.clock, Log: log, Metrics: a.metrics,
		PublicURL: cfg.PublicURL, Refuse: a.watch.refusal})
	a.svc, a.h, a.router = parts.Service, parts.Handlers, parts.Router

	scale := cfg.TimeScale
	if w.clock != nil || w.wrapClock != nil {
		scale = 1
	}
	a.sched = &bot.Scheduler{Timers: a.store, Handle: a.h.Tick, Clock: a.clock, Scale: scale, Log: log, Metrics: a.metrics}
	a.cron = &bot.Cron{Locker: a.store, Location: roster.Location(), Log: log, Metrics: a.metrics}
	for _, job := range a.h.DigestJobs() {
		if err := a.cron.Add(job); err != nil {
			return nil, fmt.Errorf("roster digest: %w", err)
		}
	}
	// Delivered notices stay in the outbox streams until trimmed; a week is
	// far longer than any retry or takeover, so nothing undelivered is lost.
	if err := a.cron.Add(bot.CronJob{Name: "outbox-trim", Spec: "30 3 * * *", Run: func(ctx context.Context, at time.Time) error {
		n, err := a.store.TrimOutbox(ctx, at.Add(-outboxRetention))
		if err == nil {
			log.Info("outbox trimmed", "entries", n)
		}
		return err
	}}); err != nil {
		return nil, err
	}
	ok = true
	return a, nil
}

// refusedStore explains a refused store to the operator: the cause, why
// Firebreak does not go on, and how to accept the empty store.
func refusedStore(err error, url string) error {
	var ie *fbredis.InstanceError
	if !errors.As(err, &ie) {
		return err
	}
	return fmt.Errorf("refusing to use the Redis at %s: %w.\n"+
		"Going on would hand out incident IDs again that were already posted to Slack and Telegram, "+
		"and new incidents would update the old incidents' cards and threads.\n"+
		"If the data is gone for good (or this is a new installation), accept the empty store and start again:\n"+
		"  firebreak store init                 incident IDs go on from a number taken from the clock, above any earlier one\n"+
		"  firebreak store init --next-id N     the next incident is YQ-N: above the last ID ever posted (a new installation may use 1)\n"+
		"If the data can be restored (a backup, the right Redis), restore it instead", fbredis.Redact(url), err)
}

// instanceCheckEvery is how often serve checks that Redis still holds the
// store it started on.
const instanceCheckEvery = 2 * time.Second

// storeWatch notices that Redis lost Firebreak's data under a running
// process — the instance marker gone or another, the incident counter gone
// back — and keeps the cause for the readiness probe. (NextID checks the
// same in its own script, so no ID is handed out in between.)
type storeWatch struct {
	store *fbredis.Store
	log   *slog.Logger
	lost  atomic.Pointer[fbredis.InstanceError]
}

// run checks at once and then every interval until ctx ends.
func (w *storeWatch) run(ctx context.Context, every time.Duration) {
	stop := w.store.AnswerLostSeqAsks(ctx, func(err error) {
		w.log.Warn("cannot answer store init with the last incident number", "key", w.store.LostSeqKey(), "err", err)
	})
	defer stop()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		w.check(ctx, every)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check reads the marker once. A Redis that does not answer changes
// nothing here: readiness says so by its ping.
func (w *storeWatch) check(ctx context.Context, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := w.store.CheckInstance(ctx)
	var ie *fbredis.InstanceError
	switch {
	case errors.As(err, &ie):
		if w.lost.Swap(ie) == nil {
			w.log.Error("NOT READY: Redis lost Firebreak's data; no incident is opened until an operator runs "+
				"`firebreak store init` and restarts Firebreak", "cause", ie.Error())
		}
		// The last ID this process knew, for store init to continue
		// above (again at every check: the Redis may be wiped again).
		if err := w.store.KeepLostSeq(ctx); err != nil {
			w.log.Warn("cannot leave the last incident number for store init", "key", w.store.LostSeqKey(), "err", err)
		}
	case err == nil:
		if w.lost.Swap(nil) != nil {
			w.log.Warn("the store is whole again (its data was restored): ready")
		}
	}
}

// Lost returns why the store is not the one this process started on, or
// nil.
func (w *storeWatch) Lost() error {
	if ie := w.lost.Load(); ie != nil {
		return ie
	}
	return nil
}

// refusal is the answer to every command while the store is lost, nil
// otherwise: a list or a status would show part of what was lost as if it
// were all, and a write could clash with what was posted.
func (w *storeWatch) refusal() error {
	if w.lost.Load() == nil {
		return nil
	}
	return errStoreLost
}

var errStoreLost = workflow.Errorf(workflow.CodeUnavailable,
	"Firebreak's storage lost its data (Redis was wiped, replaced or restarted empty): no command runs until "+
		"an operator runs `firebreak store init` and restarts Firebreak, as what it would show or change now is "+
		"incomplete. Nothing was changed.",
	"Firebreak 的存储丢失了数据(Redis 被清空、替换或无持久化重启):运维人员执行 `firebreak store init` 并重启 "+
		"Firebreak 之前,所有命令暂停执行,因为此时显示或更改的内容都不完整。未做任何更改。")

// demoEpochs keeps the demo clock's epoch (the Redis Store).
type demoEpochs interface {
	KeepDemoEpoch(ctx context.Context, e fbredis.DemoEpoch) (stored fbredis.DemoEpoch, fresh bool, err error)
	DemoEpoch(ctx context.Context) (e fbredis.DemoEpoch, ok bool, err error)
	DemoEpochKey() string
}

// baseClock is the wall clock, or the demo clock when FIREBREAK_TIME_SCALE
// is not 1 (said loudly). Demo time starts at the epoch kept in Redis, so
// that it goes on across restarts and replicas instead of starting again
// from the wall clock, which would rewind every deadline planned on it (an
// incident overdue by 10 h showing "19 minutes left"). A stored epoch of
// another scale is refused: the deadlines were planned at that speed.
func baseClock(ctx context.Context, cfg Config, log *slog.Logger, epochs demoEpochs) (workflow.Clock, error) {
	if cfg.TimeScale <= 0 {
		return nil, fmt.Errorf("FIREBREAK_TIME_SCALE must be positive, not %v", cfg.TimeScale)
	}
	key := epochs.DemoEpochKey()
	if cfg.TimeScale == 1 {
		// Real time on a Redis once used in demo time: its deadlines lie
		// ahead of real time by as much as demo time ran ahead.
		if e, ok, err := epochs.DemoEpoch(ctx); err != nil {
			return nil, fmt.Errorf("check for demo time in Redis: %w", err)
		} else if ok {
			log.Warn("this Redis was used in DEMO TIME: incidents planned then fall due by the demo clock, "+
				"far later than real time; delete the key when you are done with them",
				"key", key, "demo_since", e.Start, "demo_time_scale", e.Scale)
		}
		return workflow.SystemClock{}, nil
	}
	stored, fresh, err := epochs.KeepDemoEpoch(ctx, fbredis.DemoEpoch{Start: time.Now(), Scale: cfg.TimeScale})
	if err != nil {
		return nil, fmt.Errorf("keep the demo clock in Redis: %w", err)
	}
	if stored.Scale != cfg.TimeScale {
		return nil, fmt.Errorf("FIREBREAK_TIME_SCALE is %g, but the demo time kept in this Redis runs at %g "+
			"(since %s, key %s) and its incidents were planned at that speed: start with FIREBREAK_TIME_SCALE=%g, "+
			"or delete the key to start demo time afresh (redis-cli DEL %s)",
			cfg.TimeScale, stored.Scale, stored.Start.Format(time.RFC3339), key, stored.Scale, key)
	}
	clock := workflow.NewScaledClockFrom(stored.Start, stored.Scale)
	if fresh {
		log.Warn("DEMO TIME: the clock runs faster than real time; never use this in production",
			"time_scale", cfg.TimeScale, "epoch_key", key)
	} else {
		log.Warn("DEMO TIME continues from the epoch kept in Redis, as if it had run all along; "+
			"delete the key to start demo time afresh",
			"time_scale", cfg.TimeScale, "key", key, "since", stored.Start, "demo_now", clock.Now().Format(time.RFC3339))
	}
	return clock, nil
}

// Close releases the app's connections, newest first.
func (a *app) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// loadRoster reads FIREBREAK_ROSTER (or the demo roster), checked for the
// platforms the configuration runs, and applies the timezone override.
func loadRoster(cfg Config) (*workflow.Roster, error) {
	var r *workflow.Roster
	if cfg.Roster == "" {
		r = rosterfile.Demo(platforms()...)
	} else {
		var err error
		if r, err = rosterfile.LoadRunning(cfg.Roster, running(cfg), platforms()...); err != nil {
			return nil, err
		}
	}
	if cfg.Timezone != "" && cfg.Timezone != r.Timezone {
		copied := *r
		copied.Timezone = cfg.Timezone
		var err error
		if r, err = workflow.NewRoster(copied); err != nil {
			return nil, fmt.Errorf("FIREBREAK_TIMEZONE: %w", err)
		}
	}
	return r, nil
}
