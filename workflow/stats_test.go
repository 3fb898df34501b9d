package workflow_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// statsPolicy keeps the figures easy to compute by hand: general incidents
// have an assign (1h) and an answer (24h) deadline, major and critical ones
// report (30m), assign (30m) and respond (3h).
var statsPolicy = workflow.Policy{
	workflow.LevelGeneral:  {Assign: time.Hour, Answer: 24 * time.Hour},
	workflow.LevelMajor:    {Report: 30 * time.Minute, Assign: 30 * time.Minute, Respond: 3 * time.Hour},
	workflow.LevelCritical: {Report: 30 * time.Minute, Assign: 30 * time.Minute, Respond: 3 * time.Hour},
}

// statsT0 is an odd instant, so that no figure depends on round times.
var statsT0 = time.Date(2026, 3, 2, 9, 0, 0, 123_456_789, time.UTC)

func at(d time.Duration) time.Time { return statsT0.Add(d) }

func statsIncidents() []*workflow.Incident {
	h, m := time.Hour, time.Minute
	return []*workflow.Incident{
		{ // A: general, every deadline met on time, resolved.
			ID: "YQ-1", Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry, Department: "office",
			Source: "https://www.weibo.com/1", Status: workflow.StatusResolved,
			FoundAt: at(0), AckedAt: at(30 * m), ResolvedAt: at(20 * h)},
		{ // B: major, report on time, assign 20m late, reply on time, referred.
			ID: "YQ-2", Level: workflow.LevelMajor, Category: workflow.CategoryHype, Department: "police",
			Source: "weibo.com/2", Status: workflow.StatusAcknowledged,
			FoundAt: at(h), Receipts: []workflow.Receipt{{By: "wang", At: at(h + 10*m)}}, AckedAt: at(h + 50*m),
			Statements: []workflow.Statement{{At: at(3 * h)}}, ReferredAt: at(5 * h)},
		{ // C: escalated at +3h; report never made, assign 30m late, reply 1h late.
			ID: "YQ-3", Level: workflow.LevelMajor, Category: workflow.CategoryRumor, Department: "office",
			Source: "https://douyin.com/x?y=1", Status: workflow.StatusAcknowledged,
			FoundAt: at(2 * h), EscalatedAt: at(3 * h), AckedAt: at(4 * h),
			Statements: []workflow.Statement{{At: at(7 * h)}}},
		{ // D: resolved before anyone took it on (assign left unmet), answer on time.
			ID: "YQ-4", Level: workflow.LevelGeneral, Category: workflow.CategoryOther,
			Source: "weibo", Status: workflow.StatusResolved,
			FoundAt: at(3 * h), ResolvedAt: at(3*h + 30*m)},
		{ // E: found before the period.
			ID: "YQ-5", Level: workflow.LevelCritical, Category: workflow.CategoryRumor, Status: workflow.StatusNew,
			FoundAt: at(-h)},
		{ // F: found half an hour ago: both deadlines pending.
			ID: "YQ-6", Level: workflow.LevelGeneral, Category: workflow.CategoryInquiry,
			Source: "http://Weibo.com:8080/3", Status: workflow.StatusNew,
			FoundAt: at(47*h + 30*m)},
	}
}

