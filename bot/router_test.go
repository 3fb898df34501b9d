package bot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// mustRoster is the demo roster: chen (office), li and zhou (logistics) are
// staff, wang a principal leader, zhao a leader, sun the spokesperson.
func mustRoster(tb testing.TB) *workflow.Roster {
	tb.Helper()
	staff := []workflow.Role{workflow.RoleStaff}
	r, err := workflow.NewRoster(workflow.Roster{
		Timezone: "Asia/Shanghai",
		People: []workflow.Person{
			{ID: "chen", Name: "Chen Jing", Roles: staff, Departments: []string{"office"}},
			{ID: "li", Name: "Li Ming", Roles: staff, Departments: []string{"logistics"}},
			{ID: "zhou", Name: "Zhou Qiang", Roles: staff, Departments: []string{"logistics"}},
			{ID: "wang", Name: "Wang Fang", Roles: []workflow.Role{workflow.RoleLeader, workflow.RolePrincipal}},
			{ID: "zhao", Name: "Zhao Lei", Roles: []workflow.Role{workflow.RoleLeader}},
			{ID: "sun", Name: "Sun Yue", Roles: []workflow.Role{workflow.RoleSpokesperson}},
		},
		Departments: []workflow.Department{
			{ID: "office", Name: "Public Opinion Office", Categories: []workflow.Category{"other", "hype", "rumor"}},
			{ID: "logistics", Name: "Logistics Department", Categories: []workflow.Category{"inquiry"}},
		},
	})
	if err != nil {
		tb.Fatalf("NewRoster: %v", err)
	}
	return r
}

// trace records what ran, in order.
type trace struct {
	mu    sync.Mutex
	steps []string
}

func (t *trace) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps = append(t.steps, s)
}

func (t *trace) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.steps = nil
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.steps)
}

// lowLevel is an error no person should see.
var lowLevel = errors.New("redis: dial tcp 10.0.0.7:6379: connection refused")

type fixture struct {
	router *bot.Router
	trace  *trace
	log    *bytes.Buffer
}

// newFixture returns a router with a small command set that records what
// runs. The hidden command "fail <kind>" returns each kind of error.
func newFixture(tb testing.TB, locale string) *fixture {
	tb.Helper()
	f := &fixture{trace: &trace{}, log: &bytes.Buffer{}}
	f.router = bot.NewRouter(mustRoster(tb), locale, slog.New(slog.NewTextHandler(f.log, nil)))
	leaders := []workflow.Role{workflow.RoleLeader}
	f.router.Command(bot.Command{
		Name: "open", Aliases: []string{"新建", "开启"}, Usage: "<title> [level:general|major|critical]",
		Summary:  workflow.Text{EN: "open an incident", ZH: "新建舆情事件"},
		Examples: []string{`open "Canteen complaint" level:major`},
		Run: func(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
			if args.Len() == 0 {
				return nil, workflow.Errorf(workflow.CodeInvalid, "an incident needs a title", "事件需要标题")
			}
			f.trace.add("open:" + args.Rest(0))
			return &bot.Reply{Text: "opened " + args.Rest(0), Public: true}, nil
		},
	})
	f.router.Command(bot.Command{
		Name: "draft", Aliases: []string{"起草"}, Usage: "<id> <text>",
		Summary:  workflow.Text{EN: "write a draft of the unified reply", ZH: "起草统一口径"},
		Examples: []string{"draft YQ-7 We have noted the post.", "draft 7 “我们已关注”"},
		Run: func(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
			f.trace.add("draft:" + args.Arg(0) + "|" + args.Rest(1))
			return &bot.Reply{Text: "drafted"}, nil
		},
	})
	f.router.Command(bot.Command{
		Name: "approve", Aliases: []string{"批准"}, Usage: "<id> [note]", Roles: leaders,
		Summary: workflow.Text{EN: "approve the current draft", ZH: "批准当前草稿"},
		Run: func(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
			f.trace.add("approve:" + req.Actor)
			return &bot.Reply{Text: "approved"}, nil
		},
	})
	f.router.Command(bot.Command{
		Name: "publish", Usage: "<id>", Roles: []workflow.Role{workflow.RoleSpokesperson, workflow.RoleLeader},
		Summary: workflow.Text{EN: "publish the approved reply", ZH: "发布统一口径"},
		Run: func(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
			f.trace.add("publish:" + req.Actor)
			return nil, nil
		},
	})
	f.router.Command(bot.Command{
		Name: "fail", Usage: "<kind>", Hidden: true,
		Summary: workflow.Text{EN: "fail on purpose", ZH: "故意失败"},
		Run: func(ctx context.Context, req *bot.Request, args bot.Args) (*bot.Reply, error) {
			f.trace.add("fail:" + args.Arg(0))
			switch args.Arg(0) {
			case "invalid":
				return nil, workflow.Errorf(workflow.CodeInvalid, "bad thing", "坏")
			case "conflict":
				return nil, fmt.Errorf("publish: %w", workflow.Errorf(workflow.CodeConflict,
					"YQ-7 is resolved; reopen it first", "YQ-7 已办结,请先重新打开"))
			case "not_found":
				return nil, workflow.Errorf(workflow.CodeNotFound, "no incident YQ-9", "没有事件 YQ-9")
			case "forbidden":
				return nil, workflow.Errorf(workflow.CodeForbidden, "not yours", "不是您的")
			case "unavailable":
				return nil, fmt.Errorf("load incident: %w", workflow.Unavailable(lowLevel))
			case "internal":
				return nil, fmt.Errorf("load incident: %w", lowLevel)
			case "internal-coded":
				return nil, &workflow.Error{Code: workflow.CodeInternal, Msg: workflow.Text{EN: "lua script failed"}, Err: lowLevel}
			case "no-message":
				return nil, &workflow.Error{Code: workflow.CodeInvalid, Err: lowLevel}
			case "panic":
				panic("assignment to entry in nil map")
			}
			return &bot.Reply{Text: "fine"}, nil
		},
	})
	f.router.Action(bot.ActionDef{
		Name: "approve", Roles: leaders,
		Run: func(ctx context.Context, req *bot.Request, a bot.Action) (*bot.Reply, error) {
			f.trace.add("button:" + a.ID() + ":" + req.Actor)
			return &bot.Reply{Text: "approved by button"}, nil
		},
	})
	return f
}

