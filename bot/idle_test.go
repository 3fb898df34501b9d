package bot_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
)

// probeStore is a fakeOutbox that can be probed (bot.OutboxProber), exactly,
// and counts what a Dispatcher asks of it.
type probeStore struct {
	*fakeOutbox
	mu                    sync.Mutex
	probes, reads, claims int
}

func (s *probeStore) ProbeOutbox(_ context.Context, group, consumer string) (bot.Backlog, error) {
	s.mu.Lock()
	s.probes++
	s.mu.Unlock()
	f := s.fakeOutbox
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.group(group)
	b := bot.Backlog{Unread: g.next < len(f.entries)}
	for _, p := range g.pending {
		b.Mine = b.Mine || p.consumer == consumer
		b.Others = b.Others || p.consumer != consumer
	}
	return b, nil
}

func (s *probeStore) ReadOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.fakeOutbox.ReadOutbox(ctx, group, consumer, max)
}

// ReadNewOutbox counts a pass that reads new entries only as a pass too.
func (s *probeStore) ReadNewOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	s.mu.Lock()
	s.reads++
	s.mu.Unlock()
	return s.fakeOutbox.ReadNewOutbox(ctx, group, consumer, max)
}

func (s *probeStore) ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]bot.Delivery, error) {
	s.mu.Lock()
	s.claims++
	s.mu.Unlock()
	return s.fakeOutbox.ClaimStale(ctx, group, consumer, minIdle, max)
}

// counts returns the probes, reads and claims so far.
func (s *probeStore) counts() (probes, reads, claims int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probes, s.reads, s.claims
}

// runIdle runs d.Run on the fixture's clock for span (runFor), and calls
// at(t), when not nil, before each wait, t the time since deliveryT0; a
// wait that at ends (Wake) takes no time. Run never sleeps for nothing.
func (f *deliveryFixture) runIdle(tb testing.TB, d *bot.Dispatcher, span time.Duration, at func(time.Duration)) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	end := f.clock.Now().Add(span)
	d.Sleep = func(sctx context.Context, wait time.Duration) error {
		if wait <= 0 {
			tb.Errorf("Run slept %s", wait)
		}
		if at != nil {
			at(f.clock.Now().Sub(deliveryT0))
		}
		if sctx.Err() != nil {
			return sctx.Err() // woken
		}
		f.clock.Advance(wait)
		if !f.clock.Now().Before(end) {
			cancel()
		}
		return nil
	}
	if err := d.Run(ctx); err != nil {
		tb.Fatalf("Run: %v", err)
	}
}

// TestDeliveryIdle: a Dispatcher that holds nothing passes once, then only
// probes, every IdlePoll, as long as nothing arrives; a store that cannot
// be probed gets a pass every IdlePoll instead; a Poll set alone keeps
// polling at Poll.
func TestDeliveryIdle(t *testing.T) {
	tests := []struct {
		name       string
		probe      bool
		poll, idle time.Duration
		// in a minute: probes, reads (passes) and claims
		probes, reads, claims int
	}{
		{name: "probed every 5s", probe: true, probes: 11, reads: 1, claims: 1},
		{name: "IdlePoll set", probe: true, idle: 20 * time.Second, probes: 2, reads: 1, claims: 1},
		{name: "only Poll set: probed every Poll", probe: true, poll: 2 * time.Second, probes: 29, reads: 1, claims: 1},
		{name: "IdlePoll under Poll: Poll", probe: true, poll: 2 * time.Second, idle: time.Second, probes: 29, reads: 1, claims: 1},
		{name: "no prober: a pass every 5s", reads: 12, claims: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformWeb)
			store := &probeStore{fakeOutbox: f.store}
			d := f.dispatcher("r1")
			d.Store, d.Poll, d.IdlePoll = store, tt.poll, tt.idle
			if !tt.probe {
				d.Store = countingStore{store}
			}
			f.runIdle(t, d, time.Minute, nil)
			probes, reads, claims := store.counts()
			if probes != tt.probes || reads != tt.reads || claims != tt.claims {
				t.Errorf("in a minute: got %d probes, %d passes, %d claims; want %d, %d, %d",
					probes, reads, claims, tt.probes, tt.reads, tt.claims)
			}
		})
	}
}

// countingStore hides ProbeOutbox of a probeStore: a store that cannot be
// probed, whose reads and claims are still counted.
type countingStore struct{ s *probeStore }

func (c countingStore) ReadOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	return c.s.ReadOutbox(ctx, group, consumer, max)
}

func (c countingStore) ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]bot.Delivery, error) {
	return c.s.ClaimStale(ctx, group, consumer, minIdle, max)
}

func (c countingStore) AckOutbox(ctx context.Context, group string, ds ...bot.Delivery) error {
	return c.s.AckOutbox(ctx, group, ds...)
}

func (c countingStore) WasSent(ctx context.Context, group string, ds ...bot.Delivery) ([]bool, error) {
	return c.s.WasSent(ctx, group, ds...)
}

func (c countingStore) MarkSent(ctx context.Context, group string, ttl time.Duration, ds ...bot.Delivery) ([]bool, error) {
	return c.s.MarkSent(ctx, group, ttl, ds...)
}

func (c countingStore) DeadLetter(ctx context.Context, group string, d bot.Delivery, reason string) error {
	return c.s.DeadLetter(ctx, group, d, reason)
}

