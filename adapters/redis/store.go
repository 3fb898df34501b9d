// Package redis keeps Firebreak's incidents, timelines, timers and outbox in
// Redis (DESIGN.md §3). It implements workflow.Store, workflow.IntakeStore
// and bot.OutboxStore.
//
// Every key of one incident carries the hash tag of its shard, so that one
// state transition touches one Redis Cluster slot and runs as ONE Lua script:
//
//	<prefix>:{s07}:inc:YQ-12       HASH   v = version, data = incident JSON, c = token of the change that wrote them
//	<prefix>:{s07}:log:YQ-12       LIST   event JSON, oldest first
//	<prefix>:{s07}:itimers:YQ-12   SET    the incident's timer IDs (for re-planning)
//	<prefix>:{s07}:timers          ZSET   timer ID scored by due unix millis
//	<prefix>:{s07}:timerinc        HASH   timer ID -> incident ID
//	<prefix>:{s07}:inflight        ZSET   claimed timer IDs scored by lease expiry
//	<prefix>:{s07}:claimdue        HASH   claimed timer ID -> "<due ms> <incident>"
//	<prefix>:{s07}:outbox          STREAM notices: id, incident, audience, body
//	<prefix>:{s07}:sent:<group>:<id>  STRING a notice delivered on a platform (dedupe)
//	<prefix>:{s07}:dead:<group>    STREAM dead-lettered notices of a platform
//	<prefix>:{s07}:owner:<group>:<target> STRING the replica delivering to a chat (lease)
//	<prefix>:{s07}:reader:<group>  STRING the replica reading new notices of the shard (lease)
//	<prefix>:{s07}:open            ZSET   open incident IDs scored by FoundAt millis
//	<prefix>:{s07}:due             ZSET   open incident IDs scored by NextDue millis
//	<prefix>:{s07}:mine:<person>   ZSET   open incidents assigned to person, by FoundAt
//	<prefix>:{s07}:resolved        ZSET   resolved incident IDs scored by ResolvedAt millis
//	<prefix>:{s07}:ready           STRING written by the readiness probe (Ping), expires
//	<prefix>:{intake}:cand:IT-7    HASH   v = version, data = candidate JSON (no figures), state, incident, n = deliveries, c = as inc's
//	<prefix>:{intake}:cfig:IT-7    LIST   figures JSON of each delivery that had figures, oldest first
//	<prefix>:{intake}:dedupe       HASH   dedupe key of an item -> candidate ID
//	<prefix>:{intake}:seen         HASH   delivery key -> signature of its last figures (duplicates)
//	<prefix>:{intake}:seq          STRING counter behind "IT-<n>"
//	<prefix>:{intake}:pending      ZSET   pending candidate IDs scored by number (arrival)
//	<prefix>:{intake}:opened       ZSET   opened candidate IDs scored by DecidedAt millis
//	<prefix>:{intake}:dismissed    ZSET   dismissed candidate IDs scored by DecidedAt millis
//	<prefix>:{intake}:quota:<source>:<minute> STRING items of a source in a minute; expires
//	<prefix>:seq                   STRING counter behind "YQ-<n>"
//	<prefix>:instance              STRING JSON instance marker: ID, creation time (marker.go)
//	<prefix>:rr:<rotation>         STRING counter of a round-robin rotation
//	<prefix>:once:<key>            STRING a request's at-most-once guard (once.go); expires
//	<prefix>:lock:<name>           STRING per-fire cron lock (SET NX EX)
//	<prefix>:timers:wake           channel: Apply publishes a sooner due time
//	<prefix>:democlock             STRING JSON epoch and scale of demo time (TIME_SCALE ≠ 1)
//
// The intake shard {intake} (IntakeShard) also has timers, timerinc,
// itimers:IT-7 and outbox, kept as an incident shard's (intake.go).
//
// The shard of an incident is FNV-1a (32 bit) of its ID modulo the shard
// count, written "s%02d". The prefix must not contain '{' or '}', which would
// move the hash tag.
//
// On a Redis Cluster (a *goredis.ClusterClient) the counter, the marker,
// the rotations and the request guards, which one script reads together
// (NextID), share the hash tag {meta}: <prefix>:{meta}:seq,
// <prefix>:{meta}:instance, <prefix>:{meta}:rr:<rotation>,
// <prefix>:{meta}:once:<key>. Elsewhere they keep the
// names above, so the data of a single Redis or a Sentinel pair stays where
// it was.
package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

