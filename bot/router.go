package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/firebreak/firebreak/workflow"
)

// Handler handles a Request that the router has matched to a command or action.
type Handler func(ctx context.Context, req *Request) (*Reply, error)

// Middleware wraps a Handler. Middleware registered first runs outermost.
type Middleware func(Handler) Handler

// CommandFunc runs a typed command with its parsed arguments.
type CommandFunc func(ctx context.Context, req *Request, args Args) (*Reply, error)

// ActionFunc runs a pressed button.
type ActionFunc func(ctx context.Context, req *Request, a Action) (*Reply, error)

// Command is a command as data: its names, documentation, who may run it and
// what runs. Help is generated from these fields.
type Command struct {
	Name     string
	Aliases  []string // other names, English and Chinese
	Usage    string   // arguments, e.g. "<id> <text>"
	Summary  workflow.Text
	Examples []string
	// Roles, when set, lists the roles of which the actor needs one.
	Roles []workflow.Role
	Run   CommandFunc
	// Hidden commands are left out of the help list.
	Hidden bool
}

// UsageLine is the full usage: "/incident name usage".
func (c *Command) UsageLine() string {
	return strings.TrimSpace("/incident " + c.Name + " " + c.Usage)
}

// usageAs is the usage as a refusal shows it, in locale, to someone who
// typed the command as typed: in zh-CN under the name they typed (a
// Chinese alias: "重开") with the placeholders in Chinese ("<编号> <理由>");
// the keywords and their values are the syntax, the same in both languages.
func (c *Command) usageAs(typed, locale string) string {
	name, usage := c.Name, c.Usage
	if locale == workflow.LocaleZH {
		if slices.Contains(c.Aliases, typed) {
			name = typed
		}
		usage = placeholdersZH.Replace(usage)
	}
	return strings.TrimSpace("/incident " + name + " " + usage)
}

// placeholdersZH are the usages' placeholders in Chinese.
var placeholdersZH = strings.NewReplacer(
	"<id>", "<编号>", "<reason>", "<理由>", "[reason]", "[理由]", "<text>", "<内容>", "<summary>", "<实质答复>",
	"<title>", "<标题>", "<person|department>", "<人员|部门>", "<item>", "<条目>", "[note]", "[备注]",
	"<time>", "<时间>", "<url>", "<链接>", "[command]", "[命令]", "<version>", "<版本>",
)

// ActionDef is a button kind: the name of its Action, who may press it and
// what runs.
type ActionDef struct {
	Name  string
	Roles []workflow.Role
	Run   ActionFunc
}

// Router routes Requests to commands and actions. All errors become replies
// in one place (Handle). Build one with NewRouter, register with Command,
// Action and Use; it is then safe for concurrent use.
type Router struct {
	roster   *workflow.Roster
	locale   string
	log      *slog.Logger
	mw       []Middleware
	commands []*Command
	byName   map[string]*Command
	actions  map[string]*ActionDef
}

// NewRouter returns an empty router speaking locale ("en" or "zh-CN").
// It registers the help command.
func NewRouter(roster *workflow.Roster, locale string, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{roster: roster, locale: locale, log: log, byName: map[string]*Command{}, actions: map[string]*ActionDef{}}
	r.Command(Command{
		Name: "help", Aliases: []string{"帮助", "?"}, Usage: "[command]",
		Summary:  workflow.Text{EN: "list the commands, or explain one", ZH: "列出命令,或说明某个命令"},
		Examples: []string{"help", "help draft"},
		Run:      r.help,
	})
	return r
}

// Locale returns the router's locale.
func (r *Router) Locale() string { return r.locale }

// Roster returns the roster the router checks roles against.
func (r *Router) Roster() *workflow.Roster { return r.roster }

// Use appends middleware.
func (r *Router) Use(mw ...Middleware) { r.mw = append(r.mw, mw...) }

// Command registers a command. It panics on a name clash: that is a
// programming error caught by any test.
func (r *Router) Command(c Command) {
	cmd := &c
	for _, n := range append([]string{c.Name}, c.Aliases...) {
		n = strings.ToLower(n)
		if _, dup := r.byName[n]; dup {
			panic(fmt.Sprintf("bot: command name %q registered twice", n))
		}
		r.byName[n] = cmd
	}
	r.commands = append(r.commands, cmd)
}

// Action registers a button kind.
func (r *Router) Action(a ActionDef) {
	if _, dup := r.actions[a.Name]; dup {
		panic(fmt.Sprintf("bot: action %q registered twice", a.Name))
	}
	r.actions[a.Name] = &a
}

