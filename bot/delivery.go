package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// How the outbox is delivered (DESIGN.md §3):
//
//   - Every platform is a consumer group of the per-shard outbox streams; every
//     replica runs one Dispatcher per platform under its own consumer name.
//   - Within a group each target (a chat) is owned by one consumer at a time,
//     through a lease in the store. The owner alone sends to the target, so
//     per-target order and rate limits hold across replicas. A consumer that
//     reads a notice for a target owned by another hands the entry over to
//     the owner's pending list. New notices of a shard are read by one
//     consumer at a time (the store's shard reader lease), so the notices of
//     a shard for a target reach its owner in order.
//   - A notice is sent at least once and shown once: before sending, the
//     store is asked whether its ID was already sent on this platform; right
//     after the platform accepted it, it is marked sent; then it is acked.
//     The one window left is a crash (SIGKILL, power loss) after the platform
//     accepted a message and before the mark was written, one Redis round
//     trip: the consumer that takes the entry over sends it again. A replica
//     that stalls for longer than MinIdle (and so loses its entries) while
//     sending can also cause one; a graceful shutdown cannot.
//   - A consumer that stops gracefully (Run's ctx is done) releases what it
//     holds (Release): its shard reader leases and targets, and its pending
//     entries become claimable at once, so the next consumer goes on without
//     waiting for a lease. A consumer that dies (SIGKILL) leaves its entries
//     pending; after MinIdle without being read again they are claimed by
//     another consumer (ClaimStale). Its target leases run out at the latest
//     when its last entries become claimable, and a consumer that takes a
//     target over claims the stale entries first, so the old ones go out
//     before newer ones. With the defaults (MinIdle 10 s, target and shard
//     reader leases 15 s) a dead replica's work moves on within about 15 s.
//   - Order within a target is the outbox order: exact within a shard (one
//     incident), by append time across shards.

// DeliveryStore is the outbox as a Dispatcher needs it: reading and acking
// (OutboxStore), taking over what dead consumers claimed, remembering what was
// sent, a dead-letter list, and per-target ownership. Every method is safe for
// concurrent use by any number of replicas.
type DeliveryStore interface {
	OutboxStore
	// ClaimStale claims for consumer up to max entries of group that another
	// consumer (or this one, in an earlier life) read but has not acked nor
	// read again for at least minIdle, and returns them.
	ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]Delivery, error)
	// WasSent reports whether the notice of d was marked sent for group.
	WasSent(ctx context.Context, group string, d Delivery) (bool, error)
	// MarkSent remembers for ttl that the notice of d was sent for group;
	// first is false when it was already marked.
	MarkSent(ctx context.Context, group string, d Delivery, ttl time.Duration) (first bool, err error)
	// DeadLetter records d with the reason it could not be delivered on the
	// dead-letter list of group and acks it, atomically.
	DeadLetter(ctx context.Context, group string, d Delivery, reason string) error
	// DeadLetters returns up to max entries of group's dead-letter list,
	// newest first.
	DeadLetters(ctx context.Context, group string, max int) ([]DeadLetter, error)
	// OwnTarget makes consumer the owner of target within group for lease,
	// unless another consumer owns it; it renews the lease when consumer
	// already owns it. It returns the owner after the call and how long its
	// lease has left.
	OwnTarget(ctx context.Context, group, target, consumer string, lease time.Duration) (owner string, left time.Duration, err error)
	// Handover moves pending entries of group to consumer, which reads them
	// next as its own, and sets their idle time to idle (as if consumer had
	// read them that long ago), for ClaimStale.
	Handover(ctx context.Context, group, consumer string, idle time.Duration, ds ...Delivery) error
	// Release gives up, as consumer stops, what it holds in group: the
	// right to read new entries (shard reader leases) and its ownership of
	// targets, each only while consumer still holds it; and it makes
	// consumer's pending entries claimable at once by ClaimStale, whatever
	// its minIdle, so the next consumer goes on without waiting for a lease.
	Release(ctx context.Context, group, consumer string, targets ...string) error
}

// DeadLetter is a notice that could not be delivered on a platform.
type DeadLetter struct {
	Delivery
	// Reason is the last error.
	Reason string
	// At is when it was given up.
	At time.Time
}

