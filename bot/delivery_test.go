package bot_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

var deliveryT0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

// fakeOutbox is an in-memory bot.DeliveryStore with the semantics of the
// Redis one: one stream, consumer groups with pending lists whose idle time
// is measured on the injected clock.
type fakeOutbox struct {
	mu      sync.Mutex
	clock   workflow.Clock
	entries []workflow.Notice
	groups  map[string]*fakeGroup
	sent    map[string]bool
	dead    []bot.DeadLetter
	owners  map[string]fakeLease
	reads   chan struct{} // gets a value on every ReadOutbox, when set
	// fullReads and newReads count ReadOutbox and ReadNewOutbox calls.
	fullReads, newReads int
	// released counts Release calls.
	released int
	// markFails is how many MarkSent calls fail from now on.
	markFails int
	// sentChecks and marks count WasSent and (successful) MarkSent calls.
	sentChecks, marks int
}

type fakeGroup struct {
	next    int                     // index of the first entry never read
	pending map[int]*fakePendingRef // by entry index
}

type fakePendingRef struct {
	consumer string
	readAt   time.Time
}

type fakeLease struct {
	owner string
	until time.Time
}

func newFakeOutbox(clock workflow.Clock) *fakeOutbox {
	return &fakeOutbox{clock: clock, groups: map[string]*fakeGroup{}, sent: map[string]bool{}, owners: map[string]fakeLease{}}
}

func (f *fakeOutbox) add(ns ...workflow.Notice) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, ns...)
}

// fakeHandle is the handle of entry i: its index, in a format of the fake's
// own (handles are opaque to the Dispatcher).
func fakeHandle(i int) string { return "entry-" + strconv.Itoa(i) }

func fakeIndex(h string) int {
	i, err := strconv.Atoi(strings.TrimPrefix(h, "entry-"))
	if err != nil || !strings.HasPrefix(h, "entry-") {
		panic(fmt.Sprintf("bad handle %q", h))
	}
	return i
}

func (f *fakeOutbox) group(name string) *fakeGroup {
	g := f.groups[name]
	if g == nil {
		g = &fakeGroup{pending: map[int]*fakePendingRef{}}
		f.groups[name] = g
	}
	return g
}

func (f *fakeOutbox) delivery(i int) bot.Delivery {
	return bot.Delivery{Handle: fakeHandle(i), Seq: bot.Seq{Log: "fake", N: uint64(i)}, Notice: f.entries[i]}
}

func (f *fakeOutbox) ReadOutbox(_ context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	f.mu.Lock()
	defer func() {
		f.mu.Unlock()
		if f.reads != nil {
			select {
			case f.reads <- struct{}{}:
			default:
			}
		}
	}()
	f.fullReads++
	g, now := f.group(group), f.clock.Now()
	var ds []bot.Delivery
	for _, i := range slices.Sorted(maps.Keys(g.pending)) {
		if p := g.pending[i]; p.consumer == consumer && len(ds) < max {
			p.readAt = now
			ds = append(ds, f.delivery(i))
		}
	}
	for ; g.next < len(f.entries) && len(ds) < max; g.next++ {
		g.pending[g.next] = &fakePendingRef{consumer: consumer, readAt: now}
		ds = append(ds, f.delivery(g.next))
	}
	return ds, nil
}

// ReadNewOutbox makes the fake a bot.NewReader: new entries only.
func (f *fakeOutbox) ReadNewOutbox(_ context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.newReads++
	g, now := f.group(group), f.clock.Now()
	var ds []bot.Delivery
	for ; g.next < len(f.entries) && len(ds) < max; g.next++ {
		g.pending[g.next] = &fakePendingRef{consumer: consumer, readAt: now}
		ds = append(ds, f.delivery(g.next))
	}
	return ds, nil
}

func (f *fakeOutbox) AckOutbox(_ context.Context, group string, ds ...bot.Delivery) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range ds {
		delete(f.group(group).pending, fakeIndex(d.Handle))
	}
	return nil
}

func (f *fakeOutbox) ClaimStale(_ context.Context, group, consumer string, minIdle time.Duration, max int) ([]bot.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, now := f.group(group), f.clock.Now()
	var ds []bot.Delivery
	for _, i := range slices.Sorted(maps.Keys(g.pending)) {
		if p := g.pending[i]; now.Sub(p.readAt) >= minIdle && len(ds) < max {
			p.consumer, p.readAt = consumer, now
			ds = append(ds, f.delivery(i))
		}
	}
	return ds, nil
}

func (f *fakeOutbox) WasSent(_ context.Context, group string, ds ...bot.Delivery) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sentChecks++
	sent := make([]bool, len(ds))
	for i, d := range ds {
		sent[i] = f.sent[group+"|"+d.Notice.ID]
	}
	return sent, nil
}

