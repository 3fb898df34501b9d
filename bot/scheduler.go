package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Scheduler defaults.
const (
	// DefaultLease is short, so that the timers a crashed replica had
	// claimed come back soon (a batch is handled in well under a second).
	DefaultLease   = 10 * time.Second
	DefaultBatch   = 100
	DefaultMaxIdle = 30 * time.Second

	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Scheduler hands timers that fell due to Handle: it claims them from the
// shared queue (so that one replica handles each), calls Handle in due order
// and acknowledges each one Handle accepted. Any number of replicas may run
// one on the same queue.
//
// Delivery is at least once: a timer whose Handle failed, or whose replica
// died before acknowledging it, is claimed again when its lease expires. The
// tick handler makes that harmless by re-reading the incident and recording
// with a compare-and-set that the reminder fired.
//
// Set the fields before calling RunDue or Run; only Timers and Handle are
// required.
type Scheduler struct {
	// Timers is the durable queue.
	Timers workflow.Timers
	// Handle handles one due timer and says what became of it; returning
	// a nil error acknowledges it.
	Handle func(ctx context.Context, t workflow.DueTimer) (workflow.TickResult, error)
	// Clock tells the time timers fall due by (the system clock when nil).
	Clock workflow.Clock
	// Scale is the wall time per clock time: sleeping d of clock time takes
	// d/Scale of wall time (FIREBREAK_TIME_SCALE). Zero means 1.
	Scale float64
	// Lease is the wall time a replica has to handle a claimed timer before
	// another may take it over (DefaultLease when zero). It must outlast the
	// handling of a whole Batch.
	Lease time.Duration
	// Batch is the most timers claimed at once (DefaultBatch when zero).
	Batch int
	// MaxIdle is the longest wall time Run sleeps without looking at the
	// queue (DefaultMaxIdle when zero): it bounds the delay of a timer whose
	// wake-up was lost.
	MaxIdle time.Duration
	// Wake, when set, receives the due time of a newly planned timer that
	// may be sooner than the one Run sleeps for (redis.Store.WakeUps).
	Wake <-chan time.Time
	// Log receives failures (slog.Default when nil).
	Log *slog.Logger
	// Metrics, when set, counts handled timers by kind and outcome, their
	// delay past the due time, and failures.
	Metrics *Metrics

	failing atomic.Bool

	// newTimer is time.NewTimer; tests replace it to watch and end sleeps.
	newTimer func(d time.Duration) (<-chan time.Time, func() bool)
}

// Ready reports whether the last look at the timer queue succeeded; it is
// false while Run backs off from a queue it cannot read, for the readiness
// probe.
func (s *Scheduler) Ready() bool { return !s.failing.Load() }

// RunDue claims and handles every timer due at the Clock's current time, in
// due order, and returns how many were handled and acknowledged. A timer
// whose Handle fails is logged and left in flight: it comes back after its
// lease. RunDue stops at the first error of the queue itself, or when ctx is
// cancelled; timers claimed and not handled then also come back after their
// lease. The console's `:advance` and tests call it directly; Run calls it
// in a loop.
func (s *Scheduler) RunDue(ctx context.Context) (handled int, err error) {
	if s.Timers == nil || s.Handle == nil {
		return 0, errors.New("scheduler: Timers and Handle are required")
	}
	lease := time.Duration(float64(s.lease()) * s.scale())
	for {
		// Each batch reads the clock again, so that its lease counts from
		// its own claim.
		due, err := s.Timers.ClaimDue(ctx, s.clock().Now(), lease, s.batch())
		if err != nil {
			return handled, fmt.Errorf("claim due timers: %w", err)
		}
		if len(due) == 0 {
			return handled, nil
		}
		for _, t := range due {
			if err := ctx.Err(); err != nil {
				return handled, err
			}
			started := s.clock().Now()
			res, err := s.Handle(ctx, t)
			if err != nil {
				if ctx.Err() != nil {
					return handled, ctx.Err()
				}
				s.logger().Error("timer handler failed; retried after its lease",
					"timer", t.ID, "incident", t.Incident, "due", t.Due, "err", err)
				s.countFailure("handle")
				continue
			}
			if err := s.Timers.AckTimer(ctx, t); err != nil {
				return handled, fmt.Errorf("ack timer %s: %w", t.ID, err)
			}
			handled++
			s.record(t, res, started)
		}
	}
}

// Run handles due timers until ctx is cancelled, and then returns nil. Each
// round runs RunDue and then sleeps until the next due time (or lease
// expiry) the queue reports, converted through Clock and Scale; a sooner
// timer announced on Wake ends the sleep early, and no sleep is longer than
// MaxIdle. It does not poll on a fixed cycle. When the queue fails it backs
// off exponentially from 100ms to 5s and tries again; timers stay in Redis
// meanwhile, none is dropped.
func (s *Scheduler) Run(ctx context.Context) error {
	var backoff time.Duration
	for {
		if ctx.Err() != nil {
			return nil
		}
		handled, err := s.RunDue(ctx)
		var (
			next  time.Time
			known bool
		)
		if err == nil {
			next, known, err = s.Timers.NextDue(ctx)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			s.failing.Store(true)
			s.countFailure("queue")
			s.logger().Warn("timer queue failed; retrying", "in", backoff, "err", err)
			if !s.sleep(ctx, backoff, time.Time{}) {
				return nil
			}
			continue
		}
		if s.failing.Swap(false) {
			s.logger().Info("timer queue is back")
		}
		backoff = 0

		now := s.clock().Now()
		wait := s.maxIdle()
		target := now.Add(time.Duration(float64(wait) * s.scale()))
		if known {
			if d := s.wall(next.Sub(now)); d < wait {
				wait, target = d, next
			}
		}
		if wait <= 0 {
			if handled > 0 {
				continue
			}
			// Due, yet nothing was claimed: a timer planned in the
			// same millisecond, or claimed by another replica between
			// the two reads. Yield a moment rather than spin.
			wait = time.Millisecond
		}
		if !s.sleep(ctx, wait, target) {
			return nil
		}
	}
}

// sleep waits d of wall time, or less when Wake announces a due time before
// target (a zero target ignores Wake). It returns false when ctx ends.
func (s *Scheduler) sleep(ctx context.Context, d time.Duration, target time.Time) bool {
	newTimer := s.newTimer
	if newTimer == nil {
		newTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		}
	}
	fired, stop := newTimer(d)
	defer stop()
	wake := s.Wake
	if target.IsZero() {
		wake = nil
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-fired:
			return true
		case due, ok := <-wake:
			if !ok {
				wake = nil // the subscription ended: sleep on
				continue
			}
			if due.Before(target) {
				return true
			}
		}
	}
}

