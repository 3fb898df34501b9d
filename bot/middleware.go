package bot

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/firebreak/firebreak/workflow"
)

// Recover turns a panic in a handler into an internal error (logged with its
// stack), so one bad request cannot take the bot down.
func Recover(log *slog.Logger) Middleware {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (reply *Reply, err error) {
			defer func() {
				if p := recover(); p != nil {
					log.ErrorContext(ctx, "handler panicked", "request_id", RequestID(ctx), "panic", fmt.Sprint(p),
						"stack", string(debug.Stack()))
					reply, err = nil, fmt.Errorf("panic: %v", p)
				}
			}()
			return next(ctx, req)
		}
	}
}

// Logging logs every request with its outcome and duration. It logs the
// command name, never its text, which may hold unpublished drafts.
func Logging(log *slog.Logger) Middleware {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			start := time.Now()
			reply, err := next(ctx, req)
			what := "unknown"
			if c := CommandFrom(ctx); c != nil {
				what = c.Name
			} else if req.Action != nil {
				what = "action:" + req.Action.Name
			}
			attrs := []any{"request_id", RequestID(ctx), "platform", req.Platform, "actor", req.Actor,
				"command", what, "duration", time.Since(start)}
			if err != nil {
				attrs = append(attrs, "code", string(workflow.ErrorCode(err)))
			}
			log.InfoContext(ctx, "request", attrs...)
			return reply, err
		}
	}
}
