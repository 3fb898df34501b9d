package redis

import (
	"context"
	"fmt"
	"net/url"

	goredis "github.com/redis/go-redis/v9"
)

// Dial connects to the Redis at rawURL ("redis://[user:password@]host:port/db",
// or "rediss://" for TLS) and checks that it answers. The error never shows
// the password.
func Dial(ctx context.Context, rawURL string) (goredis.UniversalClient, error) {
	shown := Redact(rawURL)
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url %s: %w", shown, err)
	}
	// Honour the deadlines of the contexts calls are made with: a request
	// whose deadline passed while Redis stalled stops waiting (503 within
	// seconds), instead of running on in the background until the socket
	// read timeout.
	opts.ContextTimeoutEnabled = true
	client := goredis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fail("connect to redis "+shown, err)
	}
	return client, nil
}

// Redact hides the password of a Redis URL, for messages and logs.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