func (f *fakeOutbox) MarkSent(_ context.Context, group string, _ time.Duration, ds ...bot.Delivery) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markFails > 0 {
		f.markFails--
		return nil, errors.New("connection reset")
	}
	f.marks++
	first := make([]bool, len(ds))
	for i, d := range ds {
		k := group + "|" + d.Notice.ID
		first[i] = !f.sent[k]
		f.sent[k] = true
	}
	return first, nil
}

func (f *fakeOutbox) DeadLetter(_ context.Context, group string, d bot.Delivery, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dead = append(f.dead, bot.DeadLetter{Delivery: d, Reason: reason, At: f.clock.Now()})
	delete(f.group(group).pending, fakeIndex(d.Handle))
	return nil
}

func (f *fakeOutbox) DeadLetters(_ context.Context, _ string, max int) ([]bot.DeadLetter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := slices.Clone(f.dead)
	slices.Reverse(out)
	return out[:min(max, len(out))], nil
}

func (f *fakeOutbox) OwnTarget(_ context.Context, group, target, consumer string, lease time.Duration) (string, time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, now := group+"|"+target, f.clock.Now()
	if l, ok := f.owners[k]; ok && now.Before(l.until) && l.owner != consumer {
		return l.owner, l.until.Sub(now), nil
	}
	f.owners[k] = fakeLease{owner: consumer, until: now.Add(lease)}
	return consumer, lease, nil
}

func (f *fakeOutbox) Handover(_ context.Context, group, consumer string, idle time.Duration, ds ...bot.Delivery) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(group)
	for _, d := range ds {
		if p := g.pending[fakeIndex(d.Handle)]; p != nil {
			p.consumer, p.readAt = consumer, f.clock.Now().Add(-idle)
		}
	}
	return nil
}

// Release frees the targets consumer owns and makes its pending entries
// claimable at once (the fake has no shard reader leases: any consumer
// reads new entries).
func (f *fakeOutbox) Release(_ context.Context, group, consumer string, targets ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, target := range targets {
		if k := group + "|" + target; f.owners[k].owner == consumer {
			delete(f.owners, k)
		}
	}
	for _, p := range f.group(group).pending {
		if p.consumer == consumer {
			p.readAt = time.Time{} // idle since forever
		}
	}
	f.released++
	return nil
}

// pendingCount is the number of entries read by group and not acked.
func (f *fakeOutbox) pendingCount(group string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.group(group).pending)
}

// fakeSender records what it sends. Target is the notice's audience, except
// "nowhere", which has no chat on this platform. fail decides the error of
// each call (nil: accepted).
type fakeSender struct {
	platform string
	clock    workflow.Clock
	fail     func(n workflow.Notice, target string, call int) error

	mu    sync.Mutex
	calls map[string]int // by target
	log   []sendCall     // every call, accepted or not
	sent  chan string    // gets the ID of every accepted notice, when set
}

type sendCall struct {
	id, target string
	at         time.Duration // since deliveryT0
	err        error
}

func (s *fakeSender) Platform() string { return s.platform }

func (s *fakeSender) Target(n workflow.Notice) string {
	if n.Audience == "nowhere" {
		return ""
	}
	return string(n.Audience)
}

func (s *fakeSender) Send(_ context.Context, n workflow.Notice, m bot.Message) error {
	if m.Text != "text of "+n.ID {
		return fmt.Errorf("message of %s: got %q", n.ID, m.Text)
	}
	target := s.Target(n)
	s.mu.Lock()
	if s.calls == nil {
		s.calls = map[string]int{}
	}
	s.calls[target]++
	var err error
	if s.fail != nil {
		err = s.fail(n, target, s.calls[target])
	}
	s.log = append(s.log, sendCall{id: n.ID, target: target, at: s.clock.Now().Sub(deliveryT0), err: err})
	s.mu.Unlock()
	if err == nil && s.sent != nil {
		s.sent <- n.ID
	}
	return err
}

// wantDrained checks that no entry of group is left pending: each was
// acknowledged or dead-lettered.
func wantDrained(tb testing.TB, f *fakeOutbox, group string) {
	tb.Helper()
	if got := f.pendingCount(group); got != 0 {
		tb.Errorf("pending: got %d, want 0 (every entry acked or dead-lettered)", got)
	}
}

// accepted returns, per target, the IDs accepted and when, in call order.
func (s *fakeSender) accepted() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, c := range s.log {
		if c.err == nil {
			out[c.target] = append(out[c.target], fmt.Sprintf("%s@%s", c.id, c.at))
		}
	}
	return out
}

// callTimes returns when notice id was tried.
func (s *fakeSender) callTimes(id string) []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for _, c := range s.log {
		if c.id == id {
			out = append(out, c.at)
		}
	}
	return out
}

func notice(id, audience string) workflow.Notice {
	return workflow.Notice{ID: id, Incident: "YQ-1", Audience: workflow.Audience(audience),
		Body: bot.EncodeMessage(bot.Message{Kind: "reminder", Text: "text of " + id})}
}

type deliveryFixture struct {
	clock   *workflow.ManualClock
	store   *fakeOutbox
	sender  *fakeSender
	metrics *bot.Metrics
}

