package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/slacktest"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/rosterfile"
	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

const testSecret = "test-signing-secret-0123456789abcdef"

const rosterYAML = `
timezone: Asia/Shanghai
locale: en
people:
  - {id: chen, name: Chen Jing, roles: [staff], departments: [office], slack: U0CHEN}
  - {id: li, name: Li Ming, roles: [staff], departments: [logistics], slack: U0LI}
  - {id: wang, name: Wang Fang, roles: [leader, principal], slack: U0WANG}
  - {id: zhao, name: Zhao Lei, roles: [leader], slack: U0ZHAO}
  - {id: sun, name: Sun Yue, roles: [spokesperson], slack: U0SUN}
departments:
  - {id: office, name: Public Opinion Office, categories: [other, hype, rumor]}
  - {id: logistics, name: Logistics Department, categories: [inquiry]}
channels:
  incidents:  {slack: C0INCIDENTS}
  leaders:    {slack: C0LEADERS}
  statements: {slack: C0STATEMENTS}
`

// env is a Slack adapter wired like cmd/firebreak wires it, over a real
// Redis, talking to a slacktest Web API and a fake response_url server.
type env struct {
	render  bot.Renderer // the handlers: words the outbox notices
	t       *testing.T
	roster  *workflow.Roster
	store   *fbredis.Store
	router  *bot.Router
	routed  *atomic.Int64 // requests that reached the router
	adapter *fbslack.Adapter
	server  *httptest.Server // the app's HTTP server (Register on a mux)
	slack   *fakeSlack
	hooks   *fakeHooks
	logs    *syncBuffer
	opts    fbslack.Options
}

