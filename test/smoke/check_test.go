package smoke

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"
)

// checkOptions tune checkReminders.
type checkOptions struct {
	// patience is how long past the last required due time the check
	// waits for reminders still missing.
	patience time.Duration
	// late is how long after its due time — or after its chat's pacing
	// allowed it, when the chat was busy — a reminder may arrive.
	late time.Duration
	// orderSlack: reminders due within orderSlack of each other may reach
	// a chat in either order. Zero for one process, whose scheduler fires
	// in due order; with two replicas each fires its own claims, each
	// within late, so two reminders due a second apart may cross.
	orderSlack time.Duration
	// resumed, when set, is when a restarted process became ready: a
	// reminder due before resumed+takeover may arrive as late as that.
	resumed  time.Time
	takeover time.Duration
	// settle is how long to go on watching for a doubled reminder once
	// every required one has arrived.
	settle time.Duration
	// tolerate reports whether a reminder that no want names, or that
	// repeats one already seen in its chat, is no error (and not checked).
	tolerate func(s seen) bool
	// killed, when set, is when the process was killed (SIGKILL). A
	// message it had sent but not yet marked sent, within inFlight before
	// that, may come once more from its successor: delivery is at least
	// once, and a process that dies between the platform's answer and its
	// own record cannot tell anyone. Any other repeat is an error.
	killed time.Time
}

// inFlight is the window before a SIGKILL in which a message may have
// reached the platform without its send being recorded: one answer read
// and one Redis round trip, generously.
const inFlight = 100 * time.Millisecond

// inFlightAtKill reports whether a message that reached a fake at at was in
// flight when the process was killed.
func (o checkOptions) inFlightAtKill(at time.Time) bool {
	return !o.killed.IsZero() && !at.Before(o.killed.Add(-inFlight)) && !at.After(o.killed)
}

