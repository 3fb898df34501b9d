// Command fbload measures Firebreak's Slack slash-command path over HTTP:
// it sends signed /slack/commands requests at a fixed rate (an open loop:
// a slow answer does not slow the sending) and reports the rate reached and
// the latency percentiles. docs/bench-slack.md records a run.
//
// By default it serves the path itself, wired as cmd/firebreak wires it
// (core.New's router and handlers, the Slack adapter) over the Redis at -redis, under a key
// prefix of its own ("fbload:<random>", deleted afterwards):
//
//	go run ./cmd/fbload -redis redis://127.0.0.1:6379/0 -rate 1000 -duration 30s
//
// With -url it loads a running Firebreak instead (its signing secret in
// -secret, a Slack user ID of its roster in -user):
//
//	go run ./cmd/fbload -url http://127.0.0.1:8080/slack/commands -secret "$FIREBREAK_SLACK_SIGNING_SECRET" -user U0CHEN
//
// With -serve it starts a built binary's `firebreak serve` over -redis (in
// -redis-mode; a Redis of its own: it runs `store init` first) with Slack
// configured, the demo roster and a fake Slack Web API that answers every
// call, and loads that:
//
//	go build -o /tmp/firebreak ./cmd/firebreak
//	go run ./cmd/fbload -serve /tmp/firebreak -redis redis://127.0.0.1:6400/0 -seed 10000 -mix open=20,status=40,update=20,list=20
//
// With -serve and -roundtrips N it puts a proxy that counts commands and
// round trips (proxy.go says how) between the binary and Redis, and instead
// of a load it counts the background over -idle with no request (before and
// after seeding), then sends N requests of each command one at a time and
// reports the round trips and commands of each, told apart by what they do:
// the request's own, the outbox's delivery that its notices woke, the
// periodic background (roundtrips.go):
//
//	go run ./cmd/fbload -serve /tmp/firebreak -redis redis://127.0.0.1:6400/0 -seed 10000 -roundtrips 100
//
// Latency is measured from the moment a request was due, not from when it
// was sent, so a client that falls behind shows in the figures instead of
// hiding them.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/rosterfile"
	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/cmd/internal/core"
	"github.com/firebreak/firebreak/workflow"
)

type config struct {
	redis    string
	mode     string
	target   string
	secret   string
	user     string
	channel  string
	text     string
	mix      string
	seed     int
	rate     int
	duration time.Duration
	warmup   time.Duration
	profile  string

	serve      string
	roundTrips int
	idle       time.Duration
	gap        time.Duration
}

