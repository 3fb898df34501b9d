package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// draftText has what would break Markdown or HTML.
const draftText = `We checked the *canteen* on 3_4; results <b>today</b> & more.`

func TestDraftSendsApprovalRequestToLeadersChat(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()

	m := e.approvalRequest(leadersChat, "approve:"+id+":1")
	want := [][]string{{"Approve=approve:YQ-1:1", "Reject=reject:YQ-1:1"}}
	if got := keyboardOf(t, m.Markup); !reflect.DeepEqual(got, want) {
		t.Errorf("keyboard: got %v, want %v", got, want)
	}
	wantContains(t, "approval request", m.Text,
		"Approve the unified reply for YQ-1, version 1",
		"<blockquote>We checked the *canteen* on 3_4; results &lt;b&gt;today&lt;/b&gt; &amp; more.</blockquote>",
		"Canteen complaint", "v1 #", "0 of 2 approvals")
	if err := validHTML(m.Text); err != nil {
		t.Errorf("approval request is not valid HTML: %v", err)
	}
	if calls := e.api.Calls("sendMessage"); len(calls) == 0 || calls[0].Params.Get("parse_mode") != "HTML" {
		t.Errorf("sendMessage: got %v, want parse_mode HTML", calls)
	}
}

func TestLeaderPressIsAnsweredAndEditsTheRequest(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	req := e.approvalRequest(leadersChat, "approve:"+id+":1")
	before := e.version(id)

	ans := e.press(zhaoID, req, "approve:YQ-1:1")
	wantContains(t, "answer", ans.Params.Get("text"), "Zhao Lei approved version 1 of YQ-1", "1 of 2 approvals")
	if ans.Params.Get("show_alert") == "true" {
		t.Errorf("answer of a successful press: got an alert, want a toast")
	}
	if got := e.version(id); got != before+1 {
		t.Errorf("version: got %d, want %d", got, before+1)
	}
	edited, _ := e.api.message(leadersChat, req.ID)
	wantContains(t, "edited request", edited.Text, "Zhao Lei", "Approve", "1 of 2 approvals",
		"a principal leader&#39;s approval needed", "results &lt;b&gt;today")
	if got := keyboardOf(t, edited.Markup); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("edited request keyboard: got %v, want Approve and Reject still there", got)
	}
}

func TestTwoPressesWithThePrincipalReachQuorum(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	req := e.approvalRequest(leadersChat, "approve:"+id+":1")

	e.press(zhaoID, req, "approve:YQ-1:1")
	ans := e.press(wangID, req, "approve:YQ-1:1")
	wantContains(t, "second answer", ans.Params.Get("text"), "2 of 2 approvals", "ready to publish")

	notices := e.deliver()
	var quorum []workflow.Notice
	for _, n := range notices {
		m, _ := e.render.Render(e.ctx, n, "telegram")
		if m.Kind == string(workflow.EventQuorum) && n.Audience == workflow.ChannelIncidents {
			quorum = append(quorum, n)
		}
	}
	if len(quorum) != 1 {
		t.Fatalf("quorum notices to the incidents channel: got %d, want 1 (notices: %v)", len(quorum), notices)
	}
	var told bool
	for _, m := range e.api.messagesIn(incidentsChat) {
		told = told || strings.Contains(m.Text, "has the approvals it needs")
	}
	if !told {
		t.Errorf("incidents chat: no message says the draft has the approvals it needs")
	}
	// The spokesperson is asked to publish, with a Publish button.
	sun := e.api.messagesIn(sunID)
	if len(sun) != 1 || !strings.Contains(sun[0].Markup, "publish:YQ-1:1") {
		t.Errorf("spokesperson: got %v, want one message with the publish button", sun)
	}
	edited, _ := e.api.message(leadersChat, req.ID)
	wantContains(t, "edited request", edited.Text, "Zhao Lei", "Wang Fang", "ready to publish")
}

