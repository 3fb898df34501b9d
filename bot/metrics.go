package bot

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/firebreak/firebreak/workflow"
)

// Metrics is what the bot did and how it is doing, on a Prometheus registry
// of its own (never the global default one, so tests and two Metrics in one
// process do not collide), for GET /metrics. docs/operations.md lists every
// metric. The zero value is ready to use and safe for concurrent use; it
// has the bot's metrics only, NewMetrics adds the Go runtime and process
// ones.
//
// No label value comes from what a request sent: commands and actions are
// the registered ones ("unknown" otherwise), and every metric keeps at most
// maxSeries series, the rest counted under "other".
type Metrics struct {
	once sync.Once
	reg  *prometheus.Registry

	requests      *boundedCounter
	latency       *boundedHistogram
	shed          *boundedCounter
	timers        *boundedCounter
	timerDelay    prometheus.Histogram
	timerFailures *boundedCounter
	deliveries    *boundedCounter
	byOutcome     map[string]*boundedCounter // the older per-outcome counters
	cron          *boundedCounter
	outbox        *outboxCollector

	mu     sync.Mutex
	extras map[string]*Counter // Counter's, by name
}

// maxSeries bounds the series of one metric. Every label here comes from a
// small fixed set; the bound is a second line against a bug that lets one
// through from outside.
const maxSeries = 200

// overflow is the label value of every label of a series past maxSeries.
const overflow = "other"

// delayBuckets are the upper bounds, in seconds, of the timer delay
// histogram: from a prompt timer (10 ms) to one an outage held back for an
// hour.
var delayBuckets = []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 3600}

// latencyBuckets are the upper bounds, in seconds, of the request latency
// histogram: Slack gives a command 3 s to answer.
var latencyBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Delivery outcomes, the outcome label of firebreak_outbox_deliveries_total.
const (
	DeliverySent        = "sent"
	DeliveryRetry       = "retry"
	DeliveryDeadLetter  = "dead_letter"
	DeliveryRateLimited = "rate_limited"
	DeliveryDuplicate   = "duplicate"
)

// outcomeMetrics are the per-outcome delivery counters that came before
// firebreak_outbox_deliveries_total; dashboards and tests read them.
var outcomeMetrics = map[string]struct{ name, help string }{
	DeliverySent:        {"firebreak_outbox_sent_total", "Outbox messages the platform accepted."},
	DeliveryRetry:       {"firebreak_outbox_retries_total", "Outbox sends that failed and will be retried."},
	DeliveryDeadLetter:  {"firebreak_outbox_dead_letters_total", "Outbox messages given up on and put in the dead-letter list."},
	DeliveryRateLimited: {"firebreak_outbox_rate_limited_total", "Outbox sends the platform refused for now (Retry-After)."},
	DeliveryDuplicate:   {"firebreak_outbox_duplicates_total", "Outbox messages not sent because the notice was already sent."},
}

// NewMetrics returns Metrics with the Go runtime (go_*) and process
// (process_*) collectors, as the composition root serves them.
func NewMetrics() *Metrics {
	m := &Metrics{}
	m.init()
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) init() {
	m.once.Do(func() {
		m.reg = prometheus.NewRegistry()
		m.requests = m.counter("firebreak_requests_total",
			"Requests handled, by platform, command (the registered one, or unknown) and outcome code.",
			"platform", "command", "code")
		m.latency = newBoundedHistogram(m.reg, prometheus.HistogramOpts{
			Name:    "firebreak_request_duration_seconds",
			Help:    "How long requests took to handle, by platform and command (the registered one, or unknown).",
			Buckets: latencyBuckets,
		}, "platform", "command")
		m.shed = m.counter("firebreak_requests_shed_total",
			"Requests answered busy at once because too many were in flight, by platform.", "platform")
		m.timers = m.counter("firebreak_timers_total",
			"Timers handled, by kind and outcome.", "kind", "outcome")
		m.timerDelay = prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "firebreak_timer_delay_seconds",
			Help:    "How late timers were handled: from due to handled.",
			Buckets: delayBuckets,
		})
		m.reg.MustRegister(m.timerDelay)
		m.timerFailures = m.counter("firebreak_timer_failures_total",
			"Failures of the timer loop, by stage (queue: reading the timers; handle: handling one).", "stage")
		m.deliveries = m.counter("firebreak_outbox_deliveries_total",
			"Outbox delivery attempts, by platform and outcome (sent, retry, dead_letter, rate_limited, duplicate).",
			"platform", "outcome")
		m.byOutcome = map[string]*boundedCounter{}
		for outcome, c := range outcomeMetrics {
			m.byOutcome[outcome] = m.counter(c.name, c.help, "platform")
		}
		m.cron = m.counter("firebreak_cron_runs_total", "Scheduled jobs run by this replica, by job.", "job")
		m.outbox = &outboxCollector{
			depth: prometheus.NewDesc("firebreak_outbox_held",
				"Outbox entries this replica has read and not yet finished, by platform.", []string{"platform"}, nil),
			age: prometheus.NewDesc("firebreak_outbox_oldest_age_seconds",
				"Age of the oldest outbox entry this replica holds (0 when none), by platform.", []string{"platform"}, nil),
			sources: map[string][]OutboxQueue{},
		}
		m.reg.MustRegister(m.outbox)
	})
}

