package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

// The intake's tokens: FIREBREAK_INTAKE_TOKEN for any source, and the
// roster's token of the source "weibo".
const (
	intakeToken = "intake-token-7f3a9c21d4e8b6f0"
	weiboToken  = "weibo-token-0a1b2c3d4e5f6789"
)

// fakeIntake is the Service's intake as the adapter sees it: it records
// every delivery and answers each item as a new candidate (or as answer
// says), and lists the candidates it holds.
type fakeIntake struct {
	mu         sync.Mutex
	deliveries []delivery
	answer     func(source string, items []workflow.Item) ([]workflow.Received, error)
	candidates []*workflow.Candidate
	listErr    error
	asked      []int // the pages asked for
}

type delivery struct {
	Source string
	Items  []workflow.Item
}

func (f *fakeIntake) Intake(_ context.Context, source string, items []workflow.Item) ([]workflow.Received, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliveries = append(f.deliveries, delivery{Source: source, Items: slices.Clone(items)})
	if f.answer != nil {
		return f.answer(source, items)
	}
	out := make([]workflow.Received, len(items))
	for i, it := range items {
		id := workflow.CandidatePrefix + strconv.Itoa(len(f.candidates)+1)
		src := source
		if src == "" {
			src = it.Source
		}
		f.candidates = append(f.candidates, &workflow.Candidate{ID: id, Source: src, Title: it.Title, URL: it.URL,
			FoundAt: it.FoundAt, ReceivedAt: now, State: workflow.CandidatePending, Triage: workflow.DefaultTriage,
			Suggestion: workflow.Suggestion{Level: workflow.LevelGeneral, Category: workflow.CategoryOther}})
		out[i] = workflow.Received{Candidate: id, Outcome: workflow.ReceivedNew}
	}
	return out, nil
}

func (f *fakeIntake) CandidatesOf(_ context.Context, state workflow.CandidateState, n int) ([]*workflow.Candidate, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, n)
	if f.listErr != nil {
		return nil, 0, f.listErr
	}
	var all []*workflow.Candidate
	for _, c := range f.candidates {
		if c.State == state {
			all = append(all, c.Clone())
		}
	}
	if n == 0 {
		return all, len(all), nil
	}
	from := (n - 1) * workflow.PageSize
	if from >= len(all) && n > 1 {
		return nil, 0, workflow.Errorf(workflow.CodeInvalid, "page:%d: there are only %d page(s)", "page:%d:共只有 %d 页", n, 1)
	}
	return all[from:min(from+workflow.PageSize, len(all))], len(all), nil
}

func (f *fakeIntake) got() []delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.deliveries)
}

// intakeRoster is the test roster with a token for the source "weibo".
func intakeRoster(tb testing.TB) *workflow.Roster {
	tb.Helper()
	r := testRoster(tb)
	copied := *r
	copied.Intake = workflow.IntakeConfig{Tokens: map[string]string{"weibo": weiboToken, "douyin": "douyin-token-99887766554433"}}
	out, err := workflow.NewRoster(copied)
	if err != nil {
		tb.Fatalf("NewRoster: %v", err)
	}
	return out
}

type intakeFixture struct {
	*fixture
	intake *fakeIntake
	logs   *bytes.Buffer
}

