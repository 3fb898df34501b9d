package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// The outbox is one stream per shard, read by consumer groups: every worker
// type (one group) sees every notice, and within a group each notice is
// claimed by one consumer until it acknowledges it.

// errNoGroup marks a read that found the consumer group missing (the stream
// was deleted after the group was cached).
var errNoGroup = errors.New("consumer group missing")

// ReadOutbox returns up to max notices not yet acknowledged by group, claiming
// them for consumer, without blocking. It first returns what consumer had
// already claimed but not acknowledged (a restarted worker picks up where it
// stopped), then new notices. Deliveries are ordered by shard, and by stream
// ID within a shard.
//
// A few more new notices than max may be claimed in one call (fewer than the
// shard count); those stay claimed by consumer and come first next time.
func (s *Store) ReadOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	if group == "" || consumer == "" {
		return nil, fmt.Errorf("read outbox: group and consumer are required")
	}
	if max <= 0 {
		return nil, nil
	}
	ds, err := s.readOutbox(ctx, group, consumer, max)
	if errors.Is(err, errNoGroup) {
		s.forgetGroups(group)
		ds, err = s.readOutbox(ctx, group, consumer, max)
	}
	if err != nil {
		return nil, fail("read outbox", err)
	}
	return ds, nil
}

func (s *Store) readOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	if err := s.ensureGroups(ctx, group); err != nil {
		return nil, err
	}
	all := make([]int, len(s.shards))
	for i := range all {
		all[i] = i
	}
	ds, _, err := s.readShards(ctx, group, consumer, "0", all, max)
	if err != nil {
		return nil, err
	}
	// Claim new notices, spreading the wanted count over the shards; a
	// shard that filled its share may hold more and is asked again.
	shards := all
	for want := max - len(ds); want > 0 && len(shards) > 0; want = max - len(ds) {
		per := (want + len(shards) - 1) / len(shards)
		got, full, err := s.readShards(ctx, group, consumer, ">", shards, per)
		if err != nil {
			return nil, err
		}
		ds, shards = append(ds, got...), full
	}
	slices.SortFunc(ds, func(a, b bot.Delivery) int {
		as, aid, _ := strings.Cut(a.Handle, "|")
		bs, bid, _ := strings.Cut(b.Handle, "|")
		if c := compareIDs(as, bs); c != 0 { // s09 before s10
			return c
		}
		return compareStreamIDs(aid, bid)
	})
	if len(ds) > max {
		ds = ds[:max]
	}
	return ds, nil
}

// readShards runs XREADGROUP from id on the given shards (by index) in one
// pipeline, count entries each, and reports which shards returned the full
// count.
func (s *Store) readShards(ctx context.Context, group, consumer, id string, shards []int, count int) ([]bot.Delivery, []int, error) {
	cmds := make([]*goredis.XStreamSliceCmd, len(shards))
	p := s.client.Pipeline()
	for i, sh := range shards {
		cmds[i] = p.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group:    group,
			Consumer: consumer,
			Streams:  []string{s.outboxKey(s.shards[sh]), id},
			Count:    int64(count),
			Block:    -1, // no BLOCK argument: never wait
		})
	}
	_, _ = p.Exec(ctx) // errors are read per command below

	var (
		ds    []bot.Delivery
		full  []int
		stale = map[string][]string{} // deleted entries still pending, by stream
	)
	for i, c := range cmds {
		streams, err := c.Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if goredis.HasErrorPrefix(err, "NOGROUP") {
			return nil, nil, errNoGroup
		}
		if err != nil {
			return nil, nil, err
		}
		shard := s.shards[shards[i]]
		n := 0
		for _, st := range streams {
			for _, m := range st.Messages {
				n++
				if m.Values == nil {
					stale[st.Stream] = append(stale[st.Stream], m.ID)
					continue
				}
				ds = append(ds, bot.Delivery{Handle: shard + "|" + m.ID, Notice: decodeNotice(m.Values)})
			}
		}
		if n >= count {
			full = append(full, shards[i])
		}
	}
	if len(stale) > 0 {
		// A pending entry whose message was deleted can never be delivered.
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for stream, ids := range stale {
				p.XAck(ctx, stream, group, ids...)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return ds, full, nil
}

// AckOutbox marks deliveries as done for group, so they are not read again.
func (s *Store) AckOutbox(ctx context.Context, group string, ds ...bot.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byStream := map[string][]string{}
	for _, d := range ds {
		shard, id, ok := strings.Cut(d.Handle, "|")
		if !ok || !slices.Contains(s.shards, shard) || id == "" {
			return fmt.Errorf("ack outbox: bad handle %q", d.Handle)
		}
		stream := s.outboxKey(shard)
		byStream[stream] = append(byStream[stream], id)
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for stream, ids := range byStream {
			p.XAck(ctx, stream, group, ids...)
		}
		return nil
	})
	if err != nil {
		return fail("ack outbox", err)
	}
	return nil
}

// ensureGroups creates group on every shard's stream where it is not known
// to exist yet, starting from the beginning of the stream.
func (s *Store) ensureGroups(ctx context.Context, group string) error {
	var (
		p       = s.client.Pipeline()
		streams []string
		cmds    []*goredis.StatusCmd
	)
	for _, shard := range s.shards {
		stream := s.outboxKey(shard)
		if _, ok := s.groups.Load(stream + "\x00" + group); ok {
			continue
		}
		streams = append(streams, stream)
		cmds = append(cmds, p.XGroupCreateMkStream(ctx, stream, group, "0"))
	}
	if len(cmds) == 0 {
		return nil
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	for i, c := range cmds {
		if err := c.Err(); err != nil && !goredis.HasErrorPrefix(err, "BUSYGROUP") {
			return fmt.Errorf("create consumer group %s on %s: %w", group, streams[i], err)
		}
		s.groups.Store(streams[i]+"\x00"+group, struct{}{})
	}
	return nil
}

func (s *Store) forgetGroups(group string) {
	for _, shard := range s.shards {
		s.groups.Delete(s.outboxKey(shard) + "\x00" + group)
	}
}

func decodeNotice(v map[string]any) workflow.Notice {
	str := func(k string) string {
		x, _ := v[k].(string)
		return x
	}
	return workflow.Notice{
		ID:       str("id"),
		Incident: str("incident"),
		Audience: workflow.Audience(str("audience")),
		Body:     []byte(str("body")),
	}
}

// compareStreamIDs orders stream entry IDs ("<millis>-<seq>") numerically.
func compareStreamIDs(a, b string) int {
	am, as, _ := strings.Cut(a, "-")
	bm, bs, _ := strings.Cut(b, "-")
	num := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
	if c := cmp.Compare(num(am), num(bm)); c != 0 {
		return c
	}
	return cmp.Compare(num(as), num(bs))
}

// Enqueue appends notices that belong to no state change (digests) to the
// outbox stream of the shard of each notice's ID, in one transaction per
// shard.
func (s *Store) Enqueue(ctx context.Context, notices []workflow.Notice) error {
	byShard := map[string][]workflow.Notice{}
	for _, n := range notices {
		sh := s.Shard(n.ID)
		byShard[sh] = append(byShard[sh], n)
	}
	for sh, ns := range byShard {
		_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			for _, n := range ns {
				p.XAdd(ctx, &goredis.XAddArgs{Stream: s.outboxKey(sh), Values: []any{
					"id", n.ID, "incident", n.Incident, "audience", string(n.Audience), "body", n.Body}})
			}
			return nil
		})
		if err != nil {
			return fail("enqueue notices", err)
		}
	}
	return nil
}
