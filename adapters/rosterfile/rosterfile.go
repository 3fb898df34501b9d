// Package rosterfile reads the roster file (FIREBREAK_ROSTER, DESIGN.md §4)
// into a workflow.Roster. Every mistake in the file — an unknown key, a value
// of the wrong type, a reference to a department, role, category, level or
// channel that does not exist, a duplicate ID — is reported with the line it
// is on, so the person editing the file can go straight to it. So is a
// roster that could never work: approvals the leaders cannot give, leaders
// or an authority nobody can reach, publishers nobody is, a platform the bot
// runs on without its channels. No message shows an intake token, nor any
// part of one.
//
// The file is walked as a yaml.Node tree rather than decoded into structs:
// only the tree knows the line of every key and value.
package rosterfile

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak/firebreak/workflow"
)

//go:embed demo.yaml
var demoYAML []byte

// Demo returns the built-in demo roster, used when FIREBREAK_ROSTER is unset,
// with the accounts and channels of the platforms given; those of other
// platforms are left out (a demo without Slack needs no Slack IDs). Each call
// returns a fresh copy.
func Demo(platforms ...workflow.Platform) *workflow.Roster {
	p := newParser("demo.yaml", platforms)
	p.othersLeftOut = true
	r, err := p.parse(demoYAML)
	if err != nil {
		// The file is embedded and guarded by a test: this is a build defect.
		panic("rosterfile: the built-in demo roster is broken: " + err.Error())
	}
	return r
}

// Load reads and parses the roster file at path; see Parse. Errors are
// *workflow.Error with CodeInvalid whose messages start with "path:line:".
func Load(path string, platforms ...workflow.Platform) (*workflow.Roster, error) {
	return LoadRunning(path, nil, platforms...)
}

// LoadRunning is Load for a bot that runs on the platforms named running;
// see ParseRunning.
func LoadRunning(path string, running []string, platforms ...workflow.Platform) (*workflow.Roster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &workflow.Error{Code: workflow.CodeInvalid, Err: err, Msg: workflow.Text{
			EN: fmt.Sprintf("cannot read the roster file %s", path),
			ZH: fmt.Sprintf("无法读取名册文件 %s", path),
		}}
	}
	return ParseRunning(data, path, running, platforms...)
}

// Parse parses a roster file; name is used in error messages ("roster.yaml:12:
// unknown key \"rol\" in person"). The keys of the platforms given are
// accepted under a person and a channel ("slack: U0CHEN"), their values read
// and checked by the platform's ParseAccount and ParseAddress; any other key
// is an error. Policy entries override only the keys they give, starting
// from workflow.DefaultPolicy for that level. With platforms given, the
// leaders must be reachable on one of them (a leaders channel, else a
// leader's account), and so must the authority channel of a level that
// reports up by itself (report_up: auto). Errors are *workflow.Error with
// CodeInvalid.
func Parse(data []byte, name string, platforms ...workflow.Platform) (*workflow.Roster, error) {
	return newParser(name, platforms).parse(data)
}

// ParseRunning is Parse for a bot that runs on the platforms named running
// (the configured ones, each among platforms): each of them needs the
// channels of workflow.PlatformChannels, and the leaders and the authority
// must be reachable on one of them, not merely on some platform the file
// knows. With running empty it is Parse.
func ParseRunning(data []byte, name string, running []string, platforms ...workflow.Platform) (*workflow.Roster, error) {
	p := newParser(name, platforms)
	p.running = running
	return p.parse(data)
}

func (p *parser) parse(data []byte) (*workflow.Roster, error) {
	doc, err := p.document(data)
	if err != nil {
		return nil, err
	}
	r, err := p.roster(doc)
	if err != nil {
		return nil, err
	}
	out, err := workflow.NewRoster(r)
	if err != nil {
		// Every check of NewRoster is made above with a line number; this is
		// a safety net for checks added to workflow later.
		var we *workflow.Error
		if errors.As(err, &we) {
			return nil, &workflow.Error{Code: workflow.CodeInvalid, Err: we.Err, Msg: workflow.Text{
				EN: p.name + ": " + we.Msg.EN,
				ZH: p.name + ":" + we.Msg.ZH,
			}}
		}
		return nil, workflow.Errorf(workflow.CodeInvalid, "%s: %v", "%s:%v", p.name, err)
	}
	return out, nil
}

// parser walks one roster file and builds the errors that name its lines.
type parser struct {
	name      string
	platforms []workflow.Platform
	// othersLeftOut: keys of a person or channel that are no known key nor
	// a platform's are skipped rather than refused (the demo roster only).
	othersLeftOut bool
	person        section // personSection with the platforms' keys
	channel       section // channelSection with the platforms' keys
	// running names the platforms the bot runs on (ParseRunning); nil:
	// not known, and only the roster's own consistency is checked.
	running []string
}

// reach names the platforms on which an audience must be reachable: those
// the bot runs on when known, else every platform the file was read with.
func (p *parser) reach() []string {
	if len(p.running) > 0 {
		return p.running
	}
	var names []string
	for _, pl := range p.platforms {
		names = append(names, pl.Name)
	}
	return names
}

// newParser returns a parser of the file name that takes the keys of
// platforms.
func newParser(name string, platforms []workflow.Platform) *parser {
	p := &parser{name: name, platforms: platforms, person: personSection, channel: channelSection}
	p.person.keys = slices.Clone(personSection.keys)
	for _, pl := range platforms {
		p.person.keys = append(p.person.keys, pl.Name)
		p.channel.keys = append(p.channel.keys, pl.Name)
	}
	return p
}

// section describes a mapping of the file: what it is called in messages,
// what its keys are called and which keys it accepts.
type section struct {
	en, zh       string // "person" / "人员"
	keyEN, keyZH string // "key" / "键"
	keys         []string
	// platforms: the section also takes the platforms' keys (a person's
	// accounts, a channel's addresses).
	platforms bool
}

var (
	topSection = section{en: "the roster", zh: "名册", keyEN: "key", keyZH: "键",
		keys: []string{"timezone", "locale", "organisation", "people", "departments", "channels", "policy",
			"spreading", "digest", "office_hours", "intake"}}
	organisationSection = section{en: "organisation", zh: "单位", keyEN: "key", keyZH: "键",
		keys: []string{"name"}}
	personSection = section{en: "person", zh: "人员", keyEN: "key", keyZH: "键",
		keys: []string{"id", "name", "roles", "departments"}, platforms: true}
	departmentSection = section{en: "department", zh: "部门", keyEN: "key", keyZH: "键",
		keys: []string{"id", "name", "categories"}}
	channelsSection = section{en: "channels", zh: "channels ", keyEN: "channel", keyZH: "频道",
		keys: workflow.ChannelNames}
	channelSection = section{en: "channel", zh: "频道", keyEN: "key", keyZH: "键", platforms: true}
	policySection  = section{en: "policy", zh: "处置策略", keyEN: "level", keyZH: "级别",
		keys: levelNames()}
	levelSection = section{en: "policy", zh: "处置策略", keyEN: "key", keyZH: "键",
		keys: []string{"report", "assign", "respond", "answer", "update_every", "approvals", "principal",
			"warn_before", "half_warning", "nudge", "authority", "report_up", "publishers"}}
	spreadingSection = section{en: "spreading", zh: "扩散判定", keyEN: "key", keyZH: "键",
		keys: []string{"posts_growth", "within", "heat"}}
	digestSection = section{en: "digest", zh: "定时汇总", keyEN: "key", keyZH: "键",
		keys: []string{"daily", "weekly"}}
	officeSection = section{en: "office_hours", zh: "办公时间", keyEN: "key", keyZH: "键",
		keys: []string{"start", "end", "days"}}
	intakeSection = section{en: "intake", zh: "intake ", keyEN: "key", keyZH: "键",
		keys: []string{"triage", "rate", "tokens", "rules", "feeds"}}
	ruleSection = section{en: "intake rule", zh: "intake 规则", keyEN: "key", keyZH: "键",
		keys: []string{"name", "any", "all", "level", "category", "department", "open"}}
	feedSection = section{en: "intake feed", zh: "intake 订阅源", keyEN: "key", keyZH: "键",
		keys: []string{"url", "every", "source"}}
)