func newDeliveryFixture(platform string) *deliveryFixture {
	clock := workflow.NewManualClock(deliveryT0)
	return &deliveryFixture{clock: clock, store: newFakeOutbox(clock),
		sender: &fakeSender{platform: platform, clock: clock}, metrics: &bot.Metrics{}}
}

// dispatcher returns a Dispatcher of the fixture with a backoff without
// jitter (1s, 2s, 4s, ...).
func (f *deliveryFixture) dispatcher(consumer string) *bot.Dispatcher {
	return &bot.Dispatcher{
		Store: f.store, Sender: f.sender, Consumer: consumer, Clock: f.clock, Metrics: f.metrics,
		Backoff: func(attempt int) time.Duration { return time.Second << (attempt - 1) },
	}
}

// runFor runs d.Run with a Sleep that moves the fixture's clock instead of
// waiting, until the clock has moved by span.
func (f *deliveryFixture) runFor(tb testing.TB, d *bot.Dispatcher, span time.Duration) {
	tb.Helper()
	f.runIdle(tb, d, span, nil)
}

func mustDeliverOnce(tb testing.TB, d *bot.Dispatcher) int {
	tb.Helper()
	n, err := d.DeliverOnce(context.Background())
	if err != nil {
		tb.Fatalf("DeliverOnce: %v", err)
	}
	return n
}

func (f *deliveryFixture) metric(tb testing.TB, name string) string {
	tb.Helper()
	var b bytes.Buffer
	if err := f.metrics.WriteText(&b); err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, name+"{") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func wantAccepted(tb testing.TB, s *fakeSender, want map[string][]string) {
	tb.Helper()
	got := s.accepted()
	for _, target := range slices.Sorted(maps.Keys(want)) {
		if !slices.Equal(got[target], want[target]) {
			tb.Errorf("sent to %s:\ngot  %q\nwant %q", target, got[target], want[target])
		}
	}
	for target := range got {
		if _, ok := want[target]; !ok {
			tb.Errorf("sent to %s: got %q, want nothing", target, got[target])
		}
	}
}

// limitedSender is a fakeSender that states its platform's limits.
type limitedSender struct {
	*fakeSender
	limit func(target string) bot.RateLimit
}

func (s limitedSender) RateLimit(target string) bot.RateLimit { return s.limit(target) }

