package smoke

import (
	"strings"
	"testing"
)

// planRoster is the standard roster (which names the organisation) with the
// higher authority's channels.
func planRoster() string {
	return standardRoster("") + `  authority:  {slack: C0AUTHORITY, telegram: -100444}
`
}

const (
	slackAuthority = "slack:C0AUTHORITY"
	tgAuthority    = "telegram:-100444"
)

// TestReportsAreAcknowledgedAndGoUp: the REPORT of a critical incident
// reaches the leaders on both platforms with a Received button; pressing it
// on Telegram meets the report on the Slack copy; reporting up sends the
// report to the authority on both platforms, and a follow-up report reaches
// the leaders and the authority; the statement is published over the
// organisation's name; resolving before publishing is refused.
func TestReportsAreAcknowledgedAndGoUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 1, roster: planRoster()})
	a := w.start("a")
	inc := a.openSlack(chen, "critical", "Fabricated video of a dormitory fire")

	tgReport := w.await(t, tgLeaders, "the REPORT", func(m message) bool {
		return hasButton(m, "Received") && strings.Contains(m.Text, "REPORT: critical incident "+inc.ID)
	})
	slReport := w.await(t, slackLeaders, "the REPORT", func(m message) bool {
		return hasButton(m, "Received") && strings.Contains(m.Raw, "REPORT: critical incident "+inc.ID)
	})
	if !strings.Contains(slReport.Raw, `report to leaders\nby`) {
		t.Errorf("Slack REPORT: got %.400q, want the report deadline still open: posting is not receiving", slReport.Raw)
	}

	// Zhao Lei acknowledges on Telegram: the Slack copy shows the report met
	// and keeps Received for the principal.
	a.press(zhao, tgReport, "Received")
	w.awaitEdit(t, slReport, "after Zhao Lei pressed Received on Telegram", func(m message) bool {
		return strings.Contains(m.Raw, `report to leaders\nmet`) && strings.Contains(m.Raw, "Zhao Lei") && hasButton(m, "Received")
	})
	// The principal completes the double report: Received goes.
	a.slash(wang, "receive "+inc.ID)
	w.awaitEdit(t, tgReport, "after the principal acknowledged", func(m message) bool {
		return strings.Contains(m.Text, "double report complete") && !hasButton(m, "Received") && hasButton(m, "Report up")
	})

	// Reporting up reaches the authority on both platforms, over the
	// organisation's name; Report up goes from the leaders' cards.
	a.slash(chen, "report-up "+inc.ID+" phoned the county leading group")
	for _, chat := range []string{slackAuthority, tgAuthority} {
		w.await(t, chat, "the report up", func(m message) bool {
			return strings.Contains(m.Raw+m.Text, "REPORT from Riverside District Education Bureau: critical incident "+inc.ID) && len(m.Buttons) == 0
		})
	}
	w.awaitEdit(t, slReport, "after reporting up", func(m message) bool {
		return strings.Contains(m.Raw, `report to higher authority\nmet`) && !hasButton(m, "Report up")
	})

	// A follow-up report with figures goes to the leaders and the authority.
	a.slash(chen, "update "+inc.ID+" posts:120 views:30000 heat:72 Fire brigade confirms there was no fire")
	for _, chat := range []string{slackLeaders, tgLeaders, slackAuthority, tgAuthority} {
		w.await(t, chat, "the follow-up report", func(m message) bool {
			return strings.Contains(m.Raw+m.Text, "follow-up report #1 on "+inc.ID+": posts 120, views 30,000, heat 72")
		})
	}

	// Resolving before the reply is published is refused, and changes nothing.
	if reply, _ := a.slash(chen, "resolve "+inc.ID+" video removed"); !strings.Contains(reply, "publish its approved reply first") {
		t.Errorf("resolve before publishing: got %q, want it refused", reply)
	}
	a.slash(chen, "draft "+inc.ID+" There was no fire in our dormitories.")
	a.slash(zhao, "approve "+inc.ID)
	a.slash(wang, "approve "+inc.ID)
	a.slash(sun, "publish "+inc.ID)
	for _, chat := range []string{slackStmts, tgStatements} {
		w.await(t, chat, "the statement", func(m message) bool {
			return strings.Contains(m.Raw+m.Text, "There was no fire in our dormitories.") &&
				strings.Contains(m.Raw+m.Text, "Sun Yue, spokesperson of Riverside District Education Bureau")
		})
	}
	if reply, _ := a.slash(chen, "resolve "+inc.ID+" statement published; video removed"); !strings.Contains(reply, "resolved") {
		t.Errorf("resolve after publishing: got %q, want it resolved", reply)
	}
}
