package workflow

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Role is what a person may do.
type Role string

// Roles of the handling plans.
const (
	RoleStaff        Role = "staff"        // opens, handles and reports incidents
	RoleLeader       Role = "leader"       // 领导小组: approves the unified reply
	RolePrincipal    Role = "principal"    // 主要领导: a leader whose approval major incidents need
	RoleSpokesperson Role = "spokesperson" // 新闻发言人: publishes the unified reply
)

// Roles lists every role.
var Roles = []Role{RoleStaff, RoleLeader, RolePrincipal, RoleSpokesperson}

// Text names the role in both languages, the roster's word in English.
func (r Role) Text() Text {
	if zh, ok := roleZH[r]; ok {
		return Text{EN: string(r), ZH: zh}
	}
	return Text{EN: string(r), ZH: string(r)}
}

// roleZH names the roles in Chinese.
var roleZH = map[Role]string{RoleStaff: "工作人员", RoleLeader: "领导", RolePrincipal: "主要领导", RoleSpokesperson: "新闻发言人"}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Person is someone in the roster.
type Person struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Roles       []Role   `json:"roles"`
	Departments []string `json:"departments,omitempty"`
	// Accounts are the person's user IDs on the chat platforms, by platform
	// name (Platform.Name, as in Request.Platform). The roster knows a
	// platform only by its name: each adapter reads and checks its own IDs.
	Accounts map[string]string `json:"accounts,omitempty"`
}

// Account returns the person's user ID on platform, if they have one.
func (p *Person) Account(platform string) (string, bool) {
	id := p.Accounts[platform]
	return id, id != ""
}

// Has reports whether the person has role r. A principal is also a leader.
func (p *Person) Has(r Role) bool {
	if slices.Contains(p.Roles, r) {
		return true
	}
	return r == RoleLeader && slices.Contains(p.Roles, RolePrincipal)
}

// Department is a unit that incidents are routed to.
type Department struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Categories []Category `json:"categories,omitempty"`
}

// ChannelRef says where a named channel lives: its address (a conversation
// or chat ID, as the platform's adapter writes it) by platform name. A
// platform without an address, or with an empty one, does not have the
// channel.
type ChannelRef map[string]string

// Address returns the channel's address on platform, if it has one there.
func (c ChannelRef) Address(platform string) (string, bool) {
	a := c[platform]
	return a, a != ""
}

// IsZero reports whether the channel exists on no platform.
func (c ChannelRef) IsZero() bool {
	for _, a := range c {
		if a != "" {
			return false
		}
	}
	return true
}

// Channel names the bot speaks in.
const (
	ChannelIncidents  = "incidents"  // incident cards, reminders, escalations
	ChannelLeaders    = "leaders"    // approval requests
	ChannelStatements = "statements" // published unified replies
	ChannelAuthority  = "authority"  // the higher authority (上级主管部门): reports up, their follow-ups
)

// ChannelNames lists every channel a roster may set.
var ChannelNames = []string{ChannelIncidents, ChannelLeaders, ChannelStatements, ChannelAuthority}

// Organisation is the unit that speaks: statements are published over its
// name (以单位或网络新闻发言人的名义).
type Organisation struct {
	Name string
}

// Digest says when the cron digests are sent, as cron specs in the roster's
// timezone. Empty: no digest.
type Digest struct {
	Daily  string `json:"daily,omitempty"`
	Weekly string `json:"weekly,omitempty"`
}

// Roster says who is who. Build one with NewRoster (it validates and indexes).
type Roster struct {
	Timezone    string
	Locale      string
	People      []Person
	Departments []Department
	Channels    map[string]ChannelRef
	Policy      Policy
	Digest      Digest
	// OfficeHours, for "same day" deadlines; zero: DefaultOfficeHours.
	OfficeHours OfficeHours
	// Organisation names the unit statements are published for.
	Organisation Organisation
	// Spreading says which attention figures mark an incident spreading;
	// zero: none do (only a spread note).
	Spreading SpreadingRule
	// Intake is the monitoring intake: source tokens, keyword rules,
	// watched feeds, the triage time and the rate a source may send.
	Intake IntakeConfig

	loc       *time.Location
	byID      map[string]*Person
	byAccount map[string]map[string]*Person // platform → user ID → person
	depts     map[string]*Department
}

