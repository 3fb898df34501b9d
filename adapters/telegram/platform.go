package telegram

import (
	"strconv"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Platform describes Telegram to the roster: a person's Telegram user ID (a
// positive integer; /whoami shows it) under telegram:, a group's chat ID (a
// negative integer; the bot tells a group its ID when added) under
// telegram:.
var Platform = workflow.Platform{
	Name:         bot.PlatformTelegram,
	ParseAccount: parseUserID,
	ParseAddress: parseChatID,
}

func parseUserID(s string) (string, error) {
	n, err := parseInteger(s)
	if err != nil {
		return "", err
	}
	if n <= 0 {
		return "", workflow.Errorf(workflow.CodeInvalid, "must be a user ID (a positive integer), not %d",
			"必须是用户 ID(正整数),而不是 %d", n)
	}
	return strconv.FormatInt(n, 10), nil
}

func parseChatID(s string) (string, error) {
	n, err := parseInteger(s)
	if err != nil {
		return "", err
	}
	if n >= 0 {
		return "", workflow.Errorf(workflow.CodeInvalid, "must be a group's chat ID (a negative integer), not %d",
			"必须是群组 ID(负整数),而不是 %d", n)
	}
	return strconv.FormatInt(n, 10), nil
}

func parseInteger(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, workflow.Errorf(workflow.CodeInvalid, "must be an integer, not %q", "必须是整数,而不是 %q", s)
	}
	return n, nil
}
