package smoke

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// message is one message that reached a fake platform.
type message struct {
	// Chat is "<platform>:<conversation>": slack:C0INCIDENTS, slack:U0WANG
	// (a direct message, by the user it was sent to), telegram:-100111,
	// telegram:1004.
	Chat string
	// ID is Slack's ts or Telegram's message_id.
	ID string
	// Text is what a person reads: Slack's text field, Telegram's HTML
	// without tags and with entities decoded.
	Text string
	// Raw is the message as sent: Slack's blocks JSON, Telegram's HTML.
	Raw string
	// Thread is Slack's thread_ts (a reply in a thread), else "".
	Thread string
	// ReplyTo is Telegram's reply_to_message_id, else 0.
	ReplyTo int
	// Buttons are the message's buttons (Slack block actions, Telegram
	// inline keyboard).
	Buttons []button
	// At is when the fake received it (wall clock of the test process).
	At time.Time
}

// button is one button of a message: its label and the data it sends back
// when pressed (Slack's value, Telegram's callback_data).
type button struct {
	Label, Data string
}

// firstLine is the first non-empty line of the message's text.
func (m message) firstLine() string {
	for _, l := range strings.Split(m.Text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// fakeSlack is a fake Slack Web API: chat.postMessage, chat.update,
// chat.postEphemeral and auth.test with Slack's form-encoded requests and
// {"ok":...} answers, direct messages opened by posting to a user ID (the
// answer names the D… conversation, as Slack does), threads checked, and a
// response_url endpoint. It records every message posted.
type fakeSlack struct {
	tb    testing.TB
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	posts     []message
	updates   []message
	responses []slackResponse
	unknown   unknownMethods
	seq       int
	dmOwner   map[string]string // D… conversation -> user ID
	known     map[string]bool   // "<conversation> <ts>" of every message posted
}

// slackResponse is a message posted to a response_url.
type slackResponse struct {
	Path string
	Body map[string]any
	At   time.Time
}

func newFakeSlack(tb testing.TB, token string) *fakeSlack {
	f := &fakeSlack{tb: tb, token: token, dmOwner: map[string]string{}, known: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

// APIURL is the Web API base URL (FIREBREAK_SLACK_API_URL).
func (f *fakeSlack) APIURL() string { return f.srv.URL + "/api/" }

// ResponseURL returns a fresh response_url for one slash command.
func (f *fakeSlack) ResponseURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("%s/response/%d", f.srv.URL, f.seq)
}

// Posts returns every message posted so far, in the order received.
func (f *fakeSlack) Posts() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.posts...)
}

// Updates returns every chat.update of a message the fake knows, with the
// text after it.
func (f *fakeSlack) Updates() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.updates...)
}