func TestComputeStats(t *testing.T) {
	h, m := time.Hour, time.Minute
	period := workflow.Period{From: at(0), To: at(7 * 24 * h)}
	now := at(48 * h)
	tests := []struct {
		name string
		incs []*workflow.Incident
		want workflow.Stats
	}{{
		name: "empty period",
		want: workflow.Stats{Period: period, Now: now,
			ByLevel:      []workflow.Count{{"general", 0}, {"major", 0}, {"critical", 0}},
			ByCategory:   []workflow.Count{{"inquiry", 0}, {"hype", 0}, {"rumor", 0}, {"other", 0}},
			ByDepartment: []workflow.Count{}, Sources: []workflow.Count{}},
	}, {
		name: "seeded week",
		// The incidents twice: each counts once.
		incs: append(statsIncidents(), statsIncidents()...),
		want: workflow.Stats{Period: period, Now: now, Incidents: 5, Open: 3,
			ByLevel:      []workflow.Count{{"general", 3}, {"major", 2}, {"critical", 0}},
			ByCategory:   []workflow.Count{{"inquiry", 2}, {"hype", 1}, {"rumor", 1}, {"other", 1}},
			ByDepartment: []workflow.Count{{"", 2}, {"office", 2}, {"police", 1}},
			Escalated:    1, Referred: 1,
			Deadlines: []workflow.DeadlineStats{
				{Kind: workflow.DeadlineReport, OnTime: 1, Missed: 1,
					// C's report was due at +3h30m and is still unmet at +48h.
					Lateness:   workflow.Spread{N: 1, Median: 44*h + 30*m, P90: 44*h + 30*m},
					TimeToMeet: workflow.Spread{N: 1, Median: 10 * m, P90: 10 * m}},
				{Kind: workflow.DeadlineAssign, OnTime: 1, Missed: 2, Pending: 1, Unneeded: 1,
					// D's was not needed: resolved before it fell, it is
					// neither met nor missed.
					Lateness:   workflow.Spread{N: 2, Median: 25 * m, P90: 30 * m},
					TimeToMeet: workflow.Spread{N: 3, Median: 50 * m, P90: h}},
				{Kind: workflow.DeadlineRespond, OnTime: 1, Missed: 1,
					Lateness:   workflow.Spread{N: 1, Median: h, P90: h},
					TimeToMeet: workflow.Spread{N: 2, Median: 3 * h, P90: 4 * h}},
				{Kind: workflow.DeadlineAnswer, OnTime: 2, Pending: 1,
					TimeToMeet: workflow.Spread{N: 2, Median: 10*h + 15*m, P90: 20 * h}},
			},
			ToReply: workflow.Spread{N: 2, Median: 3*h + 30*m, P90: 5 * h},
			Sources: []workflow.Count{{"weibo.com", 3}, {"douyin.com", 1}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workflow.ComputeStats(period, tt.incs, statsPolicy, workflow.Calendar{Location: time.UTC}, now)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestStatsKeepAnEscalationLoweredAgain: an incident escalated by rule and
// then lowered to general (which puts it back under the general process)
// still counts as escalated, and so does one escalated again.
func TestStatsKeepAnEscalationLoweredAgain(t *testing.T) {
	e := newEnv(t)
	inc := mustOpen(t, e, "chen", workflow.OpenInput{Level: workflow.LevelGeneral, Category: workflow.CategoryRumor})
	escalated := func() int {
		t.Helper()
		got, err := e.svc.Incident(t.Context(), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		period := workflow.Period{From: e.clock.Now().Add(-24 * time.Hour), To: e.clock.Now().Add(time.Hour)}
		return workflow.ComputeStats(period, []*workflow.Incident{got}, e.roster.Policy, e.roster.Calendar(), e.clock.Now()).Escalated
	}
	if n := escalated(); n != 0 {
		t.Fatalf("before: escalated %d, want 0", n)
	}
	e.clock.Advance(time.Minute)
	if got := must(t)(e.svc.Spread(t.Context(), "chen", inc.ID, "reposted widely")); got.Level != workflow.LevelMajor {
		t.Fatalf("spread: level %s, want major", got.Level)
	}
	e.clock.Advance(time.Minute)
	must(t)(e.svc.SetLevel(t.Context(), "wang", inc.ID, workflow.LevelChange{Level: workflow.LevelGeneral, Reason: "contained"}))
	if n := escalated(); n != 1 {
		t.Errorf("lowered again: escalated %d, want 1", n)
	}
}

func TestDeadlineStatsShare(t *testing.T) {
	tests := []struct {
		name   string
		ds     workflow.DeadlineStats
		want   int
		wantOK bool
	}{
		{"none decided", workflow.DeadlineStats{Pending: 3}, 0, false},
		{"one of three", workflow.DeadlineStats{OnTime: 1, Missed: 2, Pending: 5}, 33, true},
		{"all", workflow.DeadlineStats{OnTime: 4}, 100, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.ds.Share()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %d %v, want %d %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestSpreadOf(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name string
		in   []time.Duration
		want workflow.Spread
	}{
		{"none", nil, workflow.Spread{}},
		{"one", []time.Duration{7 * m}, workflow.Spread{N: 1, Median: 7 * m, P90: 7 * m}},
		{"odd count", []time.Duration{9 * m, m, 5 * m}, workflow.Spread{N: 3, Median: 5 * m, P90: 9 * m}},
		{"even count: mean of the middle two", []time.Duration{40 * m, 10 * m, 20 * m, 25 * m},
			workflow.Spread{N: 4, Median: 22*m + 30*time.Second, P90: 40 * m}},
		{"ten: p90 is the 9th", []time.Duration{m, 2 * m, 3 * m, 4 * m, 5 * m, 6 * m, 7 * m, 8 * m, 9 * m, 10 * m},
			workflow.Spread{N: 10, Median: 5*m + 30*time.Second, P90: 9 * m}},
		{"eleven: p90 is the 10th", []time.Duration{m, 2 * m, 3 * m, 4 * m, 5 * m, 6 * m, 7 * m, 8 * m, 9 * m, 10 * m, 11 * m},
			workflow.Spread{N: 11, Median: 6 * m, P90: 10 * m}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workflow.SpreadOf(tt.in); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	shanghai := mustLocation(t, "Asia/Shanghai")
	now := time.Date(2026, 3, 18, 10, 20, 30, 500, shanghai)
	day := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, shanghai) }
	tests := []struct {
		name    string
		in      string
		want    workflow.Period
		wantErr string
	}{
		{"default is the last 7 days", "", workflow.Period{From: now.Add(-7 * 24 * time.Hour), To: now}, ""},
		{"week", "week", workflow.Period{From: now.Add(-7 * 24 * time.Hour), To: now}, ""},
		{"month is the last 30 days", "Month", workflow.Period{From: now.Add(-30 * 24 * time.Hour), To: now}, ""},
		{"Chinese month", "本月", workflow.Period{From: now.Add(-30 * 24 * time.Hour), To: now}, ""},
		{"calendar month", "2026-02", workflow.Period{From: day(2026, 2, 1), To: day(2026, 3, 1)}, ""},
		{"days, both included", "2026-03-01..2026-03-15", workflow.Period{From: day(2026, 3, 1), To: day(2026, 3, 16)}, ""},
		{"one day", "2026-03-01..2026-03-01", workflow.Period{From: day(2026, 3, 1), To: day(2026, 3, 2)}, ""},
		{"a leap year fits", "2024-01-01..2024-12-31", workflow.Period{From: day(2024, 1, 1), To: day(2025, 1, 1)}, ""},
		{"not a period", "fortnight", workflow.Period{}, `"fortnight" is not a period`},
		{"bad day", "2026-03-01..2026-13-01", workflow.Period{}, `"2026-13-01" is not a day`},
		{"backwards", "2026-03-15..2026-03-01", workflow.Period{}, "runs backwards"},
		{"over a year", "2025-01-01..2026-01-02", workflow.Period{}, "more than 366 days"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workflow.ParsePeriod(tt.in, now, shanghai)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "2026-03-01..2026-03-15") {
					t.Fatalf("got error %v, want one saying %q with an example", err, tt.wantErr)
				}
				if workflow.ErrorCode(err) != workflow.CodeInvalid {
					t.Errorf("got code %s, want invalid", workflow.ErrorCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if !got.From.Equal(tt.want.From) || !got.To.Equal(tt.want.To) {
				t.Errorf("got %s..%s, want %s..%s", got.From, got.To, tt.want.From, tt.want.To)
			}
		})
	}
}

func TestSourceHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"https://www.Weibo.com/1":  "weibo.com",
		"weibo.com/2":              "weibo.com",
		"http://tieba.baidu.com:8": "tieba.baidu.com",
		"weibo":                    "",
		"a parent's phone call":    "",
	} {
		if got := workflow.SourceHost(in); got != want {
			t.Errorf("SourceHost(%q): got %q, want %q", in, got, want)
		}
	}
}
