package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Monitoring intake (网络舆情监控): a monitoring platform, or a watched feed,
// reports posts it found; each one becomes a candidate that a person judges
// (人工判读) — opened as an incident, or dismissed with a reason — unless a
// roster rule opens it at once. The same post found twice (the same URL once
// normalised, or the same text from another URL) merges into the candidate
// it already is: its figures join the series, and no new card is posted.

// CandidatePrefix starts the ID of every candidate: "IT-7".
const CandidatePrefix = "IT-"

// IsCandidateID reports whether id names a candidate rather than an incident.
func IsCandidateID(id string) bool { return strings.HasPrefix(id, CandidatePrefix) }

// NormalizeCandidateID accepts "IT-7", "it-7" and "it7".
func NormalizeCandidateID(id string) string {
	id = strings.ToUpper(strings.TrimSpace(id))
	if rest, ok := strings.CutPrefix(id, "IT"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return CandidatePrefix + rest
	}
	return id
}

// Intake limits.
const (
	// MaxIntakeBatch is how many items one delivery may carry.
	MaxIntakeBatch = 100
	// MaxExcerpt is the longest excerpt kept, in characters.
	MaxExcerpt = 2000
	// DefaultTriage is how long a candidate may wait for a judgement before
	// the office is reminded (then, as long again, the leaders).
	DefaultTriage = 30 * time.Minute
	// DefaultIntakeRate is how many items a source may send a minute.
	DefaultIntakeRate = 60
	// DefaultFeedEvery is how often a watched feed is polled.
	DefaultFeedEvery = 5 * time.Minute
)

// IntakeConfig is the roster's intake block.
type IntakeConfig struct {
	// Tokens are the bearer tokens by source name (POST /intake/<source>);
	// FIREBREAK_INTAKE_TOKEN is accepted for any source.
	Tokens map[string]string
	// Rules suggest a grade for an item; the first that matches wins.
	Rules []IntakeRule
	// Feeds are RSS or Atom feeds polled for offices with no monitoring
	// platform.
	Feeds []Feed
	// Triage is how long a candidate may wait for a judgement (zero:
	// DefaultTriage).
	Triage time.Duration
	// Rate is how many items a source may send a minute (zero:
	// DefaultIntakeRate).
	Rate int
}

// TriageTime is Triage or its default.
func (c IntakeConfig) TriageTime() time.Duration {
	if c.Triage > 0 {
		return c.Triage
	}
	return DefaultTriage
}

// RateLimit is Rate or its default.
func (c IntakeConfig) RateLimit() int {
	if c.Rate > 0 {
		return c.Rate
	}
	return DefaultIntakeRate
}

// IntakeRule maps words in an item to a suggested grade. An item matches
// when its title or excerpt contains every word of All and, when Any is
// given, at least one of Any (case-insensitive; Chinese and English alike;
// a phrase's words separated by any run of white space).
type IntakeRule struct {
	Name       string
	Any        []string
	All        []string
	Level      Level    // "" : general
	Category   Category // "" : other
	Department string   // "" : the department of the category
	// Auto opens a matching item at once (open: auto); otherwise it waits
	// for a person.
	Auto bool
}

// Feed is a watched RSS or Atom feed.
type Feed struct {
	URL    string
	Every  time.Duration // zero: DefaultFeedEvery
	Source string        // the source its items are reported as
}

// Interval is Every or its default.
func (f Feed) Interval() time.Duration {
	if f.Every > 0 {
		return f.Every
	}
	return DefaultFeedEvery
}

// Item is one post reported by a monitoring platform or found in a feed.
type Item struct {
	Source  string    `json:"source"`
	ID      string    `json:"id,omitempty"` // the source's own ID of the item
	URL     string    `json:"url,omitempty"`
	Title   string    `json:"title"`
	Excerpt string    `json:"excerpt,omitempty"`
	Author  string    `json:"author,omitempty"`
	FoundAt time.Time `json:"found_at,omitzero"` // zero: when it arrived
	Figures Figures   `json:"figures,omitzero"`
}

