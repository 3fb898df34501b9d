package telegram

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
)

// pollLoop polls while this replica holds the poll lease, and otherwise
// tries to take it every LeaseRetry, until ctx is done.
func (a *Adapter) pollLoop(ctx context.Context) {
	owner := newOwner()
	for ctx.Err() == nil {
		ok, err := a.lease.AcquireLease(ctx, pollLeaseName, owner, a.leaseTTL)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.WarnContext(ctx, "telegram: take the poll lease", "err", err)
		case ok:
			a.pollHolding(ctx, owner)
			continue // try to keep polling at once
		}
		if bot.Sleep(ctx, a.leaseRetry) != nil {
			return
		}
	}
}

// newOwner is a random token naming this replica as a lease owner.
func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// pollHolding long-polls while the lease holds: a goroutine renews it every
// third of its TTL and stops the polling the moment a renewal fails. The
// offset advances past an update only once it was handled, so an update
// whose handling failed is fetched again. The lease is released on return.
func (a *Adapter) pollHolding(ctx context.Context, owner string) {
	lctx, stop := context.WithCancel(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		defer stop()
		t := time.NewTicker(a.leaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			ok, err := a.lease.RenewLease(lctx, pollLeaseName, owner, a.leaseTTL)
			if err != nil || !ok {
				if lctx.Err() == nil {
					a.log.WarnContext(lctx, "telegram: lost the poll lease; polling stops here", "err", err)
				}
				return
			}
		}
	}()
	defer func() {
		stop()
		<-renewed
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := a.lease.ReleaseLease(rctx, pollLeaseName, owner); err != nil {
			a.log.WarnContext(rctx, "telegram: release the poll lease", "err", err)
		}
	}()

	a.log.InfoContext(ctx, "telegram: polling for updates (this replica holds the poll lease)")
	// getUpdates fails while a webhook is set; polling means no webhook.
	if _, err := a.call(lctx, "deleteWebhook", nil); err != nil && lctx.Err() == nil {
		a.log.WarnContext(lctx, "telegram: delete webhook before polling", "err", err)
	}
	offset := 0
	clock := a.pollTimer
	pace := pollPacer{timeout: a.pollTimeout}
	for lctx.Err() == nil {
		start := clock.Now()
		updates, err := a.getUpdates(lctx, offset)
		if err != nil {
			if lctx.Err() == nil {
				wait := a.waitAfter(err)
				a.log.WarnContext(lctx, "telegram: getUpdates failed", "err", err, "retry_in", wait)
				_ = bot.Sleep(lctx, wait)
			}
			continue
		}
		fresh := 0
		for _, u := range updates {
			if u.UpdateID >= offset {
				fresh++
			}
		}
		if wait := pace.after(clock.Now().Sub(start), fresh); wait > 0 {
			_ = clock.Sleep(lctx, wait)
			continue
		}
		for _, u := range updates {
			if u.UpdateID < offset {
				continue
			}
			// An update is handled to the end even if the lease is lost
			// meanwhile: stopping half-way would only make more to resume.
			hctx, cancel := context.WithTimeout(context.WithoutCancel(lctx), handleTimeout)
			err := a.HandleUpdate(hctx, u)
			cancel()
			if err != nil {
				if !errors.Is(err, ErrBusy) {
					a.log.ErrorContext(lctx, "telegram: update failed; it will be fetched again", "update", u.UpdateID, "err", err)
				}
				_ = bot.Sleep(lctx, a.waitAfter(err))
				break
			}
			offset = u.UpdateID + 1
		}
	}
}

// The pauses of pollPacer.
const (
	pollPauseFirst = 100 * time.Millisecond
	pollPauseMax   = time.Second
)

// pollPacer spaces out getUpdates calls that come back with nothing sooner
// than the long-poll timeout, as some Bot API servers and emulators answer
// at once: without it the loop would call thousands of times a second.
// After such an answer it pauses, 100ms the first time, then twice as long
// each time up to a second, and never longer than the rest of the timeout
// (a true long poll would have held the call that long anyway). An answer
// with new updates, or one that took the whole timeout, starts it afresh.
type pollPacer struct {
	timeout time.Duration // the long-poll timeout asked of getUpdates
	pause   time.Duration // the last pause; 0 after a full or fruitful call
}

// after returns how long to wait after a getUpdates call that took elapsed
// and brought fresh new updates.
func (p *pollPacer) after(elapsed time.Duration, fresh int) time.Duration {
	if fresh > 0 || elapsed >= p.timeout {
		p.pause = 0
		return 0
	}
	p.pause = min(max(2*p.pause, pollPauseFirst), pollPauseMax)
	return min(p.pause, p.timeout-elapsed)
}

// pollTimer measures getUpdates calls and waits between them for
// pollPacer (Adapter.pollTimer). Tests replace it to count calls without
// waiting.
type pollTimer interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// wallTimer is the real pollTimer.
type wallTimer struct{}

func (wallTimer) Now() time.Time                                   { return time.Now() }
func (wallTimer) Sleep(ctx context.Context, d time.Duration) error { return bot.Sleep(ctx, d) }

// getUpdates long-polls for updates from offset on.
func (a *Adapter) getUpdates(ctx context.Context, offset int) ([]tgbotapi.Update, error) {
	p := tgbotapi.Params{"timeout": strconv.Itoa(int(a.pollTimeout / time.Second))}
	if offset > 0 {
		p["offset"] = strconv.Itoa(offset)
	}
	if err := p.AddInterface("allowed_updates", allowedUpdates); err != nil {
		return nil, err
	}
	resp, err := a.call(ctx, "getUpdates", p)
	if err != nil {
		return nil, err
	}
	var us []tgbotapi.Update
	if err := decodeResult(resp, &us); err != nil {
		return nil, err
	}
	return us, nil
}

// waitAfter is the wait after a failed call: what a 429 asks, else RetryWait.
func (a *Adapter) waitAfter(err error) time.Duration {
	if ra := retryAfter(err); ra > 0 {
		return ra
	}
	return a.retryWait
}