// handle runs text as actor with request ID req-42.
func (f *fixture) handle(actor, text string) *bot.Reply {
	ctx := bot.WithRequestID(context.Background(), "req-42")
	return f.router.Handle(ctx, &bot.Request{Platform: bot.PlatformSlack, Actor: actor, Text: text})
}

func (f *fixture) press(actor string, a bot.Action) *bot.Reply {
	ctx := bot.WithRequestID(context.Background(), "req-42")
	return f.router.Handle(ctx, &bot.Request{Platform: bot.PlatformTelegram, Actor: actor, Action: &a})
}

func TestRouterRunsCommands(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the trace
	}{
		{"bare command", "open Canteen complaint", "open:Canteen complaint"},
		{"slash command prefix", "/incident open Canteen complaint", "open:Canteen complaint"},
		{"Telegram prefix with the bot's name", "/incident@firebreak_bot open x", "open:x"},
		{"Chinese prefix", "/舆情 新建 食堂投诉", "open:食堂投诉"},
		{"slash before the command word", "/open x", "open:x"},
		{"Chinese alias", "新建 食堂投诉", "open:食堂投诉"},
		{"second alias", "开启 x", "open:x"},
		{"upper case", "OPEN x", "open:x"},
		{"white space around", "  \n open   x  y \t", "open:x  y"},
		{"tab after the command word", "open\tx", "open:x"},
		{"newline after the command word", "draft\nYQ-7 text", "draft:YQ-7|text"},
		{"full-width space after the command word", "新建　食堂投诉", "open:食堂投诉"},
		{"full-width space after the prefix", "/incident　open x", "open:x"},
		{"draft text verbatim", "/incident draft YQ-7   “我们已关注”，  将于今日 \"答复\"\n\n  Logistics ",
			"draft:YQ-7|“我们已关注”，  将于今日 \"答复\"\n\n  Logistics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, workflow.LocaleEN)
			reply := f.handle("chen", tt.text)
			if got := strings.Join(f.trace.get(), ";"); got != tt.want {
				t.Errorf("%q: got trace %q, want %q", tt.text, got, tt.want)
			}
			if reply == nil || reply.Failed {
				t.Errorf("%q: got reply %+v, want success", tt.text, reply)
			}
		})
	}
}

