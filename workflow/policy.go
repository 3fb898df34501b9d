package workflow

import (
	"slices"
	"sort"
	"time"
)

// LevelPolicy holds the deadlines and approval rule of one level. A zero
// duration means the plan sets no such deadline for the level. The roster
// file's per-level policy keys (adapters/rosterfile) set these fields; each
// comment names its key. Nothing encodes a LevelPolicy, so it has no tags.
type LevelPolicy struct {
	// Report is the time from discovery within which the leaders must be
	// told (roster key report).
	Report time.Duration
	// Assign is the time from discovery within which the responsible
	// department must have taken the incident on (ack) (roster key assign).
	Assign time.Duration
	// Respond is the time from discovery within which the approved unified
	// reply must be published (roster key respond).
	Respond time.Duration
	// RespondSameDay, for inquiries, sets the reply deadline to the end of the
	// day of discovery (in the roster's timezone) when Respond is zero. It has
	// no roster key of its own: a respond key turns it off.
	RespondSameDay bool
	// Answer is the time from discovery within which a substantive answer is
	// given (the incident resolved). Zero: on completion (roster key answer).
	Answer time.Duration
	// UpdateEvery is the follow-up report (续报) cadence while open (roster
	// key update_every).
	UpdateEvery time.Duration
	// Approvals is how many leaders must approve a draft before publication
	// (roster key approvals).
	Approvals int
	// Principal requires one of the approvers to have the principal role
	// (roster key principal).
	Principal bool
	// WarnBefore is how long before each deadline the last warning fires
	// (a first one fires at half the time). Zero: no last warning (roster
	// key warn_before).
	WarnBefore time.Duration
	// NoHalfWarning turns off the warning at half the time: it is the roster
	// key half_warning negated (half_warning: false sets it). It is negative
	// so that the zero LevelPolicy, like the plan, warns at half the time.
	NoHalfWarning bool
	// Nudge is how long a draft may wait for its approvals before the
	// leaders who have not decided are reminded. Zero: never (roster key
	// nudge).
	Nudge time.Duration
	// Authority is the time from discovery (or escalation) within which the
	// incident must be reported to the higher authority (上级主管部门). Zero:
	// not reported up at this level (roster key authority).
	Authority time.Duration
	// ReportUpAuto: the bot reports up itself, to the roster's authority
	// channel, the moment the incident is opened at or raised to the level;
	// otherwise a person does, with report-up (roster key report_up: auto
	// or manual).
	ReportUpAuto bool
	// Publishers are the roles that may publish the approved reply in the
	// organisation's name (roster key publishers). Empty: the spokesperson
	// and the leaders (DefaultPublishers).
	Publishers []Role
}

// DefaultPublishers may publish where the policy names nobody: the
// spokesperson, and a leader standing in.
var DefaultPublishers = []Role{RoleSpokesperson, RoleLeader}

// PublisherRoles are the roles a policy's publishers may name: the voice of
// the unit (新闻发言人) and the leaders who may stand in for it.
var PublisherRoles = []Role{RoleSpokesperson, RoleLeader, RolePrincipal}

// MayPublish reports whether p may publish a reply of this level.
func (lp LevelPolicy) MayPublish(p *Person) bool {
	roles := lp.Publishers
	if len(roles) == 0 {
		roles = DefaultPublishers
	}
	for _, r := range roles {
		if p.Has(r) {
			return true
		}
	}
	return false
}

// PublisherRoles are the roles that may publish (DefaultPublishers when the
// policy names none).
func (lp LevelPolicy) PublisherRoles() []Role {
	if len(lp.Publishers) == 0 {
		return DefaultPublishers
	}
	return lp.Publishers
}

// Policy is the handling plan per level.
type Policy map[Level]LevelPolicy

// DefaultPolicy returns the deadlines of the handling plans (DESIGN.md §1).
func DefaultPolicy() Policy {
	return Policy{
		LevelGeneral: {
			Assign: 2 * time.Hour, RespondSameDay: true, Answer: 24 * time.Hour,
			UpdateEvery: 24 * time.Hour, Approvals: 1,
			WarnBefore: 15 * time.Minute, Nudge: time.Hour,
		},
		LevelMajor: {
			Report: 30 * time.Minute, Assign: 30 * time.Minute, Respond: 3 * time.Hour,
			UpdateEvery: 2 * time.Hour, Approvals: 2, Principal: true,
			WarnBefore: 15 * time.Minute, Nudge: 30 * time.Minute, Authority: time.Hour,
		},
		LevelCritical: {
			Report: 15 * time.Minute, Assign: 15 * time.Minute, Respond: 3 * time.Hour,
			UpdateEvery: time.Hour, Approvals: 2, Principal: true,
			WarnBefore: 15 * time.Minute, Nudge: 15 * time.Minute, Authority: 30 * time.Minute,
		},
	}
}

// For returns the policy of level l (the default of l when p lacks it).
func (p Policy) For(l Level) LevelPolicy {
	if lp, ok := p[l]; ok {
		return lp
	}
	return DefaultPolicy()[l]
}

