// Package redistest gives tests a Redis: the one named by
// FIREBREAK_TEST_REDIS_URL, else one on 127.0.0.1:6379, else a redis-server
// it starts itself from PATH. When there is none of these, tests outside CI
// use an embedded in-memory Redis (miniredis, as `firebreak` does without
// configuration) and the test binary says so once; with CI set (to anything
// but "") they fail instead, and the first failure says how to get one.
// Tests never skip for want of Redis. Each test writes under its own key
// prefix, deleted afterwards; nothing flushes a database, which may hold a
// developer's other data.
//
// Tests of deployments — a replica, a Cluster, Sentinel, TLS, ACLs — start
// servers of their own instead (servers.go, cluster.go, sentinel.go); they
// skip without redis-server and redis-cli on PATH, and fail with CI set.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/adapters/redis"
)

// EnvURL names the environment variable that points tests at a Redis
// ("redis://host:port/db"). When it is set and that Redis does not answer,
// tests fail.
const EnvURL = "FIREBREAK_TEST_REDIS_URL"

// LocalURL is the Redis tried when EnvURL is unset.
const LocalURL = "redis://127.0.0.1:6379/0"

// EnvCI names the environment variable that makes the tests strict: when it
// is set, a real Redis is required and the embedded one is never used.
const EnvCI = "CI"

// keepAlive is the stdin of the shell that guards a redis-server started
// here. It is never closed: when this process ends, for whatever reason, the
// shell reads EOF and stops the server. Held in a package variable so that
// no finalizer closes it early.
var keepAlive io.WriteCloser

// source finds the tests' Redis once per test binary and remembers it.
type source struct {
	find func() (url string, embedded bool, err error)

	once     sync.Once
	url      string
	embedded bool // url is the embedded Redis
	err      error
	hinted   atomic.Bool // a failure showed err in full
}

var shared = &source{find: finder{getenv: os.Getenv, localURL: LocalURL, lookPath: exec.LookPath, notice: os.Stderr}.find}

// get returns the Redis URL and whether it is the embedded one, or fails tb:
// the first failure says why and how to get a Redis, the others briefly.
func (s *source) get(tb testing.TB) (url string, embedded bool) {
	tb.Helper()
	s.once.Do(func() { s.url, s.embedded, s.err = s.find() })
	if s.err != nil {
		if s.hinted.CompareAndSwap(false, true) {
			tb.Fatalf("redistest: %v", s.err)
		}
		tb.Fatal("redistest: no Redis for the tests (the first failure of this test binary says why)")
	}
	return s.url, s.embedded
}

// URL returns the URL of the Redis that tests use, finding or starting it on
// first use. It fails the test (never skips) when there is none: the first
// failure of a test binary says why and how to get one, the others briefly.
func URL(tb testing.TB) string {
	tb.Helper()
	url, _ := shared.get(tb)
	return url
}

// RequireReal skips tb, saying why, when the tests run on the embedded
// Redis, which lacks behaviour that tb needs (keys expire only when its
// clock is moved, for one). With CI set the embedded Redis is never used,
// so tb always runs there.
func RequireReal(tb testing.TB, why string) {
	tb.Helper()
	if _, embedded := shared.get(tb); embedded {
		tb.Skipf("redistest: needs a real Redis (%s); running on the embedded one", why)
	}
}

// Client returns a client of the test Redis, closed when the test ends.
func Client(tb testing.TB) goredis.UniversalClient {
	tb.Helper()
	c := newClient(tb, URL(tb))
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a key prefix unique to this test ("fbt:<16 hex digits>")
// and deletes every key under it when the test ends.
func Prefix(tb testing.TB) string {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "fbt:" + hex.EncodeToString(b)
	url := URL(tb)
	tb.Cleanup(func() {
		c := newClient(tb, url)
		defer c.Close()
		if err := deleteKeys(context.Background(), c, prefix+"*"); err != nil {
			tb.Errorf("redistest: delete keys %s*: %v", prefix, err)
		}
	})
	return prefix
}

// NewStore returns a Store on the test Redis under a fresh Prefix.
func NewStore(tb testing.TB) *redis.Store {
	tb.Helper()
	return redis.New(Client(tb), redis.Options{Prefix: Prefix(tb)})
}

func newClient(tb testing.TB, url string) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(url)
	if err != nil {
		tb.Fatalf("redistest: %s: %v", url, err)
	}
	return goredis.NewClient(opts)
}

// Wipe deletes every key under prefix, as FLUSHALL, a replaced Redis or a
// restart without persistence does to Firebreak's keys; the test Redis may
// hold other tests' data, so nothing is flushed.
func Wipe(tb testing.TB, c goredis.UniversalClient, prefix string) {
	tb.Helper()
	if err := deleteKeys(context.Background(), c, prefix+":*"); err != nil {
		tb.Fatalf("wipe %s: %v", prefix, err)
	}
}

