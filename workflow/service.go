package workflow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on free text, so that a card or a chat message stays readable.
const (
	MaxTitle = 200
	MaxText  = 4000
)

// maxAttempts bounds the compare-and-set retries of one transition. Under the
// heaviest contention (every replica acting on one incident at once) each
// round lets one writer through, so it must exceed the writers expected.
const maxAttempts = 200

// Service performs every state transition of an incident and enforces the
// rules of the handling plan. Each method takes the roster ID of the person
// acting. Methods return *Error values with the codes named in their comments;
// CodeUnavailable whenever the Store cannot be reached.
type Service struct {
	store  Store
	roster *Roster
	clock  Clock
	// intake keeps monitoring candidates (nil: no intake).
	intake IntakeStore
}

// NewService returns a Service over store, checking people against roster,
// telling the time by clock (the system clock when nil).
func NewService(store Store, roster *Roster, clock Clock) *Service {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Service{store: store, roster: roster, clock: clock}
}

// Roster returns the roster the Service checks people against.
func (s *Service) Roster() *Roster { return s.roster }

// Clock returns the Service's clock.
func (s *Service) Clock() Clock { return s.clock }

// Policy returns the policy in force.
func (s *Service) Policy() Policy { return s.roster.Policy }

// Deadlines returns the incident's deadlines under the policy in force.
func (s *Service) Deadlines(inc *Incident) []Deadline {
	return inc.Deadlines(s.roster.Policy, s.roster.Calendar())
}

// Record is every deadline the incident had (Incident.Record).
func (s *Service) Record(inc *Incident) []Deadline {
	return inc.Record(s.roster.Policy, s.roster.Calendar())
}

// MaxClockSkew is how far ahead of the Service's clock a discovery time may
// lie: a phone or monitoring platform whose clock runs a little fast.
const MaxClockSkew = time.Minute

// OpenInput describes a new incident.
type OpenInput struct {
	Title    string
	Level    Level    // default general
	Category Category // default other
	Source   string
	FoundAt  time.Time // when the post was discovered; zero: now
}

// Open records a new incident, routes it to the department that owns its
// category and assigns it round-robin among that department's members.
// Errors: CodeForbidden (actor not in roster), CodeInvalid (bad input).
func (s *Service) Open(ctx context.Context, actor string, in OpenInput) (*Incident, []Event, error) {
	if _, err := s.person(actor); err != nil {
		return nil, nil, err
	}
	now := Instant(s.clock.Now())
	in.Title = trimText(in.Title)
	for _, t := range []string{in.Title, in.Source} {
		if err := checkChars(t); err != nil {
			return nil, nil, err
		}
	}
	switch {
	case in.Title == "":
		return nil, nil, Errorf(CodeInvalid, "an incident needs a title", "事件需要标题")
	case utf8.RuneCountInString(in.Title) > MaxTitle:
		return nil, nil, Errorf(CodeInvalid, "the title is longer than %d characters", "标题超过 %d 个字符", MaxTitle)
	}
	if in.Level == "" {
		in.Level = LevelGeneral
	}
	if !in.Level.Valid() {
		return nil, nil, errUnknownLevel(in.Level)
	}
	if in.Category == "" {
		in.Category = CategoryOther
	}
	if !in.Category.Valid() {
		return nil, nil, errUnknownCategory(in.Category)
	}
	if in.FoundAt.IsZero() {
		in.FoundAt = now
	}
	in.FoundAt = Instant(in.FoundAt)
	if in.FoundAt.After(now.Add(MaxClockSkew)) {
		loc := s.roster.Location()
		return nil, nil, Errorf(CodeInvalid,
			"found: %[1]s is in the future (it is %[2]s now); for an earlier day write the date, as in found:%[3]s",
			"发现时间 %[1]s 晚于当前时间(现在是 %[2]s);如为更早的日期,请写明日期,例如 found:%[3]s",
			in.FoundAt.In(loc).Format("2006-01-02 15:04"), now.In(loc).Format("2006-01-02 15:04"),
			in.FoundAt.In(loc).AddDate(0, 0, -1).Format("2006-01-02T15:04"))
	}
	if now.Sub(in.FoundAt) > 30*24*time.Hour {
		return nil, nil, Errorf(CodeInvalid, "found: is more than 30 days ago", "发现时间早于 30 天前")
	}

	id, t, err := s.reserve(ctx, in.Category, nil)
	if err != nil {
		return nil, nil, err
	}
	return s.create(ctx, id, t, actor, in, nil, now)
}

// turn is a department's round-robin turn taken ahead (with the incident's
// ID, reserve); the zero turn is none: create takes one.
type turn struct {
	dept  string
	n     int64
	taken bool
}