func TestRouterNilReply(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	reply := f.handle("sun", "publish YQ-7")
	if reply == nil || reply.Failed || reply.Text != "" {
		t.Errorf("a handler returning no reply: got %+v, want an empty reply", reply)
	}
}

func TestHelp(t *testing.T) {
	listEN := "Firebreak commands:\n" +
		"  /incident help [command] — list the commands, or explain one\n" +
		"  /incident open <title> [level:general|major|critical] — open an incident\n" +
		"  /incident draft <id> <text> — write a draft of the unified reply\n" +
		"  /incident approve <id> [note] — approve the current draft\n" +
		"  /incident publish <id> — publish the approved reply\n" +
		"Type help <command> for details and examples."
	listZH := "Firebreak 命令:\n" +
		"  /incident help [command] — 列出命令,或说明某个命令\n" +
		"  /incident open <title> [level:general|major|critical] — 新建舆情事件\n" +
		"  /incident draft <id> <text> — 起草统一口径\n" +
		"  /incident approve <id> [note] — 批准当前草稿\n" +
		"  /incident publish <id> — 发布统一口径\n" +
		"输入 help <命令> 查看详情和示例。"
	draftEN := "/incident draft <id> <text>\nwrite a draft of the unified reply\nAlso: 起草\n" +
		"Example: /incident draft YQ-7 We have noted the post.\nExample: /incident draft 7 “我们已关注”"
	tests := []struct {
		name   string
		locale string
		text   string
		want   string
	}{
		{"empty text shows the list", workflow.LocaleEN, "", listEN},
		{"blank text shows the list", workflow.LocaleEN, "  ", listEN},
		{"prefix alone shows the list", workflow.LocaleEN, "/incident", listEN},
		{"prefix with the bot's name alone", workflow.LocaleEN, "/incident@firebreak_bot", listEN},
		{"help", workflow.LocaleEN, "help", listEN},
		{"help alias", workflow.LocaleEN, "帮助", listEN},
		{"question mark", workflow.LocaleEN, "?", listEN},
		{"Chinese list", workflow.LocaleZH, "", listZH},
		{"help for a command", workflow.LocaleEN, "help draft", draftEN},
		{"help for an alias", workflow.LocaleEN, "help 起草", draftEN},
		{"help with a slash", workflow.LocaleEN, "help /draft", draftEN},
		{"help names who may run it", workflow.LocaleEN, "help approve",
			"/incident approve <id> [note]\napprove the current draft\nAlso: 批准\nWho: leader"},
		{"help of a command without aliases", workflow.LocaleEN, "/incident help publish",
			"/incident publish <id>\npublish the approved reply\nWho: spokesperson, leader"},
		{"help of help", workflow.LocaleEN, "help help",
			"/incident help [command]\nlist the commands, or explain one\nAlso: 帮助, ?\nExample: /incident help\nExample: /incident help draft"},
		{"Chinese help for a command", workflow.LocaleZH, "帮助 起草",
			"/incident draft <id> <text>\n起草统一口径\n别名:起草\n" +
				"示例:/incident draft YQ-7 We have noted the post.\n示例:/incident draft 7 “我们已关注”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.locale)
			reply := f.handle("chen", tt.text)
			if reply.Failed || reply.Text != tt.want {
				t.Errorf("%q:\n got %q (failed %v)\nwant %q", tt.text, reply.Text, reply.Failed, tt.want)
			}
		})
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	reply := f.handle("chen", "help opne")
	want := "⚠ unknown command \"opne\". Did you mean \"open\"? Type help for the list\nUsage: /incident help [command]"
	if !reply.Failed || reply.Text != want {
		t.Errorf("got %q (failed %v), want %q", reply.Text, reply.Failed, want)
	}
}

func TestUnknownCommand(t *testing.T) {
	tests := []struct {
		name   string
		locale string
		text   string
		want   string
	}{
		{"typo", workflow.LocaleEN, "opne x", `⚠ unknown command "opne". Did you mean "open"? Type help for the list`},
		{"prefix", workflow.LocaleEN, "dra YQ-7 x", `⚠ unknown command "dra". Did you mean "draft"? Type help for the list`},
		{"typo of an alias", workflow.LocaleEN, "/incident 起稿 x", `⚠ unknown command "起稿". Did you mean "起草"? Type help for the list`},
		{"nothing close", workflow.LocaleEN, "xyzzy", `⚠ unknown command "xyzzy". Type help for the list`},
		{"hidden commands are not suggested", workflow.LocaleEN, "fai", `⚠ unknown command "fai". Type help for the list`},
		{"Chinese", workflow.LocaleZH, "opne", `⚠ 未知命令 "opne"。您是否想输入 "open"?输入 help 查看命令列表`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.locale)
			reply := f.handle("chen", tt.text)
			if !reply.Failed || reply.Text != tt.want {
				t.Errorf("%q: got %q (failed %v), want %q", tt.text, reply.Text, reply.Failed, tt.want)
			}
			if got := f.trace.get(); len(got) != 0 {
				t.Errorf("trace: got %q, want nothing run", got)
			}
		})
	}
}

