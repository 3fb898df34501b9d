package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	sun          = person{"sun", "Sun Yue", "U0SUN", 1006}
	slackStmts   = "slack:C0STATEMENTS"
	tgStatements = "telegram:-100333"
)

// TestCardsStayCurrentAcrossPlatforms: a decision taken on one platform
// updates the cards it changed on the others, and buttons that no longer
// apply disappear — Slack → Telegram, Telegram → Slack, and the console
// (another process on the same Redis) → both. The draft is 3,900
// characters with &, < and >: every message and edit stays within
// Telegram's 4,096 and Slack's block limits as they count them (the fakes
// refuse what the platforms refuse), and the request keeps the whole draft
// on both, every part of it current.
func TestCardsStayCurrentAcrossPlatforms(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1})
	a := w.start("a")
	inc := a.openSlack(chen, "major", "Rumour that the canteen serves expired food")
	draft := strings.Repeat("We are checking every supplier & <contract> of the canteen with the parents' committee > staff. ", 41)[:3900]
	a.slash(chen, "draft "+inc.ID+" "+draft)

	// On Telegram the long request is in several messages: the draft in
	// those without buttons, the state in the last, with the buttons.
	tgReq := w.await(t, tgLeaders, "the approval request", func(m message) bool {
		return hasButton(m, "Approve")
	})
	slReq := w.await(t, slackLeaders, "the approval request", func(m message) bool {
		return hasButton(m, "Approve") && strings.Contains(m.Text, "asks you to approve")
	})

	// Slack → Telegram: the count and who approved, buttons still there
	// (a major draft needs two).
	a.slash(wang, "approve "+inc.ID)
	w.awaitEdit(t, tgReq, "after Wang Fang approved on Slack", func(m message) bool {
		return strings.Contains(m.Text, "1 of 2 approvals (Wang Fang)") && hasButton(m, "Approve")
	})
	w.awaitEdit(t, slReq, "after Wang Fang approved on Slack", func(m message) bool {
		return strings.Contains(m.Raw, "1 of 2 approvals (Wang Fang)") && hasButton(m, "Approve")
	})

	// Telegram → Slack: quorum; no one may decide any more. The press's own
	// edit (its answer above the card) goes through too.
	a.press(zhao, tgReq, "Approve")
	w.awaitEdit(t, tgReq, "after Zhao Lei pressed Approve", func(m message) bool {
		return strings.Contains(m.Text, "Zhao Lei approved version 1")
	})
	slDone := w.awaitEdit(t, slReq, "after Zhao Lei approved on Telegram", func(m message) bool {
		return strings.Contains(m.Raw, "2 of 2 approvals") && len(m.Buttons) == 0
	})
	w.awaitEdit(t, tgReq, "after Zhao Lei approved on Telegram", func(m message) bool {
		return strings.Contains(m.Text, "2 of 2 approvals") && len(m.Buttons) == 0
	})
	if got := slackSections(t, slDone.Raw); !strings.Contains(got, draft) || strings.Contains(got, "more characters") {
		t.Errorf("Slack request after quorum: the draft is not there whole:\n%.400s…", got)
	}
	var parts []message // the Telegram request's messages, as they read now
	for _, m := range w.in(tgLeaders) {
		if m.ID == tgReq.ID || (m.ReplyTo == 0 && len(m.Buttons) == 0 && strings.Contains(m.Text, draft[:40])) {
			parts = append(parts, w.current(m))
		}
	}
	var whole strings.Builder
	for i, m := range parts {
		whole.WriteString(m.Text)
		if strings.Contains(m.Text, "0 of 2") || strings.Contains(m.Text, "1 of 2") {
			t.Errorf("Telegram request part %d of %d shows an old count after quorum: %.300q", i+1, len(parts), m.Text)
		}
	}
	if len(parts) < 2 || !strings.Contains(whole.String(), draft) {
		t.Errorf("Telegram request after quorum (%d parts): the draft is not there whole", len(parts))
	}

	// The spokesperson is asked to publish on both platforms.
	tgPub := w.await(t, fmt.Sprintf("telegram:%d", sun.telegram), "the publish request", func(m message) bool {
		return hasButton(m, "Publish")
	})
	slPub := w.await(t, "slack:"+sun.slack, "the publish request", func(m message) bool {
		return hasButton(m, "Publish")
	})

	// Console → both: sun publishes from a terminal on the same Redis.
	out := w.console(t, sun, "publish "+inc.ID)
	if !strings.Contains(out, "Published version 1 of "+inc.ID) {
		t.Fatalf("console publish: got\n%s\nwant the publication confirmed", out)
	}
	w.awaitEdit(t, tgPub, "after Sun Yue published from the console", func(m message) bool {
		return strings.Contains(m.Text, "published") && len(m.Buttons) == 0
	})
	w.awaitEdit(t, slPub, "after Sun Yue published from the console", func(m message) bool {
		return strings.Contains(m.Raw, "published") && len(m.Buttons) == 0
	})
	for _, chat := range []string{slackStmts, tgStatements} {
		w.await(t, chat, "the statement", func(m message) bool { return strings.Contains(m.Raw+m.Text, "Statement on") })
		if n := countIn(w.in(chat), draft[:strings.Index(draft, " &")]); n != 1 {
			t.Errorf("%s: the statement's text appears in %d messages, want exactly one", chat, n)
		}
	}

	// The incident card in the channel loses Acknowledge and Take it once
	// chen acknowledges, on both platforms, wherever it was typed.
	tgCard := w.await(t, tgIncidents, "the incident card", func(m message) bool {
		return hasButton(m, "Acknowledge") && strings.Contains(m.Text, inc.ID)
	})
	slCard := w.await(t, slackIncidents, "the incident card", func(m message) bool {
		return hasButton(m, "Acknowledge") && strings.Contains(m.Raw, inc.ID)
	})
	a.telegramCommand(chen, tgIncidentsChat, "ack "+inc.ID)
	for _, card := range []message{tgCard, slCard} {
		w.awaitEdit(t, card, "after chen acknowledged", func(m message) bool {
			return !hasButton(m, "Acknowledge") && !hasButton(m, "Take it") && strings.Contains(m.Raw+m.Text, "acknowledged")
		})
	}
}

