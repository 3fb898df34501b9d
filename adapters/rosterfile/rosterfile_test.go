package rosterfile

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/workflow"
)

// platforms are the platforms cmd/firebreak registers: the roster file as
// documented (DESIGN.md §4) is read with the adapters' own ID checks.
var platforms = []workflow.Platform{slack.Platform, telegram.Platform}

func mustParse(tb testing.TB, src string) *workflow.Roster {
	tb.Helper()
	r, err := Parse([]byte(src), "roster.yaml", platforms...)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return r
}

func TestDemo(t *testing.T) {
	r := Demo(platforms...)
	people := []struct {
		id, name string
		roles    []workflow.Role
		dept     string
	}{
		{"chen", "Chen Jing", []workflow.Role{workflow.RoleStaff}, "office"},
		{"li", "Li Ming", []workflow.Role{workflow.RoleStaff}, "logistics"},
		{"zhou", "", []workflow.Role{workflow.RoleStaff}, "logistics"},
		{"wang", "Wang Fang", []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}, ""},
		{"zhao", "Zhao Lei", []workflow.Role{workflow.RoleLeader}, ""},
		{"sun", "Sun Yue", []workflow.Role{workflow.RoleSpokesperson}, ""},
	}
	for _, want := range people {
		t.Run(want.id, func(t *testing.T) {
			p, ok := r.Person(want.id)
			if !ok {
				t.Fatalf("person %q missing", want.id)
			}
			if want.name != "" && p.Name != want.name {
				t.Errorf("name: got %q, want %q", p.Name, want.name)
			}
			for _, role := range want.roles {
				if !p.Has(role) {
					t.Errorf("roles: got %v, want %s among them", p.Roles, role)
				}
			}
			if want.dept != "" && !slices.Contains(p.Departments, want.dept) {
				t.Errorf("departments: got %v, want %s among them", p.Departments, want.dept)
			}
			for _, pl := range platforms {
				id, ok := p.Account(pl.Name)
				if !ok {
					t.Errorf("%s account: got none, want one", pl.Name)
				}
				if got, ok := r.ByAccount(pl.Name, id); !ok || got.ID != want.id {
					t.Errorf("ByAccount(%s, %s): got %v, want %s", pl.Name, id, got, want.id)
				}
			}
		})
	}
	if got, want := r.Members("logistics"), []string{"li", "zhou"}; !slices.Equal(got, want) {
		t.Errorf("logistics members: got %v, want %v", got, want)
	}
	for cat, want := range map[workflow.Category]string{
		workflow.CategoryInquiry: "logistics", workflow.CategoryHype: "office",
		workflow.CategoryRumor: "office", workflow.CategoryOther: "office",
	} {
		if d, ok := r.DepartmentFor(cat); !ok || d.ID != want {
			t.Errorf("DepartmentFor(%s): got %v, want %s", cat, d, want)
		}
	}
	if d, _ := r.Department("office"); d == nil || d.Name != "Public Opinion Office" {
		t.Errorf("office: got %v, want Public Opinion Office", d)
	}
	if d, _ := r.Department("logistics"); d == nil || d.Name != "Logistics Department" {
		t.Errorf("logistics: got %v, want Logistics Department", d)
	}
	channels := map[string]workflow.ChannelRef{
		workflow.ChannelIncidents:  {"slack": "C0INCIDENTS", "telegram": "-100111"},
		workflow.ChannelLeaders:    {"telegram": "-100222"},
		workflow.ChannelStatements: {"slack": "C0STATEMENTS"},
		workflow.ChannelAuthority:  {"slack": "C0AUTHORITY", "telegram": "-100333"},
	}
	for name, want := range channels {
		if got, _ := r.Channel(name); !maps.Equal(got, want) {
			t.Errorf("channel %s: got %+v, want %+v", name, got, want)
		}
	}
	if got, want := r.Organisation.Name, "Riverside District Education Bureau"; got != want {
		t.Errorf("organisation: got %q, want %q", got, want)
	}
	if r.Timezone != "Asia/Shanghai" || r.Location().String() != "Asia/Shanghai" {
		t.Errorf("timezone: got %q, want Asia/Shanghai", r.Timezone)
	}
	if r.Locale != workflow.LocaleEN {
		t.Errorf("locale: got %q, want en", r.Locale)
	}
	if want := (workflow.Digest{Daily: "0 8 * * *", Weekly: "0 9 * * MON"}); r.Digest != want {
		t.Errorf("digest: got %+v, want %+v", r.Digest, want)
	}
	for _, l := range workflow.Levels {
		if got, want := r.Policy.For(l), workflow.DefaultPolicy()[l]; !reflect.DeepEqual(got, want) {
			t.Errorf("policy %s: got %+v, want the default %+v", l, got, want)
		}
	}
	if Demo(platforms...) == r {
		t.Errorf("Demo returned the same roster twice, want a fresh copy")
	}
}

// TestDemoWithoutPlatforms: the demo roster leaves out the IDs of platforms
// not given, and is otherwise the same.
func TestDemoWithoutPlatforms(t *testing.T) {
	r := Demo(slack.Platform)
	p, ok := r.Person("chen")
	if !ok {
		t.Fatal("chen missing")
	}
	if got := p.Accounts; !maps.Equal(got, map[string]string{"slack": "U0CHEN"}) {
		t.Errorf("chen's accounts: got %v, want the Slack one only", got)
	}
	if _, ok := r.Channel(workflow.ChannelLeaders); ok {
		t.Errorf("leaders: got a channel, want none (it is on Telegram only)")
	}
	if r := Demo(); len(r.People) != 6 || r.People[0].Accounts != nil {
		t.Errorf("Demo(): got %d people, chen's accounts %v; want 6 people, no accounts", len(r.People), r.People[0].Accounts)
	}
}