func TestDeliveryOrderAndRateLimits(t *testing.T) {
	groups := func(target string) bot.RateLimit { // as a platform may say
		if strings.HasPrefix(target, "-") {
			return bot.RateLimit{Interval: 3 * time.Second, Burst: 1}
		}
		return bot.RateLimit{Interval: time.Second, Burst: 1}
	}
	tests := []struct {
		name    string
		sender  func(string) bot.RateLimit // the Sender's RateLimit; nil: it is no RateLimiter
		limit   func(string) bot.RateLimit // Dispatcher.RateLimit
		notices []workflow.Notice
		want    map[string][]string
	}{
		{
			name: "a sender that states no limit: one per second per target, targets independent",
			notices: []workflow.Notice{notice("a1", "C1"), notice("b1", "C2"), notice("a2", "C1"),
				notice("a3", "C1"), notice("b2", "C2")},
			want: map[string][]string{"C1": {"a1@0s", "a2@1s", "a3@2s"}, "C2": {"b1@0s", "b2@1s"}},
		},
		{
			name:   "the sender's limits, per target",
			sender: groups,
			notices: []workflow.Notice{notice("g1", "-100222"), notice("p1", "1001"), notice("g2", "-100222"),
				notice("p2", "1001"), notice("g3", "-100222")},
			want: map[string][]string{"-100222": {"g1@0s", "g2@3s", "g3@6s"}, "1001": {"p1@0s", "p2@1s"}},
		},
		{
			name:    "a limit with a burst",
			sender:  func(string) bot.RateLimit { return bot.RateLimit{Interval: 10 * time.Second, Burst: 2} },
			notices: []workflow.Notice{notice("a1", "C1"), notice("a2", "C1"), notice("a3", "C1"), notice("a4", "C1")},
			want:    map[string][]string{"C1": {"a1@0s", "a2@0s", "a3@10s", "a4@20s"}},
		},
		{
			name:    "no limit",
			sender:  func(string) bot.RateLimit { return bot.RateLimit{} },
			notices: []workflow.Notice{notice("a1", "C1"), notice("a2", "C1"), notice("a3", "C1")},
			want:    map[string][]string{"C1": {"a1@0s", "a2@0s", "a3@0s"}},
		},
		{
			name:    "the Dispatcher's RateLimit over the sender's",
			sender:  groups,
			limit:   func(string) bot.RateLimit { return bot.RateLimit{Interval: 5 * time.Second, Burst: 1} },
			notices: []workflow.Notice{notice("a1", "1001"), notice("a2", "1001")},
			want:    map[string][]string{"1001": {"a1@0s", "a2@5s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture("chat")
			f.store.add(tt.notices...)
			d := f.dispatcher("r1")
			if tt.sender != nil {
				d.Sender = limitedSender{fakeSender: f.sender, limit: tt.sender}
			}
			d.RateLimit = tt.limit
			f.runFor(t, d, time.Minute)
			wantAccepted(t, f.sender, tt.want)
			wantDrained(t, f.store, "chat")
			want := fmt.Sprintf("firebreak_outbox_sent_total{platform=%q} %d", "chat", len(tt.notices))
			if got := f.metric(t, "firebreak_outbox_sent_total"); got != want {
				t.Errorf("metric: got %q, want %q", got, want)
			}
		})
	}
}

// TestDeliveryRetryAfter: a platform that answers 429 holds its target until
// the time it gives, on the injected clock; the same message goes first when
// it is over, order is kept, nothing is lost, and other targets go on.
func TestDeliveryRetryAfter(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	f.sender.fail = func(_ workflow.Notice, target string, call int) error {
		if target == "C1" && call <= 2 {
			return &bot.RetryAfterError{After: 30 * time.Second}
		}
		return nil
	}
	f.store.add(notice("a1", "C1"), notice("b1", "C2"), notice("a2", "C1"), notice("b2", "C2"), notice("a3", "C1"))
	d := f.dispatcher("r1")
	f.runFor(t, d, 2*time.Minute)

	wantAccepted(t, f.sender, map[string][]string{
		"C1": {"a1@1m0s", "a2@1m1s", "a3@1m2s"},
		"C2": {"b1@0s", "b2@1s"},
	})
	if got, want := f.sender.callTimes("a1"), []time.Duration{0, 30 * time.Second, time.Minute}; !slices.Equal(got, want) {
		t.Errorf("a1 tried at: got %v, want %v", got, want)
	}
	if got := f.sender.callTimes("a2"); len(got) != 1 {
		t.Errorf("a2 tried at: got %v, want once (nothing overtakes a held message)", got)
	}
	for name, want := range map[string]string{
		"firebreak_outbox_rate_limited_total": `firebreak_outbox_rate_limited_total{platform="slack"} 2`,
		"firebreak_outbox_sent_total":         `firebreak_outbox_sent_total{platform="slack"} 5`,
		"firebreak_outbox_retries_total":      "",
		"firebreak_outbox_dead_letters_total": "",
	} {
		if got := f.metric(t, name); got != want {
			t.Errorf("metric %s: got %q, want %q", name, got, want)
		}
	}
	wantDrained(t, f.store, "slack")
}

// TestDeliveryFailures: errors other than 429 are retried with backoff,
// holding back the target's later messages, and dead-lettered after
// MaxAttempts; ErrNoRoute and notices without a target are acked silently.
func TestDeliveryFailures(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	f.sender.fail = func(n workflow.Notice, _ string, call int) error {
		switch n.ID {
		case "bad":
			return errors.New("502 bad gateway")
		case "gone":
			return fmt.Errorf("channel archived: %w", bot.ErrNoRoute)
		case "flaky":
			if call <= 2 {
				return errors.New("connection reset")
			}
		}
		return nil
	}
	garbled := workflow.Notice{ID: "garbled", Incident: "YQ-2", Audience: "C3", Body: []byte("{not json")}
	f.store.add(notice("bad", "C1"), notice("flaky", "C2"), notice("after", "C1"), notice("gone", "C4"),
		notice("none", "nowhere"), garbled)
	d := f.dispatcher("r1")
	f.runFor(t, d, 5*time.Minute)

	s := time.Second
	if got, want := f.sender.callTimes("bad"), []time.Duration{0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s, 63 * s, 127 * s}; !slices.Equal(got, want) {
		t.Errorf("bad tried at: got %v, want %v (8 attempts, backoff 1s, 2s, 4s, ...)", got, want)
	}
	wantAccepted(t, f.sender, map[string][]string{
		"C1": {"after@2m8s"}, // after the dead letter, at the rate limit
		"C2": {"flaky@3s"},   // failed at 0s and 1s
	})
	if got := f.sender.callTimes("none"); len(got) != 0 {
		t.Errorf("none: got %v, want never sent", got)
	}
	dead, _ := f.store.DeadLetters(context.Background(), "slack", 10)
	var got []string
	for _, dl := range dead {
		got = append(got, dl.Notice.ID+": "+dl.Reason)
	}
	want := []string{
		"bad: 8 attempts failed, the last: 502 bad gateway",
		"garbled: notice cannot be rendered: decode message: invalid character 'n' looking for beginning of object key string",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("dead letters:\ngot  %q\nwant %q", got, want)
	}
	for name, want := range map[string]string{
		"firebreak_outbox_sent_total":         `firebreak_outbox_sent_total{platform="slack"} 2`,
		"firebreak_outbox_retries_total":      `firebreak_outbox_retries_total{platform="slack"} 9`, // 7 of bad, 2 of flaky
		"firebreak_outbox_dead_letters_total": `firebreak_outbox_dead_letters_total{platform="slack"} 2`,
	} {
		if got := f.metric(t, name); got != want {
			t.Errorf("metric %s: got %q, want %q", name, got, want)
		}
	}
	wantDrained(t, f.store, "slack")
}

// TestDeliveryDedupe: a notice is shown once even when its entry is read
// again: after a crash between the mark and the ack, or when the same notice
// was appended twice. The one window left is documented: a crash after the
// platform accepted a message and before the mark.
func TestDeliveryDedupe(t *testing.T) {
	tests := []struct {
		name     string
		markedBy string // a consumer that sent and marked n1, then died before acking
		readBy   string // a consumer that read n1, then died before marking
		twice    bool   // n1 appended twice
		want     []string
	}{
		{name: "crash between mark and ack", markedBy: "dead", want: []string{"n2@1m30s"}},
		{name: "appended twice", twice: true, want: []string{"n1@0s", "n2@1s"}},
		{name: "crash between send and mark: sent again", readBy: "dead", want: []string{"n1@1m30s", "n2@1m31s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformSlack)
			ctx := context.Background()
			f.store.add(notice("n1", "C1"))
			if tt.twice {
				f.store.add(notice("n1", "C1"))
			}
			f.store.add(notice("n2", "C1"))
			if c := cmp.Or(tt.markedBy, tt.readBy); c != "" {
				ds, _ := f.store.ReadOutbox(ctx, "slack", c, 10)
				if tt.markedBy != "" {
					_, _ = f.store.MarkSent(ctx, "slack", time.Hour, ds[0])
				}
				// It owned the target too, for 90s: r2 takes both over
				// when the lease runs out.
				_, _, _ = f.store.OwnTarget(ctx, "slack", "C1", c, 90*time.Second)
			}
			d := f.dispatcher("r2")
			f.runFor(t, d, 3*time.Minute)
			wantAccepted(t, f.sender, map[string][]string{"C1": tt.want})
			wantDrained(t, f.store, "slack")
		})
	}
}

// TestDeliveryAcrossReplicas: one replica owns a target; another that reads
// its notices hands them over, so order and rate limit hold across replicas.
// When the owner dies, the other takes its entries and the target over after
// MinIdle, and nothing is lost or sent twice.
func TestDeliveryAcrossReplicas(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	r1, r2 := f.dispatcher("r1"), f.dispatcher("r2")
	r1.MinIdle, r2.MinIdle = time.Minute, time.Minute // the times below are in these terms
	step := func(tb testing.TB, advance time.Duration, ds ...*bot.Dispatcher) {
		tb.Helper()
		f.clock.Advance(advance)
		for _, d := range ds {
			mustDeliverOnce(tb, d)
		}
	}
	f.store.add(notice("a1", "C1"), notice("a2", "C1"))
	step(t, 0, r1) // r1 owns C1 and sends a1; a2 waits for the rate limit
	f.store.add(notice("a3", "C1"), notice("b1", "C2"))
	step(t, 0, r2) // r2 reads a3 (handed to r1) and b1 (sent: C2 is free)
	step(t, time.Second, r2, r1)
	step(t, time.Second, r2, r1)
	wantAccepted(t, f.sender, map[string][]string{"C1": {"a1@0s", "a2@1s", "a3@2s"}, "C2": {"b1@0s"}})

	// r1 reads a4 and a5, sends a4 and dies at 3s. r2 takes a5 and the
	// target over when r1's lease (taken at 0s for 1.5×MinIdle) runs out.
	// At 1m15s, a5 was stale but C1 still r1's: r2 handed it back to r1.
	// a6, read by r2 at 33s, is handed to r1 too; both go out in order.
	f.store.add(notice("a4", "C1"), notice("a5", "C1"))
	step(t, time.Second, r1)
	for i := range 120 {
		if i == 30 {
			f.store.add(notice("a6", "C1"))
		}
		step(t, time.Second, r2)
	}
	wantAccepted(t, f.sender, map[string][]string{
		"C1": {"a1@0s", "a2@1s", "a3@2s", "a4@3s", "a5@1m30s", "a6@1m31s"},
		"C2": {"b1@0s"},
	})
	wantDrained(t, f.store, "slack")
}

// TestDeliveryReleaseOnStop: a replica that stops gracefully (Run's ctx is
// done) releases its targets and what it read, so the next one delivers at
// once, without waiting for a lease: first what the stopped one held, then
// the new notices, each once. A message the platform accepted whose mark
// failed is marked on the way out, and not sent again.
func TestDeliveryReleaseOnStop(t *testing.T) {
	tests := []struct {
		name      string
		markFails int
		want      map[string][]string
	}{
		{
			name: "idle at stop",
			want: map[string][]string{"C1": {"a1@0s", "a2@1s", "a3@2s"}, "C2": {"b1@0s"}},
		},
		{
			// a1's mark fails; Run backs off and stops before retrying:
			// Release marks a1 sent, so B does not send it again.
			name: "a mark failed at stop", markFails: 1,
			want: map[string][]string{"C1": {"a1@0s", "a2@1s", "a3@2s"}, "C2": {"b1@0s"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformSlack)
			f.store.markFails = tt.markFails
			f.store.add(notice("a1", "C1"), notice("b1", "C2"), notice("a2", "C1"))

			// A sends a1 and b1, holds a2 back for the rate limit, and
			// stops while it waits: a graceful shutdown.
			a := f.dispatcher("A")
			ctx, stop := context.WithCancel(context.Background())
			a.Sleep = func(context.Context, time.Duration) error { stop(); return nil }
			if err := a.Run(ctx); err != nil {
				t.Fatalf("Run A: %v", err)
			}
			if f.store.released != 1 {
				t.Errorf("Release calls: got %d, want 1", f.store.released)
			}

			// B starts a second later, long before any lease of A (15 s)
			// or MinIdle (10 s) runs out.
			f.store.add(notice("a3", "C1"))
			f.clock.Advance(time.Second)
			f.runFor(t, f.dispatcher("B"), 3*time.Second)
			wantAccepted(t, f.sender, tt.want)
			wantDrained(t, f.store, "slack")
		})
	}
}

// TestDeliveryPassBound: a pass starts no message after MinIdle/2, so that
// a slow platform cannot keep it from reading its pending entries again (and
// renewing its leases) within MinIdle; the next pass goes on at once.
func TestDeliveryPassBound(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformWeb)
	f.sender.fail = func(workflow.Notice, string, int) error {
		f.clock.Advance(2 * time.Second) // each send takes 2s
		return nil
	}
	f.store.add(notice("a1", "C1"), notice("a2", "C1"), notice("a3", "C1"), notice("a4", "C1"), notice("a5", "C1"))
	d := f.dispatcher("r1")
	d.RateLimit = func(string) bot.RateLimit { return bot.RateLimit{} } // one pass could send all
	d.MinIdle = 10 * time.Second
	if got := mustDeliverOnce(t, d); got != 3 {
		t.Errorf("first pass sent %d, want 3 (started at 0s, 2s and 4s; none at 6s, past MinIdle/2)", got)
	}
	if got := mustDeliverOnce(t, d); got != 2 {
		t.Errorf("second pass sent %d, want the other 2", got)
	}
	// Recorded when the platform accepted them, 2s after each started.
	wantAccepted(t, f.sender, map[string][]string{"C1": {"a1@2s", "a2@4s", "a3@6s", "a4@8s", "a5@10s"}})
}

