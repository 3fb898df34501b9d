package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestFlow runs an incident through Slack end to end: open with the slash
// command (card in the channel), the card posted in #incidents by the
// Sender, Acknowledge pressed (card updated in place, naming who acted),
// the same stale button pressed again (ephemeral, nothing changed), and a
// later card of the incident updating the posted one.
func TestFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()

	code, r := e.command("U0CHEN", "open Canteen food complaint category:other")
	if code != http.StatusOK {
		t.Fatalf("open: got %d, want 200", code)
	}
	if r.ResponseType != "in_channel" {
		t.Errorf("open: got response_type %q, want in_channel (the incident card)", r.ResponseType)
	}
	got := shown(r.blocks(t))
	for _, want := range []string{"Opened YQ-", "# YQ-", "Canteen food complaint", "Status\nassigned",
		"Assignee\nChen Jing", "[ack:YQ-", "Acknowledge primary]", "[take:YQ-"} {
		if !strings.Contains(got, want) {
			t.Errorf("open card lacks %q:\n%s", want, got)
		}
	}
	if !strings.HasPrefix(r.Text, "Opened YQ-") {
		t.Errorf("open: fallback text %q, want the reply line", r.Text)
	}
	incs, err := e.store.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil || len(incs) != 1 {
		t.Fatalf("got %d incidents (err %v), want 1", len(incs), err)
	}
	id := incs[0].ID

	// The outbox: the card goes to #incidents through the Sender.
	if n := e.deliver(); n == 0 {
		t.Fatal("nothing was delivered to Slack")
	}
	var card apiCall
	for _, c := range e.slack.Calls() {
		if c.Method == "chat.postMessage" && c.Channel == "C0INCIDENTS" {
			card = c
		}
	}
	if card.TS == "" {
		t.Fatalf("no card was posted in C0INCIDENTS; calls: %+v", e.slack.Calls())
	}
	if s := shown(card.Blocks); !strings.Contains(s, "# "+id) || !strings.Contains(s, "[ack:"+id+" Acknowledge primary]") {
		t.Errorf("posted card:\n%s\nwant the header of %s and its Acknowledge button", s, id)
	}
	if !strings.Contains(card.Text, "Chen Jing opened "+id) {
		t.Errorf("posted card text %q, want the event line", card.Text)
	}

	// Acknowledge, pressed on the posted card.
	if code := e.press("U0CHEN", "ack:"+id, "Acknowledge", "C0INCIDENTS", card.TS); code != http.StatusOK {
		t.Fatalf("press: got %d, want 200", code)
	}
	upd := e.hooks.next()
	if !upd.ReplaceOriginal {
		t.Errorf("press: replace_original false, want the card updated in place: %+v", upd)
	}
	got = shown(upd.blocks(t))
	for _, want := range []string{"# " + id, "Status\nacknowledged", "~ ✓ Acknowledge — Chen Jing"} {
		if !strings.Contains(got, want) {
			t.Errorf("updated card lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "[ack:") {
		t.Errorf("updated card still offers Acknowledge:\n%s", got)
	}
	inc, err := e.store.Get(ctx, id)
	if err != nil || inc.Status != workflow.StatusAcknowledged {
		t.Fatalf("incident status %v (err %v), want acknowledged", inc.Status, err)
	}
	version := inc.Version

	// The same button again, on a stale copy of the card: the router refuses,
	// the person alone is told, nothing changes.
	if code := e.press("U0CHEN", "ack:"+id, "Acknowledge", "C0INCIDENTS", card.TS); code != http.StatusOK {
		t.Fatalf("stale press: got %d, want 200", code)
	}
	stale := e.hooks.next()
	if stale.ReplaceOriginal || stale.ResponseType != "ephemeral" || !strings.HasPrefix(stale.Text, "⚠") {
		t.Errorf("stale press: got %+v, want an ephemeral warning that replaces nothing", stale)
	}
	if inc, _ := e.store.Get(ctx, id); inc.Version != version || inc.Assignee != "chen" {
		t.Errorf("stale press changed the incident: version %d assignee %s, want %d chen", inc.Version, inc.Assignee, version)
	}

	// A later card of the same incident updates the posted one and is told
	// in its thread.
	if code, r := e.command("U0CHEN", "level "+id+" major"); code != http.StatusOK || strings.HasPrefix(r.Text, "⚠") {
		t.Fatalf("level: got %d %q", code, r.Text)
	}
	before := len(e.slack.Calls())
	e.deliver()
	var updated, threaded bool
	for _, c := range e.slack.Calls()[before:] {
		switch {
		case c.Method == "chat.update" && c.Channel == "C0INCIDENTS" && c.TS == card.TS:
			updated = strings.Contains(shown(c.Blocks), "major")
		case c.Method == "chat.postMessage" && c.Channel == "C0INCIDENTS" && c.Thread == card.TS:
			threaded = c.Broad && strings.Contains(c.Text, "major")
		}
	}
	if !updated || !threaded {
		t.Errorf("after level: card updated %v, line in its thread %v; want both; calls %+v", updated, threaded, e.slack.Calls()[before:])
	}
	e.drain()
	e.hooks.none()
}

// TestApprovalButtons: a leader's Approve updates the approval request in
// place (its progress, who approved); Reject, which needs a reason, and a
// refused press answer the leader alone and leave the request as it is.
func TestApprovalButtons(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.command("U0CHEN", "open Rumour about exam leak category:rumor level:major")
	incs, _ := e.store.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	id := incs[0].ID
	if _, r := e.command("U0CHEN", "draft "+id+" The exam papers were not leaked."); strings.HasPrefix(r.Text, "⚠") {
		t.Fatalf("draft: %s", r.Text)
	}
	e.deliver()
	req := approvalRequest(t, e, id)
	if s := shown(req.Blocks); !strings.Contains(s, "The exam papers were not leaked.") || !strings.Contains(s, "[reject:"+id+":1 Reject danger]") {
		t.Errorf("approval request:\n%s\nwant the exact draft and a red Reject", s)
	}

	e.press("U0ZHAO", "reject:"+id+":1", "Reject", "C0LEADERS", req.TS)
	if r := e.hooks.next(); r.ResponseType != "ephemeral" || r.ReplaceOriginal || !strings.Contains(r.Text, "/incident reject "+id) {
		t.Errorf("reject: got %+v, want the leader told alone how to give the reason", r)
	}
	e.press("U0CHEN", "approve:"+id+":1", "Approve", "C0LEADERS", req.TS)
	if r := e.hooks.next(); !strings.HasPrefix(r.Text, "⚠") || r.ResponseType != "ephemeral" || r.ReplaceOriginal {
		t.Errorf("approve by staff: got %+v, want an ephemeral refusal", r)
	}

	e.press("U0ZHAO", "approve:"+id+":1", "Approve", "C0LEADERS", req.TS)
	r := e.hooks.next()
	got := shown(r.blocks(t))
	if !r.ReplaceOriginal || !strings.Contains(got, "1 of 2 approvals (Zhao Lei)") || !strings.Contains(got, "~ ✓ Approve — Zhao Lei") {
		t.Errorf("approve: replace_original %v\n%s\nwant the request updated with the progress and who approved", r.ReplaceOriginal, got)
	}
	e.press("U0WANG", "approve:"+id+":1", "Approve", "C0LEADERS", req.TS)
	if r := e.hooks.next(); !r.ReplaceOriginal || !strings.Contains(shown(r.blocks(t)), "ready to publish") {
		t.Errorf("principal approve: got %q, want the request updated: ready to publish", shown(r.blocks(t)))
	}
	e.drain()
	e.hooks.none()
}

// TestMention: "@firebreak status YQ-1" is answered in the channel, in the
// thread it was asked in; Slack's retry of the same event is not handled
// again.
func TestMention(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.command("U0CHEN", "open Bus route complaint")
	incs, _ := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	id := incs[0].ID
	routed := e.routed.Load()

	body := mentionEvent("Ev0MENTION1", "U0LI", "<@U0FIREBREAK> status "+id, "1700000000.000009")
	if code, _ := e.event(body, 0); code != http.StatusOK {
		t.Fatalf("mention: got %d, want 200", code)
	}
	e.drain()
	if code, _ := e.event(body, 1); code != http.StatusOK {
		t.Fatalf("retry: got %d, want 200", code)
	}
	e.drain()
	var replies []apiCall
	for _, c := range e.slack.Calls() {
		if c.Method == "chat.postMessage" && c.Channel == "C0INCIDENTS" {
			replies = append(replies, c)
		}
	}
	if len(replies) != 1 {
		t.Fatalf("got %d replies to the mention, want 1 (the retry is a duplicate): %+v", len(replies), replies)
	}
	if replies[0].Thread != "1700000000.000009" || !strings.Contains(shown(replies[0].Blocks), "# "+id) {
		t.Errorf("reply %+v\n%s\nwant the status card of %s in the thread", replies[0], shown(replies[0].Blocks), id)
	}
	if n := e.routed.Load() - routed; n != 1 {
		t.Errorf("router ran %d times, want 1", n)
	}
	if !strings.Contains(e.logs.String(), "slack event already handled") {
		t.Error("the duplicate was not logged")
	}

	// An error answers its author alone.
	e.event(mentionEvent("Ev0MENTION2", "U0LI", "<@U0FIREBREAK> stauts "+id, ""), 0)
	e.drain()
	calls := e.slack.Calls()
	last := calls[len(calls)-1]
	if last.Method != "chat.postEphemeral" || last.User != "U0LI" || !strings.Contains(last.Text, `Did you mean "status"`) {
		t.Errorf("got %+v, want an ephemeral suggestion for U0LI", last)
	}
}

func TestURLVerification(t *testing.T) {
	e := newEnv(t, envOptions{})
	code, body := e.event(`{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`, 0)
	if code != http.StatusOK || string(body) != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Errorf("got %d %q, want 200 and the challenge", code, body)
	}
}

// TestUnknownUser: someone not in the roster is told, alone, their Slack
// user ID and the roster lines to add, whatever they used: the router's
// refusal (bot.Onboarding); nothing runs.
func TestUnknownUser(t *testing.T) {
	e := newEnv(t, envOptions{})
	wantLines := "  - id: nobody\n    name: <your name>\n    roles: [staff]\n    slack: U0NOBODY"

	code, r := e.command("U0NOBODY", "open Something")
	if code != http.StatusOK || r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "U0NOBODY") ||
		!strings.Contains(shown(r.blocks(t)), wantLines) {
		t.Errorf("command: got %d %+v\nwant ephemeral guidance with\n%s", code, r, wantLines)
	}

	e.press("U0NOBODY", "ack:YQ-1", "Acknowledge", "C0INCIDENTS", "1700000000.000001")
	if r := e.hooks.next(); r.ResponseType != "ephemeral" || r.ReplaceOriginal || !strings.Contains(r.Text, "Your account here is slack: U0NOBODY") {
		t.Errorf("press: got %+v, want ephemeral guidance", r)
	}

	e.event(mentionEvent("Ev0NOBODY", "U0NOBODY", "<@U0FIREBREAK> list", ""), 0)
	e.drain()
	calls := e.slack.Calls()
	if len(calls) != 1 || calls[0].Method != "chat.postEphemeral" || calls[0].User != "U0NOBODY" ||
		!strings.Contains(calls[0].Text, "slack: U0NOBODY") {
		t.Errorf("mention: got %+v, want one ephemeral guidance to U0NOBODY", calls)
	}
	if n := e.routed.Load(); n != 3 {
		t.Errorf("router asked %d times, want 3 (it refuses)", n)
	}
	if incs, err := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen}); err != nil || len(incs) != 0 {
		t.Errorf("incidents: got %v (%v), want none opened", incs, err)
	}
}