// TestPlatformKeys: a person's and a channel's keys are those of the
// platforms given; with none, a platform key is unknown.
func TestPlatformKeys(t *testing.T) {
	wecom := workflow.Platform{Name: "wecom",
		ParseAccount: func(s string) (string, error) { return strings.ToLower(s), nil },
		ParseAddress: func(s string) (string, error) {
			if !strings.HasPrefix(s, "wr") {
				return "", errors.New("must start with wr")
			}
			return s, nil
		}}
	// The leaders are reached on wecom, the only platform: wang has an account there.
	src := "people:\n  - {id: chen, roles: [staff], wecom: ChenJing}\n" +
		"  - {id: wang, roles: [leader, principal], wecom: WangFang}\n  - {id: zhao, roles: [leader]}\n  - {id: qian, roles: [leader]}\n" +
		"channels:\n  incidents: {wecom: wrINC}\n"
	r, err := Parse([]byte(src), "roster.yaml", wecom)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p, ok := r.ByAccount("wecom", "chenjing"); !ok || p.ID != "chen" {
		t.Errorf("ByAccount(wecom, chenjing): got %v, want chen (the account as its platform reads it)", p)
	}
	if got, ok := r.Address(workflow.ChannelIncidents, "wecom"); !ok || got != "wrINC" {
		t.Errorf("Address(incidents, wecom): got %q %v, want wrINC", got, ok)
	}
	for _, tt := range []struct {
		name      string
		src       string
		platforms []workflow.Platform
		want      string
	}{
		{"a platform not given", src, nil, `roster.yaml:2: unknown key "wecom" in person (known: id, name, roles, departments)`},
		{"the known keys name the platforms", src, platforms,
			`roster.yaml:2: unknown key "wecom" in person (known: id, name, roles, departments, slack, telegram)`},
		{"a platform's own error", strings.Replace(src, "wrINC", "INC", 1), []workflow.Platform{wecom},
			`roster.yaml:7: wecom must start with wr`},
		{"an ID not a scalar", strings.Replace(src, "wrINC", "[a, b]", 1), []workflow.Platform{wecom},
			`roster.yaml:7: wecom must be an ID, not a list`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "roster.yaml", tt.platforms...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestExampleFile(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "roster.example.yaml")
	r, err := Load(path, platforms...)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if len(r.WithRole(workflow.RolePrincipal)) == 0 {
		t.Errorf("principals: got none, want at least one (major replies need one)")
	}
	if len(r.WithRole(workflow.RoleLeader)) < r.Policy.For(workflow.LevelMajor).Approvals {
		t.Errorf("leaders: got %v, want at least the %d approvals a major reply needs",
			r.WithRole(workflow.RoleLeader), r.Policy.For(workflow.LevelMajor).Approvals)
	}
	if len(r.WithRole(workflow.RoleSpokesperson)) == 0 {
		t.Errorf("spokespeople: got none, want one")
	}
	for _, c := range workflow.Categories {
		if _, ok := r.DepartmentFor(c); !ok {
			t.Errorf("DepartmentFor(%s): got none, want a department", c)
		}
	}
	if r.Organisation.Name == "" {
		t.Errorf("organisation: got none, want the bureau's name (statements are published over it)")
	}
	if _, ok := r.Channel(workflow.ChannelAuthority); !ok {
		t.Errorf("authority channel: got none, want one")
	}
	if lp := r.Policy.For(workflow.LevelCritical); lp.Authority == 0 || !lp.ReportUpAuto || len(lp.Publishers) == 0 {
		t.Errorf("critical policy: got %+v, want the example's authority, report_up and publishers", lp)
	}
	// The compose file and the Kubernetes base run the example with Slack,
	// Telegram or both configured: each must find its channels.
	for _, running := range [][]string{{"slack"}, {"telegram"}, {"slack", "telegram"}} {
		if _, err := LoadRunning(path, running, platforms...); err != nil {
			t.Errorf("LoadRunning(%s, %v): %v", path, running, err)
		}
	}
}

func TestOrganisation(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"absent", "locale: en\n", ""},
		{"flow style", "organisation: {name: Riverside District Education Bureau}\n", "Riverside District Education Bureau"},
		{"block style, Chinese", "organisation:\n  name: 某某区教育局\n", "某某区教育局"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.src+"people:\n"+leaders).Organisation.Name; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAuthorityChannel(t *testing.T) {
	r := mustParse(t, edit(17, "  incidents: {slack: C0INC, telegram: -100111}\n  authority: {slack: C0AUTH, telegram: -100444}"))
	want := workflow.ChannelRef{"slack": "C0AUTH", "telegram": "-100444"}
	if got, ok := r.Channel(workflow.ChannelAuthority); !ok || !maps.Equal(got, want) {
		t.Errorf("authority: got %v %v, want %v", got, ok, want)
	}
	if _, ok := mustParse(t, valid).Channel(workflow.ChannelAuthority); ok {
		t.Errorf("authority when absent: got a channel, want none")
	}
}

func TestSpreading(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want workflow.SpreadingRule
	}{
		{"absent: no rule", "", workflow.SpreadingRule{}},
		{"empty: no rule", "spreading:\n", workflow.SpreadingRule{}},
		{"every key", "spreading: {posts_growth: 50%, within: 1h, heat: 80}\n",
			workflow.SpreadingRule{PostsGrowth: 0.5, Within: time.Hour, Heat: 80}},
		{"growth alone", "spreading:\n  posts_growth: 50%\n", workflow.SpreadingRule{PostsGrowth: 0.5}},
		{"a fraction of a percent", "spreading: {posts_growth: 12.5%}\n", workflow.SpreadingRule{PostsGrowth: 0.125}},
		{"the largest growth", "spreading: {posts_growth: 1000%}\n", workflow.SpreadingRule{PostsGrowth: workflow.MaxPostsGrowth}},
		{"a full-width percent sign", "spreading: {posts_growth: 50％}\n", workflow.SpreadingRule{PostsGrowth: 0.5}},
		{"heat alone", "spreading: {heat: 80}\n", workflow.SpreadingRule{Heat: 80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.src+"people:\n"+leaders).Spreading; got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if got := workflow.ErrorCode(err); got != workflow.CodeInvalid {
		t.Fatalf("code: got %q, want %q (err %v)", got, workflow.CodeInvalid, err)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error: got %v, want it to name the file", err)
	}
}

func TestPolicyOverrides(t *testing.T) {
	defaults := workflow.DefaultPolicy()
	tests := []struct {
		name  string
		src   string
		level workflow.Level
		want  func(lp workflow.LevelPolicy) workflow.LevelPolicy
	}{
		{
			name:  "no policy keeps the defaults",
			src:   "locale: en\n",
			level: workflow.LevelGeneral,
			want:  func(lp workflow.LevelPolicy) workflow.LevelPolicy { return lp },
		},
		{
			name:  "general assign only keeps answer and same-day reply",
			src:   "policy:\n  general: {assign: 1h}\n",
			level: workflow.LevelGeneral,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Assign = time.Hour
				return lp
			},
		},
		{
			name:  "general respond turns off the same-day reply",
			src:   "policy:\n  general: {respond: 4h}\n",
			level: workflow.LevelGeneral,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Respond, lp.RespondSameDay = 4*time.Hour, false
				return lp
			},
		},
		{
			name:  "major approvals keep the principal rule",
			src:   "policy:\n  major:\n    approvals: 3\n    update_every: 90m\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Approvals, lp.UpdateEvery = 3, 90*time.Minute
				return lp
			},
		},
		{
			name: "critical every key",
			src: "channels:\n  authority: {telegram: -100444}\n" +
				"policy:\n  critical: {report: 10m, assign: 20m, respond: 2h, answer: 48h, update_every: 30m, approvals: 1, principal: false," +
				" warn_before: 5m, half_warning: false, nudge: 10m, authority: 20m, report_up: auto, publishers: [spokesperson]}\n",
			level: workflow.LevelCritical,
			want: func(workflow.LevelPolicy) workflow.LevelPolicy {
				return workflow.LevelPolicy{Report: 10 * time.Minute, Assign: 20 * time.Minute, Respond: 2 * time.Hour,
					Answer: 48 * time.Hour, UpdateEvery: 30 * time.Minute, Approvals: 1,
					WarnBefore: 5 * time.Minute, NoHalfWarning: true, Nudge: 10 * time.Minute,
					Authority: 20 * time.Minute, ReportUpAuto: true, Publishers: []workflow.Role{workflow.RoleSpokesperson}}
			},
		},
		{
			name:  "major authority deadline",
			src:   "policy:\n  major: {authority: 45m}\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Authority = 45 * time.Minute
				return lp
			},
		},
		{
			name:  "authority 0: not reported up",
			src:   "policy:\n  critical: {authority: 0}\n",
			level: workflow.LevelCritical,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Authority = 0
				return lp
			},
		},
		{
			name:  "report_up auto with an authority channel",
			src:   "channels:\n  authority: {slack: C0AUTH}\npolicy:\n  major: {report_up: auto}\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.ReportUpAuto = true
				return lp
			},
		},
		{
			name:  "report_up manual is the default",
			src:   "policy:\n  major: {report_up: manual}\n",
			level: workflow.LevelMajor,
			want:  func(lp workflow.LevelPolicy) workflow.LevelPolicy { return lp },
		},
		{
			name:  "publishers: the spokesperson alone",
			src:   "policy:\n  major: {publishers: [spokesperson]}\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Publishers = []workflow.Role{workflow.RoleSpokesperson}
				return lp
			},
		},
		{
			name:  "publishers: the spokesperson and a leader, block style",
			src:   "policy:\n  general:\n    publishers:\n      - spokesperson\n      - leader\n",
			level: workflow.LevelGeneral,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Publishers = []workflow.Role{workflow.RoleSpokesperson, workflow.RoleLeader}
				return lp
			},
		},
		{
			name:  "half_warning true is the default: the warning at half the time stays",
			src:   "policy:\n  general: {half_warning: true}\n",
			level: workflow.LevelGeneral,
			want:  func(lp workflow.LevelPolicy) workflow.LevelPolicy { return lp },
		},
		{
			name:  "half_warning false sets NoHalfWarning",
			src:   "policy:\n  major: {half_warning: false}\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.NoHalfWarning = true
				return lp
			},
		},
		{
			name:  "zero duration removes a deadline",
			src:   "policy:\n  major: {report: 0}\n",
			level: workflow.LevelMajor,
			want: func(lp workflow.LevelPolicy) workflow.LevelPolicy {
				lp.Report = 0
				return lp
			},
		},
		{
			name:  "an override of one level leaves another alone",
			src:   "policy:\n  general: {assign: 1h}\n",
			level: workflow.LevelMajor,
			want:  func(lp workflow.LevelPolicy) workflow.LevelPolicy { return lp },
		},
		{
			name:  "empty level entry keeps the defaults",
			src:   "policy:\n  major:\n",
			level: workflow.LevelMajor,
			want:  func(lp workflow.LevelPolicy) workflow.LevelPolicy { return lp },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, tt.src+"people:\n"+leaders)
			got, want := r.Policy.For(tt.level), tt.want(defaults[tt.level])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

