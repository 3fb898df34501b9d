package bot

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// fakeTimers is an in-memory workflow.Timers with the semantics of the
// Redis one, and a switch to make it fail.
type fakeTimers struct {
	mu       sync.Mutex
	pending  map[string]workflow.DueTimer
	inflight map[string]fakeClaim
	err      error // returned by every call while set
	nextDues int   // NextDue calls
}

type fakeClaim struct {
	t     workflow.DueTimer
	lease time.Time
}

func newFakeTimers(ts ...workflow.DueTimer) *fakeTimers {
	f := &fakeTimers{pending: map[string]workflow.DueTimer{}, inflight: map[string]fakeClaim{}}
	f.add(ts...)
	return f
}

func (f *fakeTimers) add(ts ...workflow.DueTimer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range ts {
		f.pending[t.ID] = t
	}
}

func (f *fakeTimers) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeTimers) ClaimDue(_ context.Context, now time.Time, lease time.Duration, max int) ([]workflow.DueTimer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []workflow.DueTimer
	for _, c := range f.inflight {
		if !c.lease.After(now) {
			out = append(out, c.t)
		}
	}
	for _, t := range f.pending {
		if !t.Due.After(now) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b workflow.DueTimer) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.ID, b.ID))
	})
	out = out[:min(max, len(out))]
	for _, t := range out {
		delete(f.pending, t.ID)
		f.inflight[t.ID] = fakeClaim{t, now.Add(lease)}
	}
	return out, nil
}

func (f *fakeTimers) AckTimer(_ context.Context, t workflow.DueTimer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if c, ok := f.inflight[t.ID]; ok && c.t.Due.Equal(t.Due) {
		delete(f.inflight, t.ID)
	}
	return nil
}

func (f *fakeTimers) NextDue(context.Context) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextDues++
	if f.err != nil {
		return time.Time{}, false, f.err
	}
	var (
		first time.Time
		found bool
	)
	for _, t := range f.pending {
		if !found || t.Due.Before(first) {
			first, found = t.Due, true
		}
	}
	for _, c := range f.inflight {
		if !found || c.lease.Before(first) {
			first, found = c.lease, true
		}
	}
	return first, found, nil
}

func (f *fakeTimers) state() (pending, inflight []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.pending)), slices.Sorted(maps.Keys(f.inflight))
}

func (f *fakeTimers) lease(id string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inflight[id].lease
}

func (f *fakeTimers) nextDueCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.nextDues
}

// handledLog records the timers a Scheduler handled, failing those named in
// failing (once each).
type handledLog struct {
	mu      sync.Mutex
	ids     []string
	failing map[string]bool
	notify  chan string
}

func (h *handledLog) handle(_ context.Context, t workflow.DueTimer) (workflow.TickResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing[t.ID] {
		delete(h.failing, t.ID)
		return workflow.TickResult{}, errors.New("platform down")
	}
	h.ids = append(h.ids, t.ID)
	if h.notify != nil {
		h.notify <- t.ID
	}
	return workflow.TickResult{Outcome: workflow.TimerFired, Reason: "due"}, nil
}

func (h *handledLog) got() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ids)
}