// TestChinese: the card's labels come localized from the router; the
// adapter's own lines speak zh-CN too.
func TestChinese(t *testing.T) {
	e := newEnv(t, envOptions{locale: workflow.LocaleZH})
	_, r := e.command("U0CHEN", "新建 食堂投诉 category:other")
	got := shown(r.blocks(t))
	for _, want := range []string{"已新建 YQ-", "状态\n已指派", "确认接办 primary]"} {
		if !strings.Contains(got, want) {
			t.Errorf("card lacks %q:\n%s", want, got)
		}
	}
	incs, _ := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	e.press("U0CHEN", "ack:"+incs[0].ID, "确认接办", "C0INCIDENTS", "1700000000.000001")
	if got := shown(e.hooks.next().blocks(t)); !strings.Contains(got, "~ ✓ 陈静:确认接办") && !strings.Contains(got, "~ ✓ Chen Jing:确认接办") {
		t.Errorf("updated card:\n%s\nwant the zh-CN line of who acted", got)
	}
	_, r = e.command("U0NOBODY", "帮助")
	if !strings.Contains(r.Text, "您还不在 Firebreak 名册中") || !strings.Contains(r.Text, "slack: U0NOBODY") {
		t.Errorf("guidance %q, want it in zh-CN", r.Text)
	}
}

