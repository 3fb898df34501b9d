// Package feed watches the RSS and Atom feeds of the roster (intake: {feeds:
// [...]}) for offices that have no monitoring platform, and hands each new
// item to the monitoring intake as a platform would post it, so the same
// keyword rules, dedupe and triage apply.
//
// Every replica runs a Poller over the same feeds. A feed's state — the
// validators of its last response for a conditional GET, the items of its
// last fetch, its failures and when it is next due — lives in a State store
// shared by the replicas, and a lease per feed and attempt lets exactly one
// replica make each attempt.
package feed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Receiver takes a delivery of monitoring items; *workflow.Service
// satisfies it. It dedupes, so an item delivered twice is harmless; a
// *workflow.LimitError says the source is past its rate and nothing was
// stored; a *workflow.ItemError names an item it refuses (and stores none).
type Receiver interface {
	Intake(ctx context.Context, source string, items []workflow.Item) ([]workflow.Received, error)
}

// Locker takes a lease that expires by itself (*redis.Store satisfies it):
// true when this caller got it.
type Locker interface {
	TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// State is a small key-value store shared by the replicas (*redis.Memo, as
// from Store.Memo("feed"), satisfies it).
type State interface {
	GetMemo(ctx context.Context, key string) (string, bool, error)
	SetMemo(ctx context.Context, key, value string, ttl time.Duration) error
}

// Limits of one fetch.
const (
	// FetchTimeout bounds one fetch, from the request to the last byte.
	FetchTimeout = 10 * time.Second
	// MaxBody is the largest feed document read.
	MaxBody = 5 << 20
	// MaxAge is how old an item may be and still be delivered: the intake
	// refuses a discovery more than 30 days ago.
	MaxAge = 30 * 24 * time.Hour
	// MaxBackoff caps the wait after failures (unless the feed's own
	// interval is longer).
	MaxBackoff = time.Hour
	// UserAgent is sent with every fetch.
	UserAgent = "Firebreak feed poller"
)

const (
	// maxSeen is how many item keys of the last fetch are kept.
	maxSeen = 1000
	// stateTTL is how long a feed's state outlives its last poll.
	stateTTL = MaxAge
)

// Outcome is what one poll of a feed came to; the outcome label of
// firebreak_feed_polls_total (all but OutcomeSkipped).
type Outcome string

// Poll outcomes.
const (
	OutcomeNew          Outcome = "new"           // new items were delivered
	OutcomeUnchanged    Outcome = "unchanged"     // 304 Not Modified
	OutcomeEmpty        Outcome = "empty"         // fetched, but no item was new
	OutcomeFetchError   Outcome = "error_fetch"   // down, slow, not 2xx, too large
	OutcomeParseError   Outcome = "error_parse"   // not an RSS, Atom or JSON feed
	OutcomeDeliverError Outcome = "error_deliver" // the intake failed (its store is down)
	OutcomeLimited      Outcome = "limited"       // the intake's rate limit held items back
	// OutcomeSkipped: not polled — another replica holds the attempt, the
	// feed is backing off, or the lease or state store failed. Not counted.
	OutcomeSkipped Outcome = "skipped"
)

var outcomes = []Outcome{OutcomeNew, OutcomeUnchanged, OutcomeEmpty, OutcomeFetchError, OutcomeParseError, OutcomeDeliverError, OutcomeLimited}

// Options configure a Poller.
type Options struct {
	// Feeds are the watched feeds (workflow.Roster.Intake.Feeds).
	Feeds []workflow.Feed
	// Receiver takes the items (required).
	Receiver Receiver
	// Locker gives one replica each attempt at a feed; nil: no lease, for a
	// single replica.
	Locker Locker
	// State keeps each feed's state across replicas and restarts; nil: in
	// memory, for a single replica.
	State State
	// Clock is the clock of the items' discovery times (workflow's, with
	// the demo time scale); nil: the wall clock. Polls are scheduled by the
	// wall clock.
	Clock workflow.Clock
	// HTTPClient fetches the feeds; nil: a client with FetchTimeout. Every
	// fetch is also bounded by FetchTimeout.
	HTTPClient *http.Client
	// Log receives poll failures and recoveries; nil: discarded.
	Log *slog.Logger
	// Registerer receives firebreak_feed_polls_total{feed,outcome} and
	// firebreak_feed_items_total{feed}; nil: not registered.
	Registerer prometheus.Registerer
}

// Poller polls the watched feeds and delivers their new items.
type Poller struct {
	feeds   []workflow.Feed
	recv    Receiver
	lock    Locker
	state   State
	clock   workflow.Clock
	client  *http.Client
	log     *slog.Logger
	metrics *metrics

	// wall is the clock of the poll schedule.
	wall func() time.Time
	// polled, when set, is told every poll's outcome (tests).
	polled func(workflow.Feed, Outcome)
}

// New returns a Poller of opts.Feeds.
func New(opts Options) *Poller {
	p := &Poller{
		feeds:  opts.Feeds,
		recv:   opts.Receiver,
		lock:   opts.Locker,
		state:  opts.State,
		clock:  opts.Clock,
		client: opts.HTTPClient,
		log:    opts.Log,
		wall:   time.Now,
	}
	if p.state == nil {
		p.state = bot.NewLocalMemo(1_000) // a key a feed
	}
	if p.clock == nil {
		p.clock = workflow.SystemClock{}
	}
	if p.client == nil {
		p.client = &http.Client{Timeout: FetchTimeout}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.metrics = newMetrics(opts.Registerer, p.log)
	for _, f := range p.feeds {
		p.metrics.init(sourceOf(f))
	}
	return p
}

// Run polls every feed, each on its own, until ctx is done, and then returns
// nil: a feed that is slow or down never holds back another. With no feeds
// it just waits for ctx.
func (p *Poller) Run(ctx context.Context) error {
	if len(p.feeds) > 0 && p.recv == nil {
		return errors.New("feed: Options.Receiver is required")
	}
	var wg sync.WaitGroup
	for _, f := range p.feeds {
		wg.Go(func() { p.watch(ctx, f) })
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// watch polls f whenever it is due, until ctx is done.
func (p *Poller) watch(ctx context.Context, f workflow.Feed) {
	for ctx.Err() == nil {
		_, next, err := p.poll(ctx, f, false)
		if err != nil && ctx.Err() == nil && next.IsZero() {
			next = p.wall().Add(storeRetry(f))
		}
		if d := next.Sub(p.wall()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// PollOnce polls f now, backing off or not: it takes the lease of the feed's
// next attempt (OutcomeSkipped when another replica holds it), fetches,
// delivers the new items and records the feed's state. The error says why
// a poll failed, or that the intake held items back (a *workflow.LimitError).
func (p *Poller) PollOnce(ctx context.Context, f workflow.Feed) (Outcome, error) {
	if p.recv == nil {
		return OutcomeSkipped, errors.New("feed: Options.Receiver is required")
	}
	o, _, err := p.poll(ctx, f, true)
	return o, err
}

// feedState is a feed's state in the State store, as JSON.
type feedState struct {
	// Attempt numbers the attempts; the lease of an attempt is keyed by it,
	// so a replica that read an older state cannot make a second one.
	Attempt      int64  `json:"attempt"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// Newest is the latest own date of an item delivered, for people
	// looking into a feed; what is new is decided by Seen.
	Newest time.Time `json:"newest,omitzero"`
	// Seen are the keys of the items of the last fetch (hashes of their
	// IDs), those not delivered left out.
	Seen        []string  `json:"seen,omitempty"`
	Failures    int       `json:"failures,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // wall clock
	LastError   string    `json:"last_error,omitempty"`  // redacted
}

// stateKey is the key of a feed's state and leases: the URL may hold
// credentials, so it is hashed.
func stateKey(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return hex.EncodeToString(sum[:16])
}

func (p *Poller) load(ctx context.Context, f workflow.Feed, key string) (feedState, error) {
	raw, ok, err := p.state.GetMemo(ctx, key)
	if err != nil {
		return feedState{}, fmt.Errorf("read feed state: %w", err)
	}
	var st feedState
	if ok {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			// A state nobody can read must not stop the feed for good.
			p.log.Warn("feed state unreadable; starting afresh", "feed", sourceOf(f), "url", Redact(f.URL), "err", err)
			return feedState{}, nil
		}
	}
	return st, nil
}

func (p *Poller) save(ctx context.Context, key string, st feedState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode feed state: %w", err)
	}
	if err := p.state.SetMemo(ctx, key, string(b), stateTTL); err != nil {
		return fmt.Errorf("write feed state: %w", err)
	}
	return nil
}

// leaseTTL is how long the lease of one attempt lasts: slightly under the
// interval, so that a replica lost mid-poll is replaced by the next one due.
func leaseTTL(f workflow.Feed) time.Duration {
	iv := f.Interval()
	return iv - min(iv/10, 10*time.Second)
}

// storeRetry is how soon a replica looks again after the state or lease
// store failed, or another replica took the attempt.
func storeRetry(f workflow.Feed) time.Duration {
	return max(min(f.Interval()/10, 30*time.Second), time.Millisecond)
}

// backoff is the wait after the n-th failure in a row: the interval doubled
// n times, at most MaxBackoff (or the interval, when longer).
func backoff(f workflow.Feed, n int) time.Duration {
	iv := f.Interval()
	limit := max(MaxBackoff, iv)
	d := iv
	for range n {
		if d >= limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// poll makes one attempt at f and returns its outcome and when f is next
// due (wall clock). Unless force, a feed that is not due is skipped.
func (p *Poller) poll(ctx context.Context, f workflow.Feed, force bool) (Outcome, time.Time, error) {
	key := stateKey(f.URL)
	start := p.wall()
	st, err := p.load(ctx, f, key)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("feed state unavailable", "feed", sourceOf(f), "url", Redact(f.URL), "err", err)
		}
		return OutcomeSkipped, time.Time{}, err
	}
	if !force && st.NextAttempt.After(start) {
		// A state written under another roster may name a far-off time.
		next := st.NextAttempt
		if latest := start.Add(max(MaxBackoff, f.Interval())); next.After(latest) {
			next = latest
		}
		return OutcomeSkipped, next, nil
	}
	if p.lock != nil {
		ok, err := p.lock.TryLock(ctx, "feed:"+key+":"+strconv.FormatInt(st.Attempt, 10), leaseTTL(f))
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("feed lease unavailable", "feed", sourceOf(f), "url", Redact(f.URL), "err", err)
			}
			return OutcomeSkipped, time.Time{}, fmt.Errorf("take feed lease: %w", err)
		}
		if !ok {
			return OutcomeSkipped, start.Add(storeRetry(f)), nil
		}
		// The lease of an attempt another replica made and finished, and
		// whose lease has since expired, is no leave to make it again.
		cur, err := p.load(ctx, f, key)
		if err != nil {
			return OutcomeSkipped, time.Time{}, err
		}
		if cur.Attempt != st.Attempt {
			return OutcomeSkipped, start.Add(storeRetry(f)), nil
		}
	}

	next := st
	next.Attempt++
	o, retryAfter, err := p.attempt(ctx, f, st, &next)
	if ctx.Err() != nil {
		// Shutting down: not the feed's fault, and not a poll.
		return OutcomeSkipped, time.Time{}, ctx.Err()
	}
	source := sourceOf(f)
	switch o {
	case OutcomeFetchError, OutcomeParseError, OutcomeDeliverError:
		next.Failures++
		wait := backoff(f, next.Failures)
		next.NextAttempt = start.Add(wait)
		next.LastError = err.Error()
		p.log.Warn("feed poll failed", "feed", source, "url", Redact(f.URL), "outcome", string(o),
			"failures", next.Failures, "retry_in", wait, "err", err)
	case OutcomeLimited:
		next.Failures, next.LastError = 0, ""
		next.NextAttempt = start.Add(max(retryAfter, time.Second))
		p.log.Info("feed items held back by the intake rate", "feed", source, "retry_in", max(retryAfter, time.Second))
	default:
		if st.Failures > 0 {
			p.log.Info("feed is back", "feed", source, "url", Redact(f.URL), "after_failures", st.Failures)
		}
		next.Failures, next.LastError = 0, ""
		next.NextAttempt = start.Add(f.Interval())
	}
	p.metrics.poll(source, o)
	if serr := p.save(ctx, key, next); serr != nil {
		p.log.Warn("feed state not saved", "feed", source, "url", Redact(f.URL), "err", serr)
		err = errors.Join(err, serr)
	}
	if p.polled != nil {
		p.polled(f, o)
	}
	return o, next.NextAttempt, err
}

// attempt fetches f, and delivers what is new in it, into next; for
// OutcomeLimited it also returns how long the intake asks to wait.
func (p *Poller) attempt(ctx context.Context, f workflow.Feed, prev feedState, next *feedState) (Outcome, time.Duration, error) {
	resp, err := p.fetch(ctx, f, prev)
	if err != nil {
		return OutcomeFetchError, 0, err
	}
	if resp.notModified {
		return OutcomeUnchanged, 0, nil
	}
	doc, err := parse(resp.body)
	if err != nil {
		return OutcomeParseError, 0, err
	}
	source := sourceOf(f)
	found := entries(doc, f, p.clock.Now())

	seen := make(map[string]bool, len(prev.Seen))
	for _, k := range prev.Seen {
		seen[k] = true
	}
	// New is what the last fetch did not hold, whatever its date: a search
	// feed lists a post indexed late under its older date, and the intake
	// must not miss it.
	var pending []entry
	for _, it := range found {
		if !it.skip && !seen[it.key] {
			pending = append(pending, it)
		}
	}
	// Oldest first, so that candidates are numbered as the posts came.
	slices.SortStableFunc(pending, func(a, b entry) int { return a.item.FoundAt.Compare(b.item.FoundAt) })
	done, o, retryAfter, err := p.deliver(ctx, f, source, pending)

	// What was not delivered stays out of Seen, and the old validators are
	// kept, so that the next fetch brings it again.
	undelivered := map[string]bool{}
	for i, it := range pending {
		if !done[i] {
			undelivered[it.key] = true
		} else if it.dated && it.item.FoundAt.After(next.Newest) {
			next.Newest = it.item.FoundAt
		}
	}
	next.Seen = next.Seen[:0:0]
	for _, it := range found {
		if len(next.Seen) == maxSeen {
			break
		}
		if !undelivered[it.key] {
			next.Seen = append(next.Seen, it.key)
		}
	}
	if len(undelivered) == 0 {
		next.ETag, next.LastModified = resp.etag, resp.lastModified
	}
	return o, retryAfter, err
}

// deliver hands pending to the Receiver in batches of at most
// workflow.MaxIntakeBatch, oldest first, and says which were done with
// (delivered, or refused as bad by the intake and so never retried).
func (p *Poller) deliver(ctx context.Context, f workflow.Feed, source string, pending []entry) (map[int]bool, Outcome, time.Duration, error) {
	done := map[int]bool{}
	queue := make([]int, len(pending)) // indexes into pending
	for i := range queue {
		queue[i] = i
	}
	sent := 0
	defer func() { p.metrics.items(source, sent) }()
	for len(queue) > 0 {
		batch := queue[:min(len(queue), workflow.MaxIntakeBatch)]
		its := make([]workflow.Item, len(batch))
		for i, j := range batch {
			its[i] = pending[j].item
		}
		got, err := p.recv.Intake(ctx, source, its)
		var (
			limit *workflow.LimitError
			bad   *workflow.ItemError
		)
		switch {
		case err == nil || len(got) == len(batch):
			if err != nil {
				// Stored; a follow-up step (a rule's opening) failed, and
				// the intake's timers repair it.
				p.log.Warn("feed items stored, a follow-up failed", "feed", source, "err", err)
			}
			for _, j := range batch {
				done[j] = true
			}
			sent += len(batch)
			queue = queue[len(batch):]
		case errors.As(err, &limit):
			return done, OutcomeLimited, limit.RetryAfter, err
		case errors.As(err, &bad) && bad.Index >= 0 && bad.Index < len(batch):
			j := batch[bad.Index]
			p.log.Warn("feed item refused by the intake; skipped", "feed", source, "item", pending[j].item.ID, "err", err)
			done[j] = true
			queue = append(queue[:bad.Index:bad.Index], queue[bad.Index+1:]...)
		default:
			return done, OutcomeDeliverError, 0, fmt.Errorf("deliver: %w", err)
		}
	}
	if sent == 0 {
		return done, OutcomeEmpty, 0, nil
	}
	return done, OutcomeNew, 0, nil
}

// sourceOf is the source f's items are reported as: its Source, else the
// host of its URL.
func sourceOf(f workflow.Feed) string {
	if f.Source != "" {
		return f.Source
	}
	if u, err := url.Parse(f.URL); err == nil {
		if h := strings.ToLower(u.Hostname()); workflow.ValidSourceName(h) {
			return h
		}
	}
	return "feed"
}

// metrics are the Poller's collectors.
type metrics struct {
	polls *prometheus.CounterVec
	count *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, log *slog.Logger) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_feed_polls_total",
			Help: "Polls of watched feeds, by feed (its source name) and outcome: new, unchanged (304), empty, error_fetch, error_parse, error_deliver, limited.",
		}, []string{"feed", "outcome"}),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "firebreak_feed_items_total",
			Help: "Items of watched feeds delivered to the monitoring intake, by feed (its source name).",
		}, []string{"feed"}),
	}
	if reg != nil {
		m.polls = register(reg, m.polls, log)
		m.count = register(reg, m.count, log)
	}
	return m
}

// register registers c on reg, or returns the same collector already there
// (a second Poller on one registry).
func register(reg prometheus.Registerer, c *prometheus.CounterVec, log *slog.Logger) *prometheus.CounterVec {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		if old, ok := dup.ExistingCollector.(*prometheus.CounterVec); ok {
			return old
		}
	}
	log.Warn("feed metrics not registered", "err", err)
	return c
}

// init makes every series of a feed exist from the start, at zero, so that
// rates and alerts see it before its first failure.
func (m *metrics) init(feed string) {
	for _, o := range outcomes {
		m.polls.WithLabelValues(feed, string(o))
	}
	m.count.WithLabelValues(feed)
}

func (m *metrics) poll(feed string, o Outcome) { m.polls.WithLabelValues(feed, string(o)).Inc() }

func (m *metrics) items(feed string, n int) {
	if n > 0 {
		m.count.WithLabelValues(feed).Add(float64(n))
	}
}