// RateLimit is how fast one target may receive messages: at most Burst at
// once, then one every Interval (a token bucket). A zero Interval means no
// limit.
type RateLimit struct {
	Interval time.Duration
	Burst    int
}

// RateLimiter is implemented by a Sender that knows its platform's limits.
type RateLimiter interface {
	// RateLimit returns the limit of one target.
	RateLimit(target string) RateLimit
}

// SlackRateLimit is Slack's limit of chat.postMessage: about one message per
// second per channel.
func SlackRateLimit(string) RateLimit { return RateLimit{Interval: time.Second, Burst: 1} }

// TelegramRateLimit is Telegram's limit: at most 20 messages per minute in a
// group (negative chat IDs), about one per second in any other chat.
func TelegramRateLimit(target string) RateLimit {
	if strings.HasPrefix(target, "-") {
		return RateLimit{Interval: 3 * time.Second, Burst: 1}
	}
	return RateLimit{Interval: time.Second, Burst: 1}
}

// PlatformRateLimit returns the rate limit of a platform's targets
// (PlatformSlack, PlatformTelegram), and nil for platforms without limits.
func PlatformRateLimit(platform string) func(target string) RateLimit {
	switch platform {
	case PlatformSlack:
		return SlackRateLimit
	case PlatformTelegram:
		return TelegramRateLimit
	}
	return nil
}

// DefaultBackoff is the wait before retrying a failed message for the given
// attempt (1, 2, ...): 1s, 2s, 4s, ... capped at 5 minutes, each with equal
// jitter (between half and all of it), so replicas do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	const base, ceiling = time.Second, 5 * time.Minute
	d := ceiling
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(base<<(attempt-1), ceiling)
	}
	return d/2 + rand.N(d/2+1)
}

// Dispatcher delivers the outbox to one platform's Sender. Run one per
// platform on every replica, each replica with its own Consumer name; the
// consumer group is Sender.Platform(). Set the fields, then call Run (or
// DeliverOnce); the first pass fills in the defaults of the zero fields, do
// not change them afterwards.
//
// Messages to one target go out in order (the order of the outbox: exact
// within a shard, by append time across shards) and within the target's rate
// limit. A target told to slow down (*RetryAfterError) is held until the
// time given and then gets the same message first; a failed message is
// retried with exponential backoff, holding back the later messages of its
// target, and after MaxAttempts it goes to the dead-letter list. Targets do
// not wait for each other.
type Dispatcher struct {
	// Store is the outbox (the Redis Store in production).
	Store DeliveryStore
	// Sender delivers to the platform; its Platform() is the consumer group.
	Sender Sender
	// Consumer names this replica in the consumer group; it must differ
	// between replicas. A replica restarted under the same name resumes its
	// own pending entries at once. Default: "<hostname>-<pid>".
	Consumer string
	// RateLimit gives the limit of a target. Default: the Sender's when it
	// is a RateLimiter, else PlatformRateLimit(Sender.Platform()).
	RateLimit func(target string) RateLimit
	// MaxAttempts is how many failed attempts send a message to the
	// dead-letter list (8 when zero). Rate-limited attempts do not count.
	MaxAttempts int
	// Backoff is the wait after the given failed attempt (DefaultBackoff
	// when nil).
	Backoff func(attempt int) time.Duration
	// MinIdle is how long entries of a consumer that died stay claimed
	// before another consumer takes them over (10 s when zero); target
	// leases last 1.5×MinIdle, so a dead replica's work moves to another
	// within 1.5×MinIdle (a replica that stops gracefully releases all at
	// once). A pass starts no new message after MinIdle/2, so that it ends
	// well within MinIdle unless a single send hangs for longer (up to the
	// platform client's timeout); then another replica may take the
	// entries meanwhile, and hands those of targets this one still owns
	// back to it.
	MinIdle time.Duration
	// Poll is the longest wait between passes when idle (1s when zero; at
	// most MinIdle/5).
	Poll time.Duration
	// Batch is how many new entries one pass reads at most (100 when zero).
	Batch int
	// MaxHeld bounds the entries held in memory, waiting on a slow or
	// failing target; when reached, no new entries are read (1000 when zero).
	MaxHeld int
	// Workers is how many targets are sent to at once (4 when zero).
	Workers int
	// DedupeTTL is how long a sent notice ID is remembered (7 days when
	// zero): a notice appended again with the same ID within it is not sent.
	DedupeTTL time.Duration
	// Clock tells the time: rate limits, Retry-After and backoff are real
	// time, so leave it nil (the system clock) outside tests, also in demo
	// mode.
	Clock workflow.Clock
	// Sleep waits for d or until ctx is done (a timer when nil). Run wakes
	// it early through ctx when Wake is called.
	Sleep func(ctx context.Context, d time.Duration) error
	// Render turns a notice into the message for this platform, from the
	// state as it is now (handlers.Handlers in production). Nil: the
	// notice's Body is an encoded Message, sent as it is.
	Render Renderer
	// Log receives retries (warn), dead letters (error) and store failures.
	Log *slog.Logger
	// Metrics, when set, counts firebreak_outbox_{sent,retries,
	// dead_letters,rate_limited,duplicates}_total by platform.
	Metrics *Metrics

	mu      sync.Mutex // one pass at a time
	started bool
	held    map[string]*outItem   // by handle: read and not done yet
	targets map[string]*outTarget // by target
	claimAt time.Time             // next ClaimStale
	sweep   bool                  // the next ClaimStale takes all it may hold
	wake    time.Time             // when the next pass has work
	more    bool                  // the last read was full: read again at once

	wakeMu sync.Mutex
	waker  context.CancelFunc
	woken  bool
}