type envOptions struct {
	locale  string
	store   *fbredis.Store // default: a fresh redistest store
	clock   workflow.Clock // the adapter's clock (signature window)
	ackIn   time.Duration
	extra   func(r *bot.Router) // registers test-only commands
	slackFn func(c slacktest.Customize)
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	roster, err := rosterfile.Parse([]byte(rosterYAML), "roster.yaml", fbslack.Platform)
	if err != nil {
		t.Fatalf("roster: %v", err)
	}
	locale := o.locale
	if locale == "" {
		locale = workflow.LocaleEN
	}
	store := o.store
	if store == nil {
		store = redistest.NewStore(t)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// The wiring of cmd/firebreak/app.go.
	svc := workflow.NewService(store, roster, workflow.SystemClock{})
	h := handlers.New(svc, locale)
	router := bot.NewRouter(roster, locale, log)
	routed := &atomic.Int64{}
	router.Use(countRequests(routed), bot.Recover(log))
	h.Register(router)
	if o.extra != nil {
		o.extra(router)
	}

	fs := newFakeSlack(t, o.slackFn)
	hooks := newFakeHooks(t)
	opts := fbslack.Options{
		SigningSecret: testSecret, BotToken: "xoxb-test", APIURL: strings.TrimSuffix(fs.server.GetAPIURL(), "/"),
		Router: router, Roster: roster, Locale: locale, Locker: store, Memo: store.Memo("slack"), Log: log, Clock: o.clock, AckTimeout: o.ackIn,
	}
	a, err := fbslack.New(opts)
	if err != nil {
		t.Fatalf("slack.New: %v", err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Drain(ctx); err != nil {
			t.Errorf("drain: %v", err)
		}
	})
	return &env{render: h, t: t, roster: roster, store: store, router: router, routed: routed, adapter: a, server: srv,
		slack: fs, hooks: hooks, logs: logs, opts: opts}
}

// adapterWithSecret is another adapter of the same app with a different
// signing secret ("": none, Socket Mode only).
func (e *env) adapterWithSecret(secret string) *fbslack.Adapter {
	e.t.Helper()
	o := e.opts
	o.SigningSecret = secret
	if secret == "" {
		o.AppToken = "xapp-test"
	}
	a, err := fbslack.New(o)
	if err != nil {
		e.t.Fatalf("slack.New: %v", err)
	}
	e.t.Cleanup(func() { _ = a.Drain(context.Background()) })
	return a
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func decode(t testing.TB, b []byte) response {
	t.Helper()
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return r
}

func countRequests(n *atomic.Int64) bot.Middleware {
	return func(next bot.Handler) bot.Handler {
		return func(ctx context.Context, req *bot.Request) (*bot.Reply, error) {
			n.Add(1)
			return next(ctx, req)
		}
	}
}

// signed is a request as Slack sends it: body signed at ts.
func signed(t testing.TB, url, contentType, body string, ts time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(fbslack.HeaderTimestamp, stamp)
	req.Header.Set(fbslack.HeaderSignature, fbslack.Signature([]byte(testSecret), stamp, []byte(body)))
	return req
}

func do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

const formType = "application/x-www-form-urlencoded"

// command sends a signed slash command as user and returns the answer.
// triggers numbers the slash commands the tests send: Slack gives every
// invocation its own trigger_id.
var triggers atomic.Int64

func (e *env) command(user, text string) (int, response) {
	e.t.Helper()
	form := url.Values{
		"token": {"ignored"}, "team_id": {"T0TEAM"}, "channel_id": {"C0INCIDENTS"}, "channel_name": {"incidents"},
		"user_id": {user}, "user_name": {strings.ToLower(strings.TrimPrefix(user, "U0"))},
		"command": {"/incident"}, "text": {text}, "response_url": {e.hooks.url()},
		"trigger_id": {fmt.Sprintf("1.2.%d", triggers.Add(1))}, "api_app_id": {"A0FIREBREAK"},
	}
	code, body := do(e.t, signed(e.t, e.server.URL+"/slack/commands", formType, form.Encode(), time.Now()))
	if tok := mentionToken(string(body)); tok != "" {
		e.t.Errorf("answer to %q carries %q, which Slack would read as a mention or link: %.200q", text, tok, body)
	}
	var r response
	if code == http.StatusOK {
		if err := json.Unmarshal(body, &r); err != nil {
			e.t.Fatalf("answer to %q is not JSON: %v\n%s", text, err, body)
		}
	}
	return code, r
}

// press sends a signed block_actions payload: user pressed the button with
// the given action ID on the message at channel/ts.
func (e *env) press(user, actionID, label, channel, ts string) int {
	e.t.Helper()
	payload := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": "someone", "name": "someone", "team_id": "T0TEAM"},
		"api_app_id":   "A0FIREBREAK",
		"token":        "ignored",
		"container":    map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
		"trigger_id":   "1.2.3",
		"team":         map[string]any{"id": "T0TEAM", "domain": "example"},
		"channel":      map[string]any{"id": channel, "name": "incidents"},
		"message":      map[string]any{"type": "message", "ts": ts, "text": "card"},
		"response_url": e.hooks.url(),
		"actions": []any{map[string]any{
			"type": "button", "action_id": actionID, "block_id": "b1", "value": actionID,
			"text": map[string]any{"type": "plain_text", "text": label}, "action_ts": "1700000000.1",
		}},
	}
	b, _ := json.Marshal(payload)
	body := url.Values{"payload": {string(b)}}.Encode()
	code, _ := do(e.t, signed(e.t, e.server.URL+"/slack/interactions", formType, body, time.Now()))
	return code
}

// event sends a signed Events API request.
func (e *env) event(body string, retry int) (int, []byte) {
	e.t.Helper()
	req := signed(e.t, e.server.URL+"/slack/events", "application/json", body, time.Now())
	if retry > 0 {
		req.Header.Set("X-Slack-Retry-Num", strconv.Itoa(retry))
		req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
	}
	return do(e.t, req)
}

func mentionEvent(eventID, user, text, thread string) string {
	ev := map[string]any{"type": "app_mention", "user": user, "text": text, "ts": "1700000100.000200",
		"channel": "C0INCIDENTS", "event_ts": "1700000100.000200"}
	if thread != "" {
		ev["thread_ts"] = thread
	}
	b, _ := json.Marshal(map[string]any{"token": "ignored", "team_id": "T0TEAM", "api_app_id": "A0FIREBREAK",
		"type": "event_callback", "event_id": eventID, "event_time": 1700000100, "event": ev})
	return string(b)
}

// drain waits for the adapter's background work.
func (e *env) drain() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.adapter.Drain(ctx); err != nil {
		e.t.Fatalf("drain: %v", err)
	}
}

