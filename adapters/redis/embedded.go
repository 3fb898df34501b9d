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
	// Keys expire with the wall clock, as in Redis: leases, locks and
	// dedupe memories run out (miniredis keeps them forever by default).
	m.ClockTTL(true)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", nil, fmt.Errorf("start embedded redis: %w", err)
	}
	return "redis://" + m.Addr() + "/0", m.Close, nil
}