// Commands returns the registered commands in registration order.
func (r *Router) Commands() []*Command { return slices.Clone(r.commands) }

// Lookup returns the command with the given name or alias.
func (r *Router) Lookup(name string) (*Command, bool) {
	c, ok := r.byName[strings.ToLower(name)]
	return c, ok
}

// Handle routes req and always returns a reply: errors are turned into
// replies here and nowhere else.
func (r *Router) Handle(ctx context.Context, req *Request) *Reply {
	if RequestID(ctx) == "" {
		ctx = WithRequestID(ctx, NewRequestID())
	}
	// A request that matches nothing still runs through the middleware, so
	// an unknown command is logged and counted like any other request.
	h, roles, cmd, matchErr := r.match(req)
	holder := &matched{cmd: cmd}
	if req.Action != nil && matchErr == nil {
		holder.action = req.Action.Name
	}
	ctx = context.WithValue(ctx, commandKey, holder)
	var inner Handler = func(ctx context.Context, req *Request) (*Reply, error) {
		if matchErr != nil {
			return nil, matchErr
		}
		if err := r.checkActor(req, roles); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
	for i := len(r.mw) - 1; i >= 0; i-- {
		inner = r.mw[i](inner)
	}
	reply, err := inner(ctx, req)
	if err != nil {
		return r.errorReply(ctx, req, holder.cmd, err)
	}
	if reply == nil {
		reply = &Reply{}
	}
	return reply
}

// match finds what runs for req.
func (r *Router) match(req *Request) (Handler, []workflow.Role, *Command, error) {
	if req.Action != nil {
		def, ok := r.actions[req.Action.Name]
		if !ok {
			return nil, nil, nil, workflow.Errorf(workflow.CodeInvalid, "this button is not known (%s); it may be from an older version",
				"无法识别此按钮(%s),可能来自旧版本", req.Action.ID())
		}
		a := *req.Action
		return func(ctx context.Context, req *Request) (*Reply, error) { return def.Run(ctx, req, a) }, def.Roles, nil, nil
	}
	name, rest := splitCommand(req.Text)
	if name == "" {
		name = "help"
	}
	cmd, ok := r.Lookup(name)
	if !ok {
		return nil, nil, nil, r.unknownCommand(name)
	}
	args := ParseArgs(rest)
	return func(ctx context.Context, req *Request) (*Reply, error) { return cmd.Run(ctx, req, args) }, cmd.Roles, cmd, nil
}

// splitCommand drops a leading "/incident" (or "/incident@botname") and
// returns the command word and the rest of the line.
func splitCommand(text string) (name, rest string) {
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "/") {
		first, after := cutSpace(text)
		base, _, _ := strings.Cut(first, "@") // "/incident@firebreak_bot" in groups
		if base == "/incident" || base == "/舆情" {
			text = strings.TrimSpace(after)
		} else {
			text = strings.TrimPrefix(base, "/") + " " + after
		}
	}
	return cutSpace(strings.TrimSpace(text))
}

// cutSpace splits s at its first white space of any kind, as ParseArgs does:
// a tab, a line break, or the full-width space of Chinese input methods.
func cutSpace(s string) (before, after string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	_, size := decodeRune(s[i:])
	return s[:i], s[i+size:]
}

// checkActor is the one place that refuses someone the roster does not
// know, whatever platform they came from: with their platform account, the
// refusal says what to add to the roster (Onboarding). No command is open
// to them, help included: the reply they get is the help they need.
func (r *Router) checkActor(req *Request, roles []workflow.Role) error {
	p, ok := r.roster.Person(req.Actor)
	switch {
	case !ok && req.Actor == "" && req.Account != "":
		return Onboarding{Platform: req.Platform, Account: req.Account, Handle: req.AccountName}.Err()
	case !ok:
		return ErrNotInRoster
	}
	if len(roles) == 0 {
		return nil
	}
	for _, role := range roles {
		if p.Has(role) {
			return nil
		}
	}
	return &workflow.Error{Code: workflow.CodeForbidden, Msg: workflow.Text{
		EN: fmt.Sprintf("this needs the role %s; you are %s", joinRoles(roles, workflow.LocaleEN, " or "), joinRoles(p.Roles, workflow.LocaleEN, ", ")),
		ZH: fmt.Sprintf("此操作需要%s角色;您的角色是%s", joinRoles(roles, workflow.LocaleZH, "或"), joinRoles(p.Roles, workflow.LocaleZH, "、")),
	}}
}