// CandidateState is where a candidate stands.
type CandidateState string

// Candidate states.
const (
	CandidatePending   CandidateState = "pending"   // waits for a judgement
	CandidateOpened    CandidateState = "opened"    // became an incident
	CandidateDismissed CandidateState = "dismissed" // judged no incident, with a reason
)

// Suggestion is the grade a rule suggests for a candidate.
type Suggestion struct {
	Rule       string   `json:"rule,omitempty"`  // the rule that matched; "" for none
	Words      []string `json:"words,omitempty"` // the words of it found in the item
	Level      Level    `json:"level"`
	Category   Category `json:"category"`
	Department string   `json:"department,omitempty"`
	Auto       bool     `json:"auto,omitempty"`
}

// Candidate is an item waiting for, or past, a person's judgement.
type Candidate struct {
	ID         string         `json:"id"`
	Version    int64          `json:"version"`
	Source     string         `json:"source"`
	Item       string         `json:"item,omitempty"` // the source's own ID
	URL        string         `json:"url,omitempty"`
	Title      string         `json:"title"`
	Excerpt    string         `json:"excerpt,omitempty"`
	Author     string         `json:"author,omitempty"`
	FoundAt    time.Time      `json:"found_at"`
	ReceivedAt time.Time      `json:"received_at"`
	Suggestion Suggestion     `json:"suggestion"`
	State      CandidateState `json:"state"`
	// Incident is the incident it was opened as (CandidateOpened), with
	// the level and category it was opened at (OpenedLevel, OpenedCategory:
	// the person's choice, which may differ from the Suggestion, kept as
	// the rule made it).
	Incident       string   `json:"incident,omitempty"`
	OpenedLevel    Level    `json:"opened_level,omitempty"`
	OpenedCategory Category `json:"opened_category,omitempty"`
	// DecidedBy and DecidedAt say who opened or dismissed it, and when
	// ("" for a rule's automatic opening); Reason why it was dismissed.
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	// Triage is the triage time it was planned with.
	Triage time.Duration `json:"triage"`
	// Fired lists the candidate's timers that have fired (their names).
	Fired []string `json:"fired,omitempty"`

	// Figures is the series of figures of every delivery, oldest first,
	// and Deliveries how many deliveries it was made of. The store keeps
	// them apart from the rest, so that a merge appends without rewriting.
	Figures    []Figures `json:"-"`
	Deliveries int       `json:"-"`
}

// Clone returns a deep copy of c.
func (c *Candidate) Clone() *Candidate {
	d := *c
	d.Suggestion.Words = slices.Clone(c.Suggestion.Words)
	d.Fired = slices.Clone(c.Fired)
	d.Figures = slices.Clone(c.Figures)
	return &d
}

// LatestFigures returns the most recent value of each figure in the series.
func (c *Candidate) LatestFigures() Figures {
	var f Figures
	for _, g := range c.Figures {
		for _, k := range FigureList {
			if v, ok := g.Get(k); ok {
				f.set(k, v)
			}
		}
		f.At = g.At
	}
	return f
}

// ReceiveOutcome says what became of one delivered item.
type ReceiveOutcome string

// Receive outcomes.
const (
	ReceivedNew       ReceiveOutcome = "new"       // a new candidate
	ReceivedMerged    ReceiveOutcome = "merged"    // the same post as a candidate already known
	ReceivedDuplicate ReceiveOutcome = "duplicate" // the same delivery again: nothing changed
	ReceivedOpened    ReceiveOutcome = "opened"    // a new candidate a rule opened at once
	ReceivedDismissed ReceiveOutcome = "dismissed" // the same post as a dismissed candidate
)