var schedT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func dueAt(id string, d time.Duration) workflow.DueTimer {
	return workflow.DueTimer{ID: id, Incident: "YQ-1", Due: schedT0.Add(d)}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestRunDueHandlesInDueOrder(t *testing.T) {
	timers := newFakeTimers(dueAt("b", -time.Minute), dueAt("a", -2*time.Minute),
		dueAt("c", 0), dueAt("later", time.Minute))
	h := &handledLog{}
	s := &Scheduler{Timers: timers, Handle: h.handle, Clock: workflow.NewManualClock(schedT0), Batch: 2, Log: discardLog()}

	n, err := s.RunDue(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("RunDue: got %d, %v, want 3, nil", n, err)
	}
	if got, want := h.got(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("handled: got %q, want %q", got, want)
	}
	pending, inflight := timers.state()
	if !slices.Equal(pending, []string{"later"}) || len(inflight) != 0 {
		t.Errorf("after RunDue: got pending %q in flight %q, want [later] []", pending, inflight)
	}
}

func TestRunDueLeavesAFailedTimerInFlight(t *testing.T) {
	timers := newFakeTimers(dueAt("a", 0), dueAt("b", 0))
	h := &handledLog{failing: map[string]bool{"a": true}}
	clock := workflow.NewManualClock(schedT0)
	var logged bytes.Buffer
	metrics := &Metrics{}
	s := &Scheduler{Timers: timers, Handle: h.handle, Clock: clock, Scale: 60, Lease: time.Second,
		Log: slog.New(slog.NewTextHandler(&logged, nil)), Metrics: metrics}

	if n, err := s.RunDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunDue: got %d, %v, want 1, nil", n, err)
	}
	if _, inflight := timers.state(); !slices.Equal(inflight, []string{"a"}) {
		t.Errorf("in flight: got %q, want [a]", inflight)
	}
	// A lease of 1s of wall time is a minute of clock time at scale 60.
	if got, want := timers.lease("a"), schedT0.Add(time.Minute); !got.Equal(want) {
		t.Errorf("lease: got %v, want %v", got, want)
	}
	if !strings.Contains(logged.String(), "timer=a") || !strings.Contains(logged.String(), "platform down") {
		t.Errorf("log: got %q, want the failure of timer a", logged.String())
	}
	var text strings.Builder
	_ = metrics.WriteText(&text)
	for _, want := range []string{`firebreak_timer_failures_total{stage="handle"} 1`, `firebreak_timers_total{kind="unknown",outcome="fired"} 1`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics: got %q, want %q", text.String(), want)
		}
	}

	clock.Advance(59 * time.Second)
	if n, _ := s.RunDue(context.Background()); n != 0 {
		t.Errorf("RunDue before the lease expired: got %d handled, want 0", n)
	}
	clock.Advance(time.Second)
	if n, err := s.RunDue(context.Background()); err != nil || n != 1 {
		t.Errorf("RunDue after the lease: got %d, %v, want 1, nil", n, err)
	}
	if got, want := h.got(), []string{"b", "a"}; !slices.Equal(got, want) {
		t.Errorf("handled: got %q, want %q", got, want)
	}
}

func TestRunDueReportsQueueErrors(t *testing.T) {
	timers := newFakeTimers(dueAt("a", 0))
	timers.fail(workflow.Unavailable(errors.New("connection refused")))
	s := &Scheduler{Timers: timers, Handle: (&handledLog{}).handle, Clock: workflow.NewManualClock(schedT0)}
	if _, err := s.RunDue(context.Background()); workflow.ErrorCode(err) != workflow.CodeUnavailable {
		t.Errorf("RunDue: got %v, want an unavailable error", err)
	}
	if _, err := (&Scheduler{}).RunDue(context.Background()); err == nil {
		t.Error("RunDue without Timers: got nil, want an error")
	}
}

// sleepRequest is one sleep of Run, ended by the test.
type sleepRequest struct {
	d    time.Duration
	fire chan time.Time
}

// runScheduler starts s.Run with its sleeps handed to the test, and stops it when
// the test ends.
func runScheduler(t *testing.T, s *Scheduler) <-chan sleepRequest {
	t.Helper()
	sleeps := make(chan sleepRequest, 100)
	s.newTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		r := sleepRequest{d, make(chan time.Time, 1)}
		sleeps <- r
		return r.fire, func() bool { return true }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: got %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
	return sleeps
}

// nextSleep waits for Run's next sleep. The timeout only guards against a
// hung test; no logic depends on wall time.
func nextSleep(t *testing.T, sleeps <-chan sleepRequest) sleepRequest {
	t.Helper()
	select {
	case r := <-sleeps:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not sleep within 5s")
		return sleepRequest{}
	}
}

