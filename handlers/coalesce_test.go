package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// manyStore is a workflow.Store holding some incidents, for rendering.
type manyStore struct {
	workflow.Store // nil: any other call panics
	incs           map[string]*workflow.Incident
}

func (s manyStore) Get(_ context.Context, id string) (*workflow.Incident, error) {
	inc, ok := s.incs[id]
	if !ok {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no %s", "没有 %s", id)
	}
	return inc.Clone(), nil
}

func generalIncident(id, title string) *workflow.Incident {
	return &workflow.Incident{ID: id, Version: 1, Title: title, Level: workflow.LevelGeneral,
		Category: workflow.CategoryOther, Status: workflow.StatusAssigned, Assignee: "chen",
		FoundAt: start, OpenedAt: start, UpdatedAt: start}
}

func openedCard(inc *workflow.Incident) workflow.Notice {
	e := workflow.Event{ID: inc.ID + "#1.1", Incident: inc.ID, Kind: workflow.EventOpened, Actor: "chen", Text: inc.Title,
		Data: workflow.EventData{Level: inc.Level, Category: inc.Category}}
	return workflow.NewNotice(e.ID+">incidents", inc.ID, workflow.ChannelIncidents,
		workflow.Notification{Kind: workflow.NoticeCard, Thread: workflow.Thread{Kind: workflow.ThreadIncident}, Event: &e})
}

func mustCoalesce(tb testing.TB, h *handlers.Handlers, ns []workflow.Notice, budget int) (bot.Message, int) {
	tb.Helper()
	m, n, err := h.Coalesce(context.Background(), ns, budget)
	if err != nil {
		tb.Fatalf("Coalesce: %v", err)
	}
	return m, n
}

