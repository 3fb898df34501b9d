package bot_test

import (
	"context"
	"testing"

	"github.com/firebreak/firebreak/bot"
)

func TestLocalMemoDropsTheOldestKey(t *testing.T) {
	ctx := context.Background()
	m := bot.NewLocalMemo(2)
	for _, k := range []string{"a", "b", "a", "c"} { // a again: still the oldest
		if err := m.SetMemo(ctx, k, "v-"+k, 0); err != nil {
			t.Fatal(err)
		}
	}
	for k, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if _, ok, _ := m.GetMemo(ctx, k); ok != want {
			t.Errorf("key %s kept: %v, want %v", k, ok, want)
		}
	}
	if v, _, _ := m.GetMemo(ctx, "c"); v != "v-c" {
		t.Errorf("c: got %q", v)
	}
}
