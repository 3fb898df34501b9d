package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// threadTTL is how long the sender remembers the first message of a
// subject (approval requests live for hours or days).
const threadTTL = 30 * 24 * time.Hour

// Memo is where the sender remembers the first message of each subject in
// each conversation: Redis in production (Store.Memo("slack")), so that every
// replica, and the process after a restart, updates the same message.
type Memo interface {
	GetMemo(ctx context.Context, key string) (string, bool, error)
	SetMemo(ctx context.Context, key, value string, ttl time.Duration) error
}

// Sender delivers outbox messages to Slack: chat.postMessage with Block Kit
// to the roster's Slack channels, and to people by their Slack user ID
// (which opens the bot's direct message with them).
//
// Messages of one subject (bot.Message.Thread) stay together: the first is
// posted to the channel and remembered; a later one with a card updates
// that message in place (chat.update), so the card in the channel always
// shows the incident as it is, and its text is posted in the message's
// thread, also sent to the channel. A refresh only updates the card; a
// message sent Once is not posted again where its subject has a message.
type Sender struct {
	api    *slackgo.Client
	roster *workflow.Roster
	locale string
	log    *slog.Logger
	memo   Memo
}

// root is the first message of a subject in a conversation. Channel is the
// conversation Slack put it in: a direct message's "D…", not the user ID
// it was sent to.
//
// Body is the card body the message shows in full. A refresh brings a long
// draft quoted short (for platforms that must fit an edit in one small
// message), pointing to the first request for the full text: this message
// is that request, and keeps the body in full.
type root struct {
	Channel string `json:"c"`
	TS      string `json:"ts"`
	Text    string `json:"text,omitempty"`
	Body    string `json:"body,omitempty"`
}

func newSender(api *slackgo.Client, roster *workflow.Roster, locale string, log *slog.Logger, memo Memo) *Sender {
	if memo == nil {
		memo = bot.NewLocalMemo(maxLocal)
	}
	return &Sender{api: api, roster: roster, locale: locale, log: log, memo: memo}
}

// Platform is "slack".
func (s *Sender) Platform() string { return bot.PlatformSlack }

// Target is the Slack conversation of n's audience: the roster channel's
// Slack ID, or the person's Slack user ID; "" when there is none on Slack.
func (s *Sender) Target(n workflow.Notice) string {
	if id, ok := n.Audience.Person(); ok {
		if p, ok := s.roster.Person(id); ok {
			account, _ := p.Account(Platform.Name)
			return account
		}
		return ""
	}
	address, _ := s.roster.Address(string(n.Audience), Platform.Name)
	return address
}

// RateLimit is Slack's limit of chat.postMessage: one message per second
// per conversation.
func (s *Sender) RateLimit(string) bot.RateLimit {
	return bot.RateLimit{Interval: time.Second, Burst: 1}
}

// Send posts m to n's audience. It returns bot.ErrNoRoute when the audience
// has no Slack conversation (or, for a refresh, no message to update) and
// *bot.RetryAfterError when Slack answers 429.
func (s *Sender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	target := s.Target(n)
	if target == "" {
		return bot.ErrNoRoute
	}
	key := "thread:" + target + ":" + m.Thread
	r, ok, err := s.root(ctx, key, m.Thread)
	if err != nil {
		return err
	}
	if !ok {
		if m.Refresh {
			return bot.ErrNoRoute // nothing posted here to bring up to date
		}
		return s.post(ctx, target, key, m)
	}
	if m.Card != nil {
		card := *m.Card
		if card.Shortens(r.Body) {
			card.Body = r.Body
		}
		// The message keeps the text it was posted with, unless the
		// refresh brings one of its own (a triage card once judged: its
		// "judge it" is over).
		text := r.Text
		if m.Refresh && m.Text != "" {
			text = m.Text
		}
		_, _, _, err := s.api.UpdateMessageContext(ctx, r.Channel, r.TS,
			slackgo.MsgOptionText(fallback(text, &card), false),
			slackgo.MsgOptionBlocks(messageBlocks(text, &card)...))
		if gone(err) {
			if m.Refresh {
				return nil // the message is gone: nothing left to update
			}
			return s.post(ctx, target, key, m)
		}
		if err != nil {
			return sendError("chat.update", err)
		}
		if card.Body != r.Body {
			r.Body = card.Body // the body changed, or was posted by an earlier release
			s.remember(ctx, key, m.Thread, r)
		}
	}
	if m.Refresh || m.Once || m.Text == "" {
		return nil
	}
	_, _, err = s.api.PostMessageContext(ctx, r.Channel,
		slackgo.MsgOptionText(fallback(m.Text, nil), false),
		slackgo.MsgOptionBlocks(textBlocks(m.Text)...),
		slackgo.MsgOptionTS(r.TS), slackgo.MsgOptionBroadcast())
	if gone(err) {
		return s.post(ctx, target, key, m)
	}
	return sendError("chat.postMessage", err)
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
		r := root{Channel: cmp.Or(channel, target), TS: ts, Text: m.Text}
		if m.Card != nil {
			r.Body = m.Card.Body
		}
		s.remember(ctx, key, m.Thread, r)
	}
	return nil
}

// remember keeps r as the root of thread in its conversation. The message
// is out: failing to remember it costs a later update (the next message of
// the subject starts a new one, or shows a long body quoted short), while
// an error would have it posted twice.
func (s *Sender) remember(ctx context.Context, key, thread string, r root) {
	b, _ := json.Marshal(r)
	if err := s.memo.SetMemo(ctx, key, string(b), threadTTL); err != nil {
		s.log.WarnContext(ctx, "slack: remember thread message", "thread", thread, "err", err)
	}
}

func (s *Sender) root(ctx context.Context, key, thread string) (root, bool, error) {
	if thread == "" {
		return root{}, false, nil
	}
	v, ok, err := s.memo.GetMemo(ctx, key)
	if err != nil || !ok {
		return root{}, false, err
	}
	var r root
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.TS == "" {
		return root{}, false, nil // unreadable: start a new message
	}
	return r, true, nil
}

// maxLocal bounds the memo kept in this process when no shared one is
// given (tests, a single replica that may forget on restart).
const maxLocal = 10_000

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
	if se, ok := errors.AsType[slackgo.SlackErrorResponse](err); ok && refusedForGood[se.Err] {
		return fmt.Errorf("slack %s: %w: %w", method, bot.ErrRefused, err)
	}
	return fmt.Errorf("slack %s: %w", method, err)
}

// refusedForGood are the errors of chat.postMessage and chat.update that
// the same message will meet again (bot.ErrRefused). Authentication errors
// are not among them: every message would fail until the token is fixed,
// and they are retried meanwhile.
var refusedForGood = map[string]bool{
	"channel_not_found": true, "not_in_channel": true, "is_archived": true,
	"invalid_blocks": true, "invalid_blocks_format": true, "msg_too_long": true,
	"no_text": true, "too_many_attachments": true, "restricted_action": true,
	"cannot_reply_to_message": true, "invalid_arguments": true,
}
