package main

import (
	"context"
	"net/http"

	"github.com/firebreak/firebreak/bot"
)

// setupWeb registers the playground (when playground is true) and the board
// on mux, and returns the web adapter's outbox sender (nil when it has none).
func setupWeb(ctx context.Context, a *app, cfg Config, mux *http.ServeMux, playground bool) (bot.Sender, error) {
	return nil, nil
}
