package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// readyTTL is how long a readiness probe's write lives.
const readyTTL = 10 * time.Second

// Ping reports whether Redis takes writes in every shard; it backs the
// readiness probe. A replica answers PING and serves reads but refuses
// every write (READONLY): a Firebreak on it would open no incident and fire
// no timer, so answering is not enough. Ping sets <prefix>:{sNN}:ready, with
// a short expiry, in each shard in one pipeline: on a Cluster that reaches
// the master of every slot the Store uses. A write refused because Redis is
// read-only returns an error whose ReadOnly method reports true; that and
// a Redis that cannot be reached are workflow.CodeUnavailable.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, shard := range s.queues {
			p.Set(ctx, s.shardKey(shard, "ready"), "1", readyTTL)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	err = fail("write to redis", err)
	if goredis.IsReadOnlyError(err) {
		return readOnlyError{err}
	}
	return err
}

// readOnlyError is a write refused because Redis is a read-only replica.
type readOnlyError struct{ error }

func (e readOnlyError) Unwrap() error { return e.error }

// ReadOnly reports that Redis refused the write as a read-only replica.
func (readOnlyError) ReadOnly() bool { return true }
