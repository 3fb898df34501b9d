package telegram_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// testToken is the bot token of the tests; it must never show in an error.
const testToken = "123456:TEST-token-never-shown"

// fakeAPI is a fake Telegram Bot API speaking the real wire format
// (form-encoded requests, {"ok":...} answers). It records every call,
// keeps the messages sent so that edits can be checked, validates HTML like
// Telegram does, serves queued updates to getUpdates, and answers with
// queued failures (429, migrations, 5xx) when told to.
type fakeAPI struct {
	tb  testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	calls    []apiCall
	nextMsg  int
	messages map[string]*fakeMessage // by "chat:id"
	updates  []json.RawMessage       // queued, in update_id order
	updateID []int
	confirm  int // updates below it were confirmed by an offset
	failures map[string][]fakeFailure
	migrated map[int64]int64
	wake     chan struct{}
	atOnce   bool // getUpdates answers at once, even with nothing
}

// apiCall is one recorded call.
type apiCall struct {
	Replica string // the path before /bot<token>/, "" for none
	Method  string
	Params  url.Values
}

type fakeMessage struct {
	Chat   int64
	ID     int
	Text   string
	Markup string
}

type fakeFailure struct {
	status int
	body   string
}

func newFakeAPI(tb testing.TB) *fakeAPI {
	f := &fakeAPI{tb: tb, messages: map[string]*fakeMessage{}, failures: map[string][]fakeFailure{},
		migrated: map[int64]int64{}, wake: make(chan struct{}, 1), nextMsg: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// endpoint is the APIEndpoint of a replica (its calls are recorded under
// that name).
func (f *fakeAPI) endpoint(replica string) string {
	if replica == "" {
		return f.srv.URL + "/bot%s/%s"
	}
	return f.srv.URL + "/" + replica + "/bot%s/%s"
}

// fail queues a failure answer for the next call of method.
func (f *fakeAPI) fail(method string, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fakeFailure{status, body})
}

// tooMany queues a 429 for method.
func (f *fakeAPI) tooMany(method string, seconds int) {
	f.fail(method, 429, fmt.Sprintf(`{"ok":false,"error_code":429,"description":"Too Many Requests: retry after %d","parameters":{"retry_after":%d}}`, seconds, seconds))
}

// migrate makes chat a group that became supergroup to.
func (f *fakeAPI) migrate(chat, to int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.migrated[chat] = to
}

// answerAtOnce makes getUpdates answer at once when there is nothing,
// ignoring its long-poll timeout, as some Bot API servers and emulators do.
func (f *fakeAPI) answerAtOnce() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.atOnce = true
}