// checkReminders waits until every required reminder of wants has reached
// each of its chats (or the time their chats' pacing needs, plus patience,
// runs out), then checks every reminder
// that reached a fake: it is one the plan calls for in that chat; it came
// no earlier than its due time; it came once (no two with the same key or
// the same text in a chat, so follow-up numbers rise); reminders of a chat
// came in due order; none came later than its due time (or its chat's
// pacing) allows; and none is missing.
func (w *world) checkReminders(wants []want, o checkOptions) {
	t := w.t
	t.Helper()
	k := w.scale
	byKey := map[string]want{}
	for _, wt := range wants {
		if _, dup := byKey[wt.key]; dup {
			t.Fatalf("checkReminders: want %s twice", wt.key)
		}
		byKey[wt.key] = wt
	}
	deadline := w.drained(wants, o).Add(o.patience)
	counts := func() map[string]map[string]int {
		c := map[string]map[string]int{}
		for _, m := range w.messages() {
			if s, ok := parseReminder(m); ok {
				if c[m.Chat] == nil {
					c[m.Chat] = map[string]int{}
				}
				c[m.Chat][s.key()]++
			}
		}
		return c
	}
	complete := func() bool {
		c := counts()
		for _, wt := range wants {
			if wt.optional {
				continue
			}
			for _, chat := range wt.chats {
				if c[chat][wt.key] == 0 {
					return false
				}
			}
		}
		return true
	}
	waitUntil(deadline, complete)
	if o.settle > 0 {
		waitFor(o.settle, func() bool {
			for _, keys := range counts() {
				for _, n := range keys {
					if n > 1 {
						return true
					}
				}
			}
			return false
		})
	}
	checkedAt := time.Now()

	byChat := map[string][]message{}
	for _, m := range w.messages() {
		byChat[m.Chat] = append(byChat[m.Chat], m)
	}
	// Edits (cards brought up to date) are paced like posts: a reminder
	// may wait for one made just before it.
	editsIn := map[string][]message{}
	for _, m := range w.edits() {
		editsIn[m.Chat] = append(editsIn[m.Chat], m)
	}
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	got := map[string]map[string]bool{}
	for _, chat := range slices.Sorted(maps.Keys(byChat)) {
		got[chat] = map[string]bool{}
		var prevAt time.Time
		var latestDue time.Time // the latest earliest due time of the reminders so far
		var latestWhat string
		byKeySeen := map[string]seen{}
		byText := map[string]seen{}
		for _, m := range byChat[chat] {
			s, ok := parseReminder(m)
			if !ok {
				prevAt = m.At
				continue
			}
			key := s.key()
			wt, known := byKey[key]
			known = known && wt.sentTo(chat)
			if o.tolerate != nil && o.tolerate(s) && (!known || got[chat][key]) {
				prevAt = m.At
				continue
			}
			if !known {
				fail("unexpected reminder in %s at %s: got %q, want none such there", chat, clock(m.At), m.firstLine())
				prevAt = m.At
				continue
			}
			got[chat][key] = true
			early, latest := wt.dueWall(k)
			if m.At.Before(early.Add(-earlyEpsilon)) {
				fail("EARLY: %s reached %s at plan %s, want at or after %s (%s early in wall time): %q",
					wt.what, chat, fmtPlan(planAfter(m.At, wt.base, k)), fmtPlan(wt.after),
					early.Sub(m.At).Round(time.Millisecond), m.firstLine())
			}
			if prev, dup := byKeySeen[key]; dup && o.inFlightAtKill(prev.msg.At) {
				t.Logf("%s reached %s again at %s: its first copy at %s was in flight when the process was killed at %s",
					wt.what, chat, clock(m.At), clock(prev.msg.At), clock(o.killed))
			} else if dup {
				if n := followupNumber(key); n > 0 {
					fail("follow-up number did not rise in %s: got %q at %s after %q at %s, want #%d next",
						chat, m.firstLine(), clock(m.At), prev.msg.firstLine(), clock(prev.msg.At), n+1)
				} else {
					fail("DOUBLED: %s reached %s twice: got %q at %s and %q at %s, want it once",
						wt.what, chat, prev.msg.firstLine(), clock(prev.msg.At), m.firstLine(), clock(m.At))
				}
			} else if prev, dup := byText[m.Text]; dup {
				fail("the same text reached %s twice (%s and %s): %q; want every reminder to read differently",
					chat, clock(prev.msg.At), clock(m.At), m.firstLine())
			}
			if !latestDue.IsZero() && latest.Add(o.orderSlack).Before(latestDue) {
				fail("out of order in %s: %s (due at plan %s) arrived after %s, which was due later",
					chat, wt.what, fmtPlan(wt.after), latestWhat)
			}
			bound := latest
			before := prevAt
			for _, e := range editsIn[chat] {
				if e.At.Before(m.At) && e.At.After(before) {
					before = e.At
				}
			}
			if !before.IsZero() && before.Add(pacing(chat)).After(bound) {
				bound = before.Add(pacing(chat))
			}
			if !o.resumed.IsZero() && latest.Before(o.resumed.Add(o.takeover)) {
				// Due while the process was down or its successor was
				// taking over: it may wait for the takeover.
				bound = maxTime(bound, o.resumed.Add(o.takeover))
			}
			if m.At.After(bound.Add(o.late)) {
				fail("LATE: %s reached %s at %s, %s after it was due (plan %s) or its chat's pacing allowed it; want within %s",
					wt.what, chat, clock(m.At), m.At.Sub(bound).Round(time.Millisecond), fmtPlan(wt.after), o.late)
			}
			byKeySeen[key], byText[m.Text] = s, s
			if early.After(latestDue) {
				latestDue, latestWhat = early, wt.what
			}
			prevAt = m.At
		}
	}
	for _, wt := range wants {
		if wt.optional {
			continue
		}
		for _, chat := range wt.chats {
			if !got[chat][wt.key] {
				early, _ := wt.dueWall(k)
				fail("MISSING: %s never reached %s: due at plan %s (wall %s), got nothing by %s",
					wt.what, chat, fmtPlan(wt.after), clock(early), clock(checkedAt))
			}
		}
	}
	if len(problems) == 0 {
		if os.Getenv("FIREBREAK_SMOKE_VERBOSE") != "" {
			t.Logf("what reached the fakes:\n%s", w.transcript(byKey))
		}
		return
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("what reached the fakes:\n%s", w.transcript(byKey))
}

// drained is when the last required reminder of wants should have reached
// its chats: each chat takes one message per pacing interval, in due order.
// Reminders due while a restarted process was down count from when it was
// ready, plus the takeover allowed.
func (w *world) drained(wants []want, o checkOptions) time.Time {
	last := map[string]time.Time{}
	for _, wt := range wants {
		if wt.optional {
			continue
		}
		for _, chat := range wt.chats {
			if _, latest := wt.dueWall(w.scale); latest.After(last[chat]) {
				last[chat] = latest
			}
		}
	}
	var end time.Time
	for chat, lastDue := range last {
		var dues []time.Time
		for _, wt := range wants {
			_, latest := wt.dueWall(w.scale)
			if wt.sentTo(chat) && !latest.After(lastDue) {
				if !o.resumed.IsZero() && latest.Before(o.resumed.Add(o.takeover)) {
					latest = o.resumed.Add(o.takeover)
				}
				dues = append(dues, latest)
			}
		}
		slices.SortFunc(dues, func(a, b time.Time) int { return a.Compare(b) })
		var free time.Time
		for _, due := range dues {
			free = maxTime(free, due).Add(pacing(chat))
		}
		end = maxTime(end, free.Add(o.late))
	}
	return end
}

// transcript lists every message that reached a fake, per chat, with the
// plan time of the reminders after the event they count from.
func (w *world) transcript(byKey map[string]want) string {
	var b strings.Builder
	byChat := map[string][]message{}
	for _, m := range w.messages() {
		byChat[m.Chat] = append(byChat[m.Chat], m)
	}
	for _, chat := range slices.Sorted(maps.Keys(byChat)) {
		fmt.Fprintf(&b, "%s:\n", chat)
		for _, m := range byChat[chat] {
			note := ""
			if s, ok := parseReminder(m); ok {
				if wt, ok := byKey[s.key()]; ok {
					note = fmt.Sprintf(" [%s: due %s, at %s]", s.key(), fmtPlan(wt.after), fmtPlan(planAfter(m.At, wt.base, w.scale)))
				} else {
					note = fmt.Sprintf(" [%s: not planned]", s.key())
				}
			}
			for _, x := range m.Buttons {
				note += fmt.Sprintf(" [button %q → %s]", x.Label, x.Data)
			}
			fmt.Fprintf(&b, "  %s %q%s\n", clock(m.At), m.firstLine(), note)
		}
	}
	return b.String()
}

// logResumed logs, per chat, how long after a new process was ready the
// first message since the old one stopped reached it: the takeover as the
// platforms see it.
func (w *world) logResumed(stopped, ready time.Time) {
	w.t.Helper()
	first := map[string]time.Time{}
	for _, m := range w.messages() {
		if m.At.After(stopped) && first[m.Chat].IsZero() {
			first[m.Chat] = m.At
		}
	}
	var lines []string
	for _, chat := range slices.Sorted(maps.Keys(first)) {
		lines = append(lines, fmt.Sprintf("%s %s", chat, fmtDelay(first[chat].Sub(ready))))
	}
	w.t.Logf("first message per chat after the restart, from the new process's readiness: %s", strings.Join(lines, ", "))
}

func fmtDelay(d time.Duration) string {
	if d < 0 {
		return "-" + (-d).Round(time.Millisecond).String()
	}
	return "+" + d.Round(time.Millisecond).String()
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
