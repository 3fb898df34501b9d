package telegram_test

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
	"unicode/utf16"
	"unicode/utf8"

	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

const (
	fuzzToken  = "424242:FUZZ-token-never-shown"
	fuzzSecret = "fuzz_webhook-secret-77"
)

// fuzzUpdateLog is an UpdateLog in memory.
type fuzzUpdateLog struct {
	mu    sync.Mutex
	state map[int64]string // "claimed" or "done"
	saved map[int64][]byte
}

func (l *fuzzUpdateLog) ClaimUpdate(_ context.Context, id int64, _ string, _ time.Duration) (bool, bool, []byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state[id] {
	case "done":
		return false, true, nil, nil
	case "claimed":
		return false, false, nil, nil
	}
	l.state[id] = "claimed"
	return true, false, l.saved[id], nil
}

func (l *fuzzUpdateLog) SaveUpdate(_ context.Context, id int64, outcome []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.saved[id] = outcome
	return nil
}

func (l *fuzzUpdateLog) FinishUpdate(_ context.Context, id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state[id] = "done"
	return nil
}

func (l *fuzzUpdateLog) AbandonUpdate(_ context.Context, id int64, _ string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.state, id)
	return nil
}

// fuzzMemo is a Memo in memory.
type fuzzMemo struct {
	mu     sync.Mutex
	values map[string]string
	fields map[string]map[string]string
}

func (m *fuzzMemo) SetMemo(_ context.Context, key, value string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.values[key] = value
	return nil
}

func (m *fuzzMemo) GetMemo(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.values[key]
	return v, ok, nil
}

func (m *fuzzMemo) SetMemoFields(_ context.Context, key string, fields map[string]string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fields[key] == nil {
		m.fields[key] = map[string]string{}
	}
	for k, v := range fields {
		m.fields[key][k] = v
	}
	return nil
}

func (m *fuzzMemo) MemoFields(_ context.Context, key string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for k, v := range m.fields[key] {
		out[k] = v
	}
	return out, nil
}

func (m *fuzzMemo) DeleteMemoFields(_ context.Context, key string, fields ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range fields {
		delete(m.fields[key], f)
	}
	return nil
}

// fuzzBotAPI answers Bot API calls in process, as Telegram would, and
// records what Telegram would refuse: HTML its parse mode cannot read, a
// message or a callback answer over its limits, a call with the token
// anywhere but in the URL path.
type fuzzBotAPI struct {
	mu       sync.Mutex
	calls    int
	problems []string
	next     int
}

func (f *fuzzBotAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	p, _ := url.ParseQuery(string(b))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	problem := func(format string, args ...any) {
		f.problems = append(f.problems, method+": "+fmt.Sprintf(format, args...))
	}
	if r.URL.Path != "/bot"+fuzzToken+"/"+method {
		problem("called at %q", r.URL.Path)
	}
	if bytes.Contains(b, []byte(fuzzToken)) || bytes.Contains(b, []byte(fuzzSecret)) {
		problem("the token or the webhook secret is in the parameters: %s", b)
	}
	answer := `true`
	switch method {
	case "sendMessage", "editMessageText":
		text := p.Get("text")
		if p.Get("parse_mode") == "HTML" {
			if err := validHTML(text); err != nil {
				problem("Telegram cannot parse the HTML (%v): %q", err, text)
			}
		}
		if n := len(utf16.Encode([]rune(visibleText(text)))); n > 4096 || strings.TrimSpace(text) == "" {
			problem("a message of %d characters (1-4096 allowed): %q", n, text)
		}
		if !utf8.ValidString(text) {
			problem("text that is not UTF-8: %q", text)
		}
		chat, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
		f.next++
		msg, _ := json.Marshal(map[string]any{"message_id": f.next, "date": 1700000000,
			"chat": map[string]any{"id": chat, "type": "supergroup"}, "text": text})
		answer = string(msg)
	case "answerCallbackQuery":
		if n := utf8.RuneCountInString(p.Get("text")); n > 200 {
			problem("a callback answer of %d characters (200 allowed)", n)
		}
	default:
		problem("unexpected method")
	}
	body := `{"ok":true,"result":` + answer + `}`
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func (f *fuzzBotAPI) take() (calls int, problems []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls, problems = f.calls, f.problems
	f.calls, f.problems = 0, nil
	return calls, problems
}

// fuzzLockedBuffer collects the adapter's log lines.
type fuzzLockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *fuzzLockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *fuzzLockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

// fuzzTelegramRouter echoes what it is given: a command's text as a card
// with buttons, a failure with the text, a pressed button as a card or a
// line.
func fuzzTelegramRouter(tb testing.TB, routed *atomic.Int64) *bot.Router {
	tb.Helper()
	roster, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		People: []workflow.Person{
			{ID: "chen", Name: "Chen <Jing> & co", Roles: []workflow.Role{workflow.RoleStaff}, Accounts: map[string]string{telegram.Platform.Name: "1001"}},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}, Accounts: map[string]string{telegram.Platform.Name: "1005"}},
			// A principal the quorum of major drafts needs (NewRoster checks it).
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RolePrincipal}},
		},
		Channels: map[string]workflow.ChannelRef{
			workflow.ChannelIncidents: {telegram.Platform.Name: "-100111"},
			workflow.ChannelLeaders:   {telegram.Platform.Name: "-100222"},
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := bot.NewRouter(roster, workflow.LocaleEN, nil)
	r.Use(func(next bot.Handler) bot.Handler {
		return func(ctx context.Context, req *bot.Request) (*bot.Reply, error) {
			routed.Add(1)
			return next(ctx, req)
		}
	})
	card := func(title, body string) *bot.Card {
		return &bot.Card{Incident: "YQ-7", Title: title, Body: body, Footer: title,
			Fields:  []bot.Field{{Label: "Text", Value: body}, {Label: "", Value: ""}},
			Buttons: []bot.Button{{ID: "ack:YQ-7", Label: title, Style: bot.StylePrimary}, {ID: "reject:YQ-7:1", Label: "Reject", Style: bot.StyleDanger}}}
	}
	r.Command(bot.Command{Name: "echo", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return &bot.Reply{Text: a.Line, Card: card(a.Arg(0), a.Rest(1)), Public: true}, nil
	}})
	r.Command(bot.Command{Name: "say", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return &bot.Reply{Text: a.Line}, nil
	}})
	r.Command(bot.Command{Name: "fail", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return nil, workflow.Errorf(workflow.CodeInvalid, "cannot %s", "无法 %s", a.Line)
	}})
	r.Command(bot.Command{Name: "reject", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return &bot.Reply{Text: "rejected: " + a.Line}, nil
	}})
	for _, name := range []string{"ack", "approve", "reject"} {
		r.Action(bot.ActionDef{Name: name, Run: func(_ context.Context, _ *bot.Request, a bot.Action) (*bot.Reply, error) {
			if name == "ack" {
				return &bot.Reply{Text: a.ID(), Card: card(a.ID(), strings.Join(a.Args, " "))}, nil
			}
			return &bot.Reply{Text: "pressed " + a.ID()}, nil
		}})
	}
	return r
}