func levelNames() []string {
	var out []string
	for _, l := range workflow.Levels {
		out = append(out, string(l))
	}
	return out
}

// fail returns an invalid-roster error located at n's line. en and zh are
// the finished messages.
func (p *parser) fail(n *yaml.Node, en, zh string) error {
	return workflow.Errorf(workflow.CodeInvalid, "%[1]s:%[2]d: %[3]s", "%[1]s 第 %[2]d 行:%[4]s", p.name, n.Line, en, zh)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parserProblems are the messages of yaml.v3's parser (parserc.go), whose line
// numbers are one short; its scanner's messages carry the right line.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// document decodes the single YAML document of the file.
func (p *parser) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, workflow.Errorf(workflow.CodeInvalid, "%s: the roster file is empty", "%s:名册文件为空", p.name)
		}
		return nil, p.syntax(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, p.syntax(err)
	default:
		return nil, p.fail(&extra, "a second YAML document (---); the roster is one document",
			"出现第二个 YAML 文档(---);名册只能有一个文档")
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

// syntax turns a YAML syntax error into an invalid-roster error with its line.
func (p *parser) syntax(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		if parserProblems[m[2]] {
			// yaml.v3 counts the lines of parser (not scanner) errors from 0.
			line++
		}
		return p.fail(&yaml.Node{Line: line}, "invalid YAML: "+m[2], "YAML 格式错误:"+m[2])
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return workflow.Errorf(workflow.CodeInvalid, "%s: invalid YAML: %s", "%s:YAML 格式错误:%s", p.name, msg)
}

// entry is one key of a mapping and its value.
type entry struct {
	key, val *yaml.Node
}

// given reports whether the key is present with a non-null value.
func (e entry) given() bool { return e.val != nil && !isNull(e.val) }

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) (en, zh string) {
	switch n = deref(n); n.Kind {
	case yaml.MappingNode:
		return "a mapping", "映射"
	case yaml.SequenceNode:
		return "a list", "列表"
	}
	return strconv.Quote(n.Value), " " + strconv.Quote(n.Value)
}

// mapping checks that n is a mapping (or null: empty) whose keys all belong
// to s, each given once, and returns its entries by key.
func (p *parser) mapping(n *yaml.Node, s section) (map[string]entry, error) {
	out := map[string]entry{}
	if isNull(n) {
		return out, nil
	}
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		en, zh := describe(n)
		return nil, p.fail(n, fmt.Sprintf("%s must be a mapping of key: value, not %s", s.en, en),
			fmt.Sprintf("%s必须是“键: 值”的映射,而不是%s", s.zh, zh))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			en, zh := describe(k)
			return nil, p.fail(k, fmt.Sprintf("a %s in %s must be a word, not %s", s.keyEN, s.en, en),
				fmt.Sprintf("%s中的%s必须是单词,而不是%s", s.zh, s.keyZH, zh))
		}
		if !slices.Contains(s.keys, k.Value) {
			if p.othersLeftOut && s.platforms {
				continue
			}
			return nil, p.fail(k,
				fmt.Sprintf("unknown %s %q in %s (known: %s)", s.keyEN, k.Value, s.en, strings.Join(s.keys, ", ")),
				fmt.Sprintf("%s中的未知%s %q(可用:%s)", s.zh, s.keyZH, k.Value, strings.Join(s.keys, "、")))
		}
		if prev, dup := out[k.Value]; dup {
			return nil, p.fail(k,
				fmt.Sprintf("%s %q is given twice in %s (first on line %d)", s.keyEN, k.Value, s.en, prev.key.Line),
				fmt.Sprintf("%s中的%s %q 重复出现(首次在第 %d 行)", s.zh, s.keyZH, k.Value, prev.key.Line))
		}
		out[k.Value] = entry{key: k, val: n.Content[i+1]}
	}
	return out, nil
}

// list checks that e's value is a list (or absent: empty) and returns its items.
func (p *parser) list(e entry) ([]*yaml.Node, error) {
	if !e.given() {
		return nil, nil
	}
	n := deref(e.val)
	if n.Kind != yaml.SequenceNode {
		en, zh := describe(n)
		return nil, p.fail(n, fmt.Sprintf("%s must be a list such as [a, b], not %s", e.key.Value, en),
			fmt.Sprintf("%s 必须是 [a, b] 这样的列表,而不是%s", e.key.Value, zh))
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		items[i] = deref(it)
	}
	return items, nil
}

// text returns a string scalar; label names it in messages.
func (p *parser) text(n *yaml.Node, label string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	n = deref(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		en, zh := describe(n)
		return "", p.fail(n, fmt.Sprintf("%s must be a text (quote it if needed), not %s", label, en),
			fmt.Sprintf("%s 必须是文本(必要时加引号),而不是%s", label, zh))
	}
	return strings.TrimSpace(n.Value), nil
}

// integer returns an integer scalar.
func (p *parser) integer(n *yaml.Node, label string) (int64, error) {
	n = deref(n)
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		en, zh := describe(n)
		return 0, p.fail(n, fmt.Sprintf("%s must be an integer, not %s", label, en),
			fmt.Sprintf("%s 必须是整数,而不是%s", label, zh))
	}
	return v, nil
}

// boolean returns a true/false scalar.
func (p *parser) boolean(n *yaml.Node, label string) (bool, error) {
	n = deref(n)
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		en, zh := describe(n)
		return false, p.fail(n, fmt.Sprintf("%s must be true or false, not %s", label, en),
			fmt.Sprintf("%s 必须是 true 或 false,而不是%s", label, zh))
	}
	return v, nil
}

// duration returns a Go duration such as 30m, 2h or 24h; 0 is allowed and
// means the plan sets no such deadline.
func (p *parser) duration(n *yaml.Node, label string) (time.Duration, error) {
	n = deref(n)
	bad := func() error {
		en, zh := describe(n)
		return p.fail(n, fmt.Sprintf("bad duration %s for %s (write it like 30m, 2h or 24h)", en, label),
			fmt.Sprintf("%s 的时长%s 无效(请写成 30m、2h、24h 这样的形式)", label, zh))
	}
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!str" && n.ShortTag() != "!!int") {
		return 0, bad()
	}
	d, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return 0, bad()
	}
	if d < 0 {
		return 0, p.fail(n, fmt.Sprintf("%s must not be negative, not %q", label, n.Value),
			fmt.Sprintf("%s 不能为负数,而不是 %q", label, n.Value))
	}
	return d, nil
}

