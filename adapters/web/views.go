package web

import (
	"slices"
	"strings"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// The JSON the pages read. Names are resolved here (in the request's locale:
// the roster's, or the one chosen with the language switch) so the page
// needs no roster; times are RFC 3339 and the page counts down
// from them itself, using "now" and "scale" to know the server's clock.

// clockInfo tells the page the server's time and how fast it runs, so that
// countdowns tick client-side: serverNow = now + (wall time since) × scale.
type clockInfo struct {
	Now      time.Time `json:"now"`
	Scale    float64   `json:"scale"`
	Timezone string    `json:"timezone"`
	Locale   string    `json:"locale"`
}

// incidentView is one incident as the board lists it.
type incidentView struct {
	ID             string         `json:"id"`
	URL            string         `json:"url"`
	Title          string         `json:"title"`
	Level          string         `json:"level"`
	LevelName      string         `json:"level_name"`
	Category       string         `json:"category"`
	CategoryName   string         `json:"category_name"`
	Status         string         `json:"status"`
	StatusName     string         `json:"status_name"`
	Open           bool           `json:"open"`
	Spreading      bool           `json:"spreading,omitempty"`
	Department     string         `json:"department,omitempty"`
	DepartmentName string         `json:"department_name,omitempty"`
	Assignee       string         `json:"assignee,omitempty"`
	AssigneeName   string         `json:"assignee_name,omitempty"`
	Source         string         `json:"source,omitempty"`
	FoundAt        time.Time      `json:"found_at"`
	OpenedAt       time.Time      `json:"opened_at"`
	OpenedBy       string         `json:"opened_by"`
	OpenedByName   string         `json:"opened_by_name"`
	Deadlines      []deadlineView `json:"deadlines"`
	// Draft summarises the current draft (nil: none yet).
	Draft *draftSummary `json:"draft,omitempty"`
	// MayAck and MayTake are the people who may press Acknowledge and Take
	// it now (see mayAck), so a page offers the buttons to them only.
	MayAck  []string `json:"may_ack"`
	MayTake []string `json:"may_take"`
}

// deadlineView is one deadline: the page shows it amber from WarnAt (the
// first warning the bot sends: half time, or WarnBefore the deadline), red
// once Due has passed unmet, and met (on time or Late) once MetAt is set.
type deadlineView struct {
	Kind   string    `json:"kind"`
	Name   string    `json:"name"`
	Due    time.Time `json:"due"`
	WarnAt time.Time `json:"warn_at"`
	MetAt  time.Time `json:"met_at,omitzero"`
	Late   bool      `json:"late,omitempty"`
}

// draftSummary is where the current draft stands.
type draftSummary struct {
	Version   int    `json:"version"`
	Hash      string `json:"hash"`
	Approvals int    `json:"approvals"`
	Needed    int    `json:"needed"`
	Quorum    bool   `json:"quorum"`
	Published bool   `json:"published,omitempty"`
	Rejected  bool   `json:"rejected,omitempty"`
}

// incidentDetail is one incident as its page shows it.
type incidentDetail struct {
	incidentView
	AckedAt     time.Time       `json:"acked_at,omitzero"`
	AckedBy     string          `json:"acked_by,omitempty"`
	AckedByName string          `json:"acked_by_name,omitempty"`
	ResolvedAt  time.Time       `json:"resolved_at,omitzero"`
	Summary     string          `json:"summary,omitempty"`
	ReferredAt  time.Time       `json:"referred_at,omitzero"`
	Referral    string          `json:"referral,omitempty"`
	Updates     int             `json:"updates"`
	SpreadAt    time.Time       `json:"spread_at,omitzero"`
	Drafts      []draftView     `json:"drafts"`
	Statements  []statementView `json:"statements"`
	// NeedsPrincipal says whether a principal leader must be among the
	// approvers at the incident's level.
	NeedsPrincipal bool `json:"needs_principal"`

	// ReportedAt is when the leaders were told of the incident at its
	// current level (zero: not reported); Receipts are their
	// acknowledgements of that report, in order.
	ReportedAt time.Time     `json:"reported_at,omitzero"`
	Receipts   []receiptView `json:"receipts"`
	// DoubleReported says the report reached both the leader in charge and
	// a principal leader (workflow.Incident.DoubleReported); until then
	// Awaiting says whose acknowledgement would complete it.
	DoubleReported bool        `json:"double_reported"`
	Awaiting       []awaitView `json:"awaiting"`
	// ReportedUpAt is when the incident was reported to the higher
	// authority (zero: not yet).
	ReportedUpAt time.Time `json:"reported_up_at,omitzero"`

	// Figures is the series of attention figures, oldest first; FigureKinds
	// are the figures given in it, in the order they are shown: the page
	// draws one line for each.
	Figures     []workflow.Figures `json:"figures"`
	FigureKinds []figureKindView   `json:"figure_kinds"`
}

// receiptView is one leader's acknowledgement of the report.
type receiptView struct {
	By        string    `json:"by"`
	ByName    string    `json:"by_name"`
	At        time.Time `json:"at"`
	Principal bool      `json:"principal,omitempty"`
}

// awaitView is one half of the double report still missing: Role is
// "principal" (a principal leader) or "leader" (the leader in charge, a
// leader who is not a principal), People those of the roster any of whom
// would complete it.
type awaitView struct {
	Role   string   `json:"role"`
	People []string `json:"people"`
	Names  []string `json:"names"`
}

// figureKindView is one attention figure of the series: its name in the
// request's locale, its latest value and its largest, to which the page
// scales its line.
type figureKindView struct {
	Kind     string    `json:"kind"`
	Name     string    `json:"name"`
	Latest   int64     `json:"latest"`
	LatestAt time.Time `json:"latest_at"`
	Max      int64     `json:"max"`
	Points   int       `json:"points"`
}

type draftView struct {
	Version    int            `json:"version"`
	Text       string         `json:"text"`
	Hash       string         `json:"hash"`
	Author     string         `json:"author"`
	AuthorName string         `json:"author_name"`
	At         time.Time      `json:"at"`
	Approvals  []approvalView `json:"approvals"`
	Rejection  *approvalView  `json:"rejection,omitempty"`
	Published  bool           `json:"published,omitempty"`
}

type approvalView struct {
	By        string    `json:"by"`
	ByName    string    `json:"by_name"`
	At        time.Time `json:"at"`
	Note      string    `json:"note,omitempty"`
	Principal bool      `json:"principal,omitempty"`
}

type statementView struct {
	DraftVersion int       `json:"draft_version"`
	Text         string    `json:"text"`
	Hash         string    `json:"hash"`
	By           string    `json:"by"`
	ByName       string    `json:"by_name"`
	At           time.Time `json:"at"`
	// Organisation is the name it was published over; Spokesperson, that
	// the publisher spoke as the spokesperson.
	Organisation string `json:"organisation,omitempty"`
	Spokesperson bool   `json:"spokesperson,omitempty"`
}

// eventView is one timeline event. Line says what happened in a sentence,
// which the page shows; Data stays for other clients of the API, in the
// typed JSON form of workflow.EventData (numbers, lists, RFC 3339 times).
type eventView struct {
	ID        string             `json:"id"`
	Kind      string             `json:"kind"`
	At        time.Time          `json:"at"`
	Actor     string             `json:"actor,omitempty"`
	ActorName string             `json:"actor_name,omitempty"`
	Text      string             `json:"text,omitempty"`
	Line      string             `json:"line"`
	Data      workflow.EventData `json:"data,omitzero"`
}

// views turns domain values into the JSON above.
type views struct {
	roster *workflow.Roster
	locale string
	// describe is Config.Describe (nil: plainLine).
	describe func(e workflow.Event, locale string) string
}

func (v views) name(id string) string {
	if id == "" {
		return ""
	}
	return v.roster.Name(id)
}

func (v views) incident(inc *workflow.Incident) incidentView {
	out := incidentView{
		ID: inc.ID, URL: "/incidents/" + inc.ID, Title: inc.Title,
		Level: string(inc.Level), LevelName: inc.Level.Text().In(v.locale),
		Category: string(inc.Category), CategoryName: inc.Category.Text().In(v.locale),
		Status: string(inc.Status), StatusName: inc.Status.Text().In(v.locale),
		Open: inc.Open(), Spreading: inc.Spreading,
		Department: inc.Department, DepartmentName: v.name(inc.Department),
		Assignee: inc.Assignee, AssigneeName: v.name(inc.Assignee),
		Source: inc.Source, FoundAt: inc.FoundAt, OpenedAt: inc.OpenedAt,
		OpenedBy: inc.OpenedBy, OpenedByName: v.name(inc.OpenedBy),
		Deadlines: []deadlineView{},
		MayAck:    v.mayAck(inc), MayTake: v.mayTake(inc),
	}
	lp := v.roster.Policy.For(inc.Level)
	for _, d := range inc.Deadlines(v.roster.Policy, v.roster.Calendar()) {
		out.Deadlines = append(out.Deadlines, deadlineView{
			Kind: string(d.Kind), Name: d.Kind.Text().In(v.locale), Due: d.Due, WarnAt: warnAt(d.From, d.Due, lp),
			MetAt: d.MetAt, Late: d.Met() && d.Late(d.MetAt),
		})
	}
	if d := inc.CurrentDraft(); d != nil {
		out.Draft = &draftSummary{
			Version: d.Version, Hash: d.Hash, Approvals: len(d.Approvals), Needed: lp.ApprovalsNeeded(),
			Quorum: v.roster.Policy.Quorum(inc.Level, d), Published: d.Published, Rejected: d.Rejection != nil,
		}
	}
	return out
}

// warnAt is when a deadline turns amber: when the timers send its first
// warning (workflow.LevelPolicy.Warnings); the deadline itself when the
// policy sends none.
func warnAt(from, due time.Time, lp workflow.LevelPolicy) time.Time {
	if ws := lp.Warnings(from, due); len(ws) > 0 {
		return ws[0].At
	}
	return due
}

func (v views) approval(a workflow.Approval) approvalView {
	return approvalView{By: a.By, ByName: v.name(a.By), At: a.At, Note: a.Note, Principal: a.Principal}
}

func (v views) detail(inc *workflow.Incident) incidentDetail {
	out := incidentDetail{
		incidentView: v.incident(inc),
		AckedAt:      inc.AckedAt, AckedBy: inc.AckedBy, AckedByName: v.name(inc.AckedBy), ResolvedAt: inc.ResolvedAt, Summary: inc.Summary,
		ReferredAt: inc.ReferredAt, Referral: inc.Referral, Updates: inc.Updates, SpreadAt: inc.SpreadAt,
		Drafts: []draftView{}, Statements: []statementView{},
		NeedsPrincipal: v.roster.Policy.For(inc.Level).Principal,
		ReportedAt:     inc.ReportedAt, Receipts: []receiptView{}, Awaiting: []awaitView{},
		ReportedUpAt: inc.ReportedUpAt,
		Figures:      append([]workflow.Figures{}, inc.Figures...), FigureKinds: v.figureKinds(inc.Figures),
	}
	for _, r := range inc.Receipts {
		out.Receipts = append(out.Receipts, receiptView{By: r.By, ByName: v.name(r.By), At: r.At, Principal: r.Principal})
	}
	if inc.Reported() {
		out.DoubleReported = inc.DoubleReported(v.roster)
		if !out.DoubleReported {
			out.Awaiting = v.awaiting(inc)
		}
	}
	for _, d := range inc.Drafts {
		dv := draftView{Version: d.Version, Text: d.Text, Hash: d.Hash, Author: d.Author, AuthorName: v.name(d.Author),
			At: d.At, Approvals: []approvalView{}, Published: d.Published}
		for _, a := range d.Approvals {
			dv.Approvals = append(dv.Approvals, v.approval(a))
		}
		if d.Rejection != nil {
			r := v.approval(*d.Rejection)
			dv.Rejection = &r
		}
		out.Drafts = append(out.Drafts, dv)
	}
	for _, s := range inc.Statements {
		out.Statements = append(out.Statements, statementView{DraftVersion: s.DraftVersion, Text: s.Text, Hash: s.Hash,
			By: s.By, ByName: v.name(s.By), At: s.At, Organisation: s.Organisation, Spokesperson: s.Spokesperson})
	}
	return out
}

// awaiting says whose acknowledgement would complete the double report of
// inc (workflow.Incident.AwaitedReceipts), with who could give it.
func (v views) awaiting(inc *workflow.Incident) []awaitView {
	principal, leader := inc.AwaitedReceipts(v.roster)
	principals := v.roster.WithRole(workflow.RolePrincipal)
	var others []string
	for _, id := range v.roster.WithRole(workflow.RoleLeader) {
		if !slices.Contains(principals, id) {
			others = append(others, id)
		}
	}
	var out []awaitView
	add := func(role string, ids []string) {
		a := awaitView{Role: role, People: []string{}, Names: []string{}}
		for _, id := range ids {
			if !inc.ReceivedBy(id) {
				a.People, a.Names = append(a.People, id), append(a.Names, v.name(id))
			}
		}
		out = append(out, a)
	}
	if principal {
		add("principal", principals)
	}
	if leader {
		add("leader", others)
	}
	return out
}

// figureKinds lists the figures given in series, in workflow.FigureList's
// order, with their latest and largest values.
func (v views) figureKinds(series []workflow.Figures) []figureKindView {
	out := []figureKindView{}
	for _, k := range workflow.FigureList {
		fk := figureKindView{Kind: string(k), Name: k.Text().In(v.locale)}
		for _, f := range series {
			n, ok := f.Get(k)
			if !ok {
				continue
			}
			fk.Points++
			fk.Latest, fk.LatestAt = n, f.At
			fk.Max = max(fk.Max, n)
		}
		if fk.Points > 0 {
			out = append(out, fk)
		}
	}
	return out
}

func (v views) event(e workflow.Event) eventView {
	line := ""
	if v.describe != nil {
		line = v.describe(e, v.locale)
	}
	if line == "" {
		line = v.plainLine(e)
	}
	return eventView{ID: e.ID, Kind: string(e.Kind), At: e.At, Actor: e.Actor, ActorName: v.name(e.Actor), Text: e.Text,
		Line: line, Data: e.Data}
}

// plainLine is a timeline sentence when no describer is configured: who,
// what kind of event, and its text ("Chen Jing: acknowledged").
func (v views) plainLine(e workflow.Event) string {
	who := v.name(e.Actor)
	if who == "" {
		who = "Firebreak"
	}
	s := label(v.locale, "event.fallback", who, strings.ReplaceAll(string(e.Kind), "_", " "))
	if e.Text != "" {
		s = label(v.locale, "fact.at_what", s, e.Text)
	}
	return s
}

// mayAck lists the people who may acknowledge inc now
// (workflow.Incident.MayAck, the rule Service.Ack enforces).
func (v views) mayAck(inc *workflow.Incident) []string { return v.who(inc.MayAck) }

// mayTake lists the people who may take inc on now
// (workflow.Incident.MayTake).
func (v views) mayTake(inc *workflow.Incident) []string { return v.who(inc.MayTake) }

func (v views) who(may func(*workflow.Person) bool) []string {
	out := []string{}
	for i := range v.roster.People {
		if p := &v.roster.People[i]; may(p) {
			out = append(out, p.ID)
		}
	}
	return out
}

// deadlineLabels maps the label of a card's deadline line, in every
// locale, to the deadline's kind: the deadline names, and "Publish by" of
// the approval request (handlers' draftCard), which is the reply deadline.
// The playground shows those lines live from the incident's data.
func deadlineLabels() map[string]string {
	out := map[string]string{
		"Publish by": string(workflow.DeadlineRespond), "发布时限": string(workflow.DeadlineRespond),
	}
	for _, k := range workflow.DeadlineKinds {
		t := k.Text()
		for _, name := range []string{t.EN, t.ZH, strings.ToUpper(t.EN[:1]) + t.EN[1:]} {
			out[name] = string(k)
		}
	}
	return out
}

// Charts.

// statsView is what the board's charts draw.
type statsView struct {
	clockInfo
	Since time.Time `json:"since"`
	// Levels and LevelNames name the series of OpenByLevel, least serious
	// first.
	Levels      []string    `json:"levels"`
	LevelNames  []string    `json:"level_names"`
	OpenByLevel []openPoint `json:"open_by_level"`
	// Deadlines counts, per deadline kind, the deadlines of the incidents
	// discovered since Since that were met on time, missed (met late, past
	// unmet, or left unmet by a resolved incident) and still pending.
	Deadlines []deadlineCount `json:"deadlines"`
}

// openPoint is how many incidents of each level (in the order of
// statsView.Levels) were open at T.
type openPoint struct {
	T      time.Time `json:"t"`
	Counts []int     `json:"counts"`
}

type deadlineCount struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Met     int    `json:"met"`
	Missed  int    `json:"missed"`
	Pending int    `json:"pending"`
}