// newIntakeFixture serves the intake with the fake, FIREBREAK_INTAKE_TOKEN
// set and the roster's tokens, logging everything (Debug up) to logs.
func newIntakeFixture(tb testing.TB, playground bool, mod func(*Config)) *intakeFixture {
	tb.Helper()
	fi := &fakeIntake{}
	logs := &bytes.Buffer{}
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFixtureConfig(tb, playground, hardToken, func(c *Config) {
		c.Roster = intakeRoster(tb)
		c.Intake = fi
		c.IntakeToken = intakeToken
		c.Log = log
		if mod != nil {
			mod(c)
		}
	})
	return &intakeFixture{fixture: f, intake: fi, logs: logs}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// post sends body to path with the bearer token (none when "").
func (f *intakeFixture) post(path, token, body string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, m := range mod {
		m(req)
	}
	return f.do(req)
}

// item is a valid item found at (RFC 3339), with the fields given added or
// replaced (a value of nil removes the field).
func item(found string, fields map[string]any) string {
	m := map[string]any{
		"source": "weibo", "id": "5012", "url": "https://m.weibo.cn/status/5012?utm_source=share",
		"title": "某中学食堂饭菜发霉?", "excerpt": "有家长在群里发截图称食堂饭菜发霉。", "author": "家长小李",
		"found_at": found, "figures": map[string]any{"posts": 35, "views": 12000, "heat": 68},
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// batch is an array of n valid items.
func batch(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = item(now.Add(-5*time.Minute).Format(time.RFC3339), map[string]any{"id": fmt.Sprint(i), "url": fmt.Sprintf("https://m.weibo.cn/status/%d", i)})
	}
	return "[" + strings.Join(parts, ",") + "]"
}

var found5m = now.Add(-5 * time.Minute).Format(time.RFC3339)

// TestIntakeBadInput: every bad delivery of the issue is refused with the
// status it names and a message that says what is wrong and where, in
// both languages, and nothing reaches the Service.
func TestIntakeBadInput(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		token     string
		body      string
		status    int
		code      string
		item      int
		field     string
		wantMsg   string // in error
		offset    bool
		limit     int64
		challenge string // WWW-Authenticate
	}{
		{name: "malformed JSON", path: "/intake", token: intakeToken, body: `{"title": "食堂", "figures": {"posts": 35,}}`,
			status: 400, code: "invalid", wantMsg: "not valid JSON at byte", offset: true},
		{name: "malformed JSON in a batch", path: "/intake", token: intakeToken, body: `[` + item(found5m, nil) + `, {"title": ]`,
			status: 400, code: "invalid", wantMsg: "not valid JSON at byte", offset: true},
		{name: "a figure as a string", path: "/intake", token: intakeToken, body: item(found5m, map[string]any{"figures": map[string]any{"posts": "35"}}),
			status: 400, code: "invalid", item: 1, field: "figures.posts", wantMsg: "item 1: figures.posts: a string where a whole number is expected"},
		{name: "a figure with a fraction", path: "/intake", token: intakeToken,
			body:   "[" + item(found5m, nil) + "," + item(found5m, map[string]any{"figures": map[string]any{"views": 12.5}}) + "]",
			status: 400, code: "invalid", item: 2, field: "figures.views", wantMsg: "item 2: figures.views: the number 12.5 where a whole number is expected"},
		{name: "figures not an object", path: "/intake", token: intakeToken, body: item(found5m, map[string]any{"figures": 35}),
			status: 400, code: "invalid", item: 1, field: "figures", wantMsg: "item 1: figures: a number where an object"},
		{name: "a title as a number", path: "/intake", token: intakeToken, body: item(found5m, map[string]any{"title": 7}),
			status: 400, code: "invalid", item: 1, field: "title", wantMsg: "item 1: title: a number where a string is expected"},
		{name: "an item that is no object", path: "/intake", token: intakeToken, body: "[" + item(found5m, nil) + `, "食堂"]`,
			status: 400, code: "invalid", item: 2, wantMsg: "item 2: must be a JSON object, not a string"},
		{name: "an empty body", path: "/intake", token: intakeToken, body: "  ", status: 400, code: "invalid", wantMsg: "the body is empty"},
		{name: "a body that is a string", path: "/intake", token: intakeToken, body: `"食堂"`, status: 400, code: "invalid",
			wantMsg: "must be a JSON object (one item) or an array of objects, not a string"},
		{name: "an empty array", path: "/intake", token: intakeToken, body: `[]`, status: 400, code: "invalid", wantMsg: "holds no item"},
		{name: "found_at unparseable", path: "/intake", token: intakeToken, body: item("2026-03-02 10:00", nil),
			status: 400, code: "invalid", item: 1, field: "found_at", wantMsg: `item 1: found_at: "2026-03-02 10:00" is not an RFC 3339 time`},
		{name: "found_at a number", path: "/intake", token: intakeToken, body: strings.Replace(item(found5m, nil), `"`+found5m+`"`, "1772416800", 1),
			status: 400, code: "invalid", item: 1, field: "found_at", wantMsg: "item 1: found_at: a number where an RFC 3339 time"},
		{name: "101 items", path: "/intake", token: intakeToken, body: batch(101),
			status: 413, code: "too_many", wantMsg: "at most 100 items, not 101", limit: 100},
		{name: "no token", path: "/intake", body: item(found5m, nil),
			status: 401, code: "unauthorized", wantMsg: "Authorization: Bearer <token>", challenge: `Bearer realm="firebreak intake"`},
		{name: "another scheme", path: "/intake", body: item(found5m, nil), token: "",
			status: 401, code: "unauthorized", challenge: `Bearer realm="firebreak intake"`},
		{name: "a wrong token", path: "/intake", token: "intake-token-7f3a9c21d4e8b6f1", body: item(found5m, nil),
			status: 401, code: "unauthorized", wantMsg: "the token is not right", challenge: `Bearer realm="firebreak intake", error="invalid_token"`},
		{name: "a prefix of the token", path: "/intake", token: intakeToken[:10], body: item(found5m, nil),
			status: 401, code: "unauthorized", challenge: `Bearer realm="firebreak intake", error="invalid_token"`},
		{name: "a source's token for another source's address", path: "/intake/douyin", token: weiboToken, body: item(found5m, map[string]any{"source": nil}),
			status: 401, code: "unauthorized", wantMsg: `this token is not valid for source "douyin"`, challenge: `Bearer realm="firebreak intake"`},
		{name: "a source's token for an unknown source's address", path: "/intake/elsewhere", token: weiboToken, body: item(found5m, map[string]any{"source": nil}),
			status: 401, code: "unauthorized", wantMsg: `this token is valid for its own source only`},
		{name: "a token as the source of the address", path: "/intake/" + weiboToken, token: intakeToken, body: item(found5m, map[string]any{"source": nil}),
			status: 400, code: "invalid", wantMsg: "the source name is an intake token"},
		{name: "a token as the source of an item", path: "/intake", token: intakeToken, body: item(found5m, map[string]any{"source": intakeToken}),
			status: 400, code: "invalid", item: 1, field: "source", wantMsg: "item 1: source: the source name is an intake token"},
		{name: "a source's token for another source's item", path: "/intake", token: weiboToken,
			body:   "[" + item(found5m, nil) + "," + item(found5m, map[string]any{"source": "douyin"}) + "]",
			status: 401, code: "unauthorized", wantMsg: `item 2: this token is not valid for source "douyin"`},
		{name: "a source's token at its address for another source's item", path: "/intake/weibo", token: weiboToken,
			body:   item(found5m, map[string]any{"source": "douyin"}),
			status: 401, code: "unauthorized", wantMsg: `item 1: this token is not valid for source "douyin"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIntakeFixture(t, false, nil)
			var mod []func(*http.Request)
			if tt.name == "another scheme" {
				mod = append(mod, func(r *http.Request) { r.Header.Set("Authorization", "Basic "+intakeToken) })
			}
			rec := f.post(tt.path, tt.token, tt.body, mod...)
			if rec.Code != tt.status {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			e := decode[intakeError](t, rec)
			if e.Code != tt.code || e.Item != tt.item || e.Field != tt.field {
				t.Errorf("got code %q item %d field %q, want %q %d %q (%s)", e.Code, e.Item, e.Field, tt.code, tt.item, tt.field, rec.Body)
			}
			if !strings.Contains(e.Error, tt.wantMsg) {
				t.Errorf("got error %q, want it to hold %q", e.Error, tt.wantMsg)
			}
			if e.Error == "" || e.ErrorZH == "" || e.ErrorZH == e.Error && tt.status != 500 {
				t.Errorf("got error %q error_zh %q, want both languages", e.Error, e.ErrorZH)
			}
			if tt.offset != (e.Offset != nil) {
				t.Errorf("got offset %v, want one: %v", e.Offset, tt.offset)
			}
			if e.Offset != nil && (*e.Offset <= 0 || *e.Offset > int64(len(tt.body))) {
				t.Errorf("got offset %d, want a byte of the %d-byte body", *e.Offset, len(tt.body))
			}
			if e.Limit != tt.limit {
				t.Errorf("got limit %d, want %d", e.Limit, tt.limit)
			}
			if tt.status == http.StatusUnauthorized && tt.challenge == "" {
				tt.challenge = `Bearer realm="firebreak intake"`
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("got WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if got := f.intake.got(); len(got) != 0 {
				t.Errorf("the Service got %d deliveries, want none", len(got))
			}
			if strings.Contains(rec.Body.String(), intakeToken) || strings.Contains(rec.Body.String(), weiboToken) {
				t.Errorf("the answer echoes a token: %s", rec.Body)
			}
		})
	}
}

// TestIntakeBodyTooLarge: a body over 1 MiB is refused with 413 naming the
// limit, whether its length is declared or found while reading; one just
// under is read.
func TestIntakeBodyTooLarge(t *testing.T) {
	f := newIntakeFixture(t, false, nil)
	pad := func(n int) string {
		// One item whose excerpt makes the body n bytes long.
		base := item(found5m, map[string]any{"excerpt": ""})
		return strings.Replace(base, `"excerpt":""`, `"excerpt":"`+strings.Repeat("x", n-len(base))+`"`, 1)
	}
	big := pad(maxIntakeBody + 1)
	if len(big) != maxIntakeBody+1 {
		t.Fatalf("made a %d-byte body, want %d", len(big), maxIntakeBody+1)
	}
	check := func(name string, rec *httptest.ResponseRecorder) {
		t.Helper()
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%s: got %d %s, want 413", name, rec.Code, rec.Body)
		}
		e := decode[intakeError](t, rec)
		if e.Code != "too_large" || e.Limit != maxIntakeBody || !strings.Contains(e.Error, "larger than 1 MiB") || !strings.Contains(e.ErrorZH, "1 MiB") {
			t.Errorf("%s: got %+v, want too_large naming 1 MiB", name, e)
		}
	}
	check("declared", f.post("/intake", intakeToken, big))
	req := httptest.NewRequest(http.MethodPost, "/intake", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+intakeToken)
	check("chunked", f.do(req))
	if got := f.intake.got(); len(got) != 0 {
		t.Fatalf("the Service got %d deliveries, want none", len(got))
	}

	// Larger than the 64 KiB of other requests, within the intake's limit.
	rec := f.post("/intake", intakeToken, pad(maxIntakeBody))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("a body of exactly 1 MiB: got %d %s, want 202", rec.Code, rec.Body)
	}
}

// TestIntakeServiceRefusals: what the Service refuses is answered as the
// issue says: a bad item 400 naming it and its field, a source past its
// rate 429 with Retry-After, storage down 503, a fault 500.
func TestIntakeServiceRefusals(t *testing.T) {
	future := now.Add(2 * time.Hour).Format(time.RFC3339)
	tests := []struct {
		name       string
		err        error
		body       string
		status     int
		code       string
		item       int
		field      string
		wantMsg    string
		wantZH     string
		retryAfter string
		limit      int64
	}{
		{name: "found_at in the future", body: "[" + item(found5m, nil) + "," + item(future, map[string]any{"id": "2"}) + "]",
			err: &workflow.ItemError{Index: 1, Field: "found_at", Msg: workflow.Text{
				EN: future + " is in the future (it is " + now.Format(time.RFC3339) + " now)", ZH: future + " 晚于当前时间"}},
			status: 400, code: "invalid", item: 2, field: "found_at", wantMsg: "item 2: found_at: " + future + " is in the future", wantZH: "第 2 条:found_at:"},
		{name: "a source past its rate", body: item(found5m, nil),
			err:    &workflow.LimitError{Source: "weibo", Limit: 60, RetryAfter: 12300 * time.Millisecond},
			status: 429, code: "rate_limited", wantMsg: "source weibo may send 60 items a minute; nothing was stored, try again in 13 s",
			wantZH: "每分钟最多发送 60 条", retryAfter: "13", limit: 60},
		{name: "a source past its rate, retry at once", body: item(found5m, nil),
			err:    &workflow.LimitError{Source: "weibo", Limit: 60, RetryAfter: 0},
			status: 429, code: "rate_limited", retryAfter: "1", limit: 60},
		{name: "storage down", body: item(found5m, nil), err: workflow.Unavailable(errors.New("dial tcp 127.0.0.1:6379: connection refused")),
			status: 503, code: "unavailable", wantMsg: "send the same delivery again shortly", wantZH: "只保存一次"},
		{name: "a fault", body: item(found5m, nil), err: errors.New("lua: attempt to index a nil value"),
			status: 500, code: "internal", wantMsg: "internal error, reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIntakeFixture(t, false, nil)
			f.intake.answer = func(string, []workflow.Item) ([]workflow.Received, error) { return nil, tt.err }
			rec := f.post("/intake", intakeToken, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.status)
			}
			e := decode[intakeError](t, rec)
			if e.Code != tt.code || e.Item != tt.item || e.Field != tt.field || e.Limit != tt.limit {
				t.Errorf("got code %q item %d field %q limit %d, want %q %d %q %d", e.Code, e.Item, e.Field, e.Limit, tt.code, tt.item, tt.field, tt.limit)
			}
			if !strings.Contains(e.Error, tt.wantMsg) || !strings.Contains(e.ErrorZH, tt.wantZH) {
				t.Errorf("got error %q / %q, want %q / %q in them", e.Error, e.ErrorZH, tt.wantMsg, tt.wantZH)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("got Retry-After %q, want %q", got, tt.retryAfter)
			}
			if strings.Contains(rec.Body.String(), "6379") || strings.Contains(rec.Body.String(), "lua") {
				t.Errorf("the answer shows the low-level error: %s", rec.Body)
			}
		})
	}
}

// TestIntakeAccepted: a good delivery is answered 202 with what became of
// each item, in order; the items reach the Service as sent (found_at read
// as RFC 3339, figures as numbers, a numeric ID as its digits), with the
// source of the address, of a source's own token, or of each item.
func TestIntakeAccepted(t *testing.T) {
	t.Run("one item, the global token", func(t *testing.T) {
		f := newIntakeFixture(t, false, nil)
		body := item("2026-03-02T09:55:00+08:00", map[string]any{"id": 12345678901, "tags": []string{"a"},
			"figures": map[string]any{"posts": 35, "views": 12000, "heat": 68, "likes": 3}})
		rec := f.post("/intake", intakeToken, body)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
		}
		var raw map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"items": []any{map[string]any{"id": "IT-1", "outcome": "new"}}, "ignored_fields": []any{"figures.likes", "tags"}}
		if fmt.Sprint(raw) != fmt.Sprint(want) {
			t.Errorf("got body %s, want %v", rec.Body, want)
		}
		got := f.intake.got()
		if len(got) != 1 || got[0].Source != "" || len(got[0].Items) != 1 {
			t.Fatalf("got deliveries %+v, want one of one item with no address source", got)
		}
		it := got[0].Items[0]
		wantFound := time.Date(2026, 3, 2, 1, 55, 0, 0, time.UTC)
		if it.Source != "weibo" || it.ID != "12345678901" || !it.FoundAt.Equal(wantFound) || it.Title != "某中学食堂饭菜发霉?" ||
			it.Author != "家长小李" || it.URL != "https://m.weibo.cn/status/5012?utm_source=share" {
			t.Errorf("got item %+v, want it as sent (found %s)", it, wantFound)
		}
		if p, _ := it.Figures.Get(workflow.FigurePosts); p != 35 {
			t.Errorf("got posts %d, want 35", p)
		}
		if v, _ := it.Figures.Get(workflow.FigureViews); v != 12000 {
			t.Errorf("got views %d, want 12000", v)
		}
	})

	tests := []struct {
		name       string
		path       string
		token      string
		scheme     string
		body       string
		wantSource string
		wantItems  int
	}{
		{name: "a batch", path: "/intake", token: intakeToken, body: batch(100), wantItems: 100},
		{name: "a source's token at its address", path: "/intake/weibo", token: weiboToken, body: item(found5m, map[string]any{"source": nil}),
			wantSource: "weibo", wantItems: 1},
		{name: "a source's token at /intake delivers as its source", path: "/intake", token: weiboToken,
			body: "[" + item(found5m, map[string]any{"source": nil}) + "," + item(found5m, nil) + "]", wantSource: "weibo", wantItems: 2},
		{name: "the global token at any source's address", path: "/intake/rss-city", token: intakeToken, body: item(found5m, map[string]any{"source": nil}),
			wantSource: "rss-city", wantItems: 1},
		{name: "a lower-case scheme", path: "/intake", token: intakeToken, scheme: "bearer", body: item(found5m, nil), wantItems: 1},
		{name: "no found_at", path: "/intake", token: intakeToken, body: item(found5m, map[string]any{"found_at": nil}), wantItems: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIntakeFixture(t, false, nil)
			scheme := cmpOr(tt.scheme, "Bearer")
			rec := f.post(tt.path, "", tt.body, func(r *http.Request) { r.Header.Set("Authorization", scheme+" "+tt.token) })
			if rec.Code != http.StatusAccepted {
				t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
			}
			a := decode[intakeAnswer](t, rec)
			if len(a.Items) != tt.wantItems || a.Items[0].Candidate != "IT-1" || a.Items[0].Outcome != workflow.ReceivedNew {
				t.Errorf("got %d items %+v, want %d from IT-1, new", len(a.Items), a.Items, tt.wantItems)
			}
			got := f.intake.got()
			if len(got) != 1 || got[0].Source != tt.wantSource || len(got[0].Items) != tt.wantItems {
				t.Errorf("got %d deliveries (%+v), want one from source %q of %d items", len(got), got, tt.wantSource, tt.wantItems)
			}
		})
	}

	t.Run("every item stored, a follow-up failed", func(t *testing.T) {
		f := newIntakeFixture(t, false, nil)
		f.intake.answer = func(string, []workflow.Item) ([]workflow.Received, error) {
			return []workflow.Received{{Candidate: "IT-9", Outcome: workflow.ReceivedNew}}, errors.New("open IT-9 by rule: conflict")
		}
		rec := f.post("/intake", intakeToken, item(found5m, nil))
		if rec.Code != http.StatusAccepted || decode[intakeAnswer](t, rec).Items[0].Candidate != "IT-9" {
			t.Errorf("got %d %s, want 202 with IT-9: the item is stored", rec.Code, rec.Body)
		}
	})
}

// TestIntakeNotConfigured: without the Service's intake, or without any
// token, the intake answers 503 saying what to set; other methods 405.
func TestIntakeNotConfigured(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantMsg string
	}{
		{name: "no intake", mod: func(c *Config) { c.Intake = nil }, wantMsg: "monitoring intake is not set up"},
		{name: "a Service with no intake store", mod: func(c *Config) { c.Intake = workflow.NewService(nil, c.Roster, c.Clock) },
			wantMsg: "monitoring intake is not set up"},
		{name: "no token", mod: func(c *Config) { c.IntakeToken, c.Roster = "", testRoster(t) },
			wantMsg: "intake is not configured: set FIREBREAK_INTAKE_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIntakeFixture(t, false, tt.mod)
			rec := f.post("/intake", intakeToken, item(found5m, nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("got %d %s, want 503", rec.Code, rec.Body)
			}
			if e := decode[intakeError](t, rec); e.Code != "intake_off" || !strings.Contains(e.Error, tt.wantMsg) || e.ErrorZH == "" {
				t.Errorf("got %+v, want intake_off saying %q", e, tt.wantMsg)
			}
		})
	}
	f := newIntakeFixture(t, false, nil)
	rec := f.get("/intake")
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET /intake: got %d Allow %q, want 405 Allow POST", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestIntakeTokenNeverLogged: whatever happens to a delivery, the logs and
// the answers hold no token, nor any part of one.
func TestIntakeTokenNeverLogged(t *testing.T) {
	f := newIntakeFixture(t, false, nil)
	reqs := []struct {
		path, token, body string
	}{
		{"/intake", intakeToken, item(found5m, nil)},
		{"/intake", intakeToken + "x", item(found5m, nil)},
		{"/intake", intakeToken[:12], item(found5m, nil)},
		{"/intake/douyin", weiboToken, item(found5m, map[string]any{"source": nil})},
		{"/intake/" + intakeToken, weiboToken, item(found5m, map[string]any{"source": nil})},
		{"/intake", weiboToken, item(found5m, map[string]any{"source": "douyin"})},
		{"/intake/" + intakeToken, intakeToken, item(found5m, map[string]any{"source": nil})},
		{"/intake", intakeToken, item(found5m, map[string]any{"source": weiboToken})},
		{"/intake", "", item(found5m, nil)},
	}
	var answers strings.Builder
	for _, r := range reqs {
		rec := f.post(r.path, r.token, r.body)
		answers.WriteString(rec.Body.String())
		for k, vs := range rec.Header() {
			answers.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
	}
	f.intake.answer = func(string, []workflow.Item) ([]workflow.Received, error) {
		return nil, workflow.Unavailable(errors.New("i/o timeout"))
	}
	answers.WriteString(f.post("/intake", intakeToken, item(found5m, nil)).Body.String())
	logs := f.logs.String()
	if !strings.Contains(logs, "intake refused") || !strings.Contains(logs, "intake delivery") {
		t.Fatalf("got logs without the refusals and the delivery (is the logger wired?):\n%s", logs)
	}
	for _, secret := range []string{intakeToken, weiboToken} {
		for _, part := range []string{secret, secret[:8], secret[len(secret)-8:], secret[6:14]} {
			if strings.Contains(logs, part) {
				t.Errorf("the logs hold %q of a token:\n%s", part, logs)
			}
			if strings.Contains(answers.String(), part) {
				t.Errorf("an answer holds %q of a token:\n%s", part, answers.String())
			}
		}
	}
}

// TestIntakeWrongTokensLimited: five wrong tokens from one address lock
// it out (429, even with the right token) for 10 s, doubling; another
// address is not concerned, and right tokens never count.
func TestIntakeWrongTokensLimited(t *testing.T) {
	f := newIntakeFixture(t, false, nil)
	wall := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	f.srv.intakeFails.now = func() time.Time { return wall }
	from := func(addr string) func(*http.Request) { return func(r *http.Request) { r.RemoteAddr = addr + ":40000" } }
	for i := range 20 {
		if rec := f.post("/intake", intakeToken, item(found5m, map[string]any{"id": fmt.Sprint(i)}), from("192.0.2.7")); rec.Code != http.StatusAccepted {
			t.Fatalf("right token %d: got %d, want 202", i, rec.Code)
		}
	}
	for i := range 5 {
		if rec := f.post("/intake", "wrong-token-"+strconv.Itoa(i), item(found5m, nil), from("192.0.2.9")); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: got %d, want 401", i, rec.Code)
		}
	}
	rec := f.post("/intake", intakeToken, item(found5m, nil), from("192.0.2.9"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "10" || decode[intakeError](t, rec).Code != "locked_out" {
		t.Fatalf("the right token after five wrong: got %d Retry-After %q %s, want 429 locked_out, 10 s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := f.post("/intake", intakeToken, item(found5m, nil), from("192.0.2.7")); rec.Code != http.StatusAccepted {
		t.Errorf("another address: got %d, want 202", rec.Code)
	}
	wall = wall.Add(10 * time.Second)
	if rec := f.post("/intake", intakeToken, item(found5m, nil), from("192.0.2.9")); rec.Code != http.StatusAccepted {
		t.Errorf("after the lockout: got %d %s, want 202", rec.Code, rec.Body)
	}
}

// TestIntakeAccessCompared: every configured token is compared, whichever
// matched; a token shared by two sources delivers for both.
func TestIntakeAccessCompared(t *testing.T) {
	f := newIntakeFixture(t, false, nil)
	tests := []struct {
		token string
		want  intakeAccess
		ok    bool
	}{
		{intakeToken, intakeAccess{any: true}, true},
		{weiboToken, intakeAccess{sources: []string{"weibo"}}, true},
		{"nothing-like-any-token", intakeAccess{}, false},
		{"", intakeAccess{}, false},
	}
	for _, tt := range tests {
		got, ok := f.srv.intakeAccessOf(tt.token)
		if ok != tt.ok || got.any != tt.want.any || !slices.Equal(got.sources, tt.want.sources) {
			t.Errorf("intakeAccessOf(%.6s…): got %+v %v, want %+v %v", tt.token, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPlaygroundIntake: the playground's pane delivers as the source
// "playground" with no token, guarded as the playground's commands are; a
// production server has no such endpoint.
func TestPlaygroundIntake(t *testing.T) {
	f := newIntakeFixture(t, true, nil)
	rec := f.postJSON("/api/v1/playground/intake", item(found5m, map[string]any{"source": "playground"}))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("got %d %s, want 202", rec.Code, rec.Body)
	}
	if a := decode[intakeAnswer](t, rec); len(a.Items) != 1 || a.Items[0].Candidate != "IT-1" {
		t.Errorf("got %+v, want IT-1", a)
	}
	if got := f.intake.got(); len(got) != 1 || got[0].Source != PlaygroundSource {
		t.Errorf("got deliveries %+v, want one from source playground", got)
	}
	if rec := f.postJSON("/api/v1/playground/intake", `{"title": 7}`); rec.Code != http.StatusBadRequest ||
		decode[intakeError](t, rec).Field != "title" {
		t.Errorf("a bad item: got %d %s, want 400 naming title", rec.Code, rec.Body)
	}
	crossSite := func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }
	if rec := f.postJSON("/api/v1/playground/intake", item(found5m, nil), crossSite); rec.Code != http.StatusForbidden {
		t.Errorf("from another site: got %d, want 403", rec.Code)
	}
	plain := func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }
	if rec := f.postJSON("/api/v1/playground/intake", item(found5m, nil), plain); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("as text/plain: got %d, want 415", rec.Code)
	}
	if got := f.intake.got(); len(got) != 1 {
		t.Errorf("got %d deliveries, want only the first", len(got))
	}

	p := newIntakeFixture(t, false, nil)
	if rec := p.postJSON("/api/v1/playground/intake", item(found5m, nil)); rec.Code != http.StatusNotFound {
		t.Errorf("in production: got %d, want 404", rec.Code)
	}
}

// pendingCandidates are n candidates waiting, the first with figures and a
// rule that matched.
func pendingCandidates(n int) []*workflow.Candidate {
	var out []*workflow.Candidate
	for i := range n {
		c := &workflow.Candidate{ID: fmt.Sprintf("IT-%d", i+1), Version: 1, Source: "weibo", URL: "https://m.weibo.cn/status/" + strconv.Itoa(i),
			Title: fmt.Sprintf("食堂饭菜发霉 %d", i+1), FoundAt: now.Add(-20 * time.Minute), ReceivedAt: now.Add(-10 * time.Minute),
			State: workflow.CandidatePending, Triage: 30 * time.Minute, Deliveries: 1,
			Suggestion: workflow.Suggestion{Level: workflow.LevelGeneral, Category: workflow.CategoryOther, Department: "office"}}
		if i == 0 {
			p1, p2, v := int64(10), int64(35), int64(12000)
			c.Figures = []workflow.Figures{{At: now.Add(-10 * time.Minute), Posts: &p1}, {At: now.Add(-2 * time.Minute), Posts: &p2, Views: &v}}
			c.Deliveries = 2
			c.Suggestion = workflow.Suggestion{Rule: "school-safety", Words: []string{"食堂"}, Level: workflow.LevelMajor,
				Category: workflow.CategoryInquiry, Department: "office"}
		}
		out = append(out, c)
	}
	return out
}

// TestCandidatesAPI: GET /api/v1/candidates lists a page of the candidates
// waiting with their latest figures, suggestion and triage deadline, under
// the board's token rules.
func TestCandidatesAPI(t *testing.T) {
	f := newIntakeFixture(t, false, nil)
	f.intake.candidates = pendingCandidates(25)
	auth := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+hardToken) }

	if rec := f.get("/api/v1/candidates"); rec.Code != http.StatusUnauthorized {
		t.Errorf("without the board token: got %d, want 401", rec.Code)
	}
	if rec := f.get("/api/v1/candidates", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+intakeToken) }); rec.Code != http.StatusUnauthorized {
		t.Errorf("with the intake token: got %d, want 401 (the board's token reads the board)", rec.Code)
	}
	rec := f.get("/api/v1/candidates", auth)
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	l := decode[candidateList](t, rec)
	if l.State != "pending" || l.Page != 1 || l.Pages != 2 || l.Total != 25 || l.More != 5 || len(l.Candidates) != 20 {
		t.Fatalf("got state %q page %d/%d total %d more %d, %d candidates; want pending 1/2, 25, 5 more, 20",
			l.State, l.Page, l.Pages, l.Total, l.More, len(l.Candidates))
	}
	c := l.Candidates[0]
	wantFigures := []figureNowView{{Kind: "posts", Name: "posts", Value: 35}, {Kind: "views", Name: "views", Value: 12000}}
	if c.ID != "IT-1" || !slices.Equal(c.Figures, wantFigures) || c.Deliveries != 2 || c.Suggestion.Rule != "school-safety" ||
		c.Suggestion.LevelName != "major" || c.Suggestion.DepartmentName != "Public Opinion Office" {
		t.Errorf("got %+v, want IT-1 with its latest figures %v and its suggestion named", c, wantFigures)
	}
	if c.Deadline == nil || !c.Deadline.Due.Equal(now.Add(20*time.Minute)) || !c.Deadline.WarnAt.Equal(now.Add(5*time.Minute)) {
		t.Errorf("got deadline %+v, want due 30 min after it arrived", c.Deadline)
	}

	rec = f.get("/api/v1/candidates?page=2&lang=zh-CN", auth)
	if l := decode[candidateList](t, rec); l.Page != 2 || len(l.Candidates) != 5 || l.More != 0 || l.Candidates[0].Suggestion.LevelName != "一般" {
		t.Errorf("page 2: got page %d, %d candidates, more %d, level %q; want 2, 5, 0, 一般", l.Page, len(l.Candidates), l.More, l.Candidates[0].Suggestion.LevelName)
	}
	for _, bad := range []string{"?page=0", "?page=x", "?state=maybe", "?page=9"} {
		if rec := f.get("/api/v1/candidates"+bad, auth); rec.Code != http.StatusBadRequest {
			t.Errorf("GET /api/v1/candidates%s: got %d %s, want 400", bad, rec.Code, rec.Body)
		}
	}
	f.intake.listErr = workflow.Unavailable(errors.New("i/o timeout"))
	if rec := f.get("/api/v1/candidates", auth); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("storage down: got %d, want 503", rec.Code)
	}

	off := newIntakeFixture(t, true, func(c *Config) { c.Intake = nil })
	if rec := off.get("/api/v1/candidates"); rec.Code != http.StatusNotFound {
		t.Errorf("no intake: got %d, want 404", rec.Code)
	}
}

// TestTriageLaneAndPane: the board has a triage lane and the playground an
// intake pane only when the intake is on.
func TestTriageLaneAndPane(t *testing.T) {
	on := newIntakeFixture(t, true, nil)
	off := newIntakeFixture(t, true, func(c *Config) { c.Intake = nil })
	for _, tt := range []struct {
		path, marker string
	}{
		{"/board", `id="triage-list"`},
		{"/", `id="intake-form"`},
		{"/", `id="triage-list"`},
	} {
		if body := on.get(tt.path).Body.String(); !strings.Contains(body, tt.marker) {
			t.Errorf("GET %s with the intake: got no %s", tt.path, tt.marker)
		}
		if body := off.get(tt.path).Body.String(); strings.Contains(body, tt.marker) {
			t.Errorf("GET %s without the intake: got %s", tt.path, tt.marker)
		}
	}
	if body := on.get("/?lang=zh-CN").Body.String(); !strings.Contains(body, "舆情监测接入") || !strings.Contains(body, "食堂(待研判)") {
		t.Errorf("the pane in Chinese: got no Chinese labels")
	}
}

// TestIntakeConcurrentSameURL is the acceptance test: 50 deliveries
// of the same post at once, each with other figures and the URL written
// another way, through the real handler, the real Service and the Redis
// store, make one candidate whose figures series holds all 50.
func TestIntakeConcurrentSameURL(t *testing.T) {
	store := redistest.NewStore(t)
	roster := intakeRoster(t)
	clock := workflow.NewManualClock(now)
	svc := workflow.NewService(store, roster, clock)
	svc.UseIntake(store)
	f := newIntakeFixture(t, false, func(c *Config) {
		c.Roster, c.Clock, c.Intake = roster, clock, svc
		c.StoreTimeout = 10 * time.Second // 50 at once on a loaded CI machine
	})
	urls := []string{
		"https://m.weibo.cn/status/5012", "HTTPS://M.Weibo.cn/status/5012/", "https://m.weibo.cn:443/status/5012?utm_source=share",
		"https://www.m.weibo.cn/status/5012#comments", "https://m.weibo.cn/status/5012?utm_medium=app&spm=a.b.c",
	}
	const n = 50
	answers := make([]intakeAnswer, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := item(found5m, map[string]any{"id": nil, "url": urls[i%len(urls)],
				"figures": map[string]any{"posts": i + 1, "views": 1000 * (i + 1), "heat": i}})
			rec := f.post("/intake/weibo", weiboToken, strings.Replace(body, `"source":"weibo",`, "", 1))
			codes[i] = rec.Code
			if rec.Code == http.StatusAccepted {
				_ = json.Unmarshal(rec.Body.Bytes(), &answers[i])
			} else {
				t.Errorf("delivery %d: got %d %s, want 202", i, rec.Code, rec.Body)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	outcomes := map[workflow.ReceiveOutcome]int{}
	ids := map[string]bool{}
	for _, a := range answers {
		if len(a.Items) != 1 {
			t.Fatalf("got answer %+v, want one item", a)
		}
		outcomes[a.Items[0].Outcome]++
		ids[a.Items[0].Candidate] = true
	}
	if len(ids) != 1 || outcomes[workflow.ReceivedNew] != 1 || outcomes[workflow.ReceivedMerged] != n-1 {
		t.Fatalf("got candidates %v and outcomes %v, want one candidate: 1 new, %d merged", ids, outcomes, n-1)
	}
	var id string
	for k := range ids {
		id = k
	}
	c, err := store.Candidate(context.Background(), id)
	if err != nil {
		t.Fatalf("Candidate(%s): %v", id, err)
	}
	if len(c.Figures) != n || c.Deliveries != n {
		t.Fatalf("%s: got %d figures in the series and %d deliveries, want %d of each", id, len(c.Figures), c.Deliveries, n)
	}
	seen := map[int64]bool{}
	for _, fg := range c.Figures {
		p, _ := fg.Get(workflow.FigurePosts)
		seen[p] = true
	}
	for i := range n {
		if !seen[int64(i+1)] {
			t.Errorf("%s: the series lacks the delivery with posts %d", id, i+1)
		}
	}
	cs, total, err := svc.CandidatesOf(context.Background(), workflow.CandidatePending, 0)
	if err != nil || total != 1 || len(cs) != 1 {
		t.Errorf("pending candidates: got %d (total %d, err %v), want 1", len(cs), total, err)
	}

	// The last delivery again is a duplicate: nothing changes.
	last, _ := c.Figures[n-1].Get(workflow.FigurePosts)
	i := int(last) - 1
	again := item(found5m, map[string]any{"id": nil, "url": urls[i%len(urls)],
		"figures": map[string]any{"posts": i + 1, "views": 1000 * (i + 1), "heat": i}})
	rec := f.post("/intake/weibo", weiboToken, strings.Replace(again, `"source":"weibo",`, "", 1))
	if a := decode[intakeAnswer](t, rec); rec.Code != http.StatusAccepted || len(a.Items) != 1 ||
		a.Items[0].Candidate != id || a.Items[0].Outcome != workflow.ReceivedDuplicate {
		t.Errorf("delivery %d again: got %d %s, want 202 %s duplicate", i, rec.Code, rec.Body, id)
	}
	if c, err := store.Candidate(context.Background(), id); err != nil || len(c.Figures) != n {
		t.Errorf("after the duplicate: got %d figures (%v), want still %d", len(c.Figures), err, n)
	}

	// The board's lane shows it with its latest figures.
	rec = f.get("/api/v1/candidates", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+hardToken) })
	if l := decode[candidateList](t, rec); l.Total != 1 || l.Candidates[0].ID != id || l.Candidates[0].Deliveries != n || len(l.Candidates[0].Figures) != 3 {
		t.Errorf("GET /api/v1/candidates: got %+v, want %s with %d deliveries and its three figures", l, id, n)
	}
}

// TestPlaygroundIntakePaneInBrowser: in headless Chromium, the playground's
// intake pane fills in a sample alert, sends it, and shows the 202 answer;
// the item then waits in the triage lane of the board panel. (The triage
// card itself comes through the outbox: cmd/firebreak's browser tests run
// the real dispatcher.) Outside CI a machine without Chromium skips it.
func TestPlaygroundIntakePaneInBrowser(t *testing.T) {
	path := chromiumPath(t)
	f := newIntakeFixture(t, true, nil)
	srv := httptest.NewServer(f.mux)
	t.Cleanup(srv.Close)
	t.Cleanup(f.srv.Close) // ends the event stream before the server closes

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1600, 1000))
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == chromedp.ConsoleType("error") && m.Source != "network") {
				mu.Lock()
				problems = append(problems, m.Text)
				mu.Unlock()
			}
		}
	}()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(tctx, steps...); err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage:\n%s", what, err, text)
		}
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second))
	}

	run("open the playground", chromedp.Navigate(srv.URL+"/"), poll(`document.body.dataset.ready === "1"`),
		poll(`document.getElementById("intake-body").value.indexOf("食堂") >= 0`))
	run("pick the injuries sample and send it",
		chromedp.Click(chromedp.CSS(`button[data-sample="casualties"]`)),
		poll(`document.getElementById("intake-body").value.indexOf("受伤") >= 0`),
		chromedp.Click(chromedp.CSS("#intake-send")),
		poll(`document.getElementById("intake-result").dataset.status === "202"`))
	result, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("intake-result").textContent`))
	if err != nil || !strings.Contains(result, "HTTP 202") || !strings.Contains(result, `"id": "IT-1"`) || !strings.Contains(result, `"outcome": "new"`) {
		t.Errorf("got the answer %q (%v), want HTTP 202 with IT-1 new", result, err)
	}
	got := f.intake.got()
	if len(got) != 1 || got[0].Source != PlaygroundSource || len(got[0].Items) != 1 || !strings.Contains(got[0].Items[0].Title, "受伤") {
		t.Fatalf("got deliveries %+v, want the injuries sample from the playground", got)
	}
	if found := got[0].Items[0].FoundAt; found.IsZero() || found.After(f.clock.Now().Add(time.Hour)) {
		t.Errorf("got found_at %s, want minutes before the server's now", found)
	}
	run("see it wait in the triage lane",
		poll(`!document.getElementById("triage").hidden && !!document.querySelector('#triage-list [data-candidate="IT-1"]')`))

	run("send broken JSON", chromedp.SetValue(chromedp.CSS("#intake-body"), `{"title": "x",}`), chromedp.Click(chromedp.CSS("#intake-send")),
		poll(`document.getElementById("intake-result").dataset.status === "400"`))
	if result, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("intake-result").textContent`)); !strings.Contains(result, "not valid JSON") {
		t.Errorf("got %q, want the 400 saying the JSON is not valid", result)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("page: %s", p)
	}
}

// chromiumPath finds the browser: outside CI a machine without one skips
// the browser test; in CI (CI set) its absence fails it.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("CI is set and no Chromium is installed (apt-get install -y chromium)")
	}
	tb.Skip("no Chromium installed (apt-get install -y chromium); the browser tests run in CI")
	return ""
}
