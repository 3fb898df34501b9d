package workflow

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The unified reply (统一口径): a draft, the leaders' approvals or rejection,
// publication of exactly the approved text, and who is told of each step.

// SubmitDraft records a new version of the unified reply. Earlier versions
// and their approvals no longer count. Errors: CodeInvalid (empty or too
// long), CodeConflict (same text as the current version, or resolved).
func (s *Service) SubmitDraft(ctx context.Context, actor, id, text string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, _ *Person, now time.Time) ([]Event, error) {
		text, err := checkText(text, "a draft needs its text", "口径草稿需要正文")
		if err != nil {
			return nil, err
		}
		if err := mustBeOpen(inc); err != nil {
			return nil, err
		}
		voided := 0
		if cur := inc.CurrentDraft(); cur != nil {
			// The same text again changes nothing, unless the version can
			// never be approved as its author's (the only principal wrote
			// it): then another person submits it as theirs, as the
			// warning at draft time advises.
			stuck := cur.Author != actor && !s.roster.DraftApprovers(inc.Level, cur.Author).Reachable()
			if cur.Text == text && !stuck && cur.Rejection == nil && !cur.Published {
				return nil, Errorf(CodeConflict, "version %d already has exactly this text", "第 %d 版已是相同内容", cur.Version)
			}
			if !cur.Published {
				voided = len(cur.Approvals)
			}
		}
		d := Draft{Version: len(inc.Drafts) + 1, Text: text, Hash: HashText(text), Author: actor, At: now}
		inc.Drafts = append(inc.Drafts, d)
		return []Event{{Kind: EventDrafted, Actor: actor, Text: text, Data: EventData{
			Version: d.Version, Hash: d.Hash, Voided: voided}}}, nil
	})
}

// Approve records a leader's approval of a draft version (0: the current
// one). Errors: CodeForbidden (not a leader, or the draft's author),
// CodeConflict (no draft yet, version superseded, rejected, published,
// already approved by the actor, or resolved).
func (s *Service) Approve(ctx context.Context, actor, id string, version int, note string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		d, err := s.decidable(inc, p, version)
		if err != nil {
			return nil, err
		}
		if d.Author == actor {
			return nil, Errorf(CodeForbidden, "you wrote version %d; another leader must approve it",
				"第 %d 版由您起草,须由其他领导批准", d.Version)
		}
		if d.ApprovedBy(actor) {
			return nil, Errorf(CodeConflict, "you already approved version %d", "您已批准过第 %d 版", d.Version)
		}
		before := s.roster.Policy.Quorum(inc.Level, d)
		if err := checkChars(note); err != nil {
			return nil, err
		}
		d.Approvals = append(d.Approvals, Approval{By: actor, At: now, Note: strings.TrimSpace(note), Principal: p.Has(RolePrincipal)})
		events := []Event{{Kind: EventApproved, Actor: actor, Text: strings.TrimSpace(note), Data: EventData{
			Version: d.Version, Hash: d.Hash}}}
		if !before && s.roster.Policy.Quorum(inc.Level, d) {
			events = append(events, Event{Kind: EventQuorum, Data: EventData{Version: d.Version}})
		}
		return events, nil
	})
}

// Reject records a leader's rejection of a draft version (0: the current
// one); a new version is then needed. Errors as Approve, plus CodeInvalid for
// a missing reason.
func (s *Service) Reject(ctx context.Context, actor, id string, version int, reason string) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		reason, err := checkText(reason, "say why the draft is rejected", "请说明驳回理由")
		if err != nil {
			return nil, err
		}
		d, err := s.decidable(inc, p, version)
		if err != nil {
			return nil, err
		}
		d.Rejection = &Approval{By: actor, At: now, Note: reason, Principal: p.Has(RolePrincipal)}
		return []Event{{Kind: EventRejected, Actor: actor, Text: reason, Data: EventData{
			Version: d.Version, Hash: d.Hash}}}, nil
	})
}

// Publish publishes the current draft as the unified reply: exactly its
// approved text. Only a spokesperson or a leader may. Errors: CodeForbidden,
// CodeConflict (no draft yet, not approved by quorum, rejected, already
// published, or resolved).
func (s *Service) Publish(ctx context.Context, actor, id string) (*Incident, []Event, error) {
	return s.PublishVersion(ctx, actor, id, 0)
}

