package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
// ID within a shard. Their Seq is their stream ID (its millisecond and
// sequence number) in the log of their shard: exact within a shard, by the
// server's millisecond across shards.
//
// New notices of a shard are read by one consumer of a group at a time: the
// holder of the shard's reader lease (Options.OutboxReaderLease, renewed by
// every read). So the notices of one shard for one target all pass through
// one reader, in stream order, before it keeps them or hands them over to
// the target's owner; two consumers reading one shard at once could let a
// newer notice overtake an older one that is being handed over.
//
// A few more new notices than max may be claimed in one call (fewer than the
// shard count); those stay claimed by consumer and come first next time.
func (s *Store) ReadOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	return s.read(ctx, group, consumer, max, true)
}

// ReadNewOutbox is ReadOutbox without consumer's pending entries: the new
// entries of the shards whose reader lease consumer holds or can take
// (bot.NewReader), about max of them. It returns every entry it claimed,
// which may be a few more than max (fewer more than the shard count):
// those left out would wait for the next ReadOutbox, not the next
// ReadNewOutbox.
func (s *Store) ReadNewOutbox(ctx context.Context, group, consumer string, max int) ([]bot.Delivery, error) {
	return s.read(ctx, group, consumer, max, false)
}

// read is ReadOutbox (pending) and ReadNewOutbox: readOutbox, once more
// after creating the groups when Redis lost them.
func (s *Store) read(ctx context.Context, group, consumer string, max int, pending bool) ([]bot.Delivery, error) {
	if group == "" || consumer == "" {
		return nil, fmt.Errorf("read outbox: group and consumer are required")
	}
	if max <= 0 {
		return nil, nil
	}
	ds, err := s.readOutbox(ctx, group, consumer, max, pending)
	if errors.Is(err, errNoGroup) {
		s.forgetGroups(group)
		ds, err = s.readOutbox(ctx, group, consumer, max, pending)
	}
	if err != nil {
		return nil, fail("read outbox", err)
	}
	return ds, nil
}

