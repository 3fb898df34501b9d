package bot

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/firebreak/firebreak/workflow"
)

// ErrNotInRoster refuses a request by someone the roster does not know when
// there is no platform account to name (a stale or made-up roster ID).
var ErrNotInRoster = workflow.Errorf(workflow.CodeForbidden, "you are not in the roster; ask an administrator to add you",
	"您不在名册中,请联系管理员添加")

// Onboarding describes what to add to the roster for someone it does not
// know: one description for every platform, which each adapter fills with
// its own key and the person's account. The router answers with Text (a
// Request with Account and no Actor); an adapter may show the parts itself
// (Telegram's /whoami).
type Onboarding struct {
	// Platform is the platform's roster key ("slack"), Account the
	// person's user ID there ("U0NOBODY").
	Platform, Account string
	// Handle is the person's user name on the platform; it suggests the
	// roster ID. Name is their display name. Either may be "".
	Handle, Name string
}

// Text is the refusal of a request: nothing was done, the account, and
// how to be added (Ask and Entry). Its first sentences say all that is
// needed, for platforms that cut long text (a Telegram alert).
func (o Onboarding) Text() workflow.Text {
	ask, entry := o.Ask(), o.Entry()
	return workflow.Text{
		EN: fmt.Sprintf("You are not in the roster yet, so nothing was done. Your account here is %s: %s. %s\n\n%s",
			o.Platform, o.Account, ask.EN, entry.EN),
		ZH: fmt.Sprintf("您还不在 Firebreak 名册中,因此未做任何操作。您在此平台的账号是 %s: %s。%s\n\n%s",
			o.Platform, o.Account, ask.ZH, entry.ZH),
	}
}

// Ask says who adds the person and where; Entry follows it.
func (o Onboarding) Ask() workflow.Text {
	return workflow.Text{
		EN: "Ask an administrator to add you under people: in the roster file (FIREBREAK_ROSTER), " +
			"with the roles you need (staff, leader, principal, spokesperson), and to restart Firebreak:",
		ZH: "请联系管理员在名册文件(FIREBREAK_ROSTER)的 people: 下添加您,并注明所需角色" +
			"(staff、leader、principal、spokesperson),然后重启 Firebreak:",
	}
}

// Entry is the person's entry of the roster file, indented as under people:.
func (o Onboarding) Entry() workflow.Text {
	entry := func(placeholder string) string {
		return fmt.Sprintf("  - id: %s\n    name: %s\n    roles: [staff]\n    %s: %s",
			rosterID(o.Handle), cmp.Or(strings.Join(strings.Fields(o.Name), " "), placeholder), o.Platform, o.Account)
	}
	return workflow.Text{EN: entry("<your name>"), ZH: entry("<您的姓名>")}
}

// Err is Text as the router's refusal.
func (o Onboarding) Err() error {
	return &workflow.Error{Code: workflow.CodeForbidden, Msg: o.Text()}
}

// rosterID suggests a roster ID from a user name: lower case letters,
// digits, "-", "_" and "." only.
func rosterID(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "<your-id>"
	}
	return b.String()
}
