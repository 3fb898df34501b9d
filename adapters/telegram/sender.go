package telegram

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// How long the memo keeps what it needs to edit a message later (approval
// requests live for hours or days) and a reply prompt.
const (
	messageTTL = 30 * 24 * time.Hour
	promptTTL  = 48 * time.Hour
)

// Sender returns the outbox sender for Telegram: Platform "telegram", Target
// the chat ID of a notice's audience (the roster channel's Telegram chat, or
// the person's Telegram user ID for a direct message).
func (a *Adapter) Sender() bot.Sender { return sender{a} }

type sender struct{ a *Adapter }

// Platform is "telegram".
func (s sender) Platform() string { return bot.PlatformTelegram }

// coalesceBudget is the most text of a message that covers many notices:
// Telegram's limit is 4,096 after entities are parsed, and the adapter
// sends at most maxVisible in one message, headings and footer included.
const coalesceBudget = 3800

var _ bot.BudgetSender = sender{}

// MessageBudget implements bot.BudgetSender.
func (s sender) MessageBudget() int { return coalesceBudget }

// Target is the chat ID of n's audience as the roster gives it, "" when the
// audience has no Telegram chat.
func (s sender) Target(n workflow.Notice) string {
	chat, ok := s.a.chatOf(n.Audience)
	if !ok {
		return ""
	}
	return strconv.FormatInt(chat, 10)
}

// RateLimit is Telegram's limit: at most 20 messages per minute in a group
// (negative chat IDs), about one per second in any other chat.
func (s sender) RateLimit(target string) bot.RateLimit {
	if strings.HasPrefix(target, "-") {
		return bot.RateLimit{Interval: 3 * time.Second, Burst: 1}
	}
	return bot.RateLimit{Interval: time.Second, Burst: 1}
}

// Send delivers m to n's audience; see Adapter.send.
func (s sender) Send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	return s.a.send(ctx, n, m)
}

// chatOf resolves an audience to a Telegram chat.
func (a *Adapter) chatOf(aud workflow.Audience) (int64, bool) {
	var id string
	if person, ok := aud.Person(); ok {
		p, ok := a.roster.Person(person)
		if !ok {
			return 0, false
		}
		id, _ = p.Account(Platform.Name)
	} else {
		id, _ = a.roster.Address(string(aud), Platform.Name)
	}
	// The roster holds IDs as Platform read them: integers, never 0.
	chat, err := strconv.ParseInt(id, 10, 64)
	return chat, err == nil && chat != 0
}

// send delivers m to the audience of n. A message with a card and a thread
// is remembered, so that later refreshes of the thread edit it in place
// (counts, who decided, buttons that no longer apply); a refresh edits every
// remembered message of the thread in the chat and posts nothing. A message
// sent Once that the chat has already (a retried delivery) edits it instead
// of posting again. A group that became a supergroup is followed, and
// remembered.
func (a *Adapter) send(ctx context.Context, n workflow.Notice, m bot.Message) error {
	chat, ok := a.chatOf(n.Audience)
	if !ok {
		return bot.ErrNoRoute
	}
	chat, err := a.follow(ctx, chat)
	if err != nil {
		return err
	}
	if m.Refresh || m.Once {
		switch done, err := a.refresh(ctx, chat, m); {
		case err != nil:
			return err
		case done:
			return nil
		case m.Refresh:
			return bot.ErrNoRoute // nothing posted here to bring up to date
		}
	}
	var buttons []bot.Button
	if m.Card != nil {
		buttons = m.Card.Buttons
	}
	editable := m.Card != nil && (len(buttons) > 0 || m.Thread != "")
	parts, split := cardParts(m.Text, m.Card, editable)
	// A message in several parts resumes where a failed try stopped (a 429
	// on the third part): the parts already out are not sent again.
	progress := partsKey(n.ID, chat)
	from := 0
	if len(parts) > 1 {
		if v, ok, err := a.memo.GetMemo(ctx, progress); err != nil {
			return err
		} else if ok {
			from, _ = strconv.Atoi(v)
		}
	}
	var last tgbotapi.Message
	for i := from; i < len(parts); i++ {
		var kb *tgbotapi.InlineKeyboardMarkup
		if i == len(parts)-1 {
			kb = keyboard(buttons)
		}
		msg, to, err := a.sendHTML(ctx, chat, parts[i], kb, 0, nil)
		if err != nil {
			return err
		}
		chat, last = to, msg
		if i < len(parts)-1 {
			if err := a.memo.SetMemo(ctx, progress, strconv.Itoa(i+1), promptTTL); err != nil {
				a.log.WarnContext(ctx, "telegram: remember parts sent", "notice", n.ID, "err", err)
			}
		}
	}
	// The message is out: a failure to remember it only costs a later edit,
	// while an error here would have it sent twice. Only the last part is
	// remembered, and edited later: the parts before it hold no state (a
	// split card), or are a reply's, which no one edits.
	if editable {
		if err := a.saveMessage(ctx, chat, last.MessageID, sentCard(parts[len(parts)-1], m.Card, split)); err != nil {
			a.log.WarnContext(ctx, "telegram: remember message", "chat", chat, "err", err)
		}
	}
	if m.Card != nil && m.Thread != "" {
		field := threadField(chat, last.MessageID)
		if err := a.memo.SetMemoFields(ctx, threadKey(m.Thread), map[string]string{field: "1"}, messageTTL); err != nil {
			a.log.WarnContext(ctx, "telegram: remember thread message", "thread", m.Thread, "err", err)
		}
	}
	return nil
}

