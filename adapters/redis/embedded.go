package redis

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
)

// StartEmbedded starts an in-memory Redis (miniredis) on a random port of
// 127.0.0.1, for trying Firebreak out without a Redis server. Nothing it holds
// survives closeFn or the process; the caller should say so loudly. It speaks
// everything the Store needs: the Apply script, sorted sets and streams with
// consumer groups.
func StartEmbedded() (url string, closeFn func(), err error) {
	m := miniredis.NewMiniRedis()
	// Keys with a TTL are not expired (miniredis's default): one process
	// owns this Redis, so its leases and locks have nobody to hand over to,
	// and ClockTTL would walk every key with a TTL on every command — the
	// dedupe memory of each notice sent — slowing the playground down as
	// it runs.
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("start embedded redis: %w", err)
	}
	return "redis://" + m.Addr() + "/0", m.Close, nil
}