// reserve allocates the ID of an incident of category (opened from
// candidate c when not nil) together with the turn of the department it
// will go to.
func (s *Service) reserve(ctx context.Context, category Category, c *Candidate) (string, turn, error) {
	var t turn
	rotation := ""
	if d, ok := s.route(category, c); ok && len(s.roster.Members(d.ID)) > 0 {
		t.dept, t.taken, rotation = d.ID, true, "dept:"+d.ID
	}
	id, n, err := s.store.NextID(ctx, rotation)
	if err != nil && t.taken {
		return "", turn{}, fmt.Errorf("allocate incident id and round-robin of %s: %w", t.dept, err)
	}
	if err != nil {
		return "", turn{}, fmt.Errorf("allocate incident id: %w", err)
	}
	t.n = n
	return id, t, nil
}

// route is the department that handles an incident of category: the one
// the roster gives it, or the one the intake rule that found candidate c
// names.
func (s *Service) route(category Category, c *Candidate) (*Department, bool) {
	if c != nil && c.Suggestion.Department != "" && c.Suggestion.Category == category {
		return s.roster.Department(c.Suggestion.Department)
	}
	return s.roster.DepartmentFor(category)
}

// create writes incident id, opened by actor ("" for a rule of the intake)
// from in (checked), from the monitoring candidate c when not nil; t is
// the turn reserved with the ID, if any.
func (s *Service) create(ctx context.Context, id string, t turn, actor string, in OpenInput, c *Candidate, now time.Time) (*Incident, []Event, error) {
	inc := &Incident{
		ID: id, Version: 1, Title: in.Title, Level: in.Level, Category: in.Category,
		Source: strings.TrimSpace(in.Source), Status: StatusNew,
		FoundAt: in.FoundAt, OpenedAt: now, OpenedBy: actor, UpdatedAt: now,
	}
	events := []Event{{Kind: EventOpened, Actor: actor, Text: inc.Title, Data: EventData{
		Level: inc.Level, Category: inc.Category}}}
	if c != nil {
		inc.Candidate = c.ID
		inc.Figures = slices.Clone(c.Figures)
		events[0].Data.Candidate = c.ID
		events[0].Data.Rule = c.Suggestion.Rule
	}
	if s.reportsAt(inc.Level) {
		events = append(events, s.report(inc, now)...) // the leaders are told with this very change
	}
	if dept, ok := s.route(inc.Category, c); ok {
		assignee, err := s.member(ctx, dept.ID, t)
		if err != nil {
			return nil, nil, err
		}
		inc.Department, inc.Assignee, inc.Status = dept.ID, assignee, StatusAssigned
		events = append(events, Event{Kind: EventAssigned, Data: EventData{
			Department: dept.ID, Assignee: assignee, Auto: true}})
	}
	if c != nil {
		events = append(events, s.spreadingEvents(inc, now)...)
	}
	events = append(events, s.bornOverdue(inc, now)...)
	if err := s.write(ctx, nil, inc, events); err != nil {
		return nil, nil, err
	}
	return inc, s.stamp(inc, events), nil
}

// Assign hands the incident to a person or a department (then round-robin
// among its members). Errors: CodeNotFound, CodeInvalid (unknown person or
// department), CodeConflict (already so assigned, or resolved).
func (s *Service) Assign(ctx context.Context, actor, id, target string) (*Incident, []Event, error) {
	// The department's next turn is taken once, even when a conflicting
	// write makes the transition run again, so retries do not skip members.
	var turn string
	taken := false
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, _ time.Time) ([]Event, error) {
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		dept, assignee := inc.Department, ""
		if p, ok := s.roster.Person(target); ok {
			assignee = p.ID
			if len(p.Departments) > 0 && !slices.Contains(p.Departments, dept) {
				dept = p.Departments[0]
			}
		} else if d, ok := s.roster.Department(target); ok {
			dept = d.ID
			if inc.Department == d.ID && inc.Assignee != "" {
				return nil, Errorf(CodeConflict, "%s is already with %s (%s)", "%s 已由 %s(%s)负责",
					inc.ID, d.Name, s.roster.Name(inc.Assignee))
			}
			if !taken {
				next, err := s.nextMember(ctx, d.ID)
				if err != nil {
					return nil, err
				}
				turn, taken = next, true
			}
			assignee = turn
		} else {
			return nil, Errorf(CodeInvalid, "nobody and no department is called %q", "没有名为 %q 的人员或部门", target)
		}
		if assignee == inc.Assignee && dept == inc.Department {
			return nil, Errorf(CodeConflict, "%s is already assigned to %s", "%s 已指派给 %s", inc.ID, s.roster.Name(assignee))
		}
		inc.Department, inc.Assignee, inc.Status = dept, assignee, StatusAssigned
		return []Event{{Kind: EventAssigned, Actor: actor, Data: EventData{
			Department: dept, Assignee: assignee}}}, nil
	})
}

