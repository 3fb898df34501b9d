package telegram_test

import (
	"strings"
	"testing"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/adapters/redis/redistest"
	"github.com/firebreak/firebreak/workflow"
)

func TestCommandsInTelegram(t *testing.T) {
	e := newEnv(t)
	if err := e.tg.Start(e.ctx); err != nil { // learns the bot's @username
		t.Fatalf("Start: %v", err)
	}
	e.do("chen", `open "Canteen complaint" level:major`)

	tests := []struct {
		name  string
		user  int64
		chat  int64
		text  string
		wants []string // in the reply; none: no reply at all
	}{
		{"incident command in a group", chenID, incidentsChat, "/incident status YQ-1", []string{"YQ-1", "Canteen complaint"}},
		{"addressed to this bot", chenID, incidentsChat, "/incident@firebreak_bot status YQ-1", []string{"Canteen complaint"}},
		{"addressed to another bot", chenID, incidentsChat, "/incident@other_bot status YQ-1", nil},
		{"other commands in a group are for other bots", chenID, incidentsChat, "/weather", nil},
		{"chatter in a group", chenID, incidentsChat, "status YQ-1", nil},
		{"plain text in a private chat", chenID, chenID, "status YQ-1", []string{"Canteen complaint"}},
		{"help", chenID, chenID, "/help", []string{"/incident open"}},
		{"unknown command in a private chat", chenID, chenID, "/frobnicate", []string{"Unknown command /frobnicate", "/whoami"}},
		{"a stranger is refused and told what to add to the roster", strangerID, incidentsChat, "/incident status YQ-1", []string{"not in the roster", "Your account here is telegram: 4242", "    roles: [staff]\n    telegram: 4242"}},
		{"whoami of a known person", chenID, chenID, "/whoami", []string{"<code>1001</code>", "Chen Jing (chen)", "staff"}},
		{"start of a stranger", strangerID, strangerID, "/start", []string{"<code>4242</code>", "does not know you", "telegram: 4242", "name: Fei Ma", "id: mafei"}},
		{"whoami in a group tells the chat ID", strangerID, leadersChat, "/whoami@firebreak_bot", []string{"<code>4242</code>", "<code>-100222</code>", "leaders: {telegram: -100222}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.messageUpdate(tt.user, tt.chat, tt.text)
			e.postUpdate(u)
			replies := e.repliesTo(u.Message.MessageID)
			if len(tt.wants) == 0 {
				if len(replies) != 0 {
					t.Errorf("got reply %q, want none", replies[0].Params.Get("text"))
				}
				return
			}
			if len(replies) != 1 {
				t.Fatalf("got %d replies, want 1", len(replies))
			}
			if got := replies[0].Params.Get("chat_id"); got != itoa(int(tt.chat)) {
				t.Errorf("reply chat: got %s, want %d", got, tt.chat)
			}
			wantContains(t, "reply", replies[0].Params.Get("text"), tt.wants...)
		})
	}
}

// TestReplyRefusedForGood: a reply Telegram refuses for good (the bot was
// removed from the group) is dropped rather than holding the update.
func TestReplyRefusedForGood(t *testing.T) {
	e := newEnv(t)
	e.api.fail("sendMessage", 403, `{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked from the supergroup chat"}`)
	u := e.messageUpdate(chenID, incidentsChat, "/incident help")
	e.postUpdate(u) // 200: handled
	e.postUpdate(u) // and not again
	if got := len(e.repliesTo(u.Message.MessageID)); got != 1 {
		t.Errorf("reply attempts: got %d, want 1", got)
	}
}

func TestCommandReplyCardHasButtons(t *testing.T) {
	e := newEnv(t)
	e.do("chen", `open "Canteen complaint" level:major`)
	e.do("chen", "assign YQ-1 li")
	u := e.messageUpdate(chenID, incidentsChat, "/incident status YQ-1")
	e.postUpdate(u)
	replies := e.repliesTo(u.Message.MessageID)
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1", len(replies))
	}
	kb := keyboardOf(t, replies[0].Params.Get("reply_markup"))
	if len(kb) == 0 || !strings.Contains(strings.Join(kb[0], " "), "ack:YQ-1") {
		t.Errorf("status card keyboard: got %v, want the Acknowledge button", kb)
	}
}

func TestBotAddedToGroupTellsTheChatID(t *testing.T) {
	e := newEnv(t)
	u := tgbotapi.Update{UpdateID: e.nextUpdateID(), MyChatMember: &tgbotapi.ChatMemberUpdated{
		Chat:          tgbotapi.Chat{ID: -100333, Type: "supergroup", Title: "Press office"},
		From:          tgbotapi.User{ID: chenID},
		OldChatMember: tgbotapi.ChatMember{Status: "left", User: &tgbotapi.User{ID: 999, IsBot: true}},
		NewChatMember: tgbotapi.ChatMember{Status: "member", User: &tgbotapi.User{ID: 999, IsBot: true}},
	}}
	e.postUpdate(u)
	msgs := e.api.messagesIn(-100333)
	if len(msgs) != 1 {
		t.Fatalf("messages in the new group: got %d, want 1", len(msgs))
	}
	wantContains(t, "greeting", msgs[0].Text, "<code>-100333</code>", "channels:")
}

func TestChineseTexts(t *testing.T) {
	e := &env{t: t, ctx: t.Context(), api: newFakeAPI(t), update: 100, clock: workflow.NewManualClock(fixedNow)}
	e.store = redistest.NewStore(t)
	e.build(e.store, testRoster(t, workflow.LocaleZH), workflow.LocaleZH, "")
	e.do("chen", `open 食堂投诉 级别:重大`)
	e.do("chen", "draft YQ-1 第一版")
	e.deliver()
	v1 := e.approvalRequest(leadersChat, "approve:YQ-1:1")
	wantContains(t, "request", v1.Text, "请审批 YQ-1 的统一口径")
	if got := keyboardOf(t, v1.Markup); len(got) != 1 || got[0][0] != "批准=approve:YQ-1:1" || got[0][1] != "驳回=reject:YQ-1:1" {
		t.Errorf("keyboard: got %v, want 批准 and 驳回", got)
	}
	ans := e.press(wangID, v1, "reject:YQ-1:1")
	wantContains(t, "reject answer", ans.Params.Get("text"), "理由")
	wantContains(t, "prompt", e.repliesTo(v1.ID)[0].Params.Get("text"), "请直接回复本消息说明驳回理由")

	e.do("chen", "draft YQ-1 第二版")
	e.deliver()
	old, _ := e.api.message(leadersChat, v1.ID)
	wantContains(t, "superseded", old.Text, "已被第 2 版取代")

	u := e.messageUpdate(strangerID, strangerID, "/whoami")
	e.postUpdate(u)
	wantContains(t, "whoami", e.repliesTo(u.Message.MessageID)[0].Params.Get("text"), "您的 Telegram 用户 ID 是", "名册中还没有您")
}
