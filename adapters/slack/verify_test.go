package slack_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/workflow"
)

// Slack's own worked example of the signature ("Verifying requests from
// Slack", api.slack.com/authentication/verifying-requests-from-slack).
const (
	exampleSecret    = "8f742231b10e8888abcd99yyyzzz85a5"
	exampleTimestamp = "1531420618"
	exampleBody      = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	exampleSignature = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
)

func TestSignatureMatchesSlackWorkedExample(t *testing.T) {
	got := fbslack.Signature([]byte(exampleSecret), exampleTimestamp, []byte(exampleBody))
	if got != exampleSignature {
		t.Errorf("got %s, want %s", got, exampleSignature)
	}
}

// TestSlackWorkedExampleOverHTTP sends Slack's example request, headers and
// body as published, to /slack/commands at the time it was sent: it is
// accepted, and its user, who is not in the roster, is told how to be added.
func TestSlackWorkedExampleOverHTTP(t *testing.T) {
	ts, _ := strconv.ParseInt(exampleTimestamp, 10, 64)
	e := newEnv(t, envOptions{clock: workflow.NewManualClock(time.Unix(ts+30, 0))})
	a := e.adapterWithSecret(exampleSecret)
	mux := http.NewServeMux()
	a.Register(mux)

	req, _ := http.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(exampleBody))
	req.Header.Set("Content-Type", formType)
	req.Header.Set(fbslack.HeaderTimestamp, exampleTimestamp)
	req.Header.Set(fbslack.HeaderSignature, exampleSignature)
	rec := newRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	r := decode(t, rec.Body.Bytes())
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "U2CERLKJA") || !strings.Contains(r.Text, "id: roadrunner") {
		t.Errorf("got %+v, want ephemeral guidance naming U2CERLKJA and the roster line for roadrunner", r)
	}
	if n := e.routed.Load(); n != 1 {
		t.Errorf("router asked %d times, want once (it refuses someone not in the roster)", n)
	}
}

