package handlers_test

import (
	"context"
	"fmt"
	"slices"
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

// TestListResolved: list resolved [YYYY-MM] [page:N] (已办结) lists the
// incidents resolved in a calendar month of the roster's timezone
// (Shanghai: 1 March 00:30 there is still February in UTC), in the order
// they were resolved, not found, 20 a page with the line to the next page
// naming the month; another month, an empty month, a page past the last and
// bad months. It runs at a whole hour and at an irregular instant, in both
// languages, and must read the same at both.
func TestListResolved(t *testing.T) {
	roster := fuzzRoster(t)
	sh := roster.Location()
	march := time.Date(2026, 3, 2, 9, 0, 0, 0, sh) // a Monday, 09:00 in Shanghai
	type step struct{ in, want string }
	// line is a line of the list in either language.
	line := func(locale string, id, title, at string) string {
		if locale == workflow.LocaleZH {
			return fmt.Sprintf("%s [一般/其他类] %s — %s 办结,Chen Jing", id, title, at)
		}
		return fmt.Sprintf("%s [general/other] %s — resolved %s, Chen Jing", id, title, at)
	}
	for _, locale := range []string{workflow.LocaleEN, workflow.LocaleZH} {
		var first []string // the replies at the first start, which every start must reproduce
		for _, offset := range []time.Duration{0, 123456789 * time.Nanosecond} {
			t.Run(fmt.Sprintf("%s/start+%dns", locale, offset), func(t *testing.T) {
				ctx := context.Background()
				store := newFuzzStore()
				clock := workflow.NewManualClock(march.Add(-4*24*time.Hour + offset)) // 26 February
				svc := workflow.NewService(store, roster, clock)
				r := bot.NewRouter(roster, locale, nil)
				handlers.New(svc, locale).Register(r)
				open := func(title string) string {
					t.Helper()
					inc, _, err := svc.Open(ctx, "chen", workflow.OpenInput{Title: title, Category: workflow.CategoryOther})
					if err != nil {
						t.Fatal(err)
					}
					return inc.ID
				}
				resolveAt := func(id string, at time.Time) {
					t.Helper()
					clock.Set(at.Add(offset))
					if _, _, err := svc.Resolve(ctx, "chen", id, "answered", false); err != nil {
						t.Fatal(err)
					}
				}
				// February: two resolved, the second a moment before March
				// begins in Shanghai.
				feb1, feb2 := open("Bus route"), open("Library hours")
				resolveAt(feb1, time.Date(2026, 2, 27, 16, 5, 0, 0, sh))
				resolveAt(feb2, time.Date(2026, 2, 28, 23, 59, 59, 0, sh))
				// March: 1 March 00:30 in Shanghai (28 February in UTC), then
				// 23 found in one order and resolved in the reverse order,
				// the last on 2 March 09:00; one stays open, one is reopened.
				clock.Set(time.Date(2026, 3, 1, 0, 10, 0, 0, sh).Add(offset))
				early := open("Night post")
				resolveAt(early, time.Date(2026, 3, 1, 0, 30, 0, 0, sh))
				var ids []string
				for i := 1; i <= 23; i++ {
					ids = append(ids, open(fmt.Sprintf("Complaint %d", i)))
				}
				stillOpen := open("Still open")
				reopened := open("Reopened")
				resolveAt(reopened, time.Date(2026, 3, 1, 8, 0, 0, 0, sh))
				for i := range ids {
					resolveAt(ids[len(ids)-1-i], march.Add(time.Duration(i-22)*7*time.Minute))
				}
				if _, _, err := svc.Reopen(ctx, "chen", reopened, "the post is back"); err != nil {
					t.Fatal(err)
				}
				clock.Set(march.Add(10*time.Minute + offset))

				marchLines := []string{line(locale, early, "Night post", "03-01 00:30")}
				for i := range ids {
					at := march.Add(time.Duration(i-22) * 7 * time.Minute)
					when := at.Format("01-02 15:04")
					if at.Day() == 2 {
						when = at.Format("15:04")
					}
					marchLines = append(marchLines, line(locale, ids[len(ids)-1-i], fmt.Sprintf("Complaint %d", 23-i), when))
				}
				febLines := []string{line(locale, feb1, "Bus route", "02-27 16:05"), line(locale, feb2, "Library hours", "02-28 23:59")}
				tr := func(en, zh string) string {
					if locale == workflow.LocaleZH {
						return zh
					}
					return en
				}
				usage := tr("Usage: /incident list [open|overdue|mine|resolved [YYYY-MM]] [page:N]",
					"用法:/incident list [open|overdue|mine|resolved [YYYY-MM]] [page:N]")
				page1 := strings.Join(marchLines[:20], "\n") + "\n" +
					tr("… and 4 more (in the order resolved): list resolved 2026-03 page:2",
						"……另有 4 件(按办结时间排序):list resolved 2026-03 page:2")
				page2 := strings.Join(marchLines[20:], "\n")
				steps := []step{
					{"list resolved", page1},
					{"list resolved 2026-03", page1},
					{"list resolved page:2", page2},
					{"list resolved 2026-03 页:2", page2},
					{"列表 已办结 2026-03 page:1", strings.Replace(page1, "list resolved", "list 已办结", 1)},
					{"list resolved 2026-02", strings.Join(febLines, "\n")},
					{"list 已办结 2026-01", tr("No incident was resolved in 2026-01.", "2026-01 没有办结的事件。")},
					{"list resolved 2026-04", tr("No incident was resolved in 2026-04.", "2026-04 没有办结的事件。")},
					{"list resolved page:3", tr("⚠ page:3: there are only 2 page(s)\n", "⚠ page:3:共只有 2 页\n") + usage},
					{"list resolved 2026-13", tr(`⚠ "2026-13" is not a month: write it YYYY-MM, for example 2026-03`+"\n",
						`⚠ "2026-13" 不是月份:请写作 YYYY-MM,例如 2026-03`+"\n") + usage},
					{"list resolved nov", tr(`⚠ "nov" is not a month: write it YYYY-MM, for example 2026-03`+"\n",
						`⚠ "nov" 不是月份:请写作 YYYY-MM,例如 2026-03`+"\n") + usage},
					{"list resolved 2026-03 2026-02", tr("⚠ list resolved takes one month, YYYY-MM, and page:N\n",
						"⚠ list resolved 只接受一个月份(YYYY-MM)以及 page:N\n") + usage},
					// The open list keeps the open and the reopened, none resolved.
					{"list", tr(stillOpen+" [general/other] Still open — assigned, Chen Jing; department takes it on OVERDUE by 1d6h40m (due 03-01 02:30)\n"+
						reopened+" [major/other] Reopened — assigned, Chen Jing; report to leaders by 09:30 (in 20m)",
						stillOpen+" [一般/其他类] Still open — 已指派, Chen Jing; 部门接办 已超时 1天6小时40分钟(时限 03-01 02:30)\n"+
							reopened+" [重大/其他类] Reopened — 已指派, Chen Jing; 报告领导 09:30 前(剩余 20分钟)")},
				}
				applied := len(store.applied)
				var got []string
				for _, s := range steps {
					reply := r.Handle(ctx, &bot.Request{Platform: bot.PlatformConsole, Actor: "li", Text: s.in})
					got = append(got, reply.Text)
					if reply.Text != s.want {
						t.Errorf("%s:\ngot:\n%s\nwant:\n%s", s.in, reply.Text, s.want)
					}
				}
				if len(store.applied) != applied {
					t.Errorf("listing wrote %d changes, want none", len(store.applied)-applied)
				}
				if first == nil {
					first = got
				} else if !slices.Equal(got, first) {
					t.Errorf("the replies differ from those at the whole hour")
				}
			})
		}
	}
}