// Ack records that the assignee (or a member of the assigned department) has
// taken the incident on; this meets the hand-to-department deadline. An
// unassigned incident is taken by the actor. Errors: CodeForbidden (someone
// else's incident), CodeConflict (already acknowledged, or resolved).
func (s *Service) Ack(ctx context.Context, actor, id string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		if inc.Status == StatusAcknowledged {
			return nil, Errorf(CodeConflict, "%s was already acknowledged by %s", "%s 已由 %s 确认",
				inc.ID, s.roster.Name(inc.AckedBy))
		}
		if !inc.MayAck(p) {
			return nil, Errorf(CodeForbidden, "%s is assigned to %s; only they or their department can acknowledge it",
				"%s 已指派给 %s,只有本人或其部门可以确认", inc.ID, s.roster.Name(inc.Assignee))
		}
		ack := Event{Kind: EventAcknowledged, Actor: actor}
		if inc.Assignee != "" && inc.Assignee != actor {
			// A colleague of the department takes it over: say from whom.
			ack.Data = EventData{TakenFrom: inc.Assignee}
		}
		inc.Assignee, inc.Status, inc.AckedBy = actor, StatusAcknowledged, actor
		if inc.Department == "" && len(p.Departments) > 0 {
			inc.Department = p.Departments[0]
		}
		if inc.AckedAt.IsZero() {
			inc.AckedAt = now
		}
		return []Event{ack}, nil
	})
}

// Take assigns the incident to the actor and acknowledges it in one step
// (the "take it" button). Errors: CodeConflict (already acknowledged by
// anyone — hand-overs go through Assign — or resolved).
func (s *Service) Take(ctx context.Context, actor, id string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		if inc.Assignee == actor && inc.Status == StatusAcknowledged {
			return nil, Errorf(CodeConflict, "%s is already yours", "%s 已由您负责", inc.ID)
		}
		if inc.Status == StatusAcknowledged {
			// The button was on a card from before someone took it on.
			return nil, Errorf(CodeConflict, "%s was already taken on by %s; to hand it over use: assign %s <person>",
				"%s 已由 %s 接办;如需移交请用:指派 %s <人员>", inc.ID, s.roster.Name(inc.AckedBy), inc.ID)
		}
		if len(p.Departments) > 0 && !slices.Contains(p.Departments, inc.Department) {
			inc.Department = p.Departments[0]
		}
		inc.Assignee, inc.Status, inc.AckedBy = actor, StatusAcknowledged, actor
		if inc.AckedAt.IsZero() {
			inc.AckedAt = now
		}
		return []Event{
			{Kind: EventAssigned, Actor: actor, Data: EventData{Department: inc.Department, Assignee: actor}},
			{Kind: EventAcknowledged, Actor: actor},
		}, nil
	})
}

// LevelChange is a change of level: the new level, why (required when
// lowering) and, when lowering a spreading incident, whether the person says
// it no longer spreads (otherwise it stays marked spreading).
type LevelChange struct {
	Level          Level
	Reason         string
	ClearSpreading bool
}

