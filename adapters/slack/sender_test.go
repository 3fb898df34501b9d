package slack_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func TestSenderTarget(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := e.adapter.Sender()
	if s.Platform() != bot.PlatformSlack {
		t.Errorf("Platform() = %q, want slack", s.Platform())
	}
	for _, tt := range []struct {
		name     string
		audience workflow.Audience
		want     string
	}{
		{"incidents channel", workflow.ChannelIncidents, "C0INCIDENTS"},
		{"leaders channel", workflow.ChannelLeaders, "C0LEADERS"},
		{"statements channel", workflow.ChannelStatements, "C0STATEMENTS"},
		{"a person: their user ID opens the DM", workflow.PersonAudience("wang"), "U0WANG"},
		{"someone not in the roster", workflow.PersonAudience("nobody"), ""},
		{"an unknown channel", "elsewhere", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.Target(workflow.Notice{Audience: tt.audience}); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSenderNoRouteAndDM(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := e.adapter.Sender()
	ctx := context.Background()
	err := s.Send(ctx, workflow.Notice{ID: "n1", Audience: workflow.PersonAudience("nobody")}, bot.Message{Text: "hi"})
	if !errors.Is(err, bot.ErrNoRoute) {
		t.Errorf("got %v, want ErrNoRoute", err)
	}
	m := bot.Message{Kind: "assigned", Text: "YQ-7 is assigned to you.", Card: &bot.Card{Title: "YQ-7 [major/rumor] Exam leak",
		Buttons: []bot.Button{{ID: "ack:YQ-7", Label: "Acknowledge", Style: bot.StylePrimary}}}}
	if err := s.Send(ctx, workflow.Notice{ID: "n2", Audience: workflow.PersonAudience("li")}, m); err != nil {
		t.Fatalf("send: %v", err)
	}
	calls := e.slack.Calls()
	if len(calls) != 1 || calls[0].Channel != "U0LI" || calls[0].Text != m.Text ||
		!strings.Contains(shown(calls[0].Blocks), "[ack:YQ-7 Acknowledge primary]") {
		t.Errorf("got %+v, want one chat.postMessage to U0LI with the card", calls)
	}
}

// TestSenderRateLimited: Slack's 429 reaches the dispatcher as
// *bot.RetryAfterError with Slack's Retry-After.
func TestSenderRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{slackFn: func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		})
	}})
	err := e.adapter.Sender().Send(context.Background(), workflow.Notice{ID: "n1", Audience: workflow.ChannelIncidents},
		bot.Message{Text: "reminder"})
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 7*time.Second {
		t.Errorf("got %v, want *bot.RetryAfterError of 7s", err)
	}
}

// TestSenderFailure: any other failure is an error to retry with backoff,
// and names the method.
func TestSenderFailure(t *testing.T) {
	e := newEnv(t, envOptions{slackFn: func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"ok":false,"error":"not_in_channel"}`))
		})
	}})
	err := e.adapter.Sender().Send(context.Background(), workflow.Notice{ID: "n1", Audience: workflow.ChannelIncidents},
		bot.Message{Text: "reminder"})
	var ra *bot.RetryAfterError
	if err == nil || errors.As(err, &ra) || errors.Is(err, bot.ErrNoRoute) || !strings.Contains(err.Error(), "not_in_channel") {
		t.Errorf("got %v, want a plain error saying not_in_channel", err)
	}
}

// TestSenderThread: the first message of a subject is posted; a later one
// with a card updates it and adds its line to its thread; one without a
// card only adds its line; a message whose root was deleted starts anew.
func TestSenderThread(t *testing.T) {
	var deleted atomic.Bool
	e := newEnv(t, envOptions{slackFn: func(c slacktest.Customize) {
		c.Handle("/chat.update", func(w http.ResponseWriter, r *http.Request) {
			if deleted.Load() {
				_, _ = w.Write([]byte(`{"ok":false,"error":"message_not_found"}`))
				return
			}
			_ = r.ParseForm()
			_, _ = w.Write([]byte(`{"ok":true,"channel":"C0INCIDENTS","ts":"` + r.PostForm.Get("ts") + `"}`))
		})
	}})
	s := e.adapter.Sender()
	ctx := context.Background()
	n := workflow.Notice{ID: "n", Audience: workflow.ChannelIncidents}
	card := func(status string) *bot.Card {
		return &bot.Card{Title: "YQ-7 Canteen", Fields: []bot.Field{{Label: "Status", Value: status}}}
	}
	send := func(m bot.Message) {
		t.Helper()
		if err := s.Send(ctx, n, m); err != nil {
			t.Fatalf("send %q: %v", m.Text, err)
		}
	}
	send(bot.Message{Kind: "incident", Text: "Chen opened YQ-7", Card: card("assigned"), Thread: "YQ-7"})
	send(bot.Message{Kind: "spreading", Text: "YQ-7 shows signs of spreading", Thread: "YQ-7"})
	send(bot.Message{Kind: "level", Text: "YQ-7 is now major", Card: card("assigned"), Thread: "YQ-7"})
	calls := e.slack.Calls()
	if len(calls) != 3 {
		t.Fatalf("got %d recorded calls (chat.update is answered by the custom handler), want 3: %+v", len(calls), calls)
	}
	root := calls[0].TS
	if calls[0].Thread != "" || calls[1].Thread != root || !calls[1].Broad || calls[2].Thread != root {
		t.Errorf("calls %+v: want the root, then two lines in its thread, sent to the channel too", calls)
	}
	deleted.Store(true)
	send(bot.Message{Kind: "overdue", Text: "YQ-7 is overdue", Card: card("assigned"), Thread: "YQ-7"})
	calls = e.slack.Calls()
	if last := calls[len(calls)-1]; last.Thread != "" || !strings.Contains(shown(last.Blocks), "# YQ-7 Canteen") {
		t.Errorf("after the root was deleted got %+v, want a new root with the card", last)
	}
}

// TestSenderDirectThread: a subject sent to a person is continued in the
// direct message Slack opened ("D…"), not at the user ID.
func TestSenderDirectThread(t *testing.T) {
	e := newEnv(t, envOptions{})
	s := e.adapter.Sender()
	n := workflow.Notice{ID: "n", Audience: workflow.PersonAudience("wang")}
	card := &bot.Card{Title: "Approve the unified reply for YQ-7, version 1"}
	for _, text := range []string{"Chen asks you to approve", "Reminder: approve by 15:00"} {
		if err := s.Send(context.Background(), n, bot.Message{Kind: "approval", Text: text, Card: card, Thread: "YQ-7:approval:1"}); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	calls := e.slack.Calls()
	if len(calls) != 3 || calls[0].Channel != "U0WANG" || calls[1].Method != "chat.update" || calls[1].Channel != "D0WANG" ||
		calls[2].Channel != "D0WANG" || calls[2].Thread != calls[0].TS {
		t.Errorf("calls %+v: want a post to U0WANG, then an update and a thread reply in D0WANG", calls)
	}
}
