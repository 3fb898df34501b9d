package bot

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/firebreak/firebreak/workflow"
)

// Metrics counts what the bot did, for GET /metrics (Prometheus text format).
// The zero value is ready to use and safe for concurrent use.
type Metrics struct {
	mu         sync.Mutex
	counters   map[string]int64      // "name{labels}" -> value
	histograms map[string]*histogram // "name\x00labels" -> observations
}

// delayBuckets are the upper bounds, in seconds, of the histograms Observe
// keeps: from a prompt timer (10 ms) to one an outage held back for an hour.
var delayBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600}

// histogram counts observations per bucket (cumulative when written).
type histogram struct {
	counts []int64 // per bucket of delayBuckets, then +Inf
	sum    float64
	n      int64
}

// Observe records one observation v (seconds) of the histogram name with the
// given label string (may be empty).
func (m *Metrics) Observe(name, labels string, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.histograms == nil {
		m.histograms = map[string]*histogram{}
	}
	key := name + "\x00" + labels
	h := m.histograms[key]
	if h == nil {
		h = &histogram{counts: make([]int64, len(delayBuckets)+1)}
		m.histograms[key] = h
	}
	i, _ := slices.BinarySearch(delayBuckets, v)
	h.counts[i]++
	h.sum += v
	h.n++
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

// WriteText writes every counter, then every histogram, in the Prometheus
// text format, sorted.
func (m *Metrics) WriteText(w io.Writer) error {
	m.mu.Lock()
	snapshot := maps.Clone(m.counters)
	hists := make(map[string]histogram, len(m.histograms))
	for k, h := range m.histograms {
		hists[k] = histogram{counts: slices.Clone(h.counts), sum: h.sum, n: h.n}
	}
	m.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(snapshot)) {
		if _, err := fmt.Fprintf(w, "%s %d\n", k, snapshot[k]); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(hists)) {
		if err := writeHistogram(w, k, hists[k]); err != nil {
			return err
		}
	}
	return nil
}

// writeHistogram writes one histogram: cumulative buckets, sum and count.
func writeHistogram(w io.Writer, key string, h histogram) error {
	name, labels, _ := strings.Cut(key, "\x00")
	with := func(extra string) string {
		switch {
		case labels == "" && extra == "":
			return ""
		case labels == "":
			return "{" + extra + "}"
		case extra == "":
			return "{" + labels + "}"
		}
		return "{" + labels + "," + extra + "}"
	}
	var cum int64
	for i, c := range h.counts {
		cum += c
		le := "+Inf"
		if i < len(delayBuckets) {
			le = strconv.FormatFloat(delayBuckets[i], 'g', -1, 64)
		}
		if _, err := fmt.Fprintf(w, "%s_bucket%s %d\n", name, with(`le="`+le+`"`), cum); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, with(""),
		strconv.FormatFloat(h.sum, 'g', -1, 64), name, with(""), h.n)
	return err
}

// Count is middleware counting requests by command and outcome code.
func (m *Metrics) Count() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			reply, err := next(ctx, req)
			// Labels come from what the router knows, never from what was
			// sent: 3,000 forged button names are one series, not 3,000.
			what := "unknown"
			if c := CommandFrom(ctx); c != nil {
				what = c.Name
			} else if a := ActionFrom(ctx); a != "" {
				what = "action:" + a
			} else if req.Action != nil {
				what = "action:unknown"
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