// TestDeliveryWake: Wake ends Run's wait at once.
func TestDeliveryWake(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformWeb)
	f.store.reads = make(chan struct{}, 1)
	f.sender.sent = make(chan string, 1)
	d := f.dispatcher("r1")
	d.Poll, d.MinIdle = time.Hour, 24*time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	<-f.store.reads // the first pass found nothing; Run waits an hour
	f.store.add(notice("n1", "C1"))
	d.Wake()
	select {
	case id := <-f.sender.sent:
		if id != "n1" {
			t.Errorf("sent: got %q, want n1", id)
		}
	case <-time.After(10 * time.Second):
		t.Error("Wake did not end the wait")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
}

func TestDefaultBackoff(t *testing.T) {
	for attempt, full := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 8: 128 * time.Second,
		9: 256 * time.Second, 10: 5 * time.Minute, 60: 5 * time.Minute,
	} {
		for range 100 {
			if got := bot.DefaultBackoff(attempt); got < full/2 || got > full {
				t.Fatalf("DefaultBackoff(%d): got %s, want between %s and %s", attempt, got, full/2, full)
			}
		}
	}
}

// cutOffSender is a platform that accepts every message, but whose client
// reports the cancellation of its context instead when that is cancelled
// during the request, as an HTTP client does: the message is shown, the
// sender sees an error. The first send of a1 is where the shutdown comes.
type cutOffSender struct {
	*fakeSender
	stop    func()
	stopped bool
}

