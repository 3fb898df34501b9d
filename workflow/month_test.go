package workflow_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

func TestParseMonth(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	// 1 March 2026, 00:30 in Shanghai: still February in UTC.
	now := time.Date(2026, 2, 28, 16, 30, 0, 123456789, time.UTC)
	march := time.Date(2026, 3, 1, 0, 0, 0, 0, sh)
	tests := []struct {
		name, in string
		want     workflow.Period
		bad      string // the English reason, when in is refused
	}{
		{name: "empty: the month of now in the roster's timezone", in: "", want: workflow.Period{From: march, To: march.AddDate(0, 1, 0)}},
		{name: "a month", in: "2025-12", want: workflow.Period{From: time.Date(2025, 12, 1, 0, 0, 0, 0, sh), To: time.Date(2026, 1, 1, 0, 0, 0, 0, sh)}},
		{name: "spaces around", in: " 2024-02 ", want: workflow.Period{From: time.Date(2024, 2, 1, 0, 0, 0, 0, sh), To: time.Date(2024, 3, 1, 0, 0, 0, 0, sh)}},
		{name: "month 13", in: "2026-13", bad: `"2026-13" is not a month: write it YYYY-MM, for example 2026-03`},
		{name: "a word", in: "nov", bad: `"nov" is not a month: write it YYYY-MM, for example 2026-03`},
		{name: "one digit", in: "2026-3", bad: `"2026-3" is not a month: write it YYYY-MM, for example 2026-03`},
		{name: "a day", in: "2026-03-01", bad: `"2026-03-01" is not a month: write it YYYY-MM, for example 2026-03`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workflow.ParseMonth(tt.in, now, sh)
			if tt.bad != "" {
				text := workflow.ErrorText(err)
				if workflow.ErrorCode(err) != workflow.CodeInvalid || text == nil || text.EN != tt.bad || text.ZH == "" {
					t.Errorf("ParseMonth(%q): got %v, want invalid: %s (and a Chinese text)", tt.in, err, tt.bad)
				}
				return
			}
			if err != nil || !got.From.Equal(tt.want.From) || !got.To.Equal(tt.want.To) {
				t.Errorf("ParseMonth(%q): got %v – %v (%v), want %v – %v", tt.in, got.From, got.To, err, tt.want.From, tt.want.To)
			}
		})
	}
}

// TestResolvedPage: the incidents resolved in a month, in the order they
// were resolved (not found), paged the same way every time; the months
// around it do not see them; a page past the last is refused.
func TestResolvedPage(t *testing.T) {
	e := newEnv(t)
	var want []string
	for i := range workflow.PageSize + 3 {
		inc := mustOpen(t, e, "chen", workflow.OpenInput{Title: fmt.Sprintf("Complaint %d", i)})
		want = append([]string{inc.ID}, want...) // resolved in the reverse order
	}
	for i, id := range want {
		e.clock.Set(e.at(10, 9, i))
		must(t)(e.svc.Resolve(t.Context(), "chen", id, "answered", false))
	}
	march := workflow.MonthOf(e.clock.Now(), e.loc)
	var got []string
	for n := 1; n <= 2; n++ {
		p, err := e.svc.ResolvedPage(t.Context(), "sun", march, n)
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != len(want) {
			t.Errorf("page %d: total %d, want %d", n, p.Total, len(want))
		}
		for _, inc := range p.Incidents {
			got = append(got, inc.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages 1 and 2: got %q, want %q", got, want)
	}
	if _, err := e.svc.ResolvedPage(t.Context(), "sun", march, 3); workflow.ErrorCode(err) != workflow.CodeInvalid {
		t.Errorf("page 3: got %v, want invalid", err)
	}
	for _, p := range []workflow.Period{workflow.MonthOf(e.at(1, 0, 0).Add(-time.Second), e.loc), workflow.MonthOf(e.at(31, 23, 59).Add(time.Minute), e.loc)} {
		if page, err := e.svc.ResolvedPage(t.Context(), "sun", p, 1); err != nil || page.Total != 0 {
			t.Errorf("%s: got %d (%v), want none", p.From.Format("2006-01"), page.Total, err)
		}
	}
	if _, err := e.svc.ResolvedPage(t.Context(), "mallory", march, 1); workflow.ErrorCode(err) != workflow.CodeForbidden {
		t.Errorf("by someone not in the roster: got %v, want forbidden", err)
	}
}