func (c countingStore) DeadLetters(ctx context.Context, group string, max int) ([]bot.DeadLetter, error) {
	return c.s.DeadLetters(ctx, group, max)
}

func (c countingStore) OwnTarget(ctx context.Context, group, target, consumer string, lease time.Duration) (string, time.Duration, error) {
	return c.s.OwnTarget(ctx, group, target, consumer, lease)
}

func (c countingStore) Handover(ctx context.Context, group, consumer string, idle time.Duration, ds ...bot.Delivery) error {
	return c.s.Handover(ctx, group, consumer, idle, ds...)
}

func (c countingStore) Release(ctx context.Context, group, consumer string, targets ...string) error {
	return c.s.Release(ctx, group, consumer, targets...)
}

// TestDeliveryIdleBounds: what an idle Dispatcher still does, and by when:
// a notice whose wake-up was lost goes out at the next probe (within
// IdlePoll); a woken one at once; the entries of a consumer that died
// (no Release) are taken over within MinIdle+IdlePoll of its last read; and
// once it holds work it passes at Poll, as before, and then idles again.
func TestDeliveryIdleBounds(t *testing.T) {
	tests := []struct {
		name string
		// setup runs before Run; at is called before each wait with the
		// time since the start, and may wake d.
		setup func(f *deliveryFixture)
		at    func(f *deliveryFixture, d *bot.Dispatcher, now time.Duration)
		want  map[string][]string
		// the probes, passes and claims of the minute
		probes, reads, claims int
		// pending at the end
		pending int
	}{
		{
			name: "a lost wake-up: at the next probe",
			at: func(f *deliveryFixture, _ *bot.Dispatcher, now time.Duration) {
				if now == 5*time.Second {
					f.store.add(notice("n1", "C1"), notice("n2", "C1"))
				}
			},
			// found at 10s; n2 a second later (the rate limit), then idle
			// again: probes at 5s, 10s, 16s, 21s, ... 56s
			// claims: at the first pass, and at 10s, before the read and
			// for the target taken
			want:   map[string][]string{"C1": {"n1@10s", "n2@11s"}},
			probes: 11, reads: 3, claims: 3,
		},
		{
			name: "woken: at once",
			at: func(f *deliveryFixture, d *bot.Dispatcher, now time.Duration) {
				if now == 5*time.Second {
					f.store.add(notice("n1", "C1"))
					d.Wake()
				}
			},
			// the probe at 5s came before: probes at 5s, 10s, ... 55s
			want:   map[string][]string{"C1": {"n1@5s"}},
			probes: 11, reads: 2, claims: 3,
		},
		{
			name: "a dead consumer's entries: within MinIdle+IdlePoll",
			setup: func(f *deliveryFixture) {
				f.store.add(notice("n1", "C1"), notice("n2", "C2"))
				_, _ = f.store.ReadOutbox(context.Background(), bot.PlatformWeb, "dead", 10) // and dies
			},
			// pending, not idle long enough at 5s; claimed at 10s
			want:   map[string][]string{"C1": {"n1@10s"}, "C2": {"n2@10s"}},
			probes: 11, reads: 2, claims: 4,
		},
		{
			name: "handed over, the wake-up lost: at the next probe",
			at: func(f *deliveryFixture, _ *bot.Dispatcher, now time.Duration) {
				if now == 5*time.Second {
					f.store.add(notice("n1", "C1"))
					ds, _ := f.store.ReadOutbox(context.Background(), bot.PlatformWeb, "other", 10)
					_ = f.store.Handover(context.Background(), bot.PlatformWeb, "r1", 0, ds...)
				}
			},
			want:   map[string][]string{"C1": {"n1@10s"}},
			probes: 11, reads: 2, claims: 3,
		},
		{
			name: "another consumer holds work: a claim at each probe, nothing taken",
			setup: func(f *deliveryFixture) {
				f.store.add(notice("n1", "C1"))
				_, _ = f.store.ReadOutbox(context.Background(), bot.PlatformWeb, "other", 10)
			},
			at: func(f *deliveryFixture, _ *bot.Dispatcher, _ time.Duration) {
				// other is alive: it reads its pending entry again and again
				_, _ = f.store.ReadOutbox(context.Background(), bot.PlatformWeb, "other", 10)
			},
			want:   map[string][]string{},
			probes: 11, reads: 1, claims: 12,
			pending: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformWeb)
			if tt.setup != nil {
				tt.setup(f)
			}
			store := &probeStore{fakeOutbox: f.store}
			d := f.dispatcher("r1")
			d.Store = store
			last := time.Duration(-1)
			f.runIdle(t, d, time.Minute, func(now time.Duration) {
				if tt.at != nil && now != last { // once at each instant
					tt.at(f, d, now)
				}
				last = now
			})
			wantAccepted(t, f.sender, tt.want)
			if got := f.store.pendingCount(bot.PlatformWeb); got != tt.pending {
				t.Errorf("pending: got %d, want %d", got, tt.pending)
			}
			if probes, reads, claims := store.counts(); probes != tt.probes || reads != tt.reads || claims != tt.claims {
				t.Errorf("in a minute: got %d probes, %d passes, %d claims; want %d, %d, %d",
					probes, reads, claims, tt.probes, tt.reads, tt.claims)
			}
		})
	}
}