// readOutbox reads up to max entries for consumer: its pending ones first
// (when pending), then new ones.
func (s *Store) readOutbox(ctx context.Context, group, consumer string, max int, pending bool) ([]bot.Delivery, error) {
	if err := s.ensureGroups(ctx, group); err != nil {
		return nil, err
	}
	all := make([]int, len(s.queues))
	for i := range all {
		all[i] = i
	}
	var ds []bot.Delivery
	if pending {
		var err error
		if ds, _, err = s.readShards(ctx, group, consumer, "0", all, max); err != nil {
			return nil, err
		}
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
	sortDeliveries(ds)
	if pending && len(ds) > max {
		// The new ones left out stay claimed and come back first.
		ds = ds[:max]
	}
	return ds, nil
}

// readerScript reads new entries of a shard's outbox for a consumer when it
// holds, or can take, the shard's reader lease, and renews the lease. It
// returns 0 when another consumer reads the shard, and nil when there is
// nothing new.
// KEYS[1] reader lease key, KEYS[2] stream; ARGV[1] consumer, ARGV[2] lease
// in milliseconds, ARGV[3] group, ARGV[4] count.
var readerScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur ~= false and cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[1], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], '>')
`)

// parseXStreams reads the reply of XREADGROUP returned through a script.
func parseXStreams(v any, err error) ([]goredis.XStream, error) {
	if err != nil {
		return nil, err
	}
	var out []goredis.XStream
	streams, _ := v.([]any)
	for _, st := range streams {
		pair, ok := st.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("read outbox: unexpected reply %v", st)
		}
		name, _ := pair[0].(string)
		entries, _ := pair[1].([]any)
		xs := goredis.XStream{Stream: name}
		for _, e := range entries {
			entry, ok := e.([]any)
			if !ok || len(entry) != 2 {
				return nil, fmt.Errorf("read outbox: unexpected entry %v", e)
			}
			id, _ := entry[0].(string)
			fields, _ := entry[1].([]any)
			values := make(map[string]any, len(fields)/2)
			for j := 0; j+1 < len(fields); j += 2 {
				k, _ := fields[j].(string)
				values[k] = fields[j+1]
			}
			xs.Messages = append(xs.Messages, goredis.XMessage{ID: id, Values: values})
		}
		out = append(out, xs)
	}
	return out, nil
}

// readShards reads entries of consumer from the given shards (by index) in
// one pipeline, count entries each: with id "0" its own pending entries,
// with ">" new entries of the shards whose reader lease it holds or takes.
// It reports which shards returned the full count. A read of new entries
// that finds the group caught up on a shard notes it for ProbeOutbox.
func (s *Store) readShards(ctx context.Context, group, consumer, id string, shards []int, count int) ([]bot.Delivery, []int, error) {
	if id == ">" && !s.readerLoaded.Load() {
		if err := readerScript.Load(ctx, s.client).Err(); err != nil {
			return nil, nil, err
		}
		s.readerLoaded.Store(true)
	}
	results := make([]func() ([]goredis.XStream, error), len(shards))
	// The last entry seen in each shard before the reads (ProbeOutbox):
	// a read past it that finds nothing new proves the group caught up.
	heads := make([]string, len(shards))
	refused := make([]bool, len(shards))
	readers := make([]*goredis.Cmd, len(shards)) // id ">": the reader script's call per shard
	readerKeys := make([][]string, len(shards))
	p := s.client.Pipeline()
	for i, sh := range shards {
		stream := s.outboxKey(s.queues[sh])
		if id == ">" {
			// New entries only as the shard's reader (readerScript).
			heads[i] = s.seenOutbox.head(s.queues[sh])
			readerKeys[i] = []string{s.shardKey(s.queues[sh], "reader:"+group), stream}
			readers[i] = readerScript.EvalSha(ctx, p, readerKeys[i], consumer, s.readerLease.Milliseconds(), group, count)
			results[i] = func() ([]goredis.XStream, error) {
				v, err := readers[i].Result()
				if goredis.HasErrorPrefix(err, "NOSCRIPT") {
					s.readerLoaded.Store(false) // Redis restarted: load it again next time
				}
				if n, ok := v.(int64); ok && n == 0 && err == nil {
					refused[i] = true // another consumer reads the shard
					return nil, nil
				}
				return parseXStreams(v, err)
			}
			continue
		}
		c := p.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group:    group,
			Consumer: consumer,
			Streams:  []string{stream, id},
			Count:    int64(count),
			Block:    -1, // no BLOCK argument: never wait
		})
		results[i] = c.Result
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	// A Redis without the script (restarted, or a replica promoted by a
	// failover) answers NOSCRIPT: those shards are read again at once with
	// EVAL, which sends the body once and leaves it cached, rather than
	// failing the pass.
	var retry []int
	for i, c := range readers {
		if c != nil && goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		p := s.client.Pipeline()
		for _, i := range retry {
			readers[i] = readerScript.Eval(ctx, p, readerKeys[i], consumer, s.readerLease.Milliseconds(), group, count)
		}
		_, _ = p.Exec(ctx)
	}

	var (
		ds    []bot.Delivery
		full  []int
		stale = map[string][]string{} // deleted entries still pending, by stream
	)
	for i, result := range results {
		shard := s.queues[shards[i]]
		streams, err := result()
		if errors.Is(err, goredis.Nil) {
			streams, err = nil, nil // nothing (RESP2; RESP3 says false)
		}
		if goredis.HasErrorPrefix(err, "NOGROUP") {
			return nil, nil, errNoGroup
		}
		if err != nil {
			return nil, nil, err
		}
		n, last := 0, ""
		for _, st := range streams {
			for _, m := range st.Messages {
				n++
				last = m.ID
				if m.Values == nil {
					stale[st.Stream] = append(stale[st.Stream], m.ID)
					continue
				}
				ds = append(ds, delivery(shard, m))
			}
		}
		if n >= count {
			full = append(full, shards[i])
		}
		switch {
		case id != ">" || refused[i]:
		case n > 0:
			// The group reads in stream order: all up to last is read.
			s.seenOutbox.caughtUp(group, shard, last)
		case heads[i] != "":
			// Nothing new: all that was there before the read is read.
			s.seenOutbox.caughtUp(group, shard, heads[i])
		}
	}
	if err := s.ackDeleted(ctx, group, stale); err != nil {
		return nil, nil, err
	}
	return ds, full, nil
}

// emptyHead is the head of a shard's outbox stream without entries: no
// entry has this ID.
const emptyHead = "0-0"

// ProbeOutbox tells cheaply whether group has work for consumer
// (bot.OutboxProber), reading and claiming nothing. It reads the last entry
// of every shard's stream (XREVRANGE … COUNT 1): where that is not the one
// up to which this Store last saw group read everything, something may be
// unread. Only where nothing is unread but the Store has not seen group
// with nothing pending at that head either, it asks for the pending summary
// (XPENDING), which says whose entries are pending. So once settled, a probe
// costs one command per shard.
func (s *Store) ProbeOutbox(ctx context.Context, group, consumer string) (bot.Backlog, error) {
	if group == "" || consumer == "" {
		return bot.Backlog{}, fmt.Errorf("probe outbox: group and consumer are required")
	}
	lasts := make([]*goredis.XMessageSliceCmd, len(s.queues))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, sh := range s.queues {
			lasts[i] = p.XRevRangeN(ctx, s.outboxKey(sh), "+", "-", 1)
		}
		return nil
	})
	if err != nil {
		return bot.Backlog{}, fail("probe outbox", err)
	}
	var (
		b     bot.Backlog
		check []int // shards to ask XPENDING
		heads = make([]string, len(s.queues))
	)
	for i, c := range lasts {
		heads[i] = emptyHead
		if ms := c.Val(); len(ms) > 0 {
			heads[i] = ms[0].ID
		}
		caught, quiet := s.seenOutbox.sawHead(group, s.queues[i], heads[i])
		switch {
		case caught != heads[i]:
			b.Unread = true
		case quiet != heads[i]:
			check = append(check, i)
		}
	}
	if b.Unread || len(check) == 0 {
		return b, nil // a pass is due, or nothing changed
	}
	// Asked after the heads were read: nothing pending then, with nothing
	// unread at those heads, stays so until a stream grows past its head.
	pending := make([]*goredis.XPendingCmd, len(check))
	p := s.client.Pipeline()
	for j, i := range check {
		pending[j] = p.XPending(ctx, s.outboxKey(s.queues[i]), group)
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	for j, i := range check {
		x, err := pending[j].Result()
		switch {
		case goredis.HasErrorPrefix(err, "NOGROUP"):
			b.Unread = true // gone (a wipe): a pass makes the group again
			continue
		case err != nil:
			return bot.Backlog{}, fail("probe outbox", err)
		case x.Count == 0:
			s.seenOutbox.quietAt(group, s.queues[i], heads[i])
			continue
		}
		for c, n := range x.Consumers {
			b.Mine = b.Mine || c == consumer && n > 0
			b.Others = b.Others || c != consumer && n > 0
		}
	}
	return b, nil
}

// outboxSeen is what a Store learnt of the outbox streams, for ProbeOutbox.
// Each note holds for good, as a stream only grows past its last entry:
// while a shard's stream still ends with the entry a note names, nothing
// was appended since, and what the note says of the group still holds.
type outboxSeen struct {
	mu sync.Mutex
	// heads holds the last entry of each shard's stream at a moment past
	// (emptyHead: none).
	heads map[string]string
	// caught holds, by group and shard, an entry up to which the group had
	// read every entry of the stream (a consumer group reads in stream
	// order: any entry it read will do).
	caught map[groupShard]string
	// quiet holds, by group and shard, an entry up to which the stream
	// had nothing unread and nothing pending for the group, and after which
	// there was none.
	quiet map[groupShard]string
}

type groupShard struct{ group, shard string }

// head is the last entry seen of shard's stream ("" when none is known).
func (o *outboxSeen) head(shard string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.heads[shard]
}

// init makes the maps of the zero outboxSeen; called with mu held.
func (o *outboxSeen) init() {
	if o.heads == nil {
		o.heads, o.caught, o.quiet = map[string]string{}, map[groupShard]string{}, map[groupShard]string{}
	}
}

// sawHead notes that shard's stream ended with head, and returns what is
// known of group there: up to where it had read, and where it was quiet.
// A stream that ends before what was noted has lost entries (wiped, or a
// failover to a replica behind): what was noted of it is forgotten.
func (o *outboxSeen) sawHead(group, shard, head string) (caught, quiet string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.init()
	for k, caught := range o.caught {
		if k.shard == shard && (compareStreamIDs(head, caught) < 0 || compareStreamIDs(head, o.quiet[k]) < 0) {
			delete(o.caught, k)
			delete(o.quiet, k)
		}
	}
	o.heads[shard] = head
	k := groupShard{group, shard}
	return o.caught[k], o.quiet[k]
}

// caughtUp notes that group had read every entry of shard's stream up to
// last (an entry, or emptyHead), unless a later one is noted already.
func (o *outboxSeen) caughtUp(group, shard, last string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.init()
	k := groupShard{group, shard}
	if cur, ok := o.caught[k]; !ok || compareStreamIDs(cur, last) < 0 {
		o.caught[k] = last
	}
}

// quietAt notes that shard's stream, ending with head, had nothing unread
// or pending for group.
func (o *outboxSeen) quietAt(group, shard, head string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.init()
	o.quiet[groupShard{group, shard}] = head
}

// ackDeleted acks pending entries whose message was deleted (by TrimOutbox):
// they can never be delivered. stale holds their IDs by stream.
func (s *Store) ackDeleted(ctx context.Context, group string, stale map[string][]string) error {
	if len(stale) == 0 {
		return nil
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for stream, ids := range stale {
			p.XAck(ctx, stream, group, ids...)
		}
		return nil
	})
	return err
}

// AckOutbox marks deliveries as done for group, so they are not read again.
func (s *Store) AckOutbox(ctx context.Context, group string, ds ...bot.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	byStream := map[string][]string{}
	for _, d := range ds {
		shard, id, err := s.splitHandle(d.Handle)
		if err != nil {
			return fmt.Errorf("ack outbox: %w", err)
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
	for _, shard := range s.queues {
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
	for _, shard := range s.queues {
		s.groups.Delete(s.outboxKey(shard) + "\x00" + group)
	}
}

// delivery is the bot.Delivery of entry m of shard's outbox stream.
func delivery(shard string, m goredis.XMessage) bot.Delivery {
	return bot.Delivery{Handle: handle(shard, m.ID), Seq: streamSeq(shard, m.ID), Notice: decodeNotice(m.Values)}
}

// handle is the delivery handle of stream entry id of shard's outbox
// ("s07|<stream id>"), read back by splitHandle.
func handle(shard, id string) string { return shard + "|" + id }

// streamSeq is the place in the outbox order of stream entry id
// ("<millis>-<seq>") of shard's outbox: the stream ID is the append time
// (the server's millisecond) and, within the stream, an exact order.
func streamSeq(shard, id string) bot.Seq {
	ms, seq, _ := strings.Cut(id, "-")
	at, _ := strconv.ParseInt(ms, 10, 64)
	n, _ := strconv.ParseUint(seq, 10, 64)
	return bot.Seq{At: time.UnixMilli(at), Log: shard, N: n}
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
			p.Publish(ctx, s.outboxWakeChannel(), "1")
			return nil
		})
		if err != nil {
			return fail("enqueue notices", err)
		}
	}
	return nil
}

// Delivery bookkeeping (bot.DeliveryStore). Every key carries the hash tag of
// the shard its notice came from, or of the target's own shard:
//
//	<prefix>:{s07}:sent:<group>:<notice id>   STRING  "1", expires after the dedupe TTL
//	<prefix>:{s07}:dead:<group>               STREAM  dead letters: id, incident, audience, body, reason, entry
//	<prefix>:{sNN}:owner:<group>:<target>     STRING  consumer owning the target, expires after the lease
//
// where sNN of an owner key is the shard of the target name. Delivered
// entries stay in the outbox streams until TrimOutbox removes old ones.

var (
	_ bot.DeliveryStore = (*Store)(nil)
	_ bot.ReaderLeaser  = (*Store)(nil)
	_ bot.OutboxProber  = (*Store)(nil)
	_ bot.NewReader     = (*Store)(nil)
)

// OutboxReaderLease is Options.OutboxReaderLease: how long a consumer keeps
// the right to read the new notices of a shard after its last read. A
// bot.Dispatcher on this Store takes its MinIdle from it (2/3 of it), or
// refuses to run with a MinIdle it is too short for, so the two cannot
// disagree.
func (s *Store) OutboxReaderLease() time.Duration { return s.readerLease }

// deadLetterCap bounds each shard's dead-letter stream (approximately).
const deadLetterCap = 10000

// splitHandle checks a delivery handle ("s07|<stream id>") and returns its
// shard and stream entry ID.
func (s *Store) splitHandle(h string) (shard, id string, err error) {
	shard, id, ok := strings.Cut(h, "|")
	if !ok || !slices.Contains(s.queues, shard) || id == "" {
		return "", "", fmt.Errorf("bad outbox handle %q", h)
	}
	return shard, id, nil
}

// ClaimStale claims for consumer up to max entries of group that were read
// by a consumer but neither acked nor read again for at least minIdle (their
// consumer died or stalled), with XAUTOCLAIM on every shard, and returns them
// ordered like ReadOutbox. It claims no more than it returns, so within a
// shard the entries returned by successive calls follow the stream order.
func (s *Store) ClaimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]bot.Delivery, error) {
	if group == "" || consumer == "" {
		return nil, fmt.Errorf("claim stale outbox entries: group and consumer are required")
	}
	if max <= 0 {
		return nil, nil
	}
	ds, err := s.claimStale(ctx, group, consumer, minIdle, max)
	if errors.Is(err, errNoGroup) {
		s.forgetGroups(group)
		ds, err = s.claimStale(ctx, group, consumer, minIdle, max)
	}
	if err != nil {
		return nil, fail("claim stale outbox entries", err)
	}
	return ds, nil
}

func (s *Store) claimStale(ctx context.Context, group, consumer string, minIdle time.Duration, max int) ([]bot.Delivery, error) {
	if err := s.ensureGroups(ctx, group); err != nil {
		return nil, err
	}
	type scan struct{ shard, start string }
	scans := make([]scan, len(s.queues))
	for i, sh := range s.queues {
		scans[i] = scan{sh, "0-0"}
	}
	var ds []bot.Delivery
	for len(scans) > 0 && len(ds) < max {
		// Split what is wanted exactly over the shards (some may get
		// none this round): an entry claimed and not returned would stay
		// out of sight while the next call returns newer ones of its shard.
		want := max - len(ds)
		var (
			asked []scan
			next  []scan
			cmds  []*goredis.XAutoClaimCmd
		)
		p := s.client.Pipeline()
		for i, sc := range scans {
			count := want / len(scans)
			if i < want%len(scans) {
				count++
			}
			if count == 0 {
				next = append(next, sc)
				continue
			}
			asked = append(asked, sc)
			cmds = append(cmds, p.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
				Stream: s.outboxKey(sc.shard), Group: group, Consumer: consumer,
				MinIdle: minIdle, Start: sc.start, Count: int64(count),
			}))
		}
		_, _ = p.Exec(ctx) // errors are read per command below
		stale := map[string][]string{}
		for i, c := range cmds {
			msgs, start, err := c.Result()
			if goredis.HasErrorPrefix(err, "NOGROUP") {
				return nil, errNoGroup
			}
			if err != nil {
				return nil, err
			}
			stream := s.outboxKey(asked[i].shard)
			for _, m := range msgs {
				if m.Values == nil { // deleted, still pending (Redis 6)
					stale[stream] = append(stale[stream], m.ID)
					continue
				}
				ds = append(ds, delivery(asked[i].shard, m))
			}
			if start != "" && start != "0-0" {
				next = append(next, scan{asked[i].shard, start})
			}
		}
		if err := s.ackDeleted(ctx, group, stale); err != nil {
			return nil, err
		}
		scans = next
	}
	sortDeliveries(ds)
	return ds, nil
}

// sortDeliveries orders deliveries by shard (s09 before s10), then by
// stream ID.
func sortDeliveries(ds []bot.Delivery) {
	slices.SortFunc(ds, func(a, b bot.Delivery) int {
		if c := compareIDs(a.Seq.Log, b.Seq.Log); c != 0 {
			return c
		}
		return a.Seq.Compare(b.Seq) // one shard: the stream order
	})
}

// sentKey names the mark of a notice sent for group, in the shard of the
// outbox entry it came from.
func (s *Store) sentKey(group string, d bot.Delivery) (string, error) {
	shard, _, err := s.splitHandle(d.Handle)
	if err != nil {
		return "", err
	}
	if group == "" || d.Notice.ID == "" {
		return "", fmt.Errorf("group and notice ID are required")
	}
	return s.shardKey(shard, "sent:"+group+":"+d.Notice.ID), nil
}

// MarkSent remembers for ttl that the notices of ds were sent for group,
// with one SET NX each in one pipeline. first[i] is false when the notice
// of ds[i] was marked already (by this or another consumer).
func (s *Store) MarkSent(ctx context.Context, group string, ttl time.Duration, ds ...bot.Delivery) (first []bool, err error) {
	if ttl < time.Millisecond {
		return nil, fmt.Errorf("mark notices sent: ttl %s is too short", ttl)
	}
	keys, err := s.sentKeys(group, ds)
	if err != nil {
		return nil, fmt.Errorf("mark notices sent: %w", err)
	}
	cmds := make([]*goredis.BoolCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.SetNX(ctx, key, "1", ttl)
		}
		return nil
	})
	if err != nil {
		return nil, failOn("mark notices", sentNames(ds)+" sent", err)
	}
	first = make([]bool, len(cmds))
	for i, c := range cmds {
		first[i] = c.Val()
	}
	return first, nil
}

// WasSent reports, for each of ds, whether its notice is marked sent for
// group, with one EXISTS each in one pipeline (the keys are in the slots
// of their shards, so one EXISTS of them all could cross slots).
func (s *Store) WasSent(ctx context.Context, group string, ds ...bot.Delivery) ([]bool, error) {
	keys, err := s.sentKeys(group, ds)
	if err != nil {
		return nil, fmt.Errorf("check notices sent: %w", err)
	}
	cmds := make([]*goredis.IntCmd, len(keys))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.Exists(ctx, key)
		}
		return nil
	})
	if err != nil {
		return nil, failOn("check notices", sentNames(ds)+" sent", err)
	}
	sent := make([]bool, len(cmds))
	for i, c := range cmds {
		sent[i] = c.Val() == 1
	}
	return sent, nil
}

// sentKeys are the sent marks of ds for group.
func (s *Store) sentKeys(group string, ds []bot.Delivery) ([]string, error) {
	if len(ds) == 0 {
		return nil, fmt.Errorf("no notices")
	}
	keys := make([]string, len(ds))
	for i, d := range ds {
		key, err := s.sentKey(group, d)
		if err != nil {
			return nil, err
		}
		keys[i] = key
	}
	return keys, nil
}

// sentNames names ds in an error: the first notice, and how many more.
func sentNames(ds []bot.Delivery) string {
	if len(ds) == 1 {
		return ds[0].Notice.ID
	}
	return fmt.Sprintf("%s and %d more", ds[0].Notice.ID, len(ds)-1)
}

func (s *Store) deadKey(shard, group string) string { return s.shardKey(shard, "dead:"+group) }

// DeadLetter appends d and reason to group's dead-letter stream of d's shard
// and acks d, in one transaction (both keys are in the shard's slot). Each
// shard keeps about the last 10,000 dead letters.
func (s *Store) DeadLetter(ctx context.Context, group string, d bot.Delivery, reason string) error {
	shard, id, err := s.splitHandle(d.Handle)
	if err != nil {
		return fmt.Errorf("dead-letter: %w", err)
	}
	if group == "" {
		return fmt.Errorf("dead-letter: group is required")
	}
	n := d.Notice
	_, err = s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{
			Stream: s.deadKey(shard, group), MaxLen: deadLetterCap, Approx: true,
			Values: []any{"id", n.ID, "incident", n.Incident, "audience", string(n.Audience), "body", n.Body,
				"reason", reason, "entry", id},
		})
		p.XAck(ctx, s.outboxKey(shard), group, id)
		return nil
	})
	if err != nil {
		return failOn("dead-letter notice", n.ID, err)
	}
	return nil
}

// DeadLetters returns up to max dead letters of group from every shard,
// newest first. Their Handle is the outbox entry they came from (acked).
func (s *Store) DeadLetters(ctx context.Context, group string, max int) ([]bot.DeadLetter, error) {
	if group == "" {
		return nil, fmt.Errorf("read dead letters: group is required")
	}
	if max <= 0 {
		return nil, nil
	}
	cmds := make([]*goredis.XMessageSliceCmd, len(s.queues))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, sh := range s.queues {
			cmds[i] = p.XRevRangeN(ctx, s.deadKey(sh, group), "+", "-", int64(max))
		}
		return nil
	})
	if err != nil {
		return nil, fail("read dead letters", err)
	}
	type dead struct {
		bot.DeadLetter
		id string
	}
	var all []dead
	for i, c := range cmds {
		for _, m := range c.Val() {
			entry, _ := m.Values["entry"].(string)
			reason, _ := m.Values["reason"].(string)
			at, _, _ := strings.Cut(m.ID, "-")
			ms, _ := strconv.ParseInt(at, 10, 64)
			all = append(all, dead{id: m.ID, DeadLetter: bot.DeadLetter{
				Delivery: bot.Delivery{Handle: handle(s.queues[i], entry), Seq: streamSeq(s.queues[i], entry), Notice: decodeNotice(m.Values)},
				Reason:   reason,
				At:       time.UnixMilli(ms),
			}})
		}
	}
	slices.SortStableFunc(all, func(a, b dead) int { return compareStreamIDs(b.id, a.id) })
	out := make([]bot.DeadLetter, 0, min(len(all), max))
	for _, d := range all[:min(len(all), max)] {
		out = append(out, d.DeadLetter)
	}
	return out, nil
}

// ownScript takes or renews the lease of a target for a consumer, unless
// another consumer holds it, and returns the holder and its lease left in
// milliseconds.
// KEYS[1] owner key; ARGV[1] consumer; ARGV[2] lease in milliseconds.
var ownScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return {ARGV[1], tonumber(ARGV[2])}
end
return {cur, redis.call('PTTL', KEYS[1])}
`)

