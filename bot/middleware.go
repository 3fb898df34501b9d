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

// MaxInFlight is how many requests one replica handles at once by default
// (Shed): beyond it a request is answered at once that the bot is busy,
// instead of queueing until it times out and taking memory with it.
const MaxInFlight = 256

// ErrBusy is the answer to a request shed under overload: nothing was done,
// and trying again in a moment will do.
var ErrBusy = workflow.Errorf(workflow.CodeUnavailable,
	"Firebreak is busy, try again in a few seconds; nothing was changed",
	"Firebreak 正忙,请几秒后重试;未做任何更改")

// Shed bounds the requests handled at once to n (MaxInFlight when n <= 0).
// A request beyond it is not queued: it gets ErrBusy at once (a fast, clear
// answer the platforms show, HTTP 200 for Slack) and counts in
// firebreak_requests_shed_total.
func Shed(n int, m *Metrics) Middleware {
	if n <= 0 {
		n = MaxInFlight
	}
	slots := make(chan struct{}, n)
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			select {
			case slots <- struct{}{}:
			default:
				if m != nil {
					m.Shed(req.Platform)
				}
				return nil, ErrBusy
			}
			defer func() { <-slots }()
			return next(ctx, req)
		}
	}
}

// Refuse answers every request with the error refused returns, changing
// nothing, for as long as it returns one (nil: the request runs). A
// replica whose store lost its data refuses so: what it would show is
// incomplete, and what it would write could clash with what was posted.
func Refuse(refused func() error) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			if refused != nil {
				if err := refused(); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	}
}