// SetLevel changes the incident's level and so re-plans every deadline.
// Lowering a level needs a leader and a reason; so does clearing the
// spreading mark (spreading:no), when lowering or at the same level.
// Errors: CodeInvalid (unknown level, no reason for lowering, clearing
// spreading that is not there or when raising), CodeForbidden,
// CodeConflict (same level and nothing to clear, or resolved).
func (s *Service) SetLevel(ctx context.Context, actor, id string, ch LevelChange) (*Incident, []Event, error) {
	level := ch.Level
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if !level.Valid() {
			return nil, errUnknownLevel(level)
		}
		if err := checkChars(ch.Reason); err != nil {
			return nil, err
		}
		reason := strings.TrimSpace(ch.Reason)
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		// The same level with spreading:no clears the mark alone, as
		// lowering does (the mark stayed when the level was lowered first).
		clearOnly := level == inc.Level && ch.ClearSpreading && inc.Spreading
		if level == inc.Level && !clearOnly {
			return nil, &Error{Code: CodeConflict, Msg: Text{
				EN: fmt.Sprintf("%s is already %s", inc.ID, level.Text().EN),
				ZH: fmt.Sprintf("%s 已是%s级别", inc.ID, level.Text().ZH)}}
		}
		lowering := level.Rank() < inc.Level.Rank() || clearOnly
		if lowering && !p.Has(RoleLeader) {
			return nil, Errorf(CodeForbidden, "only a leader can lower the level of an incident", "只有领导可以降低事件级别")
		}
		if lowering && reason == "" {
			return nil, &Error{Code: CodeInvalid, Msg: Text{
				EN: fmt.Sprintf("say why the level is lowered: level %s %s <reason>", inc.ID, level),
				ZH: fmt.Sprintf("降低级别须说明理由:定级 %s %s <理由>", inc.ID, level.Text().ZH)}}
		}
		if ch.ClearSpreading && (!lowering || !inc.Spreading) {
			return nil, Errorf(CodeInvalid, "spreading:no clears the spreading mark when lowering a spreading incident; %s is not one",
				"扩散:否 仅用于降低有扩散迹象的事件的级别时清除扩散标记;%s 不属于此情况", inc.ID)
		}
		from := inc.Level
		if level != from {
			inc.leaveProcess(s.roster.Policy, s.roster.Calendar(), now)
		}
		inc.Level = level
		if level == LevelGeneral {
			inc.EscalatedAt = time.Time{} // back under the general process, from discovery
		}
		if ch.ClearSpreading {
			inc.Spreading = false
		}
		events := []Event{{Kind: EventLevelChanged, Actor: actor, Text: reason, Data: EventData{
			From: from, To: level, Cleared: ch.ClearSpreading}}}
		if raisedTo(from, level) && s.reportsAt(level) {
			events = append(events, s.report(inc, now)...) // the leaders are told with this very change
		}
		return append(events, s.bornOverdue(inc, now)...), nil
	})
}

// reportsAt reports whether an incident opened at level l, or raised to
// it, is reported to the leaders: the policy gives the level a report
// deadline. One rule for the Service and the notices it decides.
func (s *Service) reportsAt(l Level) bool { return s.roster.Policy.For(l).Report > 0 }

// raisedTo reports whether a change of level from from to to raises it.
func raisedTo(from, to Level) bool { return to.Rank() > from.Rank() }

// report makes a new report of the incident to the leaders, at its current
// level: the leaders are told with the change it is part of and asked to
// acknowledge it, and, when the policy says so and the roster has the
// higher authority's channel, the bot reports it up at once.
func (s *Service) report(inc *Incident, now time.Time) []Event {
	inc.ReportedAt, inc.Receipts = now, nil
	lp := s.roster.Policy.For(inc.Level)
	if !s.AuthorityChat() || !lp.ReportUpAuto || lp.Authority <= 0 || !inc.ReportedUpAt.IsZero() {
		return nil
	}
	inc.ReportedUpAt = now
	return []Event{{Kind: EventReportedUp, Data: EventData{Auto: true}}}
}

// Receive records that a leader acknowledged (收到) the report of the
// incident; the first acknowledgement meets the report deadline. Errors:
// CodeForbidden (not a leader), CodeConflict (resolved, not reported, or
// already acknowledged by the actor).
func (s *Service) Receive(ctx context.Context, actor, id string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if !p.Has(RoleLeader) {
			return nil, Errorf(CodeForbidden, "only a leader can acknowledge the report of an incident", "只有领导可以签收事件报告")
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		if !inc.Reported() {
			return nil, &Error{Code: CodeConflict, Msg: Text{
				EN: fmt.Sprintf("%s was not reported to the leaders: a %s incident is reported when raised or escalated", inc.ID, inc.Level.Text().EN),
				ZH: fmt.Sprintf("%s 尚未报告领导:%s舆情在升级时才报告", inc.ID, inc.Level.Text().ZH)}}
		}
		if inc.ReceivedBy(actor) {
			return nil, Errorf(CodeConflict, "you already acknowledged the report of %s", "您已签收过 %s 的报告", inc.ID)
		}
		principal := p.Has(RolePrincipal)
		inc.Receipts = append(inc.Receipts, Receipt{By: actor, At: now, Principal: principal})
		return []Event{{Kind: EventReceived, Actor: actor, Data: EventData{Principal: principal}}}, nil
	})
}

// ReportUp records that the incident was reported to the higher authority
// (上级主管部门); the bot sends the report to the authority's channel when the
// roster has one. Errors: CodeInvalid (bad note), CodeConflict (resolved,
// the level reports nothing up, already reported up).
func (s *Service) ReportUp(ctx context.Context, actor, id, note string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, now time.Time) ([]Event, error) {
		if err := checkChars(note); err != nil {
			return nil, err
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		if !inc.ReportedUpAt.IsZero() {
			return nil, Errorf(CodeConflict, "%s was already reported to the higher authority", "%s 已报告上级", inc.ID)
		}
		if !inc.AwaitsReportUp(s.roster.Policy) {
			return nil, &Error{Code: CodeConflict, Msg: Text{
				EN: fmt.Sprintf("%s is %s: it is reported up when it cannot be contained (spread, or raise its level)", inc.ID, inc.Level.Text().EN),
				ZH: fmt.Sprintf("%s 为%s舆情:不能消除或有扩大迹象时才上报(spread,或调整级别)", inc.ID, inc.Level.Text().ZH)}}
		}
		inc.ReportedUpAt = now
		return []Event{{Kind: EventReportedUp, Actor: actor, Text: strings.TrimSpace(note)}}, nil
	})
}

