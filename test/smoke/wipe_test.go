package smoke

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// flushAll empties the world's Redis, as a Redis restarted without
// persistence, replaced, or wiped by someone does. (Each world has a Redis
// of its own.)
func (w *world) flushAll() {
	w.t.Helper()
	opts, err := goredis.ParseURL(w.redisURL)
	if err != nil {
		w.t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushAll(ctx).Err(); err != nil {
		w.t.Fatalf("FLUSHALL: %v", err)
	}
}

// readyz returns the status and body of GET /readyz.
func (p *proc) readyz() (int, string) {
	p.w.t.Helper()
	resp, err := httpClient.Get("http://" + p.addr + "/readyz")
	if err != nil {
		p.w.t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serveRefused runs `firebreak serve` on the world and returns its output,
// failing the test unless it exits with an error within 30 s without ever
// answering /readyz 200.
func (w *world) serveRefused(name string) string {
	w.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(w.t))
	cmd := exec.Command(binary, "serve")
	cmd.Env = w.env(addr)
	out := &lineLog{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			w.t.Fatalf("firebreak %s: exited 0, want a refusal:\n%s", name, out)
		}
	case <-time.After(30 * time.Second):
		ready := false
		if resp, err := httpClient.Get("http://" + addr + "/readyz"); err == nil {
			ready = resp.StatusCode == http.StatusOK
			_ = resp.Body.Close()
		}
		_ = cmd.Process.Kill()
		<-exited
		w.t.Fatalf("firebreak %s still running after 30s (ready: %v), want it to refuse to start:\n%s", name, ready, out.Tail(40))
	}
	return out.String()
}

var nextIncident = regexp.MustCompile(`the next incident is (YQ-(\d+))`)

// TestRedisWipedUnderServe is the attack of issue 11: Redis comes back
// empty (FLUSHALL) under a running serve. The process turns not ready
// naming the cause, opens are refused on both platforms and no ID is
// handed out again; a restart refuses to start with the way out; after
// `firebreak store init` it starts, and the next incident's ID is far
// from the old one, so no old card or thread is touched.
func TestRedisWipedUnderServe(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1})
	a := w.start("a")
	old := a.openSlack(chen, "general", "Rumour that the north bridge will close for a month")
	var oldCard message
	if !waitFor(10*time.Second, func() bool {
		var ok bool
		oldCard, ok = w.find(slackIncidents, old.ID)
		return ok
	}) {
		t.Fatalf("the card of %s never reached %s", old.ID, slackIncidents)
	}
	if code, body := a.readyz(); code != http.StatusOK {
		t.Fatalf("readyz before the wipe: got %d %q, want 200", code, body)
	}

	// A command signed just before the wipe, to be replayed after it.
	replayBody, _ := a.slashBody(chen, `open "Replayed from before the wipe" level:general category:other`)
	replayAt := time.Now()
	w.flushAll()
	wiped := time.Now()
	var code int
	var body string
	if !waitFor(10*time.Second, func() bool { code, body = a.readyz(); return code == http.StatusServiceUnavailable }) {
		t.Fatalf("readyz 10s after FLUSHALL: got %d %q, want 503", code, body)
	}
	t.Logf("not ready %s after FLUSHALL: %s", time.Since(wiped).Round(time.Millisecond), strings.TrimSpace(body))
	for _, want := range []string{"Redis lost Firebreak's data", "丢失", "fb:instance", "is gone", old.ID, "firebreak store init"} {
		if !strings.Contains(body, want) {
			t.Errorf("readyz after FLUSHALL: got %q, want it to contain %q", body, want)
		}
	}

	postsBefore := len(w.messages())
	reply, _ := a.slash(chen, `open "Photos of a crack in the north bridge" level:major category:other`)
	if !strings.Contains(reply, "lost its data") || !strings.Contains(reply, "firebreak store init") || incidentID.MatchString(reply) {
		t.Errorf("Slack open after FLUSHALL: got %q, want a refusal naming the loss and store init, and no incident ID", reply)
	}
	reply, _ = a.telegramCommand(li, tgIncidentsChat, `open "Video of the bridge shaking" level:general category:other`)
	if !strings.Contains(reply, "lost its data") || incidentID.MatchString(reply) {
		t.Errorf("Telegram open after FLUSHALL: got %q, want a refusal and no incident ID", reply)
	}
	// Nor does anything else run: the store would show part of what was
	// lost as if it were all ("no incident YQ-…", "No open incidents").
	for _, cmd := range []string{"status " + old.ID, "list"} {
		if reply, _ := a.slash(chen, cmd); !strings.Contains(reply, "lost its data") || !strings.Contains(reply, "Nothing was changed") {
			t.Errorf("Slack %s after FLUSHALL: got %q, want the refusal naming the loss", cmd, reply)
		}
	}
	time.Sleep(2 * time.Second) // anything the refused opens sent would be out by now
	for _, m := range w.messages()[postsBefore:] {
		if id := incidentID.FindString(m.Text); id != "" {
			t.Errorf("after FLUSHALL %s got %q, want no message about any incident", m.Chat, m.Text)
		}
	}
	a.terminate()

	out := w.serveRefused("b")
	for _, want := range []string{"refusing to use the Redis", "no Firebreak instance marker", "lost Firebreak's data",
		"firebreak store init", "--next-id N"} {
		if !strings.Contains(out, want) {
			t.Errorf("serve on the wiped Redis: got\n%s\nwant it to contain %q", out, want)
		}
	}

	initOut := w.storeInit()
	m := nextIncident.FindStringSubmatch(initOut)
	if m == nil {
		t.Fatalf("store init: got %q, want it to name the next incident", initOut)
	}
	if n, _ := strconv.Atoi(m[2]); n < 1_000_000 {
		t.Errorf("store init: the next incident is %s, want a number from the clock, far above any ID of the old store", m[1])
	}
	c := w.start("c")
	// The new store has no record of what the lost one handled: a request
	// signed before it was initialised (a replay, a Slack retry) is refused.
	req, err := c.slashRequest(replayBody, replayAt)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a command signed before store init, after it: got HTTP %d, want 401", resp.StatusCode)
	}
	fresh := c.openSlack(chen, "general", "Photos of a crack in the north bridge")
	if fresh.ID != m[1] || fresh.ID == old.ID {
		t.Errorf("open after store init: got %s, want %s (old: %s)", fresh.ID, m[1], old.ID)
	}
	if !waitFor(10*time.Second, func() bool { _, ok := w.find(slackIncidents, fresh.ID); return ok }) {
		t.Fatalf("the card of %s never reached %s", fresh.ID, slackIncidents)
	}
	for _, m := range append(w.messages(), w.edits()...) {
		if strings.Contains(m.Text, fresh.ID) && m.Chat == oldCard.Chat && (m.ID == oldCard.ID || m.Thread == oldCard.ID) {
			t.Errorf("%s was written on or under the card of %s (ts %s): %q", fresh.ID, old.ID, oldCard.ID, m.Text)
		}
	}
}

