package workflow

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Statistics over a period (the plans' 做好记录、统计): how many incidents
// were found, of which level, category and department; how many were
// escalated and referred; how each kind of deadline went; how long the
// published reply took; which sources brought the most. ComputeStats is a
// pure function of the incidents and the clock, so the stats command, the
// weekly summary and the /stats page give the same figures.

// Period is the span of discovery times statistics cover: [From, To).
type Period struct {
	From, To time.Time
}

// StatsMaxDays bounds a period, in days of the roster's calendar (a leap
// year fits), as it bounds an export.
const StatsMaxDays = 366

// StatsWeek and StatsMonth are the spans of the periods "week" (the
// default) and "month": the last 7 and the last 30 days up to now.
const (
	StatsWeek  = 7 * 24 * time.Hour
	StatsMonth = 30 * 24 * time.Hour
)

// StatsTopSources is how many of the busiest sources statistics name.
const StatsTopSources = 5

// PeriodUsage is how a period is written, for messages.
const PeriodUsage = "week | month | YYYY-MM | YYYY-MM-DD..YYYY-MM-DD"

// ParsePeriod reads a period at now, days and months in loc: "" or "week"
// (本周, the last 7 days), "month" (本月, the last 30 days), a calendar month
// "2026-03", or days "2026-03-01..2026-03-15" (both days included). A period
// that does not parse, runs backwards or is longer than StatsMaxDays is
// CodeInvalid, saying why with examples.
func ParsePeriod(s string, now time.Time, loc *time.Location) (Period, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "week", "本周", "周":
		return Period{From: now.Add(-StatsWeek), To: now}, nil
	case "month", "本月", "月":
		return Period{From: now.Add(-StatsMonth), To: now}, nil
	}
	if m, err := time.ParseInLocation("2006-01", s, loc); err == nil {
		return Period{From: m, To: m.AddDate(0, 1, 0)}, nil
	}
	from, to, ok := strings.Cut(s, "..")
	if !ok {
		return Period{}, periodError("%q is not a period", "%q 不是统计时段", clipText(s))
	}
	f, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(from), loc)
	if err != nil {
		return Period{}, periodError("%q is not a day (YYYY-MM-DD)", "%q 不是日期(YYYY-MM-DD)", clipText(from))
	}
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(to), loc)
	if err != nil {
		return Period{}, periodError("%q is not a day (YYYY-MM-DD)", "%q 不是日期(YYYY-MM-DD)", clipText(to))
	}
	if t.Before(f) {
		return Period{}, periodError("the period runs backwards: %s is after %s", "时段起止颠倒:%s 晚于 %s",
			f.Format(time.DateOnly), t.Format(time.DateOnly))
	}
	p := Period{From: f, To: t.AddDate(0, 0, 1)}
	if p.To.After(f.AddDate(0, 0, StatsMaxDays)) {
		return Period{}, periodError("the period spans more than %d days", "时段超过 %d 天", StatsMaxDays)
	}
	return p, nil
}

// periodError is a bad period: the reason, then examples (the router adds
// the command's usage line).
func periodError(en, zh string, args ...any) error {
	return &Error{Code: CodeInvalid, Msg: Text{
		EN: fmt.Sprintf(en, args...) + "; for example week, month, 2026-03 or 2026-03-01..2026-03-15",
		ZH: fmt.Sprintf(zh, args...) + ";例如 week、month、2026-03 或 2026-03-01..2026-03-15",
	}}
}

