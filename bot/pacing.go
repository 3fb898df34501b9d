package bot

import (
	"math/rand/v2"
	"time"
)

// RateLimit is how fast one target may receive messages: at most Burst at
// once, then one every Interval (a token bucket). A zero Interval means no
// limit.
type RateLimit struct {
	Interval time.Duration
	Burst    int
}

// RateLimiter is implemented by a Sender that knows its platform's limits;
// the Dispatcher keeps to them. A Sender that is no RateLimiter gets one
// message a second per target.
type RateLimiter interface {
	// RateLimit returns the limit of one target.
	RateLimit(target string) RateLimit
}

// defaultRateLimit is the limit of a target of a Sender that states none:
// one message a second, no burst, which no chat platform objects to.
var defaultRateLimit = RateLimit{Interval: time.Second, Burst: 1}

// DefaultBackoff is the wait before retrying a failed message for the given
// attempt (1, 2, ...): 1s, 2s, 4s, ... capped at 5 minutes, each with equal
// jitter (between half and all of it), so replicas do not retry in step.
func DefaultBackoff(attempt int) time.Duration {
	const base, ceiling = time.Second, 5 * time.Minute
	d := ceiling
	if attempt < 1 {
		attempt = 1
	}
	if attempt <= 20 {
		d = min(base<<(attempt-1), ceiling)
	}
	return d/2 + rand.N(d/2+1)
}

// readyAt is when the target may receive its next message.
func (d *Dispatcher) readyAt(t *outTarget) time.Time {
	at := t.hold
	if t.limit.Interval > 0 {
		if r := t.tat.Add(-time.Duration(max(t.limit.Burst, 1)-1) * t.limit.Interval); r.After(at) {
			at = r
		}
	}
	return at
}

// charge takes a token of the target's rate limit for a message sent at now.
func (t *outTarget) charge(now time.Time) {
	if t.limit.Interval <= 0 {
		return
	}
	if t.tat.Before(now) {
		t.tat = now
	}
	t.tat = t.tat.Add(t.limit.Interval)
}

// slowDown records a send at now that the platform refused for now (429,
// Retry-After): it takes the send's token and holds the target for what the
// platform asked (a second when it named no time), which it returns.
func (t *outTarget) slowDown(now time.Time, retry *RetryAfterError) time.Duration {
	t.charge(now)
	wait := retry.After
	if wait <= 0 {
		wait = time.Second
	}
	t.hold = now.Add(wait)
	return wait
}