// Two names equally close to what was typed: the suggestion must not depend
// on map iteration order.
func TestUnknownCommandSuggestionIsStable(t *testing.T) {
	r := bot.NewRouter(mustRoster(t), workflow.LocaleEN, nil)
	run := func(context.Context, *bot.Request, bot.Args) (*bot.Reply, error) { return nil, nil }
	r.Command(bot.Command{Name: "zeta", Aliases: []string{"bx"}, Run: run})
	r.Command(bot.Command{Name: "by", Run: run})
	first := r.Handle(context.Background(), &bot.Request{Actor: "chen", Text: "bz"}).Text
	for i := range 50 {
		if got := r.Handle(context.Background(), &bot.Request{Actor: "chen", Text: "bz"}).Text; got != first {
			t.Fatalf("attempt %d: got %q, want the same suggestion as before: %q", i+2, got, first)
		}
	}
	if !strings.Contains(first, `Did you mean "bx"?`) {
		t.Errorf("got %q, want the first of the closest names, bx", first)
	}
}

// Swapped neighbours are one edit, and of two names as close the one as
// long as what was typed wins: "stauts" is a swap in "status", not a
// letter too many in "stats".
func TestUnknownCommandSwappedLetters(t *testing.T) {
	r := bot.NewRouter(mustRoster(t), workflow.LocaleEN, nil)
	run := func(context.Context, *bot.Request, bot.Args) (*bot.Reply, error) { return nil, nil }
	r.Command(bot.Command{Name: "stats", Run: run})
	r.Command(bot.Command{Name: "status", Run: run})
	for typed, want := range map[string]string{"stauts": "status", "stast": "stats", "satus": "status"} {
		got := r.Handle(context.Background(), &bot.Request{Actor: "chen", Text: typed}).Text
		if !strings.Contains(got, `Did you mean "`+want+`"?`) {
			t.Errorf("%q: got %q, want %s suggested", typed, got, want)
		}
	}
}

func TestRoleCheck(t *testing.T) {
	tests := []struct {
		name   string
		locale string
		actor  string
		text   string
		action *bot.Action
		want   string // reply text; "" means the command ran
		trace  string
	}{
		{name: "staff cannot approve", locale: workflow.LocaleEN, actor: "chen", text: "approve YQ-7",
			want: "⚠ this needs the role leader; you are staff"},
		{name: "the spokesperson cannot approve", locale: workflow.LocaleEN, actor: "sun", text: "批准 YQ-7",
			want: "⚠ this needs the role leader; you are spokesperson"},
		{name: "a principal is a leader", locale: workflow.LocaleEN, actor: "wang", text: "approve YQ-7", trace: "approve:wang"},
		{name: "a leader", locale: workflow.LocaleEN, actor: "zhao", text: "approve YQ-7", trace: "approve:zhao"},
		{name: "one of several roles", locale: workflow.LocaleEN, actor: "sun", text: "publish YQ-7", trace: "publish:sun"},
		{name: "none of several roles", locale: workflow.LocaleEN, actor: "li", text: "publish YQ-7",
			want: "⚠ this needs the role spokesperson or leader; you are staff"},
		{name: "in Chinese", locale: workflow.LocaleZH, actor: "chen", text: "approve YQ-7",
			want: "⚠ 此操作需要领导角色;您的角色是工作人员"},
		{name: "button by staff", locale: workflow.LocaleEN, actor: "chen", action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "2"}},
			want: "⚠ this needs the role leader; you are staff"},
		{name: "button by a leader", locale: workflow.LocaleEN, actor: "zhao", action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "2"}},
			trace: "button:approve:YQ-7:2:zhao"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.locale)
			var reply *bot.Reply
			if tt.action != nil {
				reply = f.press(tt.actor, *tt.action)
			} else {
				reply = f.handle(tt.actor, tt.text)
			}
			got := strings.Join(f.trace.get(), ";")
			if tt.want != "" {
				if !reply.Failed || reply.Text != tt.want {
					t.Errorf("reply: got %q (failed %v), want %q", reply.Text, reply.Failed, tt.want)
				}
				if got != "" {
					t.Errorf("trace: got %q, want nothing run", got)
				}
				return
			}
			if reply.Failed || got != tt.trace {
				t.Errorf("got trace %q, reply %+v, want trace %q and success", got, reply, tt.trace)
			}
		})
	}
}

