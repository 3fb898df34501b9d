package redis

import (
	"context"
	"time"
)

// TryLock takes the lock key (under the store's prefix) for ttl with
// SET NX EX and reports whether this caller got it. Cron uses it so that N
// replicas send one digest per fire.
func (s *Store) TryLock(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	got, err := s.client.SetNX(ctx, s.prefix+":lock:"+key, "1", ttl).Result()
	if err != nil {
		return false, failOn("take lock", key, err)
	}
	return got, nil
}