// Update records a follow-up report (续报), with the attention figures
// when given (then the text may be empty). Figures that meet the roster's
// spreading rule mark the incident spreading, and escalate a general one.
// Errors: CodeInvalid (no text and no figures), CodeConflict (resolved).
func (s *Service) Update(ctx context.Context, actor, id, text string, figures Figures) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, now time.Time) ([]Event, error) {
		// The text may be left out when figures are given.
		if text = strings.TrimSpace(text); text != "" || figures.IsZero() {
			t, err := checkText(text, "a follow-up report needs text or figures ("+FigureUsage.EN+")", "续报需要内容或指标("+FigureUsage.ZH+")")
			if err != nil {
				return nil, err
			}
			text = t
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		inc.Updates++
		inc.LastUpdateAt = now
		data := EventData{Number: inc.Updates}
		if !figures.IsZero() {
			figures.At = now
			inc.Figures = append(inc.Figures, figures)
			data.Figures = &figures
		}
		events := []Event{{Kind: EventUpdated, Actor: actor, Text: text, Data: data}}
		if figures.IsZero() {
			return events, nil
		}
		return append(events, s.spreadingEvents(inc, now)...), nil
	})
}

// spreadingEvents marks inc spreading when its figures now meet the
// roster's spreading rule, escalating a general incident: the events of
// that, none when the figures do not, or when it is marked already and no
// longer general. A general incident marked already (a leader lowered it
// and kept the mark) whose new figures still meet the rule is escalated
// again: it goes on spreading.
func (s *Service) spreadingEvents(inc *Incident, now time.Time) []Event {
	sign, spreads := s.roster.Spreading.Spreads(inc.Figures)
	if !spreads {
		return nil
	}
	inc.SpreadAt = now
	if inc.Spreading && inc.Level != LevelGeneral {
		return nil // marked already: nothing new to tell
	}
	inc.Spreading = true
	events := []Event{{Kind: EventSpreading, Data: EventData{Sign: &sign}}}
	if inc.Level == LevelGeneral {
		e := s.escalate(inc, "", EscalatedSpreading, "", now)
		e[0].Data.Sign = &sign
		events = append(events, e...)
	}
	return events
}

// Refer records that a hype or rumor incident is referred to law enforcement
// (商请执纪执法部门) when it continues after the unified reply was published.
// Leaders decide it. Errors: CodeForbidden, CodeInvalid (missing reason),
// CodeConflict (wrong category, nothing published yet, already referred, or
// resolved).
func (s *Service) Refer(ctx context.Context, actor, id, reason string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if !p.Has(RoleLeader) {
			return nil, Errorf(CodeForbidden, "only a leader can refer an incident to law enforcement", "只有领导可以移交执纪执法部门")
		}
		reason, err := checkText(reason, "say why it is referred", "请说明移交理由")
		if err != nil {
			return nil, err
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		if inc.Category != CategoryHype && inc.Category != CategoryRumor {
			return nil, &Error{Code: CodeConflict, Msg: Text{
				EN: fmt.Sprintf("only hype or rumor can be referred; %s is %s", inc.ID, inc.Category.Text().EN),
				ZH: fmt.Sprintf("只有恶意传播、炒作类或捏造、歪曲、谣言类可以移交;%s 属于%s", inc.ID, inc.Category.Text().ZH)}}
		}
		if len(inc.Statements) == 0 {
			return nil, Errorf(CodeConflict, "publish the facts first: only what continues after the unified reply was published can be referred",
				"请先发布统一口径:告知事实真相后仍继续传播的,才可移交执纪执法部门")
		}
		if inc.Level == LevelGeneral && !inc.SpreadAt.After(inc.PublishedAt()) && !grewSince(inc.Figures, inc.PublishedAt()) {
			return nil, Errorf(CodeConflict, "%[1]s is general and nothing shows it kept spreading after the reply was published: record that first, with spread %[1]s <note> or with figures in update %[1]s posts:N",
				"%[1]s 为一般舆情,且没有记录显示发布口径后仍继续传播:请先用 扩散 %[1]s <情况> 或 续报 %[1]s 跟帖:N 记录", inc.ID)
		}
		if !inc.ReferredAt.IsZero() {
			return nil, Errorf(CodeConflict, "%s was already referred", "%s 已移交", inc.ID)
		}
		inc.ReferredAt, inc.Referral = now, reason
		return []Event{{Kind: EventReferred, Actor: actor, Text: reason}}, nil
	})
}

