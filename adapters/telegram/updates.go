package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
)

// ErrBusy means another try is handling the same update right now (a
// webhook delivery retried by Telegram while the first is still running).
var ErrBusy = errors.New("telegram: update is being handled by another try")

// Handling an update has two phases. Deciding reads the update, asks the
// router (which changes state) and writes down what to tell Telegram: an
// outcome, a list of ops. Performing sends the ops. The outcome is saved
// between the two, so a try that fails while performing is resumed by the
// next one (Telegram's webhook retry, or the poller fetching the update
// again) without asking the router twice.

// Op kinds.
const (
	opAnswer = "answer" // answerCallbackQuery
	opSend   = "send"   // sendMessage
	opEdit   = "edit"   // editMessageText
)

// outcome is what remains to tell Telegram for one update.
type outcome struct {
	Ops []op `json:"ops,omitempty"`
	// Next is the first op not yet done.
	Next int `json:"next,omitempty"`
}

// op is one call to the Bot API.
type op struct {
	Kind string `json:"kind"`
	// Callback and Alert: answer Callback, showing Text as an alert.
	Callback string `json:"callback,omitempty"`
	Alert    bool   `json:"alert,omitempty"`
	Text     string `json:"text,omitempty"`

	Chat    int64 `json:"chat,omitempty"`
	Message int   `json:"message,omitempty"` // edit: the message; send: the one replied to
	// HTML and Buttons: the message to send, or to replace Message with.
	HTML    string       `json:"html,omitempty"`
	Buttons []bot.Button `json:"buttons,omitempty"`
	// Remember: keep the message in the memo so that it can be edited later;
	// Body is the card body it shows in full, Split that it is the last part
	// of a split card (cardParts).
	Remember bool   `json:"remember,omitempty"`
	Body     string `json:"body,omitempty"`
	Split    bool   `json:"split,omitempty"`
	// Card and Reply: edit Message to show Card as it now stands, with Reply
	// above it (showCard: in the layout the message was sent in).
	Card  *bot.Card `json:"card,omitempty"`
	Reply string    `json:"reply,omitempty"`
	// Force and Prompt: send with a force-reply markup, and remember the
	// sent message as a prompt whose answer completes Prompt.Command.
	Force  string  `json:"force,omitempty"` // the input placeholder
	Prompt *prompt `json:"prompt,omitempty"`
	// Line and Seq: add Line to the remembered Message (as line Seq) and
	// show it; Fallback is the message's plain text when it is not
	// remembered, with its Buttons.
	Line     string `json:"line,omitempty"`
	Seq      int64  `json:"seq,omitempty"`
	Fallback string `json:"fallback,omitempty"`
}

// prompt is a question the bot asked with a force-reply message: the reply
// to it is the end of Command ("reject YQ-7" + " <reason>"). Origin is the
// message the question is about, which gets the outcome as a line.
type prompt struct {
	Command string `json:"command"`
	Chat    int64  `json:"chat"`
	Origin  int    `json:"origin,omitempty"`
	Label   string `json:"label,omitempty"`
}

func promptKey(chat int64, msgID int) string {
	return "prompt:" + strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(msgID)
}

