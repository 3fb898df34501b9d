package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// DemoEpoch is where demo time (FIREBREAK_TIME_SCALE ≠ 1) began: the demo
// clock reads Start + Scale × (wall time since Start). Every deadline in a
// Redis used in demo time was planned on that clock, so it is kept there
// (<prefix>:democlock, as JSON) and outlives restarts, like the deadlines.
type DemoEpoch struct {
	// Start is the wall-clock instant at which demo time began.
	Start time.Time `json:"start"`
	// Scale is how many times faster than the wall clock demo time runs.
	Scale float64 `json:"scale"`
}

// DemoEpochKey names the key that holds the demo clock's epoch, for
// messages telling a person which key to delete.
func (s *Store) DemoEpochKey() string { return s.prefix + ":democlock" }

// KeepDemoEpoch stores e as the epoch of demo time unless one is stored
// already, and returns the stored one: e when fresh, else the earlier one,
// which may have another Scale (the caller decides what to do then). SET NX
// and GET run in one transaction, so replicas starting at once all get the
// same epoch. The key never expires: it lives as long as the deadlines
// planned on it.
func (s *Store) KeepDemoEpoch(ctx context.Context, e DemoEpoch) (stored DemoEpoch, fresh bool, err error) {
	if e.Scale <= 0 || e.Start.IsZero() {
		return DemoEpoch{}, false, fmt.Errorf("keep demo epoch: need a start and a positive scale, not %+v", e)
	}
	value, err := json.Marshal(DemoEpoch{Start: e.Start.UTC().Round(0), Scale: e.Scale})
	if err != nil {
		return DemoEpoch{}, false, fmt.Errorf("keep demo epoch: %w", err)
	}
	key := s.DemoEpochKey()
	var (
		set *goredis.BoolCmd
		get *goredis.StringCmd
	)
	if _, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		set = p.SetNX(ctx, key, value, 0)
		get = p.Get(ctx, key)
		return nil
	}); err != nil {
		if set != nil && goredis.IsReadOnlyError(set.Err()) {
			// EXEC answers EXECABORT; the SETNX says why.
			return DemoEpoch{}, false, readOnlyError{failOn("keep demo epoch in", key,
				fmt.Errorf("this Redis is a read-only replica: %w", set.Err()))}
		}
		return DemoEpoch{}, false, failOn("keep demo epoch in", key, err)
	}
	stored, err = s.decodeDemoEpoch(get.Val())
	if err != nil {
		return DemoEpoch{}, false, err
	}
	return stored, set.Val(), nil
}

// DemoEpoch returns the stored epoch of demo time; ok is false when there
// is none.
func (s *Store) DemoEpoch(ctx context.Context) (e DemoEpoch, ok bool, err error) {
	raw, err := s.client.Get(ctx, s.DemoEpochKey()).Result()
	if errors.Is(err, goredis.Nil) {
		return DemoEpoch{}, false, nil
	}
	if err != nil {
		return DemoEpoch{}, false, failOn("read demo epoch", s.DemoEpochKey(), err)
	}
	e, err = s.decodeDemoEpoch(raw)
	return e, err == nil, err
}

func (s *Store) decodeDemoEpoch(raw string) (DemoEpoch, error) {
	var e DemoEpoch
	if err := json.Unmarshal([]byte(raw), &e); err != nil || e.Scale <= 0 || e.Start.IsZero() {
		return DemoEpoch{}, fmt.Errorf("the demo clock's epoch in %s is not valid (%q); delete that key to start demo time afresh",
			s.DemoEpochKey(), raw)
	}
	return e, nil
}
