package bot_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// TestShed: with n requests in flight the next one is answered "busy" at
// once, without running, and counted; once one finishes, the next runs.
func TestShed(t *testing.T) {
	m := &bot.Metrics{}
	release := make(chan struct{})
	var started sync.WaitGroup
	ran := 0
	var mu sync.Mutex
	h := bot.Shed(2, m)(func(ctx context.Context, req *bot.Request) (*bot.Reply, error) {
		mu.Lock()
		ran++
		mu.Unlock()
		started.Done()
		<-release
		return &bot.Reply{Text: "done"}, nil
	})
	var wg sync.WaitGroup
	started.Add(2)
	for range 2 {
		wg.Go(func() {
			if _, err := h(context.Background(), &bot.Request{Platform: "slack"}); err != nil {
				t.Errorf("in flight: %v", err)
			}
		})
	}
	started.Wait()
	_, err := h(context.Background(), &bot.Request{Platform: "slack"})
	if err != bot.ErrBusy || workflow.ErrorCode(err) != workflow.CodeUnavailable {
		t.Fatalf("third request: got %v, want ErrBusy", err)
	}
	if zh := workflow.ErrorText(err).ZH; !strings.Contains(zh, "正忙") {
		t.Errorf("zh: got %q", zh)
	}
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `firebreak_requests_shed_total{platform="slack"} 1`) {
		t.Errorf("metrics: got\n%s\nwant one shed request", b.String())
	}
	close(release)
	wg.Wait()
	started.Add(1)
	if reply, err := h(context.Background(), &bot.Request{Platform: "slack"}); err != nil || reply.Text != "done" {
		t.Errorf("after the others finished: got %v %v, want it run", reply, err)
	}
	if ran != 3 {
		t.Errorf("handler ran %d times, want 3 (the shed one never)", ran)
	}
}
