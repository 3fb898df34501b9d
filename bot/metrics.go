package bot

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/firebreak/firebreak/workflow"
)

// Metrics counts what the bot did, for GET /metrics (Prometheus text format).
// The zero value is ready to use and safe for concurrent use.
type Metrics struct {
	mu       sync.Mutex
	counters map[string]int64 // "name{labels}" -> value
}

// Add adds n to the counter name with the given label string
// (`command="open",code="ok"`; may be empty).
func (m *Metrics) Add(name, labels string, n int64) {
	key := name
	if labels != "" {
		key += "{" + labels + "}"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.counters == nil {
		m.counters = map[string]int64{}
	}
	m.counters[key] += n
}

// WriteText writes every counter in the Prometheus text format, sorted.
func (m *Metrics) WriteText(w io.Writer) error {
	m.mu.Lock()
	snapshot := maps.Clone(m.counters)
	m.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(snapshot)) {
		if _, err := fmt.Fprintf(w, "%s %d\n", k, snapshot[k]); err != nil {
			return err
		}
	}
	return nil
}

// Count is middleware counting requests by command and outcome code.
func (m *Metrics) Count() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			reply, err := next(ctx, req)
			what := "unknown"
			if c := CommandFrom(ctx); c != nil {
				what = c.Name
			} else if req.Action != nil {
				what = "action:" + req.Action.Name
			}
			code := string(workflow.ErrorCode(err))
			if code == "" {
				code = "ok"
			}
			m.Add("firebreak_requests_total", fmt.Sprintf("platform=%q,command=%q,code=%q", req.Platform, what, code), 1)
			return reply, err
		}
	}
}
