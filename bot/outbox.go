package bot

import (
	"context"

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