// OwnTarget makes consumer the owner of target within group for lease,
// unless another consumer owns it, and renews the lease when consumer owns it
// already. It returns the owner after the call and its lease left.
func (s *Store) OwnTarget(ctx context.Context, group, target, consumer string, lease time.Duration) (string, time.Duration, error) {
	if group == "" || target == "" || consumer == "" {
		return "", 0, fmt.Errorf("own target: group, target and consumer are required")
	}
	if lease < time.Millisecond {
		return "", 0, fmt.Errorf("own target %s: lease %s is too short", target, lease)
	}
	key := s.shardKey(s.Shard(target), "owner:"+group+":"+target)
	res, err := ownScript.Run(ctx, s.client, []string{key}, consumer, lease.Milliseconds()).Slice()
	if err != nil {
		return "", 0, failOn("own target", target, err)
	}
	owner, _ := res[0].(string)
	left, _ := res[1].(int64)
	return owner, time.Duration(max(left, 0)) * time.Millisecond, nil
}

// Handover moves pending entries of group to consumer's pending list, with
// their idle time set to idle (XCLAIM ... IDLE), so that consumer reads them
// next, or ClaimStale finds them when consumer stopped. Entries acked
// meanwhile are skipped. It publishes an outbox wake-up, so that consumer
// reads them at once even when idle.
func (s *Store) Handover(ctx context.Context, group, consumer string, idle time.Duration, ds ...bot.Delivery) error {
	if group == "" || consumer == "" {
		return fmt.Errorf("hand over: group and consumer are required")
	}
	byStream := map[string][]any{}
	for _, d := range ds {
		shard, id, err := s.splitHandle(d.Handle)
		if err != nil {
			return fmt.Errorf("hand over: %w", err)
		}
		stream := s.outboxKey(shard)
		byStream[stream] = append(byStream[stream], id)
	}
	if len(byStream) == 0 {
		return nil
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for stream, ids := range byStream {
			args := append([]any{"XCLAIM", stream, group, consumer, 0}, ids...)
			p.Do(ctx, append(args, "IDLE", max(idle.Milliseconds(), 0), "JUSTID")...)
		}
		// consumer may be idle, waiting for a wake-up (OutboxWakeUps).
		p.Publish(ctx, s.outboxWakeChannel(), "1")
		return nil
	})
	if err != nil {
		return failOn("hand over outbox entries to", consumer, err)
	}
	return nil
}

