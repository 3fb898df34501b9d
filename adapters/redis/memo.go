package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Memo is a small key-value memory an adapter keeps in Redis, shared by
// every replica and kept across restarts: which message shows which card in
// which chat, reply prompts, migrated chats. Its keys are
// "<prefix>:<namespace>:<key>", each a STRING or a HASH as the adapter
// chooses; every operation touches one key.
type Memo struct {
	client goredis.UniversalClient
	prefix string
}

// Memo returns the memo of namespace ("feed", "tg:memo"), under the
// store's prefix with the store's client.
func (s *Store) Memo(namespace string) *Memo {
	return &Memo{client: s.client, prefix: s.prefix + ":" + namespace + ":"}
}

func (m *Memo) key(key string) string { return m.prefix + key }

// SetMemo stores value under key for ttl (no expiry when ttl is zero).
func (m *Memo) SetMemo(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := m.client.Set(ctx, m.key(key), value, ttl).Err(); err != nil {
		return failOn("set memo", key, err)
	}
	return nil
}

// GetMemo returns the value stored under key, and false when there is none.
func (m *Memo) GetMemo(ctx context.Context, key string) (string, bool, error) {
	v, err := m.client.Get(ctx, m.key(key)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, failOn("get memo", key, err)
	}
	return v, true, nil
}

// SetMemoFields sets fields of the hash under key and makes the whole hash
// expire ttl from now (never when ttl is zero), in one transaction.
func (m *Memo) SetMemoFields(ctx context.Context, key string, fields map[string]string, ttl time.Duration) error {
	if len(fields) == 0 {
		return nil
	}
	k := m.key(key)
	_, err := m.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.HSet(ctx, k, fields)
		if ttl > 0 {
			p.PExpire(ctx, k, ttl)
		}
		return nil
	})
	if err != nil {
		return failOn("set memo fields", key, err)
	}
	return nil
}

// MemoFields returns every field of the hash under key (empty when none).
func (m *Memo) MemoFields(ctx context.Context, key string) (map[string]string, error) {
	fields, err := m.client.HGetAll(ctx, m.key(key)).Result()
	if err != nil {
		return nil, failOn("read memo fields", key, err)
	}
	return fields, nil
}

// DeleteMemoFields deletes fields of the hash under key.
func (m *Memo) DeleteMemoFields(ctx context.Context, key string, fields ...string) error {
	if len(fields) == 0 {
		return nil
	}
	if err := m.client.HDel(ctx, m.key(key), fields...).Err(); err != nil {
		return failOn("delete memo fields", key, err)
	}
	return nil
}
