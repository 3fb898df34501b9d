package bot_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// listCoalescer words a notice alone as "text of <id>" and many as
// "coalesced: <id> <id> …", at most per of them (a platform's size limit).
type listCoalescer struct {
	per int
	// fail decides the error of each Coalesce call (nil: none).
	fail  func(call int) error
	mu    sync.Mutex
	calls int
	// budgets are the budgets Coalesce was called with.
	budgets []int
}

func (c *listCoalescer) Render(_ context.Context, n workflow.Notice, _ string) (bot.Message, error) {
	return bot.Message{Text: "text of " + n.ID}, nil
}

func (c *listCoalescer) Coalesce(_ context.Context, ns []workflow.Notice, budget int) (bot.Message, int, error) {
	c.mu.Lock()
	c.calls++
	c.budgets = append(c.budgets, budget)
	call := c.calls
	c.mu.Unlock()
	if c.fail != nil {
		if err := c.fail(call); err != nil {
			return bot.Message{}, 0, err
		}
	}
	k := min(len(ns), c.per)
	var ids []string
	for _, n := range ns[:k] {
		ids = append(ids, n.ID)
	}
	return bot.Message{Text: "coalesced: " + strings.Join(ids, " ")}, k, nil
}

// listSender is a platform with Telegram's limits (a group "-…" 20 a
// minute, other chats one a second) that records every message with the
// notices it shows. fail decides the error of each call (nil: accepted).
type listSender struct {
	clock workflow.Clock
	fail  func(ids []string, call int) error
	// budget is its MessageBudget (0: none stated).
	budget int

	mu   sync.Mutex
	log  []listCall
	call int
}

type listCall struct {
	target string
	ids    []string
	at     time.Duration
	err    error
}

func (s *listSender) Platform() string { return bot.PlatformTelegram }

func (s *listSender) MessageBudget() int { return s.budget }

func (s *listSender) Target(n workflow.Notice) string { return string(n.Audience) }

func (s *listSender) RateLimit(target string) bot.RateLimit {
	if strings.HasPrefix(target, "-") {
		return bot.RateLimit{Interval: 3 * time.Second, Burst: 1}
	}
	return bot.RateLimit{Interval: time.Second, Burst: 1}
}

func (s *listSender) Send(_ context.Context, n workflow.Notice, m bot.Message) error {
	var ids []string
	switch {
	case m.Kind == bot.MessageCoalesced:
		ids = strings.Fields(strings.TrimPrefix(m.Text, "coalesced: "))
	case m.Text == "text of "+n.ID:
		ids = []string{n.ID}
	default:
		return fmt.Errorf("message of %s: got %+v", n.ID, m)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call++
	var err error
	if s.fail != nil {
		err = s.fail(ids, s.call)
	}
	s.log = append(s.log, listCall{target: s.Target(n), ids: ids, at: s.clock.Now().Sub(deliveryT0), err: err})
	return err
}

// accepted is, per target, each message accepted as "<ids joined by +>@<when>".
func (s *listSender) accepted() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, c := range s.log {
		if c.err == nil {
			out[c.target] = append(out[c.target], strings.Join(c.ids, "+")+"@"+c.at.String())
		}
	}
	return out
}

// shown counts, per notice ID, the accepted messages that showed it.
func (s *listSender) shown() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, c := range s.log {
		if c.err == nil {
			for _, id := range c.ids {
				out[id]++
			}
		}
	}
	return out
}

// wantShownOnce fails unless every one of ids was shown exactly once, and
// nothing else.
func wantShownOnce(tb testing.TB, s *listSender, ids []string) {
	tb.Helper()
	got := s.shown()
	for _, id := range ids {
		if got[id] != 1 {
			tb.Errorf("%s shown %d times, want once", id, got[id])
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got)) {
		if !slices.Contains(ids, id) {
			tb.Errorf("%s shown, want never", id)
		}
	}
}

var openedEvent = &workflow.Event{ID: "YQ-1#1.1", Incident: "YQ-1", Kind: workflow.EventOpened}

