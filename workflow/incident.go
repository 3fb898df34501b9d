package workflow

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Level is how serious an incident is (一般 / 重大 / 特别重大).
type Level string

// Levels, from least to most serious.
const (
	LevelGeneral  Level = "general"
	LevelMajor    Level = "major"
	LevelCritical Level = "critical"
)

// Levels lists every level from least to most serious.
var Levels = []Level{LevelGeneral, LevelMajor, LevelCritical}

// Rank orders levels: general 1, major 2, critical 3, unknown 0.
func (l Level) Rank() int {
	for i, x := range Levels {
		if x == l {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether l is a known level.
func (l Level) Valid() bool { return l.Rank() > 0 }

// Text names the level in both languages.
func (l Level) Text() Text {
	switch l {
	case LevelGeneral:
		return Text{EN: "general", ZH: "一般"}
	case LevelMajor:
		return Text{EN: "major", ZH: "重大"}
	case LevelCritical:
		return Text{EN: "critical", ZH: "特别重大"}
	}
	return Text{EN: string(l), ZH: string(l)}
}

// Category is the kind of post, as the plans sort them: 询问、置疑、诉求类;
// 恶意传播、炒作类; 捏造、歪曲、谣言类; 其他类.
type Category string

// Categories of the handling plans.
const (
	CategoryInquiry Category = "inquiry"
	CategoryHype    Category = "hype"
	CategoryRumor   Category = "rumor"
	CategoryOther   Category = "other"
)

// Categories lists every category.
var Categories = []Category{CategoryInquiry, CategoryHype, CategoryRumor, CategoryOther}

// Text names the category in both languages.
func (c Category) Text() Text {
	switch c {
	case CategoryInquiry:
		return Text{EN: "inquiry", ZH: "询问、置疑、诉求类"}
	case CategoryHype:
		return Text{EN: "hype", ZH: "恶意传播、炒作类"}
	case CategoryRumor:
		return Text{EN: "rumor", ZH: "捏造、歪曲、谣言类"}
	case CategoryOther:
		return Text{EN: "other", ZH: "其他类"}
	}
	return Text{EN: string(c), ZH: string(c)}
}

// categoryWords are the words people may type for each category: its
// English name and every word the plans use for it (恶意炒作 as well as 炒作
// and 恶意传播, since the plans write "恶意传播或炒作").
var categoryWords = map[string]Category{
	"inquiry": CategoryInquiry, "询问": CategoryInquiry, "置疑": CategoryInquiry, "质疑": CategoryInquiry, "诉求": CategoryInquiry,
	"hype": CategoryHype, "炒作": CategoryHype, "恶意炒作": CategoryHype, "恶意传播": CategoryHype,
	"rumor": CategoryRumor, "谣言": CategoryRumor, "捏造": CategoryRumor, "歪曲": CategoryRumor,
	"other": CategoryOther, "其他": CategoryOther,
}

// ParseCategory returns the category a typed word names, in English or
// Chinese, ignoring case, surrounding space and a trailing 类 ("询问类").
// A word it does not know is returned as it is, for Valid to refuse.
func ParseCategory(s string) Category {
	w := strings.ToLower(strings.TrimSpace(s))
	if c, ok := categoryWords[w]; ok {
		return c
	}
	if c, ok := categoryWords[strings.TrimSuffix(w, "类")]; ok {
		return c
	}
	return Category(s)
}

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	for _, x := range Categories {
		if x == c {
			return true
		}
	}
	return false
}

// Status is where an incident stands in its handling.
type Status string

// Statuses. An incident is open in every status but resolved.
const (
	StatusNew          Status = "new"          // opened, nobody responsible yet
	StatusAssigned     Status = "assigned"     // handed to a department or person
	StatusAcknowledged Status = "acknowledged" // the assignee took it on
	StatusResolved     Status = "resolved"     // substantive answer given, closed
)

// Text names the status in both languages (the raw value when unknown).
func (s Status) Text() Text {
	switch s {
	case StatusNew:
		return Text{EN: "new", ZH: "新建"}
	case StatusAssigned:
		return Text{EN: "assigned", ZH: "已指派"}
	case StatusAcknowledged:
		return Text{EN: "acknowledged", ZH: "已接办"}
	case StatusResolved:
		return Text{EN: "resolved", ZH: "已办结"}
	}
	return Text{EN: string(s), ZH: string(s)}
}

// Incident is one public-opinion incident and everything decided about it.
// The timeline lives beside it in the Store.
type Incident struct {
	ID         string   `json:"id"`
	Version    int64    `json:"version"`
	Title      string   `json:"title"`
	Level      Level    `json:"level"`
	Category   Category `json:"category"`
	Source     string   `json:"source,omitempty"`
	Status     Status   `json:"status"`
	Spreading  bool     `json:"spreading,omitempty"`
	Department string   `json:"department,omitempty"`
	Assignee   string   `json:"assignee,omitempty"`
	// Candidate is the monitoring item it was opened from ("IT-7"), if any.
	Candidate string `json:"candidate,omitempty"`

	FoundAt   time.Time `json:"found_at"`
	OpenedAt  time.Time `json:"opened_at"`
	OpenedBy  string    `json:"opened_by"`
	UpdatedAt time.Time `json:"updated_at"`
	// ReportedAt is when the leaders were last told of the incident at its
	// current level (on opening a major or critical one, or on raising it).
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// Receipts are the leaders' acknowledgements (收到) of that report, in
	// order: the report deadline is met by the first. A new report (the
	// level raised, an escalation) asks for them again.
	Receipts []Receipt `json:"receipts,omitempty"`
	// ReportedUpAt is when the incident was reported to the higher
	// authority (上级主管部门), by the bot or by a person (report-up).
	ReportedUpAt time.Time `json:"reported_up_at,omitzero"`
	AckedAt      time.Time `json:"acked_at,omitzero"`
	AckedBy      string    `json:"acked_by,omitempty"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
	Summary      string    `json:"summary,omitempty"`
	ReferredAt   time.Time `json:"referred_at,omitzero"`
	Referral     string    `json:"referral,omitempty"`
	// EscalatedAt is when a general incident became major by rule (not
	// resolved in time, or spreading). From then on it is handled by the
	// major process: its deadlines count from EscalatedAt, not from
	// discovery, which would have them born overdue. Zero: never escalated,
	// or lowered to general again.
	EscalatedAt time.Time `json:"escalated_at,omitzero"`
	// Escalations counts the escalations by rule, kept when the level is
	// lowered again, so that the record (statistics, the report) still
	// counts one that happened.
	Escalations int `json:"escalations,omitempty"`
	// Missed are the deadlines of the processes it left (an escalation, a
	// change of level) that were past their due time and unmet when it left
	// them: the new process plans the deadlines again, and the record
	// (statistics, the report) must not lose what was missed, often the
	// very reason for the escalation.
	Missed []Deadline `json:"missed,omitempty"`

	// Updates counts follow-up reports (续报); LastUpdateAt is the latest.
	Updates      int       `json:"updates,omitempty"`
	LastUpdateAt time.Time `json:"last_update_at,omitzero"`
	// Figures is the series of attention figures recorded with follow-up
	// reports (关注度、跟帖人数、热点指数), oldest first.
	Figures []Figures `json:"figures,omitempty"`
	// SpreadAt is when signs of spreading were last recorded: a spread
	// note, or figures that meet the roster's spreading rule.
	SpreadAt time.Time `json:"spread_at,omitzero"`

	// Drafts of the unified reply, oldest first; the last is the current one.
	Drafts []Draft `json:"drafts,omitempty"`
	// Statements are the published replies, oldest first.
	Statements []Statement `json:"statements,omitempty"`

	// Fired lists the timers that have fired, as "name@due-unix-millis", so
	// that planning again never schedules them twice and a deadline moved by
	// a level change is reminded of again.
	Fired []string `json:"fired,omitempty"`
}

// MayAck reports whether p may acknowledge inc now: an open incident not
// yet acknowledged, by its assignee, by anyone while it has none, or by a
// member of its department. Service.Ack enforces it; cards and pages offer
// Acknowledge by it.
func (inc *Incident) MayAck(p *Person) bool {
	if !inc.Open() || inc.Status == StatusAcknowledged {
		return false
	}
	return inc.Assignee == "" || inc.Assignee == p.ID ||
		inc.Department != "" && slices.Contains(p.Departments, inc.Department)
}

// MayTake reports whether p may take inc on now (assign it to themselves
// and acknowledge it): anyone in the roster, while it is open and nobody
// has acknowledged it.
func (inc *Incident) MayTake(*Person) bool { return inc.Open() && inc.Status != StatusAcknowledged }

// Receipt is one leader's acknowledgement of a report.
type Receipt struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Principal bool      `json:"principal,omitempty"`
}

// ReceivedAt is when a leader first acknowledged the current report (zero:
// nobody yet).
func (inc *Incident) ReceivedAt() time.Time {
	if len(inc.Receipts) == 0 {
		return time.Time{}
	}
	return inc.Receipts[0].At
}

// ReceivedBy reports whether person acknowledged the current report.
func (inc *Incident) ReceivedBy(person string) bool {
	return slices.ContainsFunc(inc.Receipts, func(r Receipt) bool { return r.By == person })
}

// AwaitedReceipts says whose acknowledgement the current report still
// lacks for the double report (逐级报告、双重报告): a principal leader's, when
// the roster has principals, and the leader in charge's (a leader who is
// not a principal), when the roster has such leaders.
func (inc *Incident) AwaitedReceipts(r *Roster) (principal, leader bool) {
	gotPrincipal, gotLeader := false, false
	for _, rc := range inc.Receipts {
		if rc.Principal {
			gotPrincipal = true
		} else {
			gotLeader = true
		}
	}
	principals := len(r.WithRole(RolePrincipal))
	others := len(r.WithRole(RoleLeader)) - principals
	return principals > 0 && !gotPrincipal, others > 0 && !gotLeader
}

// DoubleReported reports whether the current report reached both the
// leader in charge and a principal leader, as far as the roster has them
// (AwaitedReceipts): at least one leader acknowledged it, and nobody else
// is awaited.
func (inc *Incident) DoubleReported(r *Roster) bool {
	principal, leader := inc.AwaitedReceipts(r)
	return len(inc.Receipts) > 0 && !principal && !leader
}

// AwaitsReportUp reports whether the incident is still to be reported to
// the higher authority under policy p: open, at a level with an authority
// deadline, and not reported up yet.
func (inc *Incident) AwaitsReportUp(p Policy) bool {
	return inc.Open() && inc.ReportedUpAt.IsZero() && p.For(inc.Level).Authority > 0
}

// Reported reports whether the leaders were told of the incident at its
// current level, so that it has a report to acknowledge.
func (inc *Incident) Reported() bool { return !inc.ReportedAt.IsZero() }

// Escalated reports whether the incident was ever escalated by rule, even
// if lowered since (incidents stored before Escalations was kept say so by
// EscalatedAt alone).
func (inc *Incident) Escalated() bool { return inc.Escalations > 0 || !inc.EscalatedAt.IsZero() }

// MayReceive reports whether p may acknowledge the report of inc now: a
// leader who has not, while the incident is open and reported.
func (inc *Incident) MayReceive(p *Person) bool {
	return inc.Open() && inc.Reported() && p.Has(RoleLeader) && !inc.ReceivedBy(p.ID)
}

// LatestFigures returns the last recorded attention figures, and the ones
// before them (zero when there are fewer).
func (inc *Incident) LatestFigures() (last, prev Figures, ok bool) {
	n := len(inc.Figures)
	if n == 0 {
		return Figures{}, Figures{}, false
	}
	if n > 1 {
		prev = inc.Figures[n-2]
	}
	return inc.Figures[n-1], prev, true
}

// Open reports whether the incident is still being handled.
func (inc *Incident) Open() bool { return inc.Status != StatusResolved }

// CurrentDraft returns the latest draft, or nil when there is none.
func (inc *Incident) CurrentDraft() *Draft {
	if len(inc.Drafts) == 0 {
		return nil
	}
	return &inc.Drafts[len(inc.Drafts)-1]
}

// PublishedAt is when the first statement was published (zero if none).
func (inc *Incident) PublishedAt() time.Time {
	if len(inc.Statements) == 0 {
		return time.Time{}
	}
	return inc.Statements[0].At
}

// Clone returns a deep copy, so a transition can be computed without touching
// the value that was read.
func (inc *Incident) Clone() *Incident {
	c := *inc
	c.Drafts = make([]Draft, len(inc.Drafts))
	for i, d := range inc.Drafts {
		d.Approvals = append([]Approval(nil), d.Approvals...)
		c.Drafts[i] = d
	}
	c.Statements = append([]Statement(nil), inc.Statements...)
	c.Receipts = append([]Receipt(nil), inc.Receipts...)
	c.Figures = append([]Figures(nil), inc.Figures...)
	c.Fired = append([]string(nil), inc.Fired...)
	c.Missed = append([]Deadline(nil), inc.Missed...)
	return &c
}

// Draft is one version of the unified reply (统一口径) awaiting approval.
type Draft struct {
	Version   int        `json:"version"`
	Text      string     `json:"text"`
	Hash      string     `json:"hash"`
	Author    string     `json:"author"`
	At        time.Time  `json:"at"`
	Approvals []Approval `json:"approvals,omitempty"`
	// Rejection, when set, means a leader turned this version down; a new
	// version is needed.
	Rejection *Approval `json:"rejection,omitempty"`
	Published bool      `json:"published,omitempty"`
}

// ApprovedBy reports whether person approved this draft.
func (d *Draft) ApprovedBy(person string) bool {
	for _, a := range d.Approvals {
		if a.By == person {
			return true
		}
	}
	return false
}

// HashText is the content hash of a draft text: the first 12 hex digits of its
// SHA-256. It is shown to approvers so they know what exactly they approve.
func HashText(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])[:12]
}

// Approval is one leader's decision on one draft version.
type Approval struct {
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Note      string    `json:"note,omitempty"`
	Principal bool      `json:"principal,omitempty"`
}

// Statement is a published unified reply: exactly the text of an approved draft.
type Statement struct {
	DraftVersion int       `json:"draft_version"`
	Text         string    `json:"text"`
	Hash         string    `json:"hash"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	// Organisation is the name it was published over (the roster's
	// organisation then); Spokesperson, that the publisher spoke as the
	// spokesperson (以网络新闻发言人的名义), not only for the unit.
	Organisation string `json:"organisation,omitempty"`
	Spokesperson bool   `json:"spokesperson,omitempty"`
}

// EventKind names a step on an incident's timeline.
type EventKind string

// Event kinds.
const (
	EventOpened       EventKind = "opened"
	EventAssigned     EventKind = "assigned"
	EventAcknowledged EventKind = "acknowledged"
	EventLevelChanged EventKind = "level_changed"
	EventUpdated      EventKind = "updated"
	EventDrafted      EventKind = "drafted"
	EventApproved     EventKind = "approved"
	EventQuorum       EventKind = "quorum_reached"
	EventRejected     EventKind = "rejected"
	EventPublished    EventKind = "published"
	EventReferred     EventKind = "referred"
	EventResolved     EventKind = "resolved"
	EventReopened     EventKind = "reopened"
	EventSpreading    EventKind = "spreading"       // signs of spreading reported
	EventEscalated    EventKind = "escalated"       // general became major by rule
	EventReminder     EventKind = "reminder"        // a deadline approaches
	EventOverdue      EventKind = "overdue"         // a deadline passed unmet
	EventUpdateDue    EventKind = "update_due"      // a follow-up report is due
	EventApprovalWait EventKind = "approval_nudge"  // a draft waits for approvers
	EventReceived     EventKind = "report_received" // a leader acknowledged the report (收到)
	EventReportedUp   EventKind = "reported_up"     // reported to the higher authority
	EventFedBack      EventKind = "fed_back"        // a general incident's result told to the leaders
	EventMonitored    EventKind = "monitored"       // the monitoring platform found the post again, with figures
)

// Event is one recorded step of an incident (做好记录). IDs are deterministic:
// the incident ID, the version the step produced and its index, so a retried
// transition never records a step twice.
type Event struct {
	ID       string    `json:"id"`
	Incident string    `json:"incident"`
	Version  int64     `json:"version"`
	Kind     EventKind `json:"kind"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor,omitempty"`
	Text     string    `json:"text,omitempty"`
	Data     EventData `json:"data,omitzero"`
}

// trimText trims the white space around a text typed by a person; what is
// inside stays as typed (it is data).
func trimText(s string) string { return strings.TrimSpace(s) }
