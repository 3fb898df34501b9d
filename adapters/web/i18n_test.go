package web

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestLabelsComplete: every label has both languages with the same
// placeholders, and every key the templates and scripts ask for exists.
func TestLabelsComplete(t *testing.T) {
	ph := regexp.MustCompile(`\{\d\}`)
	for k, l := range labels {
		if l.EN == "" || l.ZH == "" {
			t.Errorf("label %q: got EN %q ZH %q, want both", k, l.EN, l.ZH)
		}
		en, zh := ph.FindAllString(l.EN, -1), ph.FindAllString(l.ZH, -1)
		slices.Sort(en)
		slices.Sort(zh)
		if !slices.Equal(en, zh) {
			t.Errorf("label %q: placeholders EN %q ZH %q differ", k, en, zh)
		}
	}

	used := map[string]string{}
	uses := []struct {
		dir string
		re  *regexp.Regexp
	}{
		{"static", regexp.MustCompile(`\bt\("([a-z_.]+)"[,)]`)},
		{"templates", regexp.MustCompile(`\.TH? "([a-z_.]+)"`)},
	}
	for _, u := range uses {
		fsys := fs.FS(staticFS)
		if u.dir == "templates" {
			fsys = templateFS
		}
		files, _ := fs.Glob(fsys, u.dir+"/*")
		for _, name := range files {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range u.re.FindAllStringSubmatch(string(b), -1) {
				used[m[1]] = name
			}
		}
	}
	if len(used) < 50 {
		t.Fatalf("found %d label keys in the pages, want the pages' labels (is the pattern stale?)", len(used))
	}
	// Keys the scripts build: t("role." + r), t("draft." + state), t("chart." + series).
	for _, r := range workflow.Roles {
		used["role."+string(r)] = "playground.js"
	}
	for _, k := range []string{"draft.published", "draft.rejected", "draft.current", "draft.replaced", "chart.met", "chart.missed"} {
		used[k] = "built"
	}
	for k, where := range used {
		if _, ok := labels[k]; !ok {
			t.Errorf("%s asks for label %q, which the dictionary lacks", where, k)
		}
	}
}

