package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Who must be told of a transition, and about what, is decided here and
// nowhere else. A transition's notices are written with it (Store.Apply), so
// none is lost; each one names its audience, what kind of message it is, the
// event it tells of and the thread (the card) it belongs to. The words are
// chosen at delivery (handlers), per platform (adapters), from the incident
// as it is then: a card delivered late, or refreshed, shows the present.

// NoticeKind says what a notice is for.
type NoticeKind string

// Notice kinds.
const (
	// NoticeEvent tells of an event in a sentence.
	NoticeEvent NoticeKind = "event"
	// NoticeCard tells of an event with the incident card (opened, level
	// changed, overdue).
	NoticeCard NoticeKind = "card"
	// NoticeReport reports an incident to the leaders (报告): its grade and
	// the card. Event is what made it reportable (opened, raised, escalated,
	// overdue).
	NoticeReport NoticeKind = "report"
	// NoticeAssigned tells a person an incident is theirs, with the buttons
	// to take it on.
	NoticeAssigned NoticeKind = "assigned"
	// NoticeApproval asks for the approval of a draft version, with the
	// buttons to decide; Event is the draft or the nudge.
	NoticeApproval NoticeKind = "approval"
	// NoticePublish asks a spokesperson to publish an approved version.
	NoticePublish NoticeKind = "publish"
	// NoticeRedraft tells a draft's author it was rejected, and how to write
	// the next version.
	NoticeRedraft NoticeKind = "redraft"
	// NoticeStatement is the published unified reply, once.
	NoticeStatement NoticeKind = "statement"
	// NoticeRefresh brings the messages already posted for Thread up to
	// date (counts, who decided, buttons that still apply) and posts nothing
	// new.
	NoticeRefresh NoticeKind = "refresh"
	// NoticeDigest is a scheduled digest of the open incidents.
	NoticeDigest NoticeKind = "digest"
	// NoticeTriage asks for the judgement of a monitoring candidate (人工判读)
	// with its card and buttons, or reminds of one nobody judged; Triage
	// says which step. Its Notice.Incident is the candidate's ID.
	NoticeTriage NoticeKind = "triage"
)

// ThreadKind names the cards of an incident that stay current.
type ThreadKind string

// Thread kinds.
const (
	ThreadIncident ThreadKind = "incident" // the incident card, in a channel or with the assignee
	ThreadReport   ThreadKind = "report"   // the card reported to the leaders
	ThreadApproval ThreadKind = "approval" // the approval request of one draft version
	ThreadPublish  ThreadKind = "publish"  // the request to publish one approved version
	// ThreadAuthority is the report to the higher authority, with its
	// follow-ups.
	ThreadAuthority ThreadKind = "authority"
	// ThreadTriage is the triage card of a monitoring candidate.
	ThreadTriage ThreadKind = "triage"
)

// Thread is one card of an incident that later decisions update wherever
// it was posted. The zero Thread is none.
type Thread struct {
	Kind    ThreadKind `json:"kind,omitempty"`
	Version int        `json:"version,omitempty"` // the draft version (approval, publish)
}

// IsZero reports whether t is no thread.
func (t Thread) IsZero() bool { return t.Kind == "" }

// Key is the thread's stable name within the platforms' memories:
// "YQ-7", "YQ-7:report", "YQ-7:approval:2", "YQ-7:publish:2".
func (t Thread) Key(incident string) string {
	switch t.Kind {
	case "":
		return ""
	case ThreadIncident:
		return incident
	case ThreadApproval, ThreadPublish:
		return incident + ":" + string(t.Kind) + ":" + strconv.Itoa(t.Version)
	}
	return incident + ":" + string(t.Kind)
}