func TestRunSleepsUntilTheNextDueTime(t *testing.T) {
	clock := workflow.NewManualClock(schedT0)
	timers := newFakeTimers(dueAt("respond:half", time.Hour))
	h := &handledLog{}
	s := &Scheduler{Timers: timers, Handle: h.handle, Clock: clock, Scale: 60, MaxIdle: 10 * time.Minute, Log: discardLog()}
	sleeps := runScheduler(t, s)

	// An hour of clock time at scale 60 is a minute of wall time.
	r := nextSleep(t, sleeps)
	if r.d != time.Minute {
		t.Errorf("sleep: got %v, want 1m", r.d)
	}
	clock.Advance(time.Hour)
	r.fire <- time.Time{}
	if r = nextSleep(t, sleeps); r.d != 10*time.Minute {
		t.Errorf("sleep with nothing planned: got %v, want MaxIdle 10m", r.d)
	}
	if got := h.got(); !slices.Equal(got, []string{"respond:half"}) {
		t.Errorf("handled: got %q, want [respond:half]", got)
	}

	// A timer due far ahead still sleeps at most MaxIdle.
	timers.add(dueAt("answer:due", 24*time.Hour))
	r.fire <- time.Time{}
	if r = nextSleep(t, sleeps); r.d != 10*time.Minute {
		t.Errorf("sleep: got %v, want MaxIdle 10m", r.d)
	}
}

func TestRunIsWokenBySoonerTimers(t *testing.T) {
	clock := workflow.NewManualClock(schedT0)
	timers := newFakeTimers(dueAt("answer:due", 2*time.Hour))
	wake := make(chan time.Time)
	h := &handledLog{}
	s := &Scheduler{Timers: timers, Handle: h.handle, Clock: clock, Wake: wake, Log: discardLog(), MaxIdle: 24 * time.Hour}
	sleeps := runScheduler(t, s)

	if r := nextSleep(t, sleeps); r.d != 2*time.Hour {
		t.Fatalf("sleep: got %v, want 2h", r.d)
	}
	calls := timers.nextDueCalls()
	// A wake-up for a later time does not end the sleep; a sooner one does.
	wake <- schedT0.Add(3 * time.Hour)
	timers.add(dueAt("assign:due", 30*time.Minute))
	wake <- schedT0.Add(30 * time.Minute)
	if r := nextSleep(t, sleeps); r.d != 30*time.Minute {
		t.Errorf("sleep after the wake-up: got %v, want 30m", r.d)
	}
	if got := timers.nextDueCalls() - calls; got != 1 {
		t.Errorf("rounds after two wake-ups: got %d, want 1", got)
	}
}

func TestRunBacksOffWhileTheQueueFails(t *testing.T) {
	clock := workflow.NewManualClock(schedT0)
	timers := newFakeTimers(dueAt("YQ-1:assign:due", 0))
	timers.fail(workflow.Unavailable(errors.New("connection refused")))
	h := &handledLog{}
	metrics := &Metrics{}
	clock.Advance(90 * time.Second) // the outage holds the timer back
	s := &Scheduler{Timers: timers, Handle: h.handle, Clock: clock, Log: discardLog(), Metrics: metrics}
	if !s.Ready() {
		t.Error("Ready before Run: got false, want true")
	}
	sleeps := runScheduler(t, s)

	var got []time.Duration
	for range 8 {
		r := nextSleep(t, sleeps)
		got = append(got, r.d)
		if s.Ready() {
			t.Error("Ready while the queue fails: got true, want false")
		}
		if len(got) < 8 {
			r.fire <- time.Time{}
			continue
		}
		timers.fail(nil)
		r.fire <- time.Time{}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(got, want) {
		t.Errorf("backoff: got %v, want %v", got, want)
	}
	if r := nextSleep(t, sleeps); r.d != DefaultMaxIdle {
		t.Errorf("sleep after recovery: got %v, want %v", r.d, DefaultMaxIdle)
	}
	if !s.Ready() {
		t.Error("Ready after recovery: got false, want true")
	}
	if got := h.got(); !slices.Equal(got, []string{"YQ-1:assign:due"}) {
		t.Errorf("handled: got %q, want the timer kept through the outage", got)
	}
	var text strings.Builder
	_ = metrics.WriteText(&text)
	for _, want := range []string{
		`firebreak_timer_failures_total{stage="queue"} 8`,
		`firebreak_timers_total{kind="assign:due",outcome="fired"} 1`,
		// Fired once the queue was back, 90s late: the delay shows.
		`firebreak_timer_delay_seconds_bucket{le="60"} 0`,
		`firebreak_timer_delay_seconds_bucket{le="300"} 1`,
		`firebreak_timer_delay_seconds_count 1`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics: got %q, want %q", text.String(), want)
		}
	}
}