// TestNewInstallationNeedsStoreInit: serve refuses a Redis that was never
// initialised (it cannot tell it from one that lost its data) and starts
// after `store init --next-id 1`, its first incident YQ-1.
func TestNewInstallationNeedsStoreInit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1, uninitialised: true})
	out := w.serveRefused("a")
	if !strings.Contains(out, "new installation") || !strings.Contains(out, "firebreak store init") {
		t.Errorf("serve on an empty Redis: got\n%s\nwant it to name a new installation and store init", out)
	}
	if got := w.storeInit("--next-id", "1"); !strings.Contains(got, "the next incident is YQ-1\n") {
		t.Errorf("store init --next-id 1: got %q, want YQ-1 next", got)
	}
	b := w.start("b")
	if inc := b.openSlack(chen, "general", "Complaint about the canteen"); inc.ID != "YQ-1" {
		t.Errorf("first incident: got %s, want YQ-1", inc.ID)
	}
}

// TestWipeInABusyFirstMinute: an installation initialised by the clock
// opens incidents faster than one a minute, then Redis is wiped under the
// running serve, and `store init` by the clock again (the same minute, at
// once) still hands out no ID already posted: asked by init, the running
// serve leaves the last one it knew beside the lost marker.
func TestWipeInABusyFirstMinute(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1, uninitialised: true})
	m := nextIncident.FindStringSubmatch(w.storeInit())
	if m == nil {
		t.Fatal("store init by the clock named no next incident")
	}
	a := w.start("a")
	var last incident
	for i := range 3 {
		last = a.openSlack(chen, "general", fmt.Sprintf("Busy first minute, post %d", i+1))
	}
	// store init at once, before serve's next check of the marker: init
	// asks the running serve for the last ID it knows.
	w.flushAll()
	out := w.storeInit()
	if !waitFor(10*time.Second, func() bool { code, _ := a.readyz(); return code == http.StatusServiceUnavailable }) {
		t.Fatal("readyz 10s after FLUSHALL and store init: still 200, want 503 (restart after init)")
	}
	a.terminate()

	m = nextIncident.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("store init after the wipe: got %q, want it to name the next incident", out)
	}
	lastN, _ := strconv.Atoi(strings.TrimPrefix(last.ID, "YQ-"))
	if n, _ := strconv.Atoi(m[2]); n <= lastN {
		t.Errorf("store init after the wipe: the next incident is %s, want above %s, the last one posted\n%s", m[1], last.ID, out)
	}
	b := w.start("b")
	if fresh := b.openSlack(chen, "general", "After the wipe"); fresh.ID != m[1] {
		t.Errorf("open after store init: got %s, want %s", fresh.ID, m[1])
	}
}
