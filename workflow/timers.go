package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The registry of timer kinds. Every kind of timer says here, and nowhere
// else, how it is planned (the deadline or cadence it follows and its due
// time), what firing it does (the transition Tick makes and the event it
// records) and why it says nothing when its reason has passed. Timer names
// are built and taken apart here only: Plan, Tick, the Fired record and the
// scheduler's metrics all go through TimerName.

// TimerKind is a kind of timer: a warning before a deadline or the deadline
// itself, "<deadline>:<phase>" ("assign:half", "assign:warn", "assign:due"),
// the follow-up report reminder ("update") or the approval nudge ("nudge").
// It is a small, fixed set, and the kind label of the timer metrics.
type TimerKind string

// Timer kinds that follow no deadline. The deadline kinds are made by
// DeadlineTimer.
const (
	// TimerUpdate reminds that follow-up report N is due; it follows the
	// level's cadence (UpdateEvery) and records EventUpdateDue.
	TimerUpdate TimerKind = "update"
	// TimerNudge reminds the leaders who have not decided that draft
	// version N waits for them (after Nudge); it records EventApprovalWait.
	TimerNudge TimerKind = "nudge"
	// TimerUnknown is the kind of a name no kind knows (metrics and logs
	// only: a timer written by another release, say).
	TimerUnknown TimerKind = "unknown"
)

// Phases of a deadline's timers: the warning at half the time, the last
// warning WarnBefore the deadline, and the deadline itself.
const (
	PhaseHalf = "half"
	PhaseWarn = "warn"
	PhaseDue  = "due"
)

// deadlinePhases are the timers of one deadline, in the order they fall.
var deadlinePhases = []string{PhaseHalf, PhaseWarn, PhaseDue}

// cadenceKinds are the kinds that follow no deadline, in the order Plan
// lists them (after the deadlines').
var cadenceKinds = []TimerKind{TimerUpdate, TimerNudge}

// DeadlineTimer is the kind of the timer of deadline k in phase (PhaseHalf,
// PhaseWarn or PhaseDue): "assign:half".
func DeadlineTimer(k DeadlineKind, phase string) TimerKind {
	return TimerKind(string(k) + ":" + phase)
}

// Known reports whether k is a kind of the registry.
func (k TimerKind) Known() bool {
	_, ok := timerKinds[k]
	return ok
}

// Deadline returns the deadline a deadline timer keeps and its phase, and
// false for a kind that follows no deadline.
func (k TimerKind) Deadline() (DeadlineKind, string, bool) {
	tk, ok := timerKinds[k]
	return tk.deadline, tk.phase, ok && tk.deadline != ""
}

// TimerName is the typed name of a timer. Its ID, the Timer's and the
// DueTimer's, is "<incident>:<kind>" for a deadline timer ("YQ-7:respond:due")
// and "<incident>:<kind>:<n>" for a numbered one ("YQ-7:update:3",
// "YQ-7:nudge:2"). IDs are stored (Redis sorted-set members, Incident.Fired),
// so their form never changes.
type TimerName struct {
	Incident string
	Kind     TimerKind
	// N is the number of a numbered kind: the follow-up report due
	// (TimerUpdate), the draft version waiting (TimerNudge); 0 otherwise.
	N int
}

// String is the timer's ID.
func (n TimerName) String() string { return n.Incident + ":" + n.local() }

// local is the name within the incident, the part of the ID after
// "<incident>:"; Incident.Fired records it.
func (n TimerName) local() string {
	if timerKinds[n.Kind].numbered {
		return string(n.Kind) + ":" + strconv.Itoa(n.N)
	}
	return string(n.Kind)
}

// errTimerName is the error of ParseTimerName.
var errTimerName = errors.New("not a timer name")

// ParseTimerName reads the ID of a timer of incident (String's form). It
// fails for an ID of another incident, an unknown kind or a missing number.
func ParseTimerName(incident, id string) (TimerName, error) {
	local, ok := strings.CutPrefix(id, incident+":")
	if !ok || incident == "" {
		return TimerName{}, fmt.Errorf("%w: %q is not a timer of %s", errTimerName, id, incident)
	}
	if k := TimerKind(local); k.Known() && !timerKinds[k].numbered {
		return TimerName{Incident: incident, Kind: k}, nil
	}
	i := strings.LastIndexByte(local, ':')
	if i < 0 {
		return TimerName{}, fmt.Errorf("%w: %q has an unknown kind", errTimerName, id)
	}
	k := TimerKind(local[:i])
	n, err := strconv.Atoi(local[i+1:])
	if !k.Known() || !timerKinds[k].numbered || err != nil || n < 1 {
		return TimerName{}, fmt.Errorf("%w: %q has an unknown kind or no number", errTimerName, id)
	}
	return TimerName{Incident: incident, Kind: k, N: n}, nil
}

