package bot_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

func mustWriteText(tb testing.TB, m *bot.Metrics) string {
	tb.Helper()
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		tb.Fatalf("WriteText: %v", err)
	}
	return b.String()
}

// mustParse parses the text exposition as Prometheus does.
func mustParse(tb testing.TB, text string) map[string]*dto.MetricFamily {
	tb.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("parse the exposition: %v\n%s", err, text)
	}
	return families
}

// seriesLines are the lines of the series of metric name, in order.
func seriesLines(text, name string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestMetricsCount(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	var m bot.Metrics
	f.router.Use(m.Count())
	f.handle("chen", "open x")
	f.handle("li", "/incident 新建 y")
	f.handle("chen", "approve YQ-7")
	f.handle("chen", "fail invalid")
	f.handle("chen", "fail internal")
	f.handle("mallory", "open z")
	f.press("wang", bot.Action{Name: "approve", Args: []string{"YQ-7", "1"}})
	// Forged button names (callback data is anyone's to choose) share one
	// series: labels never come from what was sent.
	for i := range 300 {
		f.press("wang", bot.Action{Name: fmt.Sprintf("forged%d", i)})
	}
	// Prometheus writes labels sorted by name: code, command, platform.
	want := `firebreak_requests_total{code="forbidden",command="approve",platform="slack"} 1
firebreak_requests_total{code="forbidden",command="open",platform="slack"} 1
firebreak_requests_total{code="internal",command="fail",platform="slack"} 1
firebreak_requests_total{code="invalid",command="action:unknown",platform="telegram"} 300
firebreak_requests_total{code="invalid",command="fail",platform="slack"} 1
firebreak_requests_total{code="ok",command="action:approve",platform="telegram"} 1
firebreak_requests_total{code="ok",command="open",platform="slack"} 2
`
	text := mustWriteText(t, &m)
	if got := seriesLines(text, "firebreak_requests_total"); got != want {
		t.Errorf("metrics:\n got %s\nwant %s", got, want)
	}
	// The latency histogram has the same commands, without the code.
	families := mustParse(t, text)
	lat := families["firebreak_request_duration_seconds"]
	if lat == nil || lat.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("firebreak_request_duration_seconds: got %v, want a histogram", lat)
	}
	var got []string
	for _, s := range lat.Metric {
		got = append(got, labelString(s)+fmt.Sprintf(" %d", s.GetHistogram().GetSampleCount()))
	}
	wantLat := []string{
		`command="action:approve",platform="telegram" 1`,
		`command="action:unknown",platform="telegram" 300`,
		`command="approve",platform="slack" 1`,
		`command="fail",platform="slack" 2`,
		`command="open",platform="slack" 3`,
	}
	if !slices.Equal(got, wantLat) {
		t.Errorf("latency series:\n got %q\nwant %q", got, wantLat)
	}
}