// card is a routine incident card to audience, which may be coalesced.
func card(id, audience string) workflow.Notice {
	return workflow.NewNotice(id, "YQ-1", workflow.Audience(audience), workflow.Notification{Kind: workflow.NoticeCard, Event: openedEvent})
}

// cards are n routine cards to audience, named prefix1 … prefixN.
func cards(prefix, audience string, n int) ([]workflow.Notice, []string) {
	var ns []workflow.Notice
	var ids []string
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("%s%d", prefix, i)
		ns, ids = append(ns, card(id, audience)), append(ids, id)
	}
	return ns, ids
}

// joined is "<prefix>from+…+<prefix>to".
func joined(prefix string, from, to int) string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("%s%d", prefix, i))
	}
	return strings.Join(ids, "+")
}

// each is "<prefix>i@<start+k·every>" for i in from…to.
func each(prefix string, from, to int, start, every time.Duration) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%d@%s", prefix, i, start+time.Duration(i-from)*every))
	}
	return out
}

func (f *deliveryFixture) listDispatcher(consumer string, s *listSender, c *listCoalescer) *bot.Dispatcher {
	d := f.dispatcher(consumer)
	d.Sender, d.Render = s, c
	return d
}

// TestCoalesceBacklog: a Telegram group (20 messages a minute) with 50
// routine cards queued gets the oldest 31 in one message at once and the
// newest 19 one by one at its pace; a message that holds only ten at a
// time takes three to bring the queue back to a minute's worth. Every entry
// is acknowledged once sent; a queue within its minute's worth, or a Render
// that cannot coalesce, sends one by one as before.
func TestCoalesceBacklog(t *testing.T) {
	tests := []struct {
		name   string
		n, per int
		plain  bool // Render is no Coalescer
		budget int  // the sender's MessageBudget (0: it states none)
		want   []string
	}{
		{
			name: "beyond a minute's worth: the oldest in one message", n: 50, per: 1000,
			want: append([]string{joined("c", 1, 31) + "@0s"}, each("c", 32, 50, 3*time.Second, 3*time.Second)...),
		},
		{
			name: "a message holds ten", n: 50, per: 10, budget: 3800,
			want: append([]string{joined("c", 1, 10) + "@0s", joined("c", 11, 20) + "@3s", joined("c", 21, 30) + "@6s"},
				each("c", 31, 50, 9*time.Second, 3*time.Second)...),
		},
		{name: "a minute's worth: one by one", n: 20, per: 1000, want: each("c", 1, 20, 0, 3*time.Second)},
		{name: "no Coalescer: one by one", n: 30, per: 1000, plain: true, want: each("c", 1, 30, 0, 3*time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformTelegram)
			ns, ids := cards("c", "-100111", tt.n)
			f.store.add(ns...)
			// The sender states its budget, or none (the default).
			s := &listSender{clock: f.clock, budget: tt.budget}
			wantBudget := cmp.Or(s.budget, bot.DefaultMessageBudget)
			c := &listCoalescer{per: tt.per}
			d := f.listDispatcher("r1", s, c)
			if tt.plain {
				d.Render = textRenderer{}
			}
			f.runFor(t, d, 3*time.Minute)
			for _, b := range c.budgets {
				if b != wantBudget {
					t.Errorf("Coalesce called with budget %d, want the sender's %d", b, wantBudget)
				}
			}
			wantAccepted := map[string][]string{"-100111": tt.want}
			if got := s.accepted(); !maps.EqualFunc(got, wantAccepted, slices.Equal) {
				t.Errorf("sent:\ngot  %q\nwant %q", got, wantAccepted)
			}
			wantShownOnce(t, s, ids)
			wantDrained(t, f.store, bot.PlatformTelegram)
			want := fmt.Sprintf("firebreak_outbox_sent_total{platform=%q} %d", bot.PlatformTelegram, tt.n)
			if got := f.metric(t, "firebreak_outbox_sent_total"); got != want {
				t.Errorf("metric: got %q, want %q (one per notice)", got, want)
			}
			// A message's notices are checked and marked in one call
			// each, however many it covers.
			f.store.mu.Lock()
			checks, marks := f.store.sentChecks, f.store.marks
			f.store.mu.Unlock()
			if checks != len(tt.want) || marks != len(tt.want) {
				t.Errorf("sent marks: %d checks and %d marks for %d messages, want one of each a message",
					checks, marks, len(tt.want))
			}
		})
	}
}