func (m *Metrics) counter(name, help string, labels ...string) *boundedCounter {
	c := newBoundedCounter(prometheus.CounterOpts{Name: name, Help: help}, labels...)
	m.reg.MustRegister(c.vec)
	return c
}

// Request records one handled request: its latency and its outcome code.
// command must be a registered name (or "unknown", "action:<name>").
func (m *Metrics) Request(platform, command string, err error, took time.Duration) {
	m.init()
	code := string(workflow.ErrorCode(err))
	if code == "" {
		code = "ok"
	}
	m.requests.add(1, platform, command, code)
	m.latency.observe(took.Seconds(), platform, command)
}

// Shed records a request answered busy without running.
func (m *Metrics) Shed(platform string) { m.init(); m.shed.add(1, platform) }

// Timer records one handled timer of the given kind (workflow's registry)
// and outcome, handled late after its due time.
func (m *Metrics) Timer(kind, outcome string, late time.Duration) {
	m.init()
	m.timers.add(1, kind, outcome)
	m.timerDelay.Observe(late.Seconds())
}

// TimerFailure records a failure of the timer loop at stage (queue, handle).
func (m *Metrics) TimerFailure(stage string) { m.init(); m.timerFailures.add(1, stage) }

// Delivery records one outcome (DeliverySent, …) of an outbox entry on
// platform, in firebreak_outbox_deliveries_total and in the outcome's own
// counter (firebreak_outbox_sent_total, …).
func (m *Metrics) Delivery(platform, outcome string) {
	m.init()
	m.deliveries.add(1, platform, outcome)
	if c := m.byOutcome[outcome]; c != nil {
		c.add(1, platform)
	}
}

// CronRun records one run of the scheduled job named job.
func (m *Metrics) CronRun(job string) { m.init(); m.cron.add(1, job) }

// OutboxQueue reports what one Dispatcher holds: how many entries it has
// read and not finished, and when the oldest of them was appended (zero
// when none).
type OutboxQueue func() (held int, oldest time.Time)

// WatchOutbox adds q to what firebreak_outbox_held and
// firebreak_outbox_oldest_age_seconds report for platform, read at each
// scrape; several queues of one platform add up (the oldest entry wins).
// now tells the time the age is measured at (time.Now when nil).
func (m *Metrics) WatchOutbox(platform string, q OutboxQueue, now func() time.Time) {
	m.init()
	if now == nil {
		now = time.Now
	}
	m.outbox.mu.Lock()
	defer m.outbox.mu.Unlock()
	m.outbox.sources[platform] = append(m.outbox.sources[platform], q)
	m.outbox.now = now
}

// outboxCollector reads the Dispatchers' queues at scrape time; nothing is
// read from Redis for it.
type outboxCollector struct {
	depth, age *prometheus.Desc
	mu         sync.Mutex
	sources    map[string][]OutboxQueue
	now        func() time.Time
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.age }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for platform, qs := range c.sources {
		total, age := 0, 0.0
		for _, q := range qs {
			n, oldest := q()
			total += n
			if n > 0 && !oldest.IsZero() {
				age = max(age, c.now().Sub(oldest).Seconds())
			}
		}
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(total), platform)
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, platform)
	}
}