// deliver sends every outbox notice through the adapter's Sender, as the
// dispatcher does, and returns how many were sent (not counting those with
// no Slack route).
func (e *env) deliver() int {
	e.t.Helper()
	ctx := context.Background()
	s := e.adapter.Sender()
	sent := 0
	for {
		ds, err := e.store.ReadOutbox(ctx, s.Platform(), "test", 100)
		if err != nil {
			e.t.Fatalf("read outbox: %v", err)
		}
		if len(ds) == 0 {
			return sent
		}
		for _, d := range ds {
			m, err := e.render.Render(ctx, d.Notice, s.Platform())
			if err != nil {
				e.t.Fatalf("notice %s: %v", d.Notice.ID, err)
			}
			switch err := s.Send(ctx, d.Notice, m); {
			case err == nil:
				sent++
			case err == bot.ErrNoRoute:
			default:
				e.t.Fatalf("send %s: %v", d.Notice.ID, err)
			}
		}
		if err := e.store.AckOutbox(ctx, s.Platform(), ds...); err != nil {
			e.t.Fatalf("ack outbox: %v", err)
		}
	}
}

// response is the JSON Slack receives as an answer or on a response_url.
type response struct {
	ResponseType    string          `json:"response_type"`
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ReplaceOriginal bool            `json:"replace_original"`
}

// blocks decodes the blocks with slack-go, as Slack would read them.
func (r response) blocks(t testing.TB) []slackgo.Block {
	t.Helper()
	if len(r.Blocks) == 0 {
		return nil
	}
	var b slackgo.Blocks
	if err := json.Unmarshal(r.Blocks, &b); err != nil {
		t.Fatalf("blocks: %v\n%s", err, r.Blocks)
	}
	return b.BlockSet
}

// shown is every text a person sees in the blocks, one per line, with the
// buttons as [action_id label].
func shown(blocks []slackgo.Block) string {
	return slackDisplay.Replace(rawShown(blocks))
}

// slackDisplay decodes what Slack decodes in every text.
var slackDisplay = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// rawShown is shown without decoding: the text as it was sent.
func rawShown(blocks []slackgo.Block) string {
	var b strings.Builder
	for _, bl := range blocks {
		switch x := bl.(type) {
		case *slackgo.HeaderBlock:
			fmt.Fprintf(&b, "# %s\n", x.Text.Text)
		case *slackgo.SectionBlock:
			if x.Text != nil {
				fmt.Fprintf(&b, "%s\n", x.Text.Text)
			}
			for _, f := range x.Fields {
				fmt.Fprintf(&b, "%s\n", f.Text)
			}
		case *slackgo.ContextBlock:
			for _, el := range x.ContextElements.Elements {
				if tx, ok := el.(*slackgo.TextBlockObject); ok {
					fmt.Fprintf(&b, "~ %s\n", tx.Text)
				}
			}
		case *slackgo.ActionBlock:
			for _, el := range x.Elements.ElementSet {
				if btn, ok := el.(*slackgo.ButtonBlockElement); ok {
					fmt.Fprintf(&b, "[%s %s %s]\n", btn.ActionID, btn.Text.Text, btn.Style)
				}
			}
		default:
			fmt.Fprintf(&b, "? %s\n", bl.BlockType())
		}
	}
	return b.String()
}

// fakeSlack is slacktest's fake Web API with chat.postMessage,
// chat.postEphemeral and chat.update recorded.
type fakeSlack struct {
	t      *testing.T
	server *slacktest.Server
	mu     sync.Mutex
	calls  []apiCall
	seq    int
}

// apiCall is one recorded Web API call.
type apiCall struct {
	Method  string
	Channel string
	User    string
	TS      string // chat.update: the message updated; others: the new one
	Thread  string
	Text    string
	Blocks  []slackgo.Block
	Broad   bool
}

func newFakeSlack(t *testing.T, custom func(c slacktest.Customize)) *fakeSlack {
	f := &fakeSlack{t: t}
	binders := []slacktest.Binder{}
	if custom != nil {
		binders = append(binders, custom)
	}
	binders = append(binders, func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", f.record("chat.postMessage"))
		c.Handle("/chat.postEphemeral", f.record("chat.postEphemeral"))
		c.Handle("/chat.update", f.record("chat.update"))
	})
	f.server = slacktest.NewTestServer(binders...)
	f.server.Start()
	t.Cleanup(f.server.Stop)
	return f
}

// mentionToken returns the first Slack control sequence in s that would
// mention or link: the bot never sends one (it mentions nobody, and text
// people typed is escaped).
func mentionToken(s string) string {
	for _, tok := range []string{"<!channel", "<!here", "<!everyone", "<!subteam", "<@", "<#", "<http", "<mailto"} {
		if strings.Contains(s, tok) {
			return tok
		}
	}
	return ""
}

