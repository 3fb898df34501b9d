package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// response is a message as Slack takes it in the answer to a slash command,
// in a Socket Mode acknowledgement and on a response_url.
type response struct {
	ResponseType    string         `json:"response_type,omitempty"`
	Text            string         `json:"text"`
	Blocks          slackgo.Blocks `json:"blocks,omitzero"`
	ReplaceOriginal bool           `json:"replace_original"`
}

// Response types.
const (
	ephemeral = "ephemeral"  // seen only by the person who acted
	inChannel = "in_channel" // seen by everyone in the conversation
)

// replyResponse renders a router reply: in the channel when it is public
// and not an error, else only for the person.
func replyResponse(r *bot.Reply) response {
	kind := ephemeral
	if r.Public && !r.Failed {
		kind = inChannel
	}
	return response{ResponseType: kind, Text: fallback(r.Text, r.Card),
		Blocks: slackgo.Blocks{BlockSet: messageBlocks(r.Text, r.Card)}}
}

// note is an adapter-level message for the person alone.
func note(text string) response {
	return response{ResponseType: ephemeral, Text: fallback(text, nil),
		Blocks: slackgo.Blocks{BlockSet: textBlocks(text)}}
}

// command is a slash command as Slack sends it (form fields or Socket Mode
// payload).
type command struct {
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	ChannelID   string `json:"channel_id"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	ResponseURL string `json:"response_url"`
}

// runCommand routes a slash command and returns the answer to give Slack
// now. When the router has not answered within AckTimeout, the answer says
// the reply is on its way, and the reply goes to the response_url when
// ready.
func (a *Adapter) runCommand(ctx context.Context, c command) response {
	req := &bot.Request{Platform: bot.PlatformSlack, Actor: a.actor(c.UserID), Account: c.UserID, AccountName: c.UserName,
		Conversation: c.ChannelID, Text: a.commandText(c.Text)}
	ctx = bot.WithRequestID(ctx, bot.NewRequestID())
	done := make(chan *bot.Reply, 1)
	a.background(ctx, func(ctx context.Context) {
		done <- a.router.Handle(ctx, req)
	})
	timer := time.NewTimer(a.ackIn)
	defer timer.Stop()
	select {
	case r := <-done:
		return replyResponse(r)
	case <-timer.C:
	}
	a.background(ctx, func(ctx context.Context) {
		var r *bot.Reply
		select {
		case r = <-done:
		case <-ctx.Done():
			return
		}
		a.respond(ctx, c.ResponseURL, replyResponse(r), "slash command reply")
	})
	return note(a.t("⏳ Working on it; the answer follows in a moment.", "⏳ 正在处理,稍后回复。"))
}

// actor is the roster ID of a Slack user, "" when the roster does not know
// them (the router then tells them what to add).
func (a *Adapter) actor(userID string) string {
	if p, ok := a.roster.ByAccount(Platform.Name, userID); ok {
		return p.ID
	}
	return ""
}

// runInteraction handles a block_actions payload in the background: the
// pressed button becomes a router action; a reply with a card replaces the
// message the button was on (the card's new state, and who acted), any
// other reply, and every error, is shown to the person alone and changes
// nothing.
func (a *Adapter) runInteraction(ctx context.Context, cb *slackgo.InteractionCallback) {
	if cb.Type != slackgo.InteractionTypeBlockActions || len(cb.ActionCallback.BlockActions) == 0 {
		a.log.DebugContext(ctx, "slack interaction ignored", "type", cb.Type)
		return
	}
	ba := cb.ActionCallback.BlockActions[0]
	id := ba.Value
	if id == "" {
		id = ba.ActionID
	}
	url := cb.ResponseURL
	a.background(ctx, func(ctx context.Context) {
		action, err := bot.ParseAction(id)
		if err != nil {
			a.respond(ctx, url, note(a.t("⚠ This button is not one of Firebreak's; nothing was changed.",
				"⚠ 这不是 Firebreak 的按钮,未做任何更改。")), "unknown button")
			return
		}
		ctx = bot.WithRequestID(ctx, bot.NewRequestID())
		actor := a.actor(cb.User.ID)
		r := a.router.Handle(ctx, &bot.Request{Platform: bot.PlatformSlack, Actor: actor, Account: cb.User.ID,
			AccountName: cb.User.Name, Conversation: cmp.Or(cb.Container.ChannelID, cb.Channel.ID), Action: &action})
		if r.Failed || r.Card == nil {
			a.respond(ctx, url, replyResponse(&bot.Reply{Text: r.Text, Card: r.Card, Failed: r.Failed}), "button reply")
			return
		}
		who := a.whoActed(ba.Text.Text, a.roster.Name(actor))
		a.respond(ctx, url, response{ReplaceOriginal: true, Text: fallback(r.Text, r.Card),
			Blocks: slackgo.Blocks{BlockSet: messageBlocks("", r.Card, contextLine(who))}}, "card update")
	})
}

// envelope is the outer JSON of the Events API (HTTP body, Socket Mode
// payload).
type envelope struct {
	Type      string          `json:"type"`
	Challenge string          `json:"challenge"`
	EventID   string          `json:"event_id"`
	Event     json.RawMessage `json:"event"`
}

// mention is the part of an app_mention event the adapter reads.
type mention struct {
	Type     string `json:"type"`
	User     string `json:"user"`
	BotID    string `json:"bot_id"`
	Text     string `json:"text"`
	Channel  string `json:"channel"`
	ThreadTS string `json:"thread_ts"`
}

// runEvent handles an event_callback once per event_id, in the background:
// an app_mention is routed like a slash command and answered in its
// channel (in its thread when it was in one); an error (for someone not in
// the roster: what to add to it) only to its author.
func (a *Adapter) runEvent(ctx context.Context, env envelope, retry string) {
	if env.Type != "event_callback" {
		a.log.DebugContext(ctx, "slack event ignored", "type", env.Type)
		return
	}
	var m mention
	if err := json.Unmarshal(env.Event, &m); err != nil || m.Type != "app_mention" || m.User == "" || m.BotID != "" {
		a.log.DebugContext(ctx, "slack event ignored", "event_type", m.Type)
		return
	}
	if env.EventID != "" {
		first, err := a.locker.TryLock(ctx, "slack:event:"+env.EventID, EventDedupeTTL)
		switch {
		case err != nil:
			// Better a rare duplicate answer than a lost command: with Redis
			// down the router will refuse it anyway, and say so.
			a.log.WarnContext(ctx, "slack event dedupe unavailable; handling it anyway", "event_id", env.EventID, "err", err)
		case !first:
			a.log.InfoContext(ctx, "slack event already handled", "event_id", env.EventID, "retry", retry)
			return
		}
	}
	a.background(ctx, func(ctx context.Context) {
		ctx = bot.WithRequestID(ctx, bot.NewRequestID())
		r := a.router.Handle(ctx, &bot.Request{Platform: bot.PlatformSlack, Actor: a.actor(m.User), Account: m.User,
			Conversation: m.Channel, Text: a.commandText(stripLeadingMention(m.Text))})
		if r.Failed {
			a.postEphemeral(ctx, m.Channel, m.User, m.ThreadTS, replyResponse(r))
			return
		}
		opts := []slackgo.MsgOption{slackgo.MsgOptionText(fallback(r.Text, r.Card), false),
			slackgo.MsgOptionBlocks(messageBlocks(r.Text, r.Card)...)}
		if m.ThreadTS != "" {
			opts = append(opts, slackgo.MsgOptionTS(m.ThreadTS))
		}
		if _, _, err := a.api.PostMessageContext(ctx, m.Channel, opts...); err != nil {
			a.log.WarnContext(ctx, "slack mention reply not delivered", "request_id", bot.RequestID(ctx),
				"channel", m.Channel, "err", err)
		}
	})
}

// postEphemeral shows res to user alone in channel.
func (a *Adapter) postEphemeral(ctx context.Context, channel, user, thread string, res response) {
	opts := []slackgo.MsgOption{slackgo.MsgOptionText(res.Text, false), slackgo.MsgOptionBlocks(res.Blocks.BlockSet...)}
	if thread != "" {
		opts = append(opts, slackgo.MsgOptionTS(thread))
	}
	if _, err := a.api.PostEphemeralContext(ctx, channel, user, opts...); err != nil {
		a.log.WarnContext(ctx, "slack ephemeral reply not delivered", "request_id", bot.RequestID(ctx),
			"channel", channel, "err", err)
	}
}

// whoActed is the line under a card updated by a button press.
func (a *Adapter) whoActed(label, name string) string {
	if label == "" {
		return fmt.Sprintf(a.t("✓ %s", "✓ %s 已操作"), name)
	}
	return fmt.Sprintf(a.t("✓ %[1]s — %[2]s", "✓ %[2]s:%[1]s"), label, name)
}

func (a *Adapter) t(en, zh string) string { return workflow.Text{EN: en, ZH: zh}.In(a.locale) }

var (
	leadingMention = regexp.MustCompile(`^\s*<@[A-Z0-9]+(\|[^>]*)?>[\s:,,]*`)
	slackMarkup    = regexp.MustCompile(`<([^<>]*)>`)
	unescaper      = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// stripLeadingMention drops the "<@U…>" that addresses the bot.
func stripLeadingMention(s string) string { return leadingMention.ReplaceAllString(s, "") }

// commandText turns Slack's markup back into what the person typed: a
// mention of someone in the roster becomes their roster ID ("assign YQ-7
// <@U0LI>" → "assign YQ-7 li"), a link its URL, a channel its #name, and
// &amp; &lt; &gt; their characters.
func (a *Adapter) commandText(s string) string {
	s = slackMarkup.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, _ := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "@"):
			if p, ok := a.roster.ByAccount(Platform.Name, target[1:]); ok {
				return p.ID
			}
			if label != "" {
				return "@" + label
			}
			return m
		case strings.HasPrefix(target, "#"):
			if label != "" {
				return "#" + label
			}
			return target
		case strings.HasPrefix(target, "!"):
			return "@" + strings.TrimPrefix(cmp.Or(label, target), "!")
		case strings.HasPrefix(target, "mailto:"):
			return strings.TrimPrefix(target, "mailto:")
		case strings.Contains(target, "://"):
			return target
		}
		return m
	})
	return unescaper.Replace(strings.TrimSpace(s))
}