// TestCoalesceKeepsUrgentAndOrder: urgent notices are never coalesced and
// go first; a routine notice that may not be coalesced (a statement, an
// approval nudge) goes alone in its place, ending the run before it; a
// notice appended twice is shown once; another chat is not held up.
func TestCoalesceKeepsUrgentAndOrder(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformTelegram)
	published := &workflow.Event{ID: "YQ-3#9.1", Incident: "YQ-3", Kind: workflow.EventPublished}
	statement := workflow.NewNotice("statement", "YQ-3", "-100111", workflow.Notification{Kind: workflow.NoticeStatement, Event: published})
	opened := &workflow.Event{ID: "YQ-9#1.1", Incident: "YQ-9", Kind: workflow.EventOpened}
	report := workflow.NewNotice("report", "YQ-9", "-100111", workflow.Notification{Kind: workflow.NoticeReport, Event: opened})
	first, _ := cards("a", "-100111", 10)
	second, _ := cards("b", "-100111", 30)
	f.store.add(first...)
	f.store.add(card("a3", "-100111")) // appended twice
	f.store.add(statement)
	f.store.add(second...)
	f.store.add(report, card("dm", "1001"))
	s := &listSender{clock: f.clock}
	f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 1000}), 3*time.Minute)

	want := map[string][]string{
		"-100111": append([]string{"report@0s", joined("a", 1, 10) + "@3s", "statement@6s", joined("b", 1, 11) + "@9s"},
			each("b", 12, 30, 12*time.Second, 3*time.Second)...),
		"1001": {"dm@0s"},
	}
	if got := s.accepted(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("sent:\ngot  %q\nwant %q", got, want)
	}
	wantDrained(t, f.store, bot.PlatformTelegram)
}

// TestCoalescedSendFails: a coalesced message the platform fails is tried
// again after the backoff with the same notices; one that fails twice
// sends its first notice alone, then coalesces the rest; a 429 holds the
// chat and then sends the same message. Nothing is lost or shown twice.
func TestCoalescedSendFails(t *testing.T) {
	tests := []struct {
		name string
		fail func(ids []string, call int) error
		want []string
	}{
		{
			name: "fails once",
			fail: func(_ []string, call int) error {
				if call == 1 {
					return errors.New("502 bad gateway")
				}
				return nil
			},
			// The failure took the group's token: the retry comes after it
			// and the backoff, at 3s.
			want: append([]string{joined("c", 1, 21) + "@3s"}, each("c", 22, 40, 6*time.Second, 3*time.Second)...),
		},
		{
			name: "fails twice",
			fail: func(_ []string, call int) error {
				if call <= 2 {
					return errors.New("502 bad gateway")
				}
				return nil
			},
			// At 0s and 3s the message of c1…c21 fails; at 6s c1 goes alone,
			// at 9s c2…c21 together (the queue: 39, 19 beyond).
			want: append([]string{"c1@6s", joined("c", 2, 21) + "@9s"}, each("c", 22, 40, 12*time.Second, 3*time.Second)...),
		},
		{
			name: "rate limited",
			fail: func(_ []string, call int) error {
				if call == 1 {
					return &bot.RetryAfterError{After: 30 * time.Second}
				}
				return nil
			},
			want: append([]string{joined("c", 1, 21) + "@30s"}, each("c", 22, 40, 33*time.Second, 3*time.Second)...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformTelegram)
			ns, ids := cards("c", "-100111", 40)
			f.store.add(ns...)
			s := &listSender{clock: f.clock, fail: tt.fail}
			f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 1000}), 3*time.Minute)
			want := map[string][]string{"-100111": tt.want}
			if got := s.accepted(); !maps.EqualFunc(got, want, slices.Equal) {
				t.Errorf("sent:\ngot  %q\nwant %q", got, want)
			}
			wantShownOnce(t, s, ids)
			wantDrained(t, f.store, bot.PlatformTelegram)
		})
	}
}

