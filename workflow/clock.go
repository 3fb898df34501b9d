package workflow

import (
	"sync"
	"time"
)

// Clock tells the time. Every deadline computation goes through one, so tests
// and demos can move time deterministically.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that only moves when told to. It is safe for
// concurrent use.
type ManualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewManualClock returns a ManualClock showing t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{now: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// ScaledClock runs Scale times faster than the wall clock from its epoch
// Start (demo mode: Scale 60 makes an hour pass in a minute). It reads
// Start + Scale × (wall time since Start).
//
// Time since Start is measured on the monotonic clock from the moment the
// clock was made, so a step of the wall clock (NTP) while it runs does not
// jump demo time by Scale times the step; only the distance from Start to
// that moment is wall time, as it must be for an epoch kept across restarts.
type ScaledClock struct {
	// Start is the epoch: the wall-clock instant at which demo time began
	// (and read the same as the wall clock). It carries no monotonic
	// reading, so replicas and restarts that share an epoch compare Equal.
	Start time.Time
	// Scale is how many times faster than the wall clock it runs.
	Scale float64

	base    func() time.Time // the wall clock (time.Now)
	anchor  time.Time        // a reading of base with its monotonic clock
	elapsed time.Duration    // wall time from Start to anchor
}

// NewScaledClock returns a clock whose epoch is the current wall time, running
// scale times faster.
func NewScaledClock(scale float64) *ScaledClock {
	return NewScaledClockFrom(time.Now(), scale)
}

// NewScaledClockFrom returns a clock running scale times faster than the
// wall clock since the epoch start, which may lie in the past (demo time
// kept across restarts: it reads as if it had run all along).
func NewScaledClockFrom(start time.Time, scale float64) *ScaledClock {
	now := time.Now()
	return &ScaledClock{Start: start.Round(0), Scale: scale, base: time.Now, anchor: now, elapsed: now.Sub(start)}
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	elapsed := c.elapsed + c.base().Sub(c.anchor)
	return c.Start.Add(time.Duration(float64(elapsed) * c.Scale))
}

// OffsetClock is another clock moved forward by an offset that Set and
// Advance change: the console's clock, which follows real time but can jump
// ahead to show what happens later.
type OffsetClock struct {
	mu     sync.Mutex
	base   Clock
	offset time.Duration
}

// NewOffsetClock returns a clock showing base's time.
func NewOffsetClock(base Clock) *OffsetClock { return &OffsetClock{base: base} }

// Now returns base's time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Now().Add(c.offset)
}

// Base is the clock this one moves forward.
func (c *OffsetClock) Base() Clock { return c.base }

// Set moves the clock to t (forward or back).
func (c *OffsetClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = t.Sub(c.base.Now())
}

// Advance moves the clock forward by d.
func (c *OffsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Resolution is the precision of every due time the domain plans: the Store
// keeps a timer's due time as whole milliseconds (a sorted-set score), so
// Plan works in that precision, and the due time a claimed timer comes back
// with is the very instant Plan computed. A clock may read finer; a due time
// never is.
const Resolution = time.Millisecond

// DueAt returns t in Resolution, without a monotonic clock reading: the due
// time the Store keeps for an instant t. It rounds down, so that whoever
// waits until t (the console's :advance, a clock that reads finer) finds the
// timer due; a timer so planned fires at or after Instant(t), never before.
func Instant(t time.Time) time.Time { return t.Truncate(Resolution) }
