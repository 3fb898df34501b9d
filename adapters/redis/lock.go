package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TryLock takes the lock key (under the store's prefix) for ttl with
// SET NX EX and reports whether this caller got it. Cron uses it so that N
// replicas send one digest per fire.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	err := s.client.SetArgs(ctx, s.prefix+":lock:"+key, "1", goredis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	if errors.Is(err, goredis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fail("take lock "+key, err)
	}
	return true, nil
}
