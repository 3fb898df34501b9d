package telegram

import (
	"context"
	"time"
)

// PollTimer measures getUpdates calls and waits between them.
type PollTimer interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// SetPollTimer makes a's poll loop measure and pause with t. Call it before
// a starts.
func SetPollTimer(a *Adapter, t PollTimer) { a.pollTimer = t }
