package bot_test

import (
	"testing"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func TestOnboardingEntry(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    bot.Onboarding
		want string
	}{
		{"a user name suggests the id", bot.Onboarding{Platform: "slack", Account: "U2CERLKJA", Handle: "roadrunner"},
			"  - id: roadrunner\n    name: <your name>\n    roles: [staff]\n    slack: U2CERLKJA"},
		{"lower case, dots kept", bot.Onboarding{Platform: "telegram", Account: "1001", Handle: "Chen.Jing", Name: "Chen Jing"},
			"  - id: chen.jing\n    name: Chen Jing\n    roles: [staff]\n    telegram: 1001"},
		{"no usable letters", bot.Onboarding{Platform: "telegram", Account: "1002", Handle: "陈静", Name: "陈静"},
			"  - id: <your-id>\n    name: 陈静\n    roles: [staff]\n    telegram: 1002"},
		{"a name cannot add lines", bot.Onboarding{Platform: "telegram", Account: "1003", Name: "Li\n    roles: [leader]"},
			"  - id: <your-id>\n    name: Li roles: [leader]\n    roles: [staff]\n    telegram: 1003"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Entry().In(workflow.LocaleEN); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
	if got := (bot.Onboarding{Platform: "slack", Account: "U1"}).Entry().ZH; got != "  - id: <your-id>\n    name: <您的姓名>\n    roles: [staff]\n    slack: U1" {
		t.Errorf("Chinese entry: got %q", got)
	}
}