// Kind is the kind of the timer, for metrics and logs: TimerUnknown when its
// ID is not a timer name of its incident.
func (t DueTimer) Kind() TimerKind {
	if IsCandidateID(t.Incident) {
		switch local := strings.TrimPrefix(t.ID, t.Incident+":"); local {
		case timerAuto, timerTriageOffice, timerTriageLeaders:
			return TimerKind("intake:" + local) // "intake:triage:office"
		}
		return TimerUnknown
	}
	n, err := ParseTimerName(t.Incident, t.ID)
	if err != nil {
		return TimerUnknown
	}
	return n.Kind
}

// HasFired reports whether the timer named n (of this incident: n.Incident
// is not compared) due at due has fired. Due times compare in Resolution,
// the precision a timer is planned and stored in.
func (inc *Incident) HasFired(n TimerName, due time.Time) bool {
	return slices.Contains(inc.Fired, firedKey(n, due))
}

// markFired records that the timer named n due at due has fired.
func (inc *Incident) markFired(n TimerName, due time.Time) {
	if !inc.HasFired(n, due) {
		inc.Fired = append(inc.Fired, firedKey(n, due))
	}
}

// firedAtAll reports whether the timer named n has fired at any due time.
func (inc *Incident) firedAtAll(n TimerName) bool {
	prefix := n.local() + "@"
	return slices.ContainsFunc(inc.Fired, func(f string) bool { return strings.HasPrefix(f, prefix) })
}

// firedKey is an entry of Incident.Fired: "<local name>@<due unix millis>".
func firedKey(n TimerName, due time.Time) string {
	return n.local() + "@" + strconv.FormatInt(Instant(due).UnixMilli(), 10)
}

// timerKind is one entry of the registry.
type timerKind struct {
	// deadline and phase: the deadline a deadline timer keeps, and which of
	// its timers it is ("" for the cadence kinds).
	deadline DeadlineKind
	phase    string
	// numbered kinds carry a number in their name (TimerName.N).
	numbered bool
	// event is the event the timer records when it speaks.
	event EventKind
	// plan says whether the incident needs the timer, with its number and
	// due time. For a deadline kind, pl.deadline is its deadline, unmet.
	plan func(pl planning) (n int, due time.Time, ok bool)
	// fire decides what the timer says when it fires as planned: its
	// events (the kind's event first; it may change the incident, as an
	// escalation does), or none and why.
	fire func(f firing) ([]Event, string)
	// passed says why a timer that is no longer planned at any time did
	// not fire.
	passed func(f firing) TickResult
}

// timerKinds is the registry: every deadline in every phase, and the
// cadence kinds. It is filled by init, since its functions use it.
var timerKinds map[TimerKind]timerKind

func init() {
	timerKinds = map[TimerKind]timerKind{
		TimerUpdate: {numbered: true, event: EventUpdateDue, plan: planUpdate, fire: fireUpdate, passed: passedUpdate},
		TimerNudge:  {numbered: true, event: EventApprovalWait, plan: planNudge, fire: fireNudge, passed: passedNudge},
	}
	phases := map[string]timerKind{
		PhaseHalf: {event: EventReminder, plan: planWarning, fire: fireWarning, passed: passedDeadline},
		PhaseWarn: {event: EventReminder, plan: planWarning, fire: fireWarning, passed: passedDeadline},
		PhaseDue:  {event: EventOverdue, plan: planDeadline, fire: fireOverdue, passed: passedDeadline},
	}
	for _, d := range DeadlineKinds {
		for _, phase := range deadlinePhases {
			k := phases[phase]
			k.deadline, k.phase = d, phase
			timerKinds[DeadlineTimer(d, phase)] = k
		}
	}
}

// planning is what a kind plans from.
type planning struct {
	inc      *Incident
	p        Policy
	lp       LevelPolicy
	kind     timerKind
	deadline Deadline
}

// planWarning: a warning before a deadline, when the policy sends one in its
// phase (LevelPolicy.Warnings).
func planWarning(pl planning) (int, time.Time, bool) {
	for _, w := range pl.lp.Warnings(pl.deadline.From, pl.deadline.Due) {
		if w.Phase == pl.kind.phase {
			return 0, w.At, true
		}
	}
	return 0, time.Time{}, false
}

// planDeadline: the deadline itself.
func planDeadline(pl planning) (int, time.Time, bool) { return 0, pl.deadline.Due, true }

// planUpdate: the next follow-up report reminder while the incident is open.
// Report n is due n-Updates cadences after the last report filed, or after
// opening or the escalation that started the major process, whichever is
// last; a reminder that fired is followed by the next number, so each
// request has its own.
func planUpdate(pl planning) (int, time.Time, bool) {
	every := pl.lp.UpdateEvery
	if every <= 0 {
		return 0, time.Time{}, false
	}
	inc := pl.inc
	last := inc.LastUpdateAt
	if last.IsZero() {
		last = inc.OpenedAt
	}
	if start := inc.ClockStart(); start.After(last) {
		last = start
	}
	n, due := inc.Updates+1, last.Add(every)
	for inc.HasFired(TimerName{Kind: TimerUpdate, N: n}, due) {
		n, due = n+1, due.Add(every)
	}
	return n, due, true
}

