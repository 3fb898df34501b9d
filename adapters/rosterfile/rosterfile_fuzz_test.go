package rosterfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/adapters/rosterfile"
	"github.com/firebreak/firebreak/workflow"
)

// fuzzPlatforms read IDs the way the chat adapters do, without importing
// them: a word of capitals and digits, and a number written back in its
// canonical form (so "+1001" is filed as "1001").
var fuzzPlatforms = []workflow.Platform{
	{Name: "slack", ParseAccount: fuzzWord(`^[UW][A-Z0-9]+$`), ParseAddress: fuzzWord(`^[CGD][A-Z0-9]+$`)},
	{Name: "telegram", ParseAccount: fuzzNumber(false), ParseAddress: fuzzNumber(true)},
}

func fuzzWord(pattern string) func(string) (string, error) {
	re := regexp.MustCompile(pattern)
	return func(s string) (string, error) {
		if !re.MatchString(s) {
			return "", errors.New("must match " + pattern)
		}
		return s, nil
	}
}

func fuzzNumber(negative bool) func(string) (string, error) {
	return func(s string) (string, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n == 0 || n < 0 && !negative {
			return "", errors.New("must be a number")
		}
		return strconv.FormatInt(n, 10), nil
	}
}

// fuzzRosters are roster files as administrators write them: every section,
// flow and block style, anchors, comments, Chinese names, and mistakes.
var fuzzRosters = []string{
	`timezone: Asia/Shanghai
locale: en
organisation: {name: Riverside District Education Bureau}
people:
  - {id: chen, name: Chen Jing, roles: [staff], departments: [office], slack: U0CHEN, telegram: 1001}
  - {id: li, name: Li Ming, roles: [staff], departments: [logistics], slack: U0LI}
  - {id: wang, name: Wang Fang, roles: [leader, principal], slack: U0WANG, telegram: 1004}
  - {id: zhao, name: Zhao Lei, roles: [leader], slack: U0ZHAO}
  - {id: sun, name: Sun Yue, roles: [spokesperson], telegram: "1006"}
departments:
  - {id: office, name: Public Opinion Office, categories: [other, hype, rumor]}
  - {id: logistics, name: Logistics Department, categories: [inquiry]}
channels:
  incidents:  {slack: C0INCIDENTS, telegram: -100111}
  leaders:    {telegram: -100222}
  statements: {slack: C0STATEMENTS}
  authority:  {telegram: -100333, slack: C0AUTHORITY}
policy:
  general: {publishers: [spokesperson, leader]}
  critical: {authority: 20m, report_up: auto, publishers: [spokesperson]}
spreading: {posts_growth: 50%, within: 1h, heat: 80}
digest:
  daily: "0 8 * * *"
  weekly: "0 9 * * MON"
`,
	`timezone: Asia/Shanghai
locale: zh-CN
people:
  - id: chen
    name: 陈静
    roles: [staff]
    departments: [office]
  - id: wang
    name: 王芳
    roles:
      - leader
      - principal
departments:
  - id: office
    name: 舆情办
    categories: [other]
policy:
  general: {assign: 2h, respond: 4h}
  major:
    approvals: 2
    update_every: 90m
    half_warning: false
  critical: {report: 10m, assign: 20m, respond: 2h, answer: 48h, update_every: 30m, approvals: 1, principal: false, warn_before: 15m, nudge: 1h}
office_hours: {start: "08:30", end: "17:30", days: [mon, tue, wed, thu, fri]}
`,
	`defaults: &staff
  roles: [staff]
people:
  - <<: *staff
    id: chen
  - id: zhao
    roles: &leaders [leader]
  - id: qian
    roles: *leaders
`,
	"people:\n  - id: chen\n    rol: [staff]\n",
	"people:\n  - id: chen\n    roles: [staff]\n  - id: chen\n    roles: [leader]\n",
	"people:\n  - id: chen li\n    roles: [staff]\n",
	"departments:\n  - {id: a, categories: [other]}\n  - {id: b, categories: [other]}\n",
	"channels:\n  incidents: {slack: not-an-id}\n",
	"timezone: Mars/Olympus\n",
	"office_hours: {start: \"18:00\", end: \"09:00\", days: [mon]}\n",
	"office_hours: {start: \"00:00\", end: \"24:00\", days: [mon, mon]}\n",
	"policy:\n  general: {assign: -1h, approvals: 0}\n",
	"locale: fr\n",
	"spreading: {posts_growth: 1500%, witin: 1h}\n",
	"spreading: {posts_growth: 50, heat: -1}\n",
	"organisation: {nme: x}\n",
	"policy:\n  major: {report_up: sometimes, publishers: [staff]}\n",
	"---\n---\n",
	"",
	"# only a comment\n",
	"[1, 2, 3]\n",
	"people: {id: chen}\n",
	"people:\n  - id: chen\n    roles: [staff]\n\tname: tab\n",
	"a: &a [*a]\n",
	"people:\n  - !!binary aGVsbG8=\n",
	`departments:
  - {id: office, categories: [other]}
people:
  - {id: wang, roles: [leader, principal]}
  - {id: zhao, roles: [leader]}
intake:
  triage: 45m
  rate: 120
  tokens: {yuqing: "Qz8rVw2kXj5mTb7nLc4p", city.portal: 12345678901234567890}
  rules:
    - {name: casualties, any: [死亡, 受伤, injured], level: critical, department: office, open: auto}
    - name: fees
      all: [学校, 收费]
      category: 置疑
  feeds:
    - {url: https://example.org/news.rss, every: 10m, source: example-news}
`,
	"intake:\n  tokens: {yuqing: short, \"yu qing\": \"${TOKEN}\"}\n",
	"intake:\n  rules:\n    - {name: a}\n    - {name: a, any: [\"\"], level: severe, open: yes}\n",
	"intake:\n  triage: 0\n  rate: -1\n  feeds:\n    - {url: ftp://x, every: 30s}\n    - {source: a b}\n",
}