// outItem is one held entry.
type outItem struct {
	d        Delivery
	target   string
	attempts int
	// sent: the platform accepted it; the mark and the ack remain.
	sent bool
	// settle: acknowledge it without sending (no route, already sent).
	settle bool
	// dead: the reason to dead-letter it, once the store answers.
	dead string
	// tried: Send was called at least once.
	tried bool
}

// outTarget is the delivery state of one target.
type outTarget struct {
	queue []*outItem // outbox order; only the head has been tried
	hold  time.Time  // nothing before (Retry-After, backoff)
	tat   time.Time  // token bucket: theoretical arrival time of the next message
	lease time.Time  // this consumer owns the target until
	limit RateLimit

	// fresh: taken in this pass from no owner or another one.
	fresh bool

	// Results of the current pass, collected after the parallel part.
	gone []*outItem // finished
	sent int
	err  error
}

// Metric names.
const (
	metricOutboxSent        = "firebreak_outbox_sent_total"
	metricOutboxRetries     = "firebreak_outbox_retries_total"
	metricOutboxDeadLetters = "firebreak_outbox_dead_letters_total"
	metricOutboxRateLimited = "firebreak_outbox_rate_limited_total"
	metricOutboxDuplicates  = "firebreak_outbox_duplicates_total"
)

