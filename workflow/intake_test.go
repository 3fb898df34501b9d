package workflow

import (
	"slices"
	"testing"
)

func TestNormalizeURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"https://weibo.com/123", "https://weibo.com/123"},
		{"HTTPS://WWW.Weibo.COM/123/", "https://weibo.com/123"},
		{"https://weibo.com:443/123?utm_source=wx&utm_medium=share", "https://weibo.com/123"},
		{"http://weibo.com:80/123#comments", "https://weibo.com/123"},
		{"http://Example.com/status/5012/?b=2&a=1&utm_medium=x&fbclid=1", "https://example.com/status/5012?a=1&b=2"},
		{"https://weibo.com:8443/123", "https://weibo.com:8443/123"},
		{"https://tieba.baidu.com/p/9?b=2&a=1&fbclid=x&spm=1.2", "https://tieba.baidu.com/p/9?a=1&b=2"},
		{"https://example.org/", "https://example.org"},
		{"weibo.com/123", ""},
		{"ftp://example.org/x", ""},
		{"", ""},
	} {
		if got := NormalizeURL(tt.in); got != tt.want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := Fingerprint("食堂饭菜里吃出虫子,家长要求说法", "")
	b := Fingerprint("食堂饭菜里吃出虫子 家长要求说法!", "")
	if a == "" || a != b {
		t.Errorf("the same words with other punctuation: %q and %q, want one non-empty fingerprint", a, b)
	}
	if c := Fingerprint("食堂饭菜里吃出虫子,家长不要说法", ""); c == a {
		t.Errorf("other words gave the same fingerprint %q", c)
	}
	if short := Fingerprint("视频", ""); short != "" {
		t.Errorf("a two-letter text was fingerprinted: %q", short)
	}
}