var (
	_ workflow.Store  = (*Store)(nil)
	_ bot.OutboxStore = (*Store)(nil)
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Prefix starts every key ("fb" when empty). Tests use a unique one each.
	Prefix string
	// Shards is the fixed number of shards (16 when zero). Changing it moves
	// every incident to another key: pick it once per deployment.
	Shards int
	// Clock supplies "now" for `list overdue` when the query leaves Now zero
	// (the system clock when nil).
	Clock workflow.Clock
	// OutboxReaderLease is how long a consumer keeps the right to read new
	// notices of a shard after its last read (default 15 s). It must exceed
	// the Dispatcher's MinIdle plus its claim interval (MinIdle/4), so that a
	// stopped reader's entries are claimed before another reads past them;
	// the default matches the Dispatcher's default target lease
	// (1.5 × MinIdle of 10 s). It bounds how long a replica that died
	// without Release holds back the shard's new notices; a busy reader
	// renews it at every pass (at least every second or so), far inside
	// it, and an idle one lets it lapse, which costs nothing: the next
	// reader takes it.
	OutboxReaderLease time.Duration
	// Instance, from OpenInstance, makes NextID hand out IDs only while the
	// instance marker is this one and the counter has not gone back, so a
	// Redis that lost its data never repeats an ID already posted. Nil
	// (tests of other things) allocates without checking.
	Instance *Instance
}

// Store is the Redis implementation of workflow.Store and bot.OutboxStore.
// It is safe for concurrent use, by any number of replicas.
type Store struct {
	client goredis.UniversalClient
	prefix string
	shards []string // shard names by number: "s00", "s01", ...
	// queues are the shards whose timers and outbox are served: the
	// incidents' shards and IntakeShard.
	queues []string
	clock  workflow.Clock
	// readerLease is Options.OutboxReaderLease.
	readerLease time.Duration
	// meta starts the keys outside the shards that a script reads
	// together: the prefix, and the hash tag {meta} on a Cluster.
	meta string

	// groups caches "<stream>\x00<group>" of consumer groups known to exist.
	groups sync.Map
	// readerLoaded is set once the outbox reader script was loaded.
	readerLoaded atomic.Bool
	// seenOutbox is what outbox reads and probes learnt (ProbeOutbox).
	seenOutbox outboxSeen
	// instance is Options.Instance; seen the highest incident number known
	// to be handed out (NextID, CheckInstance), below which the counter
	// must never go.
	instance *Instance
	seen     atomic.Int64
	// hookOnce installs the hook of request guards (Once) on the client.
	hookOnce sync.Once
	// decoded is the memory of incidents decoded (decode).
	decoded incidentCache
}

// New returns a Store on client. The caller keeps ownership of client.
func New(client goredis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = "fb"
	}
	if opts.Shards <= 0 {
		opts.Shards = 16
	}
	if opts.Clock == nil {
		opts.Clock = workflow.SystemClock{}
	}
	if opts.OutboxReaderLease <= 0 {
		opts.OutboxReaderLease = 15 * time.Second
	}
	s := &Store{client: client, prefix: opts.Prefix, clock: opts.Clock, readerLease: opts.OutboxReaderLease, meta: opts.Prefix}
	if _, cluster := client.(*goredis.ClusterClient); cluster {
		s.meta = opts.Prefix + ":{meta}"
	}
	if opts.Instance != nil {
		inst := *opts.Instance
		s.instance = &inst
		s.seen.Store(inst.seq)
	}
	for i := range opts.Shards {
		s.shards = append(s.shards, fmt.Sprintf("s%02d", i))
	}
	s.queues = append(slices.Clone(s.shards), IntakeShard)
	return s
}