// TestSlowCommand: a command the router has not answered within AckTimeout
// is acknowledged at once ("working on it"), and its reply follows on the
// response_url.
func TestSlowCommand(t *testing.T) {
	release := make(chan struct{})
	e := newEnv(t, envOptions{ackIn: 50 * time.Millisecond, extra: func(r *bot.Router) {
		r.Command(bot.Command{Name: "slow", Summary: workflow.Text{EN: "test"},
			Run: func(ctx context.Context, _ *bot.Request, _ bot.Args) (*bot.Reply, error) {
				<-release
				return &bot.Reply{Text: "done at last", Public: true}, nil
			}})
	}})
	start := time.Now()
	code, r := e.command("U0CHEN", "slow")
	if took := time.Since(start); code != http.StatusOK || took > 2*time.Second {
		t.Fatalf("got %d after %v, want 200 at once", code, took)
	}
	if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "Working on it") {
		t.Errorf("got %+v, want an ephemeral acknowledgement", r)
	}
	close(release)
	late := e.hooks.next()
	if late.Text != "done at last" || late.ResponseType != "in_channel" {
		t.Errorf("late reply %+v, want the reply in the channel", late)
	}
}

// TestRedisDown: with Redis unreachable the command is answered 200, for
// the person alone: storage unavailable, nothing was changed.
func TestRedisDown(t *testing.T) {
	e := newEnv(t, envOptions{store: deadStore(t)})
	code, r := e.command("U0CHEN", "open Canteen complaint")
	if code != http.StatusOK || r.ResponseType != "ephemeral" ||
		!strings.Contains(r.Text, "storage unavailable, nothing was changed") {
		t.Errorf("got %d %+v, want 200 with the ephemeral storage-unavailable reply", code, r)
	}
}