// valid is a small roster that the bad inputs below break one line at a time.
const valid = `timezone: Asia/Shanghai
locale: en
people:
  - id: chen
    name: Chen Jing
    roles: [staff, leader]
    departments: [office]
    slack: U0CHEN
    telegram: 1001
  - id: wang
    roles: [leader, principal]
departments:
  - id: office
    name: Public Opinion Office
    categories: [other]
channels:
  incidents: {slack: C0INC, telegram: -100111}
policy:
  general: {assign: 2h}
digest:
  daily: "0 8 * * *"
`

func TestOfficeHours(t *testing.T) {
	r := mustParse(t, edit(22, "office_hours: {start: \"09:00\", end: \"18:00\", days: [mon, tue, wed, thu, fri, sat]}"))
	want := workflow.OfficeHours{Start: 9 * time.Hour, End: 18 * time.Hour,
		Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}}
	if !reflect.DeepEqual(r.OfficeHours, want) {
		t.Errorf("office hours: got %+v, want %+v", r.OfficeHours, want)
	}
	if got := mustParse(t, valid).OfficeHours; !got.IsZero() {
		t.Errorf("office hours when absent: got %+v, want none (the defaults apply)", got)
	}
}

// leaders are the people list items that give every default policy its
// quorum, and a major policy of three approvals too: three leaders, one of
// them principal, two of them with a Telegram account to receive reports
// and approval requests; and a spokesperson, who publishes.
const leaders = "  - {id: wang, roles: [leader, principal], telegram: 2001}\n  - {id: zhao, roles: [leader], telegram: 2002}\n" +
	"  - {id: qian, roles: [leader]}\n  - {id: sun, roles: [spokesperson]}\n"

func TestValidBase(t *testing.T) {
	r := mustParse(t, valid)
	if p, ok := r.Person("wang"); !ok || p.Name != "wang" {
		t.Errorf("wang: got %v, want a person named by the id", p)
	}
}