// IntakeShard holds every monitoring candidate ("IT-<n>") with its dedupe
// index, timers and outbox: one slot, so that receiving an item (dedupe,
// create or merge, triage timers, triage card) is one script.
const IntakeShard = "intake"

// Shard returns the shard of an incident ID ("s07"): FNV-1a 32 of the ID
// modulo the shard count. A candidate's ID ("IT-7") is in IntakeShard.
func (s *Store) Shard(id string) string {
	if strings.HasPrefix(id, workflow.CandidatePrefix) {
		return IntakeShard
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return s.shards[h.Sum32()%uint32(len(s.shards))]
}

// shardKey names a per-shard key: "<prefix>:{s07}:<name>".
func (s *Store) shardKey(shard, name string) string {
	return s.prefix + ":{" + shard + "}:" + name
}

func (s *Store) incKey(id string) string       { return s.shardKey(s.Shard(id), "inc:"+id) }
func (s *Store) logKey(id string) string       { return s.shardKey(s.Shard(id), "log:"+id) }
func (s *Store) outboxKey(shard string) string { return s.shardKey(shard, "outbox") }

func (s *Store) mineKey(shard, person string) string {
	return s.shardKey(shard, "mine:"+person)
}

// seqKey is the counter behind "YQ-<n>".
func (s *Store) seqKey() string { return s.meta + ":seq" }

// incidentID is the ID of the n-th incident.
func incidentID(n int64) string { return "YQ-" + strconv.FormatInt(n, 10) }

// RoundRobin returns the next turn of the named rotation: 0, 1, 2, ...
func (s *Store) RoundRobin(ctx context.Context, rotation string) (int64, error) {
	n, err := s.client.Incr(ctx, s.rotationKey(rotation)).Result()
	if err != nil {
		return 0, failOn("next turn of", rotation, err)
	}
	return n - 1, nil
}

// rotationKey is the counter of a round-robin rotation, beside the
// incident counter (NextID takes a turn with an ID in one script).
func (s *Store) rotationKey(rotation string) string { return s.meta + ":rr:" + rotation }

// Get returns the incident with the given ID: CodeNotFound if there is none,
// CodeUnavailable if Redis cannot be reached.
func (s *Store) Get(ctx context.Context, id string) (*workflow.Incident, error) {
	data, err := s.client.HGet(ctx, s.incKey(id), "data").Result()
	if errors.Is(err, goredis.Nil) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, failOn("load incident", id, unreadable(err))
	}
	return s.decode(id, data)
}

// unreadable marks a Redis error saying a key holds another type than the
// Store wrote there (WRONGTYPE) as workflow.ErrUnreadable.
func unreadable(err error) error {
	if strings.HasPrefix(err.Error(), "WRONGTYPE") {
		return fmt.Errorf("%w: %w", workflow.ErrUnreadable, err)
	}
	return err
}

// History returns the incident and its events, oldest first, read
// together in one round trip (CodeNotFound for an unknown incident).
func (s *Store) History(ctx context.Context, id string) (*workflow.Incident, []workflow.Event, error) {
	var (
		data  *goredis.StringCmd
		items *goredis.StringSliceCmd
	)
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		data = p.HGet(ctx, s.incKey(id), "data")
		items = p.LRange(ctx, s.logKey(id), 0, -1)
		return nil
	})
	if errors.Is(data.Err(), goredis.Nil) {
		return nil, nil, notFound(id)
	}
	if err != nil {
		return nil, nil, failOn("load timeline of", id, err)
	}
	inc, err := s.decode(id, data.Val())
	if err != nil {
		return nil, nil, err
	}
	events := make([]workflow.Event, 0, len(items.Val()))
	for i, raw := range items.Val() {
		var e workflow.Event
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			return nil, nil, fmt.Errorf("decode event %d of %s: %w", i, id, err)
		}
		events = append(events, e)
	}
	return inc, events, nil
}

// List returns the incidents matching q (ListPage's incidents).
func (s *Store) List(ctx context.Context, q workflow.ListQuery) ([]*workflow.Incident, error) {
	page, err := s.ListPage(ctx, q)
	return page.Incidents, err
}

