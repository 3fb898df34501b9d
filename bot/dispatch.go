package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

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
// not wait for each other. A target whose backlog is more than its rate
// limit sends in a minute gets its oldest routine notices coalesced into
// one message when Render is a Coalescer (coalesce.go).
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
	// is a RateLimiter, else one message a second, no burst.
	RateLimit func(target string) RateLimit
	// MaxAttempts is how many failed attempts send a message to the
	// dead-letter list (8 when zero). Rate-limited attempts do not count.
	MaxAttempts int
	// Backoff is the wait after the given failed attempt (DefaultBackoff
	// when nil).
	Backoff func(attempt int) time.Duration
	// MinIdle is how long entries of a consumer that died stay claimed
	// before another consumer takes them over. When zero: 2/3 of the
	// store's reader lease when it is a ReaderLeaser (10 s for the Redis
	// Store's default of 15 s), else 10 s. A reader lease shorter than
	// 1.5×MinIdle is an error of the first pass (and of Run, at once).
	// Target leases last 1.5×MinIdle, so a dead replica's work moves to another
	// within 1.5×MinIdle (a replica that stops gracefully releases all at
	// once). A pass starts no new message after MinIdle/2, so that it ends
	// well within MinIdle unless a single send hangs for longer (up to the
	// platform client's timeout); then another replica may take the
	// entries meanwhile, and hands those of targets this one still owns
	// back to it.
	MinIdle time.Duration
	// Poll is the longest wait between passes while this Dispatcher holds
	// entries (1s when zero; at most MinIdle/5): each pass renews their
	// targets' leases, and reads the entries again when Poll passed since
	// it last did (every pass, with a store that is no NewReader), so that
	// they are not taken over and what was handed over to this consumer is
	// found.
	Poll time.Duration
	// IdlePoll is the longest wait between looks at the store while this
	// Dispatcher holds nothing (5s when zero, or Poll when only Poll is
	// set; never under Poll). Idle, it relies on Wake for new notices, and
	// IdlePoll only bounds what a lost wake-up delays. With an OutboxProber
	// store each look is a probe, a few cheap commands, and a pass follows
	// only when the probe finds work; with another store each look is a
	// pass. The bounds while idle (IdlePoll 5s, MinIdle 10s): a notice whose
	// wake-up was lost goes out within IdlePoll; the entries a dead consumer
	// left are taken over within MinIdle+IdlePoll of its last pass (15 s; a
	// Dispatcher holding work claims every MinIdle/4, as before). Idle or
	// not, a pass that reads new entries claims first unless it claimed
	// within MinIdle/4, so a stopped reader's entries are claimed before
	// this consumer reads past them (ReaderLeaser).
	IdlePoll time.Duration
	// Batch is how many new entries one pass reads at most (100 when zero).
	Batch int
	// MaxHeld bounds the entries held in memory for their targets' next
	// minute (each target's first minute's worth of its rate limit, or all
	// of a target without one), waiting on a slow or failing target; when
	// reached, no new entries are read (1000 when zero).
	MaxHeld int
	// MaxBacklog bounds the entries held beyond their targets' minute's
	// worth, which wait on that target only and are coalesced when they
	// can be; when reached, no new entries are read (10×MaxHeld when zero).
	// A burst to one chat thus does not stop the reading of what comes
	// after it, such as a REPORT to another chat.
	MaxBacklog int
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
	// notice's Body is an encoded Message, sent as it is. A Render that is
	// also a Coalescer words a target's backlog beyond its minute's worth
	// in fewer messages.
	Render Renderer
	// Log receives retries (warn), dead letters (error) and store failures.
	Log *slog.Logger
	// Metrics, when set, counts deliveries by outcome
	// (firebreak_outbox_deliveries_total and firebreak_outbox_{sent,retries,
	// dead_letters,rate_limited,duplicates}_total) and reports the entries
	// this Dispatcher holds and the age of the oldest.
	Metrics *Metrics

	mu      sync.Mutex // one pass at a time
	started bool
	held    map[string]*outItem   // by handle: read and not done yet
	targets map[string]*outTarget // by target
	claimAt time.Time             // next ClaimStale
	sweep   bool                  // the next ClaimStale takes all it may hold
	// rereadAt is when a pass next reads the held entries again (with a
	// NewReader store; without, every pass does).
	rereadAt time.Time
	wake     time.Time // when the next pass has work
	// coalescer is Render when it is a Coalescer.
	coalescer Coalescer
	more      bool // the last read was full: read again at once

	wakeMu sync.Mutex
	waker  context.CancelFunc
	woken  bool

	// What the last pass left held, for the metrics: read at scrape time
	// without waiting for a pass (which holds mu for seconds).
	heldCount atomic.Int64
	heldSince atomic.Int64 // the oldest held entry's append time, Unix ns; 0: none
	// heldLooked is when noteHeld last looked for the oldest held entry.
	heldLooked time.Time

	// Targets being sent to by a worker, which may outlast the pass that
	// started it (a send hanging until its timeout): busy counts them,
	// done receives each as its worker ends, inflight waits for them.
	// newWork is signalled by Wake: a pass waiting for its workers stops
	// waiting, so that new notices to other targets go out at once.
	busy     int
	done     chan *outTarget
	newWork  chan struct{}
	inflight sync.WaitGroup
	// waiting: a pass waits for the workers (and collects them); a worker
	// ending otherwise pokes Run, for the next pass to collect it.
	waiting atomic.Bool
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
	// urgent notices go before routine ones to their target
	// (workflow.Notice.Urgent).
	urgent bool
	// coalescible: a routine notice that may go in a coalesced message.
	coalescible bool
	// refresh names the card a refresh edits (audience and thread).
	refresh string
	// single: send it on its own (a coalesced message with it failed).
	single bool
}