func TestActorNotInRoster(t *testing.T) {
	for _, tt := range []struct {
		name   string
		actor  string
		text   string
		action *bot.Action
	}{
		{name: "unknown person", actor: "mallory", text: "open x"},
		{name: "unlinked platform user", actor: "", text: "open x"},
		{name: "help too", actor: "", text: "help"},
		{name: "a button", actor: "mallory", action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "1"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, workflow.LocaleEN)
			var reply *bot.Reply
			if tt.action != nil {
				reply = f.press(tt.actor, *tt.action)
			} else {
				reply = f.handle(tt.actor, tt.text)
			}
			want := "⚠ you are not in the roster; ask an administrator to add you"
			if !reply.Failed || reply.Text != want {
				t.Errorf("got %q (failed %v), want %q", reply.Text, reply.Failed, want)
			}
			if got := f.trace.get(); len(got) != 0 {
				t.Errorf("trace: got %q, want nothing run", got)
			}
		})
	}
}

// TestUnknownAccount: someone the roster does not know, coming with their
// platform account, is told in one reply what to add to the roster — for
// every platform, command and button alike, help too; nothing runs.
func TestUnknownAccount(t *testing.T) {
	for _, tt := range []struct {
		name   string
		locale string
		req    bot.Request
		want   []string
	}{
		{name: "a command", locale: workflow.LocaleEN,
			req: bot.Request{Platform: "slack", Account: "U0NOBODY", AccountName: "Road.Runner", Text: "open x"},
			want: []string{"⚠ You are not in the roster yet, so nothing was done. Your account here is slack: U0NOBODY. Ask an administrator",
				"\n\n  - id: road.runner\n    name: <your name>\n    roles: [staff]\n    slack: U0NOBODY"}},
		{name: "help", locale: workflow.LocaleEN,
			req:  bot.Request{Platform: "telegram", Account: "4242", Text: "help"},
			want: []string{"Your account here is telegram: 4242.", "  - id: <your-id>\n", "    telegram: 4242"}},
		{name: "a button", locale: workflow.LocaleEN,
			req:  bot.Request{Platform: "wecom", Account: "zhang", Action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "1"}}},
			want: []string{"Your account here is wecom: zhang.", "    wecom: zhang"}},
		{name: "in Chinese", locale: workflow.LocaleZH,
			req:  bot.Request{Platform: "slack", Account: "U0NOBODY", Text: "帮助"},
			want: []string{"⚠ 您还不在 Firebreak 名册中,因此未做任何操作。您在此平台的账号是 slack: U0NOBODY。", "name: <您的姓名>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.locale)
			reply := f.router.Handle(context.Background(), &tt.req)
			if !reply.Failed {
				t.Errorf("got %+v, want a failed reply", reply)
			}
			for _, want := range tt.want {
				if !strings.Contains(reply.Text, want) {
					t.Errorf("got %q, want it to contain %q", reply.Text, want)
				}
			}
			if got := f.trace.get(); len(got) != 0 {
				t.Errorf("trace: got %q, want nothing run", got)
			}
		})
	}
}

// TestKnownAccount: an Actor in the roster is who acts; an Account beside
// it changes nothing.
func TestKnownAccount(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	reply := f.router.Handle(context.Background(), &bot.Request{Platform: "slack", Actor: "chen", Account: "U0CHEN", Text: "help"})
	if reply.Failed {
		t.Errorf("got %+v, want the help", reply)
	}
}

