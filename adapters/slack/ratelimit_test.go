package slack_test

import (
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
)

// TestSenderRateLimit: the Dispatcher keeps to Slack's limit of
// chat.postMessage, which the sender states: one message a second per
// conversation.
func TestSenderRateLimit(t *testing.T) {
	rl, ok := newEnv(t, envOptions{}).adapter.Sender().(bot.RateLimiter)
	if !ok {
		t.Fatal("the Slack sender is no bot.RateLimiter: the Dispatcher would use its default")
	}
	want := bot.RateLimit{Interval: time.Second, Burst: 1}
	for _, target := range []string{"C0INCIDENTS", "U0WANG"} {
		if got := rl.RateLimit(target); got != want {
			t.Errorf("RateLimit(%s): got %+v, want %+v", target, got, want)
		}
	}
}