func (s *cutOffSender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	err := s.fakeSender.Send(ctx, n, m)
	if n.ID == "a1" && !s.stopped {
		s.stopped = true
		s.stop() // SIGTERM arrives while the request is under way
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// TestDeliveryStopMidSend: a send under way when the dispatcher is told to
// stop finishes and is marked, so the next replica does not send it again.
func TestDeliveryStopMidSend(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	f.store.add(notice("a1", "C1"), notice("a2", "C1"))
	ctx, stop := context.WithCancel(context.Background())
	a := f.dispatcher("A")
	a.Sender = &cutOffSender{fakeSender: f.sender, stop: stop}
	a.Sleep = func(context.Context, time.Duration) error { stop(); return nil }
	if err := a.Run(ctx); err != nil {
		t.Fatalf("Run A: %v", err)
	}
	f.clock.Advance(time.Second)
	f.runFor(t, f.dispatcher("B"), 3*time.Second)
	wantAccepted(t, f.sender, map[string][]string{"C1": {"a1@0s", "a2@1s"}})
	wantDrained(t, f.store, "slack")
}

func TestSeqCompare(t *testing.T) {
	at := deliveryT0
	tests := []struct {
		name string
		a, b bot.Seq
		want int
	}{
		{"one log: by N", bot.Seq{At: at, Log: "s07", N: 1}, bot.Seq{At: at, Log: "s07", N: 2}, -1},
		{"one log: by time first", bot.Seq{At: at.Add(time.Millisecond), Log: "s07", N: 0}, bot.Seq{At: at, Log: "s07", N: 5}, 1},
		{"two logs: by time", bot.Seq{At: at, Log: "s10", N: 9}, bot.Seq{At: at.Add(time.Millisecond), Log: "s02", N: 0}, -1},
		{"two logs at one instant: by log", bot.Seq{At: at, Log: "s02", N: 9}, bot.Seq{At: at, Log: "s10", N: 0}, -1},
		{"the same entry", bot.Seq{At: at, Log: "s07", N: 3}, bot.Seq{At: at.In(time.FixedZone("CST", 8*3600)), Log: "s07", N: 3}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Compare(tt.b); got != tt.want {
				t.Errorf("a.Compare(b): got %d, want %d", got, tt.want)
			}
			if got := tt.b.Compare(tt.a); got != -tt.want {
				t.Errorf("b.Compare(a): got %d, want %d", got, -tt.want)
			}
		})
	}
}

// seqStore is a fakeOutbox whose entries each live in a log of their own
// with a time of their own, and whose reads return them in an order of the
// store's (here: reversed), not the outbox order.
type seqStore struct {
	*fakeOutbox
	seqs map[string]bot.Seq // by notice ID
}

func (s *seqStore) ReadOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	return s.withSeqs(s.fakeOutbox.ReadOutbox(ctx, group, consumer, max))
}

