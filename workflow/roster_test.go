package workflow_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

func TestNewRosterRefuses(t *testing.T) {
	staff := []workflow.Role{workflow.RoleStaff}
	tests := []struct {
		name string
		edit func(*workflow.Roster)
		want string // part of the English message
	}{
		{"bad timezone", func(r *workflow.Roster) { r.Timezone = "Mars/Olympus" }, `unknown timezone "Mars/Olympus"`},
		{"bad locale", func(r *workflow.Roster) { r.Locale = "fr" }, `locale must be en or zh-CN, not "fr"`},
		{"department without id", func(r *workflow.Roster) {
			r.Departments = append(r.Departments, workflow.Department{Name: "Nameless"})
		}, "department 3 has no id"},
		{"department twice", func(r *workflow.Roster) {
			r.Departments = append(r.Departments, workflow.Department{ID: "office"})
		}, `department "office" is defined twice`},
		{"department with unknown category", func(r *workflow.Roster) {
			r.Departments[1].Categories = append(r.Departments[1].Categories, "gossip")
		}, `department "logistics": unknown category "gossip"`},
		{"person without id", func(r *workflow.Roster) {
			r.People = append(r.People, workflow.Person{Roles: staff})
		}, "person 7 has no id"},
		{"person id with a space", func(r *workflow.Roster) { r.People[0].ID = "chen jing" }, "must not contain spaces or colons"},
		{"person id with a colon", func(r *workflow.Roster) { r.People[0].ID = "person:chen" }, "must not contain spaces or colons"},
		{"person twice", func(r *workflow.Roster) {
			r.People = append(r.People, workflow.Person{ID: "li", Roles: staff})
		}, `person "li" is defined twice`},
		{"person named like a department", func(r *workflow.Roster) {
			r.People = append(r.People, workflow.Person{ID: "office", Roles: staff})
		}, `person "office" has the id of a department`},
		{"person without roles", func(r *workflow.Roster) { r.People[5].Roles = nil }, `person "sun" has no roles`},
		{"unknown role", func(r *workflow.Roster) {
			r.People[3].Roles = append(r.People[3].Roles, "boss")
		}, `person "wang": unknown role "boss"`},
		{"unknown department of a person", func(r *workflow.Roster) {
			r.People[1].Departments = []string{"canteen"}
		}, `person "li": unknown department "canteen"`},
		{"account twice on a platform", func(r *workflow.Roster) { r.People[1].Accounts["slack"] = "U0CHEN" }, `slack user U0CHEN belongs to both "chen" and "li"`},
		{"account twice on another", func(r *workflow.Roster) { r.People[2].Accounts["telegram"] = "1001" }, `telegram user 1001 belongs to both "chen" and "zhou"`},
		{"account twice in a new person", func(r *workflow.Roster) {
			r.People = append(r.People, workflow.Person{ID: "qian", Roles: staff, Accounts: map[string]string{"wecom": "q", "slack": "U0SUN"}})
		}, `slack user U0SUN belongs to both "sun" and "qian"`},
		{"account without an ID", func(r *workflow.Roster) { r.People[0].Accounts["slack"] = "" }, `person "chen": an account needs a platform and an ID`},
		{"account without a platform", func(r *workflow.Roster) { r.People[0].Accounts[""] = "x" }, `person "chen": an account needs a platform and an ID`},
		{"unknown channel", func(r *workflow.Roster) {
			r.Channels["press"] = workflow.ChannelRef{"slack": "C0PRESS"}
		}, `unknown channel "press"`},
		{"policy for an unknown level", func(r *workflow.Roster) {
			r.Policy = workflow.Policy{"huge": {Approvals: 3}}
		}, `policy: unknown level "huge"`},
		{"more approvals than leaders", func(r *workflow.Roster) {
			r.Policy = workflow.Policy{workflow.LevelMajor: {Approvals: 5, Principal: true}}
		}, "policy major: approvals: 5, but the roster has 2 leader(s)"},
		{"principal required but none", func(r *workflow.Roster) { r.People[3].Roles = []workflow.Role{workflow.RoleLeader} },
			"policy major: a principal leader must approve, but nobody has the role principal"},
		{"a single leader for two approvals", func(r *workflow.Roster) { r.People[4].Roles = staff },
			"policy major: approvals: 2, but the roster has 1 leader(s)"},
		{"no leader at all", func(r *workflow.Roster) { r.People[3].Roles, r.People[4].Roles = staff, staff },
			"policy general: approvals: 1, but the roster has 0 leader(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := demoRoster()
			tt.edit(&r)
			got, err := workflow.NewRoster(r)
			if got != nil {
				t.Errorf("roster: got %v, want nil", got)
			}
			wantCode(t, err, workflow.CodeInvalid)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error: got %q, want it to contain %q", err, tt.want)
			}
			if txt := workflow.ErrorText(err); txt == nil || txt.ZH == "" || txt.ZH == txt.EN {
				t.Errorf("error text: got %+v, want English and Chinese", txt)
			}
		})
	}
}