func main() {
	var c config
	flag.StringVar(&c.redis, "redis", "redis://127.0.0.1:6379/0", "Redis URL of the in-process server (keys under fbload:<random>, deleted afterwards)")
	flag.StringVar(&c.mode, "redis-mode", "single", "how -redis reads: single, cluster (redis://h1:p1?addr=h2:p2) or sentinel (redis://s1:p1?master_name=NAME&addr=s2:p2)")
	flag.StringVar(&c.target, "url", "", "URL of a running /slack/commands; empty: serve it in this process")
	flag.StringVar(&c.secret, "secret", "", "signing secret of -url (in-process: a random one)")
	flag.StringVar(&c.user, "user", "U0CHEN", "Slack user ID of a roster person to send as (the demo roster's chen)")
	flag.StringVar(&c.channel, "channel", "C0INCIDENTS", "channel ID the commands are typed in")
	flag.StringVar(&c.text, "text", "open Load test {n} category:other", "command text; {n} is the request number")
	flag.StringVar(&c.mix, "mix", "", "a mix of commands by weight instead of -text, e.g. open=20,status=40,update=20,list=20 (status and update act on the seeded incidents)")
	flag.IntVar(&c.seed, "seed", 0, "incidents to open before the run (not measured), for -mix to act on")
	flag.IntVar(&c.rate, "rate", 1000, "requests per second")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "how long to measure")
	flag.DurationVar(&c.warmup, "warmup", 3*time.Second, "load before measuring (not counted)")
	flag.StringVar(&c.profile, "cpuprofile", "", "write a CPU profile of the measured part to this file")
	flag.StringVar(&c.serve, "serve", "", "`path` of a built firebreak binary: run its serve subcommand over -redis (a Redis of its own: store init runs first) and load it")
	flag.IntVar(&c.roundTrips, "roundtrips", 0, "with -serve (single mode): count Redis round trips through a proxy for this many requests of each command, one at a time, instead of a load")
	flag.DurationVar(&c.idle, "idle", 10*time.Second, "with -roundtrips: how long to count the background with no request")
	flag.DurationVar(&c.gap, "gap", 50*time.Millisecond, "with -roundtrips: the pause after each answer (counted as \"after\")")
	flag.Parse()

	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fbload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, out io.Writer) error {
	if c.rate <= 0 || c.duration <= 0 {
		return errors.New("-rate and -duration must be positive")
	}
	if c.roundTrips > 0 && (c.serve == "" || fbredis.Mode(c.mode) != fbredis.ModeSingle) {
		return errors.New("-roundtrips needs -serve and -redis-mode single (the proxy stands in front of one Redis)")
	}
	sink := newSink()
	defer sink.Close()
	target := c.target
	var child *firebreak
	var proxy *redisProxy
	switch {
	case c.serve != "":
		c.secret = randomHex(16)
		serveURL := c.redis
		if c.roundTrips > 0 {
			u, err := url.Parse(c.redis)
			if err != nil || u.Scheme != "redis" || u.Host == "" {
				return fmt.Errorf("-roundtrips: -redis must be redis://host:port[/db] (the proxy reads plain RESP), not %s", fbredis.Redact(c.redis))
			}
			if proxy, err = startProxy(u.Host); err != nil {
				return err
			}
			defer proxy.Close()
			u.Host = proxy.Addr()
			serveURL = u.String()
		}
		var err error
		if child, err = startFirebreak(ctx, c, c.serve, c.redis, serveURL, sink.apiURL); err != nil {
			return err
		}
		defer child.stop()
		target = child.url
	case target == "":
		c.secret = randomHex(16)
		srv, err := serve(ctx, c)
		if err != nil {
			return err
		}
		defer srv.close()
		target = srv.url
	case c.secret == "":
		return errors.New("-url needs -secret")
	}

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute},
	}
	if proxy != nil {
		return roundTrips(ctx, client, target, c, proxy, sink, out)
	}
	fmt.Fprintf(out, "fbload: %d requests/s for %s after %s of warm-up, to %s\n", c.rate, c.duration, c.warmup, describe(c, target))
	texts, err := commandTexts(c)
	if err != nil {
		return err
	}
	ids, err := seed(ctx, client, target, c, sink.url, out)
	if err != nil {
		return err
	}
	meter, err := newCPUMeter(ctx, c, child)
	if err != nil {
		return err
	}
	defer meter.Close()

	interval := time.Second / time.Duration(c.rate)
	total := int((c.warmup + c.duration) / interval)
	warm := int(c.warmup / interval)
	var (
		mu        sync.Mutex
		fromDue   = make([]time.Duration, 0, total-warm)
		fromSend  = make([]time.Duration, 0, total-warm)
		failures  = map[string]int{}
		inflight  atomic.Int64
		maxFlight int64
		wg        sync.WaitGroup
	)
	start := time.Now().Add(50 * time.Millisecond)
	var measureStart, lastDone time.Time
	var cpuStart cpuUse
	for i := range total {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		if i == warm {
			measureStart = due
			cpuStart = meter.read(ctx)
			if c.profile != "" {
				stop, err := startProfile(c.profile)
				if err != nil {
					return err
				}
				defer stop()
			}
		}
		wg.Go(func() {
			n := inflight.Add(1)
			sent := time.Now()
			_, err := send(ctx, client, target, c, texts(i, ids), sink.url)
			done := time.Now()
			inflight.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			maxFlight = max(maxFlight, n)
			if i < warm {
				return
			}
			if done.After(lastDone) {
				lastDone = done
			}
			if err != nil {
				failures[err.Error()]++
				return
			}
			fromDue = append(fromDue, done.Sub(due))
			fromSend = append(fromSend, done.Sub(sent))
		})
	}
	wg.Wait()
	cpu := meter.read(ctx).minus(cpuStart)

	measured := total - warm
	span := lastDone.Sub(measureStart)
	ok := len(fromDue)
	fmt.Fprintf(out, "requests:   %d sent, %d answered 200 with a reply, %d failed\n", measured, ok, measured-ok)
	fmt.Fprintf(out, "throughput: %.0f requests/s offered, %.0f answered/s (%d in %.2fs)\n",
		float64(measured)/c.duration.Seconds(), float64(ok)/span.Seconds(), ok, span.Seconds())
	fmt.Fprintf(out, "latency from due time: %s\n", percentiles(fromDue))
	fmt.Fprintf(out, "latency from send:     %s\n", percentiles(fromSend))
	fmt.Fprintf(out, "most requests in flight: %d; replies via response_url: %d\n", maxFlight, sink.n.Load())
	for msg, n := range failures {
		fmt.Fprintf(out, "failure ×%d: %s\n", n, msg)
	}
	fmt.Fprintf(out, "CPU time, measured part: %s\n", cpu.describe(ok, span))
	if child != nil {
		fmt.Fprintf(out, "firebreak serve: peak RSS %.0f MiB (VmRSS every 0.5 s, seeding included); Slack Web API calls: %d\n",
			float64(child.peakRSS.Load())/(1<<20), sink.api.Load())
	}
	fmt.Fprintf(out, "client: %s, GOMAXPROCS %d, %d CPUs\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	return nil
}