// DeadlineKind names one of the plan's deadlines.
type DeadlineKind string

// Deadline kinds, in the order they usually fall.
const (
	DeadlineReport    DeadlineKind = "report"    // a leader acknowledged the report
	DeadlineAuthority DeadlineKind = "authority" // reported to the higher authority
	DeadlineAssign    DeadlineKind = "assign"    // department took it on
	DeadlineRespond   DeadlineKind = "respond"   // approved reply published
	DeadlineAnswer    DeadlineKind = "answer"    // substantive answer, resolved
)

// DeadlineKinds lists every deadline kind in the order they usually fall.
var DeadlineKinds = []DeadlineKind{DeadlineReport, DeadlineAssign, DeadlineAuthority, DeadlineRespond, DeadlineAnswer}

// Leaders reports whether the step is the leaders' own (reporting to them,
// reporting up), not the handling department's.
func (k DeadlineKind) Leaders() bool { return k == DeadlineReport || k == DeadlineAuthority }

// Text names the deadline in both languages (the raw value when unknown).
func (k DeadlineKind) Text() Text {
	switch k {
	case DeadlineReport:
		return Text{EN: "report to leaders", ZH: "报告领导"}
	case DeadlineAuthority:
		return Text{EN: "report to higher authority", ZH: "报告上级"}
	case DeadlineAssign:
		return Text{EN: "department takes it on", ZH: "部门接办"}
	case DeadlineRespond:
		return Text{EN: "approved reply published", ZH: "发布统一口径"}
	case DeadlineAnswer:
		return Text{EN: "substantive answer", ZH: "实质答复"}
	}
	return Text{EN: string(k), ZH: string(k)}
}

// Deadline is one deadline of an incident and whether and when it was met.
// From is when its clock started: discovery, or the escalation that put the
// incident under the major process.
type Deadline struct {
	Kind  DeadlineKind `json:"kind"`
	From  time.Time    `json:"from"`
	Due   time.Time    `json:"due"`
	MetAt time.Time    `json:"met_at,omitzero"`
	// Left is when the incident left this deadline's process unmet and
	// past its due time (Incident.Missed): missed for good, by Left-Due.
	Left time.Time `json:"left,omitzero"`
}

// Met reports whether the deadline was met (on time or late).
func (d Deadline) Met() bool { return !d.MetAt.IsZero() }

// Late reports whether the deadline was missed: met after it fell, or unmet
// and past at now (compared in Resolution).
func (d Deadline) Late(now time.Time) bool {
	if d.Met() {
		return Instant(d.MetAt).After(d.Due)
	}
	return Instant(now).After(d.Due)
}

// DeadlineOutcome is how a deadline of an incident stands.
type DeadlineOutcome int

// Deadline outcomes.
const (
	// OutcomeOnTime: met by its due time.
	OutcomeOnTime DeadlineOutcome = iota
	// OutcomeLate: met after its due time.
	OutcomeLate
	// OutcomeMissed: unmet and past its due time, or left unmet by a
	// resolution after its due time.
	OutcomeMissed
	// OutcomeUnneeded: left unmet by a resolution before it fell due (the
	// incident was over before it was needed): neither met nor missed.
	OutcomeUnneeded
	// OutcomePending: unmet and not yet due, the incident open.
	OutcomePending
)

// Outcome is how d, a deadline of inc, stands at now: one rule for the
// statistics, the handling report and the board.
func (d Deadline) Outcome(inc *Incident, now time.Time) DeadlineOutcome {
	switch {
	case !d.Left.IsZero():
		return OutcomeMissed // in a process the incident left
	case d.Met() && d.Late(d.MetAt):
		return OutcomeLate
	case d.Met():
		return OutcomeOnTime
	case !inc.Open() && !inc.ResolvedAt.IsZero() && !d.Late(inc.ResolvedAt):
		return OutcomeUnneeded
	case !inc.Open() || d.Late(now):
		return OutcomeMissed
	}
	return OutcomePending
}

// Lateness is by how much the deadline was late: until it was met late,
// until the incident left the deadline's process, until the incident was
// resolved without it, or until now while it runs overdue. ok is false
// when it was not late (met on time, not needed, still running in time).
// The report, the statistics and the export all measure it so.
func (d Deadline) Lateness(inc *Incident, now time.Time) (late time.Duration, ok bool) {
	var end time.Time
	switch d.Outcome(inc, now) {
	case OutcomeLate:
		end = d.MetAt
	case OutcomeMissed:
		switch {
		case !d.Left.IsZero():
			end = d.Left
		case inc.Open():
			end = now
		case inc.ResolvedAt.IsZero():
			return 0, false // resolved, when not recorded
		default:
			end = inc.ResolvedAt
		}
	default:
		return 0, false
	}
	return Instant(end).Sub(d.Due), true
}

// LateMinutes is a lateness in whole minutes, rounded up: a deadline met 9
// seconds late was late, by a minute, wherever it is shown.
func LateMinutes(late time.Duration) int {
	return int((late + time.Minute - 1) / time.Minute)
}