// Resolve closes the incident with a summary of the substantive answer. A
// major or critical incident needs its approved reply published first, or
// a leader's override, the summary saying why. A general incident's result
// is fed back to the leaders (将结果反馈…). Errors: CodeInvalid (no
// summary), CodeForbidden (override by someone not a leader), CodeConflict
// (already resolved, no reply published).
func (s *Service) Resolve(ctx context.Context, actor, id, summary string, override bool) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		summary, err := checkText(summary, "say how it was resolved", "请填写办结情况")
		if err != nil {
			return nil, err
		}
		if !inc.Open() {
			return nil, Errorf(CodeConflict, "%s is already resolved", "%s 已办结", inc.ID)
		}
		needsReply := inc.Level.Rank() >= LevelMajor.Rank() && len(inc.Statements) == 0
		switch {
		case needsReply && !override:
			return nil, &Error{Code: CodeConflict, Msg: Text{
				EN: fmt.Sprintf("%[1]s is %[2]s: publish its approved reply first, or a leader resolves it anyway with: resolve %[1]s override <why>", inc.ID, inc.Level.Text().EN),
				ZH: fmt.Sprintf("%[1]s 为%[2]s舆情:请先发布经批准的统一口径,或由领导特批办结:办结 %[1]s 特批 <理由>", inc.ID, inc.Level.Text().ZH)}}
		case needsReply && !p.Has(RoleLeader):
			return nil, Errorf(CodeForbidden, "only a leader can resolve %s without a published reply", "只有领导可以在未发布口径时特批办结 %s", inc.ID)
		case !needsReply:
			override = false // nothing to override
		}
		inc.Status, inc.ResolvedAt, inc.Summary = StatusResolved, now, summary
		events := []Event{{Kind: EventResolved, Actor: actor, Text: summary, Data: EventData{Override: override}}}
		if inc.Level == LevelGeneral {
			events = append(events, Event{Kind: EventFedBack, Text: summary})
		}
		return events, nil
	})
}

// Reopen opens a resolved incident again, saying why; its deadlines count
// again. Errors: CodeInvalid (no reason), CodeConflict (not resolved).
func (s *Service) Reopen(ctx context.Context, actor, id, reason string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, now time.Time) ([]Event, error) {
		reason, err := checkText(reason, "say why it is reopened: reopen "+NormalizeID(id)+" <reason>", "请说明重新打开的理由:重开 "+NormalizeID(id)+" <理由>")
		if err != nil {
			return nil, err
		}
		if inc.Open() {
			return nil, Errorf(CodeConflict, "%s is not resolved", "%s 尚未办结", inc.ID)
		}
		inc.ResolvedAt, inc.Summary = time.Time{}, ""
		switch {
		case !inc.AckedAt.IsZero() && inc.AckedBy == inc.Assignee:
			inc.Status = StatusAcknowledged
		case inc.Assignee != "":
			inc.Status = StatusAssigned
		default:
			inc.Status = StatusNew
		}
		return append([]Event{{Kind: EventReopened, Actor: actor, Text: reason}}, s.bornOverdue(inc, now)...), nil
	})
}

// Get returns an incident. Errors: CodeForbidden, CodeNotFound.
func (s *Service) Get(ctx context.Context, actor, id string) (*Incident, error) {
	if _, err := s.person(actor); err != nil {
		return nil, err
	}
	return s.store.Get(ctx, NormalizeID(id))
}

// History returns an incident with its recorded steps, read together.
// Errors: CodeForbidden, CodeNotFound.
func (s *Service) History(ctx context.Context, actor, id string) (*Incident, []Event, error) {
	if _, err := s.person(actor); err != nil {
		return nil, nil, err
	}
	return s.store.History(ctx, NormalizeID(id))
}

// List returns incidents by filter ("" means open). Errors: CodeForbidden,
// CodeInvalid (unknown filter).
func (s *Service) List(ctx context.Context, actor string, filter ListFilter) ([]*Incident, error) {
	p, err := s.ListPage(ctx, actor, filter, 0)
	return p.Incidents, err
}

// PageSize is how many incidents one page of list shows: a chat message
// stays readable (and within the smallest limit of a chat message).
const PageSize = 20