// TestLanguage: a page speaks the configured locale, the other one when
// asked with ?lang= (which is kept in a cookie for the next pages and API
// reads), and the API follows ?lang= or the cookie too.
func TestLanguage(t *testing.T) {
	f := newFixture(t, true, "")
	zhCookie := func(r *http.Request) { r.AddCookie(&http.Cookie{Name: LangCookie, Value: workflow.LocaleZH}) }

	tests := []struct {
		name      string
		path      string
		mod       []func(*http.Request)
		want      []string
		dontWant  string
		setCookie string
	}{
		{name: "the roster's locale", path: "/board",
			want: []string{`<html lang="en">`, "Open incidents", "Deadlines met and missed, last 30 days", `href="/board?lang=zh-CN"`, "demo time: 60×"}, dontWant: "未办结事件"},
		{name: "asked for Chinese", path: "/board?lang=zh-CN",
			want: []string{`<html lang="zh-CN">`, "未办结事件", "近 30 天时限完成与超时", `href="/board?lang=en"`, "演示时间:60×"}, dontWant: "Open incidents", setCookie: workflow.LocaleZH},
		{name: "the cookie", path: "/", mod: []func(*http.Request){zhCookie},
			want: []string{"您是", "领导小组群", "<code>/incident 新建 食堂投诉 级别:重大 类别:询问</code>", "发送"}, dontWant: "You are"},
		{name: "asked for English over the cookie", path: "/incidents/YQ-7?lang=en", mod: []func(*http.Request){zhCookie},
			want: []string{"Timeline", "Unified reply: drafts", "Reports", "Attention figures", `href="/incidents/YQ-7?lang=zh-CN"`}, dontWant: "处置记录", setCookie: workflow.LocaleEN},
		{name: "an incident page in Chinese", path: "/incidents/YQ-7?lang=zh-CN",
			want: []string{"处置记录", "报告", "关注度", `"incident.no_figures":"尚未记录关注度指标——可用 {0} 添加"`}, dontWant: "Attention figures", setCookie: workflow.LocaleZH},
		{name: "an unknown language is the roster's", path: "/board?lang=fr", want: []string{"Open incidents"}},
		{name: "a message page", path: "/nowhere?lang=zh-CN", want: []string{"页面不存在", "/nowhere 没有页面。", "前往看板"}, setCookie: workflow.LocaleZH},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.get(tt.path, tt.mod...)
			body := rec.Body.String()
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: got a page without %q:\n%s", tt.path, w, body)
				}
			}
			if tt.dontWant != "" && strings.Contains(body, tt.dontWant) {
				t.Errorf("GET %s: got %q in the page, want the other language", tt.path, tt.dontWant)
			}
			var got string
			for _, c := range rec.Result().Cookies() {
				if c.Name == LangCookie {
					got = c.Value
				}
			}
			if got != tt.setCookie {
				t.Errorf("GET %s: lang cookie set to %q, want %q", tt.path, got, tt.setCookie)
			}
		})
	}

	t.Run("the page's scripts get the dictionary as JSON", func(t *testing.T) {
		body := f.get("/?lang=zh-CN").Body.String()
		_, rest, ok := strings.Cut(body, `<script type="application/json" id="fb-i18n">`)
		js, _, ok2 := strings.Cut(rest, "</script>")
		if !ok || !ok2 {
			t.Fatalf("no embedded dictionary in %q", body)
		}
		var d pageI18n
		if err := json.Unmarshal([]byte(js), &d); err != nil {
			t.Fatalf("decode %q: %v", js, err)
		}
		if d.Locale != workflow.LocaleZH || d.Labels["pg.you_are"] != "您是" || d.Deadlines["报告领导"] != "report" || d.Deadlines["report to leaders"] != "report" ||
			d.Deadlines["报告上级"] != "authority" || d.Deadlines["Report to higher authority"] != "authority" {
			t.Errorf("got %+v, want the Chinese labels and the deadline names of both languages", d)
		}
	})

	t.Run("the API names things in the language asked for", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			mod  []func(*http.Request)
			want string
		}{
			{"/api/v1/incidents", nil, "major"},
			{"/api/v1/incidents?lang=zh-CN", nil, "重大"},
			{"/api/v1/incidents", []func(*http.Request){zhCookie}, "重大"},
			{"/api/v1/incidents?lang=en", []func(*http.Request){zhCookie}, "major"},
		} {
			rec := f.get(tc.path, tc.mod...)
			list := decode[incidentList](t, rec)
			if got := list.Incidents[0].LevelName; got != tc.want {
				t.Errorf("GET %s (%d cookies): level name %q, want %q", tc.path, len(tc.mod), got, tc.want)
			}
			if c := rec.Result().Cookies(); len(c) != 0 {
				t.Errorf("GET %s: set cookies %v, want none (only pages keep the language)", tc.path, c)
			}
		}
	})

	t.Run("the login page keeps where it returns to", func(t *testing.T) {
		f := newFixture(t, false, "tok")
		body := f.get("/login?next=/incidents/YQ-7&lang=zh-CN").Body.String()
		for _, w := range []string{"登录看板", "看板令牌", `href="/login?lang=en&amp;next=%2Fincidents%2FYQ-7"`, "<code>FIREBREAK_BOARD_TOKEN</code>"} {
			if !strings.Contains(body, w) {
				t.Errorf("login page lacks %q:\n%s", w, body)
			}
		}
	})
}