// ListPage returns the page of incidents matching q, ordered by discovery
// (FoundAt, then ID), oldest first, or most urgent first (q.Urgent), and
// how many match in all; ListResolved is ordered by resolution instead
// (resolvedPage). It costs two round trips whatever the number of
// incidents: the indexes of every shard in one pipeline (with the due
// index, for the urgent order), then the page's incidents in a second one;
// a page of the urgent or the resolved list takes a third, rarely, when
// one shard holds much of it (shardTops).
func (s *Store) ListPage(ctx context.Context, q workflow.ListQuery) (workflow.Page, error) {
	var index func(shard string) string
	rangeBy := &goredis.ZRangeBy{Min: "-inf", Max: "+inf"}
	switch q.Filter {
	case workflow.ListOpen, "":
		index = func(shard string) string { return s.shardKey(shard, "open") }
	case workflow.ListMine:
		if q.Person == "" {
			return workflow.Page{}, workflow.Errorf(workflow.CodeInvalid,
				"list mine needs the person asking", "列出“我的”事件需要知道是谁")
		}
		index = func(shard string) string { return s.mineKey(shard, q.Person) }
	case workflow.ListOverdue:
		now := q.Now
		if now.IsZero() {
			now = s.clock.Now()
		}
		index = func(shard string) string { return s.shardKey(shard, "due") }
		// Exclusive, like workflow.Incident.Overdue: a deadline falling
		// exactly now is due, not yet missed.
		rangeBy.Max = "(" + millis(now)
	case workflow.ListResolved:
		// Scored by ResolvedAt; incidents resolved before this index was
		// kept (by an earlier release) are not in it.
		index = func(shard string) string { return s.shardKey(shard, "resolved") }
		if !q.From.IsZero() {
			rangeBy.Min = millis(q.From)
		}
		if !q.To.IsZero() {
			rangeBy.Max = "(" + millis(q.To)
		}
		return s.resolvedPage(ctx, q, rangeBy)
	default:
		return workflow.Page{}, workflow.Errorf(workflow.CodeInvalid,
			"unknown list filter %q (open, overdue, mine or resolved)", "未知的列表范围 %q(open、overdue、mine 或 resolved)", q.Filter)
	}
	if q.Urgent && q.Limit > 0 && q.Filter != workflow.ListMine {
		// The due index holds the open incidents in the urgent order: a
		// page of it is read without the rest.
		ids, total, ok, err := s.urgentPage(ctx, q, rangeBy.Max)
		if err != nil {
			return workflow.Page{}, err
		}
		if ok {
			incs, err := s.readListed(ctx, q, ids)
			return workflow.Page{Incidents: incs, Total: total}, err
		}
	}
	// The open and mine indexes are scored by FoundAt; the due index (read
	// too for the urgent order) by the earliest unmet deadline.
	byDue := q.Filter == workflow.ListOverdue
	withDue := q.Urgent && !byDue

	cmds := make([]*goredis.ZSliceCmd, len(s.shards))
	dues := make([]*goredis.ZSliceCmd, len(s.shards))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, shard := range s.shards {
			cmds[i] = p.ZRangeByScoreWithScores(ctx, index(shard), rangeBy)
			if withDue {
				dues[i] = p.ZRangeWithScores(ctx, s.shardKey(shard, "due"), 0, -1)
			}
		}
		return nil
	})
	if err != nil {
		return workflow.Page{}, fail("list incidents", err)
	}
	type candidate struct {
		id         string
		score, due float64
	}
	var found []candidate
	due := map[string]float64{}
	for i, c := range cmds {
		if withDue {
			for _, z := range dues[i].Val() {
				due[z.Member.(string)] = z.Score
			}
		}
		for _, z := range c.Val() {
			d, ok := due[z.Member.(string)]
			switch {
			case byDue:
				d = z.Score
			case !ok:
				d = noDue + z.Score // an open index's score is the discovery
			}
			found = append(found, candidate{id: z.Member.(string), score: z.Score, due: d})
		}
	}
	total := len(found)
	slices.SortFunc(found, func(a, b candidate) int {
		if q.Urgent {
			// As the pages read from the due index (urgentPage), so that
			// put end to end they are this list: those due in the same
			// millisecond, or without a deadline and found in the same
			// millisecond, by ID.
			return cmp.Or(cmp.Compare(a.due, b.due), compareIDs(a.id, b.id))
		}
		if c := cmp.Compare(a.score, b.score); c != 0 {
			return c
		}
		return compareIDs(a.id, b.id)
	})
	// The overdue index is scored by due time, not by discovery: in the
	// order by discovery its page is known only once the incidents are read.
	early := !byDue || q.Urgent
	if early {
		found = page(found, q.Offset, q.Limit)
	}
	if len(found) == 0 {
		return workflow.Page{Total: total}, nil
	}
	ids := make([]string, len(found))
	for i, c := range found {
		ids[i] = c.id
	}
	incs, err := s.readListed(ctx, q, ids)
	if err != nil {
		return workflow.Page{}, err
	}
	if !q.Urgent {
		slices.SortFunc(incs, func(a, b *workflow.Incident) int {
			if c := a.FoundAt.Compare(b.FoundAt); c != 0 {
				return c
			}
			return compareIDs(a.ID, b.ID)
		})
	}
	if !early {
		incs = page(incs, q.Offset, q.Limit)
	}
	return workflow.Page{Incidents: incs, Total: total}, nil
}