// TestCoalescerFails: a Coalescer that fails is retried like a send; one
// that cannot word two notices leaves the first to go alone.
func TestCoalescerFails(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformTelegram)
	ns, ids := cards("c", "-100111", 25)
	f.store.add(ns...)
	s := &listSender{clock: f.clock}
	c := &listCoalescer{per: 1000, fail: func(call int) error {
		if call == 1 {
			return errors.New("store unavailable")
		}
		return nil
	}}
	f.runFor(t, f.listDispatcher("r1", s, c), 3*time.Minute)
	want := append([]string{joined("c", 1, 6) + "@1s"}, each("c", 7, 25, 4*time.Second, 3*time.Second)...)
	if got := s.accepted()["-100111"]; !slices.Equal(got, want) {
		t.Errorf("sent:\ngot  %q\nwant %q", got, want)
	}
	wantShownOnce(t, s, ids)

	f = newDeliveryFixture(bot.PlatformTelegram)
	f.store.add(ns...)
	s = &listSender{clock: f.clock}
	f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 1}), 3*time.Minute)
	if got, want := s.accepted()["-100111"], each("c", 1, 25, 0, 3*time.Second); !slices.Equal(got, want) {
		t.Errorf("a message of one: sent\ngot  %q\nwant %q", got, want)
	}
}

// ackFailStore is a fakeOutbox whose acks fail while failing is set: the
// consumer dies after the marks and before the acks.
type ackFailStore struct {
	*fakeOutbox
	failing bool
}

func (s *ackFailStore) AckOutbox(ctx context.Context, group string, ds ...bot.Delivery) error {
	if s.failing {
		return errors.New("connection reset")
	}
	return s.fakeOutbox.AckOutbox(ctx, group, ds...)
}

// TestCoalesceAcrossTakeover: a replica that sent a coalesced message and
// marked its notices but died before acking them, holding the rest of the
// backlog, is taken over after MinIdle: the next replica shows each of the
// rest once and none of those already shown.
func TestCoalesceAcrossTakeover(t *testing.T) {
	tests := []struct {
		name    string
		ackFail bool // A dies between the marks and the acks
	}{
		{name: "died after the acks"},
		{name: "died between the marks and the acks", ackFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformTelegram)
			store := &ackFailStore{fakeOutbox: f.store, failing: tt.ackFail}
			ns, ids := cards("c", "-100111", 60)
			f.store.add(ns...)
			s := &listSender{clock: f.clock}
			a := f.listDispatcher("A", s, &listCoalescer{per: 30})
			a.Store = store
			if _, err := a.DeliverOnce(context.Background()); (err != nil) != tt.ackFail {
				t.Fatalf("A's pass: got %v", err)
			}
			// A sent c1…c30 at 0s and died.
			if got, want := s.accepted()["-100111"], []string{joined("c", 1, 30) + "@0s"}; !slices.Equal(got, want) {
				t.Fatalf("A sent %q, want %q", got, want)
			}
			store.failing = false
			f.store.add(card("late", "-100111"))
			b := f.listDispatcher("B", s, &listCoalescer{per: 30})
			b.Store = store
			f.runFor(t, b, 5*time.Minute)
			wantShownOnce(t, s, append(ids, "late"))
			wantDrained(t, f.store, bot.PlatformTelegram)
		})
	}
}

