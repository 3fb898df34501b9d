package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// The monitoring intake (workflow.IntakeStore). Every key is in the one slot
// {intake} (IntakeShard), with the shard's timers and outbox, so that
// receiving an item — dedupe, then create or merge, with the new
// candidate's triage timers and card — is one script, on a Redis Cluster
// too:
//
//	<prefix>:{intake}:cand:IT-7      HASH   v = version, data = candidate JSON (no figures), state, incident, n = deliveries, c = token of the last change
//	<prefix>:{intake}:cfig:IT-7      LIST   figures JSON of each delivery that had figures, oldest first
//	<prefix>:{intake}:dedupe         HASH   dedupe key ("u:<url>", "f:<fingerprint>", "i:<source>\x1f<id>") -> candidate ID
//	<prefix>:{intake}:seen           HASH   delivery key -> the signatures of the figures it came with, newest last, one a line (the last SeenLimit)
//	<prefix>:{intake}:seq            STRING counter behind "IT-<n>"
//	<prefix>:{intake}:pending        ZSET   pending candidate IDs scored by their number (the order of arrival)
//	<prefix>:{intake}:opened         ZSET   opened candidate IDs scored by DecidedAt millis
//	<prefix>:{intake}:dismissed      ZSET   dismissed candidate IDs scored by DecidedAt millis
//	<prefix>:{intake}:quota:<source>:<minute> STRING items of a source counted in a minute (unix minutes of the Store's clock); expires
//
// plus timers, timerinc, itimers:IT-7 and outbox, kept as Apply keeps an
// incident's, so that the timer and outbox engines serve candidates as
// they serve incidents (DueTimer.Incident is the candidate ID).
//
// The pending index is scored by the candidate's number rather than by
// ReceivedAt: a whole delivery shares one ReceivedAt, and Redis orders
// equal scores as strings (IT-10 before IT-9), while numbers are handed out
// in the order items were stored, across replicas whatever their clocks.
//
// The scripts call only the commands of the minimum ACL (docs/redis.md):
// HGET then HSET where HSETNX would do, ZRANGE … REV for ZREVRANGE.
//
// The candidate's ID is not known before the receive script has looked up
// the dedupe keys (or counted a new one), so that script builds the names
// of the candidate's own keys (cand, cfig, itimers) from the prefix it is
// given, instead of receiving them in KEYS. They carry the same hash tag as
// its declared keys: a Cluster runs it on the one node of the slot.

var _ workflow.IntakeStore = (*Store)(nil)

// intakeKey names a key of the intake: "<prefix>:{intake}:<name>".
func (s *Store) intakeKey(name string) string { return s.shardKey(IntakeShard, name) }

