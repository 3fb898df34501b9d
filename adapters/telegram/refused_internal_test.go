package telegram

import (
	"errors"
	"testing"

	"github.com/firebreak/firebreak/bot"
)

// TestRefusedForGood: a bad request or a chat the bot may not write to is
// refused for good (dead-lettered at once); a moved chat, a refused token,
// a rate limit or a server error is not.
func TestRefusedForGood(t *testing.T) {
	tests := []struct {
		err  *apiError
		want bool
	}{
		{&apiError{code: 400, description: "Bad Request: chat not found"}, true},
		{&apiError{code: 403, description: "Forbidden: bot was blocked by the user"}, true},
		{&apiError{code: 400, description: "Bad Request: group chat was upgraded to a supergroup chat", migrateTo: -1001}, false},
		{&apiError{code: 401, description: "Unauthorized"}, false},
		{&apiError{code: 429, description: "Too Many Requests"}, false},
		{&apiError{code: 502, description: "Bad Gateway"}, false},
	}
	for _, tt := range tests {
		if got := errors.Is(error(tt.err), bot.ErrRefused); got != tt.want {
			t.Errorf("%d %s: got refused %v, want %v", tt.err.code, tt.err.description, got, tt.want)
		}
	}
}
