package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// applyScript writes one workflow.Change. Go precomputes everything; the
// script only checks the version and then performs the writes, so that the
// check and the writes are one atomic step.
//
// KEYS: 1 inc, 2 log, 3 timers, 4 timerinc, 5 itimers, 6 outbox, 7 open,
// 8 due, 9 mine of the previous assignee, 10 mine of the new assignee,
// 11 resolved.
//
// ARGV: 1 expected version ("0": must not exist), 2 new version, 3 incident
// JSON, 4 incident ID, 5 open ("1"/"0"), 6 FoundAt score, 7 NextDue score
// ("": none), 8 remove from KEYS[9] ("1"/"0"), 9 add to KEYS[10] ("1"/"0"),
// 10 event count, 11 timer count, 12 notice count, 13 the timers' wake-up
// channel, 14 the outbox's wake-up channel, 15 ResolvedAt score ("" while
// open), then the events (JSON), the timers (ID, due score) and the notices
// (ID, incident, audience, body), and last the change's token (random, new
// for each change; kept as the hash's field c).
//
// When the earliest new timer is sooner than every other timer pending in
// the shard, it PUBLISHes that due score on the wake-up channel, so that
// sleeping schedulers look again (see WakeUps). A later timer needs no
// wake-up: a scheduler already sleeps until the shard's earliest one or
// sooner. When it appends notices it PUBLISHes on the outbox's channel, so
// that idle dispatchers deliver them at once (see OutboxWakeUps). A channel
// is not a key, so this keeps the script in one slot.
//
// It returns 1 when written and 0 when the version check failed. A change
// found written already (the incident holds its new version and its token)
// returns 1 and writes nothing again: go-redis sends a script again when its
// reply times out (a Redis stall), and the first one may have run when Redis
// came back; a conflict then would make the Service apply the transition a
// second time. (The incident's JSON cannot tell: two updates from one
// version can leave the same JSON, their texts being events.)
var applyScript = goredis.NewScript(luaTimers + `
local expected = ARGV[1]
local change = ARGV[#ARGV]
local v = redis.call('HGET', KEYS[1], 'v')
if v ~= (expected ~= '0' and expected or false) then
  -- written already when the incident holds this very change: the same
  -- script sent again after its reply timed out
  if v == ARGV[2] and redis.call('HGET', KEYS[1], 'c') == change then return 1 end
  return 0
end

local id = ARGV[4]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'data', ARGV[3], 'c', change)

local i = 16
for _ = 1, tonumber(ARGV[10]) do
  redis.call('RPUSH', KEYS[2], ARGV[i])
  i = i + 1
end

drop_timers(KEYS[3], KEYS[4], KEYS[5])
i = add_timers(KEYS[3], KEYS[4], KEYS[5], id, '', ARGV[13], i, tonumber(ARGV[11]))

for _ = 1, tonumber(ARGV[12]) do
  redis.call('XADD', KEYS[6], '*', 'id', ARGV[i], 'incident', ARGV[i + 1],
    'audience', ARGV[i + 2], 'body', ARGV[i + 3])
  i = i + 4
end
if tonumber(ARGV[12]) > 0 then redis.call('PUBLISH', ARGV[14], '1') end

if ARGV[8] == '1' then redis.call('ZREM', KEYS[9], id) end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[11], id)
  redis.call('ZADD', KEYS[7], ARGV[6], id)
  if ARGV[7] ~= '' then
    redis.call('ZADD', KEYS[8], ARGV[7], id)
  else
    redis.call('ZREM', KEYS[8], id)
  end
else
  redis.call('ZREM', KEYS[7], id)
  redis.call('ZREM', KEYS[8], id)
  redis.call('ZADD', KEYS[11], ARGV[15], id)
end
if ARGV[9] == '1' then redis.call('ZADD', KEYS[10], ARGV[6], id) end
return 1
`)

// Apply writes c atomically in one round trip (one EVALSHA once the script is
// cached): the incident, its events, the full new set of its timers, its
// notices and the open/due/mine indexes. It returns workflow.ErrConflict when
// the stored version is not c.Prev's (or the incident exists although c.Prev
// is nil), and CodeUnavailable when Redis cannot be reached.
func (s *Store) Apply(ctx context.Context, c workflow.Change) error {
	keys, args, err := s.applyArgs(c)
	if err != nil {
		return err
	}
	written, err := applyScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return failWrite("apply change to", c.Incident.ID, err)
	}
	if written == 0 {
		return workflow.ErrConflict
	}
	return nil
}