func TestNewRosterDefaults(t *testing.T) {
	r, err := workflow.NewRoster(workflow.Roster{People: []workflow.Person{
		{ID: "chen", Roles: []workflow.Role{workflow.RoleStaff}},
		{ID: "wang", Roles: []workflow.Role{workflow.RolePrincipal}},
		{ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}},
	}})
	if err != nil {
		t.Fatalf("NewRoster: %v", err)
	}
	if r.Timezone != "UTC" || r.Location() != time.UTC || r.Locale != workflow.LocaleEN {
		t.Errorf("defaults: got timezone %q (%v) locale %q, want UTC and en", r.Timezone, r.Location(), r.Locale)
	}
	if p, _ := r.Person("chen"); p.Name != "chen" {
		t.Errorf("name: got %q, want the id chen when none is given", p.Name)
	}
	if got, want := r.Policy.For(workflow.LevelMajor), workflow.DefaultPolicy()[workflow.LevelMajor]; !reflect.DeepEqual(got, want) {
		t.Errorf("policy: got %+v, want the default %+v", got, want)
	}
}

func TestNewRosterPolicyOverride(t *testing.T) {
	r := mustRoster(t, func(r *workflow.Roster) {
		r.Policy = workflow.Policy{workflow.LevelGeneral: {Assign: time.Hour, Answer: 12 * time.Hour, Approvals: 1}}
	})
	if got := r.Policy.For(workflow.LevelGeneral).Assign; got != time.Hour {
		t.Errorf("general assign: got %v, want the override 1h", got)
	}
	if got := r.Policy.For(workflow.LevelMajor).Respond; got != 3*time.Hour {
		t.Errorf("major respond: got %v, want the default 3h kept", got)
	}
	if got := r.Policy.For(workflow.LevelGeneral).RespondSameDay; got {
		t.Errorf("general same-day reply: got %v, want false: an override replaces the level's policy", got)
	}
}