// HandleUpdate handles one update once: a typed command, a reply to a
// prompt, a button press or the bot joining a chat. A duplicate of a handled
// update does nothing and returns nil. It returns ErrBusy when another try
// holds the update, and any other error when handling failed; the update
// must then be handled again (the next try resumes where this one stopped).
func (a *Adapter) HandleUpdate(ctx context.Context, u tgbotapi.Update) error {
	id := int64(u.UpdateID)
	try := newOwner()
	cctx, cancel := context.WithTimeout(ctx, claimTimeout)
	claimed, done, saved, err := a.updates.ClaimUpdate(cctx, id, try, a.claimLease)
	cancel()
	if err != nil {
		// The claim may still be taken when Redis answers again (it was
		// sent, the reply did not come): it is given up then, so that the
		// redelivery is not refused as in progress for the whole lease.
		a.abandonLater(ctx, id, try, true)
		return fmt.Errorf("claim update %d: %w", id, err)
	}
	if !claimed {
		if done {
			return nil
		}
		return ErrBusy
	}
	var out outcome
	if saved != nil {
		if err := json.Unmarshal(saved, &out); err != nil {
			a.log.ErrorContext(ctx, "telegram: saved outcome unreadable; dropping it", "update", id, "err", err)
			out = outcome{}
		}
	} else {
		dctx, cancel := context.WithTimeout(ctx, decideTimeout)
		if a.once != nil {
			// Should the outcome not be saved, a redelivery decides again:
			// the command it ran is then refused as repeated, not run twice.
			dctx, _ = a.once.Once(dctx, "telegram:update:"+strconv.FormatInt(id, 10), updateOnceTTL)
		}
		out, err = a.decide(dctx, u)
		cancel()
		if err != nil {
			a.abandon(ctx, id, try)
			return fmt.Errorf("update %d: %w", id, err)
		}
		if len(out.Ops) > 0 {
			a.save(ctx, id, out)
		}
	}
	if err := a.perform(ctx, id, &out); err != nil {
		a.abandon(ctx, id, try) // perform saved its progress
		return fmt.Errorf("update %d: %w", id, err)
	}
	if err := a.updates.FinishUpdate(ctx, id); err != nil {
		return fmt.Errorf("finish update %d: %w", id, err)
	}
	return nil
}

func (a *Adapter) save(ctx context.Context, id int64, out outcome) {
	b, err := json.Marshal(out)
	if err == nil {
		err = a.updates.SaveUpdate(ctx, id, b)
	}
	if err != nil {
		// A retry will decide again: the router refuses what was done.
		a.log.WarnContext(ctx, "telegram: save outcome", "update", id, "err", err)
	}
}

// abandon gives try's claim of an update up, so that Telegram's
// redelivery is handled at once. When the store cannot be reached (the
// reason the try failed, often), it tries again in the background.
func (a *Adapter) abandon(ctx context.Context, id int64, try string) {
	err := a.updates.AbandonUpdate(ctx, id, try)
	if err == nil {
		return
	}
	a.log.WarnContext(ctx, "telegram: abandon update; trying again in the background", "update", id, "err", err)
	a.abandonLater(ctx, id, try, false)
}

// abandonLater gives try's claim up in the background, every retryWait
// until the claim would have ended anyway: a stall of a few seconds does
// not leave the update refused as "in progress" for the whole lease. It
// stops at the first success, unless the claim itself may still arrive
// (always: its reply was lost, so it may run when Redis comes back).
func (a *Adapter) abandonLater(ctx context.Context, id int64, try string, always bool) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx := context.WithoutCancel(ctx)
		for waited := time.Duration(0); waited < a.claimLease; waited += a.retryWait {
			time.Sleep(a.retryWait)
			actx, cancel := context.WithTimeout(ctx, a.retryWait)
			err := a.updates.AbandonUpdate(actx, id, try)
			cancel()
			if err == nil && !always {
				return
			}
		}
	}()
}

// decide turns an update into ops. It fails only before the router is
// asked: after that, nothing can fail.
func (a *Adapter) decide(ctx context.Context, u tgbotapi.Update) (outcome, error) {
	switch {
	case u.Message != nil:
		return a.decideMessage(ctx, int64(u.UpdateID), u.Message)
	case u.CallbackQuery != nil:
		return a.decideCallback(ctx, int64(u.UpdateID), u.CallbackQuery), nil
	case u.MyChatMember != nil:
		return a.decideMembership(u.MyChatMember), nil
	}
	return outcome{}, nil
}

// actor is the roster ID of a Telegram user, "" when the roster does not
// know them.
func (a *Adapter) actor(u *tgbotapi.User) string {
	if u == nil {
		return ""
	}
	if p, ok := a.roster.ByAccount(Platform.Name, account(u)); ok {
		return p.ID
	}
	return ""
}

// account is a Telegram user's ID as the roster lists it.
func account(u *tgbotapi.User) string {
	if u == nil {
		return ""
	}
	return strconv.FormatInt(u.ID, 10)
}

// routerRequest is a router request by u, who the roster may not know: then the
// router tells them what to add to it.
func (a *Adapter) routerRequest(u *tgbotapi.User, chat int64) *bot.Request {
	req := &bot.Request{Platform: bot.PlatformTelegram, Actor: a.actor(u), Account: account(u)}
	if u != nil {
		req.AccountName = u.UserName
	}
	if chat != 0 {
		req.Conversation = strconv.FormatInt(chat, 10)
	}
	return req
}

