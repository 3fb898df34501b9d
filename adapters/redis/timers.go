package redis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// The timer queue (DESIGN.md §3). Apply writes each incident's timers into
// its shard's timers ZSET (with timerinc and itimers); claiming uses two more
// keys per shard:
//
//	<prefix>:{s07}:inflight   ZSET   claimed timer ID scored by lease expiry millis
//	<prefix>:{s07}:claimdue   HASH   claimed timer ID -> "<due millis> <incident ID>"
//	<prefix>:timers:wake      pub/sub channel: the due millis of a sooner timer
//
// The in-flight score is the lease, so the due time a timer was claimed with
// is kept in claimdue, together with its incident: Apply forgets the
// timerinc entry of a timer it re-plans, and a claim taken over after a lost
// lease must still say whose timer it is.
//
// Apply removes an incident's old timers from the timers ZSET only: a
// claimed timer is in flight, out of Apply's reach, and is handled (the tick
// handler re-reads the incident and does nothing when the reason passed).
// When Apply plans the same timer ID again while it is in flight, the new
// plan waits in timers like any other, and the ack of the old claim leaves it
// alone.

var _ workflow.Timers = (*Store)(nil)

// claimScript claims due timers of one shard.
//
// KEYS: 1 timers, 2 inflight, 3 claimdue, 4 timerinc.
//
// ARGV: 1 now millis, 2 lease expiry millis, 3 how many expired leases to
// take over, 4 how many pending timers to claim, 5 the latest due millis to
// claim (at most now).
//
// Expired leases come first: their timers fell due before they were first
// claimed. An expired claim of a timer that was planned again meanwhile is
// dropped: the new plan, pending in timers, replaces it. Pending timers are
// claimed in due order; claiming one that is still in flight (planned again
// and due again before its old claim was acknowledged) replaces the old
// claim, whose late ack is then ignored. It returns a flat list of timer ID
// and claim ("<due millis> <incident ID>") pairs.
var claimScript = goredis.NewScript(`
local out = {}
local n = tonumber(ARGV[3])
if n > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, n)) do
    local claim = redis.call('HGET', KEYS[3], id)
    if claim and not redis.call('ZSCORE', KEYS[1], id) then
      redis.call('ZADD', KEYS[2], ARGV[2], id)
      out[#out + 1] = id
      out[#out + 1] = claim
    else
      -- Planned again since (the new plan replaces this claim), or
      -- without its claim (nobody can say what fell due): drop it.
      redis.call('ZREM', KEYS[2], id)
      redis.call('HDEL', KEYS[3], id)
    end
  end
end
n = tonumber(ARGV[4])
if n > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5], 'WITHSCORES', 'LIMIT', 0, n)
  for i = 1, #due, 2 do
    local id = due[i]
    local claim = due[i + 1] .. ' ' .. (redis.call('HGET', KEYS[4], id) or '')
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZADD', KEYS[2], ARGV[2], id)
    redis.call('HSET', KEYS[3], id, claim)
    out[#out + 1] = id
    out[#out + 1] = claim
  end
end
return out
`)

// ackScript acknowledges one handled timer.
//
// KEYS: 1 inflight, 2 claimdue, 3 timers, 4 timerinc, 5 itimers of the
// incident.
//
// ARGV: 1 timer ID, 2 the due millis it was claimed with.
//
// It does nothing when the timer is no longer in flight with that due time
// (acknowledged already, or re-planned and claimed again meanwhile). When
// the timer is not pending again either, its incident's plan no longer holds
// it: timerinc and itimers forget it. It returns 1 when it acknowledged.
var ackScript = goredis.NewScript(`
local claim = redis.call('HGET', KEYS[2], ARGV[1])
if not claim then return 0 end
if tonumber(string.match(claim, '^%S+')) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('SREM', KEYS[5], ARGV[1])
end
return 1
`)

// wakeChannel is the channel Apply publishes sooner due times on.
func (s *Store) wakeChannel() string { return s.prefix + ":timers:wake" }