// roster builds the roster from the document's root, checking every value
// and reference in it.
func (p *parser) roster(root *yaml.Node) (workflow.Roster, error) {
	var r workflow.Roster
	top, err := p.mapping(root, topSection)
	if err != nil {
		return r, err
	}
	if e := top["timezone"]; e.given() {
		if r.Timezone, err = p.text(e.val, "timezone"); err != nil {
			return r, err
		}
		if _, err := time.LoadLocation(r.Timezone); err != nil || r.Timezone == "" {
			return r, p.fail(e.val, fmt.Sprintf("unknown timezone %q (an IANA name such as Asia/Shanghai)", r.Timezone),
				fmt.Sprintf("未知时区 %q(请用 Asia/Shanghai 这样的 IANA 名称)", r.Timezone))
		}
	}
	if e := top["locale"]; e.given() {
		if r.Locale, err = p.text(e.val, "locale"); err != nil {
			return r, err
		}
		if r.Locale != workflow.LocaleEN && r.Locale != workflow.LocaleZH {
			return r, p.fail(e.val, fmt.Sprintf("locale must be en or zh-CN, not %q", r.Locale),
				fmt.Sprintf("locale 必须是 en 或 zh-CN,而不是 %q", r.Locale))
		}
	}
	if r.Organisation, err = p.organisation(top["organisation"]); err != nil {
		return r, err
	}
	deptLines := map[string]int{}
	if r.Departments, err = p.departments(top["departments"], deptLines); err != nil {
		return r, err
	}
	if r.People, err = p.people(top["people"], deptLines); err != nil {
		return r, err
	}
	if r.Channels, err = p.channels(top["channels"]); err != nil {
		return r, err
	}
	if r.Policy, err = p.policy(top["policy"], r); err != nil {
		return r, err
	}
	if err := p.quorum(root, top, r); err != nil {
		return r, err
	}
	if err := p.platformChannels(root, top, r); err != nil {
		return r, err
	}
	if err := p.leadersReach(root, top, r); err != nil {
		return r, err
	}
	if err := p.voiceNeeded(root, r); err != nil {
		return r, err
	}
	if err := p.actorsReach(root, top, r); err != nil {
		return r, err
	}
	if r.Spreading, err = p.spreading(top["spreading"]); err != nil {
		return r, err
	}
	if r.Digest, err = p.digest(top["digest"]); err != nil {
		return r, err
	}
	if r.OfficeHours, err = p.officeHours(top["office_hours"]); err != nil {
		return r, err
	}
	if r.Intake, err = p.intake(top["intake"], deptLines); err != nil {
		return r, err
	}
	return r, nil
}

// departments reads the departments and records the line of each ID.
func (p *parser) departments(e entry, lines map[string]int) ([]workflow.Department, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	owner := map[workflow.Category]string{} // category → department routed to
	var out []workflow.Department
	for _, it := range items {
		m, err := p.mapping(it, departmentSection)
		if err != nil {
			return nil, err
		}
		var d workflow.Department
		if d.ID, err = p.text(m["id"].val, "id"); err != nil {
			return nil, err
		}
		if d.ID == "" {
			return nil, p.fail(it, "department has no id", "部门缺少 id")
		}
		idNode := m["id"].val
		if first, dup := lines[d.ID]; dup {
			return nil, p.fail(idNode, fmt.Sprintf("department %q is defined twice (first on line %d)", d.ID, first),
				fmt.Sprintf("部门 %q 重复定义(首次在第 %d 行)", d.ID, first))
		}
		lines[d.ID] = idNode.Line
		if d.Name, err = p.text(m["name"].val, "name"); err != nil {
			return nil, err
		}
		if d.Name == "" {
			d.Name = d.ID
		}
		cats, err := p.list(m["categories"])
		if err != nil {
			return nil, err
		}
		for _, c := range cats {
			s, err := p.text(c, "a category")
			if err != nil {
				return nil, err
			}
			cat := workflow.ParseCategory(s)
			if !cat.Valid() {
				return nil, p.fail(c, fmt.Sprintf("unknown category %q (inquiry, hype, rumor, other)", s),
					fmt.Sprintf("未知类别 %q(inquiry、hype、rumor、other)", s))
			}
			if other, taken := owner[cat]; taken {
				// Routing takes the first department listing a category, so
				// a second listing would silently never apply.
				return nil, p.fail(c, fmt.Sprintf("category %q is already routed to department %q", s, other),
					fmt.Sprintf("类别 %q 已分派给部门 %q", s, other))
			}
			owner[cat] = d.ID
			d.Categories = append(d.Categories, cat)
		}
		out = append(out, d)
	}
	return out, nil
}

// people reads the people; depts holds the department IDs with their lines.
func (p *parser) people(e entry, depts map[string]int) ([]workflow.Person, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	owners := map[string]map[string]string{} // platform → account → person
	var out []workflow.Person
	for _, it := range items {
		m, err := p.mapping(it, p.person)
		if err != nil {
			return nil, err
		}
		var person workflow.Person
		idNode := m["id"].val
		if person.ID, err = p.text(idNode, "id"); err != nil {
			return nil, err
		}
		switch first, dup := ids[person.ID]; {
		case person.ID == "":
			return nil, p.fail(it, "person has no id", "人员缺少 id")
		case strings.ContainsAny(person.ID, " \t:"):
			return nil, p.fail(idNode, fmt.Sprintf("person id %q must not contain spaces or colons", person.ID),
				fmt.Sprintf("人员 id %q 不能包含空格或冒号", person.ID))
		case dup:
			return nil, p.fail(idNode, fmt.Sprintf("person %q is defined twice (first on line %d)", person.ID, first),
				fmt.Sprintf("人员 %q 重复定义(首次在第 %d 行)", person.ID, first))
		}
		if line, clash := depts[person.ID]; clash {
			return nil, p.fail(idNode, fmt.Sprintf("person %q has the id of the department on line %d", person.ID, line),
				fmt.Sprintf("人员 %q 与第 %d 行的部门同名", person.ID, line))
		}
		ids[person.ID] = idNode.Line
		if person.Name, err = p.text(m["name"].val, "name"); err != nil {
			return nil, err
		}
		roles, err := p.list(m["roles"])
		if err != nil {
			return nil, err
		}
		if len(roles) == 0 {
			at := it
			if m["roles"].val != nil {
				at = m["roles"].val
			}
			return nil, p.fail(at, fmt.Sprintf("person %q has no roles (staff, leader, principal, spokesperson)", person.ID),
				fmt.Sprintf("人员 %q 没有角色(staff、leader、principal、spokesperson)", person.ID))
		}
		for _, rn := range roles {
			s, err := p.text(rn, "a role")
			if err != nil {
				return nil, err
			}
			role := workflow.Role(s)
			if !role.Valid() {
				return nil, p.fail(rn, fmt.Sprintf("person %q: unknown role %q (staff, leader, principal, spokesperson)", person.ID, s),
					fmt.Sprintf("人员 %q:未知角色 %q(staff、leader、principal、spokesperson)", person.ID, s))
			}
			person.Roles = append(person.Roles, role)
		}
		deps, err := p.list(m["departments"])
		if err != nil {
			return nil, err
		}
		for _, dn := range deps {
			s, err := p.text(dn, "a department")
			if err != nil {
				return nil, err
			}
			if _, ok := depts[s]; !ok {
				return nil, p.fail(dn, fmt.Sprintf("person %q: unknown department %q", person.ID, s),
					fmt.Sprintf("人员 %q:未知部门 %q", person.ID, s))
			}
			person.Departments = append(person.Departments, s)
		}
		for _, pl := range p.platforms {
			e := m[pl.Name]
			if !e.given() {
				continue
			}
			account, err := p.platformID(e.val, pl.Name, pl.ParseAccount)
			if err != nil {
				return nil, err
			}
			if owners[pl.Name] == nil {
				owners[pl.Name] = map[string]string{}
			}
			if other, dup := owners[pl.Name][account]; dup {
				return nil, p.fail(e.val, fmt.Sprintf("%s user %s belongs to both %q and %q", pl.Name, account, other, person.ID),
					fmt.Sprintf("%s 用户 %s 同时属于 %q 和 %q", pl.Name, account, other, person.ID))
			}
			owners[pl.Name][account] = person.ID
			if person.Accounts == nil {
				person.Accounts = map[string]string{}
			}
			person.Accounts[pl.Name] = account
		}
		out = append(out, person)
	}
	return out, nil
}