func (d *Dispatcher) init() {
	if d.started {
		return
	}
	d.started = true
	if d.Consumer == "" {
		host, _ := os.Hostname()
		d.Consumer = cmp.Or(host, "firebreak") + "-" + strconv.Itoa(os.Getpid())
	}
	if d.RateLimit == nil {
		if rl, ok := d.Sender.(RateLimiter); ok {
			d.RateLimit = rl.RateLimit
		} else if f := PlatformRateLimit(d.Sender.Platform()); f != nil {
			d.RateLimit = f
		} else {
			d.RateLimit = func(string) RateLimit { return RateLimit{} }
		}
	}
	d.MaxAttempts = cmp.Or(d.MaxAttempts, 8)
	if d.Backoff == nil {
		d.Backoff = DefaultBackoff
	}
	d.MinIdle = cmp.Or(d.MinIdle, 10*time.Second)
	// Each pass reads this consumer's pending entries again, which keeps
	// them from being taken over: it must come well within MinIdle.
	d.Poll = min(cmp.Or(d.Poll, time.Second), d.MinIdle/5)
	d.Batch = cmp.Or(d.Batch, 100)
	d.MaxHeld = cmp.Or(d.MaxHeld, 1000)
	d.Workers = cmp.Or(d.Workers, 4)
	d.DedupeTTL = cmp.Or(d.DedupeTTL, 7*24*time.Hour)
	if d.Clock == nil {
		d.Clock = workflow.SystemClock{}
	}
	if d.Sleep == nil {
		d.Sleep = deliverySleep
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.Log = d.Log.With("platform", d.Sender.Platform(), "consumer", d.Consumer)
	d.held = map[string]*outItem{}
	d.targets = map[string]*outTarget{}
}

// deliverySleep waits for d or until ctx is done.
func deliverySleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Run delivers until ctx is done, then releases what this consumer holds
// (Release, for a few seconds at most) and returns nil. Between passes it
// waits until the next message is due (a held target's time) or Poll,
// whichever comes first, or until Wake. When the store fails it backs off
// (up to 30s) and retries; nothing is lost meanwhile.
func (d *Dispatcher) Run(ctx context.Context) error {
	defer func() {
		// ctx is done: release with a context of its own, or the leases
		// would hold back the next replica for their full length.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := d.Release(rctx); err != nil {
			d.Log.WarnContext(rctx, "outbox leases not released; another replica takes over when they run out",
				"err", err, "within", d.leaseLen())
		}
	}()
	failures := 0
	for ctx.Err() == nil {
		_, err := d.DeliverOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		if err != nil {
			failures++
			wait = min(d.Poll<<min(failures, 5), 30*time.Second)
			d.Log.WarnContext(ctx, "outbox delivery pass failed", "err", err, "retry_in", wait)
		} else {
			failures = 0
			wait = d.idleWait()
		}
		if wait <= 0 {
			continue
		}
		sctx, cancel := context.WithCancel(ctx)
		d.wakeMu.Lock()
		if d.woken {
			cancel()
		}
		d.waker, d.woken = cancel, false
		d.wakeMu.Unlock()
		_ = d.Sleep(sctx, wait)
		d.wakeMu.Lock()
		d.waker = nil
		d.wakeMu.Unlock()
		cancel()
	}
	return nil
}

// sendTimeout bounds one send, which a shutdown lets finish.
const sendTimeout = 10 * time.Second

// releaseTimeout bounds Release when Run stops, so a shutdown never hangs on
// an unreachable Redis.
const releaseTimeout = 5 * time.Second

// Release gives up what this consumer holds, as it stops: it first records
// in the store what finished here but could not be recorded yet (a message
// the platform accepted whose mark failed, so it is not sent again), then
// releases its shard reader leases and targets, and makes every entry it
// read but did not finish claimable at once by the next consumer, which
// sends them before anything newer of their targets. What Release cannot
// reach is taken over as after a crash, when the leases run out. Run calls
// it when its ctx is done; call it after DeliverOnce when driving that
// directly. The Dispatcher forgets what it held: a later pass starts afresh.
func (d *Dispatcher) Release(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started {
		return nil // never read anything, holds nothing
	}
	var errs []error
	for _, h := range slices.Sorted(maps.Keys(d.held)) {
		if it := d.held[h]; it.sent || it.settle || it.dead != "" {
			if _, err := d.finish(ctx, it); err != nil {
				errs = append(errs, err)
			} else {
				delete(d.held, h)
			}
		}
	}
	targets := slices.Sorted(maps.Keys(d.targets))
	if err := d.Store.Release(ctx, d.Sender.Platform(), d.Consumer, targets...); err != nil {
		errs = append(errs, fmt.Errorf("release: %w", err))
	} else {
		d.Log.InfoContext(ctx, "outbox released for the next replica", "unsent", len(d.held), "targets", len(targets))
	}
	clear(d.held)
	clear(d.targets)
	d.claimAt, d.sweep, d.wake, d.more = time.Time{}, false, time.Time{}, false
	return errors.Join(errs...)
}

// Wake ends Run's current wait, so a notice just appended goes out without
// waiting for Poll. It is safe to call from any goroutine, at any time.
func (d *Dispatcher) Wake() {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	if d.waker != nil {
		d.waker()
	}
	d.woken = true
}