// outTarget is the delivery state of one target.
type outTarget struct {
	queue []*outItem // outbox order; only the head has been tried
	hold  time.Time  // nothing before (Retry-After, backoff)
	tat   time.Time  // token bucket: theoretical arrival time of the next message
	lease time.Time  // this consumer owns the target until
	limit RateLimit
	// capacity is the target's minute's worth of messages (0: no limit).
	capacity int

	// fresh: taken in this pass from no owner or another one.
	fresh bool

	// Results of the worker serving it, collected when it ends.
	gone []*outItem // finished
	sent int
	err  error

	// busy: a worker is serving it; only the worker touches queue, gone,
	// sent, err, hold, tat and the items, and what the pass learns meanwhile
	// waits in incoming (entries read) and forgot (entries another
	// consumer took), applied when the worker ends. size is the length of
	// the queue when the worker started, for full.
	busy     bool
	incoming []*outItem
	forgot   []*outItem
	size     int
}

// init fills in the defaults of the zero fields on the first pass, or
// reports why the Dispatcher cannot run.
func (d *Dispatcher) init() error {
	if d.started {
		return nil
	}
	if d.Store == nil || d.Sender == nil {
		return errors.New("dispatcher: Store and Sender are required")
	}
	minIdle, err := d.minIdle()
	if err != nil {
		return err
	}
	d.started = true
	if d.Consumer == "" {
		host, _ := os.Hostname()
		d.Consumer = cmp.Or(host, "firebreak") + "-" + strconv.Itoa(os.Getpid())
	}
	if d.RateLimit == nil {
		if rl, ok := d.Sender.(RateLimiter); ok {
			d.RateLimit = rl.RateLimit
		} else {
			d.RateLimit = func(string) RateLimit { return defaultRateLimit }
		}
	}
	d.MaxAttempts = cmp.Or(d.MaxAttempts, 8)
	if d.Backoff == nil {
		d.Backoff = DefaultBackoff
	}
	d.MinIdle = minIdle
	pollSet := d.Poll != 0
	// Passes read this consumer's pending entries again every Poll, which
	// keeps them from being taken over: it must come well within MinIdle.
	d.Poll = min(cmp.Or(d.Poll, time.Second), d.MinIdle/5)
	if d.IdlePoll == 0 {
		d.IdlePoll = defaultIdlePoll
		if pollSet {
			d.IdlePoll = d.Poll // set for a store without wake-ups: poll as told
		}
	}
	d.IdlePoll = max(d.IdlePoll, d.Poll)
	d.Batch = cmp.Or(d.Batch, 100)
	d.MaxHeld = cmp.Or(d.MaxHeld, 1000)
	d.MaxBacklog = cmp.Or(d.MaxBacklog, backlogPerHeld*d.MaxHeld)
	d.coalescer, _ = d.Render.(Coalescer)
	d.Workers = cmp.Or(d.Workers, 4)
	d.done = make(chan *outTarget, d.Workers)
	d.wakeMu.Lock()
	d.newWork = make(chan struct{}, 1)
	d.wakeMu.Unlock()
	d.DedupeTTL = cmp.Or(d.DedupeTTL, 7*24*time.Hour)
	if d.Clock == nil {
		d.Clock = workflow.SystemClock{}
	}
	if d.Sleep == nil {
		d.Sleep = Sleep
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	d.Log = d.Log.With("platform", d.Sender.Platform(), "consumer", d.Consumer)
	d.held = map[string]*outItem{}
	d.targets = map[string]*outTarget{}
	if d.Metrics != nil {
		d.Metrics.WatchOutbox(d.Sender.Platform(), d.queued, d.Clock.Now)
	}
	return nil
}

// queued reports the entries the last pass left held and when the oldest
// of them was appended (zero when none).
func (d *Dispatcher) queued() (int, time.Time) {
	n := int(d.heldCount.Load())
	if since := d.heldSince.Load(); n > 0 && since != 0 {
		return n, time.Unix(0, since)
	}
	return n, time.Time{}
}

// noteHeld records what is held for queued; called with mu held. The
// count is exact after every pass; the oldest entry is looked for among
// all held ones at most once a second (heldAgeEvery): a pass
// runs each time a held message falls due, and with thousands held the
// search took a quarter of a busy replica's CPU. Between two searches the
// age reported may be of an entry sent meanwhile, at most a second stale.
func (d *Dispatcher) noteHeld() {
	d.heldCount.Store(int64(len(d.held)))
	now := d.Clock.Now()
	if len(d.held) > 0 && d.heldSince.Load() != 0 && now.Sub(d.heldLooked) < heldAgeEvery {
		return
	}
	d.heldLooked = now
	var oldest time.Time
	for _, it := range d.held {
		if at := it.d.Seq.At; !at.IsZero() && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	var since int64
	if !oldest.IsZero() {
		since = oldest.UnixNano()
	}
	d.heldSince.Store(since)
}

// heldAgeEvery is how often noteHeld looks for the oldest held entry.
const heldAgeEvery = time.Second

// Sleep waits for d or until ctx is done, and returns ctx's error then. A
// d of zero or less returns at once. The dispatcher, the scheduler's
// waits and the adapters' polling loops share it.
func Sleep(ctx context.Context, d time.Duration) error {
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
// (Release, for a few seconds at most) and returns nil. It returns an error
// at once, before reading anything, when the Dispatcher cannot run: no Store
// or Sender, or a MinIdle the store's reader lease is too short for
// (ReaderLeaser).
//
// While it holds entries, Run passes (DeliverOnce) as soon as the next
// message is due (a held target's time) or after Poll, whichever comes
// first. While it holds none, it waits for Wake, and looks at the store only
// every IdlePoll: with an OutboxProber, a probe, which takes over the entries
// of stopped consumers when some are pending, and runs a pass only when it
// finds work; else a pass. Wake always brings a pass at once. When the store
// fails it backs off (up to 30s) and retries; nothing is lost meanwhile.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	err := d.init()
	d.mu.Unlock()
	if err != nil {
		return err
	}
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
	// The first pass reads what this consumer left pending in an earlier
	// life; after that, an idle Dispatcher probes.
	pass := true
	for ctx.Err() == nil {
		var err error
		if pass {
			_, err = d.DeliverOnce(ctx)
		} else if pass, err = d.probe(ctx); err == nil && pass {
			continue // work found: a pass at once
		}
		if ctx.Err() != nil {
			return nil
		}
		var (
			wait time.Duration
			idle bool
		)
		if err != nil {
			failures++
			wait = min(d.Poll<<min(failures, 5), 30*time.Second)
			d.Log.WarnContext(ctx, "outbox delivery pass failed", "err", err, "retry_in", wait)
		} else {
			failures = 0
			wait, idle = d.idleWait()
		}
		// After a failure, a pass: a probe would not read what is held.
		pass = !idle || err != nil
		if wait <= 0 {
			pass = true
			continue
		}
		if d.sleep(ctx, wait) {
			pass = true
		}
	}
	return nil
}

// sleep waits for wait, or until Wake or ctx is done, and reports whether
// Wake was called since the last sleep (also before this one began).
func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) bool {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.wakeMu.Lock()
	woken := d.woken
	d.waker, d.woken = cancel, false
	d.wakeMu.Unlock()
	if !woken {
		_ = d.Sleep(sctx, wait)
	}
	d.wakeMu.Lock()
	woken = woken || d.woken
	d.waker, d.woken = nil, false
	d.wakeMu.Unlock()
	return woken
}

// sendTimeout bounds one send, which a shutdown lets finish.
const sendTimeout = 10 * time.Second

// defaultIdlePoll is IdlePoll when neither it nor Poll is set.
const defaultIdlePoll = 5 * time.Second

// Wake ends Run's current wait and brings a pass at once (or, when Run is
// not waiting, right after the current pass or probe), so a notice just
// appended goes out without waiting for Poll or IdlePoll. It is safe to
// call from any goroutine, at any time.
func (d *Dispatcher) Wake() {
	d.poke()
	d.wakeMu.Lock()
	newWork := d.newWork // set once, by the first pass
	d.wakeMu.Unlock()
	select {
	case newWork <- struct{}{}:
	default: // signalled already (or before the first pass: nil)
	}
}

// poke ends Run's current wait (or the next one, when Run is not waiting):
// Wake, and a worker that ended, whose target the next pass collects.
func (d *Dispatcher) poke() {
	d.wakeMu.Lock()
	defer d.wakeMu.Unlock()
	if d.waker != nil {
		d.waker()
	}
	d.woken = true
}

// idleWait is how long Run may wait before the next pass has work, and
// whether this Dispatcher is idle: it holds nothing, so the next look at the
// store may be a probe.
func (d *Dispatcher) idleWait() (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.more:
		return 0, false
	case len(d.held) == 0:
		return d.IdlePoll, true
	}
	return min(d.Poll, d.wake.Sub(d.Clock.Now())), false
}