// resolvedPage is ListPage for ListResolved, in rangeBy: the incidents in
// the order they were resolved (the resolved index's score, in
// milliseconds), oldest first; those resolved in the same millisecond by
// ID compared byte-wise, as Redis orders equal scores (so YQ-10 before
// YQ-9). With that order the shards' first members, merged, hold the page:
// shardTops reads them and each shard's count, O(log N + Offset + Limit)
// per shard however many incidents the range holds, in one round trip
// (rarely two), and one more reads the page's incidents. Without a limit
// (statistics, an export) every shard's range is read. Urgent does not
// apply: a resolved incident has no deadline left to keep.
func (s *Store) resolvedPage(ctx context.Context, q workflow.ListQuery, rangeBy *goredis.ZRangeBy) (workflow.Page, error) {
	index := func(shard string) string { return s.shardKey(shard, "resolved") }
	var zs []goredis.Z
	total := 0
	if q.Limit > 0 {
		top, err := s.shardTops(ctx, index, *rangeBy, max(q.Offset, 0)+q.Limit, false, nil)
		if err != nil {
			return workflow.Page{}, err
		}
		zs, total = top.merged, top.total
	} else {
		ranges := make([]*goredis.ZSliceCmd, len(s.shards))
		_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, shard := range s.shards {
				ranges[i] = p.ZRangeByScoreWithScores(ctx, index(shard), rangeBy)
			}
			return nil
		})
		if err != nil {
			return workflow.Page{}, fail("list incidents", err)
		}
		for i := range s.shards {
			zs = append(zs, ranges[i].Val()...)
		}
		total = len(zs)
		slices.SortFunc(zs, byScoreThenID)
	}
	zs = page(zs, q.Offset, q.Limit)
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i] = z.Member.(string)
	}
	incs, err := s.readListed(ctx, q, ids)
	return workflow.Page{Incidents: incs, Total: total}, err
}

// byScoreThenID is the order of a sorted set: by score, then equal scores
// by member compared byte-wise (YQ-10 before YQ-9).
func byScoreThenID(a, b goredis.Z) int {
	return cmp.Or(cmp.Compare(a.Score, b.Score), cmp.Compare(a.Member.(string), b.Member.(string)))
}

// byScoreThenNaturalID orders by score, then equal scores by ID in natural
// order (YQ-9 before YQ-10), as people read them.
func byScoreThenNaturalID(a, b goredis.Z) int {
	return cmp.Or(cmp.Compare(a.Score, b.Score), compareIDs(a.Member.(string), b.Member.(string)))
}

// tops is what shardTops read: the first k members of the shards'
// ranges merged in order, and how many members the ranges hold.
type tops struct {
	merged []goredis.Z
	counts []int // of each shard
	total  int
}

