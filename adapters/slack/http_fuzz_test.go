package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

const (
	fuzzSigningSecret = "fuzz-signing-secret-5e3b9a71c0d2"
	fuzzBotToken      = "xoxb-fuzz-bot-token-8d41f6"
	fuzzAPIURL        = "https://slack.example/api"
)

// fuzzEndpoints are the endpoints FuzzHTTP sends to, picked by the kind
// byte; an interaction's data is the JSON of its payload field.
var fuzzEndpoints = []string{"/slack/commands", "/slack/interactions", "/slack/events"}

// fuzzWebAPI answers the adapter's outgoing calls (Web API, response_url)
// in process, as Slack would, and keeps their bodies.
type fuzzWebAPI struct {
	mu     sync.Mutex
	bodies []string
}

func (f *fuzzWebAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, r.URL.String()+"\n"+string(b))
	f.mu.Unlock()
	body := `{"ok":true,"channel":"C0INCIDENTS","ts":"1700000000.000100","message_ts":"1700000000.000100"}`
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

func (f *fuzzWebAPI) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.bodies
	f.bodies = nil
	return b
}

// fuzzRouter echoes what it is given: a command's text as a card with
// buttons, a failure with the text, a pressed button as a card.
func fuzzRouter(tb testing.TB, routed *atomic.Int64) (*bot.Router, *workflow.Roster) {
	tb.Helper()
	roster, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		People: []workflow.Person{
			{ID: "chen", Name: "Chen <Jing>", Roles: []workflow.Role{workflow.RoleStaff}, Accounts: map[string]string{fbslack.Platform.Name: "U0CHEN"}},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}, Accounts: map[string]string{fbslack.Platform.Name: "U0ZHAO"}},
			// A principal the quorum of major drafts needs (NewRoster checks it).
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RolePrincipal}},
		},
		Channels: map[string]workflow.ChannelRef{workflow.ChannelIncidents: {fbslack.Platform.Name: "C0INCIDENTS"}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := bot.NewRouter(roster, workflow.LocaleEN, nil)
	r.Use(countRequests(routed))
	card := func(title, body string) *bot.Card {
		return &bot.Card{Incident: "YQ-7", Title: title, Body: body, Footer: title,
			Fields:  []bot.Field{{Label: "Text", Value: body}, {Label: "", Value: ""}},
			Buttons: []bot.Button{{ID: "ack:YQ-7", Label: title, Style: bot.StylePrimary}, {ID: "reject:YQ-7:1", Label: "Reject", Style: bot.StyleDanger}}}
	}
	r.Command(bot.Command{Name: "echo", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return &bot.Reply{Text: a.Line, Card: card(a.Arg(0), a.Rest(1)), Public: true}, nil
	}})
	r.Command(bot.Command{Name: "fail", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		return nil, workflow.Errorf(workflow.CodeInvalid, "cannot %s", "无法 %s", a.Line)
	}})
	for _, name := range []string{"ack", "approve", "reject"} {
		r.Action(bot.ActionDef{Name: name, Run: func(_ context.Context, _ *bot.Request, a bot.Action) (*bot.Reply, error) {
			if name == "reject" {
				return &bot.Reply{Text: "say why: " + a.ID()}, nil
			}
			return &bot.Reply{Text: a.ID(), Card: card(a.ID(), strings.Join(a.Args, " "))}, nil
		}})
	}
	return r, roster
}

// fuzzSeeds are requests as Slack sends them, and broken ones.
func fuzzSeeds() [][2]string {
	command := url.Values{
		"token": {"ignored"}, "team_id": {"T0TEAM"}, "channel_id": {"C0INCIDENTS"}, "channel_name": {"incidents"},
		"user_id": {"U0CHEN"}, "user_name": {"chen"}, "command": {"/incident"},
		"text":         {`echo "Canteen complaint" <@U0ZHAO> <!channel> <https://evil.example|link> &lt;b&gt;`},
		"response_url": {"https://hooks.slack.com/commands/T0TEAM/1/secret"}, "trigger_id": {"1.2.3"}, "api_app_id": {"A0FIREBREAK"},
	}
	press := func(user, action string) string {
		b, _ := json.Marshal(map[string]any{
			"type": "block_actions", "user": map[string]any{"id": user, "username": "chen", "name": "chen", "team_id": "T0TEAM"},
			"api_app_id": "A0FIREBREAK", "token": "ignored", "trigger_id": "1.2.3",
			"container":    map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0INCIDENTS", "is_ephemeral": false},
			"team":         map[string]any{"id": "T0TEAM", "domain": "example"},
			"channel":      map[string]any{"id": "C0INCIDENTS", "name": "incidents"},
			"message":      map[string]any{"type": "message", "ts": "1700000000.000100", "text": "card"},
			"response_url": "https://hooks.slack.com/actions/T0TEAM/1/secret",
			"actions": []any{map[string]any{"type": "button", "action_id": action, "block_id": "b1", "value": action,
				"text": map[string]any{"type": "plain_text", "text": "Acknowledge"}, "action_ts": "1700000000.1"}},
		})
		return string(b)
	}
	seeds := [][2]string{
		{"0", command.Encode()},
		{"0", strings.Replace(command.Encode(), "echo", "fail", 1)},
		{"0", strings.Replace(command.Encode(), "U0CHEN", "U0STRANGER", 1)},
		{"0", "user_id=U0CHEN&command=%2Fincident&text=help"},
		{"0", "user_id=U0CHEN&command=%2Fincident&text=%E8%B0%A3%E8%A8%80%20%22%E9%A3%9F%E5%A0%82"},
		{"0", "user_id=U0CHEN&text=help"},
		{"0", "text=%zz&user_id=U0CHEN&command=x"},
		{"0", ""},
		{"1", press("U0CHEN", "ack:YQ-7")},
		{"1", press("U0ZHAO", "reject:YQ-7:1")},
		{"1", press("U0CHEN", "unknown:YQ-7")},
		{"1", press("U0STRANGER", "ack:YQ-7")},
		{"1", press("U0CHEN", "::")},
		{"1", `{"type":"view_submission","user":{"id":"U0CHEN"}}`},
		{"1", `{"type":"block_actions","user":{"id":"U0CHEN"},"actions":[]}`},
		{"1", `{"type":"block_actions","user":{"id":"U0CHEN"},"actions":[{"action_id":"ack:YQ-7"}],"response_url":"http://127.0.0.1:1/x"}`},
		{"1", `{"type":`},
		{"2", `{"type":"url_verification","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}`},
		{"2", mentionEvent("Ev01", "U0CHEN", "<@U0BOT> echo YQ-7 hello <!here>", "")},
		{"2", mentionEvent("Ev02", "U0CHEN", "<@U0BOT> fail now", "1700000000.000100")},
		{"2", mentionEvent("Ev03", "U0STRANGER", "<@U0BOT> help", "")},
		{"2", `{"type":"event_callback","event_id":"Ev04","event":{"type":"app_mention","user":"U0CHEN","bot_id":"B1","text":"echo"}}`},
		{"2", `{"type":"event_callback","event_id":"Ev05","event":"not an object"}`},
		{"2", `{"type":"app_rate_limited"}`},
		{"2", `[]`},
	}
	return seeds
}

