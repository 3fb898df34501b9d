// Package redis keeps Firebreak's incidents, timelines, timers and outbox in
// Redis (DESIGN.md §3). It implements workflow.Store, workflow.IntakeStore
// and bot.OutboxStore.
//
// Every key of one incident carries the hash tag of its shard, so that one
// state transition touches one Redis Cluster slot and runs as ONE Lua script:
//
//	<prefix>:{s07}:inc:YQ-12       HASH   v = version, data = incident JSON
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
//	<prefix>:{intake}:cand:IT-7    HASH   v = version, data = candidate JSON (no figures), state, incident, n = deliveries
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
		return nil, failOn("load incident", id, err)
	}
	return s.decode(id, data)
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
// index, for the urgent order), then the page's incidents in a second one.
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
			if c := cmp.Compare(a.due, b.due); c != 0 {
				return c
			}
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
// YQ-9). With that order each shard's first Offset+Limit, merged, hold the
// page: one round trip reads them and each shard's count, O(log N + Offset
// + Limit) per shard however many incidents the range holds, and a second
// reads the page's incidents. Urgent does not apply: a resolved incident
// has no deadline left to keep.
func (s *Store) resolvedPage(ctx context.Context, q workflow.ListQuery, rangeBy *goredis.ZRangeBy) (workflow.Page, error) {
	if q.Limit > 0 {
		rangeBy.Count = int64(max(q.Offset, 0) + q.Limit)
	}
	ranges := make([]*goredis.ZSliceCmd, len(s.shards))
	counts := make([]*goredis.IntCmd, len(s.shards))
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, shard := range s.shards {
			index := s.shardKey(shard, "resolved")
			ranges[i] = p.ZRangeByScoreWithScores(ctx, index, rangeBy)
			counts[i] = p.ZCount(ctx, index, rangeBy.Min, rangeBy.Max)
		}
		return nil
	})
	if err != nil {
		return workflow.Page{}, fail("list incidents", err)
	}
	var zs []goredis.Z
	total := 0
	for i := range s.shards {
		total += int(counts[i].Val())
		zs = append(zs, ranges[i].Val()...)
	}
	slices.SortFunc(zs, func(a, b goredis.Z) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Member.(string), b.Member.(string))
	})
	zs = page(zs, q.Offset, q.Limit)
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i] = z.Member.(string)
	}
	incs, err := s.readListed(ctx, q, ids)
	return workflow.Page{Incidents: incs, Total: total}, err
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
// the overdue ones, by limit: each shard's first Offset+Limit of the due
// index and its counts, in one round trip, merged. ok is false when a
// shard's due index lacks open incidents (written by a release that left
// those without a deadline out); the caller then reads it all.
func (s *Store) urgentPage(ctx context.Context, q workflow.ListQuery, max string) (found []string, total int, ok bool, err error) {
	k := int64(q.Offset + q.Limit)
	ranges := make([]*goredis.ZSliceCmd, len(s.shards))
	counts := make([]*goredis.IntCmd, len(s.shards))
	opens := make([]*goredis.IntCmd, len(s.shards))
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, shard := range s.shards {
			due := s.shardKey(shard, "due")
			ranges[i] = p.ZRangeByScoreWithScores(ctx, due, &goredis.ZRangeBy{Min: "-inf", Max: max, Count: k})
			counts[i] = p.ZCount(ctx, due, "-inf", max)
			if q.Filter != workflow.ListOverdue {
				opens[i] = p.ZCard(ctx, s.shardKey(shard, "open"))
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, false, fail("list incidents", err)
	}
	var zs []goredis.Z
	for i := range s.shards {
		n := counts[i].Val()
		if opens[i] != nil && opens[i].Val() != n {
			return nil, 0, false, nil
		}
		total += int(n)
		zs = append(zs, ranges[i].Val()...)
	}
	slices.SortFunc(zs, func(a, b goredis.Z) int {
		if c := cmp.Compare(a.Score, b.Score); c != 0 {
			return c
		}
		return compareIDs(a.Member.(string), b.Member.(string))
	})
	for _, z := range page(zs, q.Offset, q.Limit) {
		found = append(found, z.Member.(string))
	}
	return found, total, true, nil
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
		return nil, fmt.Errorf("decode incident %s: %w", id, err)
	}
	return &inc, nil
}

func notFound(id string) error {
	return workflow.Errorf(workflow.CodeNotFound, "no incident %s", "没有事件 %s", id)
}

// millis is the score of t in the sorted sets.
func millis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