func partsKey(notice string, chat int64) string {
	return "parts:" + notice + ":" + strconv.FormatInt(chat, 10)
}

func threadKey(thread string) string { return "thread:" + thread }

func threadField(chat int64, msgID int) string {
	return strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(msgID)
}

// refresh edits the messages of m's thread posted to chat to show m's card
// (keeping the lines added when people pressed its buttons), with m's
// buttons only. It reports whether the chat had any. A message that is gone
// or can no longer be edited is forgotten; when Telegram refuses the new
// text, the message at least loses the buttons that no longer apply.
func (a *Adapter) refresh(ctx context.Context, chat int64, m bot.Message) (bool, error) {
	if m.Thread == "" || m.Card == nil {
		return false, nil
	}
	fields, err := a.memo.MemoFields(ctx, threadKey(m.Thread))
	if err != nil {
		return false, err
	}
	prefix := strconv.FormatInt(chat, 10) + ":"
	found := false
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		rest, ok := strings.CutPrefix(field, prefix)
		if !ok {
			continue
		}
		msgID, err := strconv.Atoi(rest)
		if err != nil {
			continue
		}
		found = true
		rec, _, err := a.loadMessage(ctx, chat, msgID)
		if err != nil {
			return false, err
		}
		rec = a.showCard(rec, "", m.Card)
		err = a.editText(ctx, chat, msgID, rec.render(), keyboard(m.Card.Buttons))
		if err != nil && permanent(err) {
			a.log.WarnContext(ctx, "telegram: edit card; removing its buttons only", "chat", chat, "message", msgID, "err", err)
			if len(m.Card.Buttons) == 0 {
				err = a.editMarkup(ctx, chat, msgID, noKeyboard())
			}
			if err == nil || permanent(err) {
				_ = a.memo.DeleteMemoFields(ctx, threadKey(m.Thread), field)
				continue
			}
		}
		if err != nil {
			return false, err
		}
		if err := a.saveMessage(ctx, chat, msgID, rec); err != nil {
			a.log.WarnContext(ctx, "telegram: remember edited message", "chat", chat, "err", err)
		}
	}
	return found, nil
}

// showCard is rec edited to show card as it now stands, with text (the
// reply to a press) above it. A message that holds only a card's state (the
// last part of a split card) keeps holding only that: its body is in the
// parts before, never edited. One that holds a card's body in full keeps
// it in full when card brings it shortened: it is the copy that the
// shortened quotes point to. Should the message outgrow Telegram's limit
// even so, the body is cut, pointing to the incident's page.
func (a *Adapter) showCard(rec sentMessage, text string, card *bot.Card) sentMessage {
	c := *card
	switch {
	case rec.split:
		c.Body = ""
	case c.Shortens(rec.body):
		c.Body = rec.body
	}
	more := ""
	if c.Incident != "" {
		more = "\n" + fmt.Sprintf(a.t("(the full text is on the incident page /incidents/%s)",
			"(全文见事件页面 /incidents/%s)"), c.Incident)
	}
	rec.html = fitCard(text, &c, more)
	rec.buttons = card.Buttons
	if !rec.split {
		rec.body = c.Body
	}
	return rec
}