// TimeToMeet is how long the deadline took to be met: from its clock's
// start, or from discovery when it was met before that start (in the
// process the incident left, before an escalation restarted the clock).
func (d Deadline) TimeToMeet(inc *Incident) time.Duration {
	if d.MetAt.Before(d.From) {
		return d.MetAt.Sub(inc.FoundAt)
	}
	return d.MetAt.Sub(d.From)
}

// ClockStart is when the deadlines of the incident's current process count
// from: discovery (the plans' 发现后), or, once a general incident was
// escalated by rule, the escalation — from then on it is handled by the
// major process (按照重大舆情应对处置流程办理), whose deadlines would otherwise
// be born overdue.
func (inc *Incident) ClockStart() time.Time {
	if !inc.EscalatedAt.IsZero() && inc.Level != LevelGeneral {
		return inc.EscalatedAt
	}
	return inc.FoundAt
}

// Deadlines computes the incident's deadlines under policy p, counting from
// ClockStart, due in Resolution (Instant) like the timers that keep them, so a
// deadline falls at the very instant its timer does. cal gives the organisation's timezone and office hours ("same
// day" deadlines). Deadlines are sorted by due time.
func (inc *Incident) Deadlines(p Policy, cal Calendar) []Deadline {
	lp := p.For(inc.Level)
	from := inc.ClockStart()
	var out []Deadline
	add := func(kind DeadlineKind, due, met time.Time) {
		out = append(out, Deadline{Kind: kind, From: from, Due: Instant(due), MetAt: met})
	}
	if lp.Report > 0 {
		// The bot reports to the leaders the moment the incident is opened
		// at, or raised to, a level that requires it; the report is made
		// when a leader acknowledges it (a report nobody received is none).
		add(DeadlineReport, from.Add(lp.Report), inc.ReceivedAt())
	}
	if lp.Assign > 0 {
		add(DeadlineAssign, from.Add(lp.Assign), inc.AckedAt)
	}
	if lp.Authority > 0 {
		add(DeadlineAuthority, from.Add(lp.Authority), inc.ReportedUpAt)
	}
	switch {
	case lp.Respond > 0:
		add(DeadlineRespond, from.Add(lp.Respond), inc.PublishedAt())
	case lp.RespondSameDay && inc.Category == CategoryInquiry:
		start, due := cal.SameDay(from)
		out = append(out, Deadline{Kind: DeadlineRespond, From: start, Due: Instant(due), MetAt: inc.PublishedAt()})
	}
	if lp.Answer > 0 {
		add(DeadlineAnswer, from.Add(lp.Answer), inc.ResolvedAt)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Due.Before(out[j].Due) })
	return out
}

// leaveProcess keeps, as the incident leaves its process at now (its level
// is about to change), the deadlines of that process missed by then.
func (inc *Incident) leaveProcess(p Policy, cal Calendar, now time.Time) {
	for _, d := range inc.Deadlines(p, cal) {
		if !d.Met() && d.Late(now) {
			d.Left = Instant(now)
			inc.Missed = append(inc.Missed, d)
		}
	}
}

// Record is every deadline the incident had: those missed in processes it
// left (Missed), then those of its current process.
func (inc *Incident) Record(p Policy, cal Calendar) []Deadline {
	return append(slices.Clone(inc.Missed), inc.Deadlines(p, cal)...)
}

// NextDue returns the earliest unmet deadline of an open incident, and false
// when there is none.
func (inc *Incident) NextDue(p Policy, cal Calendar) (Deadline, bool) {
	if !inc.Open() {
		return Deadline{}, false
	}
	for _, d := range inc.Deadlines(p, cal) {
		if !d.Met() {
			return d, true
		}
	}
	return Deadline{}, false
}

// NextHandlingDue is the first unmet deadline of an open incident that is
// the handling department's to meet (not a leaders' step), else NextDue.
func (inc *Incident) NextHandlingDue(p Policy, cal Calendar) (Deadline, bool) {
	if !inc.Open() {
		return Deadline{}, false
	}
	var next Deadline
	found := false
	for _, d := range inc.Deadlines(p, cal) {
		switch {
		case d.Met():
		case !d.Kind.Leaders():
			return d, true
		case !found:
			next, found = d, true
		}
	}
	return next, found
}

// Overdue reports whether an open incident has an unmet deadline past at now.
func (inc *Incident) Overdue(p Policy, cal Calendar, now time.Time) bool {
	d, ok := inc.NextDue(p, cal)
	return ok && Instant(now).After(d.Due)
}

// Quorum reports whether draft d has the approvals that level l requires.
func (p Policy) Quorum(l Level, d *Draft) bool {
	if d == nil || d.Rejection != nil {
		return false
	}
	lp := p.For(l)
	principal := false
	for _, a := range d.Approvals {
		principal = principal || a.Principal
	}
	return len(d.Approvals) >= lp.ApprovalsNeeded() && (!lp.Principal || principal)
}

// ApprovalsNeeded is how many approvals a draft needs: Approvals, and never
// fewer than one (nothing is published unapproved).
func (lp LevelPolicy) ApprovalsNeeded() int { return max(lp.Approvals, 1) }