// Received is what became of one item: the candidate it is, and the
// incident that candidate was opened as, if any.
type Received struct {
	Candidate string         `json:"id"`
	Outcome   ReceiveOutcome `json:"outcome"`
	Incident  string         `json:"incident,omitempty"`
}

// Arrival is one item laid out for IntakeStore.Receive.
type Arrival struct {
	// Keys are the dedupe keys of the item, strongest first: the source's
	// item ID, the normalised URL, the fingerprint of its text. The item
	// merges into the candidate of the first key already known.
	Keys []string
	// Delivery is the key of this very delivery (source and item ID, else
	// the normalised URL) with its figures: when the same key comes again
	// with figures it came with before (the last ones or earlier: a retry
	// may arrive after newer deliveries), it is a duplicate and nothing is
	// written.
	Delivery string
	// Candidate is the candidate to create when no key is known (ID empty:
	// the store allocates "IT-<n>"; Version 1).
	Candidate *Candidate
	// Figures are this delivery's figures (zero: none), appended to the
	// series whether new or merged.
	Figures Figures
	// Timers are the new candidate's timers by name ("triage:office"); the
	// store names them "<id>:<name>".
	Timers []Timer
	// Notices are the new candidate's notices; the store prefixes their IDs
	// with "<id>:" and sets their Incident to the ID.
	Notices []Notice
}

// Stored is what IntakeStore.Receive did with one Arrival.
type Stored struct {
	ID       string
	Outcome  ReceiveOutcome // ReceivedNew, ReceivedMerged or ReceivedDuplicate
	State    CandidateState // the candidate's state (when merged)
	Incident string         // the candidate's incident, if opened
}

// CandidateChange is one transition of a candidate, written atomically:
// the new candidate (only if the stored version is still Prev's), the full
// new set of its timers and the notices to deliver.
type CandidateChange struct {
	Prev      *Candidate
	Candidate *Candidate
	Timers    []Timer
	Notices   []Notice
}

// CandidateQuery asks for candidates.
type CandidateQuery struct {
	State         CandidateState // "" : pending
	Offset, Limit int            // Limit 0: every one
}

// IntakeStore keeps candidates. Implementations return *Error values like
// a Store: CodeNotFound, ErrConflict, CodeUnavailable.
type IntakeStore interface {
	// Receive stores each arrival atomically (dedupe, then create or
	// merge) and says what it did, in order.
	Receive(ctx context.Context, arrivals []Arrival) ([]Stored, error)
	// Candidate returns the candidate with its figures series.
	Candidate(ctx context.Context, id string) (*Candidate, error)
	// ApplyCandidate writes a CandidateChange after checking the version
	// (ErrConflict otherwise); Candidate.Version is Prev.Version+1.
	ApplyCandidate(ctx context.Context, c CandidateChange) error
	// Candidates returns a page of the candidates in a state, pending ones
	// by arrival, the others by decision, newest first; and the total.
	Candidates(ctx context.Context, q CandidateQuery) ([]*Candidate, int, error)
	// TakeQuota counts the items of each source (counts: source → items)
	// against limit a minute, all or none: when a source's do not fit,
	// nothing is counted for any, refused names that source ("" when all
	// fit) and retry says when its window opens again.
	TakeQuota(ctx context.Context, counts map[string]int, limit int) (refused string, retry time.Duration, err error)
}

// trackingParams are query parameters that say how a link was shared, not
// what it points to.
var trackingParams = map[string]bool{
	"fbclid": true, "gclid": true, "dclid": true, "yclid": true, "msclkid": true,
	"mc_cid": true, "mc_eid": true, "igshid": true, "spm": true, "share_source": true,
	"share_medium": true, "share_from": true, "share_token": true, "vd_source": true,
	"ref_src": true, "ref_url": true, "_hsenc": true, "_hsmi": true, "wfr": true,
	"sharer_shareinfo": true, "sharer_shareinfo_first": true, "xsec_source": true,
}

