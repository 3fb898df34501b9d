package workflow

import (
	"context"
	"time"
)

// Audience names who a notification is for: one of the roster channels
// (ChannelIncidents, ChannelLeaders, ChannelStatements) or a person, written
// "person:<id>". Each adapter resolves it to its own platform's chat.
type Audience string

// PersonAudience addresses one person directly.
func PersonAudience(id string) Audience { return Audience("person:" + id) }

// Person returns the person ID of a direct audience.
func (a Audience) Person() (string, bool) {
	const p = "person:"
	if len(a) > len(p) && string(a[:len(p)]) == p {
		return string(a[len(p):]), true
	}
	return "", false
}

// Notice is a notification to be delivered to an audience. Its ID is
// deterministic, so that at-least-once delivery shows it once. Body is the
// rendered, platform-neutral message (encoded by the bot package); the domain
// does not look inside it.
type Notice struct {
	ID       string   `json:"id"`
	Incident string   `json:"incident"`
	Audience Audience `json:"audience"`
	Body     []byte   `json:"body"`
}

// Timer is a durable timer of an incident. Its ID is deterministic
// ("YQ-7:respond:due"), so planning again replaces it.
type Timer struct {
	ID       string    `json:"id"`
	Incident string    `json:"incident"`
	Due      time.Time `json:"due"`
}

// Change is one state transition, written by Store.Apply atomically: the new
// incident (only if the stored version is still Prev's), its timeline events,
// the full new set of its timers, and the notices to deliver.
type Change struct {
	// Prev is the incident as read, nil when creating it.
	Prev *Incident
	// Incident is the new state; its Version is Prev.Version+1 (1 when created).
	Incident *Incident
	Events   []Event
	Timers   []Timer
	Notices  []Notice
	// NextDue is when the incident's earliest unmet deadline falls (zero: none);
	// it feeds `list overdue`.
	NextDue time.Time
}

// ListFilter selects incidents for `list`.
type ListFilter string

// List filters.
const (
	ListOpen    ListFilter = "open"    // every open incident
	ListOverdue ListFilter = "overdue" // open incidents with a deadline past
	ListMine    ListFilter = "mine"    // open incidents assigned to the person
	// ListResolved: incidents resolved at or after From and before To (a
	// zero To: up to now), as they stand (reopened ones are not).
	ListResolved ListFilter = "resolved"
)

// ListQuery asks the Store for incidents.
type ListQuery struct {
	Filter ListFilter
	Person string    // for ListMine
	Now    time.Time // for ListOverdue
	// From and To bound ListResolved: resolved in [From, To).
	From, To time.Time
	// Offset and Limit (0: no limit) select a page.
	Offset, Limit int
	// Urgent orders the incidents whose earliest unmet deadline falls
	// soonest first (the most overdue at the top), then those with none by
	// discovery; those due, or found, in the same millisecond by ID (YQ-9
	// before YQ-10). Otherwise they are ordered by discovery, then by ID.
	// ListResolved ignores it.
	Urgent bool
}

// Page is one page of a list and how many incidents match in all.
type Page struct {
	Incidents []*Incident
	Total     int
}

// Store keeps incidents, their timelines, timers and outgoing notices.
// Implementations return *Error values: CodeNotFound for an unknown incident
// (Get, History), ErrConflict when Apply's compare-and-set fails, CodeInvalid
// for a ListQuery they cannot answer, and CodeUnavailable when the storage
// cannot be reached.
type Store interface {
	// NextID allocates a new incident ID ("YQ-<n>") and, when rotation is
	// not "", the next turn of that rotation (as RoundRobin), together: an
	// incident's ID and its assignee's turn cost one round trip.
	NextID(ctx context.Context, rotation string) (id string, turn int64, err error)
	// Get returns the incident with the given ID (CodeNotFound if none).
	Get(ctx context.Context, id string) (*Incident, error)
	// Apply writes a Change atomically in one round trip, after checking that
	// the stored version equals Change.Prev's (or that the incident does not
	// exist yet when Prev is nil); otherwise it returns ErrConflict. The new
	// Incident.Version must be Prev.Version+1 (1 when creating) and every
	// timer must belong to the incident: anything else is a programming error.
	Apply(ctx context.Context, c Change) error
	// Enqueue appends notices that belong to no state change (digests) to
	// the outbox, atomically.
	Enqueue(ctx context.Context, notices []Notice) error
	// List returns the incidents matching q, ordered by discovery, oldest
	// first (ListResolved: by resolution, oldest first; those resolved in
	// the same millisecond by ID compared byte-wise). An empty Filter means
	// ListOpen; ListMine needs Person; a zero Now means the store's clock.
	List(ctx context.Context, q ListQuery) ([]*Incident, error)
	// ListPage is List with how many incidents match in all, for paging; it
	// costs the same whatever the page size.
	ListPage(ctx context.Context, q ListQuery) (Page, error)
	// History returns the incident (CodeNotFound if none) and its events,
	// oldest first, read together.
	History(ctx context.Context, id string) (*Incident, []Event, error)
	// RoundRobin returns the next turn of the named rotation (0, 1, 2, ...),
	// shared by every replica.
	RoundRobin(ctx context.Context, rotation string) (int64, error)
}

// DueTimer is a timer that fell due and was claimed by one scheduler for a
// lease. Due is the due time it was claimed with: when the incident was
// re-planned meanwhile, the current plan may differ, and the tick handler
// compares the two.
type DueTimer struct {
	ID       string    `json:"id"`
	Incident string    `json:"incident"`
	Due      time.Time `json:"due"`
}

// Timers is the durable timer queue shared by every replica. Timers are
// written by Store.Apply with the state change that planned them.
type Timers interface {
	// ClaimDue atomically moves up to max timers due at or before now to the
	// in-flight set with a lease until now+lease, and returns them ordered by
	// due time. Timers whose lease expired (their claimer died) are claimed
	// again.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]DueTimer, error)
	// AckTimer removes a handled timer from the in-flight set.
	AckTimer(ctx context.Context, t DueTimer) error
	// NextDue returns the earliest due time of a pending or in-flight timer
	// (in-flight ones count at their lease expiry), and false when there is none.
	NextDue(ctx context.Context) (time.Time, bool, error)
}