func (s *seqStore) ReadNewOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	return s.withSeqs(s.fakeOutbox.ReadNewOutbox(ctx, group, consumer, max))
}

// withSeqs gives ds their sequences, in reverse order.
func (s *seqStore) withSeqs(ds []bot.Delivery, err error) ([]bot.Delivery, error) {
	for i := range ds {
		ds[i].Seq = s.seqs[ds[i].Notice.ID]
	}
	slices.Reverse(ds)
	return ds, err
}

// TestDeliveryOrderBySeq: a target's messages go out in the order of their
// Seq, whatever the order the store returns them in: exact within a log, by
// time across logs.
func TestDeliveryOrderBySeq(t *testing.T) {
	f := newDeliveryFixture("chat")
	ms := func(n int) time.Time { return deliveryT0.Add(time.Duration(n) * time.Millisecond) }
	store := &seqStore{fakeOutbox: f.store, seqs: map[string]bot.Seq{
		"a": {At: ms(1), Log: "s10", N: 0},
		"b": {At: ms(2), Log: "s02", N: 0},
		"c": {At: ms(2), Log: "s02", N: 1},
		"d": {At: ms(2), Log: "s10", N: 0}, // the same instant as b and c: after s02
		"e": {At: ms(3), Log: "s02", N: 0},
	}}
	f.store.add(notice("e", "C1"), notice("c", "C1"), notice("a", "C1"), notice("d", "C1"), notice("b", "C1"))
	d := f.dispatcher("r1")
	d.Store = store
	d.RateLimit = func(string) bot.RateLimit { return bot.RateLimit{} }
	f.runFor(t, d, time.Minute)
	wantAccepted(t, f.sender, map[string][]string{"C1": {"a@0s", "b@0s", "c@0s", "d@0s", "e@0s"}})
}

// leaseStore is a fakeOutbox with a shard reader lease, as the Redis Store.
type leaseStore struct {
	*fakeOutbox
	lease time.Duration
}

func (s leaseStore) OutboxReaderLease() time.Duration { return s.lease }