// sentMessage is what the memo keeps of a message with buttons, so that it
// can be edited later: its HTML as sent, its buttons and the lines added
// since (who decided what); for a card, the body it shows in full, or that
// it shows none because the body is in messages of its own (split).
type sentMessage struct {
	html    string
	buttons []bot.Button
	lines   []string
	body    string
	split   bool
}

// sentCard is what the memo keeps of a message of card sent as html, the
// last part of a split card when split.
func sentCard(html string, card *bot.Card, split bool) sentMessage {
	m := sentMessage{html: html, split: split}
	if card != nil {
		m.buttons = card.Buttons
		if !split {
			m.body = card.Body
		}
	}
	return m
}

// render is the message with its added lines; when they would take it
// over Telegram's limit, the oldest are left out (the card says where
// things stand).
func (m sentMessage) render() string {
	for lines := m.lines; ; lines = lines[1:] {
		if len(lines) == 0 {
			return m.html
		}
		if s := m.html + "\n\n" + strings.Join(lines, "\n"); visibleLen(s) <= maxVisible {
			return s
		}
	}
}

func messageKey(chat int64, msgID int) string {
	return "msg:" + strconv.FormatInt(chat, 10) + ":" + strconv.Itoa(msgID)
}

func (a *Adapter) saveMessage(ctx context.Context, chat int64, msgID int, m sentMessage) error {
	split := ""
	if m.split {
		split = "1"
	}
	return a.memo.SetMemoFields(ctx, messageKey(chat, msgID), map[string]string{
		"html": m.html, "kb": encodeButtons(m.buttons), "body": m.body, "split": split}, messageTTL)
}

func (a *Adapter) loadMessage(ctx context.Context, chat int64, msgID int) (sentMessage, bool, error) {
	fields, err := a.memo.MemoFields(ctx, messageKey(chat, msgID))
	if err != nil {
		return sentMessage{}, false, err
	}
	h, ok := fields["html"]
	if !ok {
		return sentMessage{}, false, nil
	}
	m := sentMessage{html: h, buttons: decodeButtons(fields["kb"]), body: fields["body"], split: fields["split"] == "1"}
	// Lines are "l:<seq>" with seq zero-padded: sorted keys are in order.
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if strings.HasPrefix(k, "l:") {
			m.lines = append(m.lines, fields[k])
		}
	}
	return m, true, nil
}

// addLine adds line number seq (the update ID: a retried update writes the
// same field again) to a remembered message and returns the message; ok is
// false when the message is not remembered.
func (a *Adapter) addLine(ctx context.Context, chat int64, msgID int, seq int64, line string) (sentMessage, bool, error) {
	if _, ok, err := a.loadMessage(ctx, chat, msgID); err != nil || !ok {
		return sentMessage{}, false, err
	}
	field := fmt.Sprintf("l:%020d", seq)
	if err := a.memo.SetMemoFields(ctx, messageKey(chat, msgID), map[string]string{field: line}, messageTTL); err != nil {
		return sentMessage{}, false, err
	}
	return a.loadMessage(ctx, chat, msgID)
}

// follow returns the chat that chat migrated to, if it did.
func (a *Adapter) follow(ctx context.Context, chat int64) (int64, error) {
	for range 3 { // a group migrates once; never loop on a bad memo
		v, ok, err := a.memo.GetMemo(ctx, migratedKey(chat))
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		to, err := strconv.ParseInt(v, 10, 64)
		if err != nil || to == chat {
			break
		}
		chat = to
	}
	return chat, nil
}

func migratedKey(chat int64) string { return "chat:" + strconv.FormatInt(chat, 10) }

