package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"sync"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// fail wraps err with what was being done and, when Redis could not be
// reached, turns it into workflow.Unavailable so people are told to retry
// instead of seeing an internal error. op is a fixed phrase ("read
// outbox"), never formatted: it is the op label of
// firebreak_redis_errors_total (TestFailOpsAreFixed checks every call).
func fail(op string, err error) error {
	failures.add(op)
	err = fmt.Errorf("%s: %w", op, err)
	if unreachable(err) {
		return workflow.Unavailable(err)
	}
	return err
}

// failOn is fail for an operation on one thing ("load incident YQ-7"):
// subject is in the message, not in the metric.
func failOn(op, subject string, err error) error {
	failures.add(op)
	err = fmt.Errorf("%s %s: %w", op, subject, err)
	if unreachable(err) {
		return workflow.Unavailable(err)
	}
	return err
}

// failWrite is failOn for a write sent to Redis: when the answer did not
// come in time (a timeout, not a refused connection), the write may still
// run, and the error says that its outcome is unknown.
func failWrite(op, subject string, err error) error {
	failures.add(op)
	var ne net.Error
	timedOut := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	err = fmt.Errorf("%s %s: %w", op, subject, err)
	switch {
	case timedOut:
		return workflow.UnknownOutcome(err)
	case unreachable(err):
		return workflow.Unavailable(err)
	}
	return err
}

// failures counts what fail wrapped, by operation, for the whole process:
// fail is called from every part of the adapter, with no Store at hand (a
// dial, a Memo, the Telegram state), and the operations are a fixed set.
var failures opCounts

type opCounts struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *opCounts) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int64{}
	}
	c.n[op]++
}

// Failures returns how many Redis operations failed in this process, by
// operation ("read outbox", "load incident", …), for
// firebreak_redis_errors_total{op}.
func Failures() map[string]int64 {
	failures.mu.Lock()
	defer failures.mu.Unlock()
	return maps.Clone(failures.n)
}

// unreachable reports whether err means Redis could not be reached or could
// not serve the request for now, as opposed to a bug (a wrong command, a
// script error, a bad reply).
func unreachable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.Is(err, goredis.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, goredis.ErrPoolExhausted):
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// Server states that pass: a restart loading its data, a failover, a
	// full client table, a replica that cannot take writes.
	return goredis.IsLoadingError(err) ||
		goredis.IsClusterDownError(err) ||
		goredis.IsTryAgainError(err) ||
		goredis.IsMasterDownError(err) ||
		goredis.IsMaxClientsError(err) ||
		goredis.IsReadOnlyError(err)
}
