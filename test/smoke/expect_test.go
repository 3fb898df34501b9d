package smoke

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The handling plan's defaults (DESIGN.md §1; README "Reminders"), written
// out here rather than imported, so that the suite checks the product
// against the plan and not against itself.
type levelPolicy struct {
	report, assign, authority, respond, answer, updateEvery, nudge time.Duration
}

var policy = map[string]levelPolicy{
	"general": {assign: 2 * time.Hour, answer: 24 * time.Hour, updateEvery: 24 * time.Hour, nudge: time.Hour},
	"major": {report: 30 * time.Minute, assign: 30 * time.Minute, authority: time.Hour, respond: 3 * time.Hour,
		updateEvery: 2 * time.Hour, nudge: 30 * time.Minute},
	"critical": {report: 15 * time.Minute, assign: 15 * time.Minute, authority: 30 * time.Minute, respond: 3 * time.Hour,
		updateEvery: time.Hour, nudge: 15 * time.Minute},
}

// warnBefore is when the last warning before a deadline falls (README:
// "a warning at half the time, one 15 minutes before").
const warnBefore = 15 * time.Minute

// deadlineNames are the deadlines as the English reminders name them.
var deadlineNames = map[string]string{
	"report":    "report to leaders",
	"assign":    "department takes it on",
	"authority": "report to higher authority",
	"respond":   "approved reply published",
	"answer":    "substantive answer",
}

// earlyEpsilon is how much before its due time a message may reach a fake
// and still not count as early. The due wall time is computed from the
// moment the test sent the request that set it off, which is before the
// binary read its clock, so the test's figure is never later than the
// true one. What remains is the store's precision (a due time kept in whole
// milliseconds of plan time is at most 1 ms of plan time, 1ms/scale of wall
// time, early) and float rounding in the scaled clock (nanoseconds). Both
// processes read the same CLOCK_MONOTONIC/CLOCK_REALTIME of one machine. One
// millisecond of wall time is far above those and far below any real early
// firing (a clock that restarted, a comparison that rounds the wrong way,
// a replica with another epoch: hundreds of milliseconds at these scales).
const earlyEpsilon = time.Millisecond

// want is a reminder the plan calls for.
type want struct {
	// key identifies the reminder: "<incident> <kind> <arg>", e.g.
	// "YQ-1 half assign", "YQ-1 followup 2", "YQ-1 nudge 1".
	key string
	// what says it for people: `YQ-1 half-time warning of "department takes it on"`.
	what string
	// chats must each receive it once.
	chats []string
	// also may receive it, without having to.
	also []string
	// base is the request the due time counts from (opening, a draft).
	base stamp
	// after is the plan time from base to the due time.
	after time.Duration
	// optional reminders may arrive (and are then checked) but need not.
	optional bool
}

// dueWall returns the earliest and latest wall time the reminder can be
// due at, at time scale k: the plan time after its base, over k.
func (w want) dueWall(k float64) (earliest, latest time.Time) {
	d := time.Duration(float64(w.after) / k)
	return w.base.sent.Add(d), w.base.done.Add(d)
}

func (w want) sentTo(chat string) bool {
	return slices.Contains(w.chats, chat) || slices.Contains(w.also, chat)
}

// plannedReminders returns the reminders the plan calls for an incident
// that nobody acts on after opening: for each deadline a warning at half the
// time, one warnBefore it when that falls after half time, and the overdue
// notice; and the follow-up requests at their cadence, numbered 1, 2, ...
// Reminders due after horizon are optional. The report deadline of major
// and critical incidents waits for a leader's Received, so nobody acting it
// has its warnings, to the leaders, who are the ones to acknowledge; the
// report to the higher authority is warned of to the incidents channel and
// the leaders. Incidents of category other have no "same day" reply
// deadline.
func plannedReminders(inc incident, horizon time.Duration) []want {
	lp := policy[inc.level]
	reminders := append(slices.Clone(incidentsChats), inc.assignee.chats()...)
	overdue := append(slices.Clone(reminders), leadersChats...)
	leadersSteps := append(slices.Clone(incidentsChats), leadersChats...)
	var out []want
	add := func(w want) {
		w.base = inc.opened
		w.optional = w.optional || w.after > horizon
		out = append(out, w)
	}
	for _, kind := range []string{"report", "assign", "authority", "respond", "answer"} {
		d := map[string]time.Duration{"report": lp.report, "assign": lp.assign, "authority": lp.authority,
			"respond": lp.respond, "answer": lp.answer}[kind]
		if d == 0 {
			continue
		}
		warned, overdueTo := reminders, overdue
		switch kind {
		case "report":
			warned, overdueTo = leadersChats, leadersSteps
		case "authority":
			warned, overdueTo = leadersSteps, leadersSteps
		}
		name := deadlineNames[kind]
		add(want{key: inc.ID + " half " + kind, what: fmt.Sprintf("%s half-time warning of %q", inc.ID, name),
			chats: warned, after: d / 2})
		if d-warnBefore > d/2 {
			add(want{key: inc.ID + " warn " + kind, what: fmt.Sprintf("%s 15-minute warning of %q", inc.ID, name),
				chats: warned, after: d - warnBefore})
		}
		add(want{key: inc.ID + " overdue " + kind, what: fmt.Sprintf("%s overdue notice of %q", inc.ID, name),
			chats: overdueTo, after: d})
	}
	if lp.updateEvery > 0 {
		// Far enough beyond the horizon to cover every one that can arrive
		// while a test waits for the last required reminder.
		for n := 1; time.Duration(n-1)*lp.updateEvery <= horizon+72*time.Hour; n++ {
			add(want{key: fmt.Sprintf("%s followup %d", inc.ID, n), what: fmt.Sprintf("%s follow-up request #%d", inc.ID, n),
				chats: reminders, after: time.Duration(n) * lp.updateEvery})
		}
	}
	return out
}