// isCommand reports whether m starts with a bot command whose entity fits
// its text. tgbotapi slices the text by the entity's length unchecked: an
// entity longer than the text (which only an update forged with the webhook
// secret can carry) would panic, taking the webhook request down, or the
// process in poll mode. Such a message is text, not a command.
func isCommand(m *tgbotapi.Message) bool {
	if !m.IsCommand() {
		return false
	}
	e := m.Entities[0]
	return e.Length >= 1 && e.Length <= len(m.Text)
}

// decideMessage handles a typed message: a reply to a prompt, a command, or
// in a private chat any line. seq is the update ID, which orders the lines
// added to a message.
func (a *Adapter) decideMessage(ctx context.Context, seq int64, m *tgbotapi.Message) (outcome, error) {
	if m.Chat == nil {
		return outcome{}, nil
	}
	chat := m.Chat.ID
	switch {
	case m.MigrateToChatID != 0:
		// Telegram's service message in the old group: sent by no one,
		// with no text, in a group (not yet a supergroup).
		if m.Chat.Type == "group" && m.Text == "" {
			a.rememberMigration(ctx, "update", chat, m.MigrateToChatID)
		} else {
			a.refuseMigration(ctx, "update", chat, m.MigrateToChatID, "not a service message of a group")
		}
		return outcome{}, nil
	case m.MigrateFromChatID != 0:
		if m.Chat.Type == "supergroup" && m.Text == "" {
			a.rememberMigration(ctx, "update", m.MigrateFromChatID, chat)
		} else {
			a.refuseMigration(ctx, "update", m.MigrateFromChatID, chat, "not a service message of a supergroup")
		}
		return outcome{}, nil
	case m.From == nil || m.From.IsBot:
		return outcome{}, nil
	}
	if r := m.ReplyToMessage; r != nil && !isCommand(m) {
		v, ok, err := a.memo.GetMemo(ctx, promptKey(chat, r.MessageID))
		if err != nil {
			return outcome{}, err
		}
		if ok {
			var p prompt
			if err := json.Unmarshal([]byte(v), &p); err == nil {
				return a.answerPrompt(ctx, seq, m, p), nil
			}
		}
	}
	if isCommand(m) {
		name, at, _ := strings.Cut(m.CommandWithAt(), "@")
		if me := a.Username(); at != "" && me != "" && !strings.EqualFold(at, me) {
			return outcome{}, nil // for another bot in the group
		}
		switch strings.ToLower(name) {
		case "incident":
			return a.route(ctx, m, m.Text), nil
		case "help":
			return a.route(ctx, m, "help "+m.CommandArguments()), nil
		case "start", "whoami":
			return a.reply(m, a.whoami(m)), nil
		}
		if m.Chat.IsPrivate() {
			return a.reply(m, esc(fmt.Sprintf(a.t("Unknown command /%s. Try /incident help, or /whoami.",
				"未知命令 /%s。请试试 /incident help 或 /whoami。"), name))), nil
		}
		return outcome{}, nil
	}
	// In a private chat every line is a command: "status YQ-7" works
	// without the /incident in front, as in the console.
	if m.Chat.IsPrivate() && strings.TrimSpace(m.Text) != "" {
		return a.route(ctx, m, m.Text), nil
	}
	return outcome{}, nil
}

// route asks the router to run a typed command and replies with its answer.
func (a *Adapter) route(ctx context.Context, m *tgbotapi.Message, text string) outcome {
	req := a.routerRequest(m.From, m.Chat.ID)
	req.Text = text
	return a.replyWith(m, a.router.Handle(ctx, req))
}

// replyWith answers a message with a router reply: its text and card as HTML
// (cut into parts when long), buttons on the last part.
func (a *Adapter) replyWith(m *tgbotapi.Message, reply *bot.Reply) outcome {
	var buttons []bot.Button
	if reply.Card != nil {
		buttons = reply.Card.Buttons
	}
	var out outcome
	parts, split := cardParts(reply.Text, reply.Card, len(buttons) > 0)
	for i, p := range parts {
		o := op{Kind: opSend, Chat: m.Chat.ID, Message: m.MessageID, HTML: p}
		if i == len(parts)-1 && len(buttons) > 0 {
			o.Buttons, o.Remember, o.Split = buttons, true, split
			if !split {
				o.Body = reply.Card.Body
			}
		}
		out.Ops = append(out.Ops, o)
	}
	return out
}