// channels reads the named channels.
func (p *parser) channels(e entry) (map[string]workflow.ChannelRef, error) {
	named, err := p.mapping(e.val, channelsSection)
	if err != nil {
		return nil, err
	}
	out := map[string]workflow.ChannelRef{}
	for _, name := range channelsSection.keys {
		ce, ok := named[name]
		if !ok {
			continue
		}
		m, err := p.mapping(ce.val, p.channel)
		if err != nil {
			return nil, err
		}
		c := workflow.ChannelRef{}
		for _, pl := range p.platforms {
			e := m[pl.Name]
			if !e.given() {
				continue
			}
			if c[pl.Name], err = p.platformID(e.val, pl.Name, pl.ParseAddress); err != nil {
				return nil, err
			}
		}
		out[name] = c
	}
	return out, nil
}

// platformID reads the ID of a platform (key) with the platform's parse:
// any scalar (an ID may look like a number), its error located at n.
func (p *parser) platformID(n *yaml.Node, key string, parse func(string) (string, error)) (string, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		en, zh := describe(n)
		return "", p.fail(n, fmt.Sprintf("%s must be an ID, not %s", key, en), fmt.Sprintf("%s 必须是 ID,而不是%s", key, zh))
	}
	id, err := parse(strings.TrimSpace(n.Value))
	if err != nil {
		if t := workflow.ErrorText(err); t != nil {
			return "", p.fail(n, key+" "+t.EN, key+" "+t.ZH)
		}
		return "", p.fail(n, key+" "+err.Error(), key+" "+err.Error())
	}
	return id, nil
}

// organisation reads organisation: {name: …}, the unit statements are
// published over. Absent: none; given, it needs its name.
func (p *parser) organisation(e entry) (workflow.Organisation, error) {
	var o workflow.Organisation
	if !e.given() {
		return o, nil
	}
	m, err := p.mapping(e.val, organisationSection)
	if err != nil {
		return o, err
	}
	if o.Name, err = p.text(m["name"].val, "organisation.name"); err != nil {
		return o, err
	}
	if o.Name == "" {
		return o, p.fail(e.key, "organisation needs a name, such as {name: Riverside District Education Bureau}: statements are published over it",
			"organisation 需要 name,例如 {name: 某某区教育局}:统一口径以此名义发布")
	}
	return o, nil
}

// policy reads the per-level overrides; each level starts from its default.
// r holds the people and channels read so far, which the publishers and
// report_up keys must be able to count on.
func (p *parser) policy(e entry, r workflow.Roster) (workflow.Policy, error) {
	levels, err := p.mapping(e.val, policySection)
	if err != nil {
		return nil, err
	}
	out := workflow.Policy{}
	for _, l := range workflow.Levels {
		le, ok := levels[string(l)]
		if !ok {
			continue
		}
		m, err := p.mapping(le.val, levelSection)
		if err != nil {
			return nil, err
		}
		lp := workflow.DefaultPolicy()[l]
		durations := []struct {
			key string
			to  *time.Duration
		}{
			{"report", &lp.Report}, {"assign", &lp.Assign}, {"respond", &lp.Respond},
			{"answer", &lp.Answer}, {"update_every", &lp.UpdateEvery},
			{"warn_before", &lp.WarnBefore}, {"nudge", &lp.Nudge}, {"authority", &lp.Authority},
		}
		for _, d := range durations {
			if v := m[d.key]; v.given() {
				if *d.to, err = p.duration(v.val, d.key); err != nil {
					return nil, err
				}
			}
		}
		if m["respond"].given() {
			// An explicit reply deadline replaces "same day for inquiries".
			lp.RespondSameDay = false
		}
		if v := m["approvals"]; v.given() {
			n, err := p.integer(v.val, "approvals")
			if err != nil {
				return nil, err
			}
			if n < 1 || n > 100 {
				return nil, p.fail(v.val, fmt.Sprintf("approvals must be between 1 and 100, not %d", n),
					fmt.Sprintf("approvals 必须在 1 到 100 之间,而不是 %d", n))
			}
			lp.Approvals = int(n)
		}
		if v := m["principal"]; v.given() {
			if lp.Principal, err = p.boolean(v.val, "principal"); err != nil {
				return nil, err
			}
		}
		if v := m["half_warning"]; v.given() {
			half, err := p.boolean(v.val, "half_warning")
			if err != nil {
				return nil, err
			}
			lp.NoHalfWarning = !half
		}
		if v := m["publishers"]; v.key != nil {
			if lp.Publishers, err = p.publishers(l, v, r.People); err != nil {
				return nil, err
			}
		}
		if v := m["report_up"]; v.given() {
			if lp.ReportUpAuto, err = p.reportUp(l, v.val, lp, r.Channels[workflow.ChannelAuthority]); err != nil {
				return nil, err
			}
		}
		out[l] = lp
	}
	return out, nil
}

// publishers reads a level's publishers: [spokesperson] or [spokesperson,
// leader]. Somebody in people must hold one of the roles, or no reply of
// the level could ever be published.
func (p *parser) publishers(l workflow.Level, e entry, people []workflow.Person) ([]workflow.Role, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		at := e.key
		if e.val != nil {
			at = e.val
		}
		return nil, p.fail(at, fmt.Sprintf("policy %s: publishers needs at least one role, such as [spokesperson] or [spokesperson, leader]", l),
			fmt.Sprintf("处置策略 %s:publishers 至少需要一个角色,例如 [spokesperson] 或 [spokesperson, leader]", l))
	}
	var roles []workflow.Role
	for _, it := range items {
		s, err := p.text(it, "a publisher")
		if err != nil {
			return nil, err
		}
		role := workflow.Role(s)
		if !slices.Contains(workflow.PublisherRoles, role) {
			return nil, p.fail(it, fmt.Sprintf("policy %s: publishers may be spokesperson, leader or principal, not %q", l, s),
				fmt.Sprintf("处置策略 %s:publishers 只能是 spokesperson、leader 或 principal,而不是 %q", l, s))
		}
		if slices.Contains(roles, role) {
			return nil, p.fail(it, fmt.Sprintf("policy %s: publisher %q is given twice", l, s),
				fmt.Sprintf("处置策略 %s:publishers 中的 %q 重复出现", l, s))
		}
		roles = append(roles, role)
	}
	for i := range people {
		for _, role := range roles {
			if people[i].Has(role) {
				return roles, nil
			}
		}
	}
	names := make([]string, len(roles))
	for i, role := range roles {
		names[i] = string(role)
	}
	return nil, p.fail(e.val, fmt.Sprintf("policy %s: publishers: [%s], but nobody has such a role, so no reply could be published; give someone the role or name another",
		l, strings.Join(names, ", ")),
		fmt.Sprintf("处置策略 %s:publishers: [%s],但名册中无人具有这些角色,统一口径将无法发布;请为人员加上该角色,或改用其他角色",
			l, strings.Join(names, ", ")))
}

// reportUp reads a level's report_up: auto (the bot reports up itself, to
// the authority channel) or manual (a person does, with report-up). Auto
// needs an authority deadline at the level and an authority channel on a
// platform the bot speaks on: without them nothing would be reported.
func (p *parser) reportUp(l workflow.Level, n *yaml.Node, lp workflow.LevelPolicy, authority workflow.ChannelRef) (bool, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || (n.Value != "auto" && n.Value != "manual") {
		en, zh := describe(n)
		return false, p.fail(n, fmt.Sprintf("report_up must be auto or manual, not %s", en),
			fmt.Sprintf("report_up 必须是 auto 或 manual,而不是%s", zh))
	}
	if n.Value == "manual" {
		return false, nil
	}
	if lp.Authority == 0 {
		return false, p.fail(n, fmt.Sprintf("policy %s: report_up: auto, but the level has no authority deadline (authority: 0), so nothing is reported up; set authority or write report_up: manual", l),
			fmt.Sprintf("处置策略 %s:report_up: auto,但该级别没有上报时限(authority: 0),不会上报;请设置 authority,或改为 report_up: manual", l))
	}
	if !p.reachable(authority) {
		en, zh := "no authority channel is set", "未设置 authority 频道"
		if !authority.IsZero() {
			en = fmt.Sprintf("the authority channel has no address on %s", strings.Join(p.reach(), " or "))
			zh = fmt.Sprintf("authority 频道在 %s 上没有地址", strings.Join(p.reach(), "、"))
		}
		return false, p.fail(n, fmt.Sprintf("policy %s: report_up: auto, but %s, so the bot could report up to nobody; set channels.authority or write report_up: manual", l, en),
			fmt.Sprintf("处置策略 %s:report_up: auto,但%s,机器人无处上报;请设置 channels.authority,或改为 report_up: manual", l, zh))
	}
	return true, nil
}