// Notification is what a Notice carries: the kind of message, the event it
// tells of and its thread. It is encoded in Notice.Body.
type Notification struct {
	Kind   NoticeKind `json:"kind"`
	Thread Thread     `json:"thread,omitzero"`
	// Event is the event told of (none for a refresh or a digest).
	Event *Event `json:"event,omitempty"`
	// Took marks an assignment the actor made to themselves and
	// acknowledged in the same step: they took the incident.
	Took bool `json:"took,omitempty"`
	// Digest is the kind of digest ("daily", "weekly").
	Digest string `json:"digest,omitempty"`
	// Triage is the step of a candidate's triage told of (NoticeTriage).
	Triage *TriageStep `json:"triage,omitempty"`
	// Format tells a Notification body from a message encoded by an
	// earlier release (which has none).
	Format int `json:"format"`
}

// notificationFormat is Notification.Format.
const notificationFormat = 1

// ErrNotNotification means a notice body is not a Notification (it was
// written by an earlier release, as a rendered message).
var ErrNotNotification = Errorf(CodeInvalid, "not a notification", "不是通知")

// Notification decodes what n carries.
func (n Notice) Notification() (Notification, error) {
	var nt Notification
	if err := json.Unmarshal(n.Body, &nt); err != nil {
		return Notification{}, fmt.Errorf("notice %s: %w", n.ID, err)
	}
	if nt.Format != notificationFormat || nt.Kind == "" {
		return Notification{}, ErrNotNotification
	}
	return nt, nil
}

// Urgent reports whether the notice goes before routine ones to its chat:
// a new report to the leaders or the authority (an incident opened at or
// raised to a level that is reported, or reported up), a new approval
// request and the triage card of a new monitoring item. A burst of routine cards never holds them back (the plan's "at
// once"); a burst of triage cards beyond a chat's minute's worth is listed
// in one message (bot's coalescing). Reminders, overdue notices and escalations by a timer keep their
// order, so a chat never reads "overdue" before the warning that came due
// first. A body that is not a Notification is routine.
func (n Notice) Urgent() bool {
	nt, err := n.Notification()
	if err != nil {
		return false
	}
	if nt.Kind == NoticeTriage {
		// What the monitoring found is told at once (第一时间上报): a
		// person must judge it before its deadlines run.
		return nt.Triage != nil && nt.Triage.Step == TriageNew
	}
	if nt.Event == nil {
		return false
	}
	switch nt.Kind {
	case NoticeReport:
		switch nt.Event.Kind {
		case EventOpened, EventLevelChanged, EventReportedUp:
			return true
		}
	case NoticeApproval:
		return nt.Event.Kind == EventDrafted
	}
	return false
}

// AuthorityChat reports whether the higher authority is told in a chat of
// its own (the roster names the authority channel): a report up and the
// follow-ups after it are then sent there; without it the report up is
// made outside Firebreak and only recorded.
func (s *Service) AuthorityChat() bool {
	_, ok := s.roster.Channel(ChannelAuthority)
	return ok
}

// NewNotice addresses nt to an audience; id must be deterministic.
func NewNotice(id, incident string, to Audience, nt Notification) Notice {
	nt.Format = notificationFormat
	b, err := json.Marshal(nt)
	if err != nil {
		// A Notification holds strings, numbers and times only.
		panic(fmt.Sprintf("encode notification: %v", err))
	}
	return Notice{ID: id, Incident: incident, Audience: to, Body: b}
}

// DigestNotice is the digest of kind for the cron fire time fire, to the
// incidents channel. Its ID names the kind and the minute, so that replicas
// building the same digest deliver it once.
func DigestNotice(kind string, fire time.Time) Notice {
	id := fmt.Sprintf("digest:%s:%s>%s", kind, fire.Format("2006-01-02T15:04"), ChannelIncidents)
	return NewNotice(id, "", ChannelIncidents, Notification{Kind: NoticeDigest, Digest: kind})
}

// Incident returns the incident with the given ID as stored, for rendering
// its notices (no person acts). Errors: CodeNotFound.
func (s *Service) Incident(ctx context.Context, id string) (*Incident, error) {
	return s.store.Get(ctx, NormalizeID(id))
}