func TestErrorReplies(t *testing.T) {
	tests := []struct {
		name    string
		locale  string
		text    string
		want    string
		prefix  bool     // want is only the beginning of the reply
		wantLog []string // in the log
	}{
		{name: "invalid adds the usage line", locale: workflow.LocaleEN, text: "fail invalid",
			want: "⚠ bad thing\nUsage: /incident fail <kind>"},
		{name: "invalid from a visible command", locale: workflow.LocaleEN, text: "新建",
			want: "⚠ an incident needs a title\nUsage: /incident open <title> [level:general|major|critical]"},
		{name: "invalid in Chinese", locale: workflow.LocaleZH, text: "fail invalid",
			want: "⚠ 坏\n用法:/incident fail <kind>"},
		{name: "conflict, wrapped", locale: workflow.LocaleEN, text: "fail conflict",
			want: "⚠ YQ-7 is resolved; reopen it first"},
		{name: "conflict in Chinese", locale: workflow.LocaleZH, text: "fail conflict",
			want: "⚠ YQ-7 已办结,请先重新打开"},
		{name: "not found", locale: workflow.LocaleEN, text: "fail not_found", want: "⚠ no incident YQ-9"},
		{name: "forbidden", locale: workflow.LocaleEN, text: "fail forbidden", want: "⚠ not yours"},
		{name: "unavailable shows the storage message", locale: workflow.LocaleEN, text: "fail unavailable",
			want:    "⚠ storage unavailable, nothing was changed; try again shortly",
			wantLog: []string{"storage unavailable", "req-42", "connection refused"}},
		{name: "unavailable in Chinese", locale: workflow.LocaleZH, text: "fail unavailable",
			want: "⚠ 存储暂不可用,未做任何更改,请稍后重试"},
		{name: "internal shows only a reference", locale: workflow.LocaleEN, text: "fail internal",
			want:    "⚠ internal error, reference req-42; nothing was changed",
			wantLog: []string{"level=ERROR", "request failed", "request_id=req-42", "actor=chen", "connection refused"}},
		{name: "internal in Chinese", locale: workflow.LocaleZH, text: "fail internal",
			want: "⚠ 内部错误,编号 req-42;未做任何更改"},
		{name: "an internal-coded error hides its message too", locale: workflow.LocaleEN, text: "fail internal-coded",
			want:    "⚠ internal error, reference req-42; nothing was changed",
			wantLog: []string{"lua script failed", "connection refused"}},
		{name: "an error without a message is internal", locale: workflow.LocaleEN, text: "fail no-message",
			want: "⚠ internal error, reference req-42; nothing was changed", prefix: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.locale)
			reply := f.handle("chen", tt.text)
			text := reply.Text
			if tt.prefix && strings.HasPrefix(text, tt.want) {
				text = tt.want
			}
			if !reply.Failed || text != tt.want {
				t.Errorf("%q:\n got %q (failed %v)\nwant %q", tt.text, reply.Text, reply.Failed, tt.want)
			}
			for _, secret := range []string{"10.0.0.7", "redis", "lua", "connection refused"} {
				if strings.Contains(reply.Text, secret) {
					t.Errorf("reply %q: got %q in it, want no low-level detail", reply.Text, secret)
				}
			}
			for _, want := range tt.wantLog {
				if !strings.Contains(f.log.String(), want) {
					t.Errorf("log: got %q, want it to contain %q", f.log.String(), want)
				}
			}
		})
	}
}

func TestInternalErrorWithoutRequestID(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	reply := f.router.Handle(context.Background(), &bot.Request{Actor: "chen", Text: "fail internal"})
	m := regexp.MustCompile(`^⚠ internal error, reference ([0-9a-f]{12}); nothing was changed$`).FindStringSubmatch(reply.Text)
	if m == nil {
		t.Fatalf("got %q, want an internal error with a fresh 12-hex-digit reference", reply.Text)
	}
	if !strings.Contains(f.log.String(), "request_id="+m[1]) {
		t.Errorf("log: got %q, want the reference %s in it", f.log.String(), m[1])
	}
}

func TestUnknownButton(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	reply := f.press("wang", bot.Action{Name: "detonate", Args: []string{"YQ-7"}})
	want := "⚠ this button is not known (detonate:YQ-7); it may be from an older version"
	if !reply.Failed || reply.Text != want {
		t.Errorf("got %q (failed %v), want %q", reply.Text, reply.Failed, want)
	}
}