func labelString(m *dto.Metric) string {
	var parts []string
	for _, l := range m.Label {
		parts = append(parts, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	return strings.Join(parts, ",")
}

// TestMetricsForgedNamesAreBounded: 3,000 forged command and button names
// make a handful of series, not 3,000.
func TestMetricsForgedNamesAreBounded(t *testing.T) {
	f := newFixture(t, workflow.LocaleEN)
	var m bot.Metrics
	f.router.Use(m.Count())
	for i := range 3000 {
		f.press("wang", bot.Action{Name: fmt.Sprintf("forged%d", i), Args: []string{"YQ-1"}})
		f.handle("chen", fmt.Sprintf("forged%d x", i))
	}
	families := mustParse(t, mustWriteText(t, &m))
	for _, name := range []string{"firebreak_requests_total", "firebreak_request_duration_seconds"} {
		if n := len(families[name].GetMetric()); n == 0 || n > 4 {
			t.Errorf("%s: got %d series after 6,000 forged requests, want 1 to 4", name, n)
		}
	}
}

// TestMetricsSeriesAreCapped: even a label fed from outside by mistake
// keeps a metric within a bound; the rest are counted under "other".
func TestMetricsSeriesAreCapped(t *testing.T) {
	var m bot.Metrics
	for i := range 3000 {
		m.CronRun(fmt.Sprintf("job%d", i))
	}
	c := m.Counter("firebreak_test_total", "A test counter.", "name")
	for i := range 3000 {
		c.Inc(fmt.Sprintf("n%d", i))
	}
	families := mustParse(t, mustWriteText(t, &m))
	for _, name := range []string{"firebreak_cron_runs_total", "firebreak_test_total"} {
		f := families[name]
		if n := len(f.GetMetric()); n > 201 {
			t.Errorf("%s: got %d series, want at most 201", name, n)
		}
		var total float64
		for _, s := range f.GetMetric() {
			total += s.GetCounter().GetValue()
		}
		if total != 3000 {
			t.Errorf("%s: got %v counted, want every one of 3000", name, total)
		}
	}
}

// TestMetricsExposition: every metric served has HELP and TYPE and the
// exposition parses; the runtime and process collectors are there.
func TestMetricsExposition(t *testing.T) {
	m := bot.NewMetrics()
	m.Request("slack", "open", nil, 30*time.Millisecond)
	m.Shed("slack")
	m.Timer("assign:due", "fired", 2*time.Second)
	m.TimerFailure("queue")
	m.Delivery("slack", bot.DeliverySent)
	m.Delivery("slack", bot.DeliveryDeadLetter)
	m.CronRun("digest")
	m.CountFrom("firebreak_redis_errors_total", "Redis failures by operation.", "op",
		func() map[string]int64 { return map[string]int64{"read outbox": 2} })
	now := time.Date(2026, 3, 1, 9, 0, 7, 0, time.UTC)
	m.WatchOutbox("slack", func() (int, time.Time) { return 3, now.Add(-90 * time.Second) }, func() time.Time { return now })

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text := mustRead(t, resp)
	families := mustParse(t, text)
	for _, want := range []struct {
		name string
		typ  dto.MetricType
	}{
		{"firebreak_requests_total", dto.MetricType_COUNTER},
		{"firebreak_request_duration_seconds", dto.MetricType_HISTOGRAM},
		{"firebreak_requests_shed_total", dto.MetricType_COUNTER},
		{"firebreak_timers_total", dto.MetricType_COUNTER},
		{"firebreak_timer_delay_seconds", dto.MetricType_HISTOGRAM},
		{"firebreak_timer_failures_total", dto.MetricType_COUNTER},
		{"firebreak_outbox_deliveries_total", dto.MetricType_COUNTER},
		{"firebreak_outbox_sent_total", dto.MetricType_COUNTER},
		{"firebreak_outbox_dead_letters_total", dto.MetricType_COUNTER},
		{"firebreak_cron_runs_total", dto.MetricType_COUNTER},
		{"firebreak_redis_errors_total", dto.MetricType_COUNTER},
		{"firebreak_outbox_held", dto.MetricType_GAUGE},
		{"firebreak_outbox_oldest_age_seconds", dto.MetricType_GAUGE},
		{"go_goroutines", dto.MetricType_GAUGE},
		{"process_start_time_seconds", dto.MetricType_GAUGE},
	} {
		f := families[want.name]
		if f == nil {
			t.Errorf("%s: missing from the exposition", want.name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s: got type %v, want %v", want.name, f.GetType(), want.typ)
		}
		if !strings.Contains(text, "# HELP "+want.name+" ") || !strings.Contains(text, "# TYPE "+want.name+" ") {
			t.Errorf("%s: got no HELP or TYPE line", want.name)
		}
	}
	for _, want := range []string{
		`firebreak_outbox_held{platform="slack"} 3`,
		`firebreak_outbox_oldest_age_seconds{platform="slack"} 90`,
		`firebreak_redis_errors_total{op="read outbox"} 2`,
		`firebreak_outbox_deliveries_total{outcome="dead_letter",platform="slack"} 1`,
		`firebreak_outbox_dead_letters_total{platform="slack"} 1`,
		`firebreak_timer_delay_seconds_bucket{le="1"} 0`,
		`firebreak_timer_delay_seconds_bucket{le="5"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("got no line %s in\n%s", want, text)
		}
	}
	for line := range strings.Lines(text) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		series := strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]
		if name := baseName(series, families); !strings.Contains(text, "# HELP "+name+" ") {
			t.Errorf("line %q: its family has no HELP", strings.TrimSpace(line))
		}
	}
}

// baseName is the family a series line belongs to (a histogram's _bucket,
// _sum and _count lines belong to the histogram).
func baseName(series string, families map[string]*dto.MetricFamily) string {
	if families[series] != nil {
		return series
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(series, suffix); ok && families[base] != nil {
			return base
		}
	}
	return series
}

func mustRead(tb testing.TB, resp *http.Response) string {
	tb.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: got %d, want 200", resp.StatusCode)
	}
	return string(body)
}

func TestMetricsZeroValue(t *testing.T) {
	var m bot.Metrics
	families := mustParse(t, mustWriteText(t, &m))
	for name, f := range families {
		if len(f.GetMetric()) != 0 && name != "firebreak_timer_delay_seconds" {
			t.Errorf("%s: got %d series from unused metrics, want none", name, len(f.GetMetric()))
		}
	}
}

func TestMetricsConcurrent(t *testing.T) {
	var m bot.Metrics
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for range 100 {
				m.Delivery(fmt.Sprintf("p%d", g%2), bot.DeliverySent)
				_ = m.WriteText(&strings.Builder{})
			}
		})
	}
	wg.Wait()
	want := "firebreak_outbox_sent_total{platform=\"p0\"} 400\nfirebreak_outbox_sent_total{platform=\"p1\"} 400\n"
	if got := seriesLines(mustWriteText(t, &m), "firebreak_outbox_sent_total"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

type failingWriter struct{}

var errFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func TestMetricsWriteError(t *testing.T) {
	var m bot.Metrics
	m.CronRun("digest")
	if err := m.WriteText(failingWriter{}); !errors.Is(err, errFull) {
		t.Errorf("WriteText to a failing writer: got %v, want %v", err, errFull)
	}
}