// notifier collects the notices of one transition.
type notifier struct {
	roster *Roster
	inc    *Incident
	out    []Notice
	// posted remembers the threads a message with a card was posted to in
	// this transition: those need no refresh.
	posted map[string]bool
	// approvals and publishes are the draft versions whose approval or
	// publish requests this transition decided or superseded: their cards
	// are refreshed.
	approvals, publishes []int
}

// toLeaders tells the leaders' audiences.
func (n *notifier) toLeaders(e Event, nt Notification) {
	for _, a := range n.leaders() {
		n.add(e, a, nt)
	}
}

func (n *notifier) add(e Event, to Audience, nt Notification) {
	nt.Event = &e
	suffix := ""
	if nt.Kind == NoticePublish || nt.Kind == NoticeRedraft {
		suffix = ">" + string(nt.Kind) // a person may get an event line too
	}
	n.out = append(n.out, NewNotice(e.ID+">"+string(to)+suffix, n.inc.ID, to, nt))
	if !nt.Thread.IsZero() && nt.Kind != NoticeEvent {
		n.posted[string(to)+">"+nt.Thread.Key(n.inc.ID)] = true
	}
}

func (n *notifier) refresh(last Event, to Audience, t Thread) {
	key := t.Key(n.inc.ID)
	if n.posted[string(to)+">"+key] {
		return
	}
	n.posted[string(to)+">"+key] = true
	n.out = append(n.out, NewNotice(last.ID+">refresh:"+key+">"+string(to), n.inc.ID, to,
		Notification{Kind: NoticeRefresh, Thread: t}))
}

// leaders is where approval requests and reports go: the leaders channel
// when the roster sets one, else each leader directly.
func (n *notifier) leaders() []Audience {
	if _, ok := n.roster.Channel(ChannelLeaders); ok {
		return []Audience{ChannelLeaders}
	}
	return persons(n.roster.WithRole(RoleLeader))
}