// TestRefusedRequests: every request Slack did not sign, or that cannot be
// read, is refused with 401 or 400 before anything runs, and the log line
// says why without the secret.
func TestRefusedRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	now := time.Now()
	goodForm := url.Values{"user_id": {"U0CHEN"}, "command": {"/incident"}, "channel_id": {"C0INCIDENTS"},
		"text": {"open Canteen complaint"}, "response_url": {e.hooks.url()}}.Encode()
	big := "text=" + strings.Repeat("a", fbslack.MaxBody) + "&user_id=U0CHEN&command=%2Fincident"

	tests := []struct {
		name   string
		path   string
		req    func() *http.Request
		status int
		reason string
	}{
		{"missing signature", "/slack/commands", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/commands", formType, goodForm, now)
			r.Header.Del(fbslack.HeaderSignature)
			return r
		}, 401, "missing"},
		{"missing timestamp", "/slack/commands", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/commands", formType, goodForm, now)
			r.Header.Del(fbslack.HeaderTimestamp)
			return r
		}, 401, "missing"},
		{"forged signature", "/slack/commands", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/commands", formType, goodForm, now)
			stamp := r.Header.Get(fbslack.HeaderTimestamp)
			r.Header.Set(fbslack.HeaderSignature, fbslack.Signature([]byte("not-the-secret"), stamp, []byte(goodForm)))
			return r
		}, 401, "signature does not match"},
		{"body changed after signing", "/slack/commands", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/commands", formType, goodForm, now)
			r2, _ := http.NewRequest(http.MethodPost, r.URL.String(), strings.NewReader(goodForm+"x"))
			r2.Header = r.Header
			return r2
		}, 401, "signature does not match"},
		{"stale timestamp", "/slack/commands", func() *http.Request {
			return signed(t, e.server.URL+"/slack/commands", formType, goodForm, now.Add(-6*time.Minute))
		}, 401, "5 minutes"},
		{"timestamp from the future", "/slack/commands", func() *http.Request {
			return signed(t, e.server.URL+"/slack/commands", formType, goodForm, now.Add(6*time.Minute))
		}, 401, "5 minutes"},
		{"malformed timestamp", "/slack/commands", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/commands", formType, goodForm, now)
			r.Header.Set(fbslack.HeaderTimestamp, "yesterday")
			return r
		}, 401, "malformed"},
		{"body over 1 MiB", "/slack/commands", func() *http.Request {
			return signed(t, e.server.URL+"/slack/commands", formType, big, now)
		}, 400, "over 1 MiB"},
		{"malformed form", "/slack/commands", func() *http.Request {
			return signed(t, e.server.URL+"/slack/commands", formType, "user_id=U0CHEN&text=%zz", now)
		}, 400, "malformed form"},
		{"form without a command", "/slack/commands", func() *http.Request {
			return signed(t, e.server.URL+"/slack/commands", formType, "text=open+x", now)
		}, 400, "not a slash command"},
		{"interaction without payload", "/slack/interactions", func() *http.Request {
			return signed(t, e.server.URL+"/slack/interactions", formType, "foo=bar", now)
		}, 400, "no payload"},
		{"interaction with malformed JSON", "/slack/interactions", func() *http.Request {
			return signed(t, e.server.URL+"/slack/interactions", formType, url.Values{"payload": {`{"type":"block_actions",`}}.Encode(), now)
		}, 400, "malformed payload"},
		{"interaction forged", "/slack/interactions", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/interactions", formType, url.Values{"payload": {`{}`}}.Encode(), now)
			r.Header.Set(fbslack.HeaderSignature, "v0=00")
			return r
		}, 401, "signature does not match"},
		{"event with malformed JSON", "/slack/events", func() *http.Request {
			return signed(t, e.server.URL+"/slack/events", "application/json", `{"type":`, now)
		}, 400, "malformed event"},
		{"url_verification unsigned", "/slack/events", func() *http.Request {
			r := signed(t, e.server.URL+"/slack/events", "application/json", `{"type":"url_verification","challenge":"x"}`, now)
			r.Header.Del(fbslack.HeaderSignature)
			return r
		}, 401, "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.logs.String())
			code, body := do(t, tt.req())
			if code != tt.status {
				t.Errorf("got %d %s, want %d", code, body, tt.status)
			}
			line := e.logs.String()[before:]
			if !strings.Contains(line, "slack request refused") || !strings.Contains(line, tt.reason) || !strings.Contains(line, tt.path) {
				t.Errorf("log %q, want a refusal naming %s and %q", line, tt.path, tt.reason)
			}
			if strings.Contains(line, testSecret) || strings.Contains(line, "v0=") {
				t.Errorf("log %q shows the secret or a signature", line)
			}
		})
	}
	e.drain()
	if n := e.routed.Load(); n != 0 {
		t.Errorf("router ran %d times, want 0: nothing may run for a refused request", n)
	}
	incs, err := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil || len(incs) != 0 {
		t.Errorf("got %d incidents (err %v), want none", len(incs), err)
	}
	e.hooks.none()
	if calls := e.slack.Calls(); len(calls) != 0 {
		t.Errorf("got Web API calls %+v, want none", calls)
	}
}

// TestNoSigningSecretRefusesAll: with only Socket Mode configured, the HTTP
// endpoints refuse everything rather than accept unsigned requests.
func TestNoSigningSecretRefusesAll(t *testing.T) {
	e := newEnv(t, envOptions{})
	a := e.adapterWithSecret("")
	mux := http.NewServeMux()
	a.Register(mux)
	req := signed(t, "/slack/commands", formType, "user_id=U0CHEN&command=%2Fincident&text=help", time.Now())
	rec := newRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("got %d, want 401", rec.Code)
	}
}

func TestRoutes(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/slack/commands", http.StatusMethodNotAllowed},
		{"GET", "/slack/events", http.StatusMethodNotAllowed},
		{"POST", "/slack/command", http.StatusNotFound},
		{"POST", "/slack/interactions/x", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tt.method, e.server.URL+tt.path, nil)
		if code, _ := do(t, req); code != tt.want {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, code, tt.want)
		}
	}
}