// ClaimDue claims up to max timers due at or before now, with a lease until
// now+lease, and returns them ordered by due time (then ID). Timers whose
// lease expired are claimed again first, with the due time they were first
// claimed with, unless the incident planned the timer again meanwhile: then
// the new plan replaces the lost claim.
//
// It takes two round trips: one pipeline reads what is due in every shard,
// to pick the max earliest; a second runs one claim script per shard that
// has some (each script touches only its shard's keys). When nothing is due
// the first round trip is the only one. Timers that another replica claims
// in between are simply not returned here.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]workflow.DueTimer, error) {
	if max <= 0 {
		return nil, nil
	}
	upTo := millis(now)

	pending := make([]*goredis.ZSliceCmd, len(s.queues))
	expired := make([]*goredis.IntCmd, len(s.queues))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, shard := range s.queues {
			pending[i] = p.ZRangeByScoreWithScores(ctx, s.shardKey(shard, "timers"),
				&goredis.ZRangeBy{Min: "-inf", Max: upTo, Count: int64(max)})
			expired[i] = p.ZCount(ctx, s.shardKey(shard, "inflight"), "-inf", upTo)
		}
		return nil
	})
	if err != nil {
		return nil, fail("read due timers", err)
	}

	// Pick the max earliest: expired leases first, then pending timers by
	// due time across shards.
	type quota struct {
		expired, pending int
		cutoff           float64
	}
	quotas := make([]quota, len(s.queues))
	left := max
	for i, c := range expired {
		n := min(int(c.Val()), left)
		quotas[i].expired, left = n, left-n
	}
	type candidate struct {
		shard int
		score float64
	}
	var due []candidate
	for i, c := range pending {
		for _, z := range c.Val() {
			due = append(due, candidate{i, z.Score})
		}
	}
	slices.SortStableFunc(due, func(a, b candidate) int { return cmp.Compare(a.score, b.score) })
	for _, c := range due[:min(left, len(due))] {
		q := &quotas[c.shard]
		q.pending++
		q.cutoff = c.score
	}

	var (
		shards []int
		claims []*goredis.Cmd
		leased = strconv.FormatInt(now.UnixMilli()+lease.Milliseconds(), 10)
	)
	args := func(q quota) []any {
		return []any{upTo, leased, q.expired, q.pending, strconv.FormatFloat(q.cutoff, 'f', -1, 64)}
	}
	p := s.client.Pipeline()
	for i, q := range quotas {
		if q.expired+q.pending == 0 {
			continue
		}
		shards = append(shards, i)
		claims = append(claims, claimScript.EvalSha(ctx, p, s.claimKeys(s.queues[i]), args(q)...))
	}
	if len(claims) == 0 {
		return nil, nil
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	var retry []int
	for j, c := range claims {
		if c.Err() != nil && goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			retry = append(retry, j)
		}
	}
	if len(retry) > 0 {
		// EVAL sends the body once; the server caches it for next time.
		p := s.client.Pipeline()
		for _, j := range retry {
			i := shards[j]
			claims[j] = claimScript.Eval(ctx, p, s.claimKeys(s.queues[i]), args(quotas[i])...)
		}
		_, _ = p.Exec(ctx)
	}

	var out []workflow.DueTimer
	for _, c := range claims {
		items, err := c.StringSlice()
		if err != nil {
			// The claims of the other shards stand; their leases bring
			// them back if nobody handles them.
			return nil, fail("claim due timers", err)
		}
		for k := 0; k+1 < len(items); k += 2 {
			t, err := decodeClaim(items[k], items[k+1])
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b workflow.DueTimer) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

func (s *Store) claimKeys(shard string) []string {
	return []string{
		s.shardKey(shard, "timers"),
		s.shardKey(shard, "inflight"),
		s.shardKey(shard, "claimdue"),
		s.shardKey(shard, "timerinc"),
	}
}

// decodeClaim reads a claimdue entry: "<due millis> <incident ID>".
func decodeClaim(id, claim string) (workflow.DueTimer, error) {
	score, incident, _ := strings.Cut(claim, " ")
	ms, err := strconv.ParseFloat(score, 64)
	if err != nil {
		return workflow.DueTimer{}, fmt.Errorf("decode claim of timer %s: %q: %w", id, claim, err)
	}
	return workflow.DueTimer{ID: id, Incident: incident, Due: time.UnixMilli(int64(ms))}, nil
}

// AckTimer removes a handled timer from the in-flight set. It does nothing
// when t is no longer in flight with t.Due: acknowledged already (by another
// replica that took over an expired lease), or re-planned and claimed again
// with another due time, whose claim stays. A timer re-planned while it was
// in flight stays pending with its new due time. t.Incident is required: it
// names the shard.
func (s *Store) AckTimer(ctx context.Context, t workflow.DueTimer) error {
	if t.ID == "" || t.Incident == "" {
		return fmt.Errorf("ack timer %q: timer ID and incident are required", t.ID)
	}
	shard := s.Shard(t.Incident)
	keys := []string{
		s.shardKey(shard, "inflight"),
		s.shardKey(shard, "claimdue"),
		s.shardKey(shard, "timers"),
		s.shardKey(shard, "timerinc"),
		s.shardKey(shard, "itimers:"+t.Incident),
	}
	if err := ackScript.Run(ctx, s.client, keys, t.ID, millis(t.Due)).Err(); err != nil {
		return failOn("ack timer", t.ID, err)
	}
	return nil
}

// NextDue returns the earliest due time of a pending timer or lease expiry
// of an in-flight one, across every shard, in one pipeline; false when there
// is none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	cmds := make([]*goredis.ZSliceCmd, 0, 2*len(s.queues))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, shard := range s.queues {
			cmds = append(cmds,
				p.ZRangeWithScores(ctx, s.shardKey(shard, "timers"), 0, 0),
				p.ZRangeWithScores(ctx, s.shardKey(shard, "inflight"), 0, 0))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fail("read next due timer", err)
	}
	var (
		first float64
		found bool
	)
	for _, c := range cmds {
		for _, z := range c.Val() {
			if !found || z.Score < first {
				first, found = z.Score, true
			}
		}
	}
	if !found {
		return time.Time{}, false, nil
	}
	return time.UnixMilli(int64(first)), true, nil
}

