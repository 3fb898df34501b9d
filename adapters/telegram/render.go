package telegram

import (
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/bot"
)

// Messages are sent with parse_mode HTML: every text that comes from a
// person (titles, drafts, names, reasons) goes through esc, so "*", "_" and
// "<" in a draft are shown as typed and can never break the markup.

// maxVisible is the longest visible text of one message that the adapter
// sends: Telegram's limit is 4096 UTF-16 code units after entity parsing.
const maxVisible = 4000

// editRoom is what a card that will be edited leaves free in its message
// for what edits add: the reply to a press, the lines of who decided what,
// fields that grow (the names of those who approved).
const editRoom = 1000

// maxCallbackText is Telegram's limit on the text of answerCallbackQuery.
const maxCallbackText = 200

func esc(s string) string { return html.EscapeString(s) }

// visibleLen is the length Telegram gives a message of ours in HTML once it
// has parsed the entities: the tags left out, each character reference one
// character, counted in UTF-16 code units. Text from people is escaped, so
// every "<" in our HTML opens a tag.
func visibleLen(h string) int {
	return utf16Len(html.UnescapeString(tagPattern.ReplaceAllString(h, "")))
}

var tagPattern = regexp.MustCompile(`<[^>]*>`)

// utf16Len is the length Telegram measures text in. Ranging over a string
// yields only valid runes (U+FFFD for bad bytes), so RuneLen is never -1.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// block is one paragraph of a message: an optional bold lead ("Status:")
// and its text, wrapped in a tag.
type block struct {
	lead string
	text string
	tag  string // "", "b", "i" or "blockquote"
	gap  bool   // a blank line before it
}

func (b block) html() string {
	var s strings.Builder
	if b.lead != "" {
		s.WriteString("<b>" + esc(b.lead) + "</b> ")
	}
	if b.tag != "" {
		s.WriteString("<" + b.tag + ">")
	}
	s.WriteString(esc(b.text))
	if b.tag != "" {
		s.WriteString("</" + b.tag + ">")
	}
	return s.String()
}

func (b block) visible() int {
	n := utf16Len(b.text)
	if b.lead != "" {
		n += utf16Len(b.lead) + 1
	}
	return n
}

// blocks lays out a text and a card: the text, a blank line, the card's
// title in bold, its fields, its body quoted verbatim and its footer.
func blocks(text string, card *bot.Card) []block {
	var bs []block
	if text != "" {
		bs = append(bs, block{text: text})
	}
	if card != nil {
		bs = append(bs, block{text: card.Title, tag: "b", gap: len(bs) > 0})
		for _, f := range card.Fields {
			bs = append(bs, block{lead: f.Label + ":", text: f.Value})
		}
		if card.Body != "" {
			bs = append(bs, block{text: card.Body, tag: "blockquote"})
		}
		if card.Footer != "" {
			bs = append(bs, block{text: card.Footer, tag: "i"})
		}
	}
	return bs
}

// renderHTML renders a text and a card as one message, however long.
func renderHTML(text string, card *bot.Card) string {
	return joinBlocks(blocks(text, card))
}

func joinBlocks(bs []block) string {
	var s strings.Builder
	for i, b := range bs {
		if i > 0 {
			s.WriteString("\n")
			if b.gap {
				s.WriteString("\n")
			}
		}
		s.WriteString(b.html())
	}
	return s.String()
}

// renderParts renders a text and a card as messages within Telegram's
// length limit: usually one; a longer one is cut between paragraphs, and a
// paragraph longer than a message (a long draft) is cut between lines, each
// piece keeping its formatting. Buttons go on the last part.
func renderParts(text string, card *bot.Card) []string {
	var parts []string
	var cur []block
	size := 0
	flush := func() {
		if len(cur) > 0 {
			cur[0].gap = false
			parts = append(parts, joinBlocks(cur))
			cur, size = nil, 0
		}
	}
	for _, b := range blocks(text, card) {
		for _, piece := range splitBlock(b, maxVisible) {
			n := piece.visible() + 2
			if size+n > maxVisible {
				flush()
			}
			cur = append(cur, piece)
			size += n
		}
	}
	flush()
	if len(parts) == 0 {
		parts = []string{"…"}
	}
	return parts
}