// idleWait is how long Run may wait before the next pass has work.
func (d *Dispatcher) idleWait() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.more {
		return 0
	}
	return min(d.Poll, d.wake.Sub(d.Clock.Now()))
}

// DeliverOnce runs one pass: it takes over stale entries (at most every
// MinIdle/4), reads this consumer's pending entries and new ones, makes sure
// it owns their targets (handing the entries of targets owned by another
// consumer over to it), and sends what is due to every target. It returns
// the number of messages sent and the store errors met; what it could not
// finish stays for the next pass.
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	if d.Store == nil || d.Sender == nil {
		return 0, errors.New("dispatcher: Store and Sender are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.init()
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}

	var claimed []Delivery
	if now := d.Clock.Now(); !now.Before(d.claimAt) {
		ds, err := d.claimStale(ctx, d.sweep)
		note(err)
		claimed = ds // on error, what was claimed before it
		if err == nil {
			d.claimAt, d.sweep = now.Add(d.MinIdle/4), false
		}
	}

	// Reading this consumer's pending entries again also tells the store it
	// is alive (their idle time restarts), so nobody takes them over.
	heldBefore := len(d.held)
	want := heldBefore + d.Batch
	if heldBefore >= d.MaxHeld {
		want = heldBefore
	}
	read, err := d.Store.ReadOutbox(ctx, d.Sender.Platform(), d.Consumer, max(want, 1))
	if err != nil {
		note(fmt.Errorf("read outbox: %w", err))
	} else if len(read) < want {
		// The read returned every pending entry of this consumer: one held
		// but missing was taken over by another consumer (this one stalled
		// for MinIdle) or acked by it.
		mine := map[string]bool{}
		for _, x := range slices.Concat(read, claimed) {
			mine[x.Handle] = true
		}
		for h, it := range d.held {
			if !mine[h] {
				d.forget(it)
			}
		}
	}
	d.more = err == nil && len(read) >= want && want > heldBefore
	note(d.admit(ctx, slices.Concat(claimed, read)))

	// A target taken over from a consumer that stopped may have older
	// entries in that consumer's pending list: they became claimable no
	// later than its lease ran out, so claim them before sending anything.
	fresh, err := d.own(ctx)
	note(err)
	if fresh {
		ds, err := d.claimStale(ctx, true)
		note(err)
		if err == nil {
			for _, t := range d.targets {
				t.fresh = false
			}
		}
		note(d.admit(ctx, ds))
		again, err2 := d.own(ctx)
		note(err2)
		if again || err != nil {
			// Targets taken just now (first seen in the entries just
			// claimed, or the claim failed) wait for the next pass, which
			// claims first.
			d.claimAt, d.sweep, d.more = time.Time{}, true, true
		}
	}

	sent, err := d.deliverTargets(ctx)
	note(err)
	return sent, errors.Join(errs...)
}

// claimStale claims entries of stopped consumers: one batch, or with sweep
// as many as it may hold.
func (d *Dispatcher) claimStale(ctx context.Context, sweep bool) ([]Delivery, error) {
	var out []Delivery
	for {
		ds, err := d.Store.ClaimStale(ctx, d.Sender.Platform(), d.Consumer, d.MinIdle, d.Batch)
		if err != nil {
			return out, fmt.Errorf("take over stale entries: %w", err)
		}
		if len(ds) > 0 {
			d.Log.InfoContext(ctx, "took over outbox entries of a stopped consumer", "count", len(ds))
		}
		out = append(out, ds...)
		if !sweep || len(ds) < d.Batch || len(d.held)+len(out) >= d.MaxHeld {
			return out, nil
		}
	}
}