// NormalizeURL returns the form of u that two links to the same post share:
// one scheme (https: a post is the same over http), the host in lower case
// without www., no default port, no fragment, no tracking parameters (utm_*
// and the like), the others sorted, and no trailing slash. It returns ""
// when u is not an absolute http(s) URL.
func NormalizeURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	host = strings.TrimPrefix(host, "www.")
	if port := u.Port(); port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	q := u.Query()
	for k := range q {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "utm_") || trackingParams[lk] {
			q.Del(k)
		}
	}
	path := strings.TrimRight(u.EscapedPath(), "/")
	out := "https://" + host + path
	if enc := q.Encode(); enc != "" { // Encode sorts by key
		out += "?" + enc
	}
	return out
}

// minFingerprint is the fewest letters an item's text must have to be
// fingerprinted: shorter texts ("视频", "test") are too common to mean the
// same post.
const minFingerprint = 12

// Fingerprint returns a digest of an item's text that the same words share
// whatever their spacing, punctuation or case: so the same post copied to
// another URL is known. It returns "" for a text too short to tell.
func Fingerprint(title, excerpt string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToLower(title + "\n" + excerpt) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			n++
		}
	}
	if n < minFingerprint {
		return ""
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:12])
}

// Match returns the suggestion of the first rule that item matches, with the
// words found; with no rule matching, a general incident of category other.
// The department is the rule's, else the one routed the category.
func (r *Roster) Match(title, excerpt string) Suggestion {
	// Title and excerpt apart: a phrase is not found across their seam.
	texts := []string{matchForm(title), matchForm(excerpt)}
	for _, rule := range r.Intake.Rules {
		words, ok := rule.match(texts)
		if !ok {
			continue
		}
		s := Suggestion{Rule: rule.Name, Words: words, Level: rule.Level, Category: rule.Category,
			Department: rule.Department, Auto: rule.Auto}
		return r.completeSuggestion(s)
	}
	return r.completeSuggestion(Suggestion{})
}

func (r *Roster) completeSuggestion(s Suggestion) Suggestion {
	if s.Level == "" {
		s.Level = LevelGeneral
	}
	if s.Category == "" {
		s.Category = CategoryOther
	}
	if s.Department == "" {
		if d, ok := r.DepartmentFor(s.Category); ok {
			s.Department = d.ID
		}
	}
	return s
}

// match reports whether texts (in matchForm) match the rule, a word being
// found in any of them, and the words of it found, in the rule's order.
func (rule IntakeRule) match(texts []string) ([]string, bool) {
	var found []string
	for _, w := range rule.All {
		if !containsWordIn(texts, w) {
			return nil, false
		}
		found = append(found, w)
	}
	anyFound := len(rule.Any) == 0
	for _, w := range rule.Any {
		if containsWordIn(texts, w) {
			found = append(found, w)
			anyFound = true
		}
	}
	if !anyFound || len(found) == 0 {
		return nil, false
	}
	return found, true
}

// containsWordIn reports whether one of texts (in matchForm) holds the
// rule's word w.
func containsWordIn(texts []string, w string) bool {
	word := strings.TrimSpace(matchForm(w))
	return slices.ContainsFunc(texts, func(text string) bool { return containsWord(text, word) })
}

