package bot_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestRefusedIsDeadLetteredAtOnce: a message the platform refuses for good
// (bot.ErrRefused) is tried once and dead-lettered, and the chat's next
// notice goes out at the next slot of the rate limit, not after minutes of
// retries; a plain failure is still retried.
func TestRefusedIsDeadLetteredAtOnce(t *testing.T) {
	f := newDeliveryFixture(bot.PlatformSlack)
	f.sender.fail = func(n workflow.Notice, _ string, call int) error {
		switch {
		case n.ID == "bad":
			return fmt.Errorf("slack chat.postMessage: %w: invalid_blocks", bot.ErrRefused)
		case n.ID == "flaky" && call == 1:
			return fmt.Errorf("502 bad gateway")
		}
		return nil
	}
	f.store.add(notice("bad", "C1"), notice("after", "C1"), notice("flaky", "C2"))
	f.runFor(t, f.dispatcher("r1"), time.Minute)
	if got := f.sender.callTimes("bad"); !slices.Equal(got, []time.Duration{0}) {
		t.Errorf("bad tried at %v, want once", got)
	}
	wantAccepted(t, f.sender, map[string][]string{
		"C1": {"after@1s"}, // the next slot of one a second
		"C2": {"flaky@1s"}, // retried after 1s of backoff
	})
	dead, _ := f.store.DeadLetters(context.Background(), "slack", 10)
	if len(dead) != 1 || dead[0].Notice.ID != "bad" || dead[0].Reason != "refused: slack chat.postMessage: refused by the platform for good: invalid_blocks" {
		t.Errorf("dead letters: got %+v, want bad, refused", dead)
	}
}