// own takes or renews the lease of every target with queued entries whose
// lease runs low. Entries of a target owned by another consumer are handed
// over to it. It reports whether a target was taken that this consumer did
// not own a moment ago; such a target sends nothing in this pass unless the
// pass claims stale entries after taking it.
func (d *Dispatcher) own(ctx context.Context) (fresh bool, err error) {
	group := d.Sender.Platform()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(d.targets)) {
		t := d.targets[name]
		now := d.Clock.Now()
		if len(t.queue) == 0 || !d.leaseLow(t, now) {
			continue
		}
		owner, left, err := d.Store.OwnTarget(ctx, group, name, d.Consumer, d.leaseLen())
		if err != nil {
			errs = append(errs, fmt.Errorf("own target %s: %w", name, err))
			continue
		}
		if owner == d.Consumer {
			if !now.Before(t.lease) {
				fresh, t.fresh = true, true
			}
			t.lease = now.Add(d.leaseLen())
			continue
		}
		// Another consumer sends to this target: it gets our entries and
		// keeps their order and the target's rate limit. Should it have
		// stopped, they become claimable when its lease runs out.
		ds := make([]Delivery, len(t.queue))
		for i, it := range t.queue {
			ds[i] = it.d
		}
		if err := d.Store.Handover(ctx, group, owner, max(d.MinIdle-left, 0), ds...); err != nil {
			errs = append(errs, fmt.Errorf("hand target %s over to %s: %w", name, owner, err))
			continue
		}
		for _, it := range t.queue {
			delete(d.held, it.d.Handle)
		}
		t.queue, t.lease = nil, time.Time{}
	}
	return fresh, errors.Join(errs...)
}

// admit queues deliveries not held yet on their targets, in outbox order,
// and acks those with no target on this platform.
func (d *Dispatcher) admit(ctx context.Context, ds []Delivery) error {
	var fresh []Delivery
	seen := map[string]bool{}
	for _, x := range ds {
		if d.held[x.Handle] != nil || seen[x.Handle] {
			continue
		}
		seen[x.Handle] = true
		fresh = append(fresh, x)
	}
	slices.SortFunc(fresh, func(a, b Delivery) int { return compareOutboxHandles(a.Handle, b.Handle) })
	var noRoute []Delivery
	for _, x := range fresh {
		target := d.Sender.Target(x.Notice)
		if target == "" {
			noRoute = append(noRoute, x)
			continue
		}
		it := &outItem{d: x, target: target}
		d.held[x.Handle] = it
		t := d.targets[target]
		if t == nil {
			t = &outTarget{limit: d.RateLimit(target)}
			d.targets[target] = t
		}
		// Entries taken over or handed over may be older than the queue's
		// tail: insert in outbox order, but behind a head already tried.
		lo := 0
		if len(t.queue) > 0 && t.queue[0].tried {
			lo = 1
		}
		i := len(t.queue)
		for i > lo && compareOutboxHandles(t.queue[i-1].d.Handle, x.Handle) > 0 {
			i--
		}
		t.queue = slices.Insert(t.queue, i, it)
	}
	if len(noRoute) > 0 {
		if err := d.Store.AckOutbox(ctx, d.Sender.Platform(), noRoute...); err != nil {
			return fmt.Errorf("ack notices without a route: %w", err)
		}
	}
	return nil
}

// forget drops a held entry without settling it (another consumer has it).
func (d *Dispatcher) forget(it *outItem) {
	delete(d.held, it.d.Handle)
	if t := d.targets[it.target]; t != nil {
		t.queue = slices.DeleteFunc(t.queue, func(x *outItem) bool { return x == it })
	}
}

// deliverTargets sends to every owned target that has a message due,
// Workers at a time, and then removes what was finished.
func (d *Dispatcher) deliverTargets(ctx context.Context) (int, error) {
	now := d.Clock.Now()
	// The pending entries were read (their idle time restarted) and the
	// leases renewed just before: starting no message after MinIdle/2 keeps
	// the pass well within both.
	stopAt := now.Add(d.MinIdle / 2)
	var work []*outTarget
	for _, t := range d.targets {
		if len(t.queue) > 0 && now.Before(t.lease) && !t.fresh && !d.readyAt(t).After(now) {
			work = append(work, t)
		}
	}
	sem := make(chan struct{}, d.Workers)
	var wg sync.WaitGroup
	for _, t := range work {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.serveTarget(ctx, t, stopAt)
		}()
	}
	wg.Wait()

	now = d.Clock.Now()
	sent := 0
	var errs []error
	d.wake = now.Add(d.Poll)
	for name, t := range d.targets {
		sent += t.sent
		if t.err != nil {
			errs = append(errs, t.err)
		}
		for _, it := range t.gone {
			delete(d.held, it.d.Handle)
		}
		t.gone, t.err, t.sent, t.fresh = nil, nil, 0, false
		if len(t.queue) == 0 {
			// Kept while leased, so that Release gives the lease up.
			if !t.tat.After(now) && !t.hold.After(now) && !t.lease.After(now) {
				delete(d.targets, name) // nothing to remember
			}
			continue
		}
		if at := d.readyAt(t); at.Before(d.wake) {
			d.wake = at
		}
	}
	return sent, errors.Join(errs...)
}