// FuzzHTTP sends any body, correctly signed, to each Slack endpoint (the
// kind byte picks it; its top bit forges the signature instead). A signed
// request is answered below 500, with JSON the adapter's own when it is a
// command, and neither the answer nor anything the adapter then sends to
// Slack (Web API calls, response_url posts) carries the signing secret or
// the bot token anywhere but in the calls of the Web API. A forged request is
// refused with 401 and reaches nothing.
func FuzzHTTP(f *testing.F) {
	for _, s := range fuzzSeeds() {
		kind, _ := strconv.Atoi(s[0])
		f.Add(uint8(kind), s[1])
	}
	var routed atomic.Int64
	router, roster := fuzzRouter(f, &routed)
	api := &fuzzWebAPI{}
	client := &http.Client{Transport: api, Timeout: 5 * time.Second}

	f.Fuzz(func(t *testing.T, kind uint8, data string) {
		path := fuzzEndpoints[int(kind&0x7f)%len(fuzzEndpoints)]
		forged := kind&0x80 != 0
		a, err := fbslack.New(fbslack.Options{SigningSecret: fuzzSigningSecret, BotToken: fuzzBotToken,
			APIURL: fuzzAPIURL, Router: router, Roster: roster, HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		a.Register(mux)

		body := data
		if path == "/slack/interactions" {
			body = url.Values{"payload": {data}}.Encode()
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if path == "/slack/events" {
			req.Header.Set("Content-Type", "application/json")
		}
		stamp := strconv.FormatInt(time.Now().Unix(), 10)
		sig := fbslack.Signature([]byte(fuzzSigningSecret), stamp, []byte(body))
		if forged {
			sig = fbslack.Signature([]byte("not-"+fuzzSigningSecret), stamp, []byte(body))
		}
		req.Header.Set(fbslack.HeaderTimestamp, stamp)
		req.Header.Set(fbslack.HeaderSignature, sig)

		routed.Store(0)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Drain(ctx); err != nil {
			t.Fatalf("%s %q: the background work did not finish: %v", path, body, err)
		}
		sent := api.take()

		answer := rec.Body.String()
		if forged {
			if rec.Code != http.StatusUnauthorized || routed.Load() != 0 || len(sent) != 0 {
				t.Fatalf("%s with a forged signature: %d, %d routed, %d sent; want 401 and nothing done", path, rec.Code, routed.Load(), len(sent))
			}
			return
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %q, want below 500 for a signed request", path, body, rec.Code, answer)
		}
		for _, s := range append([]string{answer}, sent...) {
			if strings.HasPrefix(s, fuzzAPIURL+"/") {
				// The Web API takes the token as a form field: its one
				// rightful place.
				s = strings.Replace(s, "token="+fuzzBotToken, "token=", 1)
			}
			if strings.Contains(s, fuzzSigningSecret) && !strings.Contains(body, fuzzSigningSecret) {
				t.Fatalf("%s %q: the signing secret is in %q", path, body, s)
			}
			if strings.Contains(s, fuzzBotToken) && !strings.Contains(body, fuzzBotToken) {
				t.Fatalf("%s %q: the bot token is in %q", path, body, s)
			}
		}
		if path == "/slack/commands" && rec.Code == http.StatusOK {
			var res struct {
				Text   string          `json:"text"`
				Blocks json.RawMessage `json:"blocks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
				t.Fatalf("%s %q: the answer is not JSON: %v\n%s", path, body, err, answer)
			}
			if len(res.Blocks) > 0 && !bytes.Equal(res.Blocks, []byte("null")) {
				var b slackgo.Blocks
				if err := json.Unmarshal(res.Blocks, &b); err != nil {
					t.Fatalf("%s %q: blocks Slack cannot read: %v\n%s", path, body, err, res.Blocks)
				}
			}
			if res.Text == "" && len(res.Blocks) == 0 {
				t.Fatalf("%s %q: an empty answer: %s", path, body, answer)
			}
		}
	})
}