// edit returns valid with line n (1-based) replaced by repl (which may span
// several lines).
func edit(n int, repl string) string {
	lines := strings.Split(valid, "\n")
	lines[n-1] = repl
	return strings.Join(lines, "\n")
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int    // 0: no line, only the file name
		want string // part of the English message, usually the offending value
	}{
		{"unknown key in person", edit(6, "    rol: [staff]"), 6, `unknown key "rol" in person`},
		{"unknown top-level key", edit(2, "lang: en"), 2, `unknown key "lang"`},
		{"unknown key in department", edit(15, "    category: [other]"), 15, `unknown key "category" in department`},
		{"unknown channel", edit(17, "  alerts: {slack: C0INC}"), 17, `unknown channel "alerts"`},
		{"unknown key in channel", edit(17, "  incidents: {slack: C0INC, tg: 5}"), 17, `unknown key "tg" in channel`},
		{"unknown level", edit(19, "  minor: {assign: 2h}"), 19, `unknown level "minor"`},
		{"unknown policy key", edit(19, "  general: {asign: 2h}"), 19, `unknown key "asign" in policy`},
		{"unknown digest key", edit(21, "  monthly: \"0 8 1 * *\""), 21, `unknown key "monthly" in digest`},
		{"office hours not a time", edit(22, "office_hours: {start: \"8.30\", end: \"17:30\", days: [mon]}"), 22, `office_hours.start must be a time such as "08:30", not "8.30"`},
		{"office hours end before start", edit(22, "office_hours:\n  start: \"18:00\"\n  end: \"09:00\"\n  days: [mon]"), 24, `office_hours.end must be later than start`},
		{"office hours unknown day", edit(22, "office_hours:\n  start: \"08:30\"\n  end: \"17:30\"\n  days: [mon, fry]"), 25, `unknown day "fry" in office_hours.days`},
		{"office hours without days", edit(22, "office_hours: {start: \"08:30\", end: \"17:30\"}"), 22, `office_hours needs days`},
		{"office hours unknown key", edit(22, "office_hours: {open: \"08:30\"}"), 22, `unknown key "open" in office_hours`},
		{"duplicate key", edit(5, "    name: Chen Jing\n    name: Chen"), 6, `"name" is given twice`},
		{"unknown department of a person", edit(7, "    departments: [ofice]"), 7, `unknown department "ofice"`},
		{"unknown department on its own line", edit(7, "    departments:\n      - office\n      - press"), 9, `unknown department "press"`},
		{"unknown role", edit(6, "    roles: [staf]"), 6, `unknown role "staf"`},
		{"unknown role in a block list", edit(11, "    roles:\n      - leader\n      - boss"), 13, `unknown role "boss"`},
		{"no roles", edit(11, "    roles: []"), 11, `"wang" has no roles`},
		{"no roles key", edit(11, "    name: Wang"), 10, `"wang" has no roles`},
		{"unknown category", edit(15, "    categories: [rumour]"), 15, `unknown category "rumour"`},
		{"category routed twice", edit(15, "    categories: [other]\n  - id: press\n    categories: [other]"), 17, `category "other" is already routed to department "office"`},
		{"bad duration", edit(19, "  general: {assign: 1d}"), 19, `bad duration "1d" for assign`},
		{"duration without unit", edit(19, "  general:\n    answer: 24"), 20, `bad duration "24" for answer`},
		{"negative duration", edit(19, "  general: {assign: -1h}"), 19, `"-1h"`},
		{"approvals beyond the leaders", edit(19, "  major: {approvals: 5}"), 19, `policy major: approvals: 5, but the roster has 2 leader(s)`},
		{"a single leader for the default two approvals", edit(6, "    roles: [staff]"), 3, `policy major: approvals: 2, but the roster has 1 leader(s)`},
		{"no principal for the default policy", edit(11, "    roles: [leader]"), 3, `policy major: a principal leader must approve, but nobody has the role principal`},
		{"no principal for a principal key", strings.Replace(edit(11, "    roles: [leader]"), "  general: {assign: 2h}",
			"  general: {principal: true}\n  major: {principal: false}\n  critical: {principal: false}", 1), 19,
			`policy general: a principal leader must approve, but nobody has the role principal`},
		{"no principal under a level entry", strings.Replace(edit(11, "    roles: [leader]"), "  general: {assign: 2h}",
			"  critical: {principal: false}\n  major:\n    assign: 1h", 1), 20,
			`policy major: a principal leader must approve`},
		{"approvals not an integer", edit(19, "  general: {approvals: two}"), 19, `approvals must be an integer, not "two"`},
		{"approvals zero", edit(19, "  general: {approvals: 0}"), 19, `approvals must be between 1 and 100, not 0`},
		{"principal not a bool", edit(19, "  major: {principal: yes please}"), 19, `principal must be true or false, not "yes please"`},
		{"duplicate person id", edit(10, "  - id: chen"), 10, `person "chen" is defined twice (first on line 4)`},
		{"duplicate department id", edit(15, "    categories: [other]\n  - id: office"), 16, `department "office" is defined twice (first on line 13)`},
		{"person with the id of a department", edit(10, "  - id: office"), 10, `person "office" has the id of the department on line 13`},
		{"person without id", edit(10, "  - name: Wang"), 10, `person has no id`},
		{"person id with a colon", edit(10, "  - id: wang:fang"), 10, `"wang:fang" must not contain spaces or colons`},
		{"department without id", edit(13, "  - id:"), 13, `department has no id`},
		{"telegram not an integer", edit(9, "    telegram: \"@chen\""), 9, `telegram must be an integer, not "@chen"`},
		{"telegram a float", edit(9, "    telegram: 10.5"), 9, `must be an integer, not "10.5"`},
		{"telegram negative", edit(9, "    telegram: -1001"), 9, `user ID (a positive integer), not -1001`},
		{"duplicate telegram", edit(11, "    roles: [leader]\n    telegram: 1001"), 12, `telegram user 1001 belongs to both "chen" and "wang"`},
		{"duplicate slack", edit(11, "    roles: [leader]\n    slack: U0CHEN"), 12, `slack user U0CHEN belongs to both "chen" and "wang"`},
		{"channel telegram not an integer", edit(17, "  incidents: {telegram: incidents-chat}"), 17, `not "incidents-chat"`},
		{"channel telegram a person", edit(17, "  incidents: {telegram: 1001}"), 17, `telegram must be a group's chat ID (a negative integer), not 1001`},
		{"channel telegram zero", edit(17, "  incidents: {telegram: 0}"), 17, `telegram must be a group's chat ID (a negative integer), not 0`},
		{"slack a number", edit(8, "    slack: 12345"), 8, `slack must be a Slack user ID (U… or W…, capital letters and digits), not "12345"`},
		{"slack a channel", edit(8, "    slack: C0CHEN"), 8, `slack must be a Slack user ID (U… or W…`},
		{"slack a mapping", edit(8, "    slack: {id: U0CHEN}"), 8, `slack must be an ID, not a mapping`},
		{"channel slack a user", edit(17, "  incidents: {slack: U0CHEN}"), 17, `slack must be a Slack channel ID (C…, G… or D…`},
		{"name a list", edit(5, "    name: [Chen, Jing]"), 5, `name must be a text`},
		{"roles not a list", edit(6, "    roles: staff"), 6, `roles must be a list`},
		{"people a mapping", "people:\n  chen: {roles: [staff]}\n", 2, `people must be a list`},
		{"person a scalar", "people:\n  - chen\n", 2, `person must be a mapping`},
		{"digest not a string", edit(21, "  daily: [0, 8]"), 21, `daily must be a text`},
		{"unknown timezone", edit(1, "timezone: Asia/Beijing"), 1, `unknown timezone "Asia/Beijing"`},
		{"unknown locale", edit(2, "locale: fr"), 2, `locale must be en or zh-CN, not "fr"`},
		{"unknown key in spreading", edit(22, "spreading: {posts_growth: 50%, witin: 1h}"), 22, `unknown key "witin" in spreading (known: posts_growth, within, heat)`},
		{"posts growth over 1000%", edit(22, "spreading:\n  posts_growth: 1500%"), 23, `posts_growth must be at most 1000%, not "1500%"`},
		{"posts growth negative", edit(22, "spreading: {posts_growth: -20%}"), 22, `posts_growth must not be negative, not "-20%"`},
		{"posts growth zero", edit(22, "spreading: {posts_growth: 0%}"), 22, `posts_growth must be more than 0%`},
		{"posts growth without its percent sign", edit(22, "spreading: {posts_growth: 50}"), 22, `posts_growth must be a percentage such as 50%, not "50"`},
		{"posts growth not a number", edit(22, "spreading: {posts_growth: lots%}"), 22, `posts_growth must be a percentage such as 50%, not "lots%"`},
		{"within without posts growth", edit(22, "spreading:\n  within: 1h\n  heat: 80"), 23, `spreading: within is the time posts_growth is measured over`},
		{"within zero", edit(22, "spreading: {posts_growth: 50%, within: 0}"), 22, `spreading: within must be longer than 0`},
		{"within not a duration", edit(22, "spreading: {posts_growth: 50%, within: an hour}"), 22, `bad duration "an hour" for within`},
		{"heat not a number", edit(22, "spreading: {heat: abc}"), 22, `heat must be an integer, not "abc"`},
		{"heat negative", edit(22, "spreading: {heat: -5}"), 22, `spreading: heat must be at least 1, not -5`},
		{"heat no update can reach", edit(22, "spreading: {heat: 100001}"), 22, `spreading: heat must be at most 100000, the highest heat an update records (heat:N), not 100001`},
		{"spreading a list", edit(22, "spreading: [50%]"), 22, `spreading must be a mapping`},
		{"report_up neither auto nor manual", edit(19, "  major: {report_up: sometimes}"), 19, `report_up must be auto or manual, not "sometimes"`},
		{"report_up a bool", edit(19, "  major: {report_up: true}"), 19, `report_up must be auto or manual, not "true"`},
		{"report_up auto without an authority channel", edit(19, "  major: {report_up: auto}"), 19,
			`policy major: report_up: auto, but no authority channel is set, so the bot could report up to nobody`},
		{"report_up auto where nothing is reported up", strings.Replace(withChannels("  authority: {slack: C0AUTH}\n"), "{assign: 2h}", "{report_up: auto}", 1), 20,
			`policy general: report_up: auto, but the level has no authority deadline (authority: 0)`},
		{"authority not a duration", edit(19, "  major: {authority: soon}"), 19, `bad duration "soon" for authority`},
		{"publishers staff", edit(19, "  major: {publishers: [staff]}"), 19, `policy major: publishers may be spokesperson, leader or principal, not "staff"`},
		{"publishers empty", edit(19, "  major: {publishers: []}"), 19, `policy major: publishers needs at least one role`},
		{"publishers without a value", edit(19, "  major:\n    publishers:"), 20, `policy major: publishers needs at least one role`},
		{"publishers not a list", edit(19, "  major: {publishers: spokesperson}"), 19, `publishers must be a list`},
		{"publisher given twice", edit(19, "  major: {publishers: [leader, leader]}"), 19, `policy major: publisher "leader" is given twice`},
		{"publishers nobody holds", edit(19, "  major: {publishers: [spokesperson]}"), 19, `policy major: publishers: [spokesperson], but nobody has such a role`},
		{"organisation with an unknown key", edit(2, "locale: en\norganisation: {nme: x}"), 3, `unknown key "nme" in organisation (known: name)`},
		{"organisation without a name", edit(2, "locale: en\norganisation: {}"), 3, `organisation needs a name`},
		{"organisation a text", edit(2, "locale: en\norganisation: Riverside"), 3, `organisation must be a mapping`},
		{"organisation name a list", edit(2, "locale: en\norganisation: {name: [a, b]}"), 3, `organisation.name must be a text`},
		{"leaders nobody can receive", strings.Replace(valid, "    slack: U0CHEN\n    telegram: 1001\n", "", 1), 3,
			`nobody can receive reports and approval requests: no leaders channel is set and no leader has a slack or telegram account`},
		{"YAML syntax: unclosed list", edit(5, "    name: [Chen"), 5, `invalid YAML: did not find expected ',' or ']'`},
		// yaml.v3 names the line where the list being parsed starts.
		{"YAML syntax: bad indentation in a list", edit(11, "   roles: [leader]"), 4, `invalid YAML: did not find expected '-' indicator`},
		{"YAML syntax: bad indentation", edit(2, "locale: en\n lang: en"), 3, `invalid YAML: mapping values are not allowed`},
		{"YAML syntax: stray list item", edit(16, "- channels:"), 16, `invalid YAML: did not find expected key`},
		{"YAML syntax: colon in a value", edit(5, "    name: Chen: Jing"), 5, `invalid YAML: mapping values are not allowed`},
		{"YAML syntax: unknown anchor", edit(11, "    roles: *leaders"), 0, `invalid YAML: unknown anchor 'leaders'`},
		{"two documents", valid + "---\nlocale: en\n", 22, `second YAML document`},
		{"top level a list", "- chen\n", 1, `the roster must be a mapping`},
		{"empty file", "# nothing yet\n", 0, `empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.src), "roster.yaml", platforms...)
			if err == nil {
				t.Fatalf("got roster %v, want an error containing %q", r, tt.want)
			}
			if got := workflow.ErrorCode(err); got != workflow.CodeInvalid {
				t.Errorf("code: got %q, want %q", got, workflow.CodeInvalid)
			}
			prefix, prefixZH := "roster.yaml: ", "roster.yaml:"
			if tt.line > 0 {
				prefix, prefixZH = fmt.Sprintf("roster.yaml:%d: ", tt.line), fmt.Sprintf("roster.yaml 第 %d 行:", tt.line)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want %q…%q", msg, prefix, tt.want)
			}
			if text := workflow.ErrorText(err); text == nil || !strings.HasPrefix(text.ZH, prefixZH) {
				t.Errorf("Chinese message: got %v, want it to start with %q", text, prefixZH)
			}
		})
	}
}

// TestChineseMessage pins the wording of one Chinese message.
func TestChineseMessage(t *testing.T) {
	_, err := Parse([]byte(edit(6, "    rol: [staff]")), "roster.yaml", platforms...)
	text := workflow.ErrorText(err)
	if want := `roster.yaml 第 6 行:人员中的未知键 "rol"`; text == nil || !strings.HasPrefix(text.ZH, want) {
		t.Errorf("got %v, want %q…", text, want)
	}
}

func TestAliases(t *testing.T) {
	src := `departments:
  - id: office
    categories: &all [inquiry, hype, rumor, other]
people:
  - id: chen
    roles: &staff [staff]
    departments: [office]
  - id: li
    roles: *staff
    departments: [office]
` + leaders
	r := mustParse(t, src)
	if p, _ := r.Person("li"); p == nil || !p.Has(workflow.RoleStaff) {
		t.Errorf("li: got %v, want a staff member through the alias", p)
	}
	if d, _ := r.Department("office"); d == nil || len(d.Categories) != 4 || d.Name != "office" {
		t.Errorf("office: got %+v, want four categories and the id as name", d)
	}
}

func TestChineseCategories(t *testing.T) {
	r := mustParse(t, edit(15, "    categories: [置疑, 恶意传播, 谣言]"))
	d, _ := r.Department("office")
	want := []workflow.Category{workflow.CategoryInquiry, workflow.CategoryHype, workflow.CategoryRumor}
	if d == nil || !slices.Equal(d.Categories, want) {
		t.Errorf("office categories: got %+v, want %v", d, want)
	}
}

// withChannels returns valid with lines added under channels, after its
// incidents (line 17): the first added line is line 18.
func withChannels(lines string) string {
	return edit(17, "  incidents: {slack: C0INC, telegram: -100111}\n"+strings.TrimSuffix(lines, "\n"))
}

// TestRunning: on the platforms the bot runs on, each needs its incidents
// and statements channels and the leaders must be reachable; without
// running platforms, only the roster's own consistency counts.
func TestRunning(t *testing.T) {
	both := "  statements: {slack: C0ST, telegram: -100333}\n"
	tests := []struct {
		name    string
		src     string
		running []string
		line    int    // 0: the roster loads
		want    string // part of the English message
	}{
		{"not running anywhere: nothing more is asked", valid, nil, 0, ""},
		{"every platform with its channels", withChannels(both), []string{"slack", "telegram"}, 0, ""},
		{"one platform with its channels", withChannels("  statements: {telegram: -100333}\n"), []string{"telegram"}, 0, ""},
		{"a platform without a statements channel names the channels", valid, []string{"telegram"}, 16,
			`telegram is configured, but channels statements has no telegram address, so published unified replies would not reach telegram`},
		{"a statements channel elsewhere names its line", withChannels("  statements: {slack: C0ST}\n"), []string{"slack", "telegram"}, 18,
			`telegram is configured, but channels statements has no telegram address`},
		{"no channels at all", strings.Replace(valid, "channels:\n  incidents: {slack: C0INC, telegram: -100111}\n", "", 1), []string{"slack"}, 1,
			`slack is configured, but channels incidents and statements have no slack address`},
		{"the leaders channel on another platform only", withChannels(both + "  leaders: {telegram: -100222}\n"), []string{"slack"}, 19,
			`the leaders channel has no address on slack: reports and approval requests go to it alone`},
		{"the leaders channel on a running platform", withChannels(both + "  leaders: {telegram: -100222}\n"), []string{"slack", "telegram"}, 0, ""},
		{"leaders with accounts on another platform only", strings.Replace(withChannels(both), "    slack: U0CHEN\n", "", 1), []string{"slack"}, 3,
			`no leaders channel is set and no leader has a slack account`},
		{"report_up auto with the authority on another platform", strings.Replace(withChannels(both+"  authority: {telegram: -100444}\n"),
			"  general: {assign: 2h}", "  major: {report_up: auto}", 1), []string{"slack"}, 21,
			`policy major: report_up: auto, but the authority channel has no address on slack`},
		{"report_up auto with the authority where the bot runs", strings.Replace(withChannels(both+"  authority: {telegram: -100444}\n"),
			"  general: {assign: 2h}", "  major: {report_up: auto}", 1), []string{"telegram"}, 0, ""},
		{"no organisation while leaders may publish", withChannels(both), []string{"slack"}, 1,
			`organisation is missing, but a leader may publish general incidents' replies`},
		{"no organisation, only the spokesperson publishes", strings.NewReplacer(
			"    roles: [leader, principal]\n", "    roles: [leader, principal, spokesperson]\n    slack: U0WANG\n",
			"  general: {assign: 2h}", "  general: {assign: 2h, publishers: [spokesperson]}\n  major: {publishers: [spokesperson]}\n  critical: {publishers: [spokesperson]}",
		).Replace(withChannels(both)), []string{"slack"}, 0, ""},
		{"no organisation, not running anywhere", valid, nil, 0, ""},
		{"approvals more than the leaders with accounts where the bot runs", "keep wang " + withChannels(both), []string{"slack"}, 3,
			`policy major: approvals: 2, but only 1 leader(s) have a slack account`},
		{"the only principal on another platform", strings.NewReplacer(
			"    roles: [leader, principal]\n", "    roles: [leader, principal]\n    telegram: 1004\n",
			"  general: {assign: 2h}", "  general: {assign: 2h}\n  major: {approvals: 1}\n  critical: {approvals: 1}",
		).Replace("keep wang " + withChannels(both)), []string{"slack"}, 3,
			`policy major: a principal leader must approve, but no principal has a slack account`},
		{"nobody who may publish where the bot runs", strings.NewReplacer(
			"    roles: [leader, principal]\n", "    roles: [leader, principal]\n    slack: U0WANG\n  - id: sun\n    roles: [spokesperson]\n",
			"  general: {assign: 2h}", "  general: {assign: 2h, publishers: [spokesperson]}",
		).Replace("keep wang " + withChannels(both)), []string{"slack"}, 3,
			`policy general: nobody who may publish (spokesperson) has a slack account`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, keep := strings.CutPrefix(tt.src, "keep wang ")
			if !keep && tt.running != nil && tt.line == 0 {
				// The principal where the bot runs, so that drafts can be
				// approved (the cases about that keep wang as written).
				src = strings.Replace(src, "    roles: [leader, principal]\n", "    roles: [leader, principal]\n    slack: U0WANG\n    telegram: 1004\n", 1)
			}
			if !strings.HasPrefix(tt.name, "no organisation") {
				src += "organisation: {name: Riverside Office}\n" // the voice of the statements
			}
			r, err := ParseRunning([]byte(src), "roster.yaml", tt.running, platforms...)
			if tt.line == 0 {
				if err != nil {
					t.Fatalf("got %v, want the roster", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got roster %v, want an error containing %q", r, tt.want)
			}
			prefix, prefixZH := fmt.Sprintf("roster.yaml:%d: ", tt.line), fmt.Sprintf("roster.yaml 第 %d 行:", tt.line)
			if msg := err.Error(); !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want %q…%q", msg, prefix, tt.want)
			}
			if text := workflow.ErrorText(err); text == nil || !strings.HasPrefix(text.ZH, prefixZH) {
				t.Errorf("Chinese message: got %v, want it to start with %q", text, prefixZH)
			}
		})
	}
}