func TestRecover(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	var log bytes.Buffer
	f.router.Use(bot.Recover(slog.New(slog.NewTextHandler(&log, nil))))
	reply := f.handle("chen", "fail panic")
	want := "⚠ internal error, reference req-42; nothing was changed"
	if !reply.Failed || reply.Text != want {
		t.Errorf("panic: got %q (failed %v), want %q", reply.Text, reply.Failed, want)
	}
	for _, want := range []string{"handler panicked", "request_id=req-42", "assignment to entry in nil map", "stack="} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("recover log: got %q, want it to contain %q", log.String(), want)
		}
	}
	if reply := f.handle("chen", "fail nothing"); reply.Failed || reply.Text != "fine" {
		t.Errorf("no panic: got %+v, want the handler's reply", reply)
	}
}

// mark is middleware that records when it is entered and left.
func mark(tr *trace, name string) bot.Middleware {
	return func(next bot.Handler) bot.Handler {
		return func(ctx context.Context, req *bot.Request) (*bot.Reply, error) {
			what := "-"
			if c := bot.CommandFrom(ctx); c != nil {
				what = c.Name
			}
			tr.add(name + ">" + what)
			reply, err := next(ctx, req)
			tr.add("<" + name)
			return reply, err
		}
	}
}

func TestMiddlewareOrder(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	f.router.Use(mark(f.trace, "a"), mark(f.trace, "b"))
	f.router.Use(mark(f.trace, "c"))
	tests := []struct {
		name   string
		actor  string
		text   string
		action *bot.Action
		want   []string
	}{
		{name: "command", actor: "chen", text: "新建 x",
			want: []string{"a>open", "b>open", "c>open", "open:x", "<c", "<b", "<a"}},
		{name: "button", actor: "wang", action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "1"}},
			want: []string{"a>-", "b>-", "c>-", "button:approve:YQ-7:1:wang", "<c", "<b", "<a"}},
		{name: "the role check runs inside the middleware", actor: "chen", text: "approve YQ-7",
			want: []string{"a>approve", "b>approve", "c>approve", "<c", "<b", "<a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.trace.reset()
			if tt.action != nil {
				f.press(tt.actor, *tt.action)
			} else {
				f.handle(tt.actor, tt.text)
			}
			if got := f.trace.get(); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRouterGivesEveryRequestAnID: the router keeps the request ID an
// adapter set, and makes one when none did, before any middleware runs.
func TestRouterGivesEveryRequestAnID(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want string // "" means a fresh one
	}{
		{"kept", bot.WithRequestID(context.Background(), "req-7"), "req-7"},
		{"made", context.Background(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, workflow.LocaleEN)
			var seen string
			f.router.Use(func(next bot.Handler) bot.Handler {
				return func(ctx context.Context, req *bot.Request) (*bot.Reply, error) {
					seen = bot.RequestID(ctx)
					return next(ctx, req)
				}
			})
			f.router.Handle(tt.ctx, &bot.Request{Platform: bot.PlatformSlack, Actor: "chen", Text: "help"})
			switch {
			case tt.want != "" && seen != tt.want:
				t.Errorf("request ID: got %q, want %q", seen, tt.want)
			case tt.want == "" && !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(seen):
				t.Errorf("request ID: got %q, want a fresh 12-hex-digit one", seen)
			}
		})
	}
}

func TestLogging(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	var log bytes.Buffer
	f.router.Use(bot.Logging(slog.New(slog.NewTextHandler(&log, nil))))
	tests := []struct {
		name   string
		actor  string
		text   string
		action *bot.Action
		want   []string
	}{
		{name: "a command by name, never its text", actor: "chen", text: "draft YQ-7 unpublished secret wording",
			want: []string{"request_id=req-42", "platform=slack", "actor=chen", "command=draft", "duration="}},
		{name: "a failure with its code", actor: "chen", text: "approve YQ-7",
			want: []string{"command=approve", "code=forbidden"}},
		{name: "a button", actor: "wang", action: &bot.Action{Name: "approve", Args: []string{"YQ-7", "1"}},
			want: []string{"platform=telegram", "command=action:approve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log.Reset()
			if tt.action != nil {
				f.press(tt.actor, *tt.action)
			} else {
				f.handle(tt.actor, tt.text)
			}
			for _, want := range tt.want {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log: got %q, want it to contain %q", log.String(), want)
				}
			}
			if strings.Contains(log.String(), "secret") {
				t.Errorf("log: got %q, want no command text in it", log.String())
			}
		})
	}
}