// fuzzUpdates are updates as Telegram sends them, and broken ones.
var fuzzUpdates = []string{
	`{"update_id":5001,"message":{"message_id":10,"date":1700000000,"chat":{"id":-100111,"type":"supergroup","title":"Incidents"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"/incident echo YQ-7 <b>bold</b> & <a href=\"x\">","entities":[{"type":"bot_command","offset":0,"length":9}]}}`,
	`{"update_id":5002,"message":{"message_id":11,"date":1700000000,"chat":{"id":1001,"type":"private"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"echo 食堂 “投诉” 级别：重大"}}`,
	`{"update_id":5003,"message":{"message_id":12,"date":1700000000,"chat":{"id":1001,"type":"private"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"/incident@firebreak_bot fail <i>now</i>","entities":[{"type":"bot_command","offset":0,"length":23}]}}`,
	`{"update_id":5004,"message":{"message_id":13,"date":1700000000,"chat":{"id":4242,"type":"private"},"from":{"id":4242,"is_bot":false,"first_name":"<Stranger>","username":"str&nger"},"text":"/whoami","entities":[{"type":"bot_command","offset":0,"length":7}]}}`,
	`{"update_id":5005,"message":{"message_id":14,"date":1700000000,"chat":{"id":-100999,"type":"group","title":"x"},"from":{"id":4242,"is_bot":false,"first_name":"S"},"text":"/start","entities":[{"type":"bot_command","offset":0,"length":6}]}}`,
	`{"update_id":5006,"message":{"message_id":15,"date":1700000000,"chat":{"id":1001,"type":"private"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"/nosuch","entities":[{"type":"bot_command","offset":0,"length":7}]}}`,
	`{"update_id":5007,"message":{"message_id":16,"date":1700000000,"chat":{"id":1001,"type":"private"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"say ` + strings.Repeat("长 <&> ", 900) + `"}}`,
	`{"update_id":5008,"callback_query":{"id":"cb1","from":{"id":1005,"is_bot":false,"first_name":"Zhao"},"message":{"message_id":100,"date":1700000000,"chat":{"id":-100222,"type":"supergroup"},"text":"Approval <req>","reply_markup":{"inline_keyboard":[[{"text":"Approve","callback_data":"approve:YQ-7:1"},{"text":"Reject","callback_data":"reject:YQ-7:1"}]]}},"chat_instance":"1","data":"approve:YQ-7:1"}}`,
	`{"update_id":5009,"callback_query":{"id":"cb2","from":{"id":1005,"is_bot":false,"first_name":"Zhao"},"message":{"message_id":100,"date":1700000000,"chat":{"id":-100222,"type":"supergroup"},"text":"Approval"},"chat_instance":"1","data":"reject:YQ-7:1"}}`,
	`{"update_id":5010,"callback_query":{"id":"cb3","from":{"id":1001,"is_bot":false,"first_name":"Chen"},"message":{"message_id":101,"date":1700000000,"chat":{"id":-100111,"type":"supergroup"},"text":"Card"},"chat_instance":"1","data":"ack:YQ-7"}}`,
	`{"update_id":5011,"callback_query":{"id":"cb4","from":{"id":4242,"is_bot":false,"first_name":"S"},"chat_instance":"1","data":"::"}}`,
	`{"update_id":5012,"message":{"message_id":17,"date":1700000000,"chat":{"id":-100222,"type":"supergroup"},"from":{"id":1005,"is_bot":false,"first_name":"Zhao"},"text":"the supplier's name must go","reply_to_message":{"message_id":100,"date":1700000000,"chat":{"id":-100222,"type":"supergroup"},"text":"reason?"}}}`,
	`{"update_id":5013,"my_chat_member":{"chat":{"id":-100333,"type":"supergroup","title":"New"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"date":1700000000,"old_chat_member":{"user":{"id":999,"is_bot":true,"first_name":"Firebreak"},"status":"left"},"new_chat_member":{"user":{"id":999,"is_bot":true,"first_name":"Firebreak"},"status":"member"}}}`,
	`{"update_id":5014,"message":{"message_id":18,"date":1700000000,"chat":{"id":-100111,"type":"group"},"migrate_to_chat_id":-100444}}`,
	`{"update_id":5015,"message":{"message_id":19,"date":1700000000,"chat":{"id":-100111,"type":"supergroup"},"from":{"id":999,"is_bot":true,"first_name":"Bot"},"text":"/incident help"}}`,
	`{"update_id":5016,"message":{"message_id":20,"date":1700000000,"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"no chat"}}`,
	`{"update_id":5017,"message":{"message_id":21,"date":1700000000,"chat":{"id":-100111,"type":"supergroup"},"from":{"id":1001,"is_bot":false,"first_name":"Chen"},"text":"/incident","entities":[{"type":"bot_command","offset":0,"length":99}]}}`,
	`{"update_id":0}`,
	`{"update_id":-1,"message":{}}`,
	`{"update_id":"5"}`,
	`{"update_id":5018}`,
	`{"update_id":5019,"message":null,"callback_query":{}}`,
	`[]`,
	``,
}

