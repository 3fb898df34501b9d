package slack

import (
	"errors"
	"testing"

	slackgo "github.com/slack-go/slack"

	"github.com/firebreak/firebreak/bot"
)

// TestRefusedForGood: Slack's answers the same message will meet again are
// bot.ErrRefused (dead-lettered at once); a refused token is retried.
func TestRefusedForGood(t *testing.T) {
	for code, want := range map[string]bool{
		"channel_not_found": true, "not_in_channel": true, "invalid_blocks": true, "msg_too_long": true,
		"invalid_auth": false, "token_revoked": false, "internal_error": false,
	} {
		err := sendError("chat.postMessage", slackgo.SlackErrorResponse{Err: code})
		if got := errors.Is(err, bot.ErrRefused); got != want {
			t.Errorf("%s: got refused %v, want %v (%v)", code, got, want, err)
		}
	}
}