// PublishVersion is Publish of draft version (0: the current one): a
// Publish button names the version it was shown with, and publishes nothing
// once a newer version replaced it. Errors as Publish.
func (s *Service) PublishVersion(ctx context.Context, actor, id string, version int) (*Incident, []Event, error) {
	return s.transition(ctx, actor, id, func(inc *Incident, p *Person, now time.Time) ([]Event, error) {
		if lp := s.roster.Policy.For(inc.Level); !lp.MayPublish(p) {
			return nil, errMayNotPublish(inc.Level, lp)
		}
		d, err := s.liveDraft(inc, version, Text{EN: "nothing was published", ZH: "未发布"})
		if err != nil {
			return nil, err
		}
		if !s.roster.Policy.Quorum(inc.Level, d) {
			return nil, s.errNoQuorum(inc, d)
		}
		d.Published = true
		st := Statement{DraftVersion: d.Version, Text: d.Text, Hash: d.Hash, By: actor, At: now,
			Organisation: s.roster.Organisation.Name, Spokesperson: p.Has(RoleSpokesperson)}
		inc.Statements = append(inc.Statements, st)
		return []Event{{Kind: EventPublished, Actor: actor, Text: st.Text, Data: EventData{
			Version: d.Version, Hash: d.Hash}}}, nil
	})
}

// CheckDecision reports, without changing anything, whether actor may
// approve or reject draft version (0: the current one) now, and returns the
// incident. A Reject button uses it before asking for the reason. Errors as
// Approve.
func (s *Service) CheckDecision(ctx context.Context, actor, id string, version int) (*Incident, error) {
	p, err := s.person(actor)
	if err != nil {
		return nil, err
	}
	inc, err := s.store.Get(ctx, NormalizeID(id))
	if err != nil {
		return nil, err
	}
	if _, err := s.decidable(inc, p, version); err != nil {
		return nil, err
	}
	return inc, nil
}

// decidable returns the draft a leader may approve or reject.
func (s *Service) decidable(inc *Incident, p *Person, version int) (*Draft, error) {
	if !p.Has(RoleLeader) {
		return nil, Errorf(CodeForbidden, "only a leader can approve or reject a draft", "只有领导可以批准或驳回口径草稿")
	}
	return s.liveDraft(inc, version, Text{EN: "read it before deciding", ZH: "请阅读新版后再决定"})
}

// liveDraft returns the current draft of an open incident when it is
// version (0: whichever it is) and still undecided: neither published nor
// rejected. replaced ends the message when a newer version replaced it.
func (s *Service) liveDraft(inc *Incident, version int, replaced Text) (*Draft, error) {
	if err := mustBeOpen(inc); err != nil {
		return nil, err
	}
	d := inc.CurrentDraft()
	switch {
	case d == nil:
		return nil, errNoDraft(inc.ID)
	case version != 0 && version != d.Version:
		return nil, Errorf(CodeConflict, "version %d was replaced by version %d; "+replaced.EN,
			"第 %d 版已被第 %d 版取代,"+replaced.ZH, version, d.Version)
	case d.Published:
		return nil, Errorf(CodeConflict, "version %d is already published", "第 %d 版已发布", d.Version)
	case d.Rejection != nil:
		return nil, errRejected(d, s.roster)
	}
	return d, nil
}

func (s *Service) errNoQuorum(inc *Incident, d *Draft) error {
	lp := s.roster.Policy.For(inc.Level)
	if lp.Principal && len(d.Approvals) >= lp.ApprovalsNeeded() {
		return Errorf(CodeConflict, "version %d needs the approval of a principal leader before it can be published",
			"第 %d 版还需主要领导批准才能发布", d.Version)
	}
	return Errorf(CodeConflict, "version %d has %d of the %d approvals it needs before it can be published",
		"第 %d 版已有 %d 个批准,发布需要 %d 个", d.Version, len(d.Approvals), lp.ApprovalsNeeded())
}

func errMayNotPublish(l Level, lp LevelPolicy) error {
	var en, zh []string
	for _, r := range lp.PublisherRoles() {
		en = append(en, string(r))
		zh = append(zh, roleZH[r])
	}
	return &Error{Code: CodeForbidden, Msg: Text{
		EN: fmt.Sprintf("only the %s can publish the unified reply of a %s incident", strings.Join(en, " or "), l.Text().EN),
		ZH: fmt.Sprintf("%s舆情的统一口径只能由%s发布", l.Text().ZH, strings.Join(zh, "或"))}}
}

func errNoDraft(id string) error {
	return Errorf(CodeConflict, "%s has no draft yet; write one with: draft %s <text>", "%s 还没有口径草稿;请用 draft %s <正文> 起草", id, id)
}

func errRejected(d *Draft, r *Roster) error {
	return Errorf(CodeConflict, "version %d was rejected by %s; a new draft is needed", "第 %d 版已被 %s 驳回,需要新的草稿",
		d.Version, r.Name(d.Rejection.By))
}