// reachable reports whether channel c has an address on a platform of
// reach (with no platforms known, on any).
func (p *parser) reachable(c workflow.ChannelRef) bool {
	reach := p.reach()
	if len(reach) == 0 {
		return !c.IsZero()
	}
	for _, pl := range reach {
		if _, ok := c.Address(pl); ok {
			return true
		}
	}
	return false
}

// channelPurpose says what goes into a channel, for messages about a
// missing one.
var channelPurpose = map[string]workflow.Text{
	workflow.ChannelIncidents:  {EN: "incident cards, reminders and escalations", ZH: "事件卡片、提醒和升级通知"},
	workflow.ChannelStatements: {EN: "published unified replies", ZH: "已发布的统一口径"},
}

// channelAt returns the line to name for the channel called name: its key
// under channels, else the channels key, else the root.
func (p *parser) channelAt(root *yaml.Node, top map[string]entry, name string) *yaml.Node {
	e := top["channels"]
	if e.key == nil {
		return root
	}
	if named, err := p.mapping(e.val, channelsSection); err == nil {
		if c := named[name]; c.key != nil {
			return c.key
		}
	}
	return e.key
}

// platformChannels refuses a platform the bot runs on that lacks one of
// workflow.PlatformChannels: its people would see no card, reminder or
// published reply there (workflow.Roster.MissingChannels decides).
func (p *parser) platformChannels(root *yaml.Node, top map[string]entry, r workflow.Roster) error {
	for _, pl := range p.running {
		missing := r.MissingChannels(pl)
		if len(missing) == 0 {
			continue
		}
		var what, whatZH []string
		for _, c := range missing {
			what = append(what, channelPurpose[c].EN)
			whatZH = append(whatZH, channelPurpose[c].ZH)
		}
		verb, lost := "has", what[0]+" would not reach"
		if len(missing) > 1 {
			last := len(what) - 1
			verb, lost = "have", "neither "+strings.Join(what[:last], ", ")+" nor "+what[last]+" would reach"
		}
		return p.fail(p.channelAt(root, top, missing[0]),
			fmt.Sprintf("%[1]s is configured, but channels %[2]s %[3]s no %[1]s address, so %[4]s %[1]s; add a %[1]s ID to %[2]s, or do not configure %[1]s",
				pl, strings.Join(missing, " and "), verb, lost),
			fmt.Sprintf("已配置 %[1]s,但频道 %[2]s 没有 %[1]s 地址,%[3]s不会发到 %[1]s;请为 %[2]s 加上 %[1]s ID,或不配置 %[1]s",
				pl, strings.Join(missing, "、"), strings.Join(whatZH, "以及")))
	}
	return nil
}

// voiceNeeded refuses, on a platform the bot speaks on, a roster without
// organisation when anyone but the spokesperson may publish: the plans
// publish in the name of the unit or of the spokesperson (以单位或网络新闻
// 发言人的名义), and a leader's statement would go out in nobody's name (a
// report up too). With no platforms given, as in a trial, it is not
// checked.
func (p *parser) voiceNeeded(root *yaml.Node, r workflow.Roster) error {
	if len(p.running) == 0 || r.Organisation.Name != "" {
		return nil
	}
	for _, l := range workflow.Levels {
		for _, role := range r.Policy.For(l).PublisherRoles() {
			if role == workflow.RoleSpokesperson {
				continue
			}
			line := root
			if len(root.Content) > 0 {
				line = root.Content[0]
			}
			return p.fail(line,
				fmt.Sprintf("organisation is missing, but a %s may publish %s incidents' replies: statements go out in the unit's name, and this one would have none; add organisation: {name: …}, or let only the spokesperson publish (policy: {%s: {publishers: [spokesperson]}})",
					role, l, l),
				fmt.Sprintf("缺少 organisation,但%s级事件的统一口径可由 %s 发布:口径须以单位名义发布,此处没有单位名称;请加上 organisation: {name: …},或只允许新闻发言人发布(policy: {%s: {publishers: [spokesperson]}})",
					l.Text().ZH, role, l))
		}
	}
	return nil
}

// leadersReach refuses leaders nobody can reach. Reports and approval
// requests go to the leaders channel when one is set, else to each leader
// directly (workflow's notifier decides), so the channel, or else some
// leader's account, must be on a platform the bot speaks on. With no
// platforms given nothing has an address, and nothing is checked.
func (p *parser) leadersReach(root *yaml.Node, top map[string]entry, r workflow.Roster) error {
	reach := p.reach()
	if len(reach) == 0 {
		return nil
	}
	on, onZH := strings.Join(reach, " or "), strings.Join(reach, "、")
	if c := r.Channels[workflow.ChannelLeaders]; !c.IsZero() {
		if p.reachable(c) {
			return nil
		}
		return p.fail(p.channelAt(root, top, workflow.ChannelLeaders),
			fmt.Sprintf("the leaders channel has no address on %s: reports and approval requests go to it alone, and nobody would receive them; add one", on),
			fmt.Sprintf("leaders 频道在 %s 上没有地址:报告和审批请求只发到该频道,将无人收到;请加上地址", onZH))
	}
	for i := range r.People {
		if !r.People[i].Has(workflow.RoleLeader) {
			continue
		}
		for _, pl := range reach {
			if _, ok := r.People[i].Account(pl); ok {
				return nil
			}
		}
	}
	at := root
	if e := top["people"]; e.key != nil {
		at = e.key
	}
	return p.fail(at,
		fmt.Sprintf("nobody can receive reports and approval requests: no leaders channel is set and no leader has a %s account; set channels.leaders or give the leaders their IDs", on),
		fmt.Sprintf("无人能收到报告和审批请求:未设置 leaders 频道,也没有领导有 %s 账号;请设置 channels.leaders,或为领导填写账号 ID", onZH))
}

