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

// ScaledClock runs Scale times faster than the wall clock from the moment it
// was created (demo mode: Scale 60 makes an hour pass in a minute).
type ScaledClock struct {
	Start time.Time
	Scale float64
	base  func() time.Time
}

// NewScaledClock returns a clock that starts at the current wall time and runs
// scale times faster.
func NewScaledClock(scale float64) *ScaledClock {
	now := time.Now()
	return &ScaledClock{Start: now, Scale: scale, base: time.Now}
}

// Now returns the scaled time.
func (c *ScaledClock) Now() time.Time {
	elapsed := c.base().Sub(c.Start)
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
