package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	commandKey
)

// WithRequestID returns a context carrying a request ID.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// NewRequestID returns a fresh random request ID (12 hex digits), short
// enough to be read out over the phone.
func NewRequestID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// matched holds what the router matched for a request: the command, or
// the name of a registered action.
type matched struct {
	cmd    *Command
	action string
}

// ActionFrom returns the name of the registered action being run, "" when
// the request is no action or names none registered (a forged button).
func ActionFrom(ctx context.Context) string {
	if m, ok := ctx.Value(commandKey).(*matched); ok {
		return m.action
	}
	return ""
}

// CommandFrom returns the command being run, when the router matched one.
func CommandFrom(ctx context.Context) *Command {
	if m, ok := ctx.Value(commandKey).(*matched); ok {
		return m.cmd
	}
	return nil
}