// rememberMigration records that group from became supergroup to, so that
// later messages go there directly. It is honoured only for a chat the
// roster names, towards a supergroup ID (-100…): a forged update (it needs
// the webhook secret) can no longer send a roster chat's messages anywhere
// else, and every migration, followed or refused, is logged and counted.
// source is "update" (Telegram's service message) or "api" (a send refused
// with migrate_to_chat_id). It reports whether the migration is followed.
func (a *Adapter) rememberMigration(ctx context.Context, source string, from, to int64) bool {
	switch {
	case !a.rosterChat(from):
		a.refuseMigration(ctx, source, from, to, "the roster names no such chat")
		return false
	case to > -1_000_000_000_000 || to == from:
		a.refuseMigration(ctx, source, from, to, "the new chat is not a supergroup")
		return false
	}
	// Telegram tells of one migration twice (migrate_to_chat_id in the old
	// group, migrate_from_chat_id in the new supergroup), and a send may
	// learn it again: one that is followed already is not counted again.
	if v, ok, err := a.memo.GetMemo(ctx, migratedKey(from)); err == nil && ok && v == strconv.FormatInt(to, 10) {
		a.log.DebugContext(ctx, "telegram: chat migration followed already", "from", from, "to", to, "source", source)
		return true
	}
	a.log.WarnContext(ctx, "telegram: group became a supergroup; following it (update the roster's telegram ID)",
		"from", from, "to", to, "source", source)
	a.countMigration(source, "followed")
	if err := a.memo.SetMemo(ctx, migratedKey(from), strconv.FormatInt(to, 10), 0); err != nil {
		a.log.WarnContext(ctx, "telegram: remember migrated group", "from", from, "to", to, "err", err)
	}
	return true
}

func (a *Adapter) refuseMigration(ctx context.Context, source string, from, to int64, why string) {
	a.log.WarnContext(ctx, "telegram: chat migration refused", "from", from, "to", to, "source", source, "reason", why)
	a.countMigration(source, "refused")
}

func (a *Adapter) countMigration(source, outcome string) {
	if a.migrations != nil {
		a.migrations.Inc(source, outcome)
	}
}

// rosterChat reports whether some roster channel is the Telegram chat id.
func (a *Adapter) rosterChat(id int64) bool {
	want := strconv.FormatInt(id, 10)
	for _, c := range a.roster.Channels {
		if addr, ok := c.Address(Platform.Name); ok && addr == want {
			return true
		}
	}
	return false
}

// sendHTML sends one HTML message with an optional keyboard (or force-reply
// markup), following a group that was upgraded to a supergroup. It returns
// the message and the chat it went to.
func (a *Adapter) sendHTML(ctx context.Context, chat int64, text string, kb *tgbotapi.InlineKeyboardMarkup, replyTo int, force *tgbotapi.ForceReply) (tgbotapi.Message, int64, error) {
	for attempt := 0; ; attempt++ {
		cfg := tgbotapi.NewMessage(chat, text)
		cfg.ParseMode = tgbotapi.ModeHTML
		cfg.DisableWebPagePreview = true
		cfg.ReplyToMessageID = replyTo
		cfg.AllowSendingWithoutReply = true
		switch {
		case force != nil:
			cfg.ReplyMarkup = force
		case kb != nil:
			cfg.ReplyMarkup = kb
		}
		resp, err := a.request(ctx, "sendMessage", cfg)
		if to := migratedTo(err); to != 0 && to != chat && attempt == 0 {
			if a.rememberMigration(ctx, "api", chat, to) {
				chat = to
				continue
			}
		}
		if err != nil {
			return tgbotapi.Message{}, chat, err
		}
		var msg tgbotapi.Message
		if err := decodeResult(resp, &msg); err != nil {
			return tgbotapi.Message{}, chat, fmt.Errorf("telegram sendMessage: %w", err)
		}
		return msg, chat, nil
	}
}

// editText replaces the text and keyboard of a message; "message is not
// modified" is success.
func (a *Adapter) editText(ctx context.Context, chat int64, msgID int, text string, kb *tgbotapi.InlineKeyboardMarkup) error {
	cfg := tgbotapi.NewEditMessageText(chat, msgID, text)
	cfg.ParseMode = tgbotapi.ModeHTML
	cfg.DisableWebPagePreview = true
	if kb == nil {
		kb = noKeyboard() // say it: the edited message has no buttons
	}
	cfg.ReplyMarkup = kb
	_, err := a.request(ctx, "editMessageText", cfg)
	if notModified(err) {
		return nil
	}
	return err
}

// editMarkup replaces the keyboard of a message; "message is not modified"
// is success.
func (a *Adapter) editMarkup(ctx context.Context, chat int64, msgID int, kb *tgbotapi.InlineKeyboardMarkup) error {
	_, err := a.request(ctx, "editMessageReplyMarkup", tgbotapi.NewEditMessageReplyMarkup(chat, msgID, *kb))
	if notModified(err) {
		return nil
	}
	return err
}