// shardTops reads the first k members (with their scores) of the union of
// rangeBy in every shard's index, merged in the indexes' own order
// (byScoreThenID) or, natural, in byScoreThenNaturalID, and the
// count of the range in every shard. extra, when not nil, adds commands of
// each shard to the same pipeline.
//
// The first k of the union are among each shard's first k, but reading k
// of every shard reads k times the shards' number of members, nearly all of
// them thrown away: with 16 shards a page of 20 read 320 members with
// their scores, the largest part of a list's CPU in Go and in Redis. The
// members of an index are spread over the shards by a hash of their ID, so
// each shard's first few hold the first k: shardTops reads perShard(k) of
// each, in one round trip, and merges them while they suffice
// (mergeTops). Only when a shard runs out of read members that are sure to
// come before its unread ones does a second round trip read more
// of those shards, and the merge runs again over them. With k = 20 and 16
// shards that takes a shard holding 9 of the first 20 (about once in 50,000
// lists), or, in the natural order, members due in the same millisecond at
// the end of what was read of a shard (a burst of incidents found at the
// same typed minute).
//
// That second read takes every member of those shards scored up to the
// k-th lowest score read, which holds the first k whatever their order
// among equal scores, up to k+maxTies members a shard: should a shard hold
// more members of that very score, the page may show some of them in place
// of others of the same score.
func (s *Store) shardTops(ctx context.Context, index func(shard string) string, rangeBy goredis.ZRangeBy, k int,
	natural bool, extra func(p goredis.Pipeliner, i int, shard string)) (tops, error) {
	n := len(s.shards)
	read := make([][]goredis.Z, n)
	counts := make([]int, n)
	ranges := make([]*goredis.ZSliceCmd, n)
	countCmds := make([]*goredis.IntCmd, n)
	first := rangeBy
	first.Offset, first.Count = 0, int64(perShard(k, n))
	if natural {
		// One more: of the members read, only those scored below the
		// last are sure to come before the unread ones.
		first.Count++
	}
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, shard := range s.shards {
			ranges[i] = p.ZRangeByScoreWithScores(ctx, index(shard), &first)
			countCmds[i] = p.ZCount(ctx, index(shard), rangeBy.Min, rangeBy.Max)
			if extra != nil {
				extra(p, i, shard)
			}
		}
		return nil
	})
	if err != nil {
		return tops{}, fail("list incidents", err)
	}
	total := 0
	for i := range s.shards {
		read[i], counts[i] = ranges[i].Val(), int(countCmds[i].Val())
		total += counts[i]
	}
	// In the index's own order every member read comes before the unread.
	compare, sure := byScoreThenID, func(a, b goredis.Z) bool { return byScoreThenID(a, b) <= 0 }
	if natural {
		// In another order than the index's, a member read is sure to come
		// before the unread ones only when its score is lower.
		compare, sure = byScoreThenNaturalID, func(a, b goredis.Z) bool { return a.Score < b.Score }
	}
	merged, need := mergeTops(read, counts, false, k, compare, sure)
	if len(need) == 0 {
		return tops{merged: merged, counts: counts, total: total}, nil
	}
	// At least k members read score at most the k-th lowest score read:
	// the first k of the union are among those scored up to it.
	upTo := rangeBy
	upTo.Offset, upTo.Count = 0, int64(k+maxTies)
	var scores []float64
	for _, zs := range read {
		for _, z := range zs {
			scores = append(scores, z.Score)
		}
	}
	if len(scores) >= k {
		slices.Sort(scores)
		upTo.Max = strconv.FormatFloat(scores[k-1], 'f', -1, 64)
	}
	// Read them of every shard with unread members that may score that
	// low: the unread of any other score above it, and so do those read
	// of the same score as its unread. Then the merge takes what was read.
	bound, err := strconv.ParseFloat(upTo.Max, 64)
	if err != nil {
		bound = math.Inf(1) // "+inf", or an exclusive "(…" bound: read all of the range
	}
	need = need[:0]
	for i, zs := range read {
		if len(zs) < counts[i] && (len(zs) == 0 || zs[len(zs)-1].Score <= bound) {
			need = append(need, i)
		}
	}
	more := make([]*goredis.ZSliceCmd, len(need))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for j, i := range need {
			more[j] = p.ZRangeByScoreWithScores(ctx, index(s.shards[i]), &upTo)
		}
		return nil
	})
	if err != nil {
		return tops{}, fail("list incidents", err)
	}
	for j, i := range need {
		read[i] = more[j].Val()
	}
	merged, _ = mergeTops(read, counts, true, k, compare, sure)
	return tops{merged: merged, counts: counts, total: total}, nil
}

