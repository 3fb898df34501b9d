package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/bot"
)

// Once returns ctx carrying the at-most-once guard of one request: the key
// <prefix>:once:<key> (on a Cluster in the {meta} slot, beside the
// incident counter), taken with SET NX for ttl by the first Redis call the
// request makes through this Store's client. The key holds a token of this
// guard, and a GET in the same round trip tells whose it is: a SET that
// go-redis sent again (its reply timed out during a Redis stall, the first
// one ran when Redis came back) finds this guard's own token and still
// counts as first, instead of making the request a copy of itself:
//   - a read (a pipeline of reads: an incident, its timeline, a page of
//     the list) carries the SET in its own round trip, and its replies
//     count only when the SET succeeded;
//   - NextID takes the key inside its script, so a copy that was not first
//     allocates no ID;
//   - anything else (a write, a script, a transaction) waits for the SET
//     in a round trip of its own.
//
// Every later call of the request then runs as it is when this copy was
// first, and fails with bot.ErrRepeated, sending nothing, when another
// copy was. The guard is a hook on the client, installed on the first
// call of Once: no call of the request can go around it.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (context.Context, bot.Once) {
	s.hookOnce.Do(func() { s.client.AddHook(onceHook{s}) })
	o := &once{store: s, key: s.meta + ":once:" + key, token: onceToken(), ttl: ttl}
	return context.WithValue(ctx, onceKey{}, o), o
}

type onceKey struct{}

// once is one request's guard. mu is held while the key is being taken,
// so that calls the request makes in parallel wait for its fate.
type once struct {
	store *Store
	key   string
	token string // the key's value when this guard took it
	ttl   time.Duration

	mu      sync.Mutex
	settled bool
	first   bool
	err     error // the round trip that was to take the key failed
}

// onceOf returns the guard of this Store that ctx carries, nil when none.
func (s *Store) onceOf(ctx context.Context) *once {
	if o, ok := ctx.Value(onceKey{}).(*once); ok && o != nil && o.store == s {
		return o
	}
	return nil
}

// bare is ctx without the guard, for the calls that take its key.
func bare(ctx context.Context) context.Context {
	return context.WithValue(ctx, onceKey{}, (*once)(nil))
}

// onceToken is a new guard's token: random, so that no other guard holds
// the same.
func onceToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Decided implements bot.Once. While the key is being taken (Redis is
// slow to answer) it does not wait: the request has not been settled, and
// its caller answers without a memo.
func (o *once) Decided() (first, ok bool, err error) {
	if !o.mu.TryLock() {
		return false, false, nil
	}
	defer o.mu.Unlock()
	return o.first, o.settled, o.err
}

// settle records the fate of the key. The caller holds mu.
func (o *once) settle(first bool, err error) {
	o.settled, o.first = true, first && err == nil
	if err != nil {
		o.err = fail("take the key of a request", err)
	}
}

// verdict is what a call of the request gets once the key is settled: nil
// to go ahead. The caller holds mu.
func (o *once) verdict() error {
	switch {
	case o.err != nil:
		return o.err
	case !o.first:
		return bot.ErrRepeated
	}
	return nil
}

// takeCmds are the SET NX of the key and the GET that tells whose it is,
// to send in a pipeline.
func (o *once) takeCmds(ctx context.Context) (*goredis.BoolCmd, *goredis.StringCmd) {
	return goredis.NewBoolCmd(ctx, "set", o.key, o.token, "px", o.ttl.Milliseconds(), "nx"),
		goredis.NewStringCmd(ctx, "get", o.key)
}

// settleTaken settles the key from the replies of takeCmds.
func (o *once) settleTaken(set *goredis.BoolCmd, get *goredis.StringCmd) {
	err := set.Err()
	if errors.Is(err, goredis.Nil) {
		err = nil // SET NX on a taken key answers nil
	}
	if err == nil {
		err = get.Err()
	}
	o.settle(err == nil && get.Val() == o.token, err)
}

// call runs cmds, a storage call of the request (one command or a
// pipeline): reads with the SET (withSet sends the SET followed by cmds
// in one round trip, with a bare context), anything else after it (run
// sends cmds alone). mu is held only while the key is taken, never while
// run sends: a call within it (the handshake of a new connection) goes
// through this hook again.
func (o *once) call(ctx context.Context, cmds []goredis.Cmder, withSet func(set, get goredis.Cmder) error, run func() error) error {
	o.mu.Lock()
	if !o.settled && readOnly(cmds) {
		defer o.mu.Unlock()
		set, get := o.takeCmds(ctx)
		err := withSet(set, get)
		o.settleTaken(set, get) // an error: the round trip failed, the SET with it
		if v := o.verdict(); v != nil {
			repeated(cmds, v)
			return v
		}
		return err
	}
	if !o.settled {
		set, get := o.takeCmds(ctx)
		_, _ = o.store.client.Pipelined(bare(ctx), func(p goredis.Pipeliner) error {
			_ = p.Process(ctx, set)
			return p.Process(ctx, get)
		})
		o.settleTaken(set, get)
	}
	v := o.verdict()
	o.mu.Unlock()
	if v != nil {
		repeated(cmds, v)
		return v
	}
	return run()
}

// repeated gives cmds the error err instead of the replies they did not
// get (or that must not count).
func repeated(cmds []goredis.Cmder, err error) {
	for _, c := range cmds {
		c.SetErr(err)
	}
}

// readOnlyCommands are the commands the Store reads with: the guard's SET
// may travel with them.
var readOnlyCommands = map[string]bool{
	"get": true, "mget": true, "strlen": true, "exists": true, "ttl": true, "pttl": true, "type": true,
	"hget": true, "hmget": true, "hgetall": true, "hexists": true, "hlen": true,
	"lrange": true, "llen": true, "lindex": true,
	"smembers": true, "sismember": true, "scard": true,
	"zrange": true, "zrangebyscore": true, "zrevrange": true, "zrevrangebyscore": true,
	"zcount": true, "zcard": true, "zscore": true, "zmscore": true, "zrank": true,
	"xrange": true, "xrevrange": true, "xlen": true,
}

func readOnly(cmds []goredis.Cmder) bool {
	for _, c := range cmds {
		if !readOnlyCommands[c.Name()] {
			return false
		}
	}
	return len(cmds) > 0
}

// onceHook puts every call made with a guard's context through the guard.
type onceHook struct{ s *Store }

func (onceHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h onceHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		o := h.s.onceOf(ctx)
		if o == nil {
			return next(ctx, cmd)
		}
		cmds := []goredis.Cmder{cmd}
		return o.call(ctx, cmds, func(set, get goredis.Cmder) error {
			_, _ = h.s.client.Pipelined(bare(ctx), func(p goredis.Pipeliner) error {
				_ = p.Process(ctx, set)
				_ = p.Process(ctx, get)
				return p.Process(ctx, cmd)
			})
			return cmd.Err()
		}, func() error { return next(ctx, cmd) })
	}
}

func (h onceHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		o := h.s.onceOf(ctx)
		if o == nil {
			return next(ctx, cmds)
		}
		return o.call(ctx, cmds, func(set, get goredis.Cmder) error {
			return next(bare(ctx), append([]goredis.Cmder{set, get}, cmds...))
		}, func() error { return next(ctx, cmds) })
	}
}