// receiveScript stores one arrival: dedupe, then merge or create.
//
// KEYS: 1 dedupe, 2 seen, 3 seq, 4 pending, 5 timers, 6 timerinc, 7 outbox.
//
// ARGV: 1 the prefix of the intake's keys ("<prefix>:{intake}:"), 2 dedupe
// key count, 3 timer count, 4 notice count, 5 delivery key ("": none), 6
// the signature of the delivery's figures, 7 the figures JSON ("": none), 8
// the new candidate's JSON, 9 the timers' wake-up channel, 10 the outbox's
// wake-up channel, then the dedupe keys, the timers (name, due score) and
// the notices (ID suffix, audience, body).
//
// The first dedupe key known (to a candidate that exists) names the
// candidate: when the delivery key was seen with the same signature before
// (one of its last SeenLimit), nothing is written (duplicate); otherwise
// the figures join the series, the signature joins the delivery's, the
// delivery is counted and the keys of the item not known yet point to the
// candidate (merged). With no key known it allocates IT-<n> and writes
// the candidate, its figures, its keys, its timers ("IT-<n>:<name>", with
// Apply's bookkeeping and wake-up) and its notices ("IT-<n>:<id>") (new).
//
// It returns {ID, outcome, state, incident}.
var receiveScript = goredis.NewScript(luaTimers + `
local seen_limit = ` + strconv.Itoa(SeenLimit) + `

-- seen_before reports whether sig is one of the signatures of list (one
-- a line; false: none).
local function seen_before(list, sig)
  return list and string.find('\n' .. list .. '\n', '\n' .. sig .. '\n', 1, true) ~= nil
end

-- remember adds sig to list, keeping the last seen_limit.
local function remember(list, sig)
  if not list then return sig end
  local sigs = {}
  for one in string.gmatch(list, '[^\n]+') do sigs[#sigs + 1] = one end
  sigs[#sigs + 1] = sig
  return table.concat(sigs, '\n', math.max(1, #sigs - seen_limit + 1))
end

local pre = ARGV[1]
local nkeys, ntimers, nnotices = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local delivery, sig, figs = ARGV[5], ARGV[6], ARGV[7]
local first, last = 11, 10 + nkeys

local id, cand
for i = first, last do
  local known = redis.call('HGET', KEYS[1], ARGV[i])
  if known and redis.call('EXISTS', pre .. 'cand:' .. known) == 1 then
    id, cand = known, pre .. 'cand:' .. known
    break
  end
end

if id then
  local outcome = 'duplicate'
  local seen = delivery ~= '' and redis.call('HGET', KEYS[2], delivery)
  if delivery == '' or not seen_before(seen, sig) then
    outcome = 'merged'
    if figs ~= '' then redis.call('RPUSH', pre .. 'cfig:' .. id, figs) end
    redis.call('HSET', cand, 'n', tonumber(redis.call('HGET', cand, 'n') or '0') + 1)
    if delivery ~= '' then redis.call('HSET', KEYS[2], delivery, remember(seen, sig)) end
    for i = first, last do
      if not redis.call('HGET', KEYS[1], ARGV[i]) then redis.call('HSET', KEYS[1], ARGV[i], id) end
    end
  end
  return {id, outcome, redis.call('HGET', cand, 'state') or '', redis.call('HGET', cand, 'incident') or ''}
end

local n = redis.call('INCR', KEYS[3])
id = 'IT-' .. n
cand = pre .. 'cand:' .. id
redis.call('HSET', cand, 'v', '1', 'data', ARGV[8], 'state', 'pending', 'incident', '', 'n', '1')
if figs ~= '' then redis.call('RPUSH', pre .. 'cfig:' .. id, figs) end
if delivery ~= '' then redis.call('HSET', KEYS[2], delivery, sig) end
for i = first, last do redis.call('HSET', KEYS[1], ARGV[i], id) end
redis.call('ZADD', KEYS[4], n, id)

local i = add_timers(KEYS[5], KEYS[6], pre .. 'itimers:' .. id, id, id .. ':', ARGV[9], last + 1, ntimers)

for _ = 1, nnotices do
  redis.call('XADD', KEYS[7], '*', 'id', id .. ':' .. ARGV[i], 'incident', id,
    'audience', ARGV[i + 1], 'body', ARGV[i + 2])
  i = i + 3
end
if nnotices > 0 then redis.call('PUBLISH', ARGV[10], '1') end
return {id, 'new', 'pending', ''}
`)

// Receive stores each arrival atomically, one script call each, the calls
// of the batch pipelined: one round trip once the script is cached (two
// the first time, when Redis answers NOSCRIPT and the body is sent).
// Arrivals are stored in order, so that a later item of the batch merges
// into a candidate an earlier one created. An error leaves the arrivals
// before it stored.
func (s *Store) Receive(ctx context.Context, arrivals []workflow.Arrival) ([]workflow.Stored, error) {
	if len(arrivals) == 0 {
		return nil, nil
	}
	keys := []string{
		s.intakeKey("dedupe"),
		s.intakeKey("seen"),
		s.intakeKey("seq"),
		s.intakeKey("pending"),
		s.intakeKey("timers"),
		s.intakeKey("timerinc"),
		s.outboxKey(IntakeShard),
	}
	args := make([][]any, len(arrivals))
	for i, a := range arrivals {
		var err error
		if args[i], err = s.receiveArgs(a); err != nil {
			return nil, fmt.Errorf("receive item %d: %w", i+1, err)
		}
	}
	cmds := make([]*goredis.Cmd, len(arrivals))
	p := s.client.Pipeline()
	for i := range arrivals {
		cmds[i] = receiveScript.EvalSha(ctx, p, keys, args[i]...)
	}
	_, _ = p.Exec(ctx) // errors are read per command below
	var retry []int
	for i, c := range cmds {
		if goredis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			retry = append(retry, i)
		}
	}
	if len(retry) > 0 {
		// Not cached (a new or restarted Redis): those calls did not run.
		// EVAL sends the body, which the server caches for next time; the
		// calls that ran are not sent again.
		p := s.client.Pipeline()
		for _, i := range retry {
			cmds[i] = receiveScript.Eval(ctx, p, keys, args[i]...)
		}
		_, _ = p.Exec(ctx)
	}
	out := make([]workflow.Stored, len(arrivals))
	for i, c := range cmds {
		reply, err := c.StringSlice()
		if err != nil {
			return nil, fail("receive intake items", err)
		}
		if len(reply) != 4 {
			return nil, fmt.Errorf("receive intake items: unexpected reply %q", reply)
		}
		out[i] = workflow.Stored{ID: reply[0], Outcome: workflow.ReceiveOutcome(reply[1]),
			State: workflow.CandidateState(reply[2]), Incident: reply[3]}
	}
	return out, nil
}

