package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Delivery is a notice read from the durable outbox, with the handle needed to
// acknowledge it once it has been delivered and its place in the outbox order.
type Delivery struct {
	// Handle identifies the entry in the outbox (for Ack); opaque to callers.
	Handle string
	// Seq is the entry's place in the outbox order, set by the store.
	Seq    Seq
	Notice workflow.Notice
}

// Seq is an entry's place in the outbox order, which is the order messages
// to one target go out in. A store appends to several logs (the Redis Store:
// one stream per shard); within a log the order is exact, across logs it is
// the order of append time, as precise as the store's clock. The store owns
// its format and fills in Seq; the Dispatcher only compares.
type Seq struct {
	// At is when the entry was appended, in the store's precision (the
	// Redis Store: the millisecond of the stream entry ID).
	At time.Time
	// Log names the log the entry was appended to ("s07", the shard).
	Log string
	// N orders the entries of one log appended at the same At.
	N uint64
}

// Compare returns -1, 0 or +1 as s comes before, with or after t: by append
// time, then, within one log, exactly by N. Entries of different logs
// appended in the same instant are ordered by log name, so every replica
// sorts them alike.
func (s Seq) Compare(t Seq) int {
	if c := s.At.Compare(t.At); c != 0 {
		return c
	}
	if c := cmp.Compare(s.Log, t.Log); c != 0 {
		return c
	}
	return cmp.Compare(s.N, t.N)
}

// OutboxStore is the durable side of the outbox: notices were appended in the
// same atomic write as the state change that produced them; workers read them
// here and acknowledge each one after delivery.
type OutboxStore interface {
	// ReadOutbox returns up to max notices not yet acknowledged by group,
	// claiming them for consumer. It does not block.
	ReadOutbox(ctx context.Context, group, consumer string, max int) ([]Delivery, error)
	// AckOutbox marks deliveries as done for group.
	AckOutbox(ctx context.Context, group string, ds ...Delivery) error
}

// NewReader is an OutboxStore that can read the new notices alone,
// claiming them for consumer, without the ones consumer read before and has
// not acknowledged. A Dispatcher holding entries then reads those again only
// every Poll (a second), which keeps them from being taken over, instead of
// in every pass: it passes each time a held message falls due, and a
// backlog of a thousand entries paced at a message a second per chat was
// read again hundreds of times a second, a third of a busy replica's CPU.
type NewReader interface {
	// ReadNewOutbox returns about max notices of group that no consumer
	// read yet (a few more, when it claimed more), claiming them for
	// consumer. It does not block.
	ReadNewOutbox(ctx context.Context, group, consumer string, max int) ([]Delivery, error)
}

// Sender delivers messages on one platform.
type Sender interface {
	// Platform names the platform ("slack", "telegram", "web"); it is also
	// the outbox consumer group, so every platform gets every notice.
	Platform() string
	// Send delivers m to the audience of n. It returns ErrNoRoute when the
	// audience does not exist on this platform (nothing to do), a
	// *RetryAfterError when the platform asks to slow down (HTTP 429), and
	// any other error for a failure worth retrying with backoff.
	Send(ctx context.Context, n workflow.Notice, m Message) error
	// Target names the chat a notice goes to on this platform ("C0INCIDENTS",
	// "-100222"); per-target ordering and rate limits use it. "" means the
	// audience does not exist here.
	Target(n workflow.Notice) string
}

// Renderer turns a notice into the message one platform shows, reading the
// incident as it is at delivery: a card delivered late, or updated in place,
// shows the present state. It returns an error wrapping ErrBadNotice for a
// notice no retry can render; any other error is retried like a failed send.
type Renderer interface {
	Render(ctx context.Context, n workflow.Notice, platform string) (Message, error)
}

// ErrBadNotice means a notice cannot be rendered, now or ever.
var ErrBadNotice = errors.New("notice cannot be rendered")

// ErrNoRoute means a notice's audience does not exist on a platform.
var ErrNoRoute = errors.New("no such chat on this platform")

// ErrRefused means the platform refused the message for good (a bad
// request, a chat the bot may not write to): the same message will be
// refused again, so it is dead-lettered at once instead of retried while
// the chat's later notices wait. Senders wrap such answers with it (an
// error whose Is reports it); a refused login is not one: every message
// would be refused until the token is put right.
var ErrRefused = errors.New("refused by the platform for good")

// RetryAfterError is a platform's "too many requests": try again after After.
type RetryAfterError struct {
	After time.Duration
}

// Error says how long to wait.
func (e *RetryAfterError) Error() string { return fmt.Sprintf("rate limited: retry after %s", e.After) }