func TestRegistrationClashesPanic(t *testing.T) {
	run := func(context.Context, *bot.Request, bot.Args) (*bot.Reply, error) { return nil, nil }
	tests := []struct {
		name     string
		register func(f *fixture)
	}{
		{"same name", func(f *fixture) { f.router.Command(bot.Command{Name: "open", Run: run}) }},
		{"name in another case", func(f *fixture) { f.router.Command(bot.Command{Name: "Draft", Run: run}) }},
		{"alias of another command", func(f *fixture) { f.router.Command(bot.Command{Name: "new", Aliases: []string{"新建"}, Run: run}) }},
		{"the help command", func(f *fixture) { f.router.Command(bot.Command{Name: "?", Run: run}) }},
		{"same action", func(f *fixture) { f.router.Action(bot.ActionDef{Name: "approve"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, workflow.LocaleEN)
			defer func() {
				if recover() == nil {
					t.Errorf("got no panic, want one")
				}
			}()
			tt.register(f)
		})
	}
}

func TestRouterLookup(t *testing.T) {
	f := newFixture(t, workflow.LocaleZH)
	var names []string
	for _, c := range f.router.Commands() {
		names = append(names, c.Name)
	}
	if want := []string{"help", "open", "draft", "approve", "publish", "fail"}; !slices.Equal(names, want) {
		t.Errorf("Commands: got %v, want %v in registration order", names, want)
	}
	for _, name := range []string{"draft", "DRAFT", "起草"} {
		if c, ok := f.router.Lookup(name); !ok || c.Name != "draft" {
			t.Errorf("Lookup(%q): got %v %v, want draft", name, c, ok)
		}
	}
	if c, ok := f.router.Lookup("nope"); ok {
		t.Errorf("Lookup(nope): got %v, want none", c)
	}
	if f.router.Locale() != workflow.LocaleZH || f.router.Roster() == nil {
		t.Errorf("Locale, Roster: got %q %v, want zh-CN and the roster", f.router.Locale(), f.router.Roster())
	}
	if got := (&bot.Command{Name: "status"}).UsageLine(); got != "/incident status" {
		t.Errorf("UsageLine without usage: got %q, want %q", got, "/incident status")
	}
}

func TestCommandInContext(t *testing.T) {
	r := bot.NewRouter(mustRoster(t), workflow.LocaleEN, nil)
	var got *bot.Command
	r.Command(bot.Command{Name: "status", Run: func(ctx context.Context, _ *bot.Request, _ bot.Args) (*bot.Reply, error) {
		got = bot.CommandFrom(ctx)
		return nil, nil
	}})
	r.Handle(context.Background(), &bot.Request{Actor: "chen", Text: "status YQ-7"})
	if got == nil || got.Name != "status" {
		t.Errorf("CommandFrom in the handler: got %+v, want status", got)
	}
}

// TestUnknownCommandIsCounted: a request that matches nothing still runs
// through the middleware, so logs and metrics see it.
func TestUnknownCommandIsCounted(t *testing.T) {
	r := bot.NewRouter(mustRoster(t), "en", nil)
	m := &bot.Metrics{}
	r.Use(m.Count())
	reply := r.Handle(context.Background(), &bot.Request{Platform: "slack", Actor: "chen", Text: "bogus"})
	if !reply.Failed {
		t.Fatalf("got %+v, want a failed reply", reply)
	}
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	// Prometheus writes labels sorted by name.
	if want := `firebreak_requests_total{code="invalid",command="unknown",platform="slack"} 1`; !strings.Contains(b.String(), want) {
		t.Errorf("got metrics %q, want %s", b.String(), want)
	}
}

// TestSlashCommandWithBotName: "/open@firebreak_bot x" in a group is "open x".
func TestSlashCommandWithBotName(t *testing.T) {
	r := bot.NewRouter(mustRoster(t), "en", nil)
	var got string
	r.Command(bot.Command{Name: "open", Run: func(_ context.Context, _ *bot.Request, a bot.Args) (*bot.Reply, error) {
		got = a.Line
		return &bot.Reply{}, nil
	}})
	reply := r.Handle(context.Background(), &bot.Request{Actor: "chen", Text: "/open@firebreak_bot Canteen"})
	if reply.Failed || strings.TrimSpace(got) != "Canteen" {
		t.Errorf("got reply %+v and args %q, want open run with Canteen", reply, got)
	}
}