// cardParts renders a text and a card as messages, as renderParts does,
// unless the card will be edited (editable: it has buttons, or its thread
// is brought up to date) and, with room for the edits, does not fit one
// message. Such a card is laid out so that no edit ever shortens it, nor
// leaves a part showing an old state: the text, the title and the body in
// full, in messages that are never edited; then the card's state (title,
// fields, footer) in the last message, which carries the buttons and which
// edits keep current. split reports that layout.
func cardParts(text string, card *bot.Card, editable bool) (parts []string, split bool) {
	if !editable || card == nil || card.Body == "" || visibleLen(renderHTML(text, card)) <= maxVisible-editRoom {
		return renderParts(text, card), false
	}
	parts = renderParts(text, &bot.Card{Title: card.Title, Body: card.Body})
	return append(parts, fitCard("", stateOf(card), "")), true
}

// stateOf is card without its body: what the last message of a split card
// shows.
func stateOf(card *bot.Card) *bot.Card {
	c := *card
	c.Body = ""
	return &c
}

// fitCard renders a text and a card as one message, for an edit: a card
// longer than that loses the end of its body, which then ends in "…" and
// more (where the full text is).
func fitCard(text string, card *bot.Card, more string) string {
	parts := renderParts(text, card)
	if len(parts) == 1 {
		return parts[0]
	}
	short := *card
	body := []rune(short.Body)
	for len(parts) > 1 && len(body) > 0 {
		body = body[:len(body)*3/4]
		short.Body = string(body) + "…" + more
		parts = renderParts(text, &short)
	}
	return parts[0]
}

// splitBlock cuts a block whose text is longer than limit into pieces, at
// line breaks where it can, else between runes.
func splitBlock(b block, limit int) []block {
	if b.visible() <= limit {
		return []block{b}
	}
	room := limit - utf16Len(b.lead) - 1
	var out []block
	rest := b.text
	for rest != "" {
		cut, n := 0, 0
		lastBreak := -1
		for i, r := range rest {
			w := utf16.RuneLen(r)
			if n+w > room {
				break
			}
			n += w
			cut = i + utf8.RuneLen(r)
			if r == '\n' {
				lastBreak = cut
			}
		}
		if cut < len(rest) && lastBreak > 0 {
			cut = lastBreak
		}
		if cut == 0 { // cannot happen with room > 0; never loop forever
			cut = len(rest)
		}
		piece := b
		piece.text = strings.TrimRight(rest[:cut], "\n")
		if len(out) > 0 {
			piece.lead, piece.gap = "", false
		}
		out = append(out, piece)
		rest = rest[cut:]
	}
	return out
}

// keyboard is the inline keyboard of buttons, two to a row; nil when there
// are none. A button whose ID exceeds Telegram's 64 bytes of callback_data
// cannot be sent and is left out (ParseAction would refuse it anyway).
func keyboard(buttons []bot.Button) *tgbotapi.InlineKeyboardMarkup {
	var rows [][]tgbotapi.InlineKeyboardButton
	var row []tgbotapi.InlineKeyboardButton
	for _, b := range buttons {
		if b.ID == "" || len(b.ID) > bot.MaxActionID {
			continue
		}
		row = append(row, tgbotapi.NewInlineKeyboardButtonData(b.Label, b.ID))
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		return nil
	}
	m := tgbotapi.NewInlineKeyboardMarkup(rows...)
	return &m
}

// noKeyboard removes the buttons of a message when sent with an edit.
func noKeyboard() *tgbotapi.InlineKeyboardMarkup {
	return &tgbotapi.InlineKeyboardMarkup{InlineKeyboard: [][]tgbotapi.InlineKeyboardButton{}}
}

// buttonsOf reads the buttons back from a message's inline keyboard.
func buttonsOf(m *tgbotapi.InlineKeyboardMarkup) []bot.Button {
	if m == nil {
		return nil
	}
	var out []bot.Button
	for _, row := range m.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData != nil {
				out = append(out, bot.Button{ID: *b.CallbackData, Label: b.Text})
			}
		}
	}
	return out
}

func encodeButtons(bs []bot.Button) string {
	if len(bs) == 0 {
		return ""
	}
	b, _ := json.Marshal(bs) // strings only: cannot fail
	return string(b)
}

func decodeButtons(s string) []bot.Button {
	var bs []bot.Button
	if s != "" {
		_ = json.Unmarshal([]byte(s), &bs) // a bad memo only costs the buttons
	}
	return bs
}

// shorten cuts s to at most n runes, ending in "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