// planNudge: one nudge of the approvers when the current draft waits Nudge
// for them — one per version, even when a level change moves its time.
func planNudge(pl planning) (int, time.Time, bool) {
	d := pl.inc.CurrentDraft()
	if d == nil || pl.lp.Nudge <= 0 || !awaitsApproval(pl.p, pl.inc, d) ||
		pl.inc.firedAtAll(TimerName{Kind: TimerNudge, N: d.Version}) {
		return 0, time.Time{}, false
	}
	return d.Version, d.At.Add(pl.lp.Nudge), true
}

// firing is a timer that fell due, as Tick handles it.
type firing struct {
	s    *Service
	inc  *Incident
	lp   LevelPolicy
	name TimerName
	kind timerKind
	// due is the due time it was claimed with; now, the time of handling.
	due, now time.Time
}

// record is the kind's event with data.
func (f firing) record(data EventData) Event { return Event{Kind: f.kind.event, Data: data} }

// deadline is the current deadline the timer keeps (zero when the policy
// has none of its kind any more).
func (f firing) deadline() Deadline {
	for _, d := range f.s.Deadlines(f.inc) {
		if d.Kind == f.kind.deadline {
			return d
		}
	}
	return Deadline{}
}

// fireWarning: the reminder that a deadline approaches. A warning whose
// moment passed says nothing: the overdue notice, or the later warning when
// there is one, speaks instead.
func fireWarning(f firing) ([]Event, string) {
	dl := f.deadline()
	if !f.now.Before(dl.Due) {
		return nil, "its deadline passed before it fired"
	}
	for _, w := range f.lp.Warnings(dl.From, dl.Due) {
		if w.Phase != f.kind.phase && w.At.After(f.due) && !f.now.Before(w.At) {
			return nil, "the " + w.Phase + " warning was due before it fired"
		}
	}
	return []Event{f.record(EventData{Deadline: dl.Kind, Due: dl.Due, Phase: f.kind.phase})}, ""
}

// fireOverdue: the overdue notice, and for a general incident past its
// answer deadline the escalation to major.
func fireOverdue(f firing) ([]Event, string) {
	return f.s.overdue(f.inc, []Deadline{f.deadline()}, f.now), ""
}

// fireUpdate: the request for follow-up report N. Handled late (the replicas
// were down), the requests whose turn has passed are skipped: the latest one
// due speaks, once, with its own number.
func fireUpdate(f firing) ([]Event, string) {
	n, due := f.name.N, f.due
	if every := f.lp.UpdateEvery; every > 0 {
		for !f.now.Before(due.Add(every)) {
			n, due = n+1, Instant(due.Add(every))
			f.inc.markFired(TimerName{Kind: TimerUpdate, N: n}, due)
		}
	}
	filed := f.inc.Updates
	return []Event{f.record(EventData{Number: n, Due: due, Every: f.lp.UpdateEvery, Filed: &filed})}, ""
}

// fireNudge: the nudge of the leaders who have not decided draft version N.
func fireNudge(f firing) ([]Event, string) {
	d := f.inc.CurrentDraft()
	if d == nil || d.Version != f.name.N {
		return nil, "draft version " + strconv.Itoa(f.name.N) + " is not the current one"
	}
	return []Event{f.record(EventData{Version: d.Version, Since: d.At, Waiting: f.s.undecided(d)})}, ""
}

func passedDeadline(f firing) TickResult {
	for _, d := range f.s.Deadlines(f.inc) {
		if d.Kind == f.kind.deadline && d.Met() {
			return TickResult{Outcome: TimerMet, Reason: string(d.Kind) + " met " + stamp(d.MetAt)}
		}
	}
	return TickResult{Outcome: TimerSuperseded, Reason: "no longer planned at level " + string(f.inc.Level)}
}

func passedUpdate(f firing) TickResult {
	if f.inc.Updates >= f.name.N {
		return TickResult{Outcome: TimerFiled, Reason: "follow-up report #" + strconv.Itoa(f.name.N) + " was filed"}
	}
	if f.lp.UpdateEvery > 0 {
		return TickResult{Outcome: TimerFiled, Reason: "a follow-up report was filed " + stamp(f.inc.LastUpdateAt)}
	}
	return TickResult{Outcome: TimerSuperseded, Reason: "no follow-up cadence at level " + string(f.inc.Level)}
}

func passedNudge(f firing) TickResult {
	if f.lp.Nudge > 0 {
		return TickResult{Outcome: TimerDecided, Reason: "draft version " + strconv.Itoa(f.name.N) + " no longer waits for approval"}
	}
	return TickResult{Outcome: TimerSuperseded, Reason: "no nudge at level " + string(f.inc.Level)}
}
