package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// fail wraps err with what was being done and, when Redis could not be
// reached, turns it into workflow.Unavailable so people are told to retry
// instead of seeing an internal error.
func fail(op string, err error) error {
	err = fmt.Errorf("%s: %w", op, err)
	if unreachable(err) {
		return workflow.Unavailable(err)
	}
	return err
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
