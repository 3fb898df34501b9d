package bot_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

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
	want := `firebreak_requests_total{platform="slack",command="approve",code="forbidden"} 1
firebreak_requests_total{platform="slack",command="fail",code="internal"} 1
firebreak_requests_total{platform="slack",command="fail",code="invalid"} 1
firebreak_requests_total{platform="slack",command="open",code="forbidden"} 1
firebreak_requests_total{platform="slack",command="open",code="ok"} 2
firebreak_requests_total{platform="telegram",command="action:approve",code="ok"} 1
firebreak_requests_total{platform="telegram",command="action:unknown",code="invalid"} 300
`
	if got := mustWriteText(t, &m); got != want {
		t.Errorf("metrics:\n got %s\nwant %s", got, want)
	}
}

func TestMetricsAdd(t *testing.T) {
	tests := []struct {
		name string
		add  func(m *bot.Metrics)
		want string
	}{
		{"zero value writes nothing", func(*bot.Metrics) {}, ""},
		{"no labels", func(m *bot.Metrics) { m.Add("firebreak_ticks_total", "", 2); m.Add("firebreak_ticks_total", "", 3) },
			"firebreak_ticks_total 5\n"},
		{"sorted by name and labels", func(m *bot.Metrics) {
			m.Add("b_total", `kind="x"`, 1)
			m.Add("a_total", `kind="y"`, 1)
			m.Add("a_total", `kind="x"`, 4)
		}, "a_total{kind=\"x\"} 4\na_total{kind=\"y\"} 1\nb_total{kind=\"x\"} 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m bot.Metrics
			tt.add(&m)
			if got := mustWriteText(t, &m); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMetricsConcurrent(t *testing.T) {
	var m bot.Metrics
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.Add("firebreak_sent_total", fmt.Sprintf(`platform="p%d"`, g%2), 1)
				_ = m.WriteText(&strings.Builder{})
			}
		}()
	}
	wg.Wait()
	want := "firebreak_sent_total{platform=\"p0\"} 400\nfirebreak_sent_total{platform=\"p1\"} 400\n"
	if got := mustWriteText(t, &m); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

type failingWriter struct{}

var errFull = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func TestMetricsWriteError(t *testing.T) {
	var m bot.Metrics
	m.Add("x_total", "", 1)
	if err := m.WriteText(failingWriter{}); !errors.Is(err, errFull) {
		t.Errorf("WriteText to a failing writer: got %v, want %v", err, errFull)
	}
}
