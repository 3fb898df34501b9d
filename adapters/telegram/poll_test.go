package telegram_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/workflow"
)

// pollOptions runs an adapter in poll mode with short waits.
func pollOptions(client *http.Client) envOption {
	return func(o *telegram.Options) {
		o.Mode, o.WebhookURL, o.WebhookSecret = telegram.ModePoll, "", ""
		o.PollTimeout = time.Second // the fake waits at most 100ms
		o.LeaseTTL = 600 * time.Millisecond
		o.LeaseRetry = 20 * time.Millisecond
		o.RetryWait = 20 * time.Millisecond
		if client != nil {
			o.HTTPClient = client
		}
	}
}

// run starts tg and returns a function that stops it and waits.
func run(tb testing.TB, tg *telegram.Adapter) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := tg.Start(ctx); err != nil {
		cancel()
		tb.Fatalf("Start: %v", err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); tg.Wait() }) }
	tb.Cleanup(stop)
	return stop
}

func TestPollUpdateIsNotLostWhenHandlingFails(t *testing.T) {
	e := newEnv(t, pollOptions(nil))
	u := e.messageUpdate(chenID, incidentsChat, `/incident open "Lost post" level:general`)
	e.api.queue(u)
	// The reply to the command fails once: the update must come again, and
	// the command must not run twice.
	e.api.fail("sendMessage", 500, `{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
	run(t, e.tg)

	eventually(t, "the reply is sent", func() bool {
		return len(e.api.messagesIn(incidentsChat)) == 1
	})
	replies := e.repliesTo(u.Message.MessageID)
	if len(replies) != 2 {
		t.Fatalf("sendMessage replies: got %d (the failed one and the retry), want 2", len(replies))
	}
	wantContains(t, "reply", replies[1].Params.Get("text"), "YQ-1", "Lost post")
	incs, err := e.store.List(e.ctx, workflow.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 {
		t.Errorf("incidents: got %d, want 1 (the command ran once)", len(incs))
	}
	// The update was fetched again after the failure, and confirmed after
	// it was handled.
	id := strconv.Itoa(u.UpdateID)
	next := strconv.Itoa(u.UpdateID + 1)
	var offsets []string
	eventually(t, "getUpdates confirms the update", func() bool {
		offsets = nil
		for _, c := range e.api.Calls("getUpdates") {
			offsets = append(offsets, c.Params.Get("offset"))
		}
		return slices.Contains(offsets, next)
	})
	fetched := 0
	confirmed := false
	for _, o := range offsets {
		switch o {
		case "", id:
			if !confirmed {
				fetched++
			}
		case next:
			confirmed = true
		}
	}
	if fetched < 2 || !confirmed {
		t.Errorf("getUpdates offsets: got %v, want the update fetched twice, then offset %s", offsets, next)
	}
	if calls := e.api.Calls("deleteWebhook"); len(calls) != 1 {
		t.Errorf("deleteWebhook: got %d calls, want 1 before polling", len(calls))
	}
}

// pollWatch counts getUpdates calls in flight on the client side, across
// replicas: a call is in flight from before the request is sent until its
// answer has been read.
type pollWatch struct {
	mu      sync.Mutex
	now     int
	most    int
	byOwner map[string]int
}

type watchedTransport struct {
	w       *pollWatch
	replica string
	next    http.RoundTripper
}

func (t watchedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/getUpdates") {
		return t.next.RoundTrip(r)
	}
	t.w.mu.Lock()
	t.w.now++
	t.w.most = max(t.w.most, t.w.now)
	t.w.byOwner[t.replica]++
	t.w.mu.Unlock()
	resp, err := t.next.RoundTrip(r)
	if err == nil {
		resp.Body = &countedBody{ReadCloser: resp.Body, done: t.done}
	} else {
		t.done()
	}
	return resp, err
}

func (t watchedTransport) done() {
	t.w.mu.Lock()
	t.w.now--
	t.w.mu.Unlock()
}

// countedBody ends the call's time in flight when the body is closed.
type countedBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}

func (w *pollWatch) calls(replica string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byOwner[replica]
}

func (w *pollWatch) maxInFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.most
}

// leaseWatch counts, per replica, the renewals that kept the poll lease and
// the attempts to take it that were refused.
type leaseWatch struct {
	mu      sync.Mutex
	renewed map[string]int
	refused map[string]int
}

func (w *leaseWatch) counts(replica string) (renewed, refused int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.renewed[replica], w.refused[replica]
}

// watchedLease is one replica's telegram.Lease, counted in w.
type watchedLease struct {
	telegram.Lease
	w       *leaseWatch
	replica string
}

func (l watchedLease) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ok, err := l.Lease.AcquireLease(ctx, name, owner, ttl)
	if err == nil && !ok {
		l.w.mu.Lock()
		l.w.refused[l.replica]++
		l.w.mu.Unlock()
	}
	return ok, err
}

func (l watchedLease) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	ok, err := l.Lease.RenewLease(ctx, name, owner, ttl)
	if err == nil && ok {
		l.w.mu.Lock()
		l.w.renewed[l.replica]++
		l.w.mu.Unlock()
	}
	return ok, err
}

func TestTwoReplicasNeverBothPoll(t *testing.T) {
	api := newFakeAPI(t)
	store := redistest.NewStore(t) // one Redis, one prefix: two replicas of one deployment
	watch := &pollWatch{byOwner: map[string]int{}}
	leases := &leaseWatch{renewed: map[string]int{}, refused: map[string]int{}}
	var replicas [2]*telegram.Adapter
	var stops [2]func()
	names := [2]string{"r1", "r2"}
	for i, name := range names {
		e := &env{t: t, ctx: t.Context(), api: api, clock: workflow.NewManualClock(fixedNow)}
		client := &http.Client{Timeout: 10 * time.Second,
			Transport: watchedTransport{w: watch, replica: name, next: http.DefaultTransport}}
		e.build(store, testRoster(t, workflow.LocaleEN), workflow.LocaleEN, name, pollOptions(client),
			func(o *telegram.Options) { o.Lease = watchedLease{Lease: o.Lease, w: leases, replica: name} })
		replicas[i] = e.tg
	}
	for i := range replicas {
		stops[i] = run(t, replicas[i])
	}

	eventually(t, "one replica polls a few times", func() bool {
		return watch.calls("r1")+watch.calls("r2") >= 5
	})
	first, second := 0, 1
	if watch.calls("r2") > watch.calls("r1") {
		first, second = 1, 0
	}
	// The poller keeps the lease through several renewals while the other
	// replica keeps trying to take it, and is refused each time.
	renewed, refused := leases.counts(names[first])
	_, tried := leases.counts(names[second])
	eventually(t, names[first]+" renews the lease 3 times while "+names[second]+" is refused 3 times", func() bool {
		r, _ := leases.counts(names[first])
		_, f := leases.counts(names[second])
		return r >= renewed+3 && f >= tried+3
	})
	if _, f := leases.counts(names[first]); f != refused {
		t.Errorf("%s, the poller, was refused the lease %d times meanwhile, want none", names[first], f-refused)
	}
	if n := watch.calls(names[second]); n != 0 {
		t.Fatalf("getUpdates calls: %s %d, %s %d; want one replica only",
			names[first], watch.calls(names[first]), names[second], n)
	}

	// The poller stops (a deploy): the other takes over, and still only
	// one polls at a time.
	stops[first]()
	eventually(t, names[second]+" polls after "+names[first]+" stopped", func() bool {
		return watch.calls(names[second]) >= 3
	})
	if most := watch.maxInFlight(); most != 1 {
		t.Errorf("getUpdates calls in flight at once: got %d, want 1", most)
	}

	// Updates keep being handled by the new poller.
	e := &env{t: t, api: api, update: 7000}
	u := e.messageUpdate(strangerID, strangerID, "/whoami")
	api.queue(u)
	eventually(t, "the new poller answers", func() bool { return len(e.repliesTo(u.Message.MessageID)) == 1 })
}

// stepTimer is a telegram.PollTimer whose clock moves only by the pauses it
// makes: each Sleep hands its duration to the test and returns when the
// test resumes it.
type stepTimer struct {
	mu     sync.Mutex
	now    time.Time
	pauses chan time.Duration
	resume chan struct{}
}

func newStepTimer() *stepTimer {
	return &stepTimer{now: fixedNow, pauses: make(chan time.Duration), resume: make(chan struct{})}
}

func (s *stepTimer) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

func (s *stepTimer) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case s.pauses <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.resume:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
	return nil
}

// nextPause waits until the poll loop pauses and returns the pause and the
// number of getUpdates calls made so far. A loop that goes on calling
// getUpdates without pausing fails the test.
func nextPause(tb testing.TB, api *fakeAPI, timer *stepTimer) (time.Duration, int) {
	tb.Helper()
	before := len(api.Calls("getUpdates"))
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	hang := time.NewTimer(5 * time.Second)
	defer hang.Stop()
	for {
		select {
		case d := <-timer.pauses:
			return d, len(api.Calls("getUpdates"))
		case <-tick.C:
			if n := len(api.Calls("getUpdates")) - before; n > 20 {
				tb.Fatalf("%d getUpdates calls in a row without a pause: the poll loop spins", n)
			}
		case <-hang.C:
			tb.Fatalf("the poll loop neither paused nor called getUpdates within 5s (%d calls)", len(api.Calls("getUpdates")))
		}
	}
}

// A Bot API server that answers getUpdates at once with nothing, ignoring
// the long-poll timeout, must not make the loop spin.
func TestPollPausesWhenGetUpdatesAnswersAtOnce(t *testing.T) {
	e := newEnv(t, pollOptions(nil)) // a long-poll timeout of 1s
	e.api.answerAtOnce()
	timer := newStepTimer()
	telegram.SetPollTimer(e.tg, timer)
	run(t, e.tg)

	// 100ms, doubling up to a second, and one call per pause: 14 calls in
	// the loop's 11.5 seconds (thousands a second without the pauses).
	const ms = time.Millisecond
	want := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms}
	for range 10 {
		want = append(want, time.Second)
	}
	for i, w := range want {
		d, calls := nextPause(t, e.api, timer)
		if d != w || calls != i+1 {
			t.Fatalf("pause %d: got %s after %d getUpdates calls, want %s after %d", i+1, d, calls, w, i+1)
		}
		timer.resume <- struct{}{}
	}

	// An update comes while the loop pauses: it is fetched when the pause
	// ends and answered, and the pauses start again from the shortest.
	d, calls := nextPause(t, e.api, timer)
	if d != time.Second {
		t.Fatalf("pause before the update: got %s, want 1s", d)
	}
	u := e.messageUpdate(strangerID, strangerID, "/whoami")
	e.api.queue(u)
	timer.resume <- struct{}{}
	d, after := nextPause(t, e.api, timer)
	if d != 100*ms || after != calls+2 {
		t.Errorf("after the update: got a pause of %s after %d more getUpdates calls, want 100ms after 2 (the update, then nothing)", d, after-calls)
	}
	if got := len(e.repliesTo(u.Message.MessageID)); got != 1 {
		t.Errorf("replies to the update: got %d, want 1", got)
	}
	if got := e.api.Calls("getUpdates")[after-1].Params.Get("offset"); got != strconv.Itoa(u.UpdateID+1) {
		t.Errorf("getUpdates after the update: offset %q, want %d (the update confirmed)", got, u.UpdateID+1)
	}
}