func TestRosterLookups(t *testing.T) {
	r := mustRoster(t)
	if r.Location().String() != "Asia/Shanghai" {
		t.Errorf("Location: got %v, want Asia/Shanghai", r.Location())
	}
	tests := []struct {
		name string
		got  func() (string, bool)
		want string
		ok   bool
	}{
		{"Person", func() (string, bool) { p, ok := r.Person("wang"); return id(p, ok) }, "wang", true},
		{"Person unknown", func() (string, bool) { p, ok := r.Person("mallory"); return id(p, ok) }, "", false},
		{"Person is case-sensitive", func() (string, bool) { p, ok := r.Person("Wang"); return id(p, ok) }, "", false},
		{"ByAccount", func() (string, bool) { p, ok := r.ByAccount("slack", "U0ZHAO"); return id(p, ok) }, "zhao", true},
		{"ByAccount unknown", func() (string, bool) { p, ok := r.ByAccount("slack", "U0NOBODY"); return id(p, ok) }, "", false},
		{"ByAccount empty", func() (string, bool) { p, ok := r.ByAccount("slack", ""); return id(p, ok) }, "", false},
		{"ByAccount another platform", func() (string, bool) { p, ok := r.ByAccount("telegram", "1006"); return id(p, ok) }, "sun", true},
		{"ByAccount of the wrong platform", func() (string, bool) { p, ok := r.ByAccount("telegram", "U0ZHAO"); return id(p, ok) }, "", false},
		{"ByAccount of an unknown platform", func() (string, bool) { p, ok := r.ByAccount("wecom", "1006"); return id(p, ok) }, "", false},
		{"Account", func() (string, bool) { p, _ := r.Person("li"); return p.Account("telegram") }, "1002", true},
		{"Account on no platform", func() (string, bool) { p, _ := r.Person("li"); return p.Account("wecom") }, "", false},
		{"Department", func() (string, bool) {
			d, ok := r.Department("logistics")
			if !ok {
				return "", false
			}
			return d.Name, true
		}, "Logistics Department", true},
		{"Department unknown", func() (string, bool) { _, ok := r.Department("canteen"); return "", ok }, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.got()
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func id(p *workflow.Person, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	return p.ID, true
}

func TestRosterDepartmentFor(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(*workflow.Roster)
		category workflow.Category
		want     string // "" for none
	}{
		{"inquiry", nil, workflow.CategoryInquiry, "logistics"},
		{"hype", nil, workflow.CategoryHype, "office"},
		{"rumor", nil, workflow.CategoryRumor, "office"},
		{"other", nil, workflow.CategoryOther, "office"},
		{"unowned falls back to other", func(r *workflow.Roster) {
			r.Departments[1].Categories = nil
		}, workflow.CategoryInquiry, "office"},
		{"first listing wins", func(r *workflow.Roster) {
			r.Departments[1].Categories = append(r.Departments[1].Categories, workflow.CategoryHype)
		}, workflow.CategoryHype, "office"},
		{"nobody owns it nor other", func(r *workflow.Roster) {
			r.Departments[0].Categories = []workflow.Category{workflow.CategoryHype}
		}, workflow.CategoryRumor, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var edits []func(*workflow.Roster)
			if tt.edit != nil {
				edits = append(edits, tt.edit)
			}
			r := mustRoster(t, edits...)
			d, ok := r.DepartmentFor(tt.category)
			got := ""
			if ok {
				got = d.ID
			}
			if got != tt.want {
				t.Errorf("DepartmentFor(%s): got %q, want %q", tt.category, got, tt.want)
			}
		})
	}
}

func TestRosterMembersRolesNames(t *testing.T) {
	r := mustRoster(t, withQian)
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"members of logistics", r.Members("logistics"), []string{"li", "zhou"}},
		{"members of office", r.Members("office"), []string{"chen"}},
		{"members of nothing", r.Members("canteen"), nil},
		{"leaders include the principal", r.WithRole(workflow.RoleLeader), []string{"wang", "zhao", "qian"}},
		{"principals", r.WithRole(workflow.RolePrincipal), []string{"wang"}},
		{"spokespeople", r.WithRole(workflow.RoleSpokesperson), []string{"sun"}},
		{"staff", r.WithRole(workflow.RoleStaff), []string{"chen", "li", "zhou"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	for in, want := range map[string]string{"wang": "Wang Fang", "logistics": "Logistics Department", "mallory": "mallory"} {
		if got := r.Name(in); got != want {
			t.Errorf("Name(%q): got %q, want %q", in, got, want)
		}
	}
	if got, want := r.String(), "7 people, 2 departments, timezone Asia/Shanghai"; got != want {
		t.Errorf("String: got %q, want %q", got, want)
	}
}

func TestRosterChannel(t *testing.T) {
	r := mustRoster(t, func(r *workflow.Roster) { r.Channels[workflow.ChannelStatements] = workflow.ChannelRef{} })
	tests := []struct {
		name string
		want workflow.ChannelRef
		ok   bool
	}{
		{workflow.ChannelIncidents, workflow.ChannelRef{"slack": "C0INCIDENTS", "telegram": "-100111"}, true},
		{workflow.ChannelLeaders, workflow.ChannelRef{"telegram": "-100222"}, true},
		{workflow.ChannelStatements, workflow.ChannelRef{}, false}, // listed but on no platform
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := r.Channel(tt.name)
			if !maps.Equal(got, tt.want) || ok != tt.ok {
				t.Errorf("Channel(%s): got %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRosterAddress(t *testing.T) {
	r := mustRoster(t, func(r *workflow.Roster) {
		r.Channels[workflow.ChannelStatements] = workflow.ChannelRef{"slack": "C0STATEMENTS", "telegram": ""}
	})
	tests := []struct {
		channel, platform string
		want              string
		ok                bool
	}{
		{workflow.ChannelIncidents, "slack", "C0INCIDENTS", true},
		{workflow.ChannelIncidents, "telegram", "-100111", true},
		{workflow.ChannelLeaders, "slack", "", false},       // the channel is on the other platform only
		{workflow.ChannelStatements, "telegram", "", false}, // an empty address is none
		{workflow.ChannelIncidents, "wecom", "", false},     // a platform the roster does not name
		{"press", "slack", "", false},                       // no such channel
	}
	for _, tt := range tests {
		t.Run(tt.channel+"/"+tt.platform, func(t *testing.T) {
			got, ok := r.Address(tt.channel, tt.platform)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Address(%s, %s): got %q %v, want %q %v", tt.channel, tt.platform, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPersonHas(t *testing.T) {
	r := mustRoster(t)
	tests := []struct {
		person string
		role   workflow.Role
		want   bool
	}{
		{"wang", workflow.RolePrincipal, true},
		{"wang", workflow.RoleLeader, true},
		{"zhao", workflow.RoleLeader, true},
		{"zhao", workflow.RolePrincipal, false},
		{"sun", workflow.RoleSpokesperson, true},
		{"sun", workflow.RoleLeader, false},
		{"chen", workflow.RoleStaff, true},
		{"chen", workflow.RoleLeader, false},
	}
	for _, tt := range tests {
		t.Run(tt.person+" "+string(tt.role), func(t *testing.T) {
			p, _ := r.Person(tt.person)
			if got := p.Has(tt.role); got != tt.want {
				t.Errorf("Has: got %v, want %v", got, tt.want)
			}
		})
	}
	// A principal listed without the leader role is still a leader.
	only, err := workflow.NewRoster(workflow.Roster{People: []workflow.Person{
		{ID: "wu", Roles: []workflow.Role{workflow.RolePrincipal}},
		{ID: "zhao", Roles: []workflow.Role{workflow.RoleLeader}},
	}})
	if err != nil {
		t.Fatalf("NewRoster: %v", err)
	}
	if p, _ := only.Person("wu"); !p.Has(workflow.RoleLeader) {
		t.Errorf("principal only: got Has(leader) false, want true")
	}
}

func TestDraftApprovers(t *testing.T) {
	r := mustRoster(t)
	tests := []struct {
		name          string
		level         workflow.Level
		author        string
		leaders       int
		principals    int
		reachable     bool
		needPrincipal bool
	}{
		{"staff writes a major reply", workflow.LevelMajor, "chen", 2, 1, true, true},
		{"the only principal writes a major reply", workflow.LevelMajor, "wang", 1, 0, false, true},
		{"a leader leaves one approver for two approvals", workflow.LevelMajor, "zhao", 1, 1, false, true},
		{"the only principal writes a general reply", workflow.LevelGeneral, "wang", 1, 0, true, false},
		{"the only principal writes a critical reply", workflow.LevelCritical, "wang", 1, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := r.DraftApprovers(tt.level, tt.author)
			if len(a.Leaders) != tt.leaders || len(a.Principals) != tt.principals {
				t.Errorf("got %d leaders and %d principals, want %d and %d", len(a.Leaders), len(a.Principals), tt.leaders, tt.principals)
			}
			if a.Reachable() != tt.reachable || a.NeedPrincipal != tt.needPrincipal {
				t.Errorf("got reachable %v, needs principal %v; want %v, %v", a.Reachable(), a.NeedPrincipal, tt.reachable, tt.needPrincipal)
			}
			for _, p := range a.Leaders {
				if p.ID == tt.author {
					t.Errorf("got the author %s among the approvers", p.ID)
				}
			}
		})
	}
}

func TestMissingChannels(t *testing.T) {
	r := mustRoster(t)
	tests := []struct {
		name, platform string
		want           []string
	}{
		{"slack has both", "slack", nil},
		{"telegram has no statements", "telegram", []string{workflow.ChannelStatements}},
		{"an unknown platform has neither", "wecom", []string{workflow.ChannelIncidents, workflow.ChannelStatements}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.MissingChannels(tt.platform); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