// TestPressesThatChangeNothing: a non-leader, a stranger, a second press by
// the same leader, a press on a superseded version, a forged or missing
// webhook secret and bad buttons change nothing; every press is answered
// with the reason.
func TestPressesThatChangeNothing(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	v1 := e.approvalRequest(leadersChat, "approve:"+id+":1")
	e.press(zhaoID, v1, "approve:YQ-1:1")
	e.do("chen", "draft YQ-1 Second version.")
	e.deliver()
	v2 := e.approvalRequest(leadersChat, "approve:"+id+":2")
	e.press(zhaoID, v2, "approve:YQ-1:2")

	tests := []struct {
		name  string
		user  int64
		msg   fakeMessage
		data  string
		wants []string
	}{
		{"not a leader", chenID, v2, "approve:YQ-1:2", []string{"leader"}},
		{"not in the roster", strangerID, v2, "approve:YQ-1:2", []string{"not in the roster", "telegram: 4242"}},
		{"second press by the same leader", zhaoID, v2, "approve:YQ-1:2", []string{"already approved version 2"}},
		{"superseded version", wangID, v1, "approve:YQ-1:1", []string{"version 1", "2"}},
		{"superseded version, reject", wangID, v1, "reject:YQ-1:1", []string{"replaced by version 2"}},
		{"unknown incident", wangID, v2, "approve:YQ-99:1", []string{"YQ-99"}},
		{"unknown button", wangID, v2, "frobnicate:YQ-1", []string{"not known"}},
		{"malformed button", wangID, v2, "approve::1", []string{"not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, sends, edits := e.version(id), len(e.api.Calls("sendMessage")), len(e.api.Calls("editMessageText"))
			ans := e.press(tt.user, tt.msg, tt.data)
			wantContains(t, "answer", ans.Params.Get("text"), tt.wants...)
			if ans.Params.Get("show_alert") != "true" {
				t.Errorf("answer: got a toast, want an alert with the reason")
			}
			if got := e.version(id); got != before {
				t.Errorf("version: got %d, want %d (unchanged)", got, before)
			}
			if got := len(e.api.Calls("sendMessage")); got != sends {
				t.Errorf("sendMessage calls: got %d, want %d", got, sends)
			}
			if got := len(e.api.Calls("editMessageText")); got != edits {
				t.Errorf("editMessageText calls: got %d, want %d", got, edits)
			}
		})
	}

	secrets := []struct {
		name, header string
	}{
		{"forged secret", "not-the-secret"},
		{"missing secret", ""},
		{"secret with a different case", strings.ToUpper(secret)},
	}
	for _, tt := range secrets {
		t.Run(tt.name, func(t *testing.T) {
			before := e.version(id)
			u := e.pressUpdate(wangID, v2, "approve:YQ-1:2")
			if code := e.post(tt.header, mustJSON(t, u)); code != http.StatusUnauthorized {
				t.Errorf("HTTP status: got %d, want 401", code)
			}
			for _, c := range e.api.Calls("answerCallbackQuery") {
				if c.Params.Get("callback_query_id") == u.CallbackQuery.ID {
					t.Errorf("a request with a bad secret was handled: %v", c.Params)
				}
			}
			if got := e.version(id); got != before {
				t.Errorf("version: got %d, want %d (unchanged)", got, before)
			}
		})
	}
}