// chartWindow is how far back the charts look; chartPoints is how many
// samples the open-incidents chart takes across the window it shows.
const (
	chartWindow = 30 * 24 * time.Hour
	chartPoints = 60
)

// stats computes the charts at now from the incidents discovered in the last
// 30 days (recent, resolved ones included) and the ones open now (open). The
// open-incidents chart starts at the earliest discovery among them (at most
// 30 days back), so a young deployment, or a demo running at 60×, shows its
// hours rather than a flat month; an incident counts at its current level.
func (v views) stats(now time.Time, recent, open []*workflow.Incident) statsView {
	since := now.Add(-chartWindow)
	out := statsView{Since: since}
	for _, l := range workflow.Levels {
		out.Levels = append(out.Levels, string(l))
		out.LevelNames = append(out.LevelNames, l.Text().In(v.locale))
	}

	all := map[string]*workflow.Incident{}
	for _, inc := range recent {
		all[inc.ID] = inc
	}
	for _, inc := range open {
		all[inc.ID] = inc
	}
	start := now
	for _, inc := range all {
		if inc.FoundAt.Before(start) {
			start = inc.FoundAt
		}
	}
	if start.Before(since) {
		start = since
	}
	if now.Sub(start) < time.Hour {
		start = now.Add(-time.Hour)
	}
	step := now.Sub(start) / (chartPoints - 1)
	for i := range chartPoints {
		t := start.Add(time.Duration(i) * step)
		if i == chartPoints-1 {
			t = now
		}
		p := openPoint{T: t, Counts: make([]int, len(workflow.Levels))}
		for _, inc := range all {
			if openAt(inc, t) {
				if r := inc.Level.Rank(); r > 0 {
					p.Counts[r-1]++
				}
			}
		}
		out.OpenByLevel = append(out.OpenByLevel, p)
	}

	counts := map[workflow.DeadlineKind]*deadlineCount{}
	for _, k := range workflow.DeadlineKinds {
		c := &deadlineCount{Kind: string(k), Name: k.Text().In(v.locale)}
		counts[k] = c
	}
	for _, inc := range all {
		if inc.FoundAt.Before(since) {
			continue
		}
		for _, d := range inc.Deadlines(v.roster.Policy, v.roster.Calendar()) {
			c, ok := counts[d.Kind]
			if !ok {
				continue
			}
			switch d.Outcome(inc, now) {
			case workflow.OutcomeOnTime:
				c.Met++
			case workflow.OutcomeLate, workflow.OutcomeMissed:
				c.Missed++
			case workflow.OutcomePending:
				c.Pending++
			} // unneeded: neither met nor missed
		}
	}
	for _, k := range workflow.DeadlineKinds {
		out.Deadlines = append(out.Deadlines, *counts[k])
	}
	return out
}

// openAt reports whether inc was open at t: discovered by then and not yet
// resolved. A reopened incident has no resolution time, so it counts as open
// since its discovery.
func openAt(inc *workflow.Incident, t time.Time) bool {
	if inc.FoundAt.After(t) {
		return false
	}
	if inc.Open() {
		return true
	}
	return !inc.ResolvedAt.IsZero() && inc.ResolvedAt.After(t)
}
