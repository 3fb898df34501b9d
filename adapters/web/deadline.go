package web

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// bounded runs call with a context that ends after timeout, and returns
// when call returns or the context ends, whichever comes first: a call that
// ignores its context (go-redis does, unless ContextTimeoutEnabled is set)
// goes on in the background and its result is dropped, but the request no
// longer waits for it. Past the deadline the error is CodeUnavailable, so
// the request answers 503.
func bounded[T any](ctx context.Context, timeout time.Duration, op string, call func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			// The request's goroutine is not this one: a panic here would
			// end the process instead of the request.
			if p := recover(); p != nil {
				res.err = fmt.Errorf("%s: panic: %v", op, p)
			}
			done <- res
		}()
		res.v, res.err = call(ctx)
	}()
	select {
	case res := <-done:
		if res.err != nil && ctx.Err() != nil && workflow.ErrorCode(res.err) == workflow.CodeInternal &&
			(errors.Is(res.err, context.DeadlineExceeded) || errors.Is(res.err, context.Canceled)) {
			// A store that honours the deadline and says so plainly: the
			// same answer as when it does not.
			res.err = workflow.Unavailable(fmt.Errorf("%s: storage did not answer within %s: %w", op, timeout, res.err))
		}
		return res.v, res.err
	case <-ctx.Done():
		var zero T
		return zero, workflow.Unavailable(fmt.Errorf("%s: storage did not answer within %s: %w", op, timeout, ctx.Err()))
	}
}

// boundedIncidents bounds every call of Incidents by timeout.
type boundedIncidents struct {
	Incidents
	timeout time.Duration
}

func (b boundedIncidents) Get(ctx context.Context, id string) (*workflow.Incident, error) {
	return bounded(ctx, b.timeout, "get incident", func(ctx context.Context) (*workflow.Incident, error) {
		return b.Incidents.Get(ctx, id)
	})
}

func (b boundedIncidents) History(ctx context.Context, id string) (*workflow.Incident, []workflow.Event, error) {
	type history struct {
		inc    *workflow.Incident
		events []workflow.Event
	}
	h, err := bounded(ctx, b.timeout, "read timeline", func(ctx context.Context) (history, error) {
		inc, events, err := b.Incidents.History(ctx, id)
		return history{inc, events}, err
	})
	return h.inc, h.events, err
}

func (b boundedIncidents) List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	return bounded(ctx, b.timeout, "list incidents", func(ctx context.Context) ([]*workflow.Incident, error) {
		return b.Incidents.List(ctx, q)
	})
}

func (b boundedIncidents) ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error) {
	return bounded(ctx, b.timeout, "list incidents", func(ctx context.Context) (workflow.Page, error) {
		return b.Incidents.ListPage(ctx, q)
	})
}

func (b boundedIncidents) Recent(ctx context.Context, since time.Time, max int) ([]*workflow.Incident, error) {
	return bounded(ctx, b.timeout, "read recent incidents", func(ctx context.Context) ([]*workflow.Incident, error) {
		return b.Incidents.Recent(ctx, since, max)
	})
}

// boundedRouter bounds a playground command or button press by timeout.
// Past it the person is told that storage did not answer and that the
// command may still take effect (the call goes on in the background), so
// that they look before repeating it.
type boundedRouter struct {
	Router
	timeout time.Duration
	locale  string
}

func (b boundedRouter) Handle(ctx context.Context, req *bot.Request) *bot.Reply {
	reply, err := bounded(ctx, b.timeout, "handle request", func(ctx context.Context) (*bot.Reply, error) {
		return b.Router.Handle(ctx, req), nil
	})
	if err != nil {
		secs := int((b.timeout + time.Second - 1) / time.Second)
		return &bot.Reply{Failed: true, Text: workflow.Text{
			EN: fmt.Sprintf("Storage did not answer within %d s. The command may still take effect when it recovers: look at the board before repeating it.", secs),
			ZH: fmt.Sprintf("存储在 %d 秒内未响应。恢复后该命令仍可能生效:请先查看看板,再决定是否重试。", secs),
		}.In(b.locale)}
	}
	return reply
}