// Response returns what was posted to response_url, if anything.
func (f *fakeSlack) Response(responseURL string) (slackResponse, bool) {
	u, err := url.Parse(responseURL)
	if err != nil {
		return slackResponse{}, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.responses {
		if r.Path == u.Path {
			return r, true
		}
	}
	return slackResponse{}, false
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if strings.HasPrefix(r.URL.Path, "/response/") {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.responses = append(f.responses, slackResponse{Path: r.URL.Path, Body: body, At: at})
		f.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	form, err := slackForm(r)
	if err != nil {
		slackAnswer(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	token := form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		token = bearer
	}
	if token != f.token {
		slackAnswer(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	switch method {
	case "auth.test":
		slackAnswer(w, map[string]any{"ok": true, "url": "https://smoke.slack.com/", "team": "Smoke",
			"user": "firebreak", "team_id": "T0SMOKE", "user_id": "U0BOT", "bot_id": "B0BOT"})
	case "chat.postMessage":
		f.postMessage(w, form, at)
	case "chat.update":
		f.update(w, form, at)
	case "chat.postEphemeral":
		slackAnswer(w, map[string]any{"ok": true, "message_ts": f.nextTS()})
	default:
		f.unknown.note(f.tb, "slack", method)
		slackAnswer(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

// slackForm reads a Web API call: a form (as slack-go sends chat.*) or JSON.
func slackForm(r *http.Request) (url.Values, error) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			return nil, err
		}
		v := url.Values{}
		for k, x := range body {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			default:
				b, _ := json.Marshal(x)
				v.Set(k, string(b))
			}
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	return r.PostForm, nil
}

func slackAnswer(w http.ResponseWriter, v map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// nextTS returns a new message timestamp, unique and increasing.
func (f *fakeSlack) nextTS() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	return fmt.Sprintf("%d.%06d", time.Now().Unix(), f.seq)
}

// conversation resolves the channel argument: a user ID opens (or finds)
// the direct message with that user, "D" and the rest of the ID.
func (f *fakeSlack) conversation(channel string) (conv, chat string, ok bool) {
	switch {
	case channel == "":
		return "", "", false
	case strings.HasPrefix(channel, "U") || strings.HasPrefix(channel, "W"):
		conv = "D" + channel[1:]
		f.mu.Lock()
		f.dmOwner[conv] = channel
		f.mu.Unlock()
		return conv, "slack:" + channel, true
	case strings.HasPrefix(channel, "D"):
		f.mu.Lock()
		owner, known := f.dmOwner[channel]
		f.mu.Unlock()
		if !known {
			return "", "", false
		}
		return channel, "slack:" + owner, true
	case strings.HasPrefix(channel, "C") || strings.HasPrefix(channel, "G"):
		return channel, "slack:" + channel, true
	}
	return "", "", false
}

func (f *fakeSlack) postMessage(w http.ResponseWriter, form url.Values, at time.Time) {
	conv, chat, ok := f.conversation(form.Get("channel"))
	if !ok {
		slackAnswer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	text, blocks := form.Get("text"), form.Get("blocks")
	if strings.TrimSpace(text) == "" && blocks == "" {
		slackAnswer(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	for _, v := range []string{text, blocks} {
		for _, tok := range []string{"<!channel", "<!here", "<!everyone", "<!subteam", "<@", "<http"} {
			if strings.Contains(v, tok) {
				f.tb.Errorf("chat.postMessage to %s carries %q, which Slack reads as a mention or link in the bot's voice: %.200q", chat, tok, v)
			}
		}
	}
	if problem := blocksProblem(blocks); problem != "" {
		f.tb.Errorf("chat.postMessage to %s: %s", chat, problem)
		slackAnswer(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	thread := form.Get("thread_ts")
	f.mu.Lock()
	threadKnown := thread == "" || f.known[conv+" "+thread]
	f.mu.Unlock()
	if !threadKnown {
		slackAnswer(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	ts := f.nextTS()
	m := message{Chat: chat, ID: ts, Text: text, Raw: blocks, Thread: thread, Buttons: slackButtons(blocks), At: at}
	f.mu.Lock()
	f.known[conv+" "+ts] = true
	f.posts = append(f.posts, m)
	f.mu.Unlock()
	slackAnswer(w, map[string]any{"ok": true, "channel": conv, "ts": ts,
		"message": map[string]any{"type": "message", "text": text, "ts": ts, "thread_ts": thread}})
}

func (f *fakeSlack) update(w http.ResponseWriter, form url.Values, at time.Time) {
	conv, chat, ok := f.conversation(form.Get("channel"))
	if !ok {
		slackAnswer(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if problem := blocksProblem(form.Get("blocks")); problem != "" {
		f.tb.Errorf("chat.update in %s: %s", chat, problem)
		slackAnswer(w, map[string]any{"ok": false, "error": "invalid_blocks"})
		return
	}
	ts := form.Get("ts")
	f.mu.Lock()
	known := f.known[conv+" "+ts]
	if known {
		f.updates = append(f.updates, message{Chat: chat, ID: ts, Text: form.Get("text"), Raw: form.Get("blocks"),
			Buttons: slackButtons(form.Get("blocks")), At: at})
	}
	f.mu.Unlock()
	if !known {
		slackAnswer(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	slackAnswer(w, map[string]any{"ok": true, "channel": conv, "ts": ts, "text": form.Get("text")})
}

// blocksProblem says what Slack would refuse in a blocks JSON ("" when
// nothing): more than 50 blocks, a section's text over 3,000 characters, a
// header's over 150.
// blockText is a block of a Slack blocks JSON as far as its text goes.
type blockText struct {
	Type string `json:"type"`
	Text *struct {
		Text string `json:"text"`
	} `json:"text"`
}

func blocksProblem(blocks string) string {
	if blocks == "" {
		return ""
	}
	var list []blockText
	if err := json.Unmarshal([]byte(blocks), &list); err != nil {
		return "blocks are not a JSON array: " + err.Error()
	}
	if len(list) > 50 {
		return fmt.Sprintf("%d blocks, Slack allows 50", len(list))
	}
	for i, b := range list {
		if b.Text == nil {
			continue
		}
		n := utf8.RuneCountInString(b.Text.Text)
		switch {
		case b.Type == "section" && n > 3000:
			return fmt.Sprintf("block %d: a section of %d characters, Slack allows 3000", i, n)
		case b.Type == "header" && n > 150:
			return fmt.Sprintf("block %d: a header of %d characters, Slack allows 150", i, n)
		}
	}
	return ""
}

// slackButtons finds the buttons in a blocks JSON.
func slackButtons(blocks string) []button {
	if blocks == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(blocks), &v); err != nil {
		return nil
	}
	var out []button
	walkJSON(v, func(x map[string]any) bool {
		if x["type"] != "button" {
			return true
		}
		label := ""
		if t, ok := x["text"].(map[string]any); ok {
			label, _ = t["text"].(string)
		}
		data, _ := x["value"].(string)
		if data == "" {
			data, _ = x["action_id"].(string)
		}
		out = append(out, button{Label: label, Data: data})
		return false
	})
	return out
}

// walkJSON visits every object in a decoded JSON value, depth first, and
// goes into an object's values only when visit returns true.
func walkJSON(x any, visit func(map[string]any) bool) {
	switch x := x.(type) {
	case []any:
		for _, e := range x {
			walkJSON(e, visit)
		}
	case map[string]any:
		if visit(x) {
			for _, e := range x {
				walkJSON(e, visit)
			}
		}
	}
}
