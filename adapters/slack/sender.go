package slack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// maxThreads bounds the thread → message map of a Sender.
const maxThreads = 10_000

// Sender delivers outbox messages to Slack: chat.postMessage with Block Kit
// to the roster's Slack channels, and to people by their Slack user ID
// (which opens the bot's direct message with them).
//
// Messages of one subject (bot.Message.Thread) stay together: the first is
// posted to the channel and remembered; a later one with a card updates
// that message in place (chat.update), so the card in the channel always
// shows the incident as it is, and its text is posted in the message's
// thread, also sent to the channel. The map lives in this process (the
// dispatcher gives each channel to one replica at a time); after a restart
// the next message of a subject starts a new one.
type Sender struct {
	api    *slackgo.Client
	roster *workflow.Roster
	locale string
	log    *slog.Logger

	mu      sync.Mutex
	threads map[string]root
	order   []string // keys of threads, oldest first
}

// root is the first message of a subject in a conversation. channel is the
// conversation Slack put it in: a direct message's "D…", not the user ID
// it was sent to.
type root struct {
	channel string
	ts      string
	text    string
}

func newSender(api *slackgo.Client, roster *workflow.Roster, locale string, log *slog.Logger) *Sender {
	return &Sender{api: api, roster: roster, locale: locale, log: log, threads: map[string]root{}}
}

// Platform is "slack".
func (s *Sender) Platform() string { return bot.PlatformSlack }

// Target is the Slack conversation of n's audience: the roster channel's
// Slack ID, or the person's Slack user ID; "" when there is none on Slack.
func (s *Sender) Target(n workflow.Notice) string {
	if id, ok := n.Audience.Person(); ok {
		if p, ok := s.roster.Person(id); ok {
			return p.Slack
		}
		return ""
	}
	if c, ok := s.roster.Channel(string(n.Audience)); ok {
		return c.Slack
	}
	return ""
}

// RateLimit is Slack's limit of chat.postMessage: one message per second
// per conversation.
func (s *Sender) RateLimit(string) bot.RateLimit {
	return bot.RateLimit{Interval: time.Second, Burst: 1}
}

// Send posts m to n's audience. It returns bot.ErrNoRoute when the audience
// has no Slack conversation and *bot.RetryAfterError when Slack answers 429.
func (s *Sender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	target := s.Target(n)
	if target == "" {
		return bot.ErrNoRoute
	}
	key := target + "\x00" + m.Thread
	if r, ok := s.root(key, m.Thread); ok {
		if m.Card != nil {
			_, _, _, err := s.api.UpdateMessageContext(ctx, r.channel, r.ts,
				slackgo.MsgOptionText(fallback(r.text, m.Card), false),
				slackgo.MsgOptionBlocks(messageBlocks(r.text, m.Card)...))
			if gone(err) {
				s.forget(key)
				return s.post(ctx, target, key, m)
			}
			if err != nil {
				return sendError("chat.update", err)
			}
		}
		if m.Text == "" {
			return nil
		}
		_, _, err := s.api.PostMessageContext(ctx, r.channel,
			slackgo.MsgOptionText(fallback(m.Text, nil), false),
			slackgo.MsgOptionBlocks(textBlocks(m.Text)...),
			slackgo.MsgOptionTS(r.ts), slackgo.MsgOptionBroadcast())
		if gone(err) {
			s.forget(key)
			return s.post(ctx, target, key, m)
		}
		return sendError("chat.postMessage", err)
	}
	return s.post(ctx, target, key, m)
}

// post posts m as a message of its own, and remembers it as the root of
// its subject.
func (s *Sender) post(ctx context.Context, target, key string, m bot.Message) error {
	channel, ts, err := s.api.PostMessageContext(ctx, target,
		slackgo.MsgOptionText(fallback(m.Text, m.Card), false),
		slackgo.MsgOptionBlocks(messageBlocks(m.Text, m.Card)...),
		slackgo.MsgOptionDisableLinkUnfurl())
	if err != nil {
		return sendError("chat.postMessage", err)
	}
	if m.Thread != "" && ts != "" {
		s.remember(key, root{channel: cmp.Or(channel, target), ts: ts, text: m.Text})
	}
	return nil
}

func (s *Sender) root(key, thread string) (root, bool) {
	if thread == "" {
		return root{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.threads[key]
	return r, ok
}

func (s *Sender) remember(key string, r root) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.threads[key]; !ok {
		s.order = append(s.order, key)
	}
	s.threads[key] = r
	for len(s.order) > maxThreads {
		delete(s.threads, s.order[0])
		s.order = s.order[1:]
	}
}

// forget drops the root of key, from the eviction order too: a key left
// there would, once remembered again, be evicted at its first age.
func (s *Sender) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.threads, key)
	s.order = slices.DeleteFunc(s.order, func(k string) bool { return k == key })
}

// gone reports whether err says the remembered message no longer exists.
func gone(err error) bool {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "message_not_found", "cant_update_message", "thread_not_found", "edit_window_closed":
			return true
		}
	}
	return false
}

// sendError turns Slack's 429 into *bot.RetryAfterError, for the
// dispatcher's rate limiting; other errors are retried with backoff.
func sendError(method string, err error) error {
	if err == nil {
		return nil
	}
	if rl, ok := errors.AsType[*slackgo.RateLimitedError](err); ok {
		return &bot.RetryAfterError{After: max(rl.RetryAfter, time.Second)}
	}
	if sc, ok := errors.AsType[slackgo.StatusCodeError](err); ok && sc.Code == http.StatusTooManyRequests {
		return &bot.RetryAfterError{After: time.Second}
	}
	return fmt.Errorf("slack %s: %w", method, err)
}
