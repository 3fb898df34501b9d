package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// TestListPageFitsOneTelegramMessage: a full page of list, of incidents
// with the longest titles and category names and overdue deadlines, with its
// "and K more" line, stays within Telegram's 4,096 characters, in both
// languages.
func TestListPageFitsOneTelegramMessage(t *testing.T) {
	roster := fuzzRoster(t)
	base := time.Date(2026, 3, 2, 1, 17, 23, 456_000_000, time.UTC)
	store := newFuzzStore()
	svc := workflow.NewService(store, roster, workflow.NewManualClock(base))
	ctx := context.Background()
	for i := range workflow.PageSize + 5 {
		title := fmt.Sprintf("%03d ", i) + strings.Repeat("长", workflow.MaxTitle-4)
		if _, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: title, Level: workflow.LevelCritical,
			Category: workflow.CategoryRumor, FoundAt: base.Add(-29 * 24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, locale := range []string{workflow.LocaleEN, workflow.LocaleZH} {
		r := bot.NewRouter(roster, locale, nil)
		handlers.New(svc, locale).Register(r)
		reply := r.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: "chen", Text: "list"})
		lines := strings.Split(reply.Text, "\n")
		if n := utf8.RuneCountInString(reply.Text); n > 4096 || len(lines) != workflow.PageSize+1 {
			t.Errorf("%s: %d characters in %d lines, want at most 4,096 in %d:\n%s", locale, n, len(lines), workflow.PageSize+1, reply.Text)
		}
		if !strings.Contains(lines[len(lines)-1], "5") {
			t.Errorf("%s: last line %q, want the 5 more", locale, lines[len(lines)-1])
		}
	}
}