// publishers are the people asked to publish an approved reply under lp:
// the spokespersons when they may (the plan's voice, 以网络新闻发言人的名义),
// otherwise everyone holding a role that may publish. A request goes to
// someone who can act on it.
func publishers(r *Roster, lp LevelPolicy) []Audience {
	roles := lp.PublisherRoles()
	if slices.Contains(roles, RoleSpokesperson) {
		if ps := r.WithRole(RoleSpokesperson); len(ps) > 0 {
			return persons(ps)
		}
	}
	var ids []string
	for _, role := range roles {
		for _, id := range r.WithRole(role) {
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	return persons(ids)
}

func uniqueVersions(vs []int) []int {
	var out []int
	for _, v := range vs {
		if v > 0 && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// DraftStage is where a draft version stands, for the requests that show it:
// only a pending version can be decided, only an approved one published.
type DraftStage string

// Draft stages.
const (
	StagePending    DraftStage = "pending"    // waiting for approvals
	StageApproved   DraftStage = "approved"   // has its approvals: ready to publish
	StagePublished  DraftStage = "published"  // published
	StageRejected   DraftStage = "rejected"   // turned down
	StageSuperseded DraftStage = "superseded" // a later version was written
	StageClosed     DraftStage = "closed"     // the incident was resolved first
)

// DraftStage returns draft version v (nil when there is none) and its stage
// under policy p.
func (inc *Incident) DraftStage(v int, p Policy) (*Draft, DraftStage) {
	var d *Draft
	for i := range inc.Drafts {
		if inc.Drafts[i].Version == v {
			d = &inc.Drafts[i]
		}
	}
	switch {
	case d == nil:
		return nil, StageSuperseded
	case d.Published:
		return d, StagePublished
	case d.Rejection != nil:
		return d, StageRejected
	case inc.CurrentDraft().Version != v:
		return d, StageSuperseded
	case !inc.Open():
		return d, StageClosed
	case p.Quorum(inc.Level, d):
		return d, StageApproved
	}
	return d, StagePending
}

// replyNotices tells who hears of e, a step of the unified reply: a new
// draft goes to the leaders to approve, quorum to the people who may
// publish, a rejection back to the draft's author, the published text to
// the statements channel; the leaders who have not decided are nudged.
func (n *notifier) replyNotices(e Event, lp LevelPolicy) {
	line := Notification{Kind: NoticeEvent}
	v := e.Data.Version
	switch e.Kind {
	case EventDrafted:
		n.toLeaders(e, Notification{Kind: NoticeApproval, Thread: Thread{Kind: ThreadApproval, Version: v}})
		// The requests of the version it replaces no longer apply.
		n.approvals, n.publishes = append(n.approvals, v-1), append(n.publishes, v-1)
	case EventApproved:
		n.add(e, ChannelIncidents, line)
	case EventQuorum:
		n.add(e, ChannelIncidents, line)
		for _, a := range publishers(n.roster, lp) {
			n.add(e, a, Notification{Kind: NoticePublish, Thread: Thread{Kind: ThreadPublish, Version: v}})
		}
	case EventRejected:
		n.add(e, ChannelIncidents, line)
		if d := n.inc.CurrentDraft(); d != nil && d.Author != e.Actor {
			n.add(e, PersonAudience(d.Author), Notification{Kind: NoticeRedraft})
		}
	case EventPublished:
		n.add(e, ChannelStatements, Notification{Kind: NoticeStatement})
		n.add(e, ChannelIncidents, line)
		n.publishes = append(n.publishes, v)
	case EventApprovalWait:
		for _, id := range e.Data.Waiting {
			n.add(e, PersonAudience(id), Notification{Kind: NoticeApproval, Thread: Thread{Kind: ThreadApproval, Version: v}})
		}
	}
	switch e.Kind {
	case EventApproved, EventQuorum, EventRejected, EventPublished:
		// The approval request shows the new count, or loses its buttons.
		n.approvals = append(n.approvals, v)
	}
}

// refreshRequests brings the approval and publish requests of the versions
// this transition decided or superseded up to date wherever they went.
func (n *notifier) refreshRequests(last Event, lp LevelPolicy) {
	for _, v := range uniqueVersions(n.approvals) {
		for _, a := range n.approvers() {
			n.refresh(last, a, Thread{Kind: ThreadApproval, Version: v})
		}
	}
	for _, v := range uniqueVersions(n.publishes) {
		for _, a := range publishers(n.roster, lp) {
			n.refresh(last, a, Thread{Kind: ThreadPublish, Version: v})
		}
	}
}
