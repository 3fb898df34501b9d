package telegram_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// Chats and people of the test roster (the demo roster's IDs).
const (
	incidentsChat int64 = -100111
	leadersChat   int64 = -100222
	chenID        int64 = 1001 // staff
	wangID        int64 = 1004 // leader, principal
	zhaoID        int64 = 1005 // leader
	sunID         int64 = 1006 // spokesperson
	strangerID    int64 = 4242 // not in the roster
	secret              = "s3cret_token-1"
)

func testRoster(tb testing.TB, locale string) *workflow.Roster {
	tb.Helper()
	r, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		Locale:   locale,
		People: []workflow.Person{
			{ID: "chen", Name: "Chen Jing", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}, Accounts: telegramAccount(chenID)},
			{ID: "li", Name: "Li Ming", Roles: []workflow.Role{workflow.RoleStaff}, Departments: []string{"office"}},
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}, Accounts: telegramAccount(wangID)},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}, Accounts: telegramAccount(zhaoID)},
			{ID: "sun", Name: "Sun Yue", Roles: []workflow.Role{workflow.RoleSpokesperson}, Accounts: telegramAccount(sunID)},
		},
		Departments: []workflow.Department{{ID: "office", Name: "Public Opinion Office", Categories: []workflow.Category{workflow.CategoryOther}}},
		Channels: map[string]workflow.ChannelRef{
			workflow.ChannelIncidents:  {"slack": "C0INCIDENTS", telegram.Platform.Name: strconv.FormatInt(incidentsChat, 10)},
			workflow.ChannelLeaders:    {telegram.Platform.Name: strconv.FormatInt(leadersChat, 10)},
			workflow.ChannelStatements: {"slack": "C0STATEMENTS"},
		},
	})
	if err != nil {
		tb.Fatalf("roster: %v", err)
	}
	return r
}

// telegramAccount is the Accounts of someone with the Telegram user ID id.
func telegramAccount(id int64) map[string]string {
	return map[string]string{telegram.Platform.Name: strconv.FormatInt(id, 10)}
}

// env is Firebreak wired as cmd/firebreak does, over a real Redis, with the
// Telegram adapter talking to a fake Bot API.
type env struct {
	render bot.Renderer // the handlers: words the outbox notices
	t      *testing.T
	ctx    context.Context
	api    *fakeAPI
	store  *fbredis.Store
	svc    *workflow.Service
	router *bot.Router
	tg     *telegram.Adapter
	mux    *http.ServeMux
	clock  *workflow.ManualClock
	update int
}

type envOption func(*telegram.Options)

// fixedNow is when the tests happen (17:00 in the roster's Shanghai).
var fixedNow = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), api: newFakeAPI(t), update: 5000,
		clock: workflow.NewManualClock(fixedNow)}
	e.store = redistest.NewStore(t)
	e.build(e.store, testRoster(t, workflow.LocaleEN), workflow.LocaleEN, "", opts...)
	return e
}

// build wires the service, handlers, router and adapter over store.
func (e *env) build(store *fbredis.Store, roster *workflow.Roster, locale, replica string, opts ...envOption) {
	e.t.Helper()
	e.svc = workflow.NewService(store, roster, e.clock)
	h := handlers.New(e.svc, locale)
	e.render = h
	e.router = bot.NewRouter(roster, locale, nil)
	h.Register(e.router)
	opts = append([]envOption{func(o *telegram.Options) { o.Clock = e.clock }}, opts...)
	e.tg = newAdapter(e.t, e.api, store, e.router, replica, opts...)
	e.mux = http.NewServeMux()
	e.tg.Register(e.mux)
}

func newAdapter(tb testing.TB, api *fakeAPI, store *fbredis.Store, router *bot.Router, replica string, opts ...envOption) *telegram.Adapter {
	tb.Helper()
	st := store.PlatformState("telegram")
	o := telegram.Options{
		Token: testToken, Mode: telegram.ModeWebhook, WebhookURL: "https://firebreak.example/telegram/webhook",
		WebhookSecret: secret, APIEndpoint: api.endpoint(replica), Router: router,
		Lease: st, UpdateLog: st, Memo: st, Once: store, // as cmd/firebreak wires it
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
	for _, f := range opts {
		f(&o)
	}
	tg, err := telegram.New(o)
	if err != nil {
		tb.Fatalf("telegram.New: %v", err)
	}
	return tg
}

// do runs a command typed by a person (as the console would), and fails the
// test when it fails.
func (e *env) do(actor, text string) *bot.Reply {
	e.t.Helper()
	r := e.router.Handle(e.ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: actor, Text: text})
	if r.Failed {
		e.t.Fatalf("%s: %s: %s", actor, text, r.Text)
	}
	return r
}

// deliver reads the Telegram consumer group of the outbox and sends every
// notice with the adapter's Sender, as the Dispatcher does; notices that
// have no Telegram chat are skipped. It returns the notices read.
func (e *env) deliver() []workflow.Notice {
	e.t.Helper()
	s := e.tg.Sender()
	var all []workflow.Notice
	for {
		ds, err := e.store.ReadOutbox(e.ctx, s.Platform(), "test", 100)
		if err != nil {
			e.t.Fatalf("read outbox: %v", err)
		}
		if len(ds) == 0 {
			return all
		}
		for _, d := range ds {
			m, err := e.render.Render(e.ctx, d.Notice, s.Platform())
			if err != nil {
				e.t.Fatalf("notice %s: %v", d.Notice.ID, err)
			}
			if err := s.Send(e.ctx, d.Notice, m); err != nil && !errors.Is(err, bot.ErrNoRoute) {
				e.t.Fatalf("send notice %s: %v", d.Notice.ID, err)
			}
			all = append(all, d.Notice)
		}
		if err := e.store.AckOutbox(e.ctx, s.Platform(), ds...); err != nil {
			e.t.Fatalf("ack outbox: %v", err)
		}
	}
}