// FuzzParse feeds any bytes to the roster loader. A file either loads or is
// refused with an invalid-roster error naming the file, never both; a
// roster that loads validates again with workflow.NewRoster, finds every
// person by ID and by each platform account, holds only IDs its platforms
// accept, and routes each category to a department that lists it.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzRosters {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "roster.example.yaml")); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile("demo.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := rosterfile.Parse(data, "roster.yaml", fuzzPlatforms...)
		if err != nil {
			if r != nil {
				t.Fatalf("Parse: got a roster and the error %v, want one or the other", err)
			}
			if code := workflow.ErrorCode(err); code != workflow.CodeInvalid {
				t.Fatalf("Parse: error code %s (%v), want %s", code, err, workflow.CodeInvalid)
			}
			text := workflow.ErrorText(err)
			if text == nil || !strings.HasPrefix(text.EN, "roster.yaml") || !strings.HasPrefix(text.ZH, "roster.yaml") {
				t.Fatalf("Parse: error %v, want a message in both languages starting with the file name", err)
			}
			return
		}
		if r == nil {
			t.Fatal("Parse: no roster and no error")
		}
		again, err := workflow.NewRoster(*r)
		if err != nil {
			t.Fatalf("a roster that loaded does not validate again: %v", err)
		}
		if again.Location() == nil || r.Location() == nil || again.Location().String() != r.Location().String() {
			t.Fatalf("timezone: got %v, validated again %v", r.Location(), again.Location())
		}
		for i := range r.People {
			p := &r.People[i]
			if got, ok := r.Person(p.ID); !ok || got.ID != p.ID {
				t.Fatalf("Person(%q): got %v, %v; want the person", p.ID, got, ok)
			}
			if len(p.Roles) == 0 {
				t.Fatalf("person %q has no roles", p.ID)
			}
			for platform, id := range p.Accounts {
				if got, ok := r.ByAccount(platform, id); !ok || got.ID != p.ID {
					t.Fatalf("ByAccount(%s, %q): got %v, %v; want %q", platform, id, got, ok, p.ID)
				}
				if canon, err := fuzzPlatform(t, platform).ParseAccount(id); err != nil || canon != id {
					t.Fatalf("person %q: %s account %q, which the platform reads as %q, %v", p.ID, platform, id, canon, err)
				}
			}
		}
		for name, ref := range r.Channels {
			for platform, addr := range ref {
				if addr == "" {
					continue
				}
				if canon, err := fuzzPlatform(t, platform).ParseAddress(addr); err != nil || canon != addr {
					t.Fatalf("channel %s: %s address %q, which the platform reads as %q, %v", name, platform, addr, canon, err)
				}
			}
		}
		for _, c := range workflow.Categories {
			// The first department listing c, else the first listing other.
			var want *workflow.Department
			for _, fallback := range []workflow.Category{c, workflow.CategoryOther} {
				for i := range r.Departments {
					if want == nil && slices.Contains(r.Departments[i].Categories, fallback) {
						want = &r.Departments[i]
					}
				}
			}
			d, ok := r.DepartmentFor(c)
			if ok != (want != nil) || ok && d.ID != want.ID {
				t.Fatalf("DepartmentFor(%s) = %v, %v; want the first listing it, else the first listing other: %v", c, d, ok, want)
			}
		}
	})
}

func fuzzPlatform(t *testing.T, name string) workflow.Platform {
	t.Helper()
	for _, p := range fuzzPlatforms {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("platform %q is not one the file was read with", name)
	return workflow.Platform{}
}