// actorsReach refuses, on the platforms the bot speaks on, a roster whose
// approvals or publication nobody there could give: as many leaders with
// an account on one of them as a level's approvals, a principal among them
// when the level needs one, and someone who may publish. A leader or
// spokesperson without such an account can press no button and type no
// command, and every draft would wait for them for ever. With no platforms
// given (a trial, the console) it is not checked.
func (p *parser) actorsReach(root *yaml.Node, top map[string]entry, r workflow.Roster) error {
	reach := p.reach()
	if len(p.running) == 0 {
		return nil
	}
	on, onZH := strings.Join(reach, " or "), strings.Join(reach, "、")
	reachable := func(pr *workflow.Person) bool {
		for _, pl := range reach {
			if _, ok := pr.Account(pl); ok {
				return true
			}
		}
		return false
	}
	count := func(role workflow.Role) int {
		n := 0
		for i := range r.People {
			if r.People[i].Has(role) && reachable(&r.People[i]) {
				n++
			}
		}
		return n
	}
	at := root
	if e := top["people"]; e.key != nil {
		at = e.key
	}
	for _, l := range workflow.Levels {
		lp := r.Policy.For(l)
		if n := count(workflow.RoleLeader); n < lp.Approvals {
			return p.fail(at,
				fmt.Sprintf("policy %s: approvals: %d, but only %d leader(s) have a %s account: a %s incident's reply could never be approved; give the leaders their IDs or lower approvals", l, lp.Approvals, n, on, l),
				fmt.Sprintf("处置策略 %s:approvals: %d,但只有 %d 位领导有 %s 账号:%s级事件的统一口径将永远无法通过审批;请为领导填写账号 ID,或降低 approvals", l, lp.Approvals, n, onZH, l.Text().ZH))
		}
		if lp.Approvals > 0 && lp.Principal && count(workflow.RolePrincipal) == 0 {
			return p.fail(at,
				fmt.Sprintf("policy %s: a principal leader must approve, but no principal has a %s account: a %s incident's reply could never be approved; give a principal an ID on %s", l, on, l, on),
				fmt.Sprintf("处置策略 %s:须经主要领导审批,但没有主要领导有 %s 账号:%s级事件的统一口径将永远无法通过审批;请为主要领导填写 %s 账号 ID", l, onZH, l.Text().ZH, onZH))
		}
		publishers := 0
		for _, role := range lp.PublisherRoles() {
			publishers += count(role)
		}
		if publishers == 0 {
			roles := lp.PublisherRoles()
			names := make([]string, len(roles))
			for i, role := range roles {
				names[i] = string(role)
			}
			return p.fail(at,
				fmt.Sprintf("policy %s: nobody who may publish (%s) has a %s account: a %s incident's approved reply could never be published; give them IDs on %s", l, strings.Join(names, ", "), on, l, on),
				fmt.Sprintf("处置策略 %s:可发布者(%s)都没有 %s 账号:%s级事件已通过的统一口径将永远无法发布;请为其填写 %s 账号 ID", l, strings.Join(names, "、"), onZH, l.Text().ZH, onZH))
		}
	}
	return nil
}

// spreading reads spreading: {posts_growth: 50%, within: 1h, heat: 80}, the
// attention figures that mark an incident spreading. Absent: none do.
func (p *parser) spreading(e entry) (workflow.SpreadingRule, error) {
	var rule workflow.SpreadingRule
	m, err := p.mapping(e.val, spreadingSection)
	if err != nil {
		return rule, err
	}
	growth := m["posts_growth"]
	if growth.given() {
		if rule.PostsGrowth, err = p.percent(growth.val, "posts_growth"); err != nil {
			return rule, err
		}
	}
	if v := m["within"]; v.given() {
		if !growth.given() {
			return rule, p.fail(v.key, "spreading: within is the time posts_growth is measured over; give posts_growth too, or leave within out",
				"spreading:within 是计算 posts_growth 的时间窗口;请同时给出 posts_growth,或去掉 within")
		}
		if rule.Within, err = p.duration(v.val, "within"); err != nil {
			return rule, err
		}
		if rule.Within == 0 {
			return rule, p.fail(v.val, "spreading: within must be longer than 0, such as 1h",
				"spreading:within 必须大于 0,例如 1h")
		}
	}
	if v := m["heat"]; v.given() {
		if rule.Heat, err = p.integer(v.val, "heat"); err != nil {
			return rule, err
		}
		if rule.Heat < 1 {
			return rule, p.fail(v.val, fmt.Sprintf("spreading: heat must be at least 1, not %d", rule.Heat),
				fmt.Sprintf("spreading:heat 至少为 1,而不是 %d", rule.Heat))
		}
		if rule.Heat > workflow.MaxHeat() {
			return rule, p.fail(v.val, fmt.Sprintf("spreading: heat must be at most %d, the highest heat an update records (heat:N), not %d; no update could meet it",
				workflow.MaxHeat(), rule.Heat),
				fmt.Sprintf("spreading:heat 至多为 %d(更新可记录的最高热度 heat:N),而不是 %d;否则任何更新都无法达到", workflow.MaxHeat(), rule.Heat))
		}
	}
	return rule, nil
}

// percent reads a percentage such as 50% or 12.5% as a fraction (0.5). The
// sign is required: a bare 50 could mean 50% as well as fifty-fold, and a
// bare 0.5 half a percent as well as a half.
func (p *parser) percent(n *yaml.Node, label string) (float64, error) {
	n = deref(n)
	maxPercent := workflow.MaxPostsGrowth * 100
	bad := func() error {
		en, zh := describe(n)
		return p.fail(n, fmt.Sprintf("%s must be a percentage such as 50%%, not %s", label, en),
			fmt.Sprintf("%s 必须是 50%% 这样的百分比,而不是%s", label, zh))
	}
	if n.Kind != yaml.ScalarNode {
		return 0, bad()
	}
	v := strings.TrimSpace(n.Value)
	num, ok := strings.CutSuffix(v, "%")
	if !ok {
		num, ok = strings.CutSuffix(v, "％")
	}
	if !ok {
		return 0, bad()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, bad()
	}
	switch {
	case f < 0:
		return 0, p.fail(n, fmt.Sprintf("%s must not be negative, not %q", label, v),
			fmt.Sprintf("%s 不能为负数,而不是 %q", label, v))
	case f == 0:
		return 0, p.fail(n, fmt.Sprintf("%s must be more than 0%% (leave it out for no growth rule)", label),
			fmt.Sprintf("%s 必须大于 0%%(不按增长判定时请去掉此项)", label))
	case f > maxPercent:
		return 0, p.fail(n, fmt.Sprintf("%s must be at most %g%%, not %q", label, maxPercent, v),
			fmt.Sprintf("%s 最多为 %g%%,而不是 %q", label, maxPercent, v))
	}
	return f / 100, nil
}

// quorum refuses a level whose approvals the roster's leaders cannot give
// (workflow.CheckQuorum decides), at the line that asks for them: the
// level's approvals or principal key, else its policy entry, else the
// people, whose roles fall short of the default policy.
func (p *parser) quorum(root *yaml.Node, top map[string]entry, r workflow.Roster) error {
	defaults := workflow.DefaultPolicy()
	for _, l := range workflow.Levels {
		lp, ok := r.Policy[l]
		if !ok {
			lp = defaults[l]
		}
		qe := workflow.CheckQuorum(r.People, l, lp)
		if qe == nil {
			continue
		}
		at := root
		if e := top["people"]; e.key != nil {
			at = e.key
		}
		if e := top["policy"]; e.given() {
			if levels, err := p.mapping(e.val, policySection); err == nil {
				if le := levels[string(l)]; le.key != nil {
					at = le.key
					if m, err := p.mapping(le.val, levelSection); err == nil {
						key := "approvals"
						if qe.NoPrincipal {
							key = "principal"
						}
						if k := m[key]; k.key != nil {
							at = k.key
						}
					}
				}
			}
		}
		t := qe.Text()
		return p.fail(at, t.EN, t.ZH)
	}
	return nil
}

// digest reads the cron specs of the digests. They are checked where the
// scheduler parses them.
func (p *parser) digest(e entry) (workflow.Digest, error) {
	var d workflow.Digest
	m, err := p.mapping(e.val, digestSection)
	if err != nil {
		return d, err
	}
	if d.Daily, err = p.text(m["daily"].val, "daily"); err != nil {
		return d, err
	}
	if d.Weekly, err = p.text(m["weekly"].val, "weekly"); err != nil {
		return d, err
	}
	return d, nil
}