// version is the incident's version in Redis.
func (e *env) version(id string) int64 {
	e.t.Helper()
	inc, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return inc.Version
}

func (e *env) incident(id string) *workflow.Incident {
	e.t.Helper()
	inc, err := e.store.Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return inc
}

// post sends a webhook request with the given secret header ("" for none).
func (e *env) post(secretHeader, body string) int {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodPost, telegram.WebhookPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if secretHeader != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretHeader)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec.Code
}

// postUpdate sends u through the webhook with the right secret and wants 200.
func (e *env) postUpdate(u tgbotapi.Update) {
	e.t.Helper()
	if code := e.post(secret, mustJSON(e.t, u)); code != http.StatusOK {
		e.t.Fatalf("webhook update %d: got HTTP %d, want 200", u.UpdateID, code)
	}
}

func (e *env) nextUpdateID() int {
	e.update++
	return e.update
}

// pressUpdate is the update of user pressing the button data on message m.
func (e *env) pressUpdate(user int64, m fakeMessage, data string) tgbotapi.Update {
	e.t.Helper()
	id := e.nextUpdateID()
	var markup *tgbotapi.InlineKeyboardMarkup
	if m.Markup != "" {
		markup = &tgbotapi.InlineKeyboardMarkup{}
		if err := json.Unmarshal([]byte(m.Markup), markup); err != nil {
			e.t.Fatalf("markup: %v", err)
		}
	}
	return tgbotapi.Update{UpdateID: id, CallbackQuery: &tgbotapi.CallbackQuery{
		ID:   "cb-" + itoa(id),
		From: &tgbotapi.User{ID: user, FirstName: "User"},
		Message: &tgbotapi.Message{MessageID: m.ID, Chat: &tgbotapi.Chat{ID: m.Chat, Type: "supergroup"},
			Text: m.Text, ReplyMarkup: markup},
		ChatInstance: "ci",
		Data:         data,
	}}
}

// press presses a button through the webhook and returns the answer of the
// callback query.
func (e *env) press(user int64, m fakeMessage, data string) apiCall {
	e.t.Helper()
	u := e.pressUpdate(user, m, data)
	e.postUpdate(u)
	return e.answerOf(u.CallbackQuery.ID)
}

// answerOf returns the one answerCallbackQuery of a callback query.
func (e *env) answerOf(id string) apiCall {
	e.t.Helper()
	var found []apiCall
	for _, c := range e.api.Calls("answerCallbackQuery") {
		if c.Params.Get("callback_query_id") == id {
			found = append(found, c)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("callback query %s: got %d answers, want 1", id, len(found))
	}
	return found[0]
}

// messageUpdate is a text message typed by user in chat.
func (e *env) messageUpdate(user int64, chat int64, text string) tgbotapi.Update {
	id := e.nextUpdateID()
	typ := "supergroup"
	if chat > 0 {
		typ = "private"
	}
	m := &tgbotapi.Message{MessageID: 9000 + id, From: &tgbotapi.User{ID: user, FirstName: "Fei", LastName: "Ma", UserName: "mafei"},
		Chat: &tgbotapi.Chat{ID: chat, Type: typ}, Date: 1700000000, Text: text}
	if strings.HasPrefix(text, "/") {
		n := strings.IndexAny(text, " \n")
		if n < 0 {
			n = len(text)
		}
		m.Entities = []tgbotapi.MessageEntity{{Type: "bot_command", Offset: 0, Length: n}}
	}
	return tgbotapi.Update{UpdateID: id, Message: m}
}

// repliesTo returns the messages the bot sent in reply to message msgID.
func (e *env) repliesTo(msgID int) []apiCall {
	var out []apiCall
	for _, c := range e.api.Calls("sendMessage") {
		if c.Params.Get("reply_to_message_id") == itoa(msgID) {
			out = append(out, c)
		}
	}
	return out
}

// approvalRequest returns the one message in chat whose keyboard has the
// button data.
func (e *env) approvalRequest(chat int64, data string) fakeMessage {
	e.t.Helper()
	var found []fakeMessage
	for _, m := range e.api.messagesIn(chat) {
		if strings.Contains(m.Markup, `"callback_data":"`+data+`"`) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		e.t.Fatalf("chat %d: got %d messages with button %s, want 1", chat, len(found), data)
	}
	return found[0]
}

// editsIn counts the editMessageText calls for messages in chat.
func (e *env) editsIn(chat int64) int {
	n := 0
	for _, c := range e.api.Calls("editMessageText") {
		if c.Params.Get("chat_id") == strconv.FormatInt(chat, 10) {
			n++
		}
	}
	return n
}

// approvalRequestGone reports whether a message with button data is still
// in chat.
func (e *env) approvalRequestGone(chat int64, data string) bool {
	for _, m := range e.api.messagesIn(chat) {
		if strings.Contains(m.Markup, `"callback_data":"`+data+`"`) {
			return true
		}
	}
	return false
}

// openWithDraft opens a major incident as chen and drafts text; it returns
// the incident ID.
func (e *env) openWithDraft(text string) string {
	e.t.Helper()
	e.do("chen", `open "Canteen complaint" level:major`)
	e.do("chen", "draft YQ-1 "+text)
	return "YQ-1"
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("json: %v", err)
	}
	return string(b)
}

func itoa(n int) string { return strconv.Itoa(n) }

// eventually waits until cond holds, failing after a few seconds.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wantContains(tb testing.TB, what, got string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			tb.Errorf("%s: got %q, want it to contain %q", what, got, w)
		}
	}
}