// queue adds an update for getUpdates.
func (f *fakeAPI) queue(u tgbotapi.Update) {
	b, err := json.Marshal(u)
	if err != nil {
		f.tb.Fatalf("fake api: encode update: %v", err)
	}
	f.mu.Lock()
	f.updates = append(f.updates, b)
	f.updateID = append(f.updateID, u.UpdateID)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Calls returns the recorded calls of method ("" for all).
func (f *fakeAPI) Calls(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// message returns a message as it is now.
func (f *fakeAPI) message(chat int64, id int) (fakeMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[fmt.Sprintf("%d:%d", chat, id)]
	if !ok {
		return fakeMessage{}, false
	}
	return *m, true
}

// messagesIn returns the messages sent to chat, oldest first.
func (f *fakeAPI) messagesIn(chat int64) []fakeMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMessage
	for id := 100; id <= f.nextMsg; id++ {
		if m, ok := f.messages[fmt.Sprintf("%d:%d", chat, id)]; ok {
			out = append(out, *m)
		}
	}
	return out
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	replica := ""
	if i := strings.Index(path, "/bot"); i > 0 {
		replica, path = path[:i], path[i+1:]
	}
	token, method, ok := strings.Cut(strings.TrimPrefix(path, "bot"), "/")
	if !ok || token != testToken {
		writeJSON(w, 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: bad form"}`)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, apiCall{Replica: replica, Method: method, Params: r.PostForm})
	if q := f.failures[method]; len(q) > 0 {
		f.failures[method] = q[1:]
		f.mu.Unlock()
		writeJSON(w, q[0].status, q[0].body)
		return
	}
	f.mu.Unlock()

	p := r.PostForm
	switch method {
	case "getMe":
		ok200(w, `{"id":999,"is_bot":true,"first_name":"Firebreak","username":"firebreak_bot"}`)
	case "setWebhook", "deleteWebhook", "answerCallbackQuery":
		ok200(w, `true`)
	case "sendMessage":
		f.sendMessage(w, p)
	case "editMessageText", "editMessageReplyMarkup":
		f.edit(w, method, p)
	case "getUpdates":
		f.getUpdates(w, r, p)
	default:
		writeJSON(w, 404, `{"ok":false,"error_code":404,"description":"Not Found: method not found"}`)
	}
}

func (f *fakeAPI) sendMessage(w http.ResponseWriter, p url.Values) {
	chat, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if p.Get("parse_mode") == "HTML" {
		if err := validHTML(p.Get("text")); err != nil {
			writeJSON(w, 400, fmt.Sprintf(`{"ok":false,"error_code":400,"description":%q}`, "Bad Request: can't parse entities: "+err.Error()))
			return
		}
	}
	if len(utf16.Encode([]rune(visibleText(p.Get("text"))))) > 4096 {
		writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: message is too long"}`)
		return
	}
	f.mu.Lock()
	if to, ok := f.migrated[chat]; ok {
		f.mu.Unlock()
		writeJSON(w, 400, fmt.Sprintf(`{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":%d}}`, to))
		return
	}
	f.nextMsg++
	m := &fakeMessage{Chat: chat, ID: f.nextMsg, Text: p.Get("text"), Markup: p.Get("reply_markup")}
	f.messages[fmt.Sprintf("%d:%d", chat, m.ID)] = m
	f.mu.Unlock()
	ok200(w, fmt.Sprintf(`{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"supergroup"},"text":%q}`, m.ID, chat, m.Text))
}

func (f *fakeAPI) edit(w http.ResponseWriter, method string, p url.Values) {
	key := p.Get("chat_id") + ":" + p.Get("message_id")
	if method == "editMessageText" && p.Get("parse_mode") == "HTML" {
		if err := validHTML(p.Get("text")); err != nil {
			writeJSON(w, 400, fmt.Sprintf(`{"ok":false,"error_code":400,"description":%q}`, "Bad Request: can't parse entities: "+err.Error()))
			return
		}
	}
	if method == "editMessageText" && len(utf16.Encode([]rune(visibleText(p.Get("text"))))) > 4096 {
		writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: MESSAGE_TOO_LONG"}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.messages[key]
	if !ok {
		writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: message to edit not found"}`)
		return
	}
	text, markup := m.Text, p.Get("reply_markup")
	if method == "editMessageText" {
		text = p.Get("text")
	}
	if text == m.Text && sameMarkup(markup, m.Markup) {
		writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}`)
		return
	}
	m.Text, m.Markup = text, markup
	ok200(w, fmt.Sprintf(`{"message_id":%d,"date":1700000000,"chat":{"id":%d,"type":"supergroup"},"text":%q}`, m.ID, m.Chat, m.Text))
}

// sameMarkup compares keyboards, an absent one being empty.
func sameMarkup(a, b string) bool {
	norm := func(s string) string {
		if s == "" || s == `{"inline_keyboard":[]}` {
			return ""
		}
		return s
	}
	return norm(a) == norm(b)
}

func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, p url.Values) {
	offset, _ := strconv.Atoi(p.Get("offset"))
	timeout, _ := strconv.Atoi(p.Get("timeout"))
	wait := min(time.Duration(timeout)*time.Second, 100*time.Millisecond)
	f.mu.Lock()
	if f.atOnce {
		wait = 0
	}
	f.mu.Unlock()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if offset > 0 {
			f.confirm = max(f.confirm, offset)
		}
		var out []json.RawMessage
		for i, id := range f.updateID {
			if id >= f.confirm {
				out = append(out, f.updates[i])
			}
		}
		f.mu.Unlock()
		if len(out) > 0 {
			b, _ := json.Marshal(out)
			ok200(w, string(b))
			return
		}
		select {
		case <-f.wake:
			continue
		case <-deadline.C:
		case <-r.Context().Done():
		}
		ok200(w, `[]`)
		return
	}
}

func ok200(w http.ResponseWriter, result string) {
	writeJSON(w, 200, `{"ok":true,"result":`+result+`}`)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

var (
	regexpTags     = regexp.MustCompile(`<[^>]+>`)
	regexpEntities = regexp.MustCompile(`&[^;]+;`)
	tagRe          = regexp.MustCompile(`^<(/?)(b|i|code|pre|blockquote|a)(\s+href="[^"<>]*")?>`)
	entityRe       = regexp.MustCompile(`^&(lt|gt|amp|quot|#[0-9]+);`)
)

// validHTML checks text as Telegram's HTML parse mode does: only the
// supported tags, properly nested, and no bare <, > or &.
func validHTML(s string) error {
	var open []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			m := tagRe.FindStringSubmatch(s[i:])
			if m == nil {
				return fmt.Errorf("unsupported start tag at byte offset %d", i)
			}
			if m[1] == "/" {
				if len(open) == 0 || open[len(open)-1] != m[2] {
					return fmt.Errorf("unexpected end tag at byte offset %d", i)
				}
				open = open[:len(open)-1]
			} else {
				open = append(open, m[2])
			}
			i += len(m[0])
		case '&':
			m := entityRe.FindString(s[i:])
			if m == "" {
				return fmt.Errorf("bare & at byte offset %d", i)
			}
			i += len(m)
		case '>':
			return fmt.Errorf("bare > at byte offset %d", i)
		default:
			i++
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("unclosed tag %s", open[len(open)-1])
	}
	return nil
}

// keyboardOf decodes the inline keyboard of a reply_markup, as
// [["label=data", ...], ...].
func keyboardOf(tb testing.TB, markup string) [][]string {
	tb.Helper()
	if markup == "" {
		return nil
	}
	var m tgbotapi.InlineKeyboardMarkup
	if err := json.Unmarshal([]byte(markup), &m); err != nil {
		tb.Fatalf("reply_markup %s: %v", markup, err)
	}
	var rows [][]string
	for _, row := range m.InlineKeyboard {
		var r []string
		for _, b := range row {
			data := ""
			if b.CallbackData != nil {
				data = *b.CallbackData
			}
			r = append(r, b.Text+"="+data)
		}
		rows = append(rows, r)
	}
	return rows
}