// ListPage returns page n (from 1; 0: every incident) of the incidents by
// filter, most urgent first, and how many there are in all; ListResolved
// is the incidents resolved in the current calendar month of the roster
// (ResolvedPage). Its cost does not grow with the page: whatever the
// number of open incidents, only the page's are read. Errors:
// CodeForbidden, CodeInvalid (unknown filter, a page below 0 or past the
// last).
func (s *Service) ListPage(ctx context.Context, actor string, filter ListFilter, n int) (Page, error) {
	if _, err := s.person(actor); err != nil {
		return Page{}, err
	}
	if filter == "" {
		filter = ListOpen
	}
	switch filter {
	case ListOpen, ListOverdue, ListMine:
	case ListResolved:
		return s.ResolvedPage(ctx, actor, MonthOf(s.clock.Now(), s.roster.Location()), n)
	default:
		return Page{}, Errorf(CodeInvalid, "list takes open, overdue, mine or resolved, not %q",
			"list 的参数应为 open、overdue、mine 或 resolved,而不是 %q", filter)
	}
	q := ListQuery{Filter: filter, Person: actor, Now: s.clock.Now(), Urgent: n > 0}
	return s.page(ctx, q, n)
}

// ResolvedPage returns page n (from 1; 0: every incident) of the incidents
// resolved in p (a month, as `list resolved` asks), in the order they were
// resolved, oldest first, the same on every page, and how many there are
// in all. Only the page's incidents are read, through the store's index of
// resolution times: the month's, not every incident kept. Errors:
// CodeForbidden, CodeInvalid (a page below 0 or past the last).
func (s *Service) ResolvedPage(ctx context.Context, actor string, p Period, n int) (Page, error) {
	if _, err := s.person(actor); err != nil {
		return Page{}, err
	}
	return s.page(ctx, ListQuery{Filter: ListResolved, From: p.From, To: p.To}, n)
}

// page reads page n (from 1; 0: every incident) of q from the store.
func (s *Service) page(ctx context.Context, q ListQuery, n int) (Page, error) {
	if n < 0 {
		return Page{}, Errorf(CodeInvalid, "page:%d: pages count from 1", "page:%d:页码从 1 开始", n)
	}
	if n > 0 {
		q.Offset, q.Limit = (n-1)*PageSize, PageSize
	}
	p, err := s.store.ListPage(ctx, q)
	if err == nil && n > 1 && len(p.Incidents) == 0 {
		last := max((p.Total+PageSize-1)/PageSize, 1)
		return Page{}, Errorf(CodeInvalid, "page:%d: there are only %d page(s)", "page:%d:共只有 %d 页", n, last)
	}
	return p, err
}

// NormalizeID accepts "YQ-7", "yq-7" and "7" for incident YQ-7.
func NormalizeID(id string) string {
	id = strings.TrimSpace(id)
	if id != "" && strings.Trim(id, "0123456789") == "" {
		return "YQ-" + id
	}
	return strings.ToUpper(id)
}

// transition runs one state change by a person in the roster.
func (s *Service) transition(ctx context.Context, actor, id string,
	fn func(inc *Incident, p *Person, now time.Time) ([]Event, error)) (*Incident, []Event, error) {
	p, err := s.person(actor)
	if err != nil {
		return nil, nil, err
	}
	return s.change(ctx, id, func(inc *Incident, now time.Time) ([]Event, error) { return fn(inc, p, now) })
}

// change runs one state change: read, apply fn to a copy, write with
// compare-and-set, retrying from a fresh read when someone else wrote first.
func (s *Service) change(ctx context.Context, id string,
	fn func(inc *Incident, now time.Time) ([]Event, error)) (*Incident, []Event, error) {
	id = NormalizeID(id)
	for attempt := 0; ; attempt++ {
		prev, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		now := Instant(s.clock.Now())
		inc := prev.Clone()
		events, err := fn(inc, now)
		if err != nil {
			return nil, nil, err
		}
		inc.Version = prev.Version + 1
		inc.UpdatedAt = now
		err = s.write(ctx, prev, inc, events)
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return inc, s.stamp(inc, events), nil
	}
}

// write stamps the events, decides the notices, plans the timers and applies the
// change in one Store call.
func (s *Service) write(ctx context.Context, prev, inc *Incident, events []Event) error {
	events = s.stamp(inc, events)
	c := Change{Prev: prev, Incident: inc, Events: events, Notices: s.notices(prev, inc, events),
		Timers: Plan(inc, s.roster.Policy, s.roster.Calendar())}
	if d, ok := inc.NextDue(s.roster.Policy, s.roster.Calendar()); ok {
		c.NextDue = d.Due
	}
	return s.store.Apply(ctx, c)
}