// settle is how long -roundtrips lets firebreak serve run before counting
// its idle background.
const settle = 10 * time.Second

// roundTrips is the -roundtrips run: the background with nothing stored,
// the seeding, the background again, then the requests one at a time.
func roundTrips(ctx context.Context, client *http.Client, target string, c config, proxy *redisProxy, sink *sink, out io.Writer) error {
	fmt.Fprintf(out, "fbload: Redis round trips of firebreak serve (%s) over Redis %s, counted by a proxy at %s\n",
		c.serve, fbredis.Redact(c.redis), proxy.Addr())
	time.Sleep(settle) // the start-up's first passes over the outbox and the timers
	idle, err := measureBackground(ctx, proxy, c.idle)
	if err != nil {
		return err
	}
	idle.describe(out, fmt.Sprintf("no incident stored, from %s after /readyz", settle))
	c.seed = max(c.seed, 1)
	ids, err := seed(ctx, client, target, c, sink.url, out)
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // the seeding's last requests and wake-ups
	busy, err := measureBackground(ctx, proxy, c.idle)
	if err != nil {
		return err
	}
	busy.describe(out, fmt.Sprintf("%d open, their notices being delivered (%d Slack Web API calls so far)", len(ids), sink.api.Load()))
	if err := measureRoundTrips(ctx, client, target, c, ids, proxy, sink.url, idle, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "client: %s, GOMAXPROCS %d, %d CPUs\n", runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU())
	return nil
}

func describe(c config, target string) string {
	if c.target != "" {
		return target
	}
	if c.serve != "" {
		return c.serve + " serve (" + target + ") over Redis " + fbredis.Redact(c.redis) + " (" + c.mode + ")"
	}
	return "an in-process server (" + target + ") over Redis " + fbredis.Redact(c.redis) + " (" + c.mode + ")"
}

// send posts one signed slash command and checks the answer.
// commandTexts returns the text of request i: -text with {n}, or the
// command of -mix whose turn it is (a fixed cycle of 100 by weight, spread
// evenly), acting on one of the seeded incidents ids.
func commandTexts(c config) (func(i int, ids []string) string, error) {
	if c.mix == "" {
		return func(i int, _ []string) string { return strings.ReplaceAll(c.text, "{n}", strconv.Itoa(i)) }, nil
	}
	var cycle []string
	for part := range strings.SplitSeq(c.mix, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(w)
		if !ok || err != nil || n < 0 || !slices.Contains([]string{"open", "status", "update", "list"}, name) {
			return nil, fmt.Errorf("-mix: %q is not command=weight (open, status, update, list)", part)
		}
		for range n {
			cycle = append(cycle, name)
		}
	}
	if len(cycle) == 0 {
		return nil, errors.New("-mix has no weight")
	}
	// Interleave: turn k takes cycle[(k*step) % len], step coprime with len.
	step := 1
	for s := len(cycle)/3 + 1; s < len(cycle); s++ {
		if gcd(s, len(cycle)) == 1 {
			step = s
			break
		}
	}
	return func(i int, ids []string) string {
		name := cycle[(i*step)%len(cycle)]
		if name == "open" || len(ids) == 0 {
			return fmt.Sprintf("open Load test %d category:other", i)
		}
		id := ids[(i*7919)%len(ids)]
		switch name {
		case "status":
			return "status " + id
		case "update":
			return fmt.Sprintf("update %s posts:%d load test follow-up %d", id, i%1000, i)
		}
		return "list"
	}, nil
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// seed opens c.seed incidents (64 at a time, not measured) and returns their
// IDs, read from the answers.
func seed(ctx context.Context, client *http.Client, target string, c config, responseURL string, out io.Writer) ([]string, error) {
	if c.seed <= 0 {
		return nil, nil
	}
	start := time.Now()
	ids := make([]string, c.seed)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range c.seed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			text, err := send(ctx, client, target, c, fmt.Sprintf("open Seeded incident %d category:other", i), responseURL)
			id, _, _ := strings.Cut(strings.TrimPrefix(text, "Opened "), ".")
			if err != nil || !strings.HasPrefix(id, "YQ-") {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%v (answer %q)", err, text))
				return
			}
			ids[i] = id
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return nil, fmt.Errorf("seeding: %d of %d opens failed, the first: %v", n, c.seed, firstErr.Load())
	}
	fmt.Fprintf(out, "seeded:     %d open incidents in %s\n", c.seed, time.Since(start).Round(time.Millisecond))
	return ids, nil
}