func TestNewDraftSupersedesEarlierRequests(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	v1 := e.approvalRequest(leadersChat, "approve:"+id+":1")
	e.press(zhaoID, v1, "approve:YQ-1:1")

	e.do("chen", "draft YQ-1 Second version.")
	e.deliver()
	old, _ := e.api.message(leadersChat, v1.ID)
	wantContains(t, "superseded request", old.Text, "Superseded by version 2", "Zhao Lei", "results &lt;b&gt;today")
	if got := keyboardOf(t, old.Markup); len(got) != 0 {
		t.Errorf("superseded request keyboard: got %v, want none", got)
	}
	v2 := e.approvalRequest(leadersChat, "approve:"+id+":2")
	wantContains(t, "new request", v2.Text, "Second version.", "version 2")

	// Delivering the same notice again (a retry) sends nothing new.
	sends := len(e.api.Calls("sendMessage"))
	m := bot.Message{Kind: "approval", Text: "again", Card: &bot.Card{Title: "again",
		Buttons: []bot.Button{{ID: "approve:YQ-1:2", Label: "Approve"}}}, Thread: "YQ-1:approval:2", Once: true}
	if err := e.tg.Sender().Send(e.ctx, workflow.Notice{ID: "x", Incident: id, Audience: workflow.ChannelLeaders}, m); err != nil {
		t.Fatalf("send again: %v", err)
	}
	if got := len(e.api.Calls("sendMessage")); got != sends {
		t.Errorf("sendMessage after a retried delivery: got %d calls, want %d", got, sends)
	}

	// A third version supersedes the second; the first is left alone.
	edits := e.editsIn(leadersChat)
	e.do("chen", "draft YQ-1 Third version.")
	e.deliver()
	if got := e.editsIn(leadersChat); got != edits+1 {
		t.Errorf("editMessageText in the leaders chat for version 3: got %d calls, want 1", got-edits)
	}
	old2, _ := e.api.message(leadersChat, v2.ID)
	wantContains(t, "second request", old2.Text, "Superseded by version 3")
}

func TestRejectAsksForTheReason(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	req := e.approvalRequest(leadersChat, "approve:"+id+":1")
	before := e.version(id)

	ans := e.press(wangID, req, "reject:YQ-1:1")
	wantContains(t, "answer", ans.Params.Get("text"), "reason")
	if got := e.version(id); got != before {
		t.Fatalf("version after the Reject press: got %d, want %d (the reason is still missing)", got, before)
	}
	prompts := e.repliesTo(req.ID)
	if len(prompts) != 1 {
		t.Fatalf("prompts: got %d replies to the request, want 1", len(prompts))
	}
	p := prompts[0].Params
	wantContains(t, "prompt markup", p.Get("reply_markup"), `"force_reply":true`, `"selective":true`)
	wantContains(t, "prompt", p.Get("text"), "Wang Fang", "reason", "tg://user?id=1004")
	var promptMsg fakeMessage
	for _, m := range e.api.messagesIn(leadersChat) {
		if m.Text == p.Get("text") {
			promptMsg = m
		}
	}

	// Wang replies to the prompt with the reason.
	u := e.messageUpdate(wangID, leadersChat, "do not name the supplier")
	u.Message.ReplyToMessage = &tgbotapi.Message{MessageID: promptMsg.ID, Chat: u.Message.Chat}
	e.postUpdate(u)

	d := e.incident(id).CurrentDraft()
	if d.Rejection == nil || d.Rejection.By != "wang" || d.Rejection.Note != "do not name the supplier" {
		t.Fatalf("draft rejection: got %+v, want wang's with the reason", d.Rejection)
	}
	replies := e.repliesTo(u.Message.MessageID)
	if len(replies) != 1 {
		t.Fatalf("replies to the reason: got %d, want 1", len(replies))
	}
	wantContains(t, "reply", replies[0].Params.Get("text"), "You rejected version 1 of YQ-1")
	edited, _ := e.api.message(leadersChat, req.ID)
	wantContains(t, "request after the rejection", edited.Text, "Wang Fang", "Reject", "You rejected version 1")
}