func TestRuleMatch(t *testing.T) {
	r, err := NewRoster(Roster{
		Departments: []Department{{ID: "office", Name: "Office", Categories: []Category{CategoryOther}},
			{ID: "logistics", Name: "Logistics", Categories: []Category{CategoryInquiry}}},
		People: []Person{{ID: "wang", Name: "Wang", Roles: []Role{RoleLeader, RolePrincipal}}, {ID: "zhao", Name: "Zhao", Roles: []Role{RoleLeader}}},
		Intake: IntakeConfig{Rules: []IntakeRule{
			{Name: "casualties", Any: []string{"死亡", "受伤", "died", "injured"}, Level: LevelCritical, Auto: true},
			{Name: "canteen", All: []string{"食堂"}, Any: []string{"虫子", "变质"}, Level: LevelMajor, Category: CategoryInquiry},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		title, excerpt string
		rule           string
		words          []string
		level          Level
		dept           string
	}{
		{"Two students injured in a fall", "", "casualties", []string{"injured"}, LevelCritical, "office"},
		{"宿舍楼一名学生受伤", "", "casualties", []string{"受伤"}, LevelCritical, "office"},
		{"Studied all night", "", "", nil, LevelGeneral, "office"}, // "died" is not a word of "studied"
		{"食堂饭菜里有虫子", "", "canteen", []string{"食堂", "虫子"}, LevelMajor, "logistics"},
		{"食堂今天加菜", "", "", nil, LevelGeneral, "office"}, // all without any
		{"有虫子", "在食堂", "canteen", []string{"食堂", "虫子"}, LevelMajor, "logistics"},
	} {
		s := r.Match(tt.title, tt.excerpt)
		if s.Rule != tt.rule || !slices.Equal(s.Words, tt.words) || s.Level != tt.level || s.Department != tt.dept {
			t.Errorf("Match(%q, %q) = %+v, want rule %q words %q level %s department %s", tt.title, tt.excerpt, s, tt.rule, tt.words, tt.level, tt.dept)
		}
	}
	if s := r.Match("A student died", ""); !s.Auto {
		t.Errorf("the casualties rule did not say open: auto: %+v", s)
	}
}

// TestRuleMatchWhitespace: a phrase of a rule is found however the post
// spaced or wrapped it, in the title and in the excerpt, and words keep
// matching whole (Latin) or anywhere (Chinese).
func TestRuleMatchWhitespace(t *testing.T) {
	r, err := NewRoster(Roster{
		Departments: []Department{{ID: "office", Name: "Office", Categories: []Category{CategoryOther}}},
		People:      []Person{{ID: "wang", Name: "Wang", Roles: []Role{RoleLeader, RolePrincipal}}, {ID: "zhao", Name: "Zhao", Roles: []Role{RoleLeader}}},
		Intake: IntakeConfig{Rules: []IntakeRule{
			{Name: "casualties", Any: []string{"死亡", "injured", "was killed", "学生 坠楼"}, Level: LevelCritical, Auto: true},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name           string
		title, excerpt string
		words          []string // nil: no match
	}{
		{"one space", "Man was killed near the gate", "", []string{"was killed"}},
		{"two spaces", "Man was  killed near the gate", "", []string{"was killed"}},
		{"a zero-width space inside a word", "学生死\u200b亡", "", []string{"死亡"}},
		{"a soft hyphen and a joiner", "was kil\u00adled\u200d", "", []string{"was killed"}},
		{"line break", "Student was\nkilled at the gate", "", []string{"was killed"}},
		{"crlf and tab", "Student was\r\n\tkilled", "", []string{"was killed"}},
		{"full-width space", "Student was\u3000killed", "", []string{"was killed"}},
		{"no-break space", "Student was\u00a0killed", "", []string{"was killed"}},
		{"upper case", "MAN WAS \n KILLED", "", []string{"was killed"}},
		{"in the excerpt", "Incident at the gate", "A man was\n\nkilled.", []string{"was killed"}},
		{"chinese phrase", "一名学生\u3000坠楼", "", []string{"学生 坠楼"}},
		{"chinese phrase with line break", "通报", "一名学生\n坠楼", []string{"学生 坠楼"}},
		{"chinese inside text", "学生死亡事件", "", []string{"死亡"}},
		{"no phrase across title and excerpt", "Man was", "killed at the gate", nil},
		{"no whole word", "He was killedtoday", "", nil},
		{"no whole word before", "Swas killed", "", nil},
		{"uninjured", "Driver uninjured", "", nil},
		{"phrase needs its space", "wask illed", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := r.Match(tt.title, tt.excerpt)
			if tt.words == nil {
				if s.Rule != "" {
					t.Errorf("Match(%q, %q): got rule %q words %q, want no rule", tt.title, tt.excerpt, s.Rule, s.Words)
				}
				return
			}
			if s.Rule != "casualties" || !slices.Equal(s.Words, tt.words) || !s.Auto {
				t.Errorf("Match(%q, %q): got %+v, want rule casualties words %q, auto", tt.title, tt.excerpt, s, tt.words)
			}
		})
	}
}

// TestRuleWordWhitespace: the words of a roster rule are looked for as
// spaced by any white space too ("was  killed" in the roster).
func TestRuleWordWhitespace(t *testing.T) {
	r, err := NewRoster(Roster{
		Departments: []Department{{ID: "office", Name: "Office", Categories: []Category{CategoryOther}}},
		People:      []Person{{ID: "wang", Name: "Wang", Roles: []Role{RoleLeader, RolePrincipal}}, {ID: "zhao", Name: "Zhao", Roles: []Role{RoleLeader}}},
		Intake:      IntakeConfig{Rules: []IntakeRule{{Name: "k", All: []string{"was  killed", "Gate\t"}, Level: LevelCritical}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Match("Man was killed", "at the gate"); s.Rule != "k" || !slices.Equal(s.Words, []string{"was  killed", "Gate\t"}) {
		t.Errorf("got %+v, want rule k with the rule's words as written", s)
	}
}
