package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// firebreak is a `firebreak serve` process started by fbload (-serve): the
// built binary with Slack configured (signed with c.secret, its Web API the
// sink's fake), the demo roster, in English, over the Redis at redisURL.
type firebreak struct {
	url     string // its /slack/commands
	cmd     *exec.Cmd
	exited  chan struct{}
	peakRSS atomic.Int64 // bytes, sampled every 0.5 s
	stop    func()
}

// startFirebreak initialises the store at initURL (which must hold no
// Firebreak data: fbload wants a Redis of its own) and starts the binary
// bin serving over serveURL (the same Redis, or the proxy in front of it),
// and returns once /readyz answers 200.
func startFirebreak(ctx context.Context, c config, bin, initURL, serveURL, slackAPI string) (*firebreak, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env := func(redisURL string) []string {
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "FIREBREAK_") {
				env = append(env, kv)
			}
		}
		return append(env,
			"FIREBREAK_REDIS_URL="+redisURL,
			"FIREBREAK_REDIS_MODE="+c.mode,
			"FIREBREAK_HTTP_ADDR="+addr,
			"FIREBREAK_LOCALE=en",
			"FIREBREAK_LOG_LEVEL=warn",
			"FIREBREAK_SLACK_BOT_TOKEN=xoxb-fbload",
			"FIREBREAK_SLACK_SIGNING_SECRET="+c.secret,
			"FIREBREAK_SLACK_API_URL="+slackAPI,
		)
	}
	initCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	init := exec.CommandContext(initCtx, bin, "store", "init", "--next-id", "1")
	init.Env = env(initURL)
	if out, err := init.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s store init (-serve needs a Redis of its own, with no Firebreak data): %v\n%s", bin, err, out)
	}

	f := &firebreak{url: "http://" + addr + "/slack/commands", exited: make(chan struct{})}
	f.cmd = exec.Command(bin, "serve")
	f.cmd.Env = env(serveURL)
	f.cmd.Stdout, f.cmd.Stderr = os.Stderr, os.Stderr
	if err := f.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = f.cmd.Wait(); close(f.exited) }()
	sampling := make(chan struct{})
	go f.sampleRSS(sampling)
	f.stop = func() {
		close(sampling)
		_ = f.cmd.Process.Signal(os.Interrupt)
		select {
		case <-f.exited:
		case <-time.After(20 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.exited
		}
	}
	if err := f.awaitReady(ctx, "http://"+addr+"/readyz", 30*time.Second); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

func (f *firebreak) awaitReady(ctx context.Context, url string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		select {
		case <-f.exited:
			return fmt.Errorf("firebreak serve exited: %v", f.cmd.ProcessState)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("firebreak serve not ready within %s: %v", within, err)
		}
	}
}

// sampleRSS keeps the highest VmRSS of the process until stop closes.
func (f *firebreak) sampleRSS(stop <-chan struct{}) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if rss, err := vmRSS(f.cmd.Process.Pid); err == nil && rss > f.peakRSS.Load() {
			f.peakRSS.Store(rss)
		}
		select {
		case <-stop:
			return
		case <-f.exited:
			return
		case <-tick.C:
		}
	}
}

// vmRSS reads the resident set of process pid (Linux).
func vmRSS(pid int) (int64, error) {
	file, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer file.Close()
	s := bufio.NewScanner(file)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// freeAddr returns a loopback address nobody listens on (for a moment).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
