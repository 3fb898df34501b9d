package smoke

import (
	"testing"
	"time"
)

// crashTakeover is how long after a restart a reminder that fell due while
// the process was down, or was in its hands when it was killed, may take to
// arrive: a timer claimed by the killed process comes back when its lease
// of 10 s ends (bot.DefaultLease), the outbox's leases of the killed
// process run out after 15 s; a few seconds more for the new process's
// first passes. A graceful stop hands everything over at once (no
// allowance).
const crashTakeover = 20 * time.Second

// restartPatience is how long the restart tests wait for a missing
// reminder beyond the takeover allowed, so that a slow takeover shows as
// late rather than lost.
const restartPatience = 60 * time.Second

// reportPatience is how long TestGracefulRestart waits for the REPORT, so
// that a held-back delivery shows with its real delay (90 s at 8680f38).
const reportPatience = 100 * time.Second

// TestCrashRestart kills the process with SIGKILL while timers of two
// incidents are pending, starts a new one on the same Redis, and checks that
// no reminder is lost or doubled, none comes early and the new process
// keeps the plan's times (the demo clock goes on where it was).
func TestCrashRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 600})
	a := w.start("a")
	critical := a.openSlack(chen, "critical", "Forged notice about school closures circulating in parent groups")
	general := a.openTelegram(li, "general", "Complaint about the closing time of the library")
	horizon := 3 * time.Hour
	wants := append(plannedReminders(critical, horizon), plannedReminders(general, horizon)...)

	// Crash once the first follow-up request of the critical incident is
	// out (an hour of plan time; the general one's half-time warning falls
	// due at about the same moment), or when it should have been.
	first := want{base: critical.opened, after: policy["critical"].updateEvery}
	_, due := first.dueWall(w.scale)
	waitUntil(due.Add(lateAllowance), func() bool {
		_, ok := w.find(slackIncidents, critical.ID, "follow-up report #")
		return ok
	})
	a.kill()
	killed := time.Now()
	t.Logf("killed at %s, %s of plan time after %s was opened", clock(killed),
		fmtPlan(planAfter(killed, critical.opened, w.scale)), critical.ID)
	b := w.start("b")
	w.checkReminders(wants, checkOptions{patience: restartPatience, late: lateAllowance,
		resumed: b.ready, takeover: crashTakeover, settle: 5 * time.Second, killed: killed})
	w.logResumed(killed, b.ready)
}

// TestTwoReplicas runs two processes on one Redis, opens an incident
// through each, and checks that every reminder arrives once, none early
// (both replicas keep one plan clock), and one digest per cron fire.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 600, roster: standardRoster("* * * * *")})
	a := w.start("a")
	b := w.start("b")
	viaA := a.openSlack(chen, "critical", "Claims on a forum that exam papers leaked")
	viaB := b.openTelegram(li, "critical", "Photos of a flooded classroom shared widely")
	horizon := 3 * time.Hour
	wants := append(plannedReminders(viaA, horizon), plannedReminders(viaB, horizon)...)
	w.checkReminders(wants, checkOptions{patience: patience, late: lateAllowance, orderSlack: lateAllowance, settle: 3 * time.Second})
	for _, chat := range incidentsChats {
		perMinute := map[time.Time]int{}
		for _, m := range w.in(chat) {
			if digestTitle.MatchString(m.firstLine()) {
				perMinute[m.At.Truncate(time.Minute)]++
			}
		}
		for minute, n := range perMinute {
			if n != 1 {
				t.Errorf("digests in %s in the minute of %s: got %d, want 1 (one replica sends each fire)", chat, clock(minute), n)
			}
		}
	}
}

// TestGracefulRestart stops the process with SIGTERM and starts it again on
// the same Redis: a critical incident opened right after the restart must
// reach the leaders on both platforms within 5 s, and the reminders of an
// incident opened before it go on, on time, none lost or doubled.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{scale: 600})
	a := w.start("a")
	before := a.openSlack(chen, "critical", "Rumour of a gas leak at the primary school")
	for _, chat := range leadersChats {
		if !waitFor(10*time.Second, func() bool { _, ok := w.find(chat, "REPORT", before.ID); return ok }) {
			t.Fatalf("the REPORT of %s did not reach %s within 10s, before any restart", before.ID, chat)
		}
	}
	// Restart once the first follow-up request is out (or should be), so
	// that a demo clock that starts again at restart would show.
	first := want{base: before.opened, after: policy["critical"].updateEvery}
	_, due := first.dueWall(w.scale)
	waitUntil(due.Add(lateAllowance), func() bool {
		_, ok := w.find(slackIncidents, before.ID, "follow-up report #")
		return ok
	})
	a.terminate()
	stopped := time.Now()
	b := w.start("b")
	after := b.openSlack(chen, "critical", "Video of a teacher shouting at pupils")
	const within = 5 * time.Second
	for _, chat := range leadersChats {
		var report message
		if !waitUntil(after.opened.sent.Add(reportPatience), func() bool {
			var ok bool
			report, ok = w.find(chat, "REPORT", after.ID)
			return ok
		}) {
			t.Errorf("the REPORT of %s opened after the restart never reached %s (waited %s)", after.ID, chat, reportPatience)
			continue
		}
		if got := report.At.Sub(after.opened.sent); got > within {
			t.Errorf("the REPORT of %s opened right after the restart reached %s %s after the open, want within %s",
				after.ID, chat, got.Round(time.Millisecond), within)
		}
	}
	horizon := 2*time.Hour + 15*time.Minute
	wants := append(plannedReminders(before, horizon), plannedReminders(after, horizon-planAfter(after.opened.done, before.opened, w.scale))...)
	w.checkReminders(wants, checkOptions{patience: restartPatience, late: lateAllowance,
		resumed: b.ready, settle: 3 * time.Second})
	w.logResumed(stopped, b.ready)
}