// weekdays are the day names office_hours.days accepts.
var weekdays = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// officeHours reads office_hours: {start: "08:30", end: "17:30", days: [mon,
// tue, wed, thu, fri]}, for the "same day" deadline of inquiries. Absent:
// the defaults (workflow.DefaultOfficeHours); given, every key is needed.
func (p *parser) officeHours(e entry) (workflow.OfficeHours, error) {
	var h workflow.OfficeHours
	if !e.given() {
		return h, nil
	}
	m, err := p.mapping(e.val, officeSection)
	if err != nil {
		return h, err
	}
	clock := func(key string) (time.Duration, error) {
		en := m[key]
		if !en.given() {
			return 0, p.fail(e.key, fmt.Sprintf("office_hours needs %s, a time such as \"08:30\"", key),
				fmt.Sprintf("office_hours 需要 %s,例如 \"08:30\"", key))
		}
		v, err := p.text(en.val, "office_hours."+key)
		if err != nil {
			return 0, err
		}
		t, perr := time.Parse("15:04", v)
		if perr != nil && v == "24:00" {
			return 24 * time.Hour, nil
		}
		if perr != nil {
			return 0, p.fail(en.val, fmt.Sprintf("office_hours.%s must be a time such as \"08:30\", not %q", key, v),
				fmt.Sprintf("office_hours.%s 必须是 \"08:30\" 这样的时间,而不是 %q", key, v))
		}
		return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
	}
	if h.Start, err = clock("start"); err != nil {
		return h, err
	}
	if h.End, err = clock("end"); err != nil {
		return h, err
	}
	if h.Start >= h.End {
		return h, p.fail(m["end"].val, "office_hours.end must be later than start", "office_hours.end 必须晚于 start")
	}
	items, err := p.list(m["days"])
	if err != nil {
		return h, err
	}
	if len(items) == 0 {
		return h, p.fail(e.key, "office_hours needs days, such as [mon, tue, wed, thu, fri]",
			"office_hours 需要 days,例如 [mon, tue, wed, thu, fri]")
	}
	for _, it := range items {
		v, err := p.text(it, "office_hours.days")
		if err != nil {
			return h, err
		}
		d, ok := weekdays[strings.ToLower(v)]
		if !ok {
			return h, p.fail(it, fmt.Sprintf("unknown day %q in office_hours.days (known: mon, tue, wed, thu, fri, sat, sun)", v),
				fmt.Sprintf("office_hours.days 中的未知日期 %q(可用:mon、tue、wed、thu、fri、sat、sun)", v))
		}
		if slices.Contains(h.Days, d) {
			return h, p.fail(it, fmt.Sprintf("day %q is given twice in office_hours.days", v),
				fmt.Sprintf("office_hours.days 中的 %q 重复出现", v))
		}
		h.Days = append(h.Days, d)
	}
	return h, nil
}

// maxIntakeRate is the highest rate a source may be given, in items a
// minute: far above what one platform sends, so a larger one is a typo.
const maxIntakeRate = 1_000_000

// intake reads intake: {triage, rate, tokens, rules, feeds}, the monitoring
// intake; depts holds the department IDs a rule may name. Absent: no
// tokens, rules or feeds, and the defaults of workflow.IntakeConfig.
func (p *parser) intake(e entry, depts map[string]int) (workflow.IntakeConfig, error) {
	var c workflow.IntakeConfig
	m, err := p.mapping(e.val, intakeSection)
	if err != nil {
		return c, err
	}
	if v := m["triage"]; v.given() {
		if c.Triage, err = p.duration(v.val, "triage"); err != nil {
			return c, err
		}
		// Zero would mean the default to workflow, not "no triage time":
		// refused rather than read either way.
		if c.Triage == 0 {
			def := shortDuration(workflow.DefaultTriage)
			return c, p.fail(v.val, fmt.Sprintf("intake: triage must be longer than 0, such as 30m (leave it out for the default %s)", def),
				fmt.Sprintf("intake:triage 必须大于 0,例如 30m(去掉此项即为默认的 %s)", def))
		}
	}
	if v := m["rate"]; v.given() {
		n, err := p.integer(v.val, "rate")
		if err != nil {
			return c, err
		}
		if n < 1 || n > maxIntakeRate {
			return c, p.fail(v.val, fmt.Sprintf("intake: rate must be between 1 and %d items a minute, not %d (leave it out for the default %d)",
				maxIntakeRate, n, workflow.DefaultIntakeRate),
				fmt.Sprintf("intake:rate 必须在每分钟 1 到 %d 条之间,而不是 %d(去掉此项即为默认的 %d)", maxIntakeRate, n, workflow.DefaultIntakeRate))
		}
		c.Rate = int(n)
	}
	if c.Tokens, err = p.intakeTokens(m["tokens"]); err != nil {
		return c, err
	}
	if c.Rules, err = p.intakeRules(m["rules"], depts); err != nil {
		return c, err
	}
	if c.Feeds, err = p.intakeFeeds(m["feeds"]); err != nil {
		return c, err
	}
	return c, nil
}

// minTokenLength is the fewest characters an intake token may have.
const minTokenLength = 16

// intakeTokens reads tokens: {source: token}, the bearer token of each
// source. No message quotes a token, nor a key whose value is not plainly a
// token: a token written in the wrong place must not reach a log either.
func (p *parser) intakeTokens(e entry) (map[string]string, error) {
	if !e.given() {
		return nil, nil
	}
	n := deref(e.val)
	if n.Kind != yaml.MappingNode {
		return nil, p.fail(n, `intake tokens must be a mapping of source: token, such as {yuqing: "…"}`,
			`intake 的 tokens 必须是“来源: 令牌”的映射,例如 {yuqing: "…"}`)
	}
	out := map[string]string{}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode || isNull(v) || strings.TrimSpace(v.Value) == "" {
			return nil, p.fail(k, `each entry of intake tokens is source: token, such as yuqing: "<16 or more random characters>"`,
				`intake 的 tokens 每项应为“来源: 令牌”,例如 yuqing: "<16 个以上的随机字符>"`)
		}
		source := strings.TrimSpace(k.Value)
		if !workflow.ValidSourceName(source) {
			return nil, p.fail(k, "a source name in intake tokens may hold only 1 to 64 letters, digits, '-', '_' or '.'",
				"intake 的 tokens 中的来源名只能使用 1 至 64 个字母、数字、“-”、“_”或“.”")
		}
		if first, dup := lines[source]; dup {
			return nil, p.fail(k, fmt.Sprintf("source %q is given twice in intake tokens (first on line %d)", source, first),
				fmt.Sprintf("intake 的 tokens 中的来源 %q 重复出现(首次在第 %d 行)", source, first))
		}
		lines[source] = k.Line
		token := strings.TrimSpace(v.Value)
		switch {
		case strings.HasPrefix(token, "$"):
			return nil, p.fail(v, fmt.Sprintf("the intake token of %s looks like an environment variable, but the roster file expands none: write the token itself, or set FIREBREAK_INTAKE_TOKEN", source),
				fmt.Sprintf("来源 %s 的 intake 令牌看似环境变量,但名册文件不展开环境变量:请直接填写令牌,或设置 FIREBREAK_INTAKE_TOKEN", source))
		case utf8.RuneCountInString(token) < minTokenLength:
			return nil, p.fail(v, fmt.Sprintf("the intake token of %s is shorter than %d characters; use a long random one, such as the output of openssl rand -hex 24", source, minTokenLength),
				fmt.Sprintf("来源 %s 的 intake 令牌短于 %d 个字符;请使用足够长的随机令牌,例如 openssl rand -hex 24 的输出", source, minTokenLength))
		case !bearerToken(token):
			return nil, p.fail(v, fmt.Sprintf("the intake token of %s may hold only letters, digits and - . _ ~ + / (then = at the end), as a bearer token does; openssl rand -hex 24 makes one", source),
				fmt.Sprintf("来源 %s 的 intake 令牌只能包含字母、数字和 - . _ ~ + /(末尾可有 =),与 bearer 令牌相同;可用 openssl rand -hex 24 生成", source))
		}
		out[source] = token
	}
	return out, nil
}

// bearerToken reports whether s is a b64token (RFC 6750 §2.1), the form a
// token must have to be sent as "Authorization: Bearer <token>".
func bearerToken(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/", r)) {
			return false
		}
	}
	return true
}