// FuzzWebhook posts any body to the webhook with the right secret header
// (the kind byte's top bit sends a wrong one instead). With the secret, the
// answer is below 500 (Telegram would deliver a malformed update again and
// again), every Bot API call is one Telegram accepts (HTML its parse mode
// reads, messages within its limits), and neither the answer, the calls
// nor the log carry the bot token or the secret. Without it, the answer is
// 401 and nothing reaches the router or Telegram.
func FuzzWebhook(f *testing.F) {
	for i, u := range fuzzUpdates {
		f.Add(uint8(i), u)
	}
	var routed atomic.Int64
	router := fuzzTelegramRouter(f, &routed)
	api := &fuzzBotAPI{}
	client := &http.Client{Transport: api, Timeout: 5 * time.Second}
	logs := &fuzzLockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	f.Fuzz(func(t *testing.T, kind uint8, body string) {
		updates := &fuzzUpdateLog{state: map[int64]string{}, saved: map[int64][]byte{}}
		memo := &fuzzMemo{values: map[string]string{}, fields: map[string]map[string]string{}}
		// A prompt the bot asked in the leaders' chat, so that replies to
		// message 100 complete a command.
		prompt, _ := json.Marshal(map[string]any{"command": "reject YQ-7 v1", "chat": -100222, "origin": 100, "label": "Reject"})
		memo.values["prompt:-100222:100"] = string(prompt)
		tg, err := telegram.New(telegram.Options{
			Token: fuzzToken, Mode: telegram.ModeWebhook, WebhookURL: "https://firebreak.example/telegram/webhook",
			WebhookSecret: fuzzSecret, APIEndpoint: "https://api.telegram.example/bot%s/%s", Router: router,
			UpdateLog: updates, Memo: memo, HTTPClient: client, Log: log,
			Clock: workflow.NewManualClock(time.Date(2025, 3, 4, 9, 7, 11, 0, time.UTC)),
		})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		tg.Register(mux)

		forged := kind&0x80 != 0
		req := httptest.NewRequest(http.MethodPost, telegram.WebhookPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		header := fuzzSecret
		if forged {
			header = fuzzSecret[:len(fuzzSecret)-1] + "8"
		}
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", header)
		routed.Store(0)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		calls, problems := api.take()
		logged := logs.take()

		if forged {
			if rec.Code != http.StatusUnauthorized || routed.Load() != 0 || calls != 0 {
				t.Fatalf("a wrong secret: %d, %d routed, %d calls; want 401 and nothing done", rec.Code, routed.Load(), calls)
			}
			return
		}
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %q, want below 500 with the right secret\nlog: %s", body, rec.Code, rec.Body, logged)
		}
		if len(problems) > 0 {
			t.Fatalf("%q: Telegram would refuse:\n%s", body, strings.Join(problems, "\n"))
		}
		for what, s := range map[string]string{"answer": rec.Body.String(), "log": logged} {
			if strings.Contains(s, fuzzToken) || strings.Contains(s, fuzzSecret) {
				t.Fatalf("%q: the token or the secret is in the %s: %q", body, what, s)
			}
		}
	})
}
