package telegram

import (
	"testing"
	"time"
)

func TestPollPacer(t *testing.T) {
	const ms = time.Millisecond
	type call struct {
		elapsed time.Duration
		fresh   int
		want    time.Duration
	}
	tests := []struct {
		name    string
		timeout time.Duration
		calls   []call
	}{
		{"answers at once: 100ms, doubling up to 1s", 25 * time.Second, []call{
			{0, 0, 100 * ms}, {0, 0, 200 * ms}, {0, 0, 400 * ms}, {0, 0, 800 * ms},
			{0, 0, time.Second}, {3 * ms, 0, time.Second},
		}},
		{"a full long poll does not pause, and starts afresh", 25 * time.Second, []call{
			{25 * time.Second, 0, 0}, {26 * time.Second, 0, 0},
			{0, 0, 100 * ms}, {0, 0, 200 * ms}, {25 * time.Second, 0, 0}, {0, 0, 100 * ms},
		}},
		{"new updates do not pause, and start afresh", 25 * time.Second, []call{
			{0, 2, 0}, {0, 0, 100 * ms}, {0, 0, 200 * ms}, {0, 0, 400 * ms}, {0, 1, 0}, {0, 0, 100 * ms},
		}},
		{"no longer than the rest of the timeout", time.Second, []call{
			{950 * ms, 0, 50 * ms}, {0, 0, 200 * ms}, {100 * ms, 0, 400 * ms}, {500 * ms, 0, 500 * ms}, {0, 0, time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := pollPacer{timeout: tt.timeout}
			for i, c := range tt.calls {
				if got := p.after(c.elapsed, c.fresh); got != c.want {
					t.Errorf("call %d (took %s, %d new updates): pause %s, want %s", i+1, c.elapsed, c.fresh, got, c.want)
				}
			}
		})
	}
}