// TestCoalesceWordsABacklog: the notices come under headings, in the order
// they came, in the roster's language: opened incidents by their headline
// as they are now, assignments with how to acknowledge them, reports with
// how to receive them, other events in their sentence; a title stays as
// typed (the adapters escape it).
func TestCoalesceWordsABacklog(t *testing.T) {
	incs := map[string]*workflow.Incident{}
	var ns []workflow.Notice
	for i, title := range []string{"Canteen <b>price</b> & queue", "Dorm noise", "Bus late"} {
		inc := generalIncident(fmt.Sprintf("YQ-%d", i+5), title)
		incs[inc.ID] = inc
		ns = append(ns, openedCard(inc))
	}
	incs["YQ-6"].Level = workflow.LevelMajor // raised since: the line shows it as it is
	assigned := workflow.Event{ID: "YQ-7#1.2", Incident: "YQ-7", Kind: workflow.EventAssigned, Data: workflow.EventData{Assignee: "chen", Department: "office"}}
	overdue := workflow.Event{ID: "YQ-5#3.1", Incident: "YQ-5", Kind: workflow.EventOverdue, At: start,
		Data: workflow.EventData{Overdue: []workflow.DeadlineDue{{Deadline: workflow.DeadlineAssign, Due: start}}}}
	updated := workflow.Event{ID: "YQ-6#4.1", Incident: "YQ-6", Kind: workflow.EventUpdated, Actor: "chen", Text: "posts deleted",
		Data: workflow.EventData{Number: 2}}
	ns = append(ns,
		workflow.NewNotice("a", "YQ-7", workflow.PersonAudience("chen"), workflow.Notification{Kind: workflow.NoticeAssigned, Event: &assigned}),
		workflow.NewNotice("o", "YQ-5", workflow.ChannelLeaders, workflow.Notification{Kind: workflow.NoticeReport, Event: &overdue}),
		workflow.NewNotice("u", "YQ-6", workflow.ChannelIncidents, workflow.Notification{Kind: workflow.NoticeEvent, Event: &updated}))
	svc := workflow.NewService(manyStore{incs: incs}, mustRoster(t, true), workflow.NewManualClock(start))

	tests := []struct {
		locale string
		want   []string
	}{
		{"en", []string{
			"3 more incidents opened:",
			"• YQ-5 [general/other] Canteen <b>price</b> & queue",
			"• YQ-6 [major/other] Dorm noise",
			"• YQ-7 [general/other] Bus late",
			"1 more incident assigned to you (acknowledge it with: ack <id>):",
			"• YQ-7 [general/other] Bus late",
			"1 more report (leaders: receive <id> so it counts as made):",
			"• 🔴 YQ-5 is OVERDUE:",
			"1 more notice:",
			"• chen filed follow-up report #2 on YQ-6: posts deleted",
			"(6 notices in one message:",
		}},
		{"zh-CN", []string{
			"另有 3 起事件新建:",
			"• YQ-5 [一般/其他类] Canteen <b>price</b> & queue",
			"另有 1 起事件指派给您(请用 确认 <编号> 确认接办):",
			"另有 1 份报告(请领导输入 /incident 收到 <编号> 签收):",
			"• 🔴 YQ-5 已超时:",
			"另有 1 条通知:",
			"(以上 6 条通知合并为一条消息",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.locale, func(t *testing.T) {
			m, n := mustCoalesce(t, handlers.New(svc, tt.locale), ns, bot.DefaultMessageBudget)
			if n != len(ns) || m.Kind != bot.MessageCoalesced || m.Card != nil || m.Thread != "" {
				t.Fatalf("got %d notices in kind %q (card %v, thread %q), want all %d as text in kind %q",
					n, m.Kind, m.Card, m.Thread, len(ns), bot.MessageCoalesced)
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(m.Text[at:], w)
				if i < 0 {
					t.Fatalf("got text\n%s\nwant %q after offset %d", m.Text, w, at)
				}
				at += i + len(w)
			}
		})
	}
}

// telegramBudget is the budget the Telegram sender states
// (MessageBudget): its messages hold at most 4,000 UTF-16 units.
const telegramBudget = 3800

// TestCoalesceKeepsToThePlatform: one message holds what the sender's
// budget takes (Telegram's: under 4,000 UTF-16 units; the default more)
// and says how many it covers; a notice that is no event notification
// ends it before it.
func TestCoalesceKeepsToThePlatform(t *testing.T) {
	incs := map[string]*workflow.Incident{}
	var ns []workflow.Notice
	for i := range 400 {
		inc := generalIncident(fmt.Sprintf("YQ-%d", 1000+i), strings.Repeat("食堂饭菜价格上涨引发学生不满", 6)) // 84 characters
		incs[inc.ID] = inc
		ns = append(ns, openedCard(inc))
	}
	svc := workflow.NewService(manyStore{incs: incs}, mustRoster(t, true), workflow.NewManualClock(start))
	h := handlers.New(svc, "zh-CN")
	m, n := mustCoalesce(t, h, ns, telegramBudget)
	if size := len(utf16.Encode([]rune(m.Text))); size > 4000 || n < 40 || n >= len(ns) {
		t.Errorf("telegram: %d notices in %d UTF-16 units, want as many as fit in 4,000", n, size)
	}
	if !strings.Contains(m.Text, fmt.Sprintf("另有 %d 起事件新建", n)) || strings.Count(m.Text, "\n• ") != n {
		t.Errorf("telegram: the text does not list the %d notices it covers:\n%s", n, m.Text)
	}
	last := ns[n-1].Incident
	if !strings.Contains(m.Text, last+" ") || strings.Contains(m.Text, ns[n].Incident+" ") {
		t.Errorf("telegram: want the first %d listed, through %s", n, last)
	}
	if _, slack := mustCoalesce(t, h, ns, bot.DefaultMessageBudget); slack <= n {
		t.Errorf("slack: %d notices, want more than Telegram's %d", slack, n)
	}

	mixed := []workflow.Notice{ns[0], ns[1], {ID: "old", Incident: "YQ-1", Body: []byte(`{"text":"an earlier release"}`)}, ns[2]}
	if _, n := mustCoalesce(t, h, mixed, telegramBudget); n != 2 {
		t.Errorf("a body of an earlier release third: covered %d, want 2", n)
	}
	if _, n := mustCoalesce(t, h, mixed[1:3], telegramBudget); n >= 2 {
		t.Errorf("one event notification: covered %d, want fewer than 2 (it goes alone)", n)
	}
}

// fewCandidates is a workflow.IntakeStore holding some candidates, for
// rendering.
type fewCandidates struct {
	workflow.IntakeStore // nil: any other call panics
	cands                map[string]*workflow.Candidate
}

func (s fewCandidates) Candidate(_ context.Context, id string) (*workflow.Candidate, error) {
	c, ok := s.cands[id]
	if !ok {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no %s", "没有 %s", id)
	}
	return c.Clone(), nil
}

// TestCoalesceTriage: a burst of monitoring items is listed, not dropped:
// new ones with their suggested grade and how to judge them, reminders with
// how long they waited; a candidate judged since says so.
func TestCoalesceTriage(t *testing.T) {
	cands := map[string]*workflow.Candidate{}
	var ns []workflow.Notice
	for i, title := range []string{"Gate <closed> & locked", "Canteen prices", "Bus late again"} {
		c := &workflow.Candidate{ID: fmt.Sprintf("IT-%d", i+1), Version: 1, Title: title, Source: "weibo",
			State: workflow.CandidatePending, FoundAt: start, ReceivedAt: start,
			Suggestion: workflow.Suggestion{Level: workflow.LevelGeneral, Category: workflow.CategoryOther}}
		cands[c.ID] = c
		ns = append(ns, workflow.NewNotice(c.ID+">new", c.ID, workflow.ChannelIncidents, workflow.Notification{Kind: workflow.NoticeTriage,
			Thread: workflow.Thread{Kind: workflow.ThreadTriage}, Triage: &workflow.TriageStep{Step: workflow.TriageNew}}))
	}
	cands["IT-2"].State, cands["IT-2"].DecidedBy, cands["IT-2"].Reason = workflow.CandidateDismissed, "chen", "old news"
	ns = append(ns, workflow.NewNotice("IT-3>r1", "IT-3", workflow.ChannelIncidents, workflow.Notification{Kind: workflow.NoticeTriage,
		Triage: &workflow.TriageStep{Step: workflow.TriageReminder, Reminder: 1, Waited: 30 * time.Minute}}))
	svc := workflow.NewService(manyStore{}, mustRoster(t, true), workflow.NewManualClock(start))
	svc.UseIntake(fewCandidates{cands: cands})

	for _, tt := range []struct {
		locale string
		want   []string
	}{
		{"en", []string{
			"3 more items found by the monitoring, to judge (intake open <item>, intake dismiss <item> <reason>, or the board's triage lane):",
			"• IT-1 [general/other] Gate <closed> & locked",
			"• IT-2 [general/other] Canteen prices — IT-2 was dismissed by chen: old news",
			"• IT-3 [general/other] Bus late again",
			"1 more item still waiting for a judgement:",
			"• IT-3 [general/other] Bus late again — waited 30m",
			"(4 notices in one message:",
		}},
		{"zh-CN", []string{
			"另有 3 条监测发现待研判(监测 立案 <编号>、监测 排除 <编号> <理由>,或看板的研判栏):",
			"• IT-3 [一般/其他类] Bus late again",
			"另有 1 条监测发现仍待研判:",
			"— 已等待 30分钟",
		}},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			m, n := mustCoalesce(t, handlers.New(svc, tt.locale), ns, telegramBudget)
			if n != len(ns) || m.Kind != bot.MessageCoalesced {
				t.Fatalf("got %d notices in kind %q, want all %d coalesced", n, m.Kind, len(ns))
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(m.Text[at:], w)
				if i < 0 {
					t.Fatalf("got text\n%s\nwant %q after offset %d", m.Text, w, at)
				}
				at += i + len(w)
			}
		})
	}
}