// receiveArgs checks an arrival and lays it out as the ARGV of
// receiveScript.
func (s *Store) receiveArgs(a workflow.Arrival) ([]any, error) {
	c := a.Candidate
	switch {
	case c == nil:
		return nil, errors.New("no candidate")
	case c.ID != "":
		return nil, fmt.Errorf("the new candidate has ID %q: the store allocates it", c.ID)
	case c.Version != 1:
		return nil, fmt.Errorf("the new candidate has version %d, want 1", c.Version)
	case c.State != workflow.CandidatePending:
		return nil, fmt.Errorf("the new candidate is %q, want pending", c.State)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode candidate: %w", err)
	}
	figs := ""
	if !a.Figures.IsZero() {
		b, err := json.Marshal(a.Figures)
		if err != nil {
			return nil, fmt.Errorf("encode figures: %w", err)
		}
		figs = string(b)
	}
	var dedupe []string
	for _, k := range a.Keys {
		if k != "" {
			dedupe = append(dedupe, k)
		}
	}
	args := make([]any, 0, 10+len(dedupe)+2*len(a.Timers)+3*len(a.Notices))
	args = append(args,
		s.intakeKey(""),
		len(dedupe),
		len(a.Timers),
		len(a.Notices),
		a.Delivery,
		figuresSignature(a.Figures),
		figs,
		data,
		s.wakeChannel(),
		s.outboxWakeChannel(),
	)
	for _, k := range dedupe {
		args = append(args, k)
	}
	for _, t := range a.Timers {
		if t.ID == "" || t.Incident != "" {
			return nil, fmt.Errorf("timer %q of %q: a new candidate's timers are named, not yet its own", t.ID, t.Incident)
		}
		args = append(args, t.ID, millis(t.Due))
	}
	for _, n := range a.Notices {
		if n.ID == "" {
			return nil, errors.New("a notice without ID")
		}
		args = append(args, n.ID, string(n.Audience), n.Body)
	}
	return args, nil
}

// SeenLimit is how many signatures of one delivery key's figures the seen
// hash keeps, the newest: an earlier delivery sent again (a retry after a
// lost answer, arriving after newer ones) is a duplicate as long as it is
// one of the last SeenLimit with different figures. The bound keeps a
// post reported every few minutes for weeks from growing its entry
// without end: SeenLimit signatures of all three figures take 2 to 5 KB.
const SeenLimit = 64

