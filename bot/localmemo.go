package bot

import (
	"context"
	"sync"
	"time"
)

// LocalMemo is a memo kept in this process, for an adapter given no shared
// one (tests, a single replica that may forget on restart). It holds at
// most max keys, dropping the oldest; a ttl is not kept.
type LocalMemo struct {
	mu     sync.Mutex
	max    int
	values map[string]string
	order  []string // keys, oldest first
}

// NewLocalMemo returns an empty LocalMemo of at most max keys.
func NewLocalMemo(max int) *LocalMemo {
	return &LocalMemo{max: max, values: map[string]string{}}
}

// GetMemo returns the value under key and whether there is one.
func (l *LocalMemo) GetMemo(_ context.Context, key string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.values[key]
	return v, ok, nil
}

// SetMemo stores value under key.
func (l *LocalMemo) SetMemo(_ context.Context, key, value string, _ time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.values[key]; !ok {
		l.order = append(l.order, key)
	}
	l.values[key] = value
	for len(l.order) > l.max {
		delete(l.values, l.order[0])
		l.order = l.order[1:]
	}
	return nil
}