// TestTimelineLines: the timeline's events are sentences from the
// describer, in the request's language; without one, a plain sentence.
func TestTimelineLines(t *testing.T) {
	t.Run("describer", func(t *testing.T) {
		f := newFixture(t, true, "")
		var asked []string
		f.srv.cfg.Describe = func(e workflow.Event, locale string) string {
			asked = append(asked, locale)
			return "line of " + string(e.Kind) + " in " + locale
		}
		tl := decode[timeline](t, f.get("/api/v1/incidents/YQ-7/timeline?lang=zh-CN"))
		if len(tl.Events) != 2 || tl.Events[0].Line != "line of opened in zh-CN" || tl.Events[1].Line != "line of approved in zh-CN" {
			t.Errorf("got %+v, want the describer's lines", tl.Events)
		}
		if !slices.Equal(asked, []string{workflow.LocaleZH, workflow.LocaleZH}) {
			t.Errorf("describer asked in %q, want zh-CN twice", asked)
		}
	})
	t.Run("no describer", func(t *testing.T) {
		f := newFixture(t, true, "")
		tl := decode[timeline](t, f.get("/api/v1/incidents/YQ-7/timeline"))
		want := []string{"Chen Jing: opened: Canteen <img src=x onerror=alert(1)>", "Wang Fang: approved"}
		var got []string
		for _, e := range tl.Events {
			got = append(got, e.Line)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// TestMayAckTake: the people offered Acknowledge and Take it are those
// workflow.Service.Ack and Take would let through.
func TestMayAckTake(t *testing.T) {
	r := testRoster(t)
	v := views{roster: r, locale: workflow.LocaleEN}
	everyone := []string{"chen", "wang", "zhao"}
	tests := []struct {
		name     string
		change   func(inc *workflow.Incident)
		ack      []string
		take     []string
		wantNone bool
	}{
		{name: "assigned to chen of office: chen (assignee and department)", change: func(*workflow.Incident) {}, ack: []string{"chen"}, take: everyone},
		{name: "assigned to wang in office: wang and the office", change: func(inc *workflow.Incident) { inc.Assignee = "wang" },
			ack: []string{"chen", "wang"}, take: everyone},
		{name: "assigned to wang, no department: wang only", change: func(inc *workflow.Incident) { inc.Assignee, inc.Department = "wang", "" },
			ack: []string{"wang"}, take: everyone},
		{name: "nobody assigned: anyone", change: func(inc *workflow.Incident) { inc.Assignee, inc.Department, inc.Status = "", "", workflow.StatusNew },
			ack: everyone, take: everyone},
		{name: "acknowledged: nobody", change: func(inc *workflow.Incident) { inc.Status, inc.AckedBy = workflow.StatusAcknowledged, "chen" },
			ack: []string{}, take: []string{}},
		{name: "resolved: nobody", change: func(inc *workflow.Incident) { inc.Status = workflow.StatusResolved }, ack: []string{}, take: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inc := canteen()
			tt.change(inc)
			got := v.incident(inc)
			if !slices.Equal(got.MayAck, tt.ack) || !slices.Equal(got.MayTake, tt.take) {
				t.Errorf("got may_ack %q may_take %q, want %q and %q", got.MayAck, got.MayTake, tt.ack, tt.take)
			}
		})
	}
}

// TestHubRefresh: a Refresh message updates, in place, the posts of its
// pane and thread, and posts nothing anywhere else.
func TestHubRefresh(t *testing.T) {
	h := NewHub(0)
	card := func(title string, buttons ...string) *bot.Card {
		c := &bot.Card{Incident: "YQ-7", Title: title}
		for _, b := range buttons {
			c.Buttons = append(c.Buttons, bot.Button{ID: b, Label: b})
		}
		return c
	}
	post := func(id, audience string, m bot.Message) (Post, bool) {
		return h.Post(workflow.Notice{ID: id, Incident: "YQ-7", Audience: workflow.Audience(audience)}, m, now)
	}
	post("n1", "incidents", bot.Message{Kind: "incident", Text: "Chen Jing opened YQ-7", Thread: "YQ-7", Card: card("new", "ack:YQ-7", "take:YQ-7")})
	post("n2", "person:li", bot.Message{Kind: "assigned", Thread: "YQ-7", Card: card("new", "ack:YQ-7", "take:YQ-7")})
	post("n3", "incidents", bot.Message{Kind: "incident", Thread: "YQ-8", Card: card("other", "ack:YQ-8")})
	sub := h.Subscribe()
	defer sub.Close()

	got, ok := post("n4", "incidents", bot.Message{Kind: "incident", Text: "Li Ming acknowledged YQ-7", Thread: "YQ-7", Refresh: true, Card: card("acknowledged")})
	if !ok || got.Seq != 1 || got.Message.Card.Title != "acknowledged" || len(got.Message.Card.Buttons) != 0 {
		t.Fatalf("refresh: got %+v, %v, want post 1 with the new card and no buttons", got, ok)
	}
	if got.Message.Text != "Chen Jing opened YQ-7" || got.Message.Refresh {
		t.Errorf("refreshed post: got text %q, refresh %v, want the text it was posted with (as Slack keeps it)", got.Message.Text, got.Message.Refresh)
	}
	if e := <-sub.C; e.Name != EventPost || e.ID != got.Rev {
		t.Errorf("event: got %s %d, want post %d", e.Name, e.ID, got.Rev)
	}
	byID := map[string]Post{}
	for _, p := range h.Since(0) {
		byID[p.ID] = p
	}
	if len(byID) != 3 {
		t.Errorf("got posts %v, want the three posted (a refresh posts nothing)", byID)
	}
	if p := byID["n2"]; p.Message.Card.Title != "new" || len(p.Message.Card.Buttons) != 2 {
		t.Errorf("the post in another pane: got %+v, want it unchanged", p.Message.Card)
	}
	if p := byID["n3"]; p.Message.Card.Title != "other" {
		t.Errorf("the post of another thread: got %+v, want it unchanged", p.Message.Card)
	}

	if _, ok := post("n5", "statements", bot.Message{Kind: "incident", Thread: "YQ-7", Refresh: true, Card: card("x")}); ok {
		t.Error("refresh of a pane without the thread: got ok, want nothing done")
	}
	if _, ok := post("n6", "incidents", bot.Message{Kind: "incident", Refresh: true, Card: card("x")}); ok {
		t.Error("refresh naming no thread: got ok, want nothing done")
	}
	if n := len(h.Since(0)); n != 3 {
		t.Errorf("after a refresh with nothing to update: got %d posts, want 3", n)
	}
	select {
	case e := <-sub.C:
		t.Errorf("got event %s after a refresh with nothing to update, want none", e.Name)
	default:
	}
}
