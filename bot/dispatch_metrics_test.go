package bot_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestOutboxQueueMetrics: the entries a Dispatcher holds, waiting on a
// failing target, and the age of the oldest show per platform; once
// delivered, the queue is empty and its age 0.
func TestOutboxQueueMetrics(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	down := true
	f.sender.fail = func(n workflow.Notice, _ string, _ int) error {
		if down {
			return errors.New("502 bad gateway")
		}
		return nil
	}
	// Appended 17.3 s before the clock starts: an odd instant.
	appended := deliveryT0.Add(-17300 * time.Millisecond)
	store := &seqStore{fakeOutbox: f.store, seqs: map[string]bot.Seq{
		"first":  {At: appended, Log: "s01", N: 0},
		"second": {At: appended.Add(time.Second), Log: "s02", N: 0},
		"other":  {At: appended.Add(2 * time.Second), Log: "s01", N: 1},
	}}
	f.store.add(notice("first", "C1"), notice("second", "C1"), notice("other", "C2"))
	d := f.dispatcher("r1")
	d.Store = store
	if _, err := d.DeliverOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(42 * time.Second)
	text := mustWriteText(t, f.metrics)
	for _, want := range []string{
		`firebreak_outbox_held{platform="slack"} 3`,
		`firebreak_outbox_oldest_age_seconds{platform="slack"} 59.3`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("while the targets fail: got\n%s\nwant a line %s", text, want)
		}
	}

	down = false
	f.runFor(t, d, 5*time.Minute)
	text = mustWriteText(t, f.metrics)
	for _, want := range []string{
		`firebreak_outbox_held{platform="slack"} 0`,
		`firebreak_outbox_oldest_age_seconds{platform="slack"} 0`,
		`firebreak_outbox_deliveries_total{outcome="sent",platform="slack"} 3`,
		`firebreak_outbox_deliveries_total{outcome="retry",platform="slack"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("once delivered: got\n%s\nwant a line %s", text, want)
		}
	}
}

// TestOutboxAgeAfterTheOldestIsSent: the held count is exact after every
// pass, and the age, looked for at most once a second, is of the oldest
// entry still held once the oldest was sent.
func TestOutboxAgeAfterTheOldestIsSent(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	down := map[string]bool{"C1": true, "C2": true}
	f.sender.fail = func(_ workflow.Notice, target string, _ int) error {
		if down[target] {
			return errors.New("502 bad gateway")
		}
		return nil
	}
	store := &seqStore{fakeOutbox: f.store, seqs: map[string]bot.Seq{
		"old":   {At: deliveryT0.Add(-10 * time.Second), Log: "s01", N: 0},
		"newer": {At: deliveryT0.Add(-5 * time.Second), Log: "s02", N: 0},
	}}
	f.store.add(notice("old", "C1"), notice("newer", "C2"))
	d := f.dispatcher("r1")
	d.Store = store
	pass := func(at time.Duration) {
		t.Helper()
		f.clock.Set(deliveryT0.Add(at))
		if _, err := d.DeliverOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := func(when string, lines ...string) {
		t.Helper()
		text := mustWriteText(t, f.metrics)
		for _, l := range lines {
			if !strings.Contains(text, l+"\n") {
				t.Errorf("%s: got\n%s\nwant a line %s", when, text, l)
			}
		}
	}
	pass(0)
	want("both held", `firebreak_outbox_held{platform="slack"} 2`, `firebreak_outbox_oldest_age_seconds{platform="slack"} 10`)
	pass(500 * time.Millisecond) // nothing due: no new look, the age goes on
	want("half a second later", `firebreak_outbox_held{platform="slack"} 2`, `firebreak_outbox_oldest_age_seconds{platform="slack"} 10.5`)
	down["C1"] = false
	pass(1200 * time.Millisecond) // the old one sent
	want("the old one sent", `firebreak_outbox_held{platform="slack"} 1`, `firebreak_outbox_oldest_age_seconds{platform="slack"} 6.2`)
}