// OutboxProber is a DeliveryStore that can tell cheaply, reading and
// claiming nothing, whether a pass would find work for a consumer. An idle
// Dispatcher probes such a store every IdlePoll instead of running a pass.
type OutboxProber interface {
	// ProbeOutbox reports what group has that a pass of consumer would
	// find. A false field is certain; a true one may be a false alarm (a
	// store that cannot tell says true).
	ProbeOutbox(ctx context.Context, group, consumer string) (Backlog, error)
}

// Backlog is what ProbeOutbox found in the outbox of a group.
type Backlog struct {
	// Unread: entries were appended that no consumer of the group has read.
	Unread bool
	// Mine: entries read by the consumer probing and not acknowledged (one
	// handed over to it, or read in an earlier life).
	Mine bool
	// Others: entries read by other consumers and not acknowledged; those
	// of a consumer that stopped are taken over once MinIdle passed.
	Others bool
}

// probe asks an OutboxProber whether a pass would find work, and reports
// whether to run one now: for entries unread or this consumer's, or for
// entries of stopped consumers that it just took over (ClaimStale, at most
// every MinIdle/4, as a pass does). Another store always gets a pass.
func (d *Dispatcher) probe(ctx context.Context) (bool, error) {
	p, ok := d.Store.(OutboxProber)
	if !ok {
		return true, nil
	}
	b, err := p.ProbeOutbox(ctx, d.Sender.Platform(), d.Consumer)
	switch {
	case err != nil:
		return false, fmt.Errorf("probe outbox: %w", err)
	case b.Unread || b.Mine:
		return true, nil
	case !b.Others:
		return false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Clock.Now()
	if now.Before(d.claimAt) {
		return false, nil
	}
	// What is claimed joins this consumer's pending entries, which the
	// pass reads.
	ds, err := d.claimStale(ctx, false)
	if err != nil {
		return false, err
	}
	d.claimAt, d.sweep = now.Add(d.MinIdle/4), false
	return len(ds) > 0, nil
}

// DeliverOnce runs one pass: it takes over stale entries (at most every
// MinIdle/4), reads this consumer's pending entries and new ones, makes sure
// it owns their targets (handing the entries of targets owned by another
// consumer over to it), and sends what is due to every target. It returns
// the number of messages sent and the store errors met; what it could not
// finish stays for the next pass. The first pass fails, sending nothing,
// when the Dispatcher cannot run (see Run).
func (d *Dispatcher) DeliverOnce(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.init(); err != nil {
		return 0, err
	}
	defer d.noteHeld()
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
	// is alive (their idle time restarts), so nobody takes them over; it
	// also finds what was handed over to it, or claimed by a probe. With a
	// NewReader store, a pass between such reads, at most Poll apart (as a
	// pass was, before passes came as often as held messages fell due),
	// reads only the new entries.
	heldBefore := len(d.held)
	reader, newOnly := d.Store.(NewReader)
	now := d.Clock.Now()
	newOnly = newOnly && heldBefore > 0 && now.Before(d.rereadAt)
	var (
		read []Delivery
		err  error
		want int
	)
	switch {
	case newOnly:
		if !d.full() {
			want = d.Batch
			read, err = reader.ReadNewOutbox(ctx, d.Sender.Platform(), d.Consumer, want)
		}
		d.more = err == nil && want > 0 && len(read) >= want
	default:
		want = heldBefore + d.Batch
		if d.full() {
			want = heldBefore
		}
		read, err = d.Store.ReadOutbox(ctx, d.Sender.Platform(), d.Consumer, max(want, 1))
		if err == nil {
			d.rereadAt = now.Add(d.Poll)
		}
		if err == nil && len(read) < want {
			// The read returned every pending entry of this consumer: one
			// held but missing was taken over by another consumer (this one
			// stalled for MinIdle) or acked by it.
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
	}
	if err != nil {
		note(fmt.Errorf("read outbox: %w", err))
	}
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
	slices.SortFunc(fresh, func(a, b Delivery) int { return a.Seq.Compare(b.Seq) })
	var noRoute []Delivery
	for _, x := range fresh {
		target := d.Sender.Target(x.Notice)
		if target == "" {
			noRoute = append(noRoute, x)
			continue
		}
		urgent, coalescible, refresh := traits(x.Notice)
		it := &outItem{d: x, target: target, urgent: urgent, coalescible: coalescible, refresh: refresh}
		d.held[x.Handle] = it
		t := d.targets[target]
		if t == nil {
			t = &outTarget{limit: d.RateLimit(target)}
			t.capacity = minuteWorth(t.limit)
			d.targets[target] = t
		}
		if t.busy {
			t.incoming = append(t.incoming, it) // queued when its worker ends
			continue
		}
		t.enqueue(it)
	}
	if len(noRoute) > 0 {
		if err := d.Store.AckOutbox(ctx, d.Sender.Platform(), noRoute...); err != nil {
			return fmt.Errorf("ack notices without a route: %w", err)
		}
	}
	return nil
}

// enqueue puts it in t's queue. Entries taken over or handed over may be
// older than the queue's tail: it goes in outbox order, but behind a head
// already tried. Urgent notices go ahead of every routine one not yet
// tried, in outbox order among themselves, so a REPORT never waits behind
// a burst of routine cards to the same chat.
func (t *outTarget) enqueue(it *outItem) {
	lo := 0
	if len(t.queue) > 0 && t.queue[0].tried {
		lo = 1
	}
	i := len(t.queue)
	for i > lo {
		prev := t.queue[i-1]
		if prev.urgent == it.urgent && prev.d.Seq.Compare(it.d.Seq) <= 0 || prev.urgent && !it.urgent {
			break
		}
		i--
	}
	t.queue = slices.Insert(t.queue, i, it)
}

// forget drops a held entry without settling it (another consumer has it).
func (d *Dispatcher) forget(it *outItem) {
	delete(d.held, it.d.Handle)
	t := d.targets[it.target]
	switch {
	case t == nil:
	case t.busy:
		t.forgot = append(t.forgot, it)
		t.incoming = slices.DeleteFunc(t.incoming, func(x *outItem) bool { return x == it })
	default:
		t.queue = slices.DeleteFunc(t.queue, func(x *outItem) bool { return x == it })
	}
}

// deliverTargets sends to every owned target that has a message due,
// Workers at a time, each target by a worker of its own, and collects what
// the workers finished. It waits for them, unless new notices arrive
// (Wake): then it returns and the next pass reads them, while a worker
// still sending (a platform call that hangs until its timeout) goes on
// with its own target only. One slow chat thus never holds up another.
func (d *Dispatcher) deliverTargets(ctx context.Context) (int, error) {
	sent := 0
	var errs []error
	collect := func(t *outTarget) {
		n, err := d.collect(t)
		sent += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	// The workers of earlier passes that ended since.
	for d.busy > 0 {
		select {
		case t := <-d.done:
			collect(t)
			continue
		default:
		}
		break
	}
	select {
	case <-d.newWork: // what this pass read is what it was woken for
	default:
	}

	now := d.Clock.Now()
	// The pending entries were read (their idle time restarted) and the
	// leases renewed just before: starting no message after MinIdle/2 keeps
	// the pass well within both.
	stopAt := now.Add(d.MinIdle / 2)
	var work []*outTarget
	for _, t := range d.targets {
		if !t.busy && len(t.queue) > 0 && now.Before(t.lease) && !t.fresh && !d.readyAt(t).After(now) {
			work = append(work, t)
		}
	}
	// The pass waits for the workers it starts, not for those of earlier
	// passes still sending (it collects them when they end meanwhile).
	started := map[*outTarget]bool{}
	launch := func() {
		for len(work) > 0 && d.busy < d.Workers {
			t := work[0]
			work = work[1:]
			t.busy, t.size = true, len(t.queue)
			d.busy++
			started[t] = true
			d.inflight.Go(func() {
				d.serveTarget(ctx, t, stopAt)
				d.done <- t // never blocks: it holds a place for each worker
				if !d.waiting.Load() {
					d.poke()
				}
			})
		}
	}
	d.waiting.Store(true)
	launch()
wait:
	for len(started) > 0 {
		select {
		case t := <-d.done:
			delete(started, t)
			collect(t)
			launch()
		case <-d.newWork:
			if ctx.Err() == nil {
				break wait
			}
		}
	}
	d.waiting.Store(false)
	if len(d.done) > 0 {
		d.poke() // a worker ended as the wait did: the next pass collects it
	}

	now = d.Clock.Now()
	d.wake = now.Add(d.Poll)
	for name, t := range d.targets {
		if t.busy {
			continue // its worker pokes when it ends
		}
		t.fresh = false
		if len(t.queue) == 0 {
			// Kept while leased, so that Release gives the lease up.
			if !t.tat.After(now) && !t.hold.After(now) && !t.lease.After(now) {
				delete(d.targets, name) // nothing to remember
			}
			continue
		}
		// A target due now while every worker is busy waits for one to
		// end, which pokes Run: passing again at once would only spin.
		if at := d.readyAt(t); at.Before(d.wake) && (at.After(now) || d.busy < d.Workers) {
			d.wake = at
		}
	}
	return sent, errors.Join(errs...)
}

// collect takes back a target whose worker ended: what it sent and the
// store error it met, the entries it finished forgotten, and what the pass
// learnt meanwhile (entries read, entries another consumer took) applied.
func (d *Dispatcher) collect(t *outTarget) (int, error) {
	d.busy--
	t.busy = false
	for _, it := range t.gone {
		delete(d.held, it.d.Handle)
	}
	for _, it := range t.forgot {
		t.queue = slices.DeleteFunc(t.queue, func(x *outItem) bool { return x == it })
	}
	for _, it := range t.incoming {
		t.enqueue(it)
	}
	sent, err := t.sent, t.err
	t.gone, t.err, t.sent, t.forgot, t.incoming = nil, nil, 0, nil, nil
	return sent, err
}

// waitWorkers waits until every worker ended and collects their targets
// (Release, at shutdown).
func (d *Dispatcher) waitWorkers() {
	d.inflight.Wait()
	for d.busy > 0 {
		_, _ = d.collect(<-d.done)
	}
}

// serveTarget sends the target's due messages in order, starting none at or
// after stopAt: one at a time, or the oldest routine ones of a backlog
// beyond the target's minute's worth in one coalesced message. Entries
// that need no sending any more (sent, settled, dead) are written without
// waiting for the rate limit. It touches only t and its items, so targets
// run in parallel.
func (d *Dispatcher) serveTarget(ctx context.Context, t *outTarget, stopAt time.Time) {
	for len(t.queue) > 0 && ctx.Err() == nil {
		now := d.Clock.Now()
		if !now.Before(t.lease) || !now.Before(stopAt) {
			return
		}
		it := t.queue[0]
		if it.final() {
			if err := d.finishHead(ctx, t); err != nil {
				t.err = err
				return
			}
			continue
		}
		if now.Before(d.readyAt(t)) {
			return
		}
		if d.dropSuperseded(t); it.final() {
			continue
		}
		if run := d.coalesceRun(t); run != nil {
			progressed, err := d.deliverRun(ctx, t, run)
			if err != nil {
				t.err = err
				return
			}
			if !progressed {
				return
			}
			continue
		}
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
	if already[0] {
		d.Log.InfoContext(ctx, "outbox notice already sent; not sending it again", "notice", n.ID, "target", target)
		d.count(DeliveryDuplicate)
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
		d.count(DeliverySent)
		it.sent = true
		return true, nil
	case errors.Is(err, ErrNoRoute):
		it.settle = true
		return true, nil
	case errors.Is(err, ErrRefused):
		t.charge(now)
		it.dead = "refused: " + err.Error()
		return true, nil
	case errors.As(err, &retry):
		wait := t.slowDown(now, retry)
		d.count(DeliveryRateLimited)
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
	d.count(DeliveryRetry)
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
		d.count(DeliveryDeadLetter)
	case it.sent:
		// Mark before ack: a crash between the two leaves a pending entry
		// that the next reader sees was sent already.
		if _, err := d.Store.MarkSent(ctx, group, d.DedupeTTL, it.d); err != nil {
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

// count records one outcome of a delivery (DeliverySent, …).
func (d *Dispatcher) count(outcome string) {
	if d.Metrics != nil {
		d.Metrics.Delivery(d.Sender.Platform(), outcome)
	}
}
