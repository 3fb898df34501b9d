package slack

import (
	"regexp"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Platform describes Slack to the roster: a person's Slack user ID (U… or
// W…, as in the member's profile) under slack:, a channel's conversation ID
// (C… public, G… private, D… direct) under slack:.
var Platform = workflow.Platform{
	Name:         bot.PlatformSlack,
	ParseAccount: parseUserID,
	ParseAddress: parseConversationID,
}

var (
	userID         = regexp.MustCompile(`^[UW][A-Z0-9]+$`)
	conversationID = regexp.MustCompile(`^[CGD][A-Z0-9]+$`)
)

func parseUserID(s string) (string, error) {
	if !userID.MatchString(s) {
		return "", workflow.Errorf(workflow.CodeInvalid, "must be a Slack user ID (U… or W…, capital letters and digits), not %q",
			"必须是 Slack 用户 ID(U… 或 W…,大写字母和数字),而不是 %q", s)
	}
	return s, nil
}

func parseConversationID(s string) (string, error) {
	if !conversationID.MatchString(s) {
		return "", workflow.Errorf(workflow.CodeInvalid, "must be a Slack channel ID (C…, G… or D…, capital letters and digits), not %q",
			"必须是 Slack 频道 ID(C…、G… 或 D…,大写字母和数字),而不是 %q", s)
	}
	return s, nil
}
