package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A platform adapter's state, under the store's prefix and the platform's
// key (its name, or the key it had before platforms were registered:
// "tg" for telegram):
//
//	<prefix>:<key>:lease:<name>          STRING owner token of a lease (PX ttl)
//	<prefix>:<key>:{upd:<id>}            STRING "busy:<try>" (PX claim lease) or "done" (EX 24h)
//	<prefix>:<key>:{upd:<id>}:out        STRING the outcome an earlier try saved
//	<prefix>:<memo>:<key>                STRING or HASH, as the adapter chooses
//
// where <memo> is "<key>:memo", or "slack" for slack (its memo's name
// before platforms were registered). The two keys of one update share a
// hash tag, so the Lua scripts touching both stay in one Redis Cluster
// slot.

// PlatformState is a platform adapter's state in Redis: leases (the one
// that lets one replica poll Telegram), the log of handled update IDs and
// a small memo (message references, reply prompts, migrated chats). It
// implements bot.PlatformState; every method is safe for concurrent use by
// any number of replicas.
type PlatformState struct {
	*Memo
	client goredis.UniversalClient
	prefix string
	// doneTTL is how long a handled update ID is remembered.
	doneTTL time.Duration
}

// platformKeys are the keys, and the memo names, of the platforms whose
// state was kept before platforms were registered; changing them would
// forget the state of a running installation on upgrade (the messages
// that cards update, the updates already handled).
var platformKeys = map[string]struct{ key, memo string }{
	"telegram": {key: "tg", memo: "tg:memo"},
	"slack":    {key: "slack", memo: "slack"},
}

// PlatformState returns the state of the adapter of platform, kept under
// the store's prefix with the store's client.
func (s *Store) PlatformState(platform string) *PlatformState {
	k, ok := platformKeys[platform]
	if !ok {
		k.key, k.memo = platform, platform+":memo"
	}
	return &PlatformState{Memo: s.Memo(k.memo), client: s.client, prefix: s.prefix + ":" + k.key + ":", doneTTL: 24 * time.Hour}
}

func (t *PlatformState) leaseKey(name string) string { return t.prefix + "lease:" + name }

func (t *PlatformState) updateKeys(id int64) []string {
	k := t.prefix + "{upd:" + strconv.FormatInt(id, 10) + "}"
	return []string{k, k + ":out"}
}

// renewLease extends a lease only while the owner still holds it.
var renewLease = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`)

// releaseLease deletes a lease only while the owner still holds it, so a
// replica whose lease expired cannot delete its successor's.
var releaseLease = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// AcquireLease makes owner the holder of the named lease for ttl, unless
// another owner holds it; when owner holds it already, the lease is renewed.
// It reports whether owner holds the lease after the call.
func (t *PlatformState) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	// The outbox's target lease is the same take-or-renew; it also returns
	// the holder, which is all this needs.
	res, err := ownScript.Run(ctx, t.client, []string{t.leaseKey(name)}, owner, ttl.Milliseconds()).Slice()
	if err != nil {
		return false, failOn("acquire lease", name, err)
	}
	holder, _ := res[0].(string)
	return holder == owner, nil
}

// RenewLease extends the named lease to ttl from now while owner holds it,
// and reports whether it does; false means the lease expired or another
// owner took it, and the caller must stop what the lease guards.
func (t *PlatformState) RenewLease(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	n, err := renewLease.Run(ctx, t.client, []string{t.leaseKey(name)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, failOn("renew lease", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives the named lease up if owner holds it (compare and
// delete); otherwise it does nothing.
func (t *PlatformState) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := releaseLease.Run(ctx, t.client, []string{t.leaseKey(name)}, owner).Err(); err != nil {
		return failOn("release lease", name, err)
	}
	return nil
}

// claimUpdate: 2 = done, 1 = busy (another try, ARGV[2] is this one's
// value), 0 = claimed (with the saved outcome, or "" when none). SET NX
// alone cannot tell "done" from "busy", nor this try's own claim, sent
// again by go-redis after its reply timed out, from another try's.
var claimUpdate = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'done' then return {2, ''} end
if v and v ~= ARGV[2] then return {1, ''} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
local out = redis.call('GET', KEYS[2])
if out == false then out = '' end
return {0, out}`)

// finishUpdate marks an update handled and drops its saved outcome.
var finishUpdate = goredis.NewScript(`
redis.call('SET', KEYS[1], 'done', 'PX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1`)

// ClaimUpdate claims update id for lease, so that one try at a time handles
// it. It returns claimed=false when the update was handled already
// (done=true) or another try holds it (done=false). When claimed, saved is
// the outcome an earlier try stored with SaveUpdate, or nil.
func (t *PlatformState) ClaimUpdate(ctx context.Context, id int64, try string, lease time.Duration) (claimed, done bool, saved []byte, err error) {
	res, err := claimUpdate.Run(ctx, t.client, t.updateKeys(id), lease.Milliseconds(), busyValue(try)).Slice()
	if err != nil {
		return false, false, nil, failOn("claim telegram update", strconv.FormatInt(id, 10), err)
	}
	if len(res) != 2 {
		return false, false, nil, errors.New("claim telegram update: unexpected reply")
	}
	state, _ := res[0].(int64)
	out, _ := res[1].(string)
	switch state {
	case 2:
		return false, true, nil, nil
	case 1:
		return false, false, nil, nil
	}
	if out != "" {
		saved = []byte(out)
	}
	return true, false, saved, nil
}

// SaveUpdate stores the outcome of a claimed update (what remains to be
// done), so that a later try resumes it instead of handling it again. It is
// kept as long as a handled update ID.
func (t *PlatformState) SaveUpdate(ctx context.Context, id int64, outcome []byte) error {
	if err := t.client.Set(ctx, t.updateKeys(id)[1], outcome, t.doneTTL).Err(); err != nil {
		return failOn("save telegram update", strconv.FormatInt(id, 10), err)
	}
	return nil
}

// FinishUpdate marks update id handled: claims of it answer done for 24
// hours. Its saved outcome is dropped.
func (t *PlatformState) FinishUpdate(ctx context.Context, id int64) error {
	if err := finishUpdate.Run(ctx, t.client, t.updateKeys(id), t.doneTTL.Milliseconds()).Err(); err != nil {
		return failOn("finish telegram update", strconv.FormatInt(id, 10), err)
	}
	return nil
}

// busyValue is the value of an update's key while try holds it.
func busyValue(try string) string { return "busy:" + try }

// abandonUpdate deletes an update's claim if try holds it.
var abandonUpdate = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// AbandonUpdate gives up try's claim without finishing, so that the next
// try claims the update again at once; a saved outcome is kept for it. A
// claim another try holds (or a finished update) is left as it is.
func (t *PlatformState) AbandonUpdate(ctx context.Context, id int64, try string) error {
	if err := abandonUpdate.Run(ctx, t.client, t.updateKeys(id)[:1], busyValue(try)).Err(); err != nil {
		return failOn("abandon telegram update", strconv.FormatInt(id, 10), err)
	}
	return nil
}