// intakeValid is an intake block that valid+intakeValid parses with; the
// cases of TestIntakeErrors break it one line at a time. It starts on line
// 22, the line after valid.
const intakeValid = `intake:
  triage: 45m
  rate: 120
  tokens:
    yuqing: "Qz8rVw2kXj5mTb7nLc4p"
    city.portal: "Hm3Yf9Wq6Ds1Kx0Ju8/+=="
  rules:
    - name: casualties
      any: [死亡, 身亡, 受伤, died, injured]
      all: []
      level: critical
      category: other
      department: office
      open: auto
    - name: food-safety
      any: [食堂, 食品安全, canteen]
      all: [学校]
      level: major
      category: 谣言
      open: manual
    - name: fees
      all: [收费, 120]
  feeds:
    - url: https://example.org/news.rss
      every: 10m
      source: example-news
    - url: http://feeds.example.com/atom.xml
      source: example.atom
`

// intakeTokens are the tokens of intakeValid, which no message may show.
var intakeTokens = []string{"Qz8rVw2kXj5mTb7nLc4p", "Hm3Yf9Wq6Ds1Kx0Ju8/+=="}

// intakeEdit returns valid+intakeValid with line n (1-based, counted from
// the start of valid) replaced by repl.
func intakeEdit(n int, repl string) string {
	lines := strings.Split(valid+intakeValid, "\n")
	lines[n-1] = repl
	return strings.Join(lines, "\n")
}