func deleteKeys(ctx context.Context, c goredis.UniversalClient, match string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

const howTo = `To use a real Redis, any one of these works:
  - run one on 127.0.0.1:6379:  docker run --rm -p 6379:6379 redis:7   (or: apt-get install redis-server)
  - put redis-server on PATH; the tests then start their own on a free port
  - point the tests at one:     FIREBREAK_TEST_REDIS_URL=redis://host:port/db go test ./...
Tests only touch keys under "fbt:" and never flush the database.`

// finder finds the Redis of the tests; its fields are the process's
// environment, LocalURL, exec.LookPath and os.Stderr but in its own tests.
type finder struct {
	getenv   func(string) string
	localURL string
	lookPath func(string) (string, error)
	notice   io.Writer // where the fallback to the embedded Redis is told
}

// find returns the URL of the tests' Redis and whether it is the embedded
// one.
func (f finder) find() (url string, isEmbedded bool, err error) {
	if url := f.getenv(EnvURL); url != "" {
		if err := ping(url, 3*time.Second); err != nil {
			return "", false, fmt.Errorf("%s=%s does not answer: %v\n(unset it to use 127.0.0.1:6379, a redis-server started by the tests, or outside CI the embedded Redis)", EnvURL, url, err)
		}
		return url, false, nil
	}
	if ping(f.localURL, 300*time.Millisecond) == nil {
		return f.localURL, false, nil
	}
	why := fmt.Sprintf("%s is unset, nothing answers on %s, and redis-server is not on PATH", EnvURL, hostPort(f.localURL))
	if bin, err := f.lookPath("redis-server"); err == nil {
		url, err := startServer(bin)
		if err == nil {
			return url, false, nil
		}
		why = fmt.Sprintf("%s is unset, nothing answers on %s, and %s did not start: %v", EnvURL, hostPort(f.localURL), bin, err)
	}
	if ci := f.getenv(EnvCI); ci != "" {
		return "", false, fmt.Errorf("no Redis for the tests: %s.\n%s=%s asks for a real one, so the embedded Redis is not used.\n%s", why, EnvCI, ci, howTo)
	}
	url, _, err = redis.StartEmbedded()
	if err != nil {
		return "", false, fmt.Errorf("no Redis for the tests: %s; and the embedded Redis: %v\n%s", why, err, howTo)
	}
	fmt.Fprintf(f.notice, "redistest: %s: these tests use an embedded in-memory Redis (miniredis) instead, "+
		"and skip the few that need a real one. With %s set they fail instead.\n%s\n", why, EnvCI, howTo)
	return url, true, nil
}

// hostPort returns the address of a Redis URL, or the URL when it has none.
func hostPort(url string) string {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return url
	}
	return opts.Addr
}

func ping(url string, timeout time.Duration) error {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return err
	}
	// A bare connection first: go-redis logs every failed dial.
	conn, err := net.DialTimeout(opts.Network, opts.Addr, timeout)
	if err != nil {
		return err
	}
	_ = conn.Close()
	opts.DialTimeout, opts.ReadTimeout, opts.MaxRetries = timeout, timeout, -1
	opts.DialerRetries, opts.DialerRetryTimeout = 1, time.Millisecond
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Ping(ctx).Err()
}

// startServer runs redis-server on a free port of 127.0.0.1, without
// persistence, and waits until it answers. A shell guards it: it stops the
// server when its stdin (held by this process) reaches EOF.
func startServer(bin string) (string, error) {
	var lastErr error
	for range 3 { // the free port may be taken before redis-server binds it
		port, err := freePort()
		if err != nil {
			return "", err
		}
		url, err := runServer(bin, port)
		if err == nil {
			return url, nil
		}
		lastErr = err
	}
	return "", lastErr
}

func runServer(bin string, port int) (string, error) {
	logFile, err := os.CreateTemp("", "redistest-*.log")
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	const guard = `"$0" "$@" & pid=$!; read -r _; kill "$pid"; wait "$pid"`
	cmd := exec.Command("sh", "-c", guard, bin,
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", logFile.Name())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(url, 200*time.Millisecond) == nil {
			keepAlive = stdin
			return url, nil
		}
		select {
		case <-exited:
			return "", fmt.Errorf("redis-server on port %d exited: %s", port, readLog(logFile.Name()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = stdin.Close()
			return "", fmt.Errorf("redis-server on port %d did not answer within 10s: %s", port, readLog(logFile.Name()))
		}
	}
}

func readLog(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(b))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
