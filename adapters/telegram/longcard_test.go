package telegram_test

import (
	"fmt"
	"html"
	"strings"
	"testing"
	"unicode/utf16"
)

// longDraft is a draft of exactly n characters in numbered lines holding
// &, < and >, which Telegram's HTML counts as one character each.
func longDraft(n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%03d parents & staff <committee> checked the canteen > twice.\n", i)
	}
	return strings.TrimRight(b.String()[:n], "\n ")
}

// telegramLen is a message's length as Telegram counts it: after entity
// parsing, in UTF-16 code units.
func telegramLen(s string) int { return len(utf16.Encode([]rune(visibleText(s)))) }

// plainText is what a person reads of a message: no tags, entities decoded.
func plainText(s string) string { return html.UnescapeString(regexpTags.ReplaceAllString(s, "")) }

// requestParts is the messages of the approval request of YQ-1 in chat (the
// report, with its Receive button, left out), oldest first.
func (e *env) requestParts(chat int64) []fakeMessage {
	var out []fakeMessage
	for _, m := range e.api.messagesIn(chat) {
		if !strings.Contains(m.Markup, "receive:YQ-1") {
			out = append(out, m)
		}
	}
	return out
}

// wantEditsWithinLimit checks every editMessageText sent so far against
// Telegram's 4,096 characters (the fake refuses longer ones, as Telegram
// does, so such an edit would also leave its message stale).
func (e *env) wantEditsWithinLimit() {
	e.t.Helper()
	for i, c := range e.api.Calls("editMessageText") {
		if n := telegramLen(c.Params.Get("text")); n > 4096 {
			e.t.Errorf("edit %d of message %s: %d characters after parsing, want at most 4096", i, c.Params.Get("message_id"), n)
		}
	}
}

// TestLongApprovalRequestStaysCurrentAndWhole: a 3,900-character draft
// goes out in several messages. The ones holding the draft hold no state
// and are never edited, so the full text stays where the request is; the
// last, with the buttons, holds the state, and every press and refresh
// edits it within Telegram's limit until quorum removes the buttons.
func TestLongApprovalRequestStaysCurrentAndWhole(t *testing.T) {
	e := newEnv(t)
	draft := longDraft(3900)
	e.do("chen", `open "Canteen complaint" level:major`)
	if _, _, err := e.svc.SubmitDraft(e.ctx, "chen", "YQ-1", draft); err != nil {
		t.Fatalf("draft: %v", err)
	}
	e.deliver()
	sent := e.requestParts(leadersChat)
	if len(sent) < 2 {
		t.Fatalf("approval request: got %d messages, want the draft and the state apart", len(sent))
	}
	live := sent[len(sent)-1]
	wantContains(t, "the request's last part", live.Text, "Approve the unified reply for YQ-1", "0 of 2 approvals")

	zhao := e.press(zhaoID, e.approvalRequest(leadersChat, "approve:YQ-1:1"), "approve:YQ-1:1")
	wantContains(t, "Zhao Lei's answer", zhao.Params.Get("text"), "1 of 2 approvals")
	after, _ := e.api.message(leadersChat, live.ID)
	wantContains(t, "the request after Zhao Lei's press", after.Text, "Zhao Lei approved version 1", "1 of 2 approvals (Zhao Lei)")
	e.deliver() // the refreshes of the request
	e.press(wangID, e.approvalRequest(leadersChat, "approve:YQ-1:1"), "approve:YQ-1:1")
	e.deliver()

	e.wantEditsWithinLimit()
	now := make([]fakeMessage, len(sent))
	for i, m := range sent {
		now[i], _ = e.api.message(leadersChat, m.ID)
	}
	var whole strings.Builder
	for i, m := range now {
		if i < len(now)-1 {
			if m.Text != sent[i].Text || m.Markup != "" {
				t.Errorf("part %d of %d changed or has buttons; the parts holding the draft are never edited", i+1, len(now))
			}
			whole.WriteString(plainText(m.Text) + "\n")
		}
		if strings.Contains(m.Text, "0 of 2") || strings.Contains(m.Text, "1 of 2") {
			t.Errorf("part %d of %d shows an old count after quorum: %.200q", i+1, len(now), plainText(m.Text))
		}
	}
	for _, line := range strings.Split(draft, "\n") {
		if !strings.Contains(whole.String(), line) {
			t.Fatalf("the request no longer holds the whole draft: %q is missing", line)
		}
	}
	last := now[len(now)-1]
	wantContains(t, "the request after quorum", last.Text, "2 of 2 approvals", "ready to publish")
	if strings.Contains(last.Text, "<blockquote>") {
		t.Errorf("the last part quotes the draft again: %.300q", last.Text)
	}
	if got := keyboardOf(t, last.Markup); len(got) != 0 {
		t.Errorf("buttons after quorum: got %v, want none", got)
	}
}

// TestApprovalRequestKeepsTheDraftItWasSentWith: a draft that fits one
// message with its card is sent so, and stays whole there: the refresh
// brings the draft quoted short ("… the full text is in the first
// request"), and the first request is this message.
func TestApprovalRequestKeepsTheDraftItWasSentWith(t *testing.T) {
	e := newEnv(t)
	draft := longDraft(2000)
	e.openWithDraft(strings.ReplaceAll(draft, "\n", " "))
	draft = strings.ReplaceAll(draft, "\n", " ")
	e.deliver()
	if parts := e.requestParts(leadersChat); len(parts) != 1 {
		t.Fatalf("approval request: got %d messages, want one", len(parts))
	}
	req := e.approvalRequest(leadersChat, "approve:YQ-1:1")
	e.press(zhaoID, req, "approve:YQ-1:1")
	e.deliver()
	e.wantEditsWithinLimit()
	if n := len(e.api.Calls("editMessageText")); n < 2 {
		t.Fatalf("edits: got %d, want the press's and the refresh's", n)
	}
	now, _ := e.api.message(leadersChat, req.ID)
	wantContains(t, "the request after a press and a refresh", plainText(now.Text), "1 of 2 approvals (Zhao Lei)", draft)
	if strings.Contains(now.Text, "more characters") {
		t.Errorf("the request quotes the draft short, pointing to itself: %.300q", now.Text[len(now.Text)-300:])
	}
}