func (f *fakeSlack) record(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Header.Get("Authorization") != "Bearer xoxb-test" && r.PostForm.Get("token") != "xoxb-test" {
			_, _ = io.WriteString(w, `{"ok":false,"error":"not_authed"}`)
			return
		}
		for k, vs := range r.PostForm {
			for _, v := range vs {
				if tok := mentionToken(v); tok != "" {
					f.t.Errorf("%s: field %s carries %q, which Slack would read as a mention or link in the bot's voice: %.200q", method, k, tok, v)
				}
			}
		}
		c := apiCall{Method: method, Channel: r.PostForm.Get("channel"), User: r.PostForm.Get("user"),
			Thread: r.PostForm.Get("thread_ts"), Text: r.PostForm.Get("text"),
			Broad: r.PostForm.Get("reply_broadcast") == "true"}
		if bs := r.PostForm.Get("blocks"); bs != "" {
			var b slackgo.Blocks
			if err := json.Unmarshal([]byte(bs), &b); err != nil {
				f.t.Errorf("%s: blocks Slack cannot read: %v", method, err)
			}
			c.Blocks = b.BlockSet
			if problem := blocksProblem(b.BlockSet); problem != "" {
				f.t.Errorf("%s: Slack refuses these blocks: %s", method, problem)
				_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_blocks"}`)
				return
			}
		}
		f.mu.Lock()
		if method == "chat.update" {
			c.TS = r.PostForm.Get("ts")
		} else {
			f.seq++
			c.TS = fmt.Sprintf("1700000000.%06d", f.seq)
		}
		f.calls = append(f.calls, c)
		f.mu.Unlock()
		channel := c.Channel
		if strings.HasPrefix(channel, "U") { // Slack opens the DM: "D…"
			channel = "D" + channel[1:]
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": channel, "ts": c.TS, "message_ts": c.TS})
	}
}

// blocksProblem says what of Slack's limits blocks exceed, "" for none:
// 50 blocks, 3,000 characters in a section's text, 2,000 in a field, 150 in
// a header. Slack counts the text as sent, escaped.
func blocksProblem(blocks []slackgo.Block) string {
	if len(blocks) > 50 {
		return fmt.Sprintf("%d blocks, Slack allows 50", len(blocks))
	}
	for i, bl := range blocks {
		switch x := bl.(type) {
		case *slackgo.HeaderBlock:
			if n := utf8.RuneCountInString(x.Text.Text); n > 150 {
				return fmt.Sprintf("block %d: a header of %d characters, Slack allows 150", i, n)
			}
		case *slackgo.SectionBlock:
			if x.Text != nil {
				if n := utf8.RuneCountInString(x.Text.Text); n > 3000 {
					return fmt.Sprintf("block %d: a section of %d characters, Slack allows 3000", i, n)
				}
			}
			for _, f := range x.Fields {
				if n := utf8.RuneCountInString(f.Text); n > 2000 {
					return fmt.Sprintf("block %d: a field of %d characters, Slack allows 2000", i, n)
				}
			}
		}
	}
	return ""
}

// Calls returns the recorded calls so far.
func (f *fakeSlack) Calls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.calls...)
}

// fakeHooks records what is posted to response URLs.
type fakeHooks struct {
	t      *testing.T
	server *httptest.Server
	got    chan response
	n      atomic.Int64
}

func newFakeHooks(t *testing.T) *fakeHooks {
	h := &fakeHooks{t: t, got: make(chan response, 100)}
	h.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if tok := mentionToken(string(body)); tok != "" {
			t.Errorf("response_url post carries %q, which Slack would read as a mention or link: %.200q", tok, body)
		}
		var res response
		if err := json.Unmarshal(body, &res); err != nil {
			t.Errorf("response_url got no JSON: %v", err)
		}
		h.got <- res
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(h.server.Close)
	return h
}

func (h *fakeHooks) url() string {
	return fmt.Sprintf("%s/commands/T0TEAM/%d/secret", h.server.URL, h.n.Add(1))
}

// next waits for the next response_url post.
func (h *fakeHooks) next() response {
	h.t.Helper()
	select {
	case r := <-h.got:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("nothing was posted to the response_url within 10s")
		return response{}
	}
}

// none checks that nothing more was posted to a response_url.
func (h *fakeHooks) none() {
	h.t.Helper()
	select {
	case r := <-h.got:
		h.t.Errorf("unexpected response_url post: %+v", r)
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
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

// deadStore is a Store whose Redis does not answer.
func deadStore(t *testing.T) *fbredis.Store {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return fbredis.New(c, fbredis.Options{Prefix: "fbt:dead"})
}
