package telegram

import (
	"context"
	"testing"
	"time"
)

// PollTimer measures getUpdates calls and waits between them.
type PollTimer interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// SetPollTimer makes the poll loops started from now until tb ends measure
// and pause with t. Tests that use it must not run in parallel.
func SetPollTimer(tb testing.TB, t PollTimer) {
	tb.Helper()
	old := pollClock
	pollClock = t
	tb.Cleanup(func() { pollClock = old })
}
