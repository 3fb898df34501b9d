package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// TestDigestAtTheDueInstant: a digest made a fraction of a millisecond
// after a deadline fell (the cron fires at any instant; deadlines are kept
// to the millisecond) shows it as due now, among today's deadlines, not as
// overdue: one representation of an instant, as the card has it.
func TestDigestAtTheDueInstant(t *testing.T) {
	c := newReportCase(t, workflow.LocaleEN)
	ctx := context.Background()
	c.at(123456789 * time.Nanosecond) // an irregular instant
	inc, _, err := c.svc.Open(ctx, "chen", workflow.OpenInput{Title: "Bins", Category: workflow.CategoryOther})
	c.must("open", err)
	due := c.svc.Deadlines(inc)[0].Due
	at := due.Add(400 * time.Microsecond)
	h := handlers.New(c.svc, workflow.LocaleEN)
	m := handlers.DigestMessage(h, handlers.DigestDaily, at, []*workflow.Incident{inc}, nil)
	text := m.Text
	if m.Card != nil {
		for _, f := range m.Card.Fields {
			text += "\n" + f.Label + ": " + f.Value
		}
		text += "\n" + m.Card.Body
	}
	if strings.Contains(text, "Overdue deadlines") || strings.Contains(text, "1 overdue") {
		t.Errorf("digest %s after the due time lists it as overdue:\n%s", at.Sub(due), text)
	}
	if !strings.Contains(text, "0 overdue") {
		t.Errorf("digest: want 0 overdue:\n%s", text)
	}
}

// TestSignTextUnderAMinute: figures that doubled within seconds read
// "in under a minute", never "in 0m".
func TestSignTextUnderAMinute(t *testing.T) {
	c := newReportCase(t, workflow.LocaleEN)
	for locale, want := range map[string]string{
		workflow.LocaleEN: "posts 10 → 20 (+100% in under a minute)",
		workflow.LocaleZH: "不到 1 分钟内增长 100%",
	} {
		h := handlers.New(c.svc, locale)
		sg := workflow.Sign{Figure: workflow.FigurePosts, From: 10, To: 20, Growth: 100, Within: 20 * time.Second}
		if got := handlers.SignText(h, sg); !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want it to contain %q", locale, got, want)
		}
	}
}