// clipText shortens a value echoed in a message.
func clipText(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// Count is how many incidents have one value of a key (a level, a
// category, a department ID, a source's host).
type Count struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// Spread sums up durations: how many, their median and 90th percentile.
// The median of an even number is the mean of the middle two; the 90th
// percentile is the nearest rank (the smallest value at least 90% of them
// do not exceed). Both are zero when N is 0.
type Spread struct {
	N      int           `json:"n"`
	Median time.Duration `json:"median"`
	P90    time.Duration `json:"p90"`
}

// SpreadOf sums up ds (which it sorts).
func SpreadOf(ds []time.Duration) Spread {
	n := len(ds)
	if n == 0 {
		return Spread{}
	}
	slices.Sort(ds)
	s := Spread{N: n, Median: ds[n/2]}
	if n%2 == 0 {
		s.Median = ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
	}
	rank := (n*9 + 9) / 10 // ceil(0.9 n)
	s.P90 = ds[rank-1]
	return s
}

// DeadlineStats is how one kind of deadline went over a period's incidents.
type DeadlineStats struct {
	Kind DeadlineKind `json:"kind"`
	// OnTime were met by their due time; Missed were met late, are past
	// and unmet, or were left unmet by a resolution after they fell due;
	// Pending are unmet, not yet due, of open incidents; Unneeded were left
	// unmet by a resolution before they fell due, neither met nor missed
	// (Deadline.Outcome).
	OnTime   int `json:"on_time"`
	Missed   int `json:"missed"`
	Pending  int `json:"pending"`
	Unneeded int `json:"unneeded"`
	// Lateness is by how much the missed ones were missed: to when they
	// were met, to now while unmet, or to the resolution that left them
	// unmet (none when it came before they fell).
	Lateness Spread `json:"lateness"`
	// TimeToMeet is how long the met ones (on time or late) took
	// (Deadline.TimeToMeet: from the deadline's From, or from discovery
	// when met before it).
	TimeToMeet Spread `json:"time_to_meet"`
}

// Decided is how many of the deadlines are met on time or missed.
func (d DeadlineStats) Decided() int { return d.OnTime + d.Missed }

// Share is the share of the decided deadlines met on time, in percent
// rounded down, and false when none is decided yet.
func (d DeadlineStats) Share() (int, bool) {
	if d.Decided() == 0 {
		return 0, false
	}
	return d.OnTime * 100 / d.Decided(), true
}

// Stats are the figures of a period.
type Stats struct {
	Period
	// Now is the instant the figures are as of.
	Now time.Time `json:"now"`
	// Incidents found in the period, and how many of them are open.
	Incidents int `json:"incidents"`
	Open      int `json:"open"`
	// ByLevel (every level, least serious first), ByCategory (every
	// category) and ByDepartment (the departments with any, most first,
	// then by ID; "" for none yet) count the incidents at their current
	// values.
	ByLevel      []Count `json:"by_level"`
	ByCategory   []Count `json:"by_category"`
	ByDepartment []Count `json:"by_department"`
	// Escalated were raised to major by rule (unresolved in time, or
	// spreading); Referred were referred to law enforcement.
	Escalated int `json:"escalated"`
	Referred  int `json:"referred"`
	// Deadlines has one entry per kind of DeadlineKinds that any incident
	// of the period has, in that order.
	Deadlines []DeadlineStats `json:"deadlines"`
	// ToReply is the time from discovery to the first published reply, of
	// the incidents that have one.
	ToReply Spread `json:"to_reply"`
	// Sources are the busiest hosts of the incidents' source URLs (at most
	// StatsTopSources, most first, then by name; "www." dropped).
	Sources []Count `json:"sources"`
}

// ComputeStats computes the figures of period p at now from incs: the
// incidents it keeps are those found in [p.From, p.To) (others are
// ignored, and an ID given twice counts once), their deadlines under
// policy pol and calendar cal. The result depends on nothing else.
func ComputeStats(p Period, incs []*Incident, pol Policy, cal Calendar, now time.Time) Stats {
	st := Stats{Period: p, Now: now}
	seen := map[string]bool{}
	byLevel := map[Level]int{}
	byCategory := map[Category]int{}
	byDept := map[string]int{}
	bySource := map[string]int{}
	type durations struct{ late, meet []time.Duration }
	byKind := map[DeadlineKind]*DeadlineStats{}
	spans := map[DeadlineKind]*durations{}
	var toReply []time.Duration
	for _, inc := range incs {
		if inc.FoundAt.Before(p.From) || !inc.FoundAt.Before(p.To) || seen[inc.ID] {
			continue
		}
		seen[inc.ID] = true
		st.Incidents++
		if inc.Open() {
			st.Open++
		}
		byLevel[inc.Level]++
		byCategory[inc.Category]++
		byDept[inc.Department]++
		if h := SourceHost(inc.Source); h != "" {
			bySource[h]++
		}
		if inc.Escalated() {
			st.Escalated++
		}
		if !inc.ReferredAt.IsZero() {
			st.Referred++
		}
		if at := inc.PublishedAt(); !at.IsZero() {
			toReply = append(toReply, at.Sub(inc.FoundAt))
		}
		for _, d := range inc.Record(pol, cal) {
			ds, ok := byKind[d.Kind]
			if !ok {
				ds = &DeadlineStats{Kind: d.Kind}
				byKind[d.Kind] = ds
				spans[d.Kind] = &durations{}
			}
			sp := spans[d.Kind]
			if d.Met() {
				sp.meet = append(sp.meet, d.TimeToMeet(inc))
			}
			switch d.Outcome(inc, now) {
			case OutcomeOnTime:
				ds.OnTime++
			case OutcomeLate, OutcomeMissed:
				ds.Missed++
				if late, ok := d.Lateness(inc, now); ok {
					sp.late = append(sp.late, late)
				}
			case OutcomeUnneeded:
				ds.Unneeded++
			default:
				ds.Pending++
			}
		}
	}
	for _, l := range Levels {
		st.ByLevel = append(st.ByLevel, Count{Key: string(l), N: byLevel[l]})
	}
	for _, c := range Categories {
		st.ByCategory = append(st.ByCategory, Count{Key: string(c), N: byCategory[c]})
	}
	st.ByDepartment = ranked(byDept, 0)
	st.Sources = ranked(bySource, StatsTopSources)
	for _, k := range DeadlineKinds {
		if ds, ok := byKind[k]; ok {
			ds.Lateness = SpreadOf(spans[k].late)
			ds.TimeToMeet = SpreadOf(spans[k].meet)
			st.Deadlines = append(st.Deadlines, *ds)
		}
	}
	st.ToReply = SpreadOf(toReply)
	return st
}

// ranked orders counts most first, then by key, keeping the first max (all
// when max is 0).
func ranked(counts map[string]int, max int) []Count {
	out := make([]Count, 0, len(counts))
	for k, n := range counts {
		out = append(out, Count{Key: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out
}

// SourceHost is the host of a source URL, lower case without "www." and a
// port ("weibo.com/123" reads as a URL too); "" when source names none.
func SourceHost(source string) string {
	s := strings.TrimSpace(source)
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if !strings.Contains(h, ".") && h != "localhost" {
		return "" // a word, not a host
	}
	return strings.TrimPrefix(h, "www.")
}

// Stats computes the figures of period p as of the Service's clock, from
// the open incidents and those resolved since p.From (an incident is
// resolved after it was found, so that covers every one found in p). The
// open ones are read first: one resolved between the two reads is then in
// both (and counted once) rather than in neither. No actor is checked.
func (s *Service) Stats(ctx context.Context, p Period) (Stats, error) {
	now := s.clock.Now()
	open, err := s.store.List(ctx, ListQuery{Filter: ListOpen, Now: now})
	if err != nil {
		return Stats{}, fmt.Errorf("list open incidents: %w", err)
	}
	resolved, err := s.store.List(ctx, ListQuery{Filter: ListResolved, From: p.From})
	if err != nil {
		return Stats{}, fmt.Errorf("list resolved incidents: %w", err)
	}
	// Resolved copies come first, so the later state wins over a stale open one.
	return ComputeStats(p, append(resolved, open...), s.roster.Policy, s.roster.Calendar(), now), nil
}