// TestUserTextNeverMentions is the attack as it was made: a title of
// mentions and a fake link, typed in Slack (which sends < and > as &lt; and
// &gt;). Every Web API call, answer and response_url post is checked by
// the fakes for a bare "<!channel", "<@", "<http"…; here, the text also
// reads as typed.
func TestUserTextNeverMentions(t *testing.T) {
	e := newEnv(t, envOptions{})
	typed := "&lt;!channel&gt; &lt;!everyone&gt; &lt;!here&gt; &lt;@U0WANG&gt; &lt;!subteam^S123&gt; " +
		"&lt;https://evil.example/login|Official statement approved by Wang Fang&gt;"
	code, r := e.command("U0CHEN", "open "+typed+" level:major")
	if code != http.StatusOK {
		t.Fatalf("open: got %d, want 200", code)
	}
	if got := shown(r.blocks(t)); !strings.Contains(got, "<!channel> <!everyone> <!here> <@U0WANG>") {
		t.Errorf("the card does not read as typed:\n%s", got)
	}
	if e.deliver() == 0 {
		t.Fatal("nothing was delivered")
	}
	for _, c := range e.slack.Calls() {
		if strings.Contains(c.Text, "!channel") && !strings.Contains(c.Text, "&lt;!channel&gt;") {
			t.Errorf("%s to %s: text %q, want the title escaped", c.Method, c.Channel, c.Text)
		}
	}
	// The same text typed in Telegram arrives with bare < and >.
	if code, _ := e.command("U0CHEN", "update YQ-1 <!here> see <https://evil.example|the official site>"); code != http.StatusOK {
		t.Fatalf("update: got %d", code)
	}
	if e.deliver() == 0 {
		t.Fatal("the update was not delivered")
	}
}

