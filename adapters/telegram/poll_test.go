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

func TestTwoReplicasNeverBothPoll(t *testing.T) {
	api := newFakeAPI(t)
	store := redistest.NewStore(t) // one Redis, one prefix: two replicas of one deployment
	watch := &pollWatch{byOwner: map[string]int{}}
	var replicas [2]*telegram.Adapter
	var stops [2]func()
	names := [2]string{"r1", "r2"}
	for i, name := range names {
		e := &env{t: t, ctx: t.Context(), api: api, clock: workflow.NewManualClock(fixedNow)}
		client := &http.Client{Timeout: 10 * time.Second,
			Transport: watchedTransport{w: watch, replica: name, next: http.DefaultTransport}}
		e.build(store, testRoster(t, workflow.LocaleEN), workflow.LocaleEN, name, pollOptions(client))
		replicas[i] = e.tg
	}
	for i := range replicas {
		stops[i] = run(t, replicas[i])
	}

	eventually(t, "one replica polls a few times", func() bool {
		return watch.calls("r1")+watch.calls("r2") >= 5
	})
	// Long enough for the lease to be renewed several times.
	time.Sleep(1500 * time.Millisecond)
	first, second := 0, 1
	if watch.calls("r2") > watch.calls("r1") {
		first, second = 1, 0
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