// releasedIdle is the idle time Release gives the pending entries of a
// stopping consumer: as if read a year ago, so ClaimStale with any MinIdle
// takes them at once, yet far below the server's clock (XCLAIM ignores an
// IDLE that reaches back before 1970 and restarts the idle time instead).
const releasedIdle = 365 * 24 * time.Hour

// releasePage is how many pending entries one releaseShardScript call
// hands out: bounded, as the script blocks the server while it runs.
const releasePage = 500

// releaseShardScript gives up a consumer's hold on one shard as it stops:
// its reader lease, only while it is still the consumer's (compare and
// delete), and its pending entries from ARGV[3] on, at most ARGV[4], which
// it marks idle for ARGV[5] milliseconds (XCLAIM to itself with IDLE), so
// that another consumer claims them at once. It returns their IDs. A group
// that does not exist has nothing pending.
// KEYS[1] reader lease key, KEYS[2] stream; ARGV[1] consumer, ARGV[2] group,
// ARGV[3] first entry ID, ARGV[4] count, ARGV[5] idle in milliseconds.
var releaseShardScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
local pending = redis.pcall('XPENDING', KEYS[2], ARGV[2], ARGV[3], '+', ARGV[4], ARGV[1])
if pending.err then
  if string.find(pending.err, 'NOGROUP') then return {} end
  return pending