// figuresSignature is what the seen hash keeps of a delivery's figures,
// their time left out: the same delivery again with figures it came with
// before is a duplicate, with other figures a new point of the series. A
// signature holds no line break, the separator of the seen hash's lists.
func figuresSignature(f workflow.Figures) string {
	var parts []string
	for _, k := range workflow.FigureList {
		if v, ok := f.Get(k); ok {
			parts = append(parts, string(k)+"="+strconv.FormatInt(v, 10))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// Candidate returns the candidate with its figures series and delivery
// count, read in one MULTI so that they agree: CodeNotFound when there is
// none.
func (s *Store) Candidate(ctx context.Context, id string) (*workflow.Candidate, error) {
	cs, err := s.readCandidates(ctx, []string{id}, func(err error) error { return failOn("load candidate", id, err) })
	if err != nil {
		return nil, err
	}
	if cs[0] == nil {
		return nil, workflow.Errorf(workflow.CodeNotFound, "no candidate %s", "没有候选 %s", id)
	}
	return cs[0], nil
}

// readCandidates reads the candidates of ids in one MULTI (one slot), in
// that order; nil for one that does not exist. A Redis error is returned
// through wrap (the caller's fail), a value that does not decode as it is.
func (s *Store) readCandidates(ctx context.Context, ids []string, wrap func(error) error) ([]*workflow.Candidate, error) {
	hashes := make([]*goredis.MapStringStringCmd, len(ids))
	figures := make([]*goredis.StringSliceCmd, len(ids))
	_, err := s.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for i, id := range ids {
			hashes[i] = p.HGetAll(ctx, s.intakeKey("cand:"+id))
			figures[i] = p.LRange(ctx, s.intakeKey("cfig:"+id), 0, -1)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(err)
	}
	out := make([]*workflow.Candidate, len(ids))
	for i, id := range ids {
		h := hashes[i].Val()
		if _, ok := h["data"]; !ok {
			continue
		}
		c, err := decodeCandidate(id, h, figures[i].Val())
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// decodeCandidate builds a candidate from its hash fields and figures: the
// ID is the key's (a new candidate's JSON was written before it had one)
// and the version the hash's.
func decodeCandidate(id string, h map[string]string, figures []string) (*workflow.Candidate, error) {
	var c workflow.Candidate
	if err := json.Unmarshal([]byte(h["data"]), &c); err != nil {
		return nil, fmt.Errorf("decode candidate %s: %w", id, err)
	}
	c.ID = id
	version, err := strconv.ParseInt(h["v"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("decode version of candidate %s: %q: %w", id, h["v"], err)
	}
	c.Version = version
	c.Deliveries, _ = strconv.Atoi(h["n"])
	c.Figures = make([]workflow.Figures, 0, len(figures))
	for j, raw := range figures {
		var f workflow.Figures
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			return nil, fmt.Errorf("decode figures %d of candidate %s: %w", j+1, id, err)
		}
		c.Figures = append(c.Figures, f)
	}
	return &c, nil
}

// applyCandidateScript writes one workflow.CandidateChange after checking
// the version.
//
// KEYS: 1 cand, 2 pending, 3 opened, 4 dismissed, 5 timers, 6 timerinc, 7
// itimers of the candidate, 8 outbox.
//
// ARGV: 1 expected version, 2 new version, 3 candidate JSON, 4 state, 5
// incident, 6 candidate ID, 7 its score in its state's index, 8 that
// index (2, 3 or 4: the KEYS), 9 timer count, 10 notice count, 11 the
// timers' wake-up channel, 12 the outbox's wake-up channel, then the
// timers (ID, due score) and the notices (ID, incident, audience, body),
// and last the change's token (field c, as applyScript's).
//
// The timers replace the candidate's old ones and wake schedulers as
// applyScript does. It returns 1 when written (or found written already, as
// applyScript), 0 when the version check failed and -1 when there is no such
// candidate.
var applyCandidateScript = goredis.NewScript(luaTimers + `
local change = ARGV[#ARGV]
local v = redis.call('HGET', KEYS[1], 'v')
if not v then return -1 end
if v ~= ARGV[1] then
  if v == ARGV[2] and redis.call('HGET', KEYS[1], 'c') == change then return 1 end -- sent again (as applyScript)
  return 0
end
local id = ARGV[6]
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'data', ARGV[3], 'state', ARGV[4], 'incident', ARGV[5], 'c', change)
for k = 2, 4 do redis.call('ZREM', KEYS[k], id) end
redis.call('ZADD', KEYS[tonumber(ARGV[8])], ARGV[7], id)

drop_timers(KEYS[5], KEYS[6], KEYS[7])
local i = add_timers(KEYS[5], KEYS[6], KEYS[7], id, '', ARGV[11], 13, tonumber(ARGV[9]))

for _ = 1, tonumber(ARGV[10]) do
  redis.call('XADD', KEYS[8], '*', 'id', ARGV[i], 'incident', ARGV[i + 1],
    'audience', ARGV[i + 2], 'body', ARGV[i + 3])
  i = i + 4
end
if tonumber(ARGV[10]) > 0 then redis.call('PUBLISH', ARGV[12], '1') end
return 1
`)

// ApplyCandidate writes c in one script call: the candidate (only if the
// stored version is still c.Prev's: workflow.ErrConflict otherwise), its
// state's index, the full new set of its timers and its notices (IDs and
// incident as given). CodeNotFound when the candidate does not exist; a
// change whose version is not Prev's plus one is refused as the bug it is.
func (s *Store) ApplyCandidate(ctx context.Context, c workflow.CandidateChange) error {
	keys, args, err := s.applyCandidateArgs(c)
	if err != nil {
		return err
	}
	id := c.Candidate.ID
	written, err := applyCandidateScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return failWrite("apply change to candidate", id, err)
	}
	switch written {
	case 0:
		return workflow.ErrConflict
	case -1:
		return workflow.Errorf(workflow.CodeNotFound, "no candidate %s", "没有候选 %s", id)
	}
	return nil
}

// applyCandidateArgs checks c and lays it out as the KEYS and ARGV of
// applyCandidateScript.
func (s *Store) applyCandidateArgs(c workflow.CandidateChange) ([]string, []any, error) {
	cand, prev := c.Candidate, c.Prev
	switch {
	case cand == nil || prev == nil:
		return nil, nil, errors.New("apply candidate change: the candidate and its previous version are required")
	case !workflow.IsCandidateID(cand.ID):
		return nil, nil, fmt.Errorf("apply candidate change: %q is not a candidate ID", cand.ID)
	case prev.ID != cand.ID:
		return nil, nil, fmt.Errorf("apply candidate change: previous candidate %s is not %s", prev.ID, cand.ID)
	case cand.Version != prev.Version+1:
		return nil, nil, fmt.Errorf("apply change to %s: version %d, want %d", cand.ID, cand.Version, prev.Version+1)
	}
	id := cand.ID
	var (
		index int
		score string
	)
	switch cand.State {
	case workflow.CandidatePending:
		n, err := strconv.ParseInt(strings.TrimPrefix(id, workflow.CandidatePrefix), 10, 64)
		if err != nil {
			return nil, nil, fmt.Errorf("apply change to %s: not a candidate number", id)
		}
		index, score = 2, strconv.FormatInt(n, 10)
	case workflow.CandidateOpened:
		index, score = 3, millis(cand.DecidedAt)
	case workflow.CandidateDismissed:
		index, score = 4, millis(cand.DecidedAt)
	default:
		return nil, nil, fmt.Errorf("apply change to %s: unknown state %q", id, cand.State)
	}
	data, err := json.Marshal(cand)
	if err != nil {
		return nil, nil, fmt.Errorf("encode candidate %s: %w", id, err)
	}
	keys := []string{
		s.intakeKey("cand:" + id),
		s.intakeKey("pending"),
		s.intakeKey("opened"),
		s.intakeKey("dismissed"),
		s.intakeKey("timers"),
		s.intakeKey("timerinc"),
		s.intakeKey("itimers:" + id),
		s.outboxKey(IntakeShard),
	}
	args := make([]any, 0, 12+2*len(c.Timers)+4*len(c.Notices))
	args = append(args,
		strconv.FormatInt(prev.Version, 10),
		strconv.FormatInt(cand.Version, 10),
		data,
		string(cand.State),
		cand.Incident,
		id,
		score,
		index,
		len(c.Timers),
		len(c.Notices),
		s.wakeChannel(),
		s.outboxWakeChannel(),
	)
	for _, t := range c.Timers {
		if t.ID == "" || (t.Incident != "" && t.Incident != id) {
			return nil, nil, fmt.Errorf("apply change to %s: timer %q of %q", id, t.ID, t.Incident)
		}
		args = append(args, t.ID, millis(t.Due))
	}
	for _, n := range c.Notices {
		args = append(args, n.ID, n.Incident, string(n.Audience), n.Body)
	}
	return keys, append(args, changeToken()), nil
}

// Candidates returns a page of the candidates in q.State (pending when
// empty): pending ones in the order they arrived, opened and dismissed
// ones by decision, newest first; and how many are in that state. It takes
// two round trips: the index's page and count, then the page's
// candidates. One that changed state in between is left out of the page.
func (s *Store) Candidates(ctx context.Context, q workflow.CandidateQuery) ([]*workflow.Candidate, int, error) {
	state := q.State
	if state == "" {
		state = workflow.CandidatePending
	}
	switch state {
	case workflow.CandidatePending, workflow.CandidateOpened, workflow.CandidateDismissed:
	default:
		return nil, 0, workflow.Errorf(workflow.CodeInvalid, "unknown candidate state %q (pending, opened or dismissed)",
			"未知的候选状态 %q(pending、opened 或 dismissed)", state)
	}
	index := s.intakeKey(string(state))
	start, stop := int64(max(q.Offset, 0)), int64(-1)
	if q.Limit > 0 {
		stop = start + int64(q.Limit) - 1
	}
	var (
		total *goredis.IntCmd
		ids   *goredis.StringSliceCmd
	)
	_, err := s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		total = p.ZCount(ctx, index, "-inf", "+inf")
		ids = p.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: index, Start: start, Stop: stop,
			Rev: state != workflow.CandidatePending})
		return nil
	})
	if err != nil {
		return nil, 0, fail("list candidates", err)
	}
	if len(ids.Val()) == 0 {
		return nil, int(total.Val()), nil
	}
	cs, err := s.readCandidates(ctx, ids.Val(), func(err error) error { return fail("list candidates", err) })
	if err != nil {
		return nil, 0, err
	}
	out := make([]*workflow.Candidate, 0, len(cs))
	for _, c := range cs {
		if c != nil && c.State == state {
			out = append(out, c)
		}
	}
	return out, int(total.Val()), nil
}