// maxTies is how many members of one score beyond k shardTops reads of a
// shard at most to order them by ID.
const maxTies = 1000

// perShard is how many members of each of n shards shardTops reads first
// for the first k of their union: all k when there are few shards,
// otherwise twice the shards' even share and six more.
func perShard(k, n int) int {
	if n <= 2 {
		return k
	}
	return min(k, 2*((k+n-1)/n)+6)
}

// mergeTops merges the first k of read, each shard's first members of a
// range in its index's order, into the order compare gives. counts says
// how many members each shard's range holds; complete, that every member
// the merge may take was read. Otherwise, of a shard with members
// unread, only those read that are sure (by sure) to come before its last
// one read can be taken: when the merge needs what comes after them,
// need lists every such shard, and merged is nil.
func mergeTops(read [][]goredis.Z, counts []int, complete bool, k int,
	compare func(a, b goredis.Z) int, sure func(a, b goredis.Z) bool) (merged []goredis.Z, need []int) {
	// takable[i] is how many of read[i] the merge may take; last[i] the
	// last member read of a shard with more unread, which bounds them.
	takable := make([]int, len(read))
	last := make([]*goredis.Z, len(read))
	for i, zs := range read {
		zs = slices.Clone(zs)
		slices.SortFunc(zs, compare)
		read[i] = zs
		takable[i] = len(zs)
		if complete || len(zs) >= counts[i] || len(zs) == 0 {
			continue
		}
		bound := zs[len(zs)-1]
		last[i] = &bound
		takable[i] = 0
		for takable[i] < len(zs) && sure(zs[takable[i]], bound) {
			takable[i]++
		}
	}
	next := make([]int, len(read))
	merged = make([]goredis.Z, 0, k)
	for len(merged) < k {
		best := -1
		for i, zs := range read {
			if next[i] < takable[i] && (best < 0 || compare(zs[next[i]], read[best][next[best]]) < 0) {
				best = i
			}
		}
		for i := range read {
			// A shard whose takable members are taken holds unread ones
			// that may come before the best of the others.
			if next[i] == takable[i] && last[i] != nil && (best < 0 || !sure(read[best][next[best]], *last[i])) {
				need = append(need, i)
			}
		}
		if len(need) > 0 {
			return nil, need
		}
		if best < 0 {
			break
		}
		merged = append(merged, read[best][next[best]])
		next[best]++
	}
	return merged, nil
}

// readListed reads the incidents of ids in one pipeline, in that order,
// leaving out any that changed since the index was read so that the answer
// still matches q's filter.
func (s *Store) readListed(ctx context.Context, q workflow.ListQuery, ids []string) ([]*workflow.Incident, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	data := make([]*goredis.StringCmd, len(ids))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			data[i] = p.HGet(ctx, s.incKey(id), "data")
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fail("list incidents", err)
	}
	// A page goes through the memory of decoded incidents; a read of many
	// (statistics, an export) would only churn it.
	decode := decodeIncident
	if q.Limit > 0 && len(ids) <= maxCachedPage {
		decode = s.decode
	}
	incs := make([]*workflow.Incident, 0, len(ids))
	for i, id := range ids {
		raw, err := data[i].Result()
		if errors.Is(err, goredis.Nil) {
			continue // indexed but gone: nothing to show
		}
		if err != nil {
			return nil, fail("list incidents", err)
		}
		inc, err := decode(id, raw)
		if err != nil {
			return nil, err
		}
		// The indexes were read a moment before the incidents; drop any
		// that changed in between so the answer matches its filter.
		if inc.Open() == (q.Filter == workflow.ListResolved) || (q.Filter == workflow.ListMine && inc.Assignee != q.Person) {
			continue
		}
		incs = append(incs, inc)
	}
	return incs, nil
}

