package telegram_test

import (
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
)

// TestSenderRateLimit: the Dispatcher keeps to Telegram's limits, which the
// sender states: 20 messages a minute in a group, one a second elsewhere.
func TestSenderRateLimit(t *testing.T) {
	rl, ok := newEnv(t).tg.Sender().(bot.RateLimiter)
	if !ok {
		t.Fatal("the Telegram sender is no bot.RateLimiter: the Dispatcher would use its default")
	}
	tests := []struct {
		name, target string
		want         bot.RateLimit
	}{
		{"a group: 20 a minute", "-100111", bot.RateLimit{Interval: 3 * time.Second, Burst: 1}},
		{"a person: one a second", "1001", bot.RateLimit{Interval: time.Second, Burst: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rl.RateLimit(tt.target); got != tt.want {
				t.Errorf("RateLimit(%s): got %+v, want %+v", tt.target, got, tt.want)
			}
		})
	}
}