// seen is a reminder that reached a fake.
type seen struct {
	msg      message
	kind     string // half, warn, overdue, followup, nudge, escalated
	incident string
	arg      string // the deadline kind, the follow-up number, the draft version
}

func (s seen) key() string {
	if s.kind == "escalated" {
		return s.incident + " escalated"
	}
	return s.incident + " " + s.kind + " " + s.arg
}

var (
	quoted      = regexp.MustCompile(`"([^"]+)"`)
	followupNo  = regexp.MustCompile(`follow-up report #(\d+)`)
	draftNo     = regexp.MustCompile(`draft version (\d+)`)
	isDue       = regexp.MustCompile(`"[^"]+" is due`)
	countdown   = regexp.MustCompile(`\s*\(in [^)]*\)`)
	digestTitle = regexp.MustCompile(`^(Daily digest|Weekly summary) `)
)

// parseReminder recognises a reminder by the stable key phrases of its
// first line (handlers/timers.go), not by its whole wording.
func parseReminder(m message) (seen, bool) {
	line := m.firstLine()
	if digestTitle.MatchString(line) {
		return seen{}, false
	}
	s := seen{msg: m, incident: incidentID.FindString(line)}
	if s.incident == "" {
		return seen{}, false
	}
	deadline := func() string {
		q := quoted.FindStringSubmatch(line)
		if q == nil {
			return "?"
		}
		for kind, name := range deadlineNames {
			if name == q[1] {
				return kind
			}
		}
		return q[1]
	}
	switch {
	case strings.Contains(line, "follow-up report #"):
		s.kind = "followup"
		if n := followupNo.FindStringSubmatch(line); n != nil {
			s.arg = n[1]
		}
	case strings.Contains(line, "half the time for"):
		s.kind, s.arg = "half", deadline()
	case strings.Contains(line, "OVERDUE"):
		s.kind, s.arg = "overdue", deadline()
	case strings.Contains(line, "has waited since"):
		s.kind = "nudge"
		if n := draftNo.FindStringSubmatch(line); n != nil {
			s.arg = n[1]
		}
	case strings.Contains(line, " escalated "):
		s.kind = "escalated"
	case isDue.MatchString(line):
		s.kind, s.arg = "warn", deadline()
	default:
		return seen{}, false
	}
	return s, true
}

// pacing is the least time the product leaves between two messages to one
// chat (DESIGN.md §3): Slack about one message a second per conversation,
// Telegram 20 a minute in a group (one every 3 s) and one a second in a
// private chat.
func pacing(chat string) time.Duration {
	if strings.HasPrefix(chat, "telegram:-") {
		return 3 * time.Second
	}
	return time.Second
}

// planAfter converts the wall time from base.sent to at into plan time.
func planAfter(at time.Time, base stamp, k float64) time.Duration {
	return time.Duration(float64(at.Sub(base.sent)) * k)
}

func fmtPlan(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + d.Round(100*time.Millisecond).String()
}

func clock(t time.Time) string { return t.Format("15:04:05.000") }

// followupNumber is the number of a follow-up key, or 0.
func followupNumber(key string) int {
	f := strings.Fields(key)
	if len(f) == 3 && f[1] == "followup" {
		n, _ := strconv.Atoi(f[2])
		return n
	}
	return 0
}
