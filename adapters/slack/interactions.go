package slack

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
)

// serveInteractions answers POST /slack/interactions: a form whose payload
// field is the JSON of the interaction. It acknowledges at once; the answer
// goes to the response_url.
func (a *Adapter) serveInteractions(w http.ResponseWriter, r *http.Request) {
	form, ok := a.readForm(w, r)
	if !ok {
		return
	}
	cb, err := parseInteraction([]byte(form.Get("payload")))
	if err != nil {
		a.refuse(w, r, err)
		return
	}
	a.runInteraction(r.Context(), cb)
	w.WriteHeader(http.StatusOK)
}

// parseInteraction decodes an interaction payload.
func parseInteraction(payload []byte) (*slackgo.InteractionCallback, error) {
	if len(bytes.TrimSpace(payload)) == 0 {
		return nil, badRequest("no payload")
	}
	var cb slackgo.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return nil, badRequest("malformed payload JSON")
	}
	if cb.Type == "" || cb.User.ID == "" {
		return nil, badRequest("not an interaction: type or user missing")
	}
	return &cb, nil
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

// whoActed is the line under a card updated by a button press.
func (a *Adapter) whoActed(label, name string) string {
	if label == "" {
		return fmt.Sprintf(a.t("✓ %s", "✓ %s 已操作"), name)
	}
	return fmt.Sprintf(a.t("✓ %[1]s — %[2]s", "✓ %[2]s:%[1]s"), label, name)
}
