package telegram_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func notice(aud workflow.Audience) workflow.Notice {
	return workflow.Notice{ID: "n-" + string(aud), Incident: "YQ-1", Audience: aud}
}

func TestSenderTargets(t *testing.T) {
	e := newEnv(t)
	s := e.tg.Sender()
	if got := s.Platform(); got != bot.PlatformTelegram {
		t.Errorf("Platform: got %q, want telegram", got)
	}
	tests := []struct {
		name string
		aud  workflow.Audience
		want string
	}{
		{"leaders chat", workflow.ChannelLeaders, "-100222"},
		{"incidents chat", workflow.ChannelIncidents, "-100111"},
		{"a channel that is only on Slack", workflow.ChannelStatements, ""},
		{"a person by Telegram user ID", workflow.PersonAudience("wang"), "1004"},
		{"a person without Telegram", workflow.PersonAudience("li"), ""},
		{"an unknown person", workflow.PersonAudience("nobody"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Target(notice(tt.aud)); got != tt.want {
				t.Errorf("Target: got %q, want %q", got, tt.want)
			}
			err := s.Send(e.ctx, notice(tt.aud), bot.Message{Kind: "x", Text: "hello"})
			if tt.want == "" && !errors.Is(err, bot.ErrNoRoute) {
				t.Errorf("Send: got %v, want ErrNoRoute", err)
			}
			if tt.want != "" && err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
}

func TestSenderErrors(t *testing.T) {
	e := newEnv(t)
	s := e.tg.Sender()
	msg := bot.Message{Kind: "reminder", Text: "Reminder: <publish> YQ-1 by 20:00 & report"}

	t.Run("429 asks the outbox to retry after", func(t *testing.T) {
		e.api.tooMany("sendMessage", 7)
		err := s.Send(e.ctx, notice(workflow.ChannelIncidents), msg)
		var ra *bot.RetryAfterError
		if !errors.As(err, &ra) || ra.After != 7*time.Second {
			t.Fatalf("Send: got %v, want *bot.RetryAfterError of 7s", err)
		}
	})

	t.Run("a 5xx is an error to retry", func(t *testing.T) {
		e.api.fail("sendMessage", 502, `{"ok":false,"error_code":502,"description":"Bad Gateway"}`)
		err := s.Send(e.ctx, notice(workflow.ChannelIncidents), msg)
		if err == nil || errors.Is(err, bot.ErrNoRoute) {
			t.Fatalf("Send: got %v, want an error", err)
		}
	})

	t.Run("a migrated group is followed and remembered", func(t *testing.T) {
		e.api.migrate(incidentsChat, -1009999999999)
		if err := s.Send(e.ctx, notice(workflow.ChannelIncidents), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if err := s.Send(e.ctx, notice(workflow.ChannelIncidents), msg); err != nil {
			t.Fatalf("Send again: %v", err)
		}
		if got := len(e.api.messagesIn(-1009999999999)); got != 2 {
			t.Errorf("messages in the supergroup: got %d, want 2", got)
		}
		old := 0
		for _, c := range e.api.Calls("sendMessage") {
			if c.Params.Get("chat_id") == "-100111" {
				old++
			}
		}
		// 429, 502, and the one that learnt of the migration.
		if old != 3 {
			t.Errorf("sendMessage calls to the old group: got %d, want 3", old)
		}
	})

	t.Run("the token never shows in an error", func(t *testing.T) {
		dead := newFakeAPI(t)
		dead.srv.Close()
		tg := newAdapter(t, dead, e.store, e.router, "")
		err := tg.Sender().Send(e.ctx, notice(workflow.ChannelIncidents), msg)
		if err == nil {
			t.Fatal("Send to a closed server: got nil, want an error")
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), "TEST-token") {
			t.Errorf("error shows the token: %v", err)
		}
		if err := tg.Start(e.ctx); err == nil || strings.Contains(err.Error(), "TEST-token") {
			t.Errorf("Start against a closed server: got %v, want an error without the token", err)
		}

		// Nor in the logs: a failed answer to a press is logged, a failed
		// reply is returned.
		var logs bytes.Buffer
		tg = newAdapter(t, dead, e.store, e.router, "", func(o *telegram.Options) {
			o.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		press := e.pressUpdate(wangID, fakeMessage{Chat: leadersChat, ID: 1}, "approve:YQ-1:1")
		_ = tg.HandleUpdate(e.ctx, press)
		err = tg.HandleUpdate(e.ctx, e.messageUpdate(chenID, chenID, "/whoami"))
		if err == nil || strings.Contains(err.Error(), "TEST-token") {
			t.Errorf("HandleUpdate against a closed server: got %v, want an error without the token", err)
		}
		if !strings.Contains(logs.String(), "answer callback query") {
			t.Errorf("logs: got %q, want the failed answer logged", logs.String())
		}
		if strings.Contains(logs.String(), "TEST-token") {
			t.Errorf("logs show the token: %s", logs.String())
		}
	})
}

// refresh sends the leaders chat the refresh of thread as the handlers word
// it once an approval request can no longer be decided: the card without
// buttons.
func (e *env) refresh(thread string) error {
	n := workflow.Notice{ID: "r:" + thread, Incident: "YQ-1", Audience: workflow.ChannelLeaders}
	m := bot.Message{Kind: "refresh", Thread: thread, Refresh: true, Card: &bot.Card{Incident: "YQ-1", Title: "Approve version 1",
		Fields: []bot.Field{{Label: "Status", Value: "⛔ Superseded by version 2"}}}}
	return e.tg.Sender().Send(e.ctx, n, m)
}

func TestRefreshEditsTheRequestInPlace(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	v1 := e.approvalRequest(leadersChat, "approve:"+id+":1")
	sends := len(e.api.Calls("sendMessage"))
	if err := e.refresh("YQ-1:approval:1"); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	old, _ := e.api.message(leadersChat, v1.ID)
	wantContains(t, "refreshed request", old.Text, "Superseded by version 2")
	if got := keyboardOf(t, old.Markup); len(got) != 0 {
		t.Errorf("refreshed request keyboard: got %v, want none", got)
	}
	if got := len(e.api.Calls("sendMessage")); got != sends {
		t.Errorf("a refresh posted %d messages, want none", got-sends)
	}
	// A thread with nothing posted in the chat: nothing to do, nothing sent.
	calls := len(e.api.Calls(""))
	if err := e.refresh("YQ-1:approval:7"); !errors.Is(err, bot.ErrNoRoute) {
		t.Errorf("refresh of a thread never posted: got %v, want bot.ErrNoRoute", err)
	}
	if got := len(e.api.Calls("")); got != calls {
		t.Errorf("refresh of a thread never posted: %d API calls, want none", got-calls)
	}
}

func TestRefreshEditNotModifiedIsNoError(t *testing.T) {
	e := newEnv(t)
	e.openWithDraft(draftText)
	e.deliver()
	e.api.fail("editMessageText", 400, `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"}`)
	if err := e.refresh("YQ-1:approval:1"); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	// A refused edit would also end without an error, by removing the
	// buttons alone: "not modified" must not get that far.
	if calls := e.api.Calls("editMessageReplyMarkup"); len(calls) != 0 {
		t.Errorf("editMessageReplyMarkup: got %d calls, want none (the edit was in place already)", len(calls))
	}
}

func TestRefreshFallsBackToRemovingButtons(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	v1 := e.approvalRequest(leadersChat, "approve:"+id+":1")
	e.api.fail("editMessageText", 400, `{"ok":false,"error_code":400,"description":"Bad Request: message can't be edited"}`)
	if err := e.refresh("YQ-1:approval:1"); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	calls := e.api.Calls("editMessageReplyMarkup")
	if len(calls) != 1 || calls[0].Params.Get("message_id") != itoa(v1.ID) {
		t.Fatalf("editMessageReplyMarkup: got %v, want one call for message %d", calls, v1.ID)
	}
	old, _ := e.api.message(leadersChat, v1.ID)
	if got := keyboardOf(t, old.Markup); len(got) != 0 {
		t.Errorf("keyboard of the superseded request: got %v, want none", got)
	}
}

func TestRefreshRateLimitedIsRetried(t *testing.T) {
	e := newEnv(t)
	id := e.openWithDraft(draftText)
	e.deliver()
	e.api.tooMany("editMessageText", 3)
	var ra *bot.RetryAfterError
	if err := e.refresh("YQ-1:approval:1"); !errors.As(err, &ra) {
		t.Fatalf("refresh while rate limited: got %v, want *bot.RetryAfterError", err)
	}
	if err := e.refresh("YQ-1:approval:1"); err != nil {
		t.Fatalf("refresh again: %v", err)
	}
	if e.approvalRequestGone(leadersChat, "approve:"+id+":1") {
		t.Errorf("the request still has its buttons after the refresh went through")
	}
}

func TestLongDraftIsSplitAcrossMessages(t *testing.T) {
	e := newEnv(t)
	// Just within the 4000 characters of a draft, which with the card
	// around it is more than one message holds.
	e.do("chen", `open "Canteen complaint" level:major`)
	id := "YQ-1"
	words := strings.Repeat("<参数> & *x*\n", 360) // 3960 characters
	if _, _, err := e.svc.SubmitDraft(e.ctx, "chen", id, words); err != nil {
		t.Fatalf("draft: %v", err)
	}
	e.deliver()
	var msgs []fakeMessage // the approval request's, without the report
	for _, m := range e.api.messagesIn(leadersChat) {
		if !strings.Contains(m.Markup, "receive:YQ-1") {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) < 2 {
		t.Fatalf("messages: got %d, want the draft split over 2 or more", len(msgs))
	}
	var all strings.Builder
	for i, m := range msgs {
		if n := len([]rune(visibleText(m.Text))); n > 4096 {
			t.Errorf("message %d: %d characters, want at most 4096", i, n)
		}
		if err := validHTML(m.Text); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
		if i < len(msgs)-1 && m.Markup != "" {
			t.Errorf("message %d of %d has buttons; want them on the last only", i, len(msgs))
		}
		all.WriteString(m.Text)
	}
	if got := strings.Count(all.String(), "&lt;参数&gt;"); got != 360 {
		t.Errorf("draft pieces: got %d of 360 escaped words across the messages", got)
	}
	e.approvalRequest(leadersChat, "approve:"+id+":1")
}

// visibleText strips tags and counts entities as one character, as
// Telegram counts a message's length.
func visibleText(s string) string {
	s = regexpTags.ReplaceAllString(s, "")
	return regexpEntities.ReplaceAllString(s, "x")
}

func TestStartRegistersTheWebhookWithItsSecret(t *testing.T) {
	e := newEnv(t)
	if err := e.tg.Start(e.ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	calls := e.api.Calls("setWebhook")
	if len(calls) != 1 {
		t.Fatalf("setWebhook: got %d calls, want 1", len(calls))
	}
	p := calls[0].Params
	if p.Get("url") != "https://firebreak.example/telegram/webhook" || p.Get("secret_token") != secret {
		t.Errorf("setWebhook: got url %q secret_token %q", p.Get("url"), p.Get("secret_token"))
	}
	wantContains(t, "allowed_updates", p.Get("allowed_updates"), "callback_query", "message")
	if got := e.tg.Username(); got != "firebreak_bot" {
		t.Errorf("Username: got %q, want firebreak_bot", got)
	}
}

func TestNewChecksOptions(t *testing.T) {
	store := redistest.NewStore(t)
	st := store.PlatformState("telegram")
	router := newEnv(t).router
	base := func() telegram.Options {
		return telegram.Options{Token: testToken, Mode: telegram.ModeWebhook, WebhookURL: "https://x/telegram/webhook",
			WebhookSecret: secret, Router: router, Lease: st, UpdateLog: st, Memo: st}
	}
	tests := []struct {
		name string
		edit func(*telegram.Options)
		want string // in the error; "" for none
	}{
		{"valid webhook", func(*telegram.Options) {}, ""},
		{"valid poll", func(o *telegram.Options) { o.Mode, o.WebhookURL, o.WebhookSecret = telegram.ModePoll, "", "" }, ""},
		{"no token", func(o *telegram.Options) { o.Token = "" }, "FIREBREAK_TELEGRAM_TOKEN"},
		{"unknown mode", func(o *telegram.Options) { o.Mode = "push" }, "webhook or poll"},
		{"webhook without URL", func(o *telegram.Options) { o.WebhookURL = "" }, "FIREBREAK_TELEGRAM_WEBHOOK_URL"},
		{"webhook without secret", func(o *telegram.Options) { o.WebhookSecret = "" }, "FIREBREAK_TELEGRAM_WEBHOOK_SECRET"},
		{"secret with bad characters", func(o *telegram.Options) { o.WebhookSecret = "a b" }, "FIREBREAK_TELEGRAM_WEBHOOK_SECRET"},
		{"poll without lease", func(o *telegram.Options) { o.Mode, o.Lease = telegram.ModePoll, nil }, "Lease"},
		{"bad endpoint", func(o *telegram.Options) { o.APIEndpoint = "http://host/bot" }, "http://host/bot%s/%s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base()
			tt.edit(&o)
			_, err := telegram.New(o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: got %v, want an error naming %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

// TestForgedMigrationIsRefused is the attack as it was made: an update
// (with the webhook secret) saying the leaders chat migrated elsewhere
// redirected it for good. A migration is followed only when it is
// Telegram's service message for a chat the roster names, towards a
// supergroup; every other one is logged and changes nothing.
func TestForgedMigrationIsRefused(t *testing.T) {
	metrics := bot.NewMetrics()
	e := newEnv(t, func(o *telegram.Options) { o.Metrics = metrics })
	s := e.tg.Sender()
	msg := bot.Message{Kind: "incident", Text: "hello"}
	update := func(chat int64, chatType, text string, to, from int64) {
		e.postUpdate(tgbotapi.Update{UpdateID: e.nextUpdateID(), Message: &tgbotapi.Message{MessageID: 1, Date: 1,
			Chat: &tgbotapi.Chat{ID: chat, Type: chatType}, Text: text, MigrateToChatID: to, MigrateFromChatID: from}})
	}
	update(leadersChat, "group", "hi", -1005555555555, 0) // carries text: not a service message
	update(leadersChat, "group", "", -4242, 0)            // not a supergroup
	update(-100777, "group", "", -1005555555555, 0)       // not a roster chat
	update(-1005555555555, "supergroup", "", 0, -100777)  // from a chat the roster does not name
	update(-1005555555555, "private", "", 0, leadersChat) // not a supergroup's service message
	if err := s.Send(e.ctx, notice(workflow.ChannelLeaders), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := len(e.api.messagesIn(leadersChat)); got != 1 {
		t.Errorf("messages in the leaders chat: got %d, want 1 (no forged migration followed)", got)
	}
	if got := len(e.api.messagesIn(-1005555555555)); got != 0 {
		t.Errorf("messages in the forged chat: got %d, want 0", got)
	}

	// Telegram's own service messages, in the old group and then in the new
	// supergroup, tell of one migration: it is followed, and counted once.
	update(leadersChat, "group", "", -1006666666666, 0)
	update(-1006666666666, "supergroup", "", 0, leadersChat)
	if err := s.Send(e.ctx, notice(workflow.ChannelLeaders), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := len(e.api.messagesIn(-1006666666666)); got != 1 {
		t.Errorf("messages in the supergroup: got %d, want 1", got)
	}
	var out strings.Builder
	if err := metrics.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if want := `firebreak_telegram_migrations_total{outcome="followed",source="update"} 1`; !strings.Contains(out.String(), want+"\n") {
		t.Errorf("metrics: want %q in\n%s", want, out.String())
	}
}