// applyArgs checks c and lays it out as the KEYS and ARGV of applyScript.
func (s *Store) applyArgs(c workflow.Change) ([]string, []any, error) {
	inc := c.Incident
	if inc == nil || inc.ID == "" {
		return nil, nil, fmt.Errorf("apply change: no incident")
	}
	var expected int64
	prevAssignee := ""
	if c.Prev != nil {
		if c.Prev.ID != inc.ID {
			return nil, nil, fmt.Errorf("apply change: previous incident %s is not %s", c.Prev.ID, inc.ID)
		}
		expected, prevAssignee = c.Prev.Version, c.Prev.Assignee
	}
	if inc.Version != expected+1 {
		return nil, nil, fmt.Errorf("apply change to %s: version %d, want %d", inc.ID, inc.Version, expected+1)
	}
	data, err := json.Marshal(inc)
	if err != nil {
		return nil, nil, fmt.Errorf("encode incident %s: %w", inc.ID, err)
	}

	id, shard := inc.ID, s.Shard(inc.ID)
	keys := []string{
		s.incKey(id),
		s.logKey(id),
		s.shardKey(shard, "timers"),
		s.shardKey(shard, "timerinc"),
		s.shardKey(shard, "itimers:"+id),
		s.outboxKey(shard),
		s.shardKey(shard, "open"),
		s.shardKey(shard, "due"),
		s.mineKey(shard, prevAssignee),
		s.mineKey(shard, inc.Assignee),
		s.shardKey(shard, "resolved"),
	}

	open := inc.Open()
	nextDue := ""
	switch {
	case open && !c.NextDue.IsZero():
		nextDue = millis(c.NextDue)
	case open:
		nextDue = noDueScore(inc.FoundAt)
	}
	resolved := ""
	if !open {
		resolved = millis(inc.ResolvedAt)
	}
	args := make([]any, 0, 15+len(c.Events)+2*len(c.Timers)+4*len(c.Notices))
	args = append(args,
		strconv.FormatInt(expected, 10),
		strconv.FormatInt(inc.Version, 10),
		data,
		id,
		flag(open),
		millis(inc.FoundAt),
		nextDue,
		flag(prevAssignee != ""),
		flag(open && inc.Assignee != ""),
		len(c.Events),
		len(c.Timers),
		len(c.Notices),
		s.wakeChannel(),
		s.outboxWakeChannel(),
		resolved,
	)
	for _, e := range c.Events {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("encode event of %s: %w", id, err)
		}
		args = append(args, b)
	}
	for _, t := range c.Timers {
		if t.ID == "" || (t.Incident != "" && t.Incident != id) {
			// A timer of another incident would land in the wrong shard.
			return nil, nil, fmt.Errorf("apply change to %s: timer %q of incident %q", id, t.ID, t.Incident)
		}
		args = append(args, t.ID, millis(t.Due))
	}
	for _, n := range c.Notices {
		args = append(args, n.ID, n.Incident, string(n.Audience), n.Body)
	}
	return keys, append(args, changeToken()), nil
}

// changeToken names one change, so that a script sent again can tell that
// the change it carries was written already (see applyScript).
func changeToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// luaTimers defines the Lua functions of the scripts that plan an owner's
// timers (an incident's, a candidate's), so that each keeps the timers'
// bookkeeping the same way: the shard's timers ZSET (ID scored by due
// millis), its timerinc HASH (ID → owner) and the owner's itimers SET.
//
// drop_timers removes every timer of the owner. add_timers adds n timers
// whose names and due scores are the ARGV pairs from i, as ID prefix ..
// name, and returns the index after them; when the soonest is sooner than
// every timer pending in the shard, it PUBLISHes that due score on wake,
// so that sleeping schedulers look again (see WakeUps). A later timer needs
// no wake-up: a scheduler already sleeps until the shard's earliest one or
// sooner.
const luaTimers = `
local function drop_timers(timers, timerinc, itimers)
  for _, old in ipairs(redis.call('SMEMBERS', itimers)) do
    redis.call('ZREM', timers, old)
    redis.call('HDEL', timerinc, old)
  end
  redis.call('DEL', itimers)
end

local function add_timers(timers, timerinc, itimers, owner, prefix, wake, i, n)
  if n == 0 then return i end
  local earliest = redis.call('ZRANGE', timers, 0, 0, 'WITHSCORES')[2]
  local soonest
  for _ = 1, n do
    local tid = prefix .. ARGV[i]
    redis.call('ZADD', timers, ARGV[i + 1], tid)
    redis.call('HSET', timerinc, tid, owner)
    redis.call('SADD', itimers, tid)
    if soonest == nil or tonumber(ARGV[i + 1]) < tonumber(soonest) then
      soonest = ARGV[i + 1]
    end
    i = i + 2
  end
  if earliest == nil or tonumber(soonest) < tonumber(earliest) then
    redis.call('PUBLISH', wake, soonest)
  end
  return i
end
`

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