// stamp gives events their deterministic IDs, incident, version and time.
func (s *Service) stamp(inc *Incident, events []Event) []Event {
	out := make([]Event, len(events))
	for i, e := range events {
		e.ID = fmt.Sprintf("%s#%d.%d", inc.ID, inc.Version, i+1)
		e.Incident, e.Version, e.At = inc.ID, inc.Version, inc.UpdatedAt
		out[i] = e
	}
	return out
}

func (s *Service) person(id string) (*Person, error) {
	p, ok := s.roster.Person(id)
	if !ok {
		return nil, Errorf(CodeForbidden, "%q is not in the roster; ask an administrator to add you",
			"名册中没有 %q,请联系管理员添加", id)
	}
	return p, nil
}

func (s *Service) nextMember(ctx context.Context, dept string) (string, error) {
	return s.member(ctx, dept, turn{})
}

// member is the member of dept whose turn it is: turn t when it was
// reserved for dept, else the next turn of the department's rotation.
func (s *Service) member(ctx context.Context, dept string, t turn) (string, error) {
	members := s.roster.Members(dept)
	if len(members) == 0 {
		return "", nil
	}
	n := t.n
	if !t.taken || t.dept != dept {
		var err error
		if n, err = s.store.RoundRobin(ctx, "dept:"+dept); err != nil {
			return "", fmt.Errorf("round-robin of %s: %w", dept, err)
		}
	}
	return members[int(n%int64(len(members)))], nil
}

func mustBeOpen(inc *Incident) error {
	if !inc.Open() {
		return Errorf(CodeConflict, "%s is resolved; reopen it first", "%s 已办结,请先重新打开", inc.ID)
	}
	return nil
}

func checkText(text, emptyEN, emptyZH string) (string, error) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if err := checkChars(text); err != nil {
		return "", err
	}
	switch {
	case text == "":
		return "", &Error{Code: CodeInvalid, Msg: Text{EN: emptyEN, ZH: emptyZH}}
	case utf8.RuneCountInString(text) > MaxText:
		return "", Errorf(CodeInvalid, "the text is longer than %d characters", "内容超过 %d 个字符", MaxText)
	}
	return text, nil
}

// checkChars refuses text that holds characters a person cannot see but
// platforms act on: control characters other than newline and tab (a NUL
// makes a chat platform refuse the message, holding its chat back), invalid
// UTF-8, and the bidirectional overrides and isolates that make text read
// otherwise than it is (U+202A–U+202E, U+2066–U+2069, and the marks U+200E,
// U+200F, U+061C), the line and paragraph separators (U+2028, U+2029: a
// line break on one platform, none on another) and the invisible tag
// characters (U+E0000–U+E007F). Text typed by people
// is data: it is refused with a message, not changed behind their back.
func checkChars(text string) error {
	for i, r := range text {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(text[i:], "\uFFFD"):
			return Errorf(CodeInvalid, "the text is not valid UTF-8; nothing was changed", "文本不是有效的 UTF-8 编码,未做任何更改")
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return Errorf(CodeInvalid, "the text holds an invisible control character (U+%04X); remove it and try again",
				"文本含有不可见的控制字符(U+%04X),请删除后重试", r)
		case (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c:
			return Errorf(CodeInvalid, "the text holds a direction override (U+%04X) that makes it read otherwise than it is; remove it and try again",
				"文本含有改变显示方向的控制字符(U+%04X),请删除后重试", r)
		case r == 0x2028 || r == 0x2029:
			return Errorf(CodeInvalid, "the text holds a line or paragraph separator (U+%04X) that platforms show differently; use a plain line break",
				"文本含有各平台显示不一的行或段落分隔符(U+%04X),请改用普通换行", r)
		case r >= 0xe0000 && r <= 0xe007f:
			return Errorf(CodeInvalid, "the text holds an invisible tag character (U+%04X); remove it and try again",
				"文本含有不可见的标签字符(U+%04X),请删除后重试", r)
		}
	}
	return nil
}

func errUnknownLevel(l Level) error {
	return Errorf(CodeInvalid, "unknown level %q (general, major, critical)", "未知级别 %q(一般 general、重大 major、特别重大 critical)", l)
}

func errUnknownCategory(c Category) error {
	return Errorf(CodeInvalid, "unknown category %q (inquiry, hype, rumor, other)", "未知类别 %q(询问、置疑、诉求 inquiry;恶意传播、炒作 hype;捏造、歪曲、谣言 rumor;其他 other)", c)
}

// backoff waits a little, randomly, before a retried compare-and-set, so that
// writers racing on one incident spread out.
func backoff(ctx context.Context, attempt int) error {
	limit := time.Duration(min(attempt+1, 20)) * 200 * time.Microsecond
	t := time.NewTimer(rand.N(limit) + 50*time.Microsecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return Unavailable(ctx.Err())
	case <-t.C:
		return nil
	}
}