// current is m as it reads after its last edit.
func (w *world) current(m message) message {
	for _, e := range w.edits() {
		if e.Chat == m.Chat && e.ID == m.ID {
			m = e
		}
	}
	return m
}

// slackSections is the text of the sections in a Slack blocks JSON, as a
// person reads it (&amp;, &lt; and &gt; decoded), the sections joined.
func slackSections(t *testing.T, blocks string) string {
	t.Helper()
	var list []blockText
	if err := json.Unmarshal([]byte(blocks), &list); err != nil {
		t.Fatalf("blocks: %v", err)
	}
	var b strings.Builder
	for _, bl := range list {
		if bl.Type == "section" && bl.Text != nil {
			b.WriteString(strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">").Replace(bl.Text.Text))
		}
	}
	return b.String()
}

func hasButton(m message, label string) bool {
	return slices.ContainsFunc(m.Buttons, func(b button) bool { return b.Label == label })
}

func countIn(ms []message, phrase string) int {
	n := 0
	for _, m := range ms {
		if strings.Contains(m.Raw+m.Text, phrase) {
			n++
		}
	}
	return n
}

// await waits up to 10 s for a message in chat that ok accepts.
func (w *world) await(t *testing.T, chat, what string, ok func(message) bool) message {
	t.Helper()
	return w.awaitWithin(t, 10*time.Second, chat, what, ok)
}

// awaitWithin is await with a timeout of its own, for a message planned
// that far ahead.
func (w *world) awaitWithin(t *testing.T, timeout time.Duration, chat, what string, ok func(message) bool) message {
	t.Helper()
	var found message
	if !waitFor(timeout, func() bool {
		for _, m := range w.in(chat) {
			if ok(m) {
				found = m
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s never reached %s within %s; got:\n%s", what, chat, timeout, w.transcript(nil))
	}
	return found
}

// awaitEdit waits up to 10 s for an edit of m that ok accepts, and returns
// the message as it reads after that edit.
func (w *world) awaitEdit(t *testing.T, m message, when string, ok func(message) bool) message {
	t.Helper()
	var edited message
	if !waitFor(10*time.Second, func() bool {
		for _, e := range w.edits() {
			if e.Chat == m.Chat && e.ID == m.ID && ok(e) {
				edited = e
				return true
			}
		}
		return false
	}) {
		var seen []string
		for _, e := range w.edits() {
			if e.Chat == m.Chat && e.ID == m.ID {
				seen = append(seen, fmt.Sprintf("%s buttons=%v: %.300q", clock(e.At), e.Buttons, e.Raw))
			}
		}
		t.Fatalf("%s: message %s in %s was not brought up to date within 10s; its edits:\n%s",
			when, m.ID, m.Chat, strings.Join(seen, "\n"))
	}
	return edited
}

// console runs `firebreak console --as who` on the world's Redis and roster
// with input typed, and returns what it printed.
func (w *world) console(t *testing.T, who person, input string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "console", "--as", who.id)
	cmd.Env = []string{
		"FIREBREAK_REDIS_URL=" + w.redisURL,
		"FIREBREAK_ROSTER=" + w.rosterPath,
		"FIREBREAK_LOCALE=en",
	}
	cmd.Stdin = strings.NewReader(input + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("firebreak console: %v\nstderr:\n%s", err, stderr.String())
	}
	return stdout.String()
}
