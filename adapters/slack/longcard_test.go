package slack_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/workflow"
)

// longDraft is a draft of exactly n characters in numbered lines holding
// &, < and >, which Slack receives escaped (&amp;, &lt;, &gt;).
func longDraft(n int) string {
	var b strings.Builder
	for i := 1; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%03d parents & staff <committee> checked the canteen > twice.\n", i)
	}
	return strings.TrimRight(b.String()[:n], "\n ")
}

// TestLongApprovalRequestStaysWhole: the approval request of a
// 3,900-character draft full of &, < and > keeps within Slack's limits as
// Slack counts them (escaped), and keeps the whole draft through the
// refreshes that follow each approval, which bring it quoted short: the
// request is the copy the short quote points to.
func TestLongApprovalRequestStaysWhole(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	e.command("U0CHEN", "open Rumour about the canteen category:rumor level:major")
	incs, _ := e.store.List(ctx, workflow.ListQuery{Filter: workflow.ListOpen})
	id := incs[0].ID
	draft := longDraft(3900)
	if _, r := e.command("U0CHEN", "draft "+id+" "+draft); strings.HasPrefix(r.Text, "⚠") {
		t.Fatalf("draft: %s", r.Text)
	}
	e.deliver() // the fake Slack fails the test on blocks over the limits
	req := approvalRequest(t, e, id)
	for _, who := range []string{"U0ZHAO", "U0WANG"} {
		e.press(who, "approve:"+id+":1", "Approve", "C0LEADERS", req.TS)
		r := e.hooks.next()
		if !r.ReplaceOriginal {
			t.Fatalf("%s approve: got %+v, want the request replaced", who, r)
		}
		if problem := blocksProblem(r.blocks(t)); problem != "" {
			t.Errorf("%s approve: the request as replaced: %s", who, problem)
		}
		e.drain()
		e.deliver()
	}
	var last apiCall
	for _, c := range e.slack.Calls() {
		if c.Method == "chat.update" && c.TS == req.TS {
			last = c
		}
	}
	if last.TS == "" {
		t.Fatalf("the request in C0LEADERS was never updated; calls %+v", e.slack.Calls())
	}
	got := shown(last.Blocks)
	if !strings.Contains(got, "2 of 2 approvals") || strings.Contains(got, "[approve:") {
		t.Errorf("the request after quorum:\n%.600s\nwant 2 of 2 approvals and no buttons", got)
	}
	if strings.Contains(got, "more characters") {
		t.Errorf("the request quotes the draft short, pointing to itself:\n%s", got[len(got)-400:])
	}
	for _, line := range strings.Split(draft, "\n") {
		if !strings.Contains(got, line) {
			t.Fatalf("the request no longer holds the whole draft: %q is missing", line)
		}
	}
}
