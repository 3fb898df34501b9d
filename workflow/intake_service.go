package workflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// UseIntake gives the Service a store of monitoring candidates, turning the
// intake on.
func (s *Service) UseIntake(is IntakeStore) { s.intake = is }

// IntakeEnabled reports whether the Service has an intake store.
func (s *Service) IntakeEnabled() bool { return s.intake != nil }

var errNoIntake = Errorf(CodeUnavailable, "monitoring intake is not set up on this server", "本服务未启用舆情监测接入")

// ItemError says which item of a delivery is wrong, in which field, and why.
type ItemError struct {
	Index int    // from 0
	Field string // the JSON field: "title", "url", "found_at", "figures.posts", ...
	Msg   Text
}

// Error names the item (from 1), the field and the problem.
func (e *ItemError) Error() string {
	return fmt.Sprintf("item %d: %s: %s", e.Index+1, e.Field, e.Msg.EN)
}

// Unwrap makes an ItemError an invalid-input Error.
func (e *ItemError) Unwrap() error {
	return &Error{Code: CodeInvalid, Msg: Text{
		EN: fmt.Sprintf("item %d: %s: %s", e.Index+1, e.Field, e.Msg.EN),
		ZH: fmt.Sprintf("第 %d 条:%s:%s", e.Index+1, e.Field, e.Msg.ZH),
	}}
}

// LimitError says a source sent more than its rate: nothing was stored.
type LimitError struct {
	Source     string
	Limit      int // items a minute
	RetryAfter time.Duration
}

func (e *LimitError) Error() string { return e.Unwrap().Error() }

// Unwrap makes a LimitError an Error people can read.
func (e *LimitError) Unwrap() error {
	secs := int((e.RetryAfter + time.Second - 1) / time.Second)
	return Errorf(CodeUnavailable, "source %s may send %d items a minute; nothing was stored, try again in %d s",
		"来源 %s 每分钟最多发送 %d 条;本次未保存,请 %d 秒后重试", e.Source, e.Limit, secs)
}