func TestIntake(t *testing.T) {
	want := workflow.IntakeConfig{
		Triage: 45 * time.Minute,
		Rate:   120,
		Tokens: map[string]string{"yuqing": "Qz8rVw2kXj5mTb7nLc4p", "city.portal": "Hm3Yf9Wq6Ds1Kx0Ju8/+=="},
		Rules: []workflow.IntakeRule{
			{Name: "casualties", Any: []string{"死亡", "身亡", "受伤", "died", "injured"}, Level: workflow.LevelCritical,
				Category: workflow.CategoryOther, Department: "office", Auto: true},
			{Name: "food-safety", Any: []string{"食堂", "食品安全", "canteen"}, All: []string{"学校"},
				Level: workflow.LevelMajor, Category: workflow.CategoryRumor},
			{Name: "fees", All: []string{"收费", "120"}},
		},
		Feeds: []workflow.Feed{
			{URL: "https://example.org/news.rss", Every: 10 * time.Minute, Source: "example-news"},
			{URL: "http://feeds.example.com/atom.xml", Source: "example.atom"},
		},
	}
	if got := mustParse(t, valid+intakeValid).Intake; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	tests := []struct {
		name string
		src  string
		want workflow.IntakeConfig
	}{
		{"absent: the defaults", valid, workflow.IntakeConfig{}},
		{"empty: the defaults", valid + "intake:\n", workflow.IntakeConfig{}},
		{"empty lists", valid + "intake: {tokens: {}, rules: [], feeds: []}\n", workflow.IntakeConfig{Tokens: map[string]string{}}},
		{"a token written as a number", valid + "intake:\n  tokens: {yuqing: 12345678901234567890}\n",
			workflow.IntakeConfig{Tokens: map[string]string{"yuqing": "12345678901234567890"}}},
		{"a rule in flow style with an alias", valid + "intake:\n  rules:\n    - {name: a, any: &w [谣言, rumor], category: rumor}\n    - {name: b, all: *w}\n",
			workflow.IntakeConfig{Rules: []workflow.IntakeRule{
				{Name: "a", Any: []string{"谣言", "rumor"}, Category: workflow.CategoryRumor},
				{Name: "b", All: []string{"谣言", "rumor"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustParse(t, tt.src).Intake; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	r := mustParse(t, valid+intakeValid)
	if got := r.Match("学校食堂饭菜发霉", ""); got.Rule != "food-safety" || got.Level != workflow.LevelMajor || got.Auto {
		t.Errorf("Match(学校食堂…): got %+v, want food-safety, major, manual", got)
	}
	if got := r.Intake.TriageTime(); got != 45*time.Minute {
		t.Errorf("TriageTime: got %s, want 45m", got)
	}
}

func TestIntakeErrors(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		line   int
		want   string // part of the English message
		secret string // a token that neither message may show, nor any three characters of it
	}{
		{"intake a list", valid + "intake: [rules]\n", 22, `intake must be a mapping`, ""},
		{"unknown key in intake", intakeEdit(23, "  triag: 45m"), 23, `unknown key "triag" in intake (known: triage, rate, tokens, rules, feeds)`, ""},
		{"triage without unit", intakeEdit(23, "  triage: 30"), 23, `bad duration "30" for triage`, ""},
		{"triage not a duration", intakeEdit(23, "  triage: half an hour"), 23, `bad duration "half an hour" for triage`, ""},
		{"triage negative", intakeEdit(23, "  triage: -5m"), 23, `triage must not be negative, not "-5m"`, ""},
		{"triage zero", intakeEdit(23, "  triage: 0"), 23, `intake: triage must be longer than 0, such as 30m (leave it out for the default 30m)`, ""},
		{"rate negative", intakeEdit(24, "  rate: -1"), 24, `intake: rate must be between 1 and 1000000 items a minute, not -1 (leave it out for the default 60)`, ""},
		{"rate zero", intakeEdit(24, "  rate: 0"), 24, `intake: rate must be between 1 and 1000000 items a minute, not 0`, ""},
		{"rate not a number", intakeEdit(24, "  rate: fast"), 24, `rate must be an integer, not "fast"`, ""},
		{"tokens not a mapping", valid + "intake:\n  tokens: \"Kq8Jw3Zr5Xv7Yt9Lp2\"\n", 23, `intake tokens must be a mapping of source: token`, "Kq8Jw3Zr5Xv7Yt9Lp2"},
		{"a token too short", intakeEdit(26, `    yuqing: "Qx7Zk9Wv"`), 26, `the intake token of yuqing is shorter than 16 characters`, "Qx7Zk9Wv"},
		{"a token of 15 characters", intakeEdit(26, `    yuqing: "Qx7Zk9Wv3Jm5Tn8"`), 26, `the intake token of yuqing is shorter than 16 characters`, "Qx7Zk9Wv3Jm5Tn8"},
		{"a token of 16 bytes but fewer characters", intakeEdit(26, `    yuqing: "密钥密钥密钥Qx7Zk"`), 26, `shorter than 16 characters`, "密钥密钥密钥Qx7Zk"},
		{"a token with spaces", intakeEdit(26, `    yuqing: "Qx7Zk9Wv 3Jm5Tn8Rb"`), 26, `the intake token of yuqing may hold only letters, digits and - . _ ~ + /`, "Qx7Zk9Wv 3Jm5Tn8Rb"},
		{"a token as an environment variable", intakeEdit(26, `    yuqing: "${Qz7_Wv3_Xk}"`), 26, `looks like an environment variable, but the roster file expands none`, "${Qz7_Wv3_Xk}"},
		{"a token without a value", intakeEdit(26, `    yuqing:`), 26, `each entry of intake tokens is source: token`, ""},
		{"a token a list", intakeEdit(26, `    yuqing: [Qx7Zk9Wv3Jm5Tn8Rb]`), 26, `each entry of intake tokens is source: token`, "Qx7Zk9Wv3Jm5Tn8Rb"},
		{"a token as the key", intakeEdit(26, `    Qx7Zk9Wv3Jm5Tn8Rb+/==:`), 26, `each entry of intake tokens is source: token`, "Qx7Zk9Wv3Jm5Tn8Rb+/=="},
		{"a source name with a space", intakeEdit(26, `    yu qing: "Qz8rVw2kXj5mTb7nLc4p"`), 26, `a source name in intake tokens may hold only 1 to 64 letters`, ""},
		{"a source given twice", intakeEdit(27, `    yuqing: "Hm3Yf9Wq6Ds1Kx0Ju8/+=="`), 27, `source "yuqing" is given twice in intake tokens (first on line 26)`, ""},
		{"rules a mapping", valid + "intake:\n  rules: {casualties: [死亡]}\n", 23, `rules must be a list`, ""},
		{"a rule a word", valid + "intake:\n  rules:\n    - casualties\n", 24, `intake rule must be a mapping`, ""},
		{"unknown key in a rule", intakeEdit(31, "      every: []"), 31, `unknown key "every" in intake rule (known: name, any, all, level, category, department, open)`, ""},
		{"a rule without a name", intakeEdit(29, `    - name: ""`), 29, `intake rule has no name`, ""},
		{"a rule defined twice", intakeEdit(36, "    - name: casualties"), 36, `intake rule "casualties" is defined twice (first on line 29)`, ""},
		{"a rule with empty words", intakeEdit(30, "      any: []"), 30, `intake rule "casualties" has no words: give any (one of them must appear) or all (every one must)`, ""},
		{"a rule without words", intakeEdit(43, "      level: major"), 42, `intake rule "fees" has no words`, ""},
		{"an empty word", intakeEdit(30, `      any: [死亡, ""]`), 30, `intake rule "casualties": an empty word in any`, ""},
		{"a null word", intakeEdit(38, "      all: [~]"), 38, `intake rule "food-safety": an empty word in all`, ""},
		{"a word a list", intakeEdit(30, "      any: [[死亡]]"), 30, `intake rule "casualties": a word in any must be a text`, ""},
		{"words not a list", intakeEdit(30, "      any: 死亡"), 30, `any must be a list such as [a, b], not "死亡"`, ""},
		{"unknown level", intakeEdit(32, "      level: severe"), 32, `intake rule "casualties": unknown level "severe" (general, major, critical)`, ""},
		{"unknown category", intakeEdit(33, "      category: gossip"), 33, `intake rule "casualties": unknown category "gossip" (inquiry, hype, rumor, other)`, ""},
		{"unknown department", intakeEdit(34, "      department: press"), 34, `intake rule "casualties": unknown department "press"`, ""},
		{"open neither auto nor manual", intakeEdit(35, "      open: yes"), 35, `intake rule "casualties": open must be auto or manual, not "yes"`, ""},
		{"open a bool", intakeEdit(41, "      open: true"), 41, `intake rule "food-safety": open must be auto or manual, not "true"`, ""},
		{"feeds a mapping", valid + "intake:\n  feeds: {url: https://example.org/news.rss}\n", 23, `feeds must be a list`, ""},
		{"a feed a bare url", valid + "intake:\n  feeds:\n    - https://example.org/news.rss?key=Qx7Zk9Wv3Jm5\n", 24, `an intake feed is a mapping`, "Qx7Zk9Wv3Jm5"},
		{"unknown key in a feed", intakeEdit(46, "      evry: 10m"), 46, `unknown key "evry" in intake feed (known: url, every, source)`, ""},
		{"a feed without url", intakeEdit(48, "    - every: 5m"), 48, `intake feed has no url`, ""},
		{"a feed url not http", intakeEdit(45, "    - url: ftp://example.org/news.rss"), 45, `intake feed: url must be an http(s) address`, ""},
		{"a feed url without host, not quoted", intakeEdit(45, "    - url: https:///news.rss?key=Qx7Zk9Wv3Jm5"), 45, `intake feed: url must be an http(s) address`, "Qx7Zk9Wv3Jm5"},
		{"a feed given twice", intakeEdit(48, "    - url: https://EXAMPLE.org/news.rss/"), 48, `intake feed: the same url is given twice (first on line 45)`, ""},
		{"a feed every not a duration", intakeEdit(46, "      every: 5 minutes"), 46, `bad duration "5 minutes" for every`, ""},
		{"a feed every under a minute", intakeEdit(46, "      every: 30s"), 46, `intake feed: every must be at least 1m, not "30s" (leave it out for the default 5m)`, ""},
		{"a feed every zero", intakeEdit(46, "      every: 0"), 46, `intake feed: every must be at least 1m, not "0"`, ""},
		{"a feed every negative", intakeEdit(46, "      every: -5m"), 46, `every must not be negative`, ""},
		{"a feed without source", intakeEdit(49, "      every: 5m"), 48, `intake feed has no source`, ""},
		{"a feed source with a space", intakeEdit(47, "      source: example news"), 47, `intake feed: source "example news" may hold only 1 to 64 letters`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse([]byte(tt.src), "roster.yaml", platforms...)
			if err == nil {
				t.Fatalf("got roster %v, want an error containing %q", r, tt.want)
			}
			if got := workflow.ErrorCode(err); got != workflow.CodeInvalid {
				t.Errorf("code: got %q, want %q", got, workflow.CodeInvalid)
			}
			prefix, prefixZH := fmt.Sprintf("roster.yaml:%d: ", tt.line), fmt.Sprintf("roster.yaml 第 %d 行:", tt.line)
			msg := err.Error()
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, tt.want) {
				t.Errorf("got %q, want %q…%q", msg, prefix, tt.want)
			}
			text := workflow.ErrorText(err)
			if text == nil || !strings.HasPrefix(text.ZH, prefixZH) {
				t.Fatalf("Chinese message: got %v, want it to start with %q", text, prefixZH)
			}
			for _, secret := range append([]string{tt.secret}, intakeTokens...) {
				if leak := leaked(secret, msg, text.EN, text.ZH); leak != "" {
					t.Errorf("the messages show %q of the token %q: %q / %q", leak, secret, text.EN, text.ZH)
				}
			}
		})
	}
}

// leaked returns the first piece of three characters of secret found in
// one of msgs, or "".
func leaked(secret string, msgs ...string) string {
	rs := []rune(secret)
	for i := 0; i+3 <= len(rs); i++ {
		piece := string(rs[i : i+3])
		for _, m := range msgs {
			if strings.Contains(m, piece) {
				return piece
			}
		}
	}
	return ""
}

// TestDemoIntake: the demo roster suggests grades for the playground's
// sample alerts, and has no tokens nor feeds (it talks to no network).
func TestDemoIntake(t *testing.T) {
	r := Demo(platforms...)
	if len(r.Intake.Tokens) != 0 || len(r.Intake.Feeds) != 0 {
		t.Errorf("tokens and feeds: got %v and %v, want none", r.Intake.Tokens, r.Intake.Feeds)
	}
	tests := []struct {
		title      string
		rule       string
		level      workflow.Level
		category   workflow.Category
		department string
		auto       bool
	}{
		{"网传某校学生在校内坠楼身亡", "casualties", workflow.LevelCritical, workflow.CategoryOther, "office", true},
		{"Two pupils injured as school wall collapses", "casualties", workflow.LevelCritical, workflow.CategoryOther, "office", true},
		{"家长反映学校食堂饭菜发霉", "school-safety", workflow.LevelMajor, workflow.CategoryOther, "logistics", false},
		{"Parents say the canteen served spoiled food", "school-safety", workflow.LevelMajor, workflow.CategoryOther, "logistics", false},
		{"有人造谣称学校将合并", "rumor", workflow.LevelGeneral, workflow.CategoryRumor, "office", false},
		{"A rumor that the school will close", "rumor", workflow.LevelGeneral, workflow.CategoryRumor, "office", false},
		{"Students studied late for the exam", "", workflow.LevelGeneral, workflow.CategoryOther, "office", false},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			got := r.Match(tt.title, "")
			if got.Rule != tt.rule || got.Level != tt.level || got.Category != tt.category || got.Department != tt.department || got.Auto != tt.auto {
				t.Errorf("got %+v, want rule %q, %s, %s, %s, auto %v", got, tt.rule, tt.level, tt.category, tt.department, tt.auto)
			}
		})
	}
}

// TestExampleIntake: the example roster's intake block loads as shipped,
// with its rules and without tokens or feeds; uncommented, its placeholder
// token is refused at its line; with a real token, tokens and feed load.
func TestExampleIntake(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "roster.example.yaml")
	r, err := Load(path, platforms...)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if len(r.Intake.Rules) == 0 || !r.Intake.Rules[0].Auto || r.Intake.Rules[0].Level != workflow.LevelCritical {
		t.Errorf("rules: got %+v, want the casualties rule first, critical and opened at once", r.Intake.Rules)
	}
	if len(r.Intake.Tokens) != 0 || len(r.Intake.Feeds) != 0 {
		t.Errorf("tokens and feeds: got %v and %v, want them commented out", r.Intake.Tokens, r.Intake.Feeds)
	}
	data := string(mustReadFile(t, path))
	start := strings.Index(data, "\nintake:\n")
	if start < 0 {
		t.Fatal("no intake block in the example roster")
	}
	start++
	end := len(data)
	for i := start + len("intake:\n"); i < len(data); {
		next := strings.IndexByte(data[i:], '\n')
		if next < 0 {
			break
		}
		if line := data[i : i+next]; line != "" && line[0] != ' ' && line[0] != '#' {
			end = i
			break
		}
		i += next + 1
	}
	uncommented := data[:start] + strings.ReplaceAll(data[start:end], "\n  # ", "\n  ") + data[end:]
	placeholder := strings.Count(data[:strings.Index(data, `"CHANGE-ME"`)], "\n") + 1
	_, err = Parse([]byte(uncommented), "roster.yaml", platforms...)
	if want := fmt.Sprintf("roster.yaml:%d: the intake token of yuqing is shorter than 16 characters", placeholder); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("with the placeholder token: got %v, want %q…", err, want)
	}
	const token = "5f0c8e1a9b7d3f2e6a4c0b8d7e1f3a5c9b2d4e6f"
	r, err = Parse([]byte(strings.ReplaceAll(uncommented, "CHANGE-ME", token)), "roster.yaml", platforms...)
	if err != nil {
		t.Fatalf("uncommented, with a token: %v", err)
	}
	if got := r.Intake.Tokens; len(got) != 1 || got["yuqing"] != token {
		t.Errorf("tokens: got %v, want yuqing's", got)
	}
	if got := r.Intake.Feeds; len(got) != 1 || got[0].Source == "" || got[0].Interval() != 5*time.Minute {
		t.Errorf("feeds: got %+v, want one, polled every 5m", got)
	}
}

func mustReadFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