// triggers numbers the requests' trigger IDs; runID tells runs apart.
var (
	triggers atomic.Uint64
	runID    = randomHex(4)
)

// send sends one slash command and returns the text of its answer.
func send(ctx context.Context, client *http.Client, target string, c config, text, responseURL string) (string, error) {
	form := url.Values{
		"token": {"unused"}, "team_id": {"T0LOAD"}, "team_domain": {"load"},
		"channel_id": {c.channel}, "channel_name": {"incidents"}, "user_id": {c.user}, "user_name": {"load"},
		"command": {"/incident"}, "text": {text},
		// Unique per invocation, as Slack's are: Firebreak answers a repeated
		// trigger_id from its memo without running the command again.
		"response_url": {responseURL}, "trigger_id": {"load." + strconv.FormatUint(triggers.Add(1), 10) + "." + runID},
	}
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(fbslack.HeaderTimestamp, ts)
	req.Header.Set(fbslack.HeaderSignature, fbslack.Signature([]byte(c.secret), ts, []byte(body)))
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", errors.New("timeout")
		}
		return "", errors.New("transport: " + err.Error())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", errors.New("read answer: " + err.Error())
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var answer struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &answer); err != nil {
		return "", errors.New("answer is not JSON")
	}
	if strings.HasPrefix(answer.Text, "⚠") {
		return answer.Text, errors.New("refused: " + answer.Text)
	}
	return answer.Text, nil
}

func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no data"
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s", r(at(0.50)), r(at(0.90)), r(at(0.99)), r(at(0.999)), r(ds[len(ds)-1]))
}

// server is the in-process Firebreak: the core as cmd/firebreak builds it
// (core.New) with the Slack adapter on an HTTP server.
type server struct {
	url   string
	close func()
}

func serve(ctx context.Context, c config) (*server, error) {
	roster := rosterfile.Demo(fbslack.Platform) // the load is on the Slack path
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	client, err := fbredis.DialWith(dialCtx, fbredis.DialOptions{URL: c.redis, Mode: fbredis.Mode(c.mode)})
	if err != nil {
		return nil, err
	}
	prefix := "fbload:" + randomHex(8)
	store := fbredis.New(client, fbredis.Options{Prefix: prefix})
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))

	router := core.New(core.Options{Store: store, Roster: roster, Clock: workflow.SystemClock{}, Log: log}).Router

	adapter, err := fbslack.New(fbslack.Options{SigningSecret: c.secret, BotToken: "xoxb-unused",
		APIURL: "http://127.0.0.1:9/", Router: router, Roster: roster, Locker: store, Log: log})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	adapter.Register(mux)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	return &server{
		url: "http://" + l.Addr().String() + "/slack/commands",
		close: func() {
			_ = hs.Close()
			_ = adapter.Drain(context.Background())
			deleteKeys(context.Background(), client, prefix)
			_ = client.Close()
		},
	}, nil
}

func deleteKeys(ctx context.Context, c goredis.UniversalClient, prefix string) {
	if cluster, ok := c.(*goredis.ClusterClient); ok { // each master holds its own slots' keys
		_ = cluster.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			iter := node.Scan(ctx, 0, prefix+"*", 1000).Iterator()
			for iter.Next(ctx) {
				_ = node.Unlink(ctx, iter.Val()).Err()
			}
			return iter.Err()
		})
		return
	}
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			fmt.Fprintf(os.Stderr, "fbload: delete keys %s*: %v\n", prefix, err)
			return
		}
		if len(keys) > 0 {
			_ = c.Unlink(ctx, keys...).Err()
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// sink takes the replies that go to a response_url (a command slower than
// Slack's acknowledgement time), so that they are counted, and is the Slack
// Web API of -serve: every method answers ok, with a fresh message ts.
type sink struct {
	*http.Server
	url    string
	apiURL string
	n      atomic.Int64
	api    atomic.Int64
}

func newSink() *sink {
	s := &sink{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s
	}
	s.url = "http://" + l.Addr().String() + "/response"
	s.apiURL = "http://" + l.Addr().String() + "/api/"
	s.Server = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			s.n.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			return
		}
		n := s.api.Add(1)
		channel := r.FormValue("channel")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": channel,
			"ts": fmt.Sprintf("1700000000.%06d", n)})
	})}
	go func() { _ = s.Serve(l) }()
	return s
}

func (s *sink) Close() {
	if s.Server != nil {
		_ = s.Server.Close()
	}
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