// checkItem checks item i of a delivery from source and completes it: the
// source, trimmed text (a title or excerpt too long is cut, as a monitoring
// platform cannot be asked to retype it), the discovery time.
func checkItem(i int, it *Item, source string, now time.Time) error {
	bad := func(field, en, zh string, args ...any) error {
		return &ItemError{Index: i, Field: field, Msg: Text{EN: fmt.Sprintf(en, args...), ZH: fmt.Sprintf(zh, args...)}}
	}
	if source != "" {
		if it.Source != "" && it.Source != source {
			return bad("source", "%q differs from the source %q of the address", "%q 与地址中的来源 %q 不一致", it.Source, source)
		}
		it.Source = source
	}
	if it.Source == "" {
		return bad("source", "missing: name the monitoring platform or feed", "缺失:请填写监测平台或订阅源名称")
	}
	if !ValidSourceName(it.Source) {
		return bad("source", "%q: use 1 to 64 letters, digits, '-', '_' or '.'", "%q:只能使用 1 至 64 个字母、数字、“-”、“_”或“.”", it.Source)
	}
	if len(it.ID) > 200 {
		return bad("id", "longer than 200 bytes", "超过 200 字节")
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"title", &it.Title, MaxTitle}, {"excerpt", &it.Excerpt, MaxExcerpt}, {"author", &it.Author, 200}, {"id", &it.ID, 200}} {
		*f.v = strings.TrimSpace(strings.ReplaceAll(*f.v, "\r\n", "\n"))
		if err := checkChars(*f.v); err != nil {
			var e *Error
			errors.As(err, &e)
			return &ItemError{Index: i, Field: f.name, Msg: e.Msg}
		}
		if utf8.RuneCountInString(*f.v) > f.max {
			*f.v = string([]rune(*f.v)[:f.max-1]) + "…"
		}
	}
	if it.Title == "" {
		if it.Excerpt == "" {
			return bad("title", "missing: an item needs a title or an excerpt", "缺失:需要标题或摘要")
		}
		it.Title = string([]rune(strings.ReplaceAll(it.Excerpt, "\n", " "))[:min(utf8.RuneCountInString(it.Excerpt), 80)])
	}
	if it.URL = strings.TrimSpace(it.URL); it.URL != "" {
		if err := checkChars(it.URL); err != nil || len(it.URL) > 2000 || NormalizeURL(it.URL) == "" {
			return bad("url", "%q is not an http(s) address", "%q 不是 http(s) 地址", truncate(it.URL, 80))
		}
	}
	if it.FoundAt.IsZero() {
		it.FoundAt = now
	}
	it.FoundAt = Instant(it.FoundAt)
	if it.FoundAt.After(now.Add(MaxClockSkew)) {
		return bad("found_at", "%s is in the future (it is %s now)", "%s 晚于当前时间(现在是 %s)",
			it.FoundAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.Sub(it.FoundAt) > 30*24*time.Hour {
		return bad("found_at", "more than 30 days ago", "早于 30 天前")
	}
	for _, k := range FigureList {
		if v, ok := it.Figures.Get(k); ok && v < 0 {
			return bad("figures."+string(k), "%d is negative", "%d 为负数", v)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// Intake takes a delivery of monitoring items from source (the source of
// the address, POST /intake/<source>; "" when each item names its own).
// Every item is checked first: one bad item refuses the delivery with an
// *ItemError and nothing is stored. A source past its rate gets a
// *LimitError. Then each item is stored (deduplicated: the same post merges
// into its candidate, the same delivery again changes nothing) before
// Intake returns what became of it; a candidate a rule opens at once is
// opened here, with the item's discovery time.
func (s *Service) Intake(ctx context.Context, source string, items []Item) ([]Received, error) {
	if s.intake == nil {
		return nil, errNoIntake
	}
	switch {
	case len(items) == 0:
		return nil, Errorf(CodeInvalid, "the delivery holds no item", "没有任何条目")
	case len(items) > MaxIntakeBatch:
		return nil, Errorf(CodeInvalid, "a delivery holds at most %d items, not %d", "每次最多 %d 条,而不是 %d 条", MaxIntakeBatch, len(items))
	}
	now := Instant(s.clock.Now())
	items = slices.Clone(items)
	for i := range items {
		if err := checkItem(i, &items[i], source, now); err != nil {
			return nil, err
		}
	}
	// The quota is counted per source of the items.
	count := map[string]int{}
	for _, it := range items {
		count[it.Source]++
	}
	// All or none: a delivery refused for one source's rate counts
	// nothing against the others.
	limit := s.roster.Intake.RateLimit()
	refused, retry, err := s.intake.TakeQuota(ctx, count, limit)
	if err != nil {
		return nil, err
	}
	if refused != "" {
		return nil, &LimitError{Source: refused, Limit: limit, RetryAfter: retry}
	}
	arrivals := make([]Arrival, len(items))
	for i, it := range items {
		arrivals[i] = s.arrival(it, now)
	}
	stored, err := s.intake.Receive(ctx, arrivals)
	if err != nil {
		return nil, err
	}
	out := make([]Received, len(stored))
	var errs []error
	for i, st := range stored {
		out[i] = Received{Candidate: st.ID, Outcome: st.Outcome, Incident: st.Incident}
		switch {
		case arrivals[i].Candidate.Suggestion.Auto && (st.Outcome == ReceivedNew || st.State == CandidatePending):
			// A rule opens it at once: new, or a later delivery of a post
			// waiting for a judgement that brings such words (a death told
			// in a new excerpt; its figures may be the same, a duplicate to
			// the store), opened then as that rule suggests. Should this
			// fail, a new candidate's auto timer opens it.
			var match *Suggestion
			if st.Outcome != ReceivedNew {
				match = &arrivals[i].Candidate.Suggestion
			}
			inc, _, err := s.openCandidate(ctx, "", st.ID, "", "", match)
			if err == nil {
				out[i].Outcome, out[i].Incident = ReceivedOpened, inc.ID
				continue
			}
			// The rule's timer may have opened it meanwhile.
			if c, rerr := s.intake.Candidate(ctx, st.ID); rerr == nil && c.State == CandidateOpened {
				out[i].Outcome, out[i].Incident = ReceivedOpened, c.Incident
				continue
			}
			errs = append(errs, fmt.Errorf("open %s by rule: %w", st.ID, err))
		case st.Outcome == ReceivedMerged && st.State == CandidateDismissed:
			out[i].Outcome = ReceivedDismissed
		case st.Outcome == ReceivedMerged && st.Incident != "" && !items[i].Figures.IsZero():
			if err := s.monitored(ctx, st.Incident, st.ID, arrivals[i].Figures); err != nil {
				errs = append(errs, fmt.Errorf("figures of %s to %s: %w", st.ID, st.Incident, err))
			}
		}
	}
	// The items are stored whatever became of the follow-up steps, which
	// timers repair; their failure is told, not hidden.
	return out, errors.Join(errs...)
}

// arrival lays out a checked item for the store.
func (s *Service) arrival(it Item, now time.Time) Arrival {
	var keys []string
	itemKey := ""
	if it.ID != "" {
		itemKey = "i:" + it.Source + "\x1f" + it.ID
		keys = append(keys, itemKey)
	}
	urlKey := ""
	if u := NormalizeURL(it.URL); u != "" {
		urlKey = "u:" + u
		keys = append(keys, urlKey)
	}
	if fp := Fingerprint(it.Title, it.Excerpt); fp != "" {
		keys = append(keys, "f:"+fp)
	}
	delivery := cmp.Or(itemKey, urlKey)
	if delivery == "" && len(keys) > 0 {
		delivery = keys[len(keys)-1]
	}
	c := &Candidate{
		Version: 1, Source: it.Source, Item: it.ID, URL: it.URL, Title: it.Title, Excerpt: it.Excerpt,
		Author: it.Author, FoundAt: it.FoundAt, ReceivedAt: now,
		Suggestion: s.roster.Match(it.Title, it.Excerpt), State: CandidatePending,
		Triage: s.roster.Intake.TriageTime(),
	}
	figures := it.Figures
	if !figures.IsZero() {
		figures.At = now
	}
	a := Arrival{Keys: keys, Delivery: delivery, Candidate: c, Figures: figures, Timers: candidateTimers(c, "")}
	if !c.Suggestion.Auto {
		a.Notices = []Notice{NewNotice(TriageNew+">"+string(ChannelIncidents), "", ChannelIncidents,
			Notification{Kind: NoticeTriage, Thread: Thread{Kind: ThreadTriage}, Triage: &TriageStep{Step: TriageNew}})}
	}
	return a
}

// autoRepair is how long after its arrival a candidate a rule opens at
// once is opened by its timer, should Intake have failed to.
const autoRepair = time.Minute

// Candidate timer names.
const (
	timerTriageOffice  = "triage:office"
	timerTriageLeaders = "triage:leaders"
	timerAuto          = "auto"
)

// candidateTimers plans the timers of a pending candidate that have not
// fired: a rule's opening, then the reminders to the office after the
// triage time and to the leaders after twice that. id "" names them
// without the candidate (for a new one, whose ID the store allocates).
func candidateTimers(c *Candidate, id string) []Timer {
	if c.State != CandidatePending {
		return nil
	}
	var out []Timer
	add := func(name string, due time.Time) {
		if slices.Contains(c.Fired, name) {
			return
		}
		t := Timer{ID: name, Due: Instant(due)}
		if id != "" {
			t.ID, t.Incident = id+":"+name, id
		}
		out = append(out, t)
	}
	if c.Suggestion.Auto {
		// Intake opens it at once; the timer opens it should that fail.
		add(timerAuto, c.ReceivedAt.Add(autoRepair))
	}
	wait := c.Triage
	if wait <= 0 {
		wait = DefaultTriage
	}
	add(timerTriageOffice, c.ReceivedAt.Add(wait))
	add(timerTriageLeaders, c.ReceivedAt.Add(2*wait))
	return out
}

// Candidate returns the candidate with the given ID as stored, for
// rendering (no person acts). Errors: CodeNotFound.
func (s *Service) Candidate(ctx context.Context, id string) (*Candidate, error) {
	if s.intake == nil {
		return nil, errNoIntake
	}
	return s.candidate(ctx, NormalizeCandidateID(id))
}

// candidate reads candidate id, saying so in people's words when there is
// none.
func (s *Service) candidate(ctx context.Context, id string) (*Candidate, error) {
	c, err := s.intake.Candidate(ctx, id)
	if ErrorCode(err) == CodeNotFound {
		return nil, Errorf(CodeNotFound, "no monitoring item %s (intake list shows those waiting)", "没有监测条目 %s(intake list 可查看待研判条目)", id)
	}
	return c, err
}

// Candidates returns page n (from 1; 0: every one) of the candidates in a
// state (pending: the oldest first; opened or dismissed: the latest
// decided first) and how many there are. Errors: CodeForbidden.
func (s *Service) Candidates(ctx context.Context, actor string, state CandidateState, n int) ([]*Candidate, int, error) {
	if _, err := s.person(actor); err != nil {
		return nil, 0, err
	}
	return s.CandidatesOf(ctx, state, n)
}

// CandidatesOf is Candidates for the board (no person acts).
func (s *Service) CandidatesOf(ctx context.Context, state CandidateState, n int) ([]*Candidate, int, error) {
	if s.intake == nil {
		return nil, 0, errNoIntake
	}
	if state == "" {
		state = CandidatePending
	}
	q := CandidateQuery{State: state}
	if n > 0 {
		q.Offset, q.Limit = (n-1)*PageSize, PageSize
	}
	cs, total, err := s.intake.Candidates(ctx, q)
	if err == nil && n > 1 && len(cs) == 0 {
		return nil, 0, Errorf(CodeInvalid, "page:%d: there are only %d page(s)", "page:%d:共只有 %d 页", n, max((total+PageSize-1)/PageSize, 1))
	}
	return cs, total, err
}

// OpenCandidate opens a candidate as an incident, as suggested or at the
// level and category given: its discovery time is the item's (deadlines
// count from discovery, not from the judgement), and the incident is linked
// to the item. Any person in the roster may judge. Errors: CodeForbidden,
// CodeNotFound, CodeInvalid (level, category), CodeConflict (opened or
// dismissed already).
func (s *Service) OpenCandidate(ctx context.Context, actor, id string, level Level, category Category) (*Incident, []Event, error) {
	if _, err := s.person(actor); err != nil {
		return nil, nil, err
	}
	if level != "" && !level.Valid() {
		return nil, nil, errUnknownLevel(level)
	}
	if category != "" && !category.Valid() {
		return nil, nil, errUnknownCategory(category)
	}
	return s.openCandidate(ctx, actor, id, level, category, nil)
}

// openCandidate opens candidate id by actor ("": its rule). The candidate
// is marked opened, with the incident ID allocated for it, before the
// incident is written: two people pressing Open at once make one incident,
// and should writing the incident fail, opening again (or the auto timer)
// writes it under the same ID.
func (s *Service) openCandidate(ctx context.Context, actor, id string, level Level, category Category, match *Suggestion) (*Incident, []Event, error) {
	if s.intake == nil {
		return nil, nil, errNoIntake
	}
	id = NormalizeCandidateID(id)
	for attempt := 0; ; attempt++ {
		prev, err := s.candidate(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		switch prev.State {
		case CandidateDismissed:
			return nil, nil, Errorf(CodeConflict, "%s was dismissed by %s: %s", "%s 已由 %s 排除:%s",
				prev.ID, s.roster.Name(prev.DecidedBy), prev.Reason)
		case CandidateOpened:
			if _, err := s.store.Get(ctx, prev.Incident); ErrorCode(err) != CodeNotFound {
				if err != nil {
					return nil, nil, err
				}
				return nil, nil, Errorf(CodeConflict, "%s is open already, as %s", "%s 已立为事件 %s", prev.ID, prev.Incident)
			}
			// Marked opened, but the incident was never written: write it.
			return s.createFrom(ctx, prev, turn{}, prev.DecidedBy, prev.Incident, level, category, prev.DecidedAt)
		}
		from := prev
		if match != nil { // a rule that a later delivery's words matched
			from = prev.Clone()
			from.Suggestion = *match
		}
		in, err := s.candidateInput(from, level, category)
		if err != nil {
			return nil, nil, err
		}
		now := Instant(s.clock.Now())
		c := from.Clone()
		c.Version++
		c.State, c.DecidedBy, c.DecidedAt = CandidateOpened, actor, now
		c.OpenedLevel, c.OpenedCategory = in.Level, in.Category
		incID, t, err := s.reserve(ctx, in.Category, c)
		if err != nil {
			return nil, nil, err
		}
		c.Incident = incID
		err = s.intake.ApplyCandidate(ctx, CandidateChange{Prev: prev, Candidate: c, Notices: s.triageRefresh(c, "opened")})
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return nil, nil, err
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		return s.createFrom(ctx, c, t, actor, incID, in.Level, in.Category, now)
	}
}

// candidateInput is what an incident opened from c is made of.
func (s *Service) candidateInput(c *Candidate, level Level, category Category) (OpenInput, error) {
	// What was chosen when it was marked opened (an incident written
	// again after a failure), else the suggestion.
	in := OpenInput{Title: c.Title, Level: cmp.Or(level, c.OpenedLevel, c.Suggestion.Level),
		Category: cmp.Or(category, c.OpenedCategory, c.Suggestion.Category), Source: c.URL, FoundAt: c.FoundAt}
	if in.Source == "" {
		in.Source = c.Source
	}
	if !in.Level.Valid() {
		return OpenInput{}, errUnknownLevel(in.Level)
	}
	if !in.Category.Valid() {
		return OpenInput{}, errUnknownCategory(in.Category)
	}
	return in, nil
}

// createFrom writes the incident incID opened from candidate c, with the
// turn t reserved with its ID (none: it takes one).
func (s *Service) createFrom(ctx context.Context, c *Candidate, t turn, actor, incID string, level Level, category Category, now time.Time) (*Incident, []Event, error) {
	in, err := s.candidateInput(c, level, category)
	if err != nil {
		return nil, nil, err
	}
	if now.IsZero() {
		now = Instant(s.clock.Now())
	}
	inc, events, err := s.create(ctx, incID, t, actor, in, c, now)
	if errors.Is(err, ErrConflict) {
		// Written meanwhile (by the other path that repairs it).
		return nil, nil, Errorf(CodeConflict, "%s is open already, as %s", "%s 已立为事件 %s", c.ID, incID)
	}
	return inc, events, err
}

// DismissCandidate records that a candidate is no incident, and why.
// Errors: CodeForbidden, CodeNotFound, CodeInvalid (no reason),
// CodeConflict (opened or dismissed already).
func (s *Service) DismissCandidate(ctx context.Context, actor, id, reason string) (*Candidate, error) {
	if _, err := s.person(actor); err != nil {
		return nil, err
	}
	if s.intake == nil {
		return nil, errNoIntake
	}
	reason, err := checkText(reason, "say why it is dismissed: intake dismiss <item> <reason>", "请说明排除理由:intake dismiss <条目> <理由>")
	if err != nil {
		return nil, err
	}
	id = NormalizeCandidateID(id)
	for attempt := 0; ; attempt++ {
		prev, err := s.candidate(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := mustBePending(prev, s.roster); err != nil {
			return nil, err
		}
		c := prev.Clone()
		c.Version++
		c.State, c.DecidedBy, c.DecidedAt, c.Reason = CandidateDismissed, actor, Instant(s.clock.Now()), reason
		err = s.intake.ApplyCandidate(ctx, CandidateChange{Prev: prev, Candidate: c, Notices: s.triageRefresh(c, "dismissed")})
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

func mustBePending(c *Candidate, r *Roster) error {
	switch c.State {
	case CandidateOpened:
		return Errorf(CodeConflict, "%s is open already, as %s", "%s 已立为事件 %s", c.ID, c.Incident)
	case CandidateDismissed:
		return Errorf(CodeConflict, "%s was dismissed by %s: %s", "%s 已由 %s 排除:%s", c.ID, r.Name(c.DecidedBy), c.Reason)
	}
	return nil
}

// triageRefresh brings the triage cards of c up to date where they were
// posted (the incidents channel; the leaders once reminded), so that their
// buttons go and they say who judged it.
func (s *Service) triageRefresh(c *Candidate, step string) []Notice {
	to := []Audience{ChannelIncidents}
	if slices.Contains(c.Fired, timerTriageLeaders) {
		n := &notifier{roster: s.roster}
		to = append(to, n.leaders()...)
	}
	out := make([]Notice, len(to))
	for i, a := range to {
		out[i] = NewNotice(fmt.Sprintf("%s:%s.%d>refresh>%s", c.ID, step, c.Version, a), c.ID, a,
			Notification{Kind: NoticeRefresh, Thread: Thread{Kind: ThreadTriage}})
	}
	return out
}

// monitored records on incident id that the monitoring platform reported
// its post again, with figures, which join the series (and may mark it
// spreading).
func (s *Service) monitored(ctx context.Context, id, candidate string, f Figures) error {
	_, _, err := s.change(ctx, id, func(inc *Incident, now time.Time) ([]Event, error) {
		if !inc.Open() {
			return nil, errNothingToDo
		}
		f.At = now
		inc.Figures = append(inc.Figures, f)
		events := []Event{{Kind: EventMonitored, Data: EventData{Candidate: candidate, Figures: &f}}}
		return append(events, s.spreadingEvents(inc, now)...), nil
	})
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	return err
}

// tickCandidate handles a timer of a candidate: a rule's opening that did
// not happen at once, or a reminder that nobody judged it.
func (s *Service) tickCandidate(ctx context.Context, t DueTimer) (TickResult, error) {
	if s.intake == nil {
		return TickResult{Outcome: TimerGone, Reason: "no intake on this server"}, nil
	}
	name := strings.TrimPrefix(t.ID, t.Incident+":")
	for attempt := 0; ; attempt++ {
		prev, err := s.intake.Candidate(ctx, t.Incident)
		if ErrorCode(err) == CodeNotFound {
			return TickResult{Outcome: TimerGone, Reason: "candidate " + t.Incident + " does not exist"}, nil
		}
		if err != nil {
			return TickResult{}, err
		}
		if name == timerAuto && prev.State == CandidateOpened {
			if _, err := s.store.Get(ctx, prev.Incident); ErrorCode(err) == CodeNotFound {
				_, events, err := s.createFrom(ctx, prev, turn{}, prev.DecidedBy, prev.Incident, "", "", prev.DecidedAt)
				if err != nil {
					return TickResult{}, err
				}
				return TickResult{Outcome: TimerFired, Reason: "wrote incident " + prev.Incident + " of " + prev.ID, Events: events}, nil
			}
		}
		if prev.State != CandidatePending {
			return TickResult{Outcome: TimerDecided, Reason: fmt.Sprintf("%s was %s", prev.ID, prev.State)}, nil
		}
		if slices.Contains(prev.Fired, name) {
			return TickResult{Outcome: TimerDuplicate, Reason: name + " of " + prev.ID + " fired already"}, nil
		}
		planned := slices.IndexFunc(candidateTimers(prev, prev.ID), func(p Timer) bool { return p.ID == t.ID })
		if planned < 0 {
			return TickResult{Outcome: TimerSuperseded, Reason: name + " is not planned for " + prev.ID}, nil
		}
		if name == timerAuto {
			inc, events, err := s.openCandidate(ctx, "", prev.ID, "", "", nil)
			if ErrorCode(err) == CodeConflict {
				return TickResult{Outcome: TimerDecided, Reason: err.Error()}, nil
			}
			if err != nil {
				return TickResult{}, err
			}
			return TickResult{Outcome: TimerFired, Reason: "opened " + prev.ID + " as " + inc.ID + " by its rule", Events: events}, nil
		}
		now := Instant(s.clock.Now())
		c := prev.Clone()
		c.Version++
		c.Fired = append(c.Fired, name)
		step := &TriageStep{Step: TriageReminder, Reminder: 1, Waited: now.Sub(c.ReceivedAt)}
		to := []Audience{ChannelIncidents}
		if name == timerTriageLeaders {
			step.Reminder = 2
			to = (&notifier{roster: s.roster}).leaders()
		}
		var notices []Notice
		for _, a := range to {
			notices = append(notices, NewNotice(c.ID+":"+name+">"+string(a), c.ID, a,
				Notification{Kind: NoticeTriage, Thread: Thread{Kind: ThreadTriage}, Triage: step}))
		}
		err = s.intake.ApplyCandidate(ctx, CandidateChange{Prev: prev, Candidate: c, Timers: candidateTimers(c, c.ID), Notices: notices})
		if errors.Is(err, ErrConflict) && attempt < maxAttempts {
			if err := backoff(ctx, attempt); err != nil {
				return TickResult{}, err
			}
			continue
		}
		if err != nil {
			return TickResult{}, err
		}
		return TickResult{Outcome: TimerFired, Reason: "reminded of " + c.ID + " (" + strconv.Itoa(step.Reminder) + ")"}, nil
	}
}
