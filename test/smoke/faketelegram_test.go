package smoke

import (
	"encoding/json"
	"fmt"
	"html"
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
)

// fakeTelegram is a fake Telegram Bot API behind an endpoint of the form
// http://host/bot%s/%s: form-encoded calls, {"ok":...,"result":...}
// answers, Telegram's errors for a wrong token, a message too long, a
// message to edit that does not exist or is not modified. It records every
// sendMessage, edit, callback answer and webhook registration.
type fakeTelegram struct {
	tb    testing.TB
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	sent      []message
	edits     []message
	answers   []url.Values
	webhooks  []url.Values
	unknown   unknownMethods
	nextID    int
	byMessage map[string]*tgStored // "<chat>:<id>"
}

type tgStored struct {
	text, markup string
}

func newFakeTelegram(tb testing.TB, token string) *fakeTelegram {
	f := &fakeTelegram{tb: tb, token: token, nextID: 100, byMessage: map[string]*tgStored{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// Endpoint is FIREBREAK_TELEGRAM_API_ENDPOINT.
func (f *fakeTelegram) Endpoint() string { return f.srv.URL + "/bot%s/%s" }

// Sent returns every message sent so far, in the order received.
func (f *fakeTelegram) Sent() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.sent...)
}

// Webhooks returns the parameters of every setWebhook call.
func (f *fakeTelegram) Webhooks() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.webhooks...)
}

// Edits returns every edit of a message (editMessageText,
// editMessageReplyMarkup), with the text after it.
func (f *fakeTelegram) Edits() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.edits...)
}

// Answers returns the parameters of every answerCallbackQuery call.
func (f *fakeTelegram) Answers() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.answers...)
}

func tgAnswer(w http.ResponseWriter, status int, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func tgOK(w http.ResponseWriter, result any) {
	tgAnswer(w, http.StatusOK, map[string]any{"ok": true, "result": result})
}

func tgError(w http.ResponseWriter, code int, description string) {
	tgAnswer(w, code, map[string]any{"ok": false, "error_code": code, "description": description})
}

func (f *fakeTelegram) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		tgError(w, http.StatusNotFound, "Not Found")
		return
	}
	if token != f.token {
		tgError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil && err != http.ErrNotMultipart {
		tgError(w, http.StatusBadRequest, "Bad Request: bad form")
		return
	}
	p := r.Form
	switch method {
	case "getMe":
		tgOK(w, map[string]any{"id": 999, "is_bot": true, "first_name": "Firebreak", "username": "firebreak_smoke_bot"})
	case "setWebhook":
		f.mu.Lock()
		f.webhooks = append(f.webhooks, p)
		f.mu.Unlock()
		tgOK(w, true)
	case "deleteWebhook":
		tgOK(w, true)
	case "answerCallbackQuery":
		f.mu.Lock()
		f.answers = append(f.answers, p)
		f.mu.Unlock()
		tgOK(w, true)
	case "sendMessage":
		f.sendMessage(w, p, at)
	case "editMessageText", "editMessageReplyMarkup":
		f.edit(w, method, p, at)
	default:
		f.unknown.note(f.tb, "telegram", method)
		tgError(w, http.StatusNotFound, "Not Found: method not found")
	}
}

func chatObject(chat int64) map[string]any {
	if chat < 0 {
		return map[string]any{"id": chat, "type": "supergroup", "title": fmt.Sprintf("group %d", chat)}
	}
	return map[string]any{"id": chat, "type": "private", "first_name": fmt.Sprintf("user %d", chat)}
}

func (f *fakeTelegram) sendMessage(w http.ResponseWriter, p url.Values, at time.Time) {
	chat, err := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	if err != nil || chat == 0 {
		tgError(w, http.StatusBadRequest, "Bad Request: chat not found")
		return
	}
	text := p.Get("text")
	plain := text
	if p.Get("parse_mode") == "HTML" {
		plain = htmlText(text)
	}
	// Telegram counts a message's length after parsing its entities.
	switch n := len(utf16.Encode([]rune(plain))); {
	case strings.TrimSpace(plain) == "":
		tgError(w, http.StatusBadRequest, "Bad Request: message text is empty")
		return
	case n > 4096:
		tgError(w, http.StatusBadRequest, "Bad Request: message is too long")
		return
	}
	replyTo, _ := strconv.Atoi(p.Get("reply_to_message_id"))
	if replyTo == 0 {
		var rp struct {
			MessageID int `json:"message_id"`
		}
		if json.Unmarshal([]byte(p.Get("reply_parameters")), &rp) == nil {
			replyTo = rp.MessageID
		}
	}
	f.mu.Lock()
	f.nextID++
	id := f.nextID
	f.byMessage[fmt.Sprintf("%d:%d", chat, id)] = &tgStored{text: text, markup: p.Get("reply_markup")}
	f.sent = append(f.sent, message{Chat: fmt.Sprintf("telegram:%d", chat), ID: strconv.Itoa(id), Text: plain,
		Raw: text, ReplyTo: replyTo, Buttons: tgButtons(p.Get("reply_markup")), At: at})
	f.mu.Unlock()
	result := map[string]any{"message_id": id, "date": at.Unix(), "chat": chatObject(chat), "text": plain,
		"from": map[string]any{"id": 999, "is_bot": true, "first_name": "Firebreak", "username": "firebreak_smoke_bot"}}
	if m := p.Get("reply_markup"); m != "" {
		var kb any
		if json.Unmarshal([]byte(m), &kb) == nil {
			result["reply_markup"] = kb
		}
	}
	tgOK(w, result)
}

func (f *fakeTelegram) edit(w http.ResponseWriter, method string, p url.Values, at time.Time) {
	chat, _ := strconv.ParseInt(p.Get("chat_id"), 10, 64)
	id, _ := strconv.Atoi(p.Get("message_id"))
	key := fmt.Sprintf("%d:%d", chat, id)
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.byMessage[key]
	if !ok {
		tgError(w, http.StatusBadRequest, "Bad Request: message to edit not found")
		return
	}
	text, markup := m.text, p.Get("reply_markup")
	if method == "editMessageText" {
		text = p.Get("text")
	}
	if text == m.text && markup == m.markup {
		tgError(w, http.StatusBadRequest, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
		return
	}
	plain := text
	if p.Get("parse_mode") == "HTML" {
		plain = htmlText(text)
	}
	if n := len(utf16.Encode([]rune(plain))); n > 4096 {
		// Counted after entities are parsed, as Telegram does.
		tgError(w, http.StatusBadRequest, "Bad Request: MESSAGE_TOO_LONG")
		return
	}
	m.text, m.markup = text, markup
	f.edits = append(f.edits, message{Chat: fmt.Sprintf("telegram:%d", chat), ID: strconv.Itoa(id), Text: plain,
		Raw: text, Buttons: tgButtons(markup), At: at})
	tgOK(w, map[string]any{"message_id": id, "date": at.Unix(), "chat": chatObject(chat), "text": plain})
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// htmlText is what a person reads of a Telegram HTML message.
func htmlText(s string) string { return html.UnescapeString(htmlTag.ReplaceAllString(s, "")) }

// tgButtons reads an inline keyboard.
func tgButtons(markup string) []button {
	var kb struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if markup == "" || json.Unmarshal([]byte(markup), &kb) != nil {
		return nil
	}
	var out []button
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			out = append(out, button{Label: b.Text, Data: b.CallbackData})
		}
	}
	return out
}
