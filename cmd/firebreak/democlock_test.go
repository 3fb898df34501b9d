package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// newDemoApp builds an app in demo time on the test Redis under prefix, as
// serve does (no clock given), and returns it with its log.
func newDemoApp(tb testing.TB, scale float64, prefix string) (*app, *syncBuffer, error) {
	tb.Helper()
	out := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(context.Background(), Config{RedisURL: redistest.URL(tb), TimeScale: scale}, log, wiring{prefix: prefix})
	if err == nil {
		tb.Cleanup(a.Close)
	}
	return a, out, err
}

func demoClock(tb testing.TB, a *app) *workflow.ScaledClock {
	tb.Helper()
	c, ok := a.clock.(*workflow.ScaledClock)
	if !ok {
		tb.Fatalf("clock: got %T, want *workflow.ScaledClock", a.clock)
	}
	return c
}

// TestDemoClockKeptInRedis: demo time on a persistent Redis goes on across
// restarts and replicas from the epoch kept there, instead of rewinding to
// the wall clock; another scale is refused with the key to delete.
func TestDemoClockKeptInRedis(t *testing.T) {
	prefix := redistest.Prefix(t)

	// Two replicas starting at once agree on the epoch.
	var (
		wg   sync.WaitGroup
		apps [2]*app
		errs [2]error
	)
	for i := range apps {
		wg.Go(func() { apps[i], _, errs[i] = newDemoApp(t, 60, prefix) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("newApp %d: %v", i, err)
		}
	}
	epoch := demoClock(t, apps[0]).Start
	if got := demoClock(t, apps[1]).Start; !got.Equal(epoch) {
		t.Errorf("epochs of two replicas: got %s and %s, want the same", epoch, got)
	}

	// A restart later continues from it, and says so.
	restarted, log, err := newDemoApp(t, 60, prefix)
	if err != nil {
		t.Fatalf("newApp after a restart: %v", err)
	}
	if got := demoClock(t, restarted).Start; !got.Equal(epoch) {
		t.Errorf("epoch after a restart: got %s, want %s", got, epoch)
	}
	if !strings.Contains(log.String(), "DEMO TIME continues from the epoch kept in Redis") {
		t.Errorf("log after a restart: got\n%s\nwant it to say demo time continues", log)
	}

	// Another scale would replan nothing and misread every deadline.
	_, _, err = newDemoApp(t, 30, prefix)
	key := prefix + ":democlock"
	for _, want := range []string{"FIREBREAK_TIME_SCALE is 30", "runs at 60", "FIREBREAK_TIME_SCALE=60", "DEL " + key} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("newApp at 30×: got %v, want an error saying %q", err, want)
		}
	}
}

// TestDemoClockContinues: an epoch kept since ten wall minutes ago at 60×
// makes demo time ten hours ahead of it, as if the demo clock had run all
// along: an incident overdue by 10 h stays overdue after a restart.
func TestDemoClockContinues(t *testing.T) {
	prefix := redistest.Prefix(t)
	epoch := time.Now().Add(-10 * time.Minute).Round(0)
	store := fbredis.New(redistest.Client(t), fbredis.Options{Prefix: prefix})
	if _, _, err := store.KeepDemoEpoch(context.Background(), fbredis.DemoEpoch{Start: epoch, Scale: 60}); err != nil {
		t.Fatalf("KeepDemoEpoch: %v", err)
	}
	a, _, err := newDemoApp(t, 60, prefix)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	if got := demoClock(t, a).Start; !got.Equal(epoch) {
		t.Errorf("epoch: got %s, want %s", got, epoch)
	}
	// Demo time since the epoch: 10 h, plus 60× the wall time this test
	// took so far; far from the 10 minutes a rewound clock would show.
	if got := a.clock.Now().Sub(epoch); got < 10*time.Hour || got > 11*time.Hour {
		t.Errorf("demo time since the epoch: got %s, want about 10h", got)
	}
}

// TestDemoClockEmbedded: without FIREBREAK_REDIS_URL the embedded Redis
// keeps nothing, so demo time starts now, with no warning of a stored one.
func TestDemoClockEmbedded(t *testing.T) {
	out := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	before := time.Now()
	a, err := newApp(context.Background(), Config{TimeScale: 60}, log, wiring{})
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	defer a.Close()
	if got := demoClock(t, a).Start; got.Before(before.Round(0)) || got.After(time.Now()) {
		t.Errorf("epoch: got %s, want the start of this app (after %s)", got, before)
	}
	if strings.Contains(out.String(), "continues") {
		t.Errorf("log: got\n%s\nwant no continued demo time", out)
	}
}
