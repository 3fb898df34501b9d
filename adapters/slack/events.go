package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
)

// serveEvents answers POST /slack/events: the url_verification challenge
// and event callbacks, acknowledged at once.
func (a *Adapter) serveEvents(w http.ResponseWriter, r *http.Request) {
	body, err := a.readVerified(w, r)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	env, err := parseEnvelope(body)
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	if env.Type == "url_verification" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, env.Challenge)
		return
	}
	a.runEvent(r.Context(), env, r.Header.Get("X-Slack-Retry-Num"))
	w.WriteHeader(http.StatusOK)
}

// parseEnvelope decodes the outer JSON of an Events API request.
func parseEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return envelope{}, badRequest("malformed event JSON")
	}
	if env.Type == "" {
		return envelope{}, badRequest("not an event: type missing")
	}
	return env, nil
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