func TestDuplicateUpdateIsHandledOnce(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	req := e.approvalRequest(leadersChat, "approve:"+id+":1")
	before := e.version(id)

	u := e.pressUpdate(zhaoID, req, "approve:YQ-1:1")
	e.postUpdate(u)
	e.postUpdate(u) // Telegram retries a delivery it thinks failed
	e.answerOf(u.CallbackQuery.ID)
	if got := e.version(id); got != before+1 {
		t.Errorf("version: got %d, want %d (one approval)", got, before+1)
	}

	// While another try holds an update, a delivery of it is turned away
	// with 503, for Telegram to try again later.
	busy := e.pressUpdate(wangID, req, "approve:YQ-1:1")
	if claimed, _, _, err := e.store.PlatformState("telegram").ClaimUpdate(e.ctx, int64(busy.UpdateID), "another try", time.Minute); err != nil || !claimed {
		t.Fatalf("claim: got %v, %v", claimed, err)
	}
	if code := e.post(secret, mustJSON(t, busy)); code != http.StatusServiceUnavailable {
		t.Errorf("update held by another try: got HTTP %d, want 503", code)
	}
	if got := e.version(id); got != before+1 {
		t.Errorf("version: got %d, want %d (unchanged)", got, before+1)
	}
}

func TestWebhookBadRequests(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		secret string
		body   string
		want   int
	}{
		{"malformed JSON", secret, `{"update_id": 1, "message": `, http.StatusBadRequest},
		{"not an object", secret, `[1,2]`, http.StatusBadRequest},
		{"no update_id", secret, `{}`, http.StatusBadRequest},
		{"malformed JSON, bad secret", "nope", `{`, http.StatusUnauthorized},
		{"an update of a kind not handled", secret, `{"update_id": 77, "poll": {"id": "1"}}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.post(tt.secret, tt.body); got != tt.want {
				t.Errorf("HTTP status: got %d, want %d", got, tt.want)
			}
		})
	}
	if calls := e.api.Calls(""); len(calls) != 0 {
		t.Errorf("Bot API calls: got %v, want none", calls)
	}
}

// flakyLog fails the first AbandonUpdate, as a stalled Redis does.
type flakyLog struct {
	telegram.UpdateLog
	failed atomic.Bool
}

func (f *flakyLog) AbandonUpdate(ctx context.Context, id int64, try string) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("redis: i/o timeout")
	}
	return f.UpdateLog.AbandonUpdate(ctx, id, try)
}

// stalledMemo fails reads while stalled is set.
type stalledMemo struct {
	telegram.Memo
	stalled atomic.Bool
}

func (m *stalledMemo) GetMemo(ctx context.Context, key string) (string, bool, error) {
	if m.stalled.Load() {
		return "", false, errors.New("redis: i/o timeout")
	}
	return m.Memo.GetMemo(ctx, key)
}

// TestStalledUpdateIsRedeliveredSoon: an update that failed while Redis
// stalled, and whose claim could not even be given up then, is handled on
// Telegram's redelivery as soon as Redis answers again, not after a
// two-minute lease.
func TestStalledUpdateIsRedeliveredSoon(t *testing.T) {
	var log *flakyLog
	var memo *stalledMemo
	e := newEnv(t, func(o *telegram.Options) {
		log = &flakyLog{UpdateLog: o.UpdateLog}
		memo = &stalledMemo{Memo: o.Memo}
		o.UpdateLog, o.Memo, o.RetryWait = log, memo, 10*time.Millisecond
	})
	u := tgbotapi.Update{UpdateID: e.nextUpdateID(), Message: &tgbotapi.Message{MessageID: 7, Date: 1,
		Chat: &tgbotapi.Chat{ID: incidentsChat, Type: "supergroup"}, From: &tgbotapi.User{ID: chenID, FirstName: "Chen"},
		Text: "the reason", ReplyToMessage: &tgbotapi.Message{MessageID: 6, Chat: &tgbotapi.Chat{ID: incidentsChat}}}}
	memo.stalled.Store(true)
	if err := e.tg.HandleUpdate(e.ctx, u); err == nil {
		t.Fatal("HandleUpdate during the stall: got nil, want an error")
	}
	memo.stalled.Store(false)
	eventually(t, "the redelivered update is handled, not refused as busy", func() bool {
		return !errors.Is(e.tg.HandleUpdate(e.ctx, u), telegram.ErrBusy)
	})
	if err := e.tg.HandleUpdate(e.ctx, u); err != nil {
		t.Errorf("a third delivery: got %v, want nil (handled once already)", err)
	}
}