// matchForm is s as words are looked for in it: in lower case, each run of
// white space (spaces, tabs, line breaks, the full-width space U+3000) one
// space and format characters (zero-width space, joiners, soft hyphen) left
// out, so that a phrase of a rule is found however a post spaced or
// wrapped it ("was  killed", "was\nkilled").
func matchForm(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if unicode.Is(unicode.Cf, r) {
			continue // a zero-width or other format character hides no word (死\u200b亡 is 死亡)
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// containsWord reports whether text holds word, both in matchForm:
// anywhere for Chinese (which has no spaces between words), and as a whole
// word where it starts or ends with a Latin letter or digit, so that "died"
// is not found in "studied", nor "kill" in "skilled".
func containsWord(text, word string) bool {
	if word == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(text[from:], word)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(word)
		before, _ := utf8.DecodeLastRuneInString(text[:i])
		after, _ := utf8.DecodeRuneInString(text[end:])
		first, _ := utf8.DecodeRuneInString(word)
		last, _ := utf8.DecodeLastRuneInString(word)
		if !(isLatinAlnum(first) && i > 0 && isLatinAlnum(before)) && !(isLatinAlnum(last) && end < len(text) && isLatinAlnum(after)) {
			return true
		}
		from = i + 1
	}
}

func isLatinAlnum(r rune) bool {
	return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// validateIntake checks the roster's intake block.
func validateIntake(r *Roster) error {
	c := &r.Intake
	if c.Triage < 0 {
		return Errorf(CodeInvalid, "intake triage time must be positive", "intake 的 triage 时长必须为正")
	}
	if c.Rate < 0 {
		return Errorf(CodeInvalid, "intake rate must be positive", "intake 的 rate 必须为正")
	}
	names := map[string]bool{}
	for i, rule := range c.Rules {
		label := rule.Name
		if label == "" {
			label = "#" + strconv.Itoa(i+1)
		}
		if rule.Name != "" && names[rule.Name] {
			return Errorf(CodeInvalid, "intake rule %q is defined twice", "intake 规则 %q 重复定义", rule.Name)
		}
		names[rule.Name] = true
		if len(rule.Any) == 0 && len(rule.All) == 0 {
			return Errorf(CodeInvalid, "intake rule %s has no words (any or all)", "intake 规则 %s 没有关键词(any 或 all)", label)
		}
		for _, w := range append(slices.Clone(rule.Any), rule.All...) {
			if strings.TrimSpace(w) == "" {
				return Errorf(CodeInvalid, "intake rule %s has an empty word", "intake 规则 %s 含有空关键词", label)
			}
		}
		if rule.Level != "" && !rule.Level.Valid() {
			return errUnknownLevel(rule.Level)
		}
		if rule.Category != "" && !rule.Category.Valid() {
			return errUnknownCategory(rule.Category)
		}
		if rule.Department != "" {
			if _, ok := r.depts[rule.Department]; !ok {
				return Errorf(CodeInvalid, "intake rule %s names unknown department %q", "intake 规则 %s 引用了未知部门 %q", label, rule.Department)
			}
		}
	}
	for source, token := range c.Tokens {
		if !ValidSourceName(source) {
			return Errorf(CodeInvalid, "intake source name %q: use letters, digits, '-', '_' and '.'", "intake 来源名 %q 只能包含字母、数字、“-”、“_”和“.”", source)
		}
		if len(token) < 16 {
			return Errorf(CodeInvalid, "the intake token of %s is shorter than 16 characters", "来源 %s 的 intake 令牌短于 16 个字符", source)
		}
	}
	for i, f := range c.Feeds {
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Errorf(CodeInvalid, "intake feed %d: %q is not an http(s) URL", "intake 第 %d 个订阅源:%q 不是 http(s) 地址", i+1, f.URL)
		}
		if f.Every < 0 || (f.Every > 0 && f.Every < time.Minute) {
			return Errorf(CodeInvalid, "intake feed %d: every must be at least 1m", "intake 第 %d 个订阅源:every 至少为 1m", i+1)
		}
		if f.Source != "" && !ValidSourceName(f.Source) {
			return Errorf(CodeInvalid, "intake feed %d: source name %q: use letters, digits, '-', '_' and '.'", "intake 第 %d 个订阅源:来源名 %q 只能包含字母、数字、“-”、“_”和“.”", i+1, f.Source)
		}
	}
	return nil
}

// ValidSourceName reports whether s may name an intake source: 1 to 64
// letters, digits, '-', '_' or '.'.
func ValidSourceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