// leaseLow reports whether the target's lease must be taken or renewed. A
// lease lasts 1.5×MinIdle and is renewed when under 1.25×MinIdle; passes
// come at least every MinIdle/5, so at every read of the pending entries the
// lease has MinIdle left: when this consumer stops, its entries become
// claimable no later than its targets free up.
func (d *Dispatcher) leaseLow(t *outTarget, now time.Time) bool {
	return t.lease.Sub(now) < d.MinIdle*5/4
}

// leaseLen is how long a target lease lasts.
func (d *Dispatcher) leaseLen() time.Duration { return d.MinIdle * 3 / 2 }

// readyAt is when the target may receive its next message.
func (d *Dispatcher) readyAt(t *outTarget) time.Time {
	at := t.hold
	if t.limit.Interval > 0 {
		if r := t.tat.Add(-time.Duration(max(t.limit.Burst, 1)-1) * t.limit.Interval); r.After(at) {
			at = r
		}
	}
	return at
}

// charge takes a token of the target's rate limit for a message sent at now.
func (t *outTarget) charge(now time.Time) {
	if t.limit.Interval <= 0 {
		return
	}
	if t.tat.Before(now) {
		t.tat = now
	}
	t.tat = t.tat.Add(t.limit.Interval)
}

// serveTarget sends the target's due messages in order, starting none at or
// after stopAt. It touches only t and its items, so targets run in parallel.
func (d *Dispatcher) serveTarget(ctx context.Context, t *outTarget, stopAt time.Time) {
	for len(t.queue) > 0 && ctx.Err() == nil {
		now := d.Clock.Now()
		if now.Before(d.readyAt(t)) || !now.Before(t.lease) || !now.Before(stopAt) {
			return
		}
		it := t.queue[0]
		done, err := d.deliver(ctx, t, it)
		if err != nil {
			t.err = err
			return
		}
		if !done {
			return
		}
		t.queue = t.queue[1:]
		t.gone = append(t.gone, it)
	}
}

// deliver takes one message of a target as far as it can: send, mark,
// ack. It reports whether the entry is finished; an error is a store failure
// (the entry stays, in the state reached, for the next pass).
func (d *Dispatcher) deliver(ctx context.Context, t *outTarget, it *outItem) (bool, error) {
	if !it.sent && !it.settle && it.dead == "" {
		if settled, err := d.attempt(ctx, t, it); !settled || err != nil {
			return false, err
		}
	}
	return d.finish(ctx, it)
}

