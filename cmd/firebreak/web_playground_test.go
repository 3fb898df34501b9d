package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak/firebreak/bot"
)

// TestPlaygroundRepliesLikeSlack types the same commands and presses the
// same buttons in the playground (over HTTP, as the page does) and as Slack
// requests straight into another app's router, and wants the same replies,
// errors included: the playground is the same router, not a mock.
func TestPlaygroundRepliesLikeSlack(t *testing.T) {
	pg := startWeb(t, Config{}, true, nil)
	slack := mustApp(t, Config{RedisURL: pg.a.cfg.RedisURL, TimeScale: 1})

	steps := []struct {
		actor  string
		text   string // a typed command, or
		button string // a pressed button
	}{
		{actor: "chen", text: `/incident opne "Canteen complaint"`},
		{actor: "chen", text: "/incident frobnicate"},
		{actor: "chen", text: "/incident open"},
		{actor: "chen", text: `/incident open "Canteen complaint" level:urgent`},
		{actor: "chen", text: `/incident open "Canteen complaint" found:25:00`},
		{actor: "chen", text: "/incident status YQ-99"},
		{actor: "chen", button: "ack:YQ-99"},
		{actor: "chen", text: `/incident open "Canteen <b>complaint</b>" level:major category:inquiry`},
		{actor: "chen", text: "/incident approve YQ-1"},
		{actor: "li", button: "ack:YQ-1"},
		{actor: "chen", text: "/incident draft YQ-1 We inspected the canteen."},
		{actor: "wang", button: "approve:YQ-1:0"},
		{actor: "wang", button: "approve:YQ-1:1"},
		{actor: "wang", button: "approve:YQ-1:1"},
		{actor: "zhao", button: "reject:YQ-1:1"},
		{actor: "zhao", button: "approve:YQ-1:1"},
		{actor: "chen", button: "publish:YQ-1:1"},
		{actor: "sun", button: "publish:YQ-1:1"},
		{actor: "chen", text: "/incident status YQ-1"},
		{actor: "chen", text: "/incident list"},
		{actor: "chen", text: "/incident help draft"},
	}
	for _, s := range steps {
		var path, body string
		req := &bot.Request{Platform: bot.PlatformSlack, Actor: s.actor, Conversation: "C0INCIDENTS"}
		if s.button != "" {
			path, body = "/api/v1/playground/action", fmt.Sprintf(`{"actor":%s,"action":%s}`, js(s.actor), js(s.button))
			a, err := bot.ParseAction(s.button)
			if err != nil {
				t.Fatal(err)
			}
			req.Action = &a
		} else {
			path, body = "/api/v1/playground/command", fmt.Sprintf(`{"actor":%s,"text":%s}`, js(s.actor), js(s.text))
			req.Text = s.text
		}
		want := slack.router.Handle(context.Background(), req)
		got := postPlayground(t, pg.URL+path, body)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s%s:\n got %+v\nwant %+v", s.actor, s.text, s.button, show(got), show(want))
		}
	}

	// The playground acts only as someone of the roster: anyone else is
	// refused with the router's words, and nothing runs.
	res, err := http.Post(pg.URL+"/api/v1/playground/command", "application/json", strings.NewReader(`{"actor":"nobody","text":"/incident list"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, _ := io.ReadAll(res.Body); res.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "you are not in the roster") {
		t.Errorf("nobody: got %d %s, want 403 saying they are not in the roster", res.StatusCode, b)
	}
}

func postPlayground(tb testing.TB, url, body string) *bot.Reply {
	tb.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("POST %s %s: got %d %s", url, body, res.StatusCode, b)
	}
	var out struct {
		Reply *bot.Reply `json:"reply"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatalf("decode %s: %v", b, err)
	}
	return out.Reply
}

func show(r *bot.Reply) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// TestServeStartsPlayground runs `firebreak serve` with nothing configured,
// as on a fresh machine: the embedded Redis, the demo roster, demo time 60×,
// and the playground answering within 10 seconds. Stopping it ends the open
// event streams and returns.
func TestServeStartsPlayground(t *testing.T) {
	for _, name := range os.Environ() {
		if name, _, _ := strings.Cut(name, "="); strings.HasPrefix(name, envPrefix+"_") {
			unsetenv(t, name)
		}
	}
	t.Setenv(envPrefix+"_HTTP_ADDR", "127.0.0.1:0") // the default 127.0.0.1:8080 may be taken here
	start := time.Now()
	ctx, stop := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, out) }()
	defer func() {
		stop()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, out)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("serve did not stop within 20s of the signal")
		}
	}()

	var url string
	for url == "" {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no playground URL within 10s; output:\n%s", out)
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, out)
		case <-time.After(20 * time.Millisecond):
		}
		if _, rest, ok := strings.Cut(out.String(), "Firebreak playground: "); ok {
			url, _, _ = strings.Cut(rest, " ")
		}
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("demo time: 60×")) || !bytes.Contains(page, []byte(`id="command-form"`)) {
		t.Fatalf("GET %s: got %d %q, want the playground showing demo time: 60×", url, res.StatusCode, page)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the playground answered after %s, want within 10s", took)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("playground URL %q, want it on 127.0.0.1 only", url)
	}
	reply := postPlayground(t, url+"api/v1/playground/command", `{"actor":"chen","text":"/incident open Canteen complaint"}`)
	if !strings.HasPrefix(reply.Text, "Opened YQ-1.") {
		t.Errorf("open in the playground: got %+v", reply)
	}

	// An open event stream must not hold up the shutdown.
	events, err := http.Get(url + "api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer events.Body.Close()
	line, _ := bufioLine(events.Body)
	if !strings.HasPrefix(line, "retry:") && !strings.HasPrefix(line, "id:") && !strings.HasPrefix(line, "event:") {
		t.Errorf("event stream starts with %q", line)
	}
}

// bufioLine reads one line.
func bufioLine(r io.Reader) (string, error) {
	var b [1]byte
	var s strings.Builder
	for {
		if _, err := r.Read(b[:]); err != nil {
			return s.String(), err
		}
		if b[0] == '\n' {
			return s.String(), nil
		}
		s.WriteByte(b[0])
	}
}

// unsetenv removes an environment variable for the test and puts it back
// afterwards (serve tells an unset variable from an empty one).
func unsetenv(t *testing.T, name string) {
	t.Helper()
	t.Setenv(name, "") // marks the test as changing the environment, and restores it
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer that serve's logger and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