// reply answers a message with adapter HTML.
func (a *Adapter) reply(m *tgbotapi.Message, html string) outcome {
	return outcome{Ops: []op{{Kind: opSend, Chat: m.Chat.ID, Message: m.MessageID, HTML: html}}}
}

// answerPrompt completes a prompt's command with the reply's text (the
// reason of a rejection), routes it, answers, and on success adds the
// outcome to the message the prompt was about.
func (a *Adapter) answerPrompt(ctx context.Context, seq int64, m *tgbotapi.Message, p prompt) outcome {
	req := a.routerRequest(m.From, m.Chat.ID)
	req.Text = p.Command + " " + m.Text
	reply := a.router.Handle(ctx, req)
	actor := req.Actor
	out := a.replyWith(m, reply)
	if !reply.Failed && p.Origin != 0 {
		out.Ops = append(out.Ops, op{Kind: opEdit, Chat: p.Chat, Message: p.Origin, Seq: seq,
			Line: a.decisionLine(actor, p.Label, reply.Text)})
	}
	return out
}

// decideCallback handles a button press: the router runs it as the person
// with the presser's Telegram user ID. The press is always answered; a
// refusal as an alert, so the reason is read. On success the message shows
// who pressed what and the reply (what is still needed); a card in the
// reply replaces the message. A Reject press asks for the reason instead.
func (a *Adapter) decideCallback(ctx context.Context, seq int64, q *tgbotapi.CallbackQuery) outcome {
	answer := func(text string, alert bool) op {
		return op{Kind: opAnswer, Callback: q.ID, Text: shorten(text, maxCallbackText-10), Alert: alert}
	}
	action, err := bot.ParseAction(q.Data)
	if err != nil {
		return outcome{Ops: []op{answer(a.t("⚠ This button is not known; nothing was changed.",
			"⚠ 无法识别此按钮,未做任何更改。"), true)}}
	}
	var chat int64
	if q.Message != nil && q.Message.Chat != nil {
		chat = q.Message.Chat.ID
	}
	req := a.routerRequest(q.From, chat)
	req.Action = &action
	reply := a.router.Handle(ctx, req)
	actor := req.Actor
	if reply.Failed {
		// An alert is cut at 200 characters: the refusal of someone not in
		// the roster says what to add first.
		return outcome{Ops: []op{answer(reply.Text, true)}}
	}
	if q.Message == nil || q.Message.Chat == nil {
		return outcome{Ops: []op{answer(reply.Text, false)}}
	}
	chat, msgID := q.Message.Chat.ID, q.Message.MessageID
	pressedOn := buttonsOf(q.Message.ReplyMarkup)
	label := action.Name
	for _, b := range pressedOn {
		if b.ID == q.Data {
			label = b.Label
		}
	}
	if action.Name == "reject" && len(action.Args) > 0 {
		// A button cannot carry the reason: ask for it, as a reply.
		ask := fmt.Sprintf(a.t("%s, reply to this message with the reason for rejecting.",
			"%s,请直接回复本消息说明驳回理由。"), mention(q.From, a.personName(actor)))
		return outcome{Ops: []op{
			answer(a.t("Reply to the bot's message with the reason.", "请回复机器人的消息说明理由。"), false),
			{Kind: opSend, Chat: chat, Message: msgID, HTML: ask + "\n" + esc(reply.Text),
				Force:  a.t("Reason for rejecting", "驳回理由"),
				Prompt: &prompt{Command: rejectCommand(action), Chat: chat, Origin: msgID, Label: label}},
		}}
	}
	ops := []op{answer(reply.Text, false)}
	if reply.Card != nil {
		ops = append(ops, op{Kind: opEdit, Chat: chat, Message: msgID, Card: reply.Card, Reply: reply.Text})
	} else {
		ops = append(ops, op{Kind: opEdit, Chat: chat, Message: msgID, Seq: seq,
			Line: a.decisionLine(actor, label, reply.Text), Fallback: q.Message.Text, Buttons: pressedOn})
	}
	return outcome{Ops: ops}
}