// wall converts a span of clock time to wall time.
func (s *Scheduler) wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.scale())
}

func (s *Scheduler) clock() workflow.Clock {
	if s.Clock == nil {
		return workflow.SystemClock{}
	}
	return s.Clock
}

func (s *Scheduler) scale() float64 {
	if s.Scale <= 0 {
		return 1
	}
	return s.Scale
}

func (s *Scheduler) lease() time.Duration {
	if s.Lease <= 0 {
		return DefaultLease
	}
	return s.Lease
}

func (s *Scheduler) batch() int {
	if s.Batch <= 0 {
		return DefaultBatch
	}
	return s.Batch
}

func (s *Scheduler) maxIdle() time.Duration {
	if s.MaxIdle <= 0 {
		return DefaultMaxIdle
	}
	return s.MaxIdle
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

// record counts a handled timer by kind and outcome, and how late it was
// handled (in clock time: past its due time when claimed), and logs it at
// debug with the reason, so that a timer never ends in silence unseen.
func (s *Scheduler) record(t workflow.DueTimer, res workflow.TickResult, started time.Time) {
	kind := t.Kind() // workflow's registry of timer kinds; "unknown" for a name it does not know
	outcome := res.Outcome
	if outcome == "" {
		outcome = "unknown"
	}
	late := max(started.Sub(t.Due), 0)
	level := slog.LevelDebug
	switch outcome {
	case workflow.TimerGone:
		level = slog.LevelWarn // its incident vanished: worth a look
	case workflow.TimerUnreadable:
		level = slog.LevelError // its incident is damaged in the store: an operator must look
	}
	s.logger().Log(context.Background(), level, "timer handled", "timer", t.ID, "kind", kind, "outcome", outcome,
		"reason", res.Reason, "due", t.Due, "late", late)
	if s.Metrics != nil {
		s.Metrics.Timer(string(kind), string(outcome), late)
	}
}

// countFailure counts a failure of the loop at stage (queue, handle) in
// firebreak_timer_failures_total.
func (s *Scheduler) countFailure(stage string) {
	if s.Metrics != nil {
		s.Metrics.TimerFailure(stage)
	}
}