end
local ids = {}
for _, e in ipairs(pending) do ids[#ids + 1] = e[1] end
if #ids > 0 then
  local args = {'XCLAIM', KEYS[2], ARGV[2], ARGV[1], 0}
  for _, id in ipairs(ids) do args[#args + 1] = id end
  args[#args + 1] = 'IDLE'
  args[#args + 1] = ARGV[5]
  args[#args + 1] = 'JUSTID'
  redis.call(unpack(args))
end
return ids
`)

// Release gives up what consumer holds in group, as it stops, so that
// another consumer goes on at once instead of waiting for leases to run
// out: the reader lease of every shard, and its ownership of targets; each
// only while consumer still holds it, so a successor's lease is never
// deleted. Its pending entries (read, not acked) stay pending but become
// claimable by ClaimStale at once, whatever its minIdle, and keep their
// stream order; the next reader takes them over before sending anything
// newer to their targets. It publishes an outbox wake-up, so that idle
// consumers take over at once. Release is safe to call again; a consumer
// that reads after it simply takes its leases anew.
func (s *Store) Release(ctx context.Context, group, consumer string, targets ...string) error {
	if group == "" || consumer == "" {
		return fmt.Errorf("release outbox leases: group and consumer are required")
	}
	var errs []error
	// Every shard starts from the first pending entry; one that returned a
	// full page is asked again from past its last ID.
	start := make(map[int]string, len(s.queues))
	for i := range s.queues {
		start[i] = "-"
	}
	for len(start) > 0 {
		shards := slices.Sorted(maps.Keys(start))
		cmds := make([]*goredis.Cmd, len(shards))
		p := s.client.Pipeline()
		for j, i := range shards {
			keys := []string{s.shardKey(s.queues[i], "reader:"+group), s.outboxKey(s.queues[i])}
			cmds[j] = releaseShardScript.Eval(ctx, p, keys, consumer, group, start[i], releasePage, releasedIdle.Milliseconds())
		}
		_, _ = p.Exec(ctx) // errors are read per command below
		for j, i := range shards {
			ids, err := cmds[j].StringSlice()
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("shard %s: %w", s.queues[i], err))
				delete(start, i)
			case len(ids) < releasePage:
				delete(start, i)
			default:
				start[i] = nextStreamID(ids[len(ids)-1])
			}
		}
	}
	if len(targets) > 0 {
		cmds := make([]*goredis.Cmd, len(targets))
		p := s.client.Pipeline()
		for i, target := range targets {
			key := s.shardKey(s.Shard(target), "owner:"+group+":"+target)
			cmds[i] = releaseLease.Eval(ctx, p, []string{key}, consumer)
		}
		_, _ = p.Exec(ctx)
		for i, c := range cmds {
			if err := c.Err(); err != nil {
				errs = append(errs, fmt.Errorf("target %s: %w", targets[i], err))
			}
		}
	}
	// The other consumers may be idle: they take over at once.
	if err := s.client.Publish(ctx, s.outboxWakeChannel(), "1").Err(); err != nil {
		errs = append(errs, fmt.Errorf("wake the other consumers: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return failOn("release outbox leases of", consumer, err)
	}
	return nil
}

// nextStreamID is the smallest stream entry ID after id ("<millis>-<seq>"):
// the start of the next page of an inclusive range, which works on every
// server (exclusive ranges need Redis 6.2 and miniredis lacks them).
func nextStreamID(id string) string {
	ms, seq, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// TrimOutbox deletes the outbox entries appended before the given time from
// every shard, and returns how many it deleted. Run it with a generous
// retention (days): an entry a group has not delivered yet is lost with it.
// Deleted entries still pending are dropped from the pending lists by the
// next ReadOutbox or ClaimStale.
func (s *Store) TrimOutbox(ctx context.Context, before time.Time) (int64, error) {
	minID := millis(before) + "-0"
	cmds := make([]*goredis.IntCmd, len(s.queues))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, sh := range s.queues {
			cmds[i] = p.XTrimMinID(ctx, s.outboxKey(sh), minID)
		}
		return nil
	})
	if err != nil {
		return 0, fail("trim outbox", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
