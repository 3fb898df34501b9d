package smoke

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// miniredisNotice is printed once when the suite falls back to miniredis.
var miniredisNotice sync.Once

// redisServers are the redis-server processes startRedis started, by URL.
var redisServers sync.Map

// stallRedis stops the world's redis-server with SIGSTOP, as a stalled
// Redis (a long fork, a slow disk, a paused VM): connections stay open,
// nothing is answered. It returns the resume (SIGCONT), which the test's
// end also runs. A test on miniredis (no redis-server outside CI) is
// skipped: an in-process server cannot be stalled from outside.
func (w *world) stallRedis() (resume func()) {
	w.t.Helper()
	v, ok := redisServers.Load(w.redisURL)
	if !ok {
		w.t.Skip("the stall needs a real redis-server (this run uses miniredis)")
	}
	proc := v.(*os.Process)
	if err := proc.Signal(syscall.SIGSTOP); err != nil {
		w.t.Fatalf("SIGSTOP redis-server: %v", err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := proc.Signal(syscall.SIGCONT); err != nil {
				w.t.Errorf("SIGCONT redis-server: %v", err)
			}
		})
	}
	w.t.Cleanup(resume)
	return resume
}

// startRedis starts a Redis server of the test's own and returns its URL.
// With CI=true it must be a real redis-server (missing: the test fails).
// Elsewhere redis-server is used when it is on PATH, else an in-process
// miniredis (said once). The machine's shared Redis is never used: the
// binary has no key prefix, so its data would collide with anything else.
func startRedis(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true and redis-server is not on PATH: the smoke suite needs a real Redis in CI " +
				"(install it, e.g. apt-get install redis-server)")
		}
		miniredisNotice.Do(func() {
			fmt.Fprintln(os.Stderr, "smoke: NOTICE: redis-server is not on PATH; using an in-process miniredis instead "+
				"(set CI=true to require a real redis-server)")
		})
		m := miniredis.NewMiniRedis()
		// Leases and locks must expire on the wall clock, as in Redis:
		// miniredis only counts TTLs down on FastForward unless told to.
		m.ClockTTL(true)
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			tb.Fatalf("start miniredis: %v", err)
		}
		tb.Cleanup(m.Close)
		return "redis://" + m.Addr() + "/0"
	}
	port := freePort(tb)
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--bind", "127.0.0.1", "--loglevel", "warning")
	out := &lineLog{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	redisServers.Store(url, cmd.Process)
	tb.Cleanup(func() { redisServers.Delete(url) })
	opts, _ := goredis.ParseURL(url)
	client := goredis.NewClient(opts)
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return url
		}
		select {
		case <-exited:
			tb.Fatalf("redis-server on port %d exited at start:\n%s", port, out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on port %d does not answer PING after 10s: %v\n%s", port, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago
// (never Redis's default 6379, which may be the machine's own server).
func freePort(tb testing.TB) int {
	tb.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port != 6379 {
			return port
		}
	}
}