// TestDeliveryReaderLease: MinIdle follows the store's reader lease when
// unset, and a MinIdle the lease is too short for (under 1.5×MinIdle) stops
// the Dispatcher before it reads anything, with an error that says what to
// change.
func TestDeliveryReaderLease(t *testing.T) {
	tests := []struct {
		name        string
		lease       time.Duration // 0: the store has no reader lease
		minIdle     time.Duration
		wantMinIdle time.Duration
		wantErr     string
	}{
		{name: "no reader lease: the default", wantMinIdle: 10 * time.Second},
		{name: "no reader lease: as set", minIdle: time.Hour, wantMinIdle: time.Hour},
		{name: "unset: 2/3 of the lease", lease: 15 * time.Second, wantMinIdle: 10 * time.Second},
		{name: "unset, an odd lease", lease: 1001 * time.Millisecond, wantMinIdle: 667333333 * time.Nanosecond},
		{name: "the lease is 1.5×MinIdle", lease: 600 * time.Millisecond, minIdle: 400 * time.Millisecond, wantMinIdle: 400 * time.Millisecond},
		{name: "the lease is longer", lease: time.Hour, minIdle: time.Second, wantMinIdle: time.Second},
		{
			name: "the lease is too short", lease: 15 * time.Second, minIdle: 11 * time.Second,
			wantErr: "dispatcher: MinIdle 11s needs an outbox reader lease of at least 1.5×MinIdle (16.5s), and the store's is 15s: " +
				"set MinIdle to at most 10s, or zero to follow the store, or lengthen the store's reader lease",
		},
		{name: "no lease at all", lease: time.Nanosecond, wantErr: "dispatcher: MinIdle 0s needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformSlack)
			f.store.add(notice("a1", "C1"))
			d := f.dispatcher("r1")
			d.MinIdle = tt.minIdle
			if tt.lease > 0 {
				d.Store = leaseStore{fakeOutbox: f.store, lease: tt.lease}
			}
			d.Sleep = func(context.Context, time.Duration) error {
				t.Error("Run slept: want it to stop at once")
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.wantErr == "" {
				cancel() // one pass, then stop
			}
			err := d.Run(ctx)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.wantErr)):
				t.Fatalf("Run: got %v, want %q", err, tt.wantErr)
			case tt.wantErr != "":
				if _, err := d.DeliverOnce(ctx); err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Errorf("DeliverOnce: got %v, want %q", err, tt.wantErr)
				}
				if got := f.sender.accepted(); len(got) != 0 || f.store.pendingCount("slack") != 0 || f.store.released != 0 {
					t.Errorf("sent %q, %d read, %d released: want nothing done", got, f.store.pendingCount("slack"), f.store.released)
				}
				return
			}
			if d.MinIdle != tt.wantMinIdle {
				t.Errorf("MinIdle: got %s, want %s", d.MinIdle, tt.wantMinIdle)
			}
		})
	}
}

// readsOnlyOutbox hides ReadNewOutbox of a fakeOutbox: a store that is no
// bot.NewReader.
type readsOnlyOutbox struct{ bot.DeliveryStore }

// TestDeliveryHeldEntriesReadAgainEveryPoll: a Dispatcher holding a
// backlog to a chat paced at ten messages a second passes once a message,
// but reads the held entries again only every Poll (1 s), reading just the
// new ones in between; that still keeps them from being taken over by
// another consumer, and an entry handed over to it meanwhile goes out
// within Poll. A store that is no NewReader has them read in every pass.
func TestDeliveryHeldEntriesReadAgainEveryPoll(t *testing.T) {
	const span = 15 * time.Second
	for _, newReader := range []bool{true, false} {
		t.Run(fmt.Sprintf("NewReader=%v", newReader), func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformWeb)
			for i := range 200 {
				f.store.add(notice(fmt.Sprintf("n%d", i), "C1"))
			}
			d := f.dispatcher("r1")
			d.RateLimit = func(target string) bot.RateLimit {
				if target == "C1" {
					return bot.RateLimit{Interval: 100 * time.Millisecond}
				}
				return bot.RateLimit{Interval: time.Second}
			}
			if !newReader {
				d.Store = readsOnlyOutbox{f.store}
			}
			taken := 0
			last := time.Duration(-1)
			f.runIdle(t, d, span, func(now time.Duration) {
				if now == last {
					return
				}
				last = now
				// Another replica, alive, claims what has been idle for
				// MinIdle (10 s).
				ds, _ := f.store.ClaimStale(context.Background(), bot.PlatformWeb, "r2", 10*time.Second, 1000)
				taken += len(ds)
				if now == 9*time.Second {
					f.store.add(notice("handed", "C2"))
					ds, _ := f.store.ReadNewOutbox(context.Background(), bot.PlatformWeb, "r2", 10)
					_ = f.store.Handover(context.Background(), bot.PlatformWeb, "r1", 0, ds...)
				}
			})
			if taken != 0 {
				t.Errorf("another consumer took %d held entries over", taken)
			}
			sent := f.sender.accepted()
			if n := len(sent["C1"]); n < 140 {
				t.Errorf("sent %d to C1 in %v, want ten a second", n, span)
			}
			got := sent["C2"]
			var at time.Duration
			if len(got) == 1 {
				at, _ = time.ParseDuration(strings.TrimPrefix(got[0], "handed@"))
			}
			if len(got) != 1 || at < 9*time.Second || at > 10*time.Second {
				t.Errorf("the entry handed over at 9s: sent %q, want it within Poll (1s)", got)
			}
			full, fresh := f.store.fullReads, f.store.newReads-1 // less the handover's own read
			if newReader {
				if limit := int(span/time.Second) + 1; full > limit || full+fresh < 140 {
					t.Errorf("held entries read again %d times, new entries alone %d times; want at most %d (every second), and a pass a message",
						full, fresh, limit)
				}
			} else if full < 140 || f.store.newReads != 1 {
				t.Errorf("no NewReader: held entries read again %d times (new alone %d), want in every pass", full, f.store.newReads-1)
			}
		})
	}
}