// NewRoster validates r and builds its indexes. Unknown roles, departments,
// categories, levels, duplicate IDs (of people, departments and platform
// accounts) and a bad timezone or locale are invalid.
func NewRoster(r Roster) (*Roster, error) {
	if r.Timezone == "" {
		r.Timezone = "UTC"
	}
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		return nil, Errorf(CodeInvalid, "unknown timezone %q", "未知时区 %q", r.Timezone)
	}
	r.loc = loc
	if r.Locale == "" {
		r.Locale = LocaleEN
	}
	if r.Locale != LocaleEN && r.Locale != LocaleZH {
		return nil, Errorf(CodeInvalid, "locale must be en or zh-CN, not %q", "语言必须是 en 或 zh-CN,而不是 %q", r.Locale)
	}
	if h := r.OfficeHours; !h.IsZero() {
		if h.Start < 0 || h.End > 24*time.Hour || h.Start >= h.End {
			return nil, Errorf(CodeInvalid, "office hours must start before they end, within a day",
				"办公时间的开始须早于结束,且在一天之内")
		}
		if len(h.Days) == 0 {
			return nil, Errorf(CodeInvalid, "office hours need at least one working day", "办公时间至少需要一个工作日")
		}
	}
	r.byID = map[string]*Person{}
	r.byAccount = map[string]map[string]*Person{}
	r.depts = map[string]*Department{}
	for i := range r.Departments {
		d := &r.Departments[i]
		if d.ID == "" {
			return nil, Errorf(CodeInvalid, "department %d has no id", "第 %d 个部门缺少 id", i+1)
		}
		if _, dup := r.depts[d.ID]; dup {
			return nil, Errorf(CodeInvalid, "department %q is defined twice", "部门 %q 重复定义", d.ID)
		}
		for _, c := range d.Categories {
			if !c.Valid() {
				return nil, Errorf(CodeInvalid, "department %q: unknown category %q", "部门 %q:未知类别 %q", d.ID, c)
			}
		}
		r.depts[d.ID] = d
	}
	for i := range r.People {
		p := &r.People[i]
		if p.ID == "" {
			return nil, Errorf(CodeInvalid, "person %d has no id", "第 %d 个人员缺少 id", i+1)
		}
		if strings.ContainsAny(p.ID, " \t:") {
			return nil, Errorf(CodeInvalid, "person id %q must not contain spaces or colons", "人员 id %q 不能包含空格或冒号", p.ID)
		}
		if _, dup := r.byID[p.ID]; dup {
			return nil, Errorf(CodeInvalid, "person %q is defined twice", "人员 %q 重复定义", p.ID)
		}
		if _, clash := r.depts[p.ID]; clash {
			return nil, Errorf(CodeInvalid, "person %q has the id of a department", "人员 %q 与部门同名", p.ID)
		}
		if p.Name == "" {
			p.Name = p.ID
		}
		if len(p.Roles) == 0 {
			return nil, Errorf(CodeInvalid, "person %q has no roles", "人员 %q 没有角色", p.ID)
		}
		for _, role := range p.Roles {
			if !role.Valid() {
				return nil, Errorf(CodeInvalid, "person %q: unknown role %q (staff, leader, principal, spokesperson)",
					"人员 %q:未知角色 %q(staff、leader、principal、spokesperson)", p.ID, role)
			}
		}
		for _, d := range p.Departments {
			if _, ok := r.depts[d]; !ok {
				return nil, Errorf(CodeInvalid, "person %q: unknown department %q", "人员 %q:未知部门 %q", p.ID, d)
			}
		}
		// In platform order, so that the same roster always fails the same way.
		for _, platform := range slices.Sorted(maps.Keys(p.Accounts)) {
			account := p.Accounts[platform]
			if platform == "" || account == "" {
				return nil, Errorf(CodeInvalid, "person %q: an account needs a platform and an ID, not %q: %q",
					"人员 %q:账号需要平台和 ID,而不是 %q: %q", p.ID, platform, account)
			}
			ids := r.byAccount[platform]
			if ids == nil {
				ids = map[string]*Person{}
				r.byAccount[platform] = ids
			}
			if other, dup := ids[account]; dup {
				return nil, Errorf(CodeInvalid, "%s user %s belongs to both %q and %q", "%s 用户 %s 同时属于 %q 和 %q",
					platform, account, other.ID, p.ID)
			}
			ids[account] = p
		}
		r.byID[p.ID] = p
	}
	for name := range r.Channels {
		if !slices.Contains(ChannelNames, name) {
			return nil, Errorf(CodeInvalid, "unknown channel %q (incidents, leaders, statements, authority)", "未知频道 %q(incidents、leaders、statements、authority)", name)
		}
	}
	if err := r.Spreading.check(); err != nil {
		return nil, err
	}
	policy := DefaultPolicy()
	for l, lp := range r.Policy {
		if !l.Valid() {
			return nil, Errorf(CodeInvalid, "policy: unknown level %q", "处置策略:未知级别 %q", l)
		}
		policy[l] = lp
	}
	r.Policy = policy
	for _, l := range Levels {
		for _, role := range r.Policy[l].Publishers {
			if !slices.Contains(PublisherRoles, role) {
				return nil, Errorf(CodeInvalid, "policy %s: publishers may be spokesperson, leader or principal, not %q",
					"处置策略 %s:publishers 只能是 spokesperson、leader 或 principal,而不是 %q", l, role)
			}
		}
	}
	for _, l := range Levels {
		if qe := CheckQuorum(r.People, l, r.Policy[l]); qe != nil {
			return nil, &Error{Code: CodeInvalid, Msg: qe.Text()}
		}
	}
	if err := validateIntake(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// QuorumError says that the roster's leaders cannot give the approvals a
// level's policy asks for, so every draft of that level would wait forever.
// NewRoster refuses such a roster; the roster file calls CheckQuorum itself
// to name the line.
type QuorumError struct {
	Level Level
	// Approvals is how many the level needs; Leaders how many people may
	// approve (leaders and principals).
	Approvals, Leaders int
	// NoPrincipal: the level needs a principal's approval and nobody has the
	// role principal.
	NoPrincipal bool
}

// Error returns the English message.
func (e *QuorumError) Error() string { return e.Text().EN }

// Text says what is wrong and how to fix it, in both languages.
func (e *QuorumError) Text() Text {
	lv := e.Level.Text()
	if e.NoPrincipal {
		return Text{
			EN: fmt.Sprintf("policy %s: a principal leader must approve, but nobody has the role principal; give a leader the role principal or set principal: false", e.Level),
			ZH: fmt.Sprintf("处置策略 %s(%s):须经主要领导批准,但名册中没有人具有 principal 角色;请为一位领导加上 principal 角色,或设置 principal: false", e.Level, lv.ZH),
		}
	}
	return Text{
		EN: fmt.Sprintf("policy %s: approvals: %d, but the roster has %d leader(s); give more people the role leader or lower approvals", e.Level, e.Approvals, e.Leaders),
		ZH: fmt.Sprintf("处置策略 %s(%s):approvals: %d,但名册中只有 %d 位领导;请为更多人员加上 leader 角色,或降低 approvals", e.Level, lv.ZH, e.Approvals, e.Leaders),
	}
}

// CheckQuorum returns why people cannot approve a draft of level l under its
// policy lp, or nil when they can. The author of a draft cannot approve it,
// but a staff member may write it: enough leaders, with a principal among
// them when the policy asks, is what a roster can promise.
func CheckQuorum(people []Person, l Level, lp LevelPolicy) *QuorumError {
	leaders, principals := 0, 0
	for i := range people {
		if people[i].Has(RoleLeader) {
			leaders++
		}
		if people[i].Has(RolePrincipal) {
			principals++
		}
	}
	if need := lp.ApprovalsNeeded(); leaders < need {
		return &QuorumError{Level: l, Approvals: need, Leaders: leaders}
	}
	if lp.Principal && principals == 0 {
		return &QuorumError{Level: l, Approvals: lp.ApprovalsNeeded(), Leaders: leaders, NoPrincipal: true}
	}
	return nil
}

// DraftApprovers are the people who may approve a draft written by its
// author: the author never approves their own draft (Service.Approve).
type DraftApprovers struct {
	Leaders    []*Person // leaders (principals included) other than the author
	Principals []*Person // the principals among them
	// Need is how many approvals the level needs; NeedPrincipal whether one
	// of them must be a principal's.
	Need          int
	NeedPrincipal bool
}

// Reachable reports whether the approvers can give what the level needs.
func (a DraftApprovers) Reachable() bool {
	return len(a.Leaders) >= a.Need && (!a.NeedPrincipal || len(a.Principals) > 0)
}

// DraftApprovers returns who may approve a draft of level l written by
// author, in roster order. When it is not Reachable, the draft can never be
// approved as long as author wrote it: someone else should submit it.
func (r *Roster) DraftApprovers(l Level, author string) DraftApprovers {
	lp := r.Policy.For(l)
	a := DraftApprovers{Need: lp.ApprovalsNeeded(), NeedPrincipal: lp.Principal}
	for i := range r.People {
		p := &r.People[i]
		if p.ID == author || !p.Has(RoleLeader) {
			continue
		}
		a.Leaders = append(a.Leaders, p)
		if p.Has(RolePrincipal) {
			a.Principals = append(a.Principals, p)
		}
	}
	return a
}

// Location is the roster's timezone.
func (r *Roster) Location() *time.Location { return r.loc }

// Calendar returns the organisation's timezone and office hours, which
// deadlines are computed in.
func (r *Roster) Calendar() Calendar { return Calendar{Location: r.loc, Hours: r.OfficeHours} }

// Person returns the person with the given ID.
func (r *Roster) Person(id string) (*Person, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// ByAccount returns the person whose user ID on platform is id.
func (r *Roster) ByAccount(platform, id string) (*Person, bool) {
	p, ok := r.byAccount[platform][id]
	return p, ok
}

// Department returns the department with the given ID.
func (r *Roster) Department(id string) (*Department, bool) {
	d, ok := r.depts[id]
	return d, ok
}

// DepartmentFor returns the department that owns category c: the first one
// listing c, else the first one listing "other", else none.
func (r *Roster) DepartmentFor(c Category) (*Department, bool) {
	for _, want := range []Category{c, CategoryOther} {
		for i := range r.Departments {
			if slices.Contains(r.Departments[i].Categories, want) {
				return &r.Departments[i], true
			}
		}
	}
	return nil, false
}

// Members returns the IDs of the people of department d, in roster order.
func (r *Roster) Members(d string) []string {
	var ids []string
	for _, p := range r.People {
		if slices.Contains(p.Departments, d) {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

// WithRole returns the IDs of the people who have role role, in roster order.
func (r *Roster) WithRole(role Role) []string {
	var ids []string
	for i := range r.People {
		if r.People[i].Has(role) {
			ids = append(ids, r.People[i].ID)
		}
	}
	return ids
}

// Channel returns the named channel and whether it is set on any platform.
func (r *Roster) Channel(name string) (ChannelRef, bool) {
	c, ok := r.Channels[name]
	return c, ok && !c.IsZero()
}

// Address returns where the named channel lives on platform, if it is there.
func (r *Roster) Address(channel, platform string) (string, bool) {
	return r.Channels[channel].Address(platform)
}

// PlatformChannels are the channels a platform the bot runs on needs: without
// #incidents its people see no card, reminder or escalation there, and
// without #statements no published reply.
var PlatformChannels = []string{ChannelIncidents, ChannelStatements}

// MissingChannels returns those of PlatformChannels that have no address on
// platform, in that order.
func (r *Roster) MissingChannels(platform string) []string {
	var missing []string
	for _, c := range PlatformChannels {
		if _, ok := r.Address(c, platform); !ok {
			missing = append(missing, c)
		}
	}
	return missing
}

// Name returns the display name of a person ID, or the ID itself when unknown.
func (r *Roster) Name(id string) string {
	if p, ok := r.byID[id]; ok {
		return p.Name
	}
	if d, ok := r.depts[id]; ok {
		return d.Name
	}
	return id
}

// String describes the roster briefly (for logs).
func (r *Roster) String() string {
	return fmt.Sprintf("%d people, %d departments, timezone %s", len(r.People), len(r.Departments), r.Timezone)
}