func TestRunHandlesWhatFallsDueWhileItSleeps(t *testing.T) {
	// The real timer path, on a real clock: a timer due in 20ms fires.
	timers := newFakeTimers(workflow.DueTimer{ID: "soon", Incident: "YQ-1", Due: time.Now().Add(20 * time.Millisecond)})
	h := &handledLog{notify: make(chan string, 1)}
	s := &Scheduler{Timers: timers, Handle: h.handle, Log: discardLog()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	select {
	case id := <-h.notify:
		if id != "soon" {
			t.Errorf("handled %q, want soon", id)
		}
	case <-time.After(5 * time.Second):
		t.Error("the timer did not fire within 5s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: got %v, want nil", err)
	}
}

// TestRunDueNamesEveryOutcome: a timer that ends without firing is counted
// by kind and outcome and logged with its reason, so silence is visible; a
// timer whose incident vanished is logged as a warning even without debug.
func TestRunDueNamesEveryOutcome(t *testing.T) {
	timers := newFakeTimers(
		workflow.DueTimer{ID: "YQ-1:assign:due", Incident: "YQ-1", Due: schedT0},
		workflow.DueTimer{ID: "YQ-2:update:3", Incident: "YQ-2", Due: schedT0},
	)
	outcomes := map[string]workflow.TickResult{
		"YQ-1:assign:due": {Outcome: workflow.TimerMet, Reason: "assign met 09:10"},
		"YQ-2:update:3":   {Outcome: workflow.TimerGone, Reason: "incident YQ-2 does not exist"},
	}
	var logged bytes.Buffer
	metrics := &Metrics{}
	s := &Scheduler{Timers: timers, Clock: workflow.NewManualClock(schedT0.Add(2 * time.Second)),
		Handle: func(_ context.Context, t workflow.DueTimer) (workflow.TickResult, error) { return outcomes[t.ID], nil },
		Log:    slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo})), Metrics: metrics}
	if n, err := s.RunDue(t.Context()); err != nil || n != 2 {
		t.Fatalf("RunDue: got %d, %v; want 2 handled", n, err)
	}
	var text strings.Builder
	_ = metrics.WriteText(&text)
	for _, want := range []string{
		`firebreak_timers_total{kind="assign:due",outcome="met"} 1`,
		`firebreak_timers_total{kind="update",outcome="gone"} 1`,
		`firebreak_timer_delay_seconds_bucket{le="1"} 0`,
		`firebreak_timer_delay_seconds_bucket{le="5"} 2`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics: got %q, want %q", text.String(), want)
		}
	}
	log := logged.String()
	if !strings.Contains(log, "outcome=gone") || !strings.Contains(log, `reason="incident YQ-2 does not exist"`) {
		t.Errorf("log at info: got %q, want the vanished incident's timer with its outcome and reason", log)
	}
	if strings.Contains(log, "outcome=met") {
		t.Errorf("log at info: got %q, want routine outcomes at debug only", log)
	}
}
