package bot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Delivery is a notice read from the durable outbox, with the handle needed to
// acknowledge it once it has been delivered.
type Delivery struct {
	// Handle identifies the entry in the outbox (for Ack); opaque to callers.
	Handle string
	Notice workflow.Notice
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

// RetryAfterError is a platform's "too many requests": try again after After.
type RetryAfterError struct {
	After time.Duration
}

// Error says how long to wait.
func (e *RetryAfterError) Error() string { return fmt.Sprintf("rate limited: retry after %s", e.After) }