// intakeRules reads the keyword rules; depts holds the department IDs.
func (p *parser) intakeRules(e entry, depts map[string]int) ([]workflow.IntakeRule, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	names := map[string]int{}
	var out []workflow.IntakeRule
	for _, it := range items {
		m, err := p.mapping(it, ruleSection)
		if err != nil {
			return nil, err
		}
		var rule workflow.IntakeRule
		nameNode := m["name"].val
		if rule.Name, err = p.text(nameNode, "name"); err != nil {
			return nil, err
		}
		if rule.Name == "" {
			// The triage card says which rule matched: it needs a name to.
			return nil, p.fail(it, "intake rule has no name (the triage card says which rule matched)",
				"intake 规则缺少 name(研判卡片会注明命中的规则)")
		}
		if first, dup := names[rule.Name]; dup {
			return nil, p.fail(nameNode, fmt.Sprintf("intake rule %q is defined twice (first on line %d)", rule.Name, first),
				fmt.Sprintf("intake 规则 %q 重复定义(首次在第 %d 行)", rule.Name, first))
		}
		names[rule.Name] = nameNode.Line
		if rule.Any, err = p.words(m["any"], rule.Name); err != nil {
			return nil, err
		}
		if rule.All, err = p.words(m["all"], rule.Name); err != nil {
			return nil, err
		}
		if len(rule.Any) == 0 && len(rule.All) == 0 {
			at := it
			for _, key := range []string{"any", "all"} {
				if v := m[key]; v.key != nil {
					at = v.key
					break
				}
			}
			return nil, p.fail(at, fmt.Sprintf("intake rule %q has no words: give any (one of them must appear) or all (every one must)", rule.Name),
				fmt.Sprintf("intake 规则 %q 没有关键词:请给出 any(出现其一即可)或 all(须全部出现)", rule.Name))
		}
		if v := m["level"]; v.given() {
			s, err := p.text(v.val, "level")
			if err != nil {
				return nil, err
			}
			if rule.Level = workflow.Level(s); !rule.Level.Valid() {
				return nil, p.fail(v.val, fmt.Sprintf("intake rule %q: unknown level %q (general, major, critical)", rule.Name, s),
					fmt.Sprintf("intake 规则 %q:未知级别 %q(general、major、critical)", rule.Name, s))
			}
		}
		if v := m["category"]; v.given() {
			s, err := p.text(v.val, "category")
			if err != nil {
				return nil, err
			}
			if rule.Category = workflow.ParseCategory(s); !rule.Category.Valid() {
				return nil, p.fail(v.val, fmt.Sprintf("intake rule %q: unknown category %q (inquiry, hype, rumor, other)", rule.Name, s),
					fmt.Sprintf("intake 规则 %q:未知类别 %q(inquiry、hype、rumor、other)", rule.Name, s))
			}
		}
		if v := m["department"]; v.given() {
			if rule.Department, err = p.text(v.val, "department"); err != nil {
				return nil, err
			}
			if _, ok := depts[rule.Department]; !ok {
				return nil, p.fail(v.val, fmt.Sprintf("intake rule %q: unknown department %q", rule.Name, rule.Department),
					fmt.Sprintf("intake 规则 %q:未知部门 %q", rule.Name, rule.Department))
			}
		}
		if v := m["open"]; v.given() {
			n := deref(v.val)
			if n.Kind != yaml.ScalarNode || (n.Value != "auto" && n.Value != "manual") {
				en, zh := describe(n)
				return nil, p.fail(n, fmt.Sprintf("intake rule %q: open must be auto or manual, not %s", rule.Name, en),
					fmt.Sprintf("intake 规则 %q:open 必须是 auto 或 manual,而不是%s", rule.Name, zh))
			}
			rule.Auto = n.Value == "auto"
		}
		out = append(out, rule)
	}
	return out, nil
}

// words reads a rule's any or all: words or phrases, in any language. A
// number is a word as written ("110", "120").
func (p *parser) words(e entry, rule string) ([]string, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || !slices.Contains([]string{"!!str", "!!int", "!!float", "!!null"}, it.ShortTag()) {
			en, zh := describe(it)
			return nil, p.fail(it, fmt.Sprintf("intake rule %q: a word in %s must be a text (quote it if needed), not %s", rule, e.key.Value, en),
				fmt.Sprintf("intake 规则 %q:%s 中的关键词必须是文本(必要时加引号),而不是%s", rule, e.key.Value, zh))
		}
		w := strings.TrimSpace(it.Value)
		if isNull(it) || w == "" {
			return nil, p.fail(it, fmt.Sprintf("intake rule %q: an empty word in %s", rule, e.key.Value),
				fmt.Sprintf("intake 规则 %q:%s 中有空关键词", rule, e.key.Value))
		}
		out = append(out, w)
	}
	return out, nil
}

// intakeFeeds reads the watched feeds. No message quotes a feed's URL,
// which may carry a key of the feed's own.
func (p *parser) intakeFeeds(e entry) ([]workflow.Feed, error) {
	items, err := p.list(e)
	if err != nil {
		return nil, err
	}
	urls := map[string]int{}
	var out []workflow.Feed
	for _, it := range items {
		if it.Kind != yaml.MappingNode {
			// Not p.mapping's message, which would quote a URL written bare.
			return nil, p.fail(it, "an intake feed is a mapping such as {url: https://example.org/news.rss, every: 5m, source: example-news}",
				"intake 订阅源应为映射,例如 {url: https://example.org/news.rss, every: 5m, source: example-news}")
		}
		m, err := p.mapping(it, feedSection)
		if err != nil {
			return nil, err
		}
		var f workflow.Feed
		u := m["url"]
		if f.URL, err = p.text(u.val, "url"); err != nil {
			return nil, err
		}
		if f.URL == "" {
			return nil, p.fail(it, "intake feed has no url, the address of its RSS or Atom feed",
				"intake 订阅源缺少 url(RSS 或 Atom 订阅地址)")
		}
		if parsed, err := url.Parse(f.URL); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return nil, p.fail(u.val, "intake feed: url must be an http(s) address, such as https://example.org/news.rss",
				"intake 订阅源:url 必须是 http(s) 地址,例如 https://example.org/news.rss")
		}
		key := workflow.NormalizeURL(f.URL)
		if first, dup := urls[key]; dup {
			return nil, p.fail(u.val, fmt.Sprintf("intake feed: the same url is given twice (first on line %d)", first),
				fmt.Sprintf("intake 订阅源:url 重复出现(首次在第 %d 行)", first))
		}
		urls[key] = u.val.Line
		if v := m["every"]; v.given() {
			if f.Every, err = p.duration(v.val, "every"); err != nil {
				return nil, err
			}
			if f.Every < time.Minute {
				def := shortDuration(workflow.DefaultFeedEvery)
				return nil, p.fail(v.val, fmt.Sprintf("intake feed: every must be at least 1m, not %q (leave it out for the default %s)", deref(v.val).Value, def),
					fmt.Sprintf("intake 订阅源:every 至少为 1m,而不是 %q(去掉此项即为默认的 %s)", deref(v.val).Value, def))
			}
		}
		// Every item needs a source; a feed's items have no other.
		sn := m["source"].val
		if f.Source, err = p.text(sn, "source"); err != nil {
			return nil, err
		}
		if f.Source == "" {
			return nil, p.fail(it, "intake feed has no source, the name its items are reported as, such as example-news",
				"intake 订阅源缺少 source(其条目的来源名,例如 example-news)")
		}
		if !workflow.ValidSourceName(f.Source) {
			return nil, p.fail(sn, fmt.Sprintf("intake feed: source %q may hold only 1 to 64 letters, digits, '-', '_' or '.'", f.Source),
				fmt.Sprintf("intake 订阅源:来源名 %q 只能使用 1 至 64 个字母、数字、“-”、“_”或“.”", f.Source))
		}
		out = append(out, f)
	}
	return out, nil
}

// shortDuration writes d as the file does: 5m, 1h30m, not 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