// CountFrom serves the counter name, with one label, from read, called at
// each scrape (the Redis adapter's failures by operation, say). read must
// return a small fixed set of label values; past maxSeries the rest are
// summed under "other".
func (m *Metrics) CountFrom(name, help, label string, read func() map[string]int64) {
	m.init()
	m.reg.MustRegister(&funcCounter{desc: prometheus.NewDesc(name, help, []string{label}, nil), read: read})
}

type funcCounter struct {
	desc *prometheus.Desc
	read func() map[string]int64
}

func (c *funcCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *funcCounter) Collect(ch chan<- prometheus.Metric) {
	values := c.read()
	var other int64
	n := 0
	for v, count := range values {
		if n++; n >= maxSeries || v == overflow {
			other += count
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(count), v)
	}
	if other > 0 {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(other), overflow)
	}
}

// Counter is a counter an adapter declares for itself, bounded like the
// bot's own.
type Counter struct{ c *boundedCounter }

// Counter returns the counter name with the given labels, registering it
// on first use; later calls with the same name return the same Counter.
func (m *Metrics) Counter(name, help string, labels ...string) *Counter {
	m.init()
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.extras[name]; c != nil {
		return c
	}
	if m.extras == nil {
		m.extras = map[string]*Counter{}
	}
	c := &Counter{c: m.counter(name, help, labels...)}
	m.extras[name] = c
	return c
}

// Inc adds one to the series of the given label values, in the order of
// the labels the Counter was declared with.
func (c *Counter) Inc(values ...string) { c.c.add(1, values...) }

// Handler serves the metrics in the Prometheus exposition format, HELP and
// TYPE included, negotiated with the scraper (text or OpenMetrics).
func (m *Metrics) Handler() http.Handler {
	m.init()
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the registry the metrics are on, for tests and for a
// collector of an outside system.
func (m *Metrics) Registry() *prometheus.Registry { m.init(); return m.reg }

// WriteText writes every metric in the Prometheus text format, families
// sorted by name, each with its HELP and TYPE.
func (m *Metrics) WriteText(w io.Writer) error {
	m.init()
	families, err := m.reg.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

// series bounds the label combinations of one metric to maxSeries.
type series struct {
	mu   sync.Mutex
	seen map[string]bool
}

// values returns vs, or "other" for each label once the metric has
// maxSeries other series.
func (s *series) values(vs []string) []string {
	for i, v := range vs {
		if v == "" {
			vs[i] = "unknown"
		}
	}
	key := strings.Join(vs, "\xff")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[key] {
		if len(s.seen) >= maxSeries {
			out := make([]string, len(vs))
			for i := range out {
				out[i] = overflow
			}
			return out
		}
		s.seen[key] = true
	}
	return vs
}

type boundedCounter struct {
	vec *prometheus.CounterVec
	series
}

func newBoundedCounter(o prometheus.CounterOpts, labels ...string) *boundedCounter {
	return &boundedCounter{vec: prometheus.NewCounterVec(o, labels)}
}

func (c *boundedCounter) add(n float64, values ...string) {
	c.vec.WithLabelValues(c.values(values)...).Add(n)
}

type boundedHistogram struct {
	vec *prometheus.HistogramVec
	series
}

func newBoundedHistogram(reg prometheus.Registerer, o prometheus.HistogramOpts, labels ...string) *boundedHistogram {
	h := &boundedHistogram{vec: prometheus.NewHistogramVec(o, labels)}
	reg.MustRegister(h.vec)
	return h
}

func (h *boundedHistogram) observe(v float64, values ...string) {
	h.vec.WithLabelValues(h.values(values)...).Observe(v)
}

// Count is middleware recording each request's latency by platform and
// command, and its outcome code.
func (m *Metrics) Count() Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (*Reply, error) {
			start := time.Now()
			reply, err := next(ctx, req)
			m.Request(req.Platform, commandLabel(ctx, req), err, time.Since(start))
			return reply, err
		}
	}
}

// commandLabel names the request's command for metrics from what the
// router matched, never from what was sent: 3,000 forged button names are
// one series, not 3,000.
func commandLabel(ctx context.Context, req *Request) string {
	if c := CommandFrom(ctx); c != nil {
		return c.Name
	}
	if a := ActionFrom(ctx); a != "" {
		return "action:" + a
	}
	if req.Action != nil {
		return "action:unknown"
	}
	return "unknown"
}