// WakeUps subscribes to the wake-up channel on which Apply publishes the due
// time of a newly planned timer that is sooner than every other pending
// timer of its shard. The returned channel holds at most one value, the
// earliest not yet received; stop ends the subscription and closes it, as
// does cancelling ctx.
//
// Wake-ups are a hint, not a delivery: one published while the subscription
// is reconnecting is lost, so a scheduler must also look again on its own
// after a while (Scheduler.MaxIdle). When Redis does not answer at first,
// the subscription keeps trying in the background.
func (s *Store) WakeUps(ctx context.Context) (<-chan time.Time, func()) {
	out := make(chan time.Time, 1)
	stop := s.subscribe(ctx, s.wakeChannel(), func(payload string) {
		if ms, err := strconv.ParseFloat(payload, 64); err == nil {
			offerEarliest(out, time.UnixMilli(int64(ms)))
		}
	}, func() { close(out) })
	return out, stop
}

// outboxWakeChannel is the channel on which appending notices is announced.
func (s *Store) outboxWakeChannel() string { return s.prefix + ":outbox:wake" }

// OutboxWakeUps subscribes to the announcements of notices appended to the
// outbox (by Apply or Enqueue, on any replica). The returned channel holds at
// most one signal: several appends before it is read make one wake-up. Like
// WakeUps it is a hint — a dispatcher still polls — and stop (or ctx) ends it
// and closes the channel.
func (s *Store) OutboxWakeUps(ctx context.Context) (<-chan struct{}, func()) {
	out := make(chan struct{}, 1)
	stop := s.subscribe(ctx, s.outboxWakeChannel(), func(string) {
		select {
		case out <- struct{}{}:
		default: // a wake-up is already waiting
		}
	}, func() { close(out) })
	return out, stop
}

// subscribe delivers the messages of channel to each until ctx ends or stop
// is called, then calls done. It returns once the subscription is confirmed
// (or Redis failed to answer: then it keeps trying in the background), so
// what is published after it returns is received.
func (s *Store) subscribe(ctx context.Context, channel string, each func(payload string), done func()) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ps := s.client.Subscribe(ctx, channel)
	_, _ = ps.Receive(ctx)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer done()
		defer ps.Close()
		msgs := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-msgs:
				if !ok {
					return
				}
				each(m.Payload)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-finished
		})
	}
}

// offerEarliest puts t into the one-slot channel c without blocking, keeping
// the earlier of t and a value still waiting there. Only one goroutine sends
// on c.
func offerEarliest(c chan time.Time, t time.Time) {
	select {
	case c <- t:
		return
	default:
	}
	select {
	case old := <-c:
		if old.Before(t) {
			t = old
		}
	default:
	}
	select {
	case c <- t:
	default:
	}
}