// attempt sends a message unless it was sent already, and reports whether
// the entry reached a final state (sent, settle or dead); otherwise the
// target is held (Retry-After, backoff) or the pass is stopping.
func (d *Dispatcher) attempt(ctx context.Context, t *outTarget, it *outItem) (bool, error) {
	n, target := it.d.Notice, it.target
	already, err := d.Store.WasSent(ctx, d.Sender.Platform(), it.d)
	if err != nil {
		return false, fmt.Errorf("check whether %s was sent: %w", n.ID, err)
	}
	if already {
		d.Log.InfoContext(ctx, "outbox notice already sent; not sending it again", "notice", n.ID, "target", target)
		d.count(metricOutboxDuplicates)
		it.settle = true
		return true, nil
	}
	it.tried = true
	// A send under way finishes even when the dispatcher is told to stop:
	// cut off mid-request, the platform may have shown the message while
	// this side saw only the cancellation, and the next replica would send
	// it again. No new send starts once ctx is done (serveTarget).
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	m, err := d.render(sendCtx, n)
	if errors.Is(err, ErrBadNotice) {
		cancel()
		it.dead = err.Error() // no retry will render it
		return true, nil
	}
	if err == nil {
		err = d.Sender.Send(sendCtx, n, m)
	}
	cancel()
	now := d.Clock.Now()
	var retry *RetryAfterError
	switch {
	case err == nil:
		t.charge(now)
		t.sent++
		d.count(metricOutboxSent)
		it.sent = true
		return true, nil
	case errors.Is(err, ErrNoRoute):
		it.settle = true
		return true, nil
	case errors.As(err, &retry):
		t.charge(now)
		wait := retry.After
		if wait <= 0 {
			wait = time.Second
		}
		t.hold = now.Add(wait)
		d.count(metricOutboxRateLimited)
		d.Log.InfoContext(ctx, "platform asked to slow down; holding the target",
			"notice", n.ID, "target", target, "retry_after", wait)
		return false, nil
	case ctx.Err() != nil:
		return false, nil // stopping: not the message's fault
	}
	t.charge(now)
	it.attempts++
	if it.attempts >= d.MaxAttempts {
		it.dead = fmt.Sprintf("%d attempts failed, the last: %v", it.attempts, err)
		return true, nil
	}
	wait := d.Backoff(it.attempts)
	t.hold = now.Add(wait)
	d.count(metricOutboxRetries)
	d.Log.WarnContext(ctx, "outbox send failed; will retry",
		"notice", n.ID, "target", target, "attempt", it.attempts, "retry_in", wait, "err", err)
	return false, nil
}

// render is the message for n: Render's, or n's Body decoded.
func (d *Dispatcher) render(ctx context.Context, n workflow.Notice) (Message, error) {
	if d.Render != nil {
		return d.Render.Render(ctx, n, d.Sender.Platform())
	}
	m, err := DecodeMessage(n.Body)
	if err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadNotice, err)
	}
	return m, nil
}

// finish records the final state of an entry in the store. It goes on when
// ctx is cancelled (for a few seconds at most): a message the platform
// accepted during a shutdown is still marked, and not sent again.
func (d *Dispatcher) finish(ctx context.Context, it *outItem) (bool, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	group := d.Sender.Platform()
	n := it.d.Notice
	switch {
	case it.dead != "":
		if err := d.Store.DeadLetter(ctx, group, it.d, it.dead); err != nil {
			return false, fmt.Errorf("dead-letter %s: %w", n.ID, err)
		}
		d.Log.ErrorContext(ctx, "outbox notice dead-lettered", "notice", n.ID, "incident", n.Incident,
			"target", it.target, "attempts", it.attempts, "reason", it.dead)
		d.count(metricOutboxDeadLetters)
	case it.sent:
		// Mark before ack: a crash between the two leaves a pending entry
		// that the next reader sees was sent already.
		if _, err := d.Store.MarkSent(ctx, group, it.d, d.DedupeTTL); err != nil {
			return false, fmt.Errorf("mark %s sent: %w", n.ID, err)
		}
		fallthrough
	default: // settle
		if err := d.Store.AckOutbox(ctx, group, it.d); err != nil {
			return false, fmt.Errorf("ack %s: %w", n.ID, err)
		}
	}
	return true, nil
}

func (d *Dispatcher) count(metric string) {
	if d.Metrics != nil {
		d.Metrics.Add(metric, fmt.Sprintf("platform=%q", d.Sender.Platform()), 1)
	}
}

// compareOutboxHandles orders outbox handles ("s07|<millis>-<seq>") by stream ID,
// which is append time, then by shard: exact within a shard, by the
// millisecond across shards.
func compareOutboxHandles(a, b string) int {
	as, aid, _ := strings.Cut(a, "|")
	bs, bid, _ := strings.Cut(b, "|")
	am, aseq, _ := strings.Cut(aid, "-")
	bm, bseq, _ := strings.Cut(bid, "-")
	num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	if c := cmp.Compare(num(am), num(bm)); c != 0 {
		return c
	}
	if as == bs {
		return cmp.Compare(num(aseq), num(bseq))
	}
	return cmp.Compare(as, bs)
}