// decisionLine is the line added to a message when someone acted on it:
// "✔ 10:42 Zhao Lei · Approve: <the reply>".
func (a *Adapter) decisionLine(actor, label, text string) string {
	at := a.clock.Now().In(a.roster.Location()).Format("15:04")
	return fmt.Sprintf("✔ %s <b>%s</b> · %s: %s", at, esc(a.personName(actor)), esc(label), esc(text))
}

func (a *Adapter) personName(actor string) string {
	if actor == "" {
		return "?"
	}
	return a.roster.Name(actor)
}

// mention links to a Telegram user by ID, so a selective force-reply
// reaches them without needing a @username.
func mention(u *tgbotapi.User, name string) string {
	if u == nil {
		return esc(name)
	}
	return fmt.Sprintf(`<a href="tg://user?id=%d">%s</a>`, u.ID, esc(name))
}

// decideMembership greets a chat the bot was added to with the chat's ID,
// which the roster needs.
func (a *Adapter) decideMembership(c *tgbotapi.ChatMemberUpdated) outcome {
	switch c.NewChatMember.Status {
	case "member", "administrator":
	default:
		return outcome{}
	}
	switch c.OldChatMember.Status {
	case "member", "administrator", "creator":
		return outcome{} // a change of rights, not a join
	}
	if c.Chat.IsPrivate() {
		return outcome{}
	}
	return outcome{Ops: []op{{Kind: opSend, Chat: c.Chat.ID, HTML: a.chatIDText(c.Chat.ID)}}}
}

// perform runs the ops from out.Next on, advancing it after each.
func (a *Adapter) perform(ctx context.Context, id int64, out *outcome) error {
	for out.Next < len(out.Ops) {
		if err := a.do(ctx, out.Ops[out.Next]); err != nil {
			return err
		}
		out.Next++
		if out.Next < len(out.Ops) {
			a.save(ctx, id, *out)
		}
	}
	return nil
}

func (a *Adapter) do(ctx context.Context, o op) error {
	switch o.Kind {
	case opAnswer:
		cb := tgbotapi.NewCallback(o.Callback, o.Text)
		cb.ShowAlert = o.Alert
		if _, err := a.request(ctx, "answerCallbackQuery", cb); err != nil {
			// An answer comes too late after about 15 seconds, and the
			// query cannot be answered again: never hold the rest for it.
			a.log.WarnContext(ctx, "telegram: answer callback query", "err", err)
		}
		return nil
	case opSend:
		var force *tgbotapi.ForceReply
		if o.Force != "" {
			force = &tgbotapi.ForceReply{ForceReply: true, Selective: true, InputFieldPlaceholder: shorten(o.Force, 64)}
		}
		msg, chat, err := a.sendHTML(ctx, o.Chat, o.HTML, keyboard(o.Buttons), o.Message, force)
		if err != nil && permanent(err) {
			// Removed from the group, blocked by the person: trying again
			// would hold every later update back for nothing.
			a.log.ErrorContext(ctx, "telegram: reply refused; dropping it", "chat", o.Chat, "err", err)
			return nil
		}
		if err != nil {
			return err
		}
		if o.Remember && len(o.Buttons) > 0 {
			rec := sentMessage{html: o.HTML, buttons: o.Buttons, body: o.Body, split: o.Split}
			if err := a.saveMessage(ctx, chat, msg.MessageID, rec); err != nil {
				a.log.WarnContext(ctx, "telegram: remember message", "chat", chat, "err", err)
			}
		}
		if o.Prompt != nil {
			b, _ := json.Marshal(o.Prompt)
			if err := a.memo.SetMemo(ctx, promptKey(chat, msg.MessageID), string(b), promptTTL); err != nil {
				a.log.WarnContext(ctx, "telegram: remember prompt", "chat", chat, "err", err)
			}
		}
		return nil
	case opEdit:
		var err error
		switch {
		case o.Line != "":
			err = a.editWithLine(ctx, o)
		case o.Card != nil:
			err = a.editCard(ctx, o)
		default: // an outcome saved by an earlier release
			err = a.editText(ctx, o.Chat, o.Message, o.HTML, keyboard(o.Buttons))
			if err == nil && o.Remember {
				if err := a.saveMessage(ctx, o.Chat, o.Message, sentMessage{html: o.HTML, buttons: o.Buttons}); err != nil {
					a.log.WarnContext(ctx, "telegram: remember message", "chat", o.Chat, "err", err)
				}
			}
		}
		if err != nil && permanent(err) {
			// The message is gone or too old to edit: the answer said it all.
			a.log.WarnContext(ctx, "telegram: edit message", "chat", o.Chat, "message", o.Message, "err", err)
			return nil
		}
		return err
	}
	return fmt.Errorf("unknown op %q", o.Kind)
}