// joinRoles names roles in locale, joined by sep.
func joinRoles(roles []workflow.Role, locale, sep string) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = r.Text().In(locale)
	}
	return strings.Join(s, sep)
}

// errorReply is the one place where errors become replies. Internal errors
// are logged with the request ID and shown only as a reference.
func (r *Router) errorReply(ctx context.Context, req *Request, cmd *Command, err error) *Reply {
	code := workflow.ErrorCode(err)
	var text string
	if t := workflow.ErrorText(err); t != nil {
		text = t.In(r.locale)
	}
	switch {
	case code == workflow.CodeInternal || text == "":
		r.log.ErrorContext(ctx, "request failed", "request_id", RequestID(ctx), "platform", req.Platform,
			"actor", req.Actor, "err", err)
		text = workflow.Text{
			EN: "internal error, reference " + RequestID(ctx) + "; nothing was changed",
			ZH: "内部错误,编号 " + RequestID(ctx) + ";未做任何更改",
		}.In(r.locale)
	case errors.Is(err, ErrBusy):
		// Shed under overload: counted (Shed), not logged one by one.
	case code == workflow.CodeUnavailable:
		r.log.WarnContext(ctx, "storage unavailable", "request_id", RequestID(ctx), "err", err)
	}
	if code == workflow.CodeInvalid && cmd != nil && workflow.ErrorText(err) != nil {
		typed, _ := splitCommand(req.Text)
		text += "\n" + workflow.Text{EN: "Usage: ", ZH: "用法:"}.In(r.locale) + cmd.usageAs(typed, r.locale)
	}
	return &Reply{Text: "⚠ " + text, Failed: true}
}

func (r *Router) unknownCommand(name string) error {
	// The nearest command by edits (a swap of two neighbours is one); of
	// two as near, the one as long as what was typed (a swap keeps the
	// length: "stauts" is "status", not "stats"), then the first by name.
	best, bestDist, bestLen := "", 3, 0
	typed := strings.ToLower(name)
	for n, c := range r.byName {
		if c.Hidden {
			continue
		}
		d := editDistance(typed, n)
		if strings.HasPrefix(n, typed) && len(name) >= 2 {
			d = 1
		}
		l := utf8.RuneCountInString(n) - utf8.RuneCountInString(typed)
		l = max(l, -l)
		if d < bestDist || d == bestDist && (l < bestLen || l == bestLen && n < best) {
			best, bestDist, bestLen = n, d, l
		}
	}
	if best != "" {
		return workflow.Errorf(workflow.CodeInvalid, "unknown command %q. Did you mean %q? Type help for the list",
			"未知命令 %q。您是否想输入 %q?输入 help 查看命令列表", name, best)
	}
	return workflow.Errorf(workflow.CodeInvalid, "unknown command %q. Type help for the list", "未知命令 %q。输入 help 查看命令列表", name)
}

// editDistance is the edit distance between a and b, by runes, counting a
// swap of two neighbouring runes as one edit (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// help is generated from the registered commands.
func (r *Router) help(_ context.Context, _ *Request, args Args) (*Reply, error) {
	t := func(en, zh string) string { return workflow.Text{EN: en, ZH: zh}.In(r.locale) }
	if name := args.Arg(0); name != "" {
		c, ok := r.Lookup(strings.TrimPrefix(name, "/"))
		if !ok {
			return nil, r.unknownCommand(name)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n%s\n", c.UsageLine(), c.Summary.In(r.locale))
		if len(c.Aliases) > 0 {
			fmt.Fprintf(&b, "%s%s\n", t("Also: ", "别名:"), strings.Join(c.Aliases, ", "))
		}
		if len(c.Roles) > 0 {
			fmt.Fprintf(&b, "%s%s\n", t("Who: ", "权限:"), joinRoles(c.Roles, r.locale, t(", ", "、")))
		}
		for _, ex := range c.Examples {
			fmt.Fprintf(&b, "%s/incident %s\n", t("Example: ", "示例:"), ex)
		}
		return &Reply{Text: strings.TrimRight(b.String(), "\n")}, nil
	}
	var b strings.Builder
	b.WriteString(t("Firebreak commands:", "Firebreak 命令:") + "\n")
	for _, c := range r.commands {
		if c.Hidden {
			continue
		}
		fmt.Fprintf(&b, "  %s — %s\n", c.UsageLine(), c.Summary.In(r.locale))
	}
	b.WriteString(t("Type help <command> for details and examples.", "输入 help <命令> 查看详情和示例。"))
	return &Reply{Text: b.String()}, nil
}