// approvers is every audience an approval request may have reached: the
// leaders' audiences and each leader and principal leader directly (nudges
// go to the people who have not decided).
func (n *notifier) approvers() []Audience {
	out := n.leaders()
	for _, id := range append(n.roster.WithRole(RoleLeader), n.roster.WithRole(RolePrincipal)...) {
		if a := PersonAudience(id); !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func persons(ids []string) []Audience {
	out := make([]Audience, 0, len(ids))
	for _, id := range ids {
		out = append(out, PersonAudience(id))
	}
	return out
}

// notices decides who is told of events, the stamped events of one
// transition from prev (nil when opening) to inc, and returns the notices,
// refreshes of the cards the transition changed included.
func (s *Service) notices(prev, inc *Incident, events []Event) []Notice {
	if len(events) == 0 {
		return nil
	}
	n := &notifier{roster: s.roster, inc: inc, posted: map[string]bool{}}
	incident := Thread{Kind: ThreadIncident}
	report := Thread{Kind: ThreadReport}
	toLeaders := n.toLeaders
	assignee := func(e Event, nt Notification) {
		if inc.Assignee != "" {
			n.add(e, PersonAudience(inc.Assignee), nt)
		}
	}
	major := inc.Level.Rank() >= LevelMajor.Rank()
	lp := s.roster.Policy.For(inc.Level)
	hasAuthority := s.AuthorityChat()
	// reportedUp: the higher authority has the incident and hears of its
	// follow-ups.
	reportedUp := hasAuthority && !inc.ReportedUpAt.IsZero()
	// upBefore: it had been reported up before this transition (not
	// by it: its report up tells the authority itself, as the incident then
	// stands). Told by the record, not by comparing instants.
	upBefore := reportedUp && prev != nil && !prev.ReportedUpAt.IsZero()
	authority := Thread{Kind: ThreadAuthority}
	// Whoever opened the incident sees it assigned in the reply to open:
	// telling them again in private would only be noise.
	opener := ""
	for i, e := range events {
		line := Notification{Kind: NoticeEvent}
		inThread := Notification{Kind: NoticeEvent, Thread: incident}
		switch e.Kind {
		case EventOpened:
			opener = e.Actor
			n.add(e, ChannelIncidents, Notification{Kind: NoticeCard, Thread: incident})
			// Reported on opening (by the level's report deadline, as
			// the Service decides): the leaders get the REPORT to
			// acknowledge.
			if s.reportsAt(e.Data.Level) {
				toLeaders(e, Notification{Kind: NoticeReport, Thread: report})
			}
		case EventAssigned:
			took := Took(events, i)
			// A hand-over by a person (not the routing at open) is news for
			// the channel, where the previous assignee hears of it.
			if e.Actor != "" {
				n.add(e, ChannelIncidents, Notification{Kind: NoticeEvent, Thread: incident, Took: took})
			}
			if to := e.Data.Assignee; to != "" && to != e.Actor && to != opener {
				n.add(e, PersonAudience(to), Notification{Kind: NoticeAssigned, Thread: incident})
			}
		case EventAcknowledged:
			// Taken over from a colleague: the channel and the colleague hear of it.
			if from := e.Data.TakenFrom; from != "" {
				n.add(e, ChannelIncidents, inThread)
				n.add(e, PersonAudience(from), inThread)
			}
		case EventLevelChanged:
			n.add(e, ChannelIncidents, Notification{Kind: NoticeCard, Thread: incident})
			if raisedTo(e.Data.From, e.Data.To) && s.reportsAt(e.Data.To) {
				toLeaders(e, Notification{Kind: NoticeReport, Thread: report})
			}
			if raisedTo(e.Data.From, e.Data.To) && upBefore {
				// The higher authority has the incident at its old level:
				// the raise goes up the line too (续报).
				n.add(e, ChannelAuthority, Notification{Kind: NoticeEvent, Thread: authority})
			}
		case EventUpdated:
			n.add(e, ChannelIncidents, line)
			if major || inc.Reported() {
				// Follow-up reports of a major incident, or of any reported
				// to the leaders, go up the line too (续报), as the first
				// report did.
				toLeaders(e, line)
				// Reported up by this very step (the figures escalated it):
				// the authority's REPORT carries them.
				if upBefore {
					n.add(e, ChannelAuthority, Notification{Kind: NoticeEvent, Thread: authority})
				}
			}
		case EventDrafted, EventApproved, EventQuorum, EventRejected, EventPublished, EventApprovalWait:
			n.replyNotices(e, lp) // approval.go
		case EventReferred, EventResolved, EventReopened, EventReceived:
			n.add(e, ChannelIncidents, line)
		case EventReportedUp:
			n.add(e, ChannelIncidents, line)
			if hasAuthority {
				n.add(e, ChannelAuthority, Notification{Kind: NoticeReport, Thread: authority})
			}
		case EventFedBack:
			// The result of a general incident goes back to the leaders (将结果
			// 反馈…党支部).
			toLeaders(e, line)
		case EventReminder, EventUpdateDue:
			switch e.Data.Deadline {
			case DeadlineReport:
				// The leaders are the ones to acknowledge the report.
				toLeaders(e, Notification{Kind: NoticeEvent, Thread: report})
			case DeadlineAuthority:
				// A leader or the office reports up.
				n.add(e, ChannelIncidents, inThread)
				toLeaders(e, Notification{Kind: NoticeEvent, Thread: report})
			default:
				n.add(e, ChannelIncidents, inThread)
				assignee(e, inThread)
			}
		case EventOverdue:
			n.add(e, ChannelIncidents, Notification{Kind: NoticeCard, Thread: incident})
			toLeaders(e, Notification{Kind: NoticeReport, Thread: report})
			if slices.ContainsFunc(e.Data.Overdue, func(d DeadlineDue) bool {
				return !d.Deadline.Leaders()
			}) {
				assignee(e, line) // not for the leaders' own steps
			}
		case EventSpreading:
			n.add(e, ChannelIncidents, inThread)
		case EventEscalated:
			// Handled by the major process from now: the leaders are told as
			// for any major incident, and the principal leaders directly
			// besides (逐级报告、双重报告).
			n.add(e, ChannelIncidents, Notification{Kind: NoticeCard, Thread: incident})
			if upBefore {
				n.add(e, ChannelAuthority, Notification{Kind: NoticeEvent, Thread: authority})
			}
			told := n.leaders()
			toLeaders(e, Notification{Kind: NoticeReport, Thread: report})
			for _, a := range persons(s.roster.WithRole(RolePrincipal)) {
				if !slices.Contains(told, a) {
					n.add(e, a, Notification{Kind: NoticeReport, Thread: report})
				}
			}
		}
		switch e.Kind {
		case EventResolved, EventReopened, EventLevelChanged, EventEscalated:
			// Who may decide, and whether anyone still may, changed.
			if d := inc.CurrentDraft(); d != nil {
				n.approvals, n.publishes = append(n.approvals, d.Version), append(n.publishes, d.Version)
			}
		}
	}
	// The cards a decision changed are brought up to date where they were
	// posted: the incident card loses Acknowledge and Take it once someone
	// has it, shows the new assignee, grade or resolution. Reminders and
	// follow-ups change no decision: they refresh nothing, so they do not
	// spend the chats' rate limits on edits.
	last := events[len(events)-1]
	if decided(events) || len(n.approvals)+len(n.publishes) > 0 {
		// The channel's card also shows where the draft stands.
		n.refresh(last, ChannelIncidents, incident)
	}
	if decided(events) {
		for _, id := range []string{inc.Assignee, assigneeOf(prev)} {
			if id != "" {
				n.refresh(last, PersonAudience(id), incident)
			}
		}
		if major || inc.Reported() || prev != nil && prev.Level.Rank() >= LevelMajor.Rank() || inc.Overdue(s.roster.Policy, s.roster.Calendar(), inc.UpdatedAt) {
			for _, a := range n.leaders() {
				n.refresh(last, a, report)
			}
			for _, a := range persons(s.roster.WithRole(RolePrincipal)) {
				n.refresh(last, a, report)
			}
		}
		if reportedUp {
			n.refresh(last, ChannelAuthority, authority)
		}
	}
	n.refreshRequests(last, lp) // approval.go
	return n.out
}

// Took reports whether events[i] is an assignment the actor made to
// themselves and acknowledged in the same step: they took the incident.
// Alone, the assignment cannot be told from one to a department that
// happened to land on the actor.
func Took(events []Event, i int) bool {
	e := events[i]
	if e.Kind != EventAssigned || e.Actor == "" || e.Actor != e.Data.Assignee || i+1 >= len(events) {
		return false
	}
	next := events[i+1]
	return next.Kind == EventAcknowledged && next.Actor == e.Actor && next.Version == e.Version
}

// decided reports whether events change what the incident card offers or
// says of who handles it: an assignment by a person, an acknowledgement, a
// new grade, a resolution or a reopening.
func decided(events []Event) bool {
	for _, e := range events {
		switch e.Kind {
		case EventAssigned:
			if e.Actor != "" {
				return true
			}
		case EventAcknowledged, EventLevelChanged, EventEscalated, EventResolved, EventReopened, EventReferred,
			EventReceived, EventReportedUp:
			return true
		}
	}
	return false
}

func assigneeOf(inc *Incident) string {
	if inc == nil {
		return ""
	}
	return inc.Assignee
}

// TriageStep is what a NoticeTriage tells of a candidate.
type TriageStep struct {
	// Step: TriageNew (the card, to judge), TriageReminder (nobody judged
	// it in the triage time; Reminder counts: 1 the office, 2 the leaders).
	Step     string `json:"step"`
	Reminder int    `json:"reminder,omitempty"`
	// Waited is how long the candidate had waited (TriageReminder).
	Waited time.Duration `json:"waited,omitempty"`
}

// Triage steps.
const (
	TriageNew      = "new"
	TriageReminder = "reminder"
)
