package bot

import (
	"context"
	"time"
)

// How the outbox is delivered (DESIGN.md §3):
//
//   - Every platform is a consumer group of the per-shard outbox streams; every
//     replica runs one Dispatcher per platform under its own consumer name.
//   - Within a group each target (a chat) is owned by one consumer at a time,
//     through a lease in the store. The owner alone sends to the target, so
//     per-target order and rate limits hold across replicas. A consumer that
//     reads a notice for a target owned by another hands the entry over to
//     the owner's pending list. New notices of a shard are read by one
//     consumer at a time (the store's shard reader lease), so the notices of
//     a shard for a target reach its owner in order.
//   - A notice is sent at least once and shown once: before sending, the
//     store is asked whether its ID was already sent on this platform; right
//     after the platform accepted it, it is marked sent; then it is acked.
//     The one window left is a crash (SIGKILL, power loss) after the platform
//     accepted a message and before the mark was written, one Redis round
//     trip: the consumer that takes the entry over sends it again. A replica
//     that stalls for longer than MinIdle (and so loses its entries) while
//     sending can also cause one; a graceful shutdown cannot.
//   - A consumer that stops gracefully (Run's ctx is done) releases what it
//     holds (Release): its shard reader leases and targets, and its pending
//     entries become claimable at once, so the next consumer goes on without
//     waiting for a lease. A consumer that dies (SIGKILL) leaves its entries
//     pending; after MinIdle without being read again they are claimed by
//     another consumer (ClaimStale). Its target leases run out at the latest
//     when its last entries become claimable, and a consumer that takes a
//     target over claims the stale entries first, so the old ones go out
//     before newer ones. With the defaults (MinIdle 10 s, target and shard
//     reader leases 15 s) a dead replica's work moves on within about 15 s.
//   - Order within a target is the outbox order: exact within a shard (one
//     incident), by append time across shards.

// DeliveryStore is the outbox as a Dispatcher needs it: reading and acking
// (OutboxStore), taking over what dead consumers claimed, remembering what was
// sent, a dead-letter list, and per-target ownership. Every method is safe for
// concurrent use by any number of replicas.
type DeliveryStore interface {
	OutboxStore
	// ClaimStale claims for consumer up to max entries of group that another
	// consumer (or this one, in an earlier life) read but has not acked nor
	// read again for at least minIdle, and returns them.
	ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]Delivery, error)
	// WasSent reports, for each of ds in its order, whether its notice was
	// marked sent for group, in one round trip: a coalesced message checks
	// hundreds at once.
	WasSent(ctx context.Context, group string, ds ...Delivery) ([]bool, error)
	// MarkSent remembers for ttl that the notices of ds were sent for
	// group, in one round trip; first[i] is false when the notice of ds[i]
	// was already marked. On an error any of them may be marked: marking
	// again is harmless.
	MarkSent(ctx context.Context, group string, ttl time.Duration, ds ...Delivery) (first []bool, err error)
	// DeadLetter records d with the reason it could not be delivered on the
	// dead-letter list of group and acks it, atomically.
	DeadLetter(ctx context.Context, group string, d Delivery, reason string) error
	// DeadLetters returns up to max entries of group's dead-letter list,
	// newest first.
	DeadLetters(ctx context.Context, group string, max int) ([]DeadLetter, error)
	// OwnTarget makes consumer the owner of target within group for lease,
	// unless another consumer owns it; it renews the lease when consumer
	// already owns it. It returns the owner after the call and how long its
	// lease has left.
	OwnTarget(ctx context.Context, group, target, consumer string, lease time.Duration) (owner string, left time.Duration, err error)
	// Handover moves pending entries of group to consumer, which reads them
	// next as its own, and sets their idle time to idle (as if consumer had
	// read them that long ago), for ClaimStale.
	Handover(ctx context.Context, group, consumer string, idle time.Duration, ds ...Delivery) error
	// Release gives up, as consumer stops, what it holds in group: the
	// right to read new entries (shard reader leases) and its ownership of
	// targets, each only while consumer still holds it; and it makes
	// consumer's pending entries claimable at once by ClaimStale, whatever
	// its minIdle, so the next consumer goes on without waiting for a lease.
	Release(ctx context.Context, group, consumer string, targets ...string) error
}

// ReaderLeaser is implemented by a DeliveryStore in which one consumer of a
// group at a time reads the new entries of each of its logs, under a lease
// that every read renews (the Redis Store's shard reader lease). A reader
// that dies keeps its logs until the lease runs out, and the entries it read
// must be claimed by another consumer before then. The Dispatcher checks
// its MinIdle against the lease before its first pass.
type ReaderLeaser interface {
	// OutboxReaderLease is how long a consumer keeps the right to read new
	// entries of a log after its last read.
	OutboxReaderLease() time.Duration
}

// DeadLetter is a notice that could not be delivered on a platform.
type DeadLetter struct {
	Delivery
	// Reason is the last error.
	Reason string
	// At is when it was given up.
	At time.Time
}