// TestUserTextNeverFormats: a reject reason, a resolve summary or a title
// with *bold* _italic_ ~strike~ `code` went into mrkdwn fields of the cards,
// which Slack formats (it has no escape for them). No block the bot sends,
// in an answer or through the Web API, is mrkdwn: every text is plain_text.
func TestUserTextNeverFormats(t *testing.T) {
	e := newEnv(t, envOptions{})
	const marks = "*bold* _it_ ~st~ `code`"
	_, r := e.command("U0CHEN", "open Canteen "+marks+" level:major")
	answers := [][]slackgo.Block{r.blocks(t)}
	_, r = e.command("U0CHEN", "draft YQ-1 We are checking "+marks)
	answers = append(answers, r.blocks(t))
	_, r = e.command("U0WANG", "reject YQ-1 "+marks)
	answers = append(answers, r.blocks(t))
	if e.deliver() == 0 {
		t.Fatal("nothing was delivered")
	}
	for _, c := range e.slack.Calls() {
		answers = append(answers, c.Blocks)
	}
	for _, blocks := range answers {
		b, err := json.Marshal(blocks)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"type":"mrkdwn"`) {
			t.Errorf("blocks with mrkdwn text: %s", b)
		}
	}
}

// TestRacingCopiesRunOnce: copies of one command sent at the same moment
// (the guard is taken with the command's first round trip to Redis, not
// before it) open one incident, and every copy, waiting for the first
// copy's answer, gets it.
func TestRacingCopiesRunOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := url.Values{
		"team_id": {"T0TEAM"}, "channel_id": {"C0INCIDENTS"}, "user_id": {"U0CHEN"}, "user_name": {"chen"},
		"command": {"/incident"}, "text": {"open Racing rumour"}, "response_url": {e.hooks.url()},
		"trigger_id": {"13345224609.738474920.racing"},
	}
	body, at := form.Encode(), time.Now()
	const copies = 6
	answers := make([]string, copies)
	var wg sync.WaitGroup
	for i := range copies {
		req := signed(t, e.server.URL+"/slack/commands", formType, body, at)
		wg.Go(func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("copy %d: %v", i+1, err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var r response
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &r) != nil {
				t.Errorf("copy %d: got %d %s", i+1, resp.StatusCode, b)
			}
			answers[i] = r.Text
		})
	}
	wg.Wait()
	incs, err := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil || len(incs) != 1 {
		t.Fatalf("open incidents after %d racing copies: got %d (err %v), want 1", copies, len(incs), err)
	}
	for i, a := range answers {
		if !strings.Contains(a, incs[0].ID) {
			t.Errorf("copy %d answered %q, want the first answer, naming %s", i+1, a, incs[0].ID)
		}
	}
}

// TestReplayedCommandRunsOnce is the attack as it was made: the same signed
// bytes sent four times within the five minutes a signature is good for,
// once with Slack's retry header. One incident is opened; every copy gets
// the first answer.
func TestReplayedCommandRunsOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := url.Values{
		"token": {"ignored"}, "team_id": {"T0TEAM"}, "channel_id": {"C0INCIDENTS"}, "channel_name": {"incidents"},
		"user_id": {"U0CHEN"}, "user_name": {"chen"}, "command": {"/incident"}, "text": {"open Replayed rumour"},
		"response_url": {e.hooks.url()}, "trigger_id": {"13345224609.738474920.8088930838d88f008e0"},
	}
	body, at := form.Encode(), time.Now()
	var answers []string
	for i := range 4 {
		req := signed(t, e.server.URL+"/slack/commands", formType, body, at)
		if i == 2 {
			req.Header.Set("X-Slack-Retry-Num", "1")
			req.Header.Set("X-Slack-Retry-Reason", "http_timeout")
		}
		code, b := do(t, req)
		if code != http.StatusOK {
			t.Fatalf("copy %d: got %d %s, want 200", i+1, code, b)
		}
		var r response
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("copy %d: %v", i+1, err)
		}
		answers = append(answers, r.Text)
	}
	incs, err := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen})
	if err != nil || len(incs) != 1 {
		t.Fatalf("open incidents after four copies: got %d (err %v), want 1", len(incs), err)
	}
	for i, a := range answers {
		if a != answers[0] || !strings.Contains(a, incs[0].ID) {
			t.Errorf("copy %d answered %q, want the first answer %q", i+1, a, answers[0])
		}
	}
	// Without a trigger_id the signature names the request.
	delete(form, "trigger_id")
	form.Set("text", "open Second rumour")
	body = form.Encode()
	for range 2 {
		if code, b := do(t, signed(t, e.server.URL+"/slack/commands", formType, body, at)); code != http.StatusOK {
			t.Fatalf("got %d %s", code, b)
		}
	}
	if incs, _ := e.store.List(context.Background(), workflow.ListQuery{Filter: workflow.ListOpen}); len(incs) != 2 {
		t.Errorf("open incidents: got %d, want 2 (one per distinct command)", len(incs))
	}
}

// approvalRequest is the last post of the approval request of version 1 of
// incident id to C0LEADERS.
func approvalRequest(t *testing.T, e *env, id string) apiCall {
	t.Helper()
	var req apiCall
	for _, c := range e.slack.Calls() {
		if c.Channel == "C0LEADERS" && strings.Contains(shown(c.Blocks), "[approve:"+id+":1") {
			req = c
		}
	}
	if req.TS == "" {
		t.Fatalf("no approval request in C0LEADERS; calls %+v", e.slack.Calls())
	}
	return req
}