// editCard edits a message to show a card as it now stands (the reply to a
// press on it), in the layout the message was sent in, and remembers it.
func (a *Adapter) editCard(ctx context.Context, o op) error {
	rec, _, err := a.loadMessage(ctx, o.Chat, o.Message)
	if err != nil {
		return err
	}
	rec = a.showCard(rec, o.Reply, o.Card)
	if err := a.editText(ctx, o.Chat, o.Message, rec.render(), keyboard(rec.buttons)); err != nil {
		return err
	}
	if err := a.saveMessage(ctx, o.Chat, o.Message, rec); err != nil {
		a.log.WarnContext(ctx, "telegram: remember message", "chat", o.Chat, "err", err)
	}
	return nil
}

// editWithLine adds a line to a message, keeping its text and buttons.
func (a *Adapter) editWithLine(ctx context.Context, o op) error {
	rec, ok, err := a.addLine(ctx, o.Chat, o.Message, o.Seq, o.Line)
	if err != nil {
		return err
	}
	if !ok {
		rec = sentMessage{html: esc(o.Fallback), buttons: o.Buttons, lines: []string{o.Line}}
	}
	return a.editText(ctx, o.Chat, o.Message, rec.render(), keyboard(rec.buttons))
}

// whoami tells a person their Telegram user ID and whether the roster knows
// them, and if not what to add to it (bot.Onboarding); in a group, also the
// group's chat ID.
func (a *Adapter) whoami(m *tgbotapi.Message) string {
	u := m.From
	var b strings.Builder
	fmt.Fprintf(&b, a.t("Your Telegram user ID is <code>%d</code>.", "您的 Telegram 用户 ID 是 <code>%d</code>。"), u.ID)
	if p, ok := a.roster.ByAccount(Platform.Name, account(u)); ok {
		roles := make([]string, len(p.Roles))
		for i, r := range p.Roles {
			roles[i] = string(r)
		}
		b.WriteString(" " + esc(fmt.Sprintf(a.t("The roster knows you as %s (%s), roles: %s.", "名册中您是 %s(%s),角色:%s。"),
			p.Name, p.ID, strings.Join(roles, ", "))))
	} else {
		o := bot.Onboarding{Platform: Platform.Name, Account: account(u), Handle: u.UserName,
			Name: strings.TrimSpace(u.FirstName + " " + u.LastName)}
		b.WriteString(" " + a.t("The roster does not know you yet.", "名册中还没有您。") + " " + esc(o.Ask().In(a.locale)))
		fmt.Fprintf(&b, "\n<pre>%s</pre>", esc(o.Entry().In(a.locale)))
	}
	if !m.Chat.IsPrivate() {
		b.WriteString("\n\n" + a.chatIDText(m.Chat.ID))
	}
	return b.String()
}

// chatIDText tells a group its chat ID and how the roster names it.
func (a *Adapter) chatIDText(chat int64) string {
	return fmt.Sprintf(a.t("This chat's ID is <code>%d</code>. To have Firebreak speak here, name it under channels: in the roster, e.g.",
		"本群的 ID 是 <code>%d</code>。要让 Firebreak 在此发言,请在名册的 channels: 下写明,例如")+
		"\n<pre>  leaders: {telegram: %d}</pre>", chat, chat)
}

// rejectCommand is the command a reply to the reject prompt completes:
// "reject YQ-7 v2", so the reason lands on the version whose button was
// pressed even if a newer draft arrived meanwhile.
func rejectCommand(a bot.Action) string {
	cmd := "reject " + a.Args[0]
	if len(a.Args) > 1 {
		cmd += " v" + a.Args[1]
	}
	return cmd
}
