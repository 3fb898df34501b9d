package slack

import (
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
)

// Block Kit limits (api.slack.com/reference/block-kit).
const (
	maxBlocks      = 50   // blocks in one message
	maxSectionText = 3000 // text of a section
	maxFieldText   = 2000 // one field of a section
	maxFields      = 10   // fields of a section
	maxHeaderText  = 150  // text of a header
	maxButtonText  = 75   // label of a button
	maxButtons     = 25   // elements of an actions block
	maxFallback    = 3000 // the notification text we send with blocks
)

// messageBlocks renders a line of text and an optional card: the text as
// plain-text sections (shown verbatim, never as mrkdwn), then the card.
// extra blocks (a "who acted" line) go last. The result keeps within
// Slack's 50 blocks.
func messageBlocks(text string, card *bot.Card, extra ...slackgo.Block) []slackgo.Block {
	blocks := textBlocks(text)
	if card != nil {
		blocks = append(blocks, cardBlocks(card)...)
	}
	blocks = append(blocks, extra...)
	if len(blocks) > maxBlocks {
		cut := append(blocks[:maxBlocks-1-len(extra):maxBlocks-1-len(extra)],
			slackgo.NewContextBlock("", plain("…")))
		blocks = append(cut, extra...)
	}
	return blocks
}

// textBlocks renders plain text as sections of at most 3000 characters
// (escaped, as Slack counts them), split at line ends where it can be.
func textBlocks(text string) []slackgo.Block {
	text = strings.TrimSpace(text)
	var blocks []slackgo.Block
	for _, part := range split(text, maxSectionText) {
		blocks = append(blocks, slackgo.NewSectionBlock(plain(part), nil, nil))
	}
	return blocks
}

// cardBlocks renders a card: a header with the title, the fields two
// columns wide (label above value), the body verbatim, the footer, the
// buttons. Every text is plain_text: nothing in a card is mrkdwn.
// Each button's action_id and value are its bot.Button.ID, the wire form
// of its action.
func cardBlocks(c *bot.Card) []slackgo.Block {
	var blocks []slackgo.Block
	if c.Title != "" {
		blocks = append(blocks, slackgo.NewHeaderBlock(plain(truncate(c.Title, maxHeaderText))))
	}
	var fields []*slackgo.TextBlockObject
	flush := func() {
		if len(fields) > 0 {
			blocks = append(blocks, slackgo.NewSectionBlock(nil, fields, nil))
			fields = nil
		}
	}
	for _, f := range c.Fields {
		// plain_text, label and value alike: a value holds text people
		// typed (a title, a reason), which mrkdwn would format in the
		// bot's voice (*bold*, _italic_, ~strike~, `code`), and Slack has
		// no escape for those.
		label := truncate(f.Label, maxFieldText/2) + "\n"
		fields = append(fields, plain(label+truncate(f.Value, maxFieldText-escapedLen(label))))
		if len(fields) == maxFields {
			flush()
		}
	}
	flush()
	for _, part := range split(c.Body, maxSectionText) {
		blocks = append(blocks, slackgo.NewSectionBlock(plain(part), nil, nil))
	}
	if c.Footer != "" {
		blocks = append(blocks, slackgo.NewContextBlock("", plain(truncate(c.Footer, maxSectionText))))
	}
	var buttons []slackgo.BlockElement
	for _, b := range c.Buttons {
		btn := slackgo.NewButtonBlockElement(b.ID, b.ID, plain(truncate(b.Label, maxButtonText)))
		switch b.Style {
		case bot.StylePrimary:
			btn = btn.WithStyle(slackgo.StylePrimary)
		case bot.StyleDanger:
			btn = btn.WithStyle(slackgo.StyleDanger)
		}
		buttons = append(buttons, btn)
		if len(buttons) == maxButtons {
			blocks = append(blocks, slackgo.NewActionBlock("", buttons...))
			buttons = nil
		}
	}
	if len(buttons) > 0 {
		blocks = append(blocks, slackgo.NewActionBlock("", buttons...))
	}
	return blocks
}

// fallback is the text Slack shows in notifications and where blocks
// cannot be shown. Slack reads a message's top-level text as mrkdwn, so it
// is escaped: text people typed (a title, an update, a reason) can never
// mention (<!channel>, <!here>, <@U…>, <!subteam^…>) or link in the bot's
// voice. The blocks are escaped the same way (plain and mrkdwn).
func fallback(text string, card *bot.Card) string {
	if strings.TrimSpace(text) == "" && card != nil {
		text = card.Title
	}
	return escape(truncate(strings.TrimSpace(text), maxFallback))
}

// contextLine is a small grey line under a message.
func contextLine(text string) slackgo.Block {
	return slackgo.NewContextBlock("", plain(truncate(text, maxSectionText)))
}

// plain is a plain_text object. Slack decodes &amp;, &lt; and &gt; in
// every text it is sent, so these three are escaped here too: what reaches
// Slack never holds a bare "<" from text people typed, in any field.
func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, escape(s), false, false)
}

// escape makes s safe as mrkdwn text: Slack reads &, < and > as markup.
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// escapedWidth is how many characters r is once escaped: every text the
// blocks carry is escaped (plain and mrkdwn alike) and Slack's limits are
// on what it is sent, so truncate and split measure text escaped.
func escapedWidth(r rune) int {
	switch r {
	case '&':
		return len("&amp;")
	case '<', '>':
		return len("&lt;")
	}
	return 1
}

// escapedLen is how many characters s is once escaped.
func escapedLen(s string) int {
	n := 0
	for _, r := range s {
		n += escapedWidth(r)
	}
	return n
}

// truncate shortens s so that escaped it is at most n characters, ending
// it with "…" when cut.
func truncate(s string, n int) string {
	if escapedLen(s) <= n {
		return s
	}
	r := []rune(s)
	cut, size := 0, 1 // room for the "…"
	for cut < len(r) && size+escapedWidth(r[cut]) <= n {
		size += escapedWidth(r[cut])
		cut++
	}
	return string(r[:cut]) + "…"
}

// split cuts s into parts of at most n characters once escaped, at a line
// end when one falls in the second half of a part. Empty s gives no parts.
func split(s string, n int) []string {
	var parts []string
	for s != "" {
		r := []rune(s)
		cut, size, lineEnd := 0, 0, -1
		for cut < len(r) && size+escapedWidth(r[cut]) <= n {
			size += escapedWidth(r[cut])
			if r[cut] == '\n' && size > n/2 {
				lineEnd = cut
			}
			cut++
		}
		if cut == len(r) {
			parts = append(parts, s)
			break
		}
		if lineEnd >= 0 {
			cut = lineEnd + 1
		}
		cut = max(cut, 1) // never loop, whatever n
		parts = append(parts, strings.TrimRight(string(r[:cut]), "\n"))
		s = string(r[cut:])
	}
	return parts
}