// TestCoalesceFreesTheReader: 3,000 routine cards to one Telegram group no
// longer fill MaxHeld: they wait beyond the group's minute's worth, the
// reading goes on, and a REPORT appended after them to the leaders' group
// goes out at once; the backlog drains in messages of a hundred.
func TestCoalesceFreesTheReader(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformTelegram)
	ns, ids := cards("c", "-100111", 3000)
	f.store.add(ns...)
	opened := &workflow.Event{ID: "YQ-9#1.1", Incident: "YQ-9", Kind: workflow.EventOpened}
	f.store.add(workflow.NewNotice("report", "YQ-9", "-100222", workflow.Notification{Kind: workflow.NoticeReport, Event: opened}))
	s := &listSender{clock: f.clock}
	f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 100}), 4*time.Minute)
	if got, want := s.accepted()["-100222"], []string{"report@0s"}; !slices.Equal(got, want) {
		t.Errorf("leaders: got %q, want %q", got, want)
	}
	wantShownOnce(t, s, append(ids, "report"))
	if got := len(s.accepted()["-100111"]); got > 50 {
		t.Errorf("incidents: got %d messages, want at most 50 for 3,000 notices", got)
	}
	wantDrained(t, f.store, bot.PlatformTelegram)

	// Beyond MaxBacklog too, the reading stops, as it did at MaxHeld.
	f = newDeliveryFixture(bot.PlatformTelegram)
	f.store.add(ns...)
	d := f.listDispatcher("r1", &listSender{clock: f.clock}, &listCoalescer{per: 100})
	d.MaxBacklog = 500
	mustDeliverOnce(t, d)
	for range 20 {
		mustDeliverOnce(t, d)
	}
	if got := f.store.pendingCount(bot.PlatformTelegram); got > 500+20+100 {
		t.Errorf("read with MaxBacklog 500: %d entries, want at most %d", got, 500+20+100)
	}
}

// TestCoalesceDropsSupersededRefresh: in a chat beyond its minute's worth,
// a refresh of a card with a later refresh of the same card behind it is
// acked without being sent: the later one shows the card as it then is.
// Within the minute's worth, both go.
func TestCoalesceDropsSupersededRefresh(t *testing.T) {
	refresh := func(id string) workflow.Notice {
		return workflow.NewNotice(id, "YQ-5", "-100111", workflow.Notification{Kind: workflow.NoticeRefresh,
			Thread: workflow.Thread{Kind: workflow.ThreadIncident}})
	}
	for _, backlog := range []int{0, 40} {
		t.Run(fmt.Sprintf("%d cards behind", backlog), func(t *testing.T) {
			f := newDeliveryFixture(bot.PlatformTelegram)
			f.store.add(refresh("r1"))
			ns, _ := cards("c", "-100111", backlog)
			f.store.add(ns...)
			f.store.add(refresh("r2"))
			s := &listSender{clock: f.clock}
			f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 1000}), 5*time.Minute)
			shown := s.shown()
			if want := map[bool]int{true: 0, false: 1}[backlog > 0]; shown["r1"] != want || shown["r2"] != 1 {
				t.Errorf("r1 shown %d times, r2 %d: want %d and 1", shown["r1"], shown["r2"], want)
			}
			wantDrained(t, f.store, bot.PlatformTelegram)
		})
	}
}

// TestCoalesceTriageBurst: 50 new monitoring items to one Telegram group
// (each triage card urgent) went one card every 3 s, for minutes, and the
// reminders of the last ones fired before their cards arrived. Beyond the
// minute's worth they come as one list, like routine cards.
func TestCoalesceTriageBurst(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformTelegram)
	var ids []string
	for i := 1; i <= 50; i++ {
		id := fmt.Sprintf("t%d", i)
		f.store.add(workflow.NewNotice(id, fmt.Sprintf("IT-%d", i), "-100111", workflow.Notification{Kind: workflow.NoticeTriage,
			Thread: workflow.Thread{Kind: workflow.ThreadTriage}, Triage: &workflow.TriageStep{Step: workflow.TriageNew}}))
		ids = append(ids, id)
	}
	s := &listSender{clock: f.clock}
	f.runFor(t, f.listDispatcher("r1", s, &listCoalescer{per: 1000}), 3*time.Minute)
	want := map[string][]string{"-100111": append([]string{joined("t", 1, 31) + "@0s"}, each("t", 32, 50, 3*time.Second, 3*time.Second)...)}
	if got := s.accepted(); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("sent:\ngot  %q\nwant %q", got, want)
	}
	wantShownOnce(t, s, ids)
}