// quotaScript counts items against limit in the windows of KEYS, each a
// source's count in one minute, all or none. ARGV: 1 limit, then the
// number of items of each key. It returns 0 when all were counted, or the
// number (from 1) of the first key whose items do not fit, and then counts
// nothing.
var quotaScript = goredis.NewScript(`
local limit = tonumber(ARGV[1])
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = tonumber(redis.call('GET', key) or '0') + tonumber(ARGV[i + 1])
  if counts[i] > limit then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, counts[i], 'PX', 120000)
end
return 0
`)

// TakeQuota counts the items of each source (counts: source → items)
// against limit a minute, in fixed one-minute windows of the Store's
// clock, all or none: when a source's items do not fit, nothing is counted
// for any source, refused is that source (the first by name) and retry is
// the time to the window's end (at least a second). More items than limit
// never fit: retry is a minute. The windows of every source are in the
// intake's slot, so one script checks and counts them all.
//
// The windows are the Store's clock's (Options.Clock), like every other
// time of the Service, rather than the Redis server's (TIME): the minimum
// ACL of docs/redis.md has no TIME, demo time scales the window with the
// rest, and replicas' clocks agree well within the second that a
// one-minute window can afford.
func (s *Store) TakeQuota(ctx context.Context, counts map[string]int, limit int) (string, time.Duration, error) {
	sources := slices.Sorted(maps.Keys(counts))
	sources = slices.DeleteFunc(sources, func(src string) bool { return counts[src] <= 0 })
	for _, src := range sources {
		if counts[src] > limit {
			return src, time.Minute, nil
		}
	}
	if len(sources) == 0 {
		return "", 0, nil
	}
	now := s.clock.Now()
	minute := now.Unix() / 60
	keys := make([]string, len(sources))
	args := []any{limit}
	for i, src := range sources {
		keys[i] = s.intakeKey("quota:" + src + ":" + strconv.FormatInt(minute, 10))
		args = append(args, counts[src])
	}
	n, err := quotaScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return "", 0, failOn("take intake quota of", strings.Join(sources, ", "), err)
	}
	if n < 1 || n > len(sources) {
		return "", 0, nil
	}
	return sources[n-1], max(time.Unix((minute+1)*60, 0).Sub(now), time.Second), nil
}