// noDue is added to the discovery time (in milliseconds) of an open incident
// with no unmet deadline to give its score in the due index: after every
// real due time (milliseconds stay below it until the year 2286), in the
// order of discovery. So the index holds every open incident in the order
// `list` shows them, most urgent first, and a page of it is read from Redis
// without reading the rest; `list overdue` reads below now, which no such
// score is.
const noDue = 1e13

func noDueScore(found time.Time) string {
	return strconv.FormatInt(int64(noDue)+found.UnixMilli(), 10)
}

// urgentPage is ListPage for the urgent order of the open incidents, or of
// the overdue ones, by limit: the first Offset+Limit of the shards' due
// indexes, with their counts and the open indexes' (shardTops), merged. ok
// is false when a shard's due index lacks open incidents (written by a
// release that left those without a deadline out); the caller then reads
// it all.
func (s *Store) urgentPage(ctx context.Context, q workflow.ListQuery, max string) (found []string, total int, ok bool, err error) {
	opens := make([]*goredis.IntCmd, len(s.shards))
	var extra func(p goredis.Pipeliner, i int, shard string)
	if q.Filter != workflow.ListOverdue {
		extra = func(p goredis.Pipeliner, i int, shard string) {
			opens[i] = p.ZCard(ctx, s.shardKey(shard, "open"))
		}
	}
	top, err := s.shardTops(ctx, func(shard string) string { return s.shardKey(shard, "due") },
		goredis.ZRangeBy{Min: "-inf", Max: max}, q.Offset+q.Limit, true, extra)
	if err != nil {
		return nil, 0, false, err
	}
	if extra != nil {
		for i := range s.shards {
			if int(opens[i].Val()) != top.counts[i] {
				return nil, 0, false, nil
			}
		}
	}
	for _, z := range page(top.merged, q.Offset, q.Limit) {
		found = append(found, z.Member.(string))
	}
	return found, top.total, true, nil
}

// page is the part of xs a list's Offset and Limit (0: no limit) select.
func page[T any](xs []T, offset, limit int) []T {
	xs = xs[min(max(offset, 0), len(xs)):]
	if limit > 0 && len(xs) > limit {
		xs = xs[:limit]
	}
	return xs
}

// compareIDs orders incident IDs naturally: YQ-9 before YQ-10.
func compareIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// decode is decodeIncident through the store's memory of the last incidents
// decoded (decoded): the page of a list and the incidents being worked on
// are read again and again, in the same version, and decoding their JSON
// was the largest part of a read's CPU. A hit needs the very same bytes;
// what is returned is the caller's own copy.
func (s *Store) decode(id, data string) (*workflow.Incident, error) {
	return s.decoded.decode(id, data)
}

// incidentCache remembers the last decoded version of up to
// incidentCacheSize incidents, each with the JSON it came from; when full it
// starts again empty.
type incidentCache struct {
	mu sync.Mutex
	m  map[string]decodedIncident
}

type decodedIncident struct {
	raw string
	inc *workflow.Incident
}

const incidentCacheSize = 2048

// maxCachedPage is the largest page of a list read through the cache.
const maxCachedPage = 100

func (c *incidentCache) decode(id, raw string) (*workflow.Incident, error) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.raw == raw {
		return e.inc.Clone(), nil
	}
	inc, err := decodeIncident(id, raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= incidentCacheSize {
		c.m = make(map[string]decodedIncident, incidentCacheSize)
	}
	c.m[id] = decodedIncident{raw: raw, inc: inc.Clone()}
	c.mu.Unlock()
	return inc, nil
}

func decodeIncident(id, data string) (*workflow.Incident, error) {
	var inc workflow.Incident
	if err := json.Unmarshal([]byte(data), &inc); err != nil {
		return nil, fmt.Errorf("decode incident %s: %w: %w", id, workflow.ErrUnreadable, err)
	}
	return &inc, nil
}

func notFound(id string) error {
	return workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
}

// millis is the score of t in the sorted sets.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
