package redis

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// Recent returns the incidents discovered at or after since among the last
// limit incidents opened, resolved ones included, ordered by discovery (FoundAt,
// then ID), oldest first. It feeds the board's charts: IDs are allocated in
// order by NextID, so the newest incidents are YQ-<seq> down to
// YQ-<seq-limit+1>; it reads the counter and then those incidents in one
// pipeline. An incident whose ID was allocated but never written is skipped.
// limit <= 0 returns nothing. Errors: CodeUnavailable when Redis cannot be
// reached.
func (s *Store) Recent(ctx context.Context, since time.Time, limit int) ([]*workflow.Incident, error) {
	if limit <= 0 {
		return nil, nil
	}
	raw, err := s.client.Get(ctx, s.seqKey()).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, nil // no incident was ever opened
	}
	if err != nil {
		return nil, fail("read the incident counter", err)
	}
	last, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return nil, fail("read the incident counter", err)
	}
	first := max(1, last-int64(limit)+1)
	if last < first {
		return nil, nil
	}
	ids := make([]string, 0, last-first+1)
	for n := last; n >= first; n-- {
		ids = append(ids, incidentID(n))
	}
	cmds := make([]*goredis.StringCmd, len(ids))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, s.incKey(id), "data")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fail("read recent incidents", err)
	}
	var out []*workflow.Incident
	for i, id := range ids {
		data, err := cmds[i].Result()
		if errors.Is(err, goredis.Nil) {
			continue // allocated, never written (a failed open)
		}
		if err != nil {
			return nil, fail("read recent incidents", err)
		}
		inc, err := decodeIncident(id, data)
		if err != nil {
			return nil, err
		}
		if inc.FoundAt.Before(since) {
			continue
		}
		out = append(out, inc)
	}
	slices.SortFunc(out, func(a, b *workflow.Incident) int {
		if c := a.FoundAt.Compare(b.FoundAt); c != 0 {
			return c
		}
		return compareIDs(a.ID, b.ID)
	})
	return out, nil
}
