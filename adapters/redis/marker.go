package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/firebreak/firebreak/workflow"
)

// The instance marker tells a Redis that still holds Firebreak's data from
// one that lost it. Incident IDs come from the counter <prefix>:seq; a Redis
// that comes back empty (wiped, replaced, FLUSHALL, restarted without
// persistence) would hand out YQ-1, YQ-2 ... again, and those IDs were
// already posted to Slack and Telegram: the senders would update the old
// cards and threads with the new incidents. So a store is accepted once,
// explicitly (InitInstance, `firebreak store init`), which writes
// <prefix>:instance; OpenInstance refuses a store without it, and a Store
// opened on it allocates IDs only while the marker is the same one and the
// counter has not gone back (one script call, so no ID slips between the
// check and the increment).
//
// What cannot be known: a brand-new Redis and a wiped one look the same, so
// neither is accepted without InitInstance, except when the caller says so
// (the embedded demo Redis). A Redis restored from an older snapshot keeps
// the marker; a running Store notices its counter went back, a freshly
// started one cannot.
//
// The marker and the counter sit outside the shards; the one script that
// reads both needs them in one slot: on a Cluster both carry the hash tag
// {meta} (store.go).

// Instance identifies one Firebreak store: what <prefix>:instance holds.
type Instance struct {
	// ID is random (16 hex digits), new at every InitInstance.
	ID string `json:"id"`
	// Created is when the store was accepted.
	Created time.Time `json:"created"`
	// By says how: InitByOperator, InitEmbedded or InitAdopted.
	By string `json:"by"`
	// Fresh is set when this call wrote the marker (InitInstance, or
	// OpenInstance initialising or adopting the store); never stored.
	Fresh bool `json:"-"`

	// raw is the marker exactly as stored, which NextID compares.
	raw string
	// seq is the incident counter when the instance was opened.
	seq int64
}

// How an instance came to be (Instance.By).
const (
	// InitByOperator: `firebreak store init` accepted an empty store.
	InitByOperator = "store init"
	// InitEmbedded: the embedded demo Redis, which starts empty every time.
	InitEmbedded = "embedded"
	// InitAdopted: a store holding incidents from before markers existed.
	InitAdopted = "adopted"
	// InitTest: a test's fresh key prefix, empty by construction.
	InitTest = "test"
)

// InstanceKey names the key of the instance marker, for messages.
func (s *Store) InstanceKey() string { return s.meta + ":instance" }

// Problems with the instance (InstanceError.Problem).
const (
	// ProblemEmpty: neither a marker nor an incident counter (a new
	// installation, or a Redis that lost everything).
	ProblemEmpty = "empty"
	// ProblemMissing: the marker is gone (FLUSHALL, a replaced or restarted
	// Redis without persistence, eviction).
	ProblemMissing = "missing"
	// ProblemChanged: another marker (another store, or one initialised
	// again while this process ran).
	ProblemChanged = "changed"
	// ProblemCounter: the incident counter is missing or went back
	// (a restore from an older snapshot, or a partial loss).
	ProblemCounter = "counter"
)

// InstanceError says why a store is not the one Firebreak may use. Its
// message names the cause and, for an operator, the way out.
type InstanceError struct {
	// Problem is one of the Problem* constants.
	Problem string
	// Key is the marker's key, CounterKey the incident counter's.
	Key, CounterKey string
	// Want is the instance this Store was opened on (zero at start).
	Want Instance
	// Got is the marker found (zero when there is none).
	Got Instance
	// Seq is the highest incident number this Store knows was handed out,
	// Counter what Redis holds now (ProblemCounter).
	Seq, Counter int64
}

func (e *InstanceError) Error() string {
	var cause string
	switch e.Problem {
	case ProblemEmpty:
		cause = fmt.Sprintf("this Redis holds no Firebreak instance marker (%s) and no incident counter: "+
			"either it is a new installation or it lost Firebreak's data (wiped, replaced, FLUSHALL, "+
			"or restarted without persistence), and the two look the same", e.Key)
	case ProblemMissing:
		cause = fmt.Sprintf("the instance marker %s (instance %s, initialised %s) is gone: Redis lost Firebreak's data "+
			"(wiped, replaced, FLUSHALL, restarted without persistence, or evicted keys)",
			e.Key, e.Want.ID, e.Want.Created.Format(time.RFC3339))
	case ProblemChanged:
		cause = fmt.Sprintf("the instance marker %s changed from instance %s to %s (initialised %s by %s): "+
			"this is not the store Firebreak started on", e.Key, e.Want.ID, e.Got.ID, e.Got.Created.Format(time.RFC3339), e.Got.By)
	case ProblemCounter:
		if e.Seq <= e.Counter {
			cause = fmt.Sprintf("the instance marker %s is there but the incident counter %s is missing: "+
				"Redis lost part of Firebreak's data", e.Key, e.CounterKey)
		} else {
			cause = fmt.Sprintf("the incident counter went back from %d to %d: Redis lost data "+
				"(restored from an older snapshot, or partly lost)", e.Seq, e.Counter)
		}
	default:
		cause = "unknown problem " + e.Problem
	}
	if e.Seq > 0 {
		cause += fmt.Sprintf("; the last incident ID this process handed out or saw is %s", incidentID(e.Seq))
	}
	return cause
}

// Text is the message people see in chat when the store lost its data.
func (e *InstanceError) Text() workflow.Text {
	return workflow.Text{
		EN: "Firebreak's storage lost its data (Redis was wiped, replaced or restarted empty), so no incident " +
			"can be opened: its ID could repeat one already posted. Nothing was changed. An operator must run " +
			"`firebreak store init` and restart Firebreak.",
		ZH: "Firebreak 的存储丢失了数据(Redis 被清空、替换或无持久化重启),暂不能新建事件:编号可能与已发布的事件重复。" +
			"未做任何更改。请运维人员执行 `firebreak store init` 后重启 Firebreak。",
	}
}

// lost wraps e as the error people see: unavailable, nothing changed.
func (e *InstanceError) lost(op string) error {
	return &workflow.Error{Code: workflow.CodeUnavailable, Msg: e.Text(), Err: fmt.Errorf("%s: %w", op, e)}
}

// newInstance returns a fresh marker.
func newInstance(by string, now time.Time) (Instance, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return Instance{}, fmt.Errorf("new instance id: %w", err)
	}
	inst := Instance{ID: hex.EncodeToString(b), Created: now.UTC().Truncate(time.Second), By: by}
	raw, err := json.Marshal(inst)
	if err != nil {
		return Instance{}, fmt.Errorf("encode instance marker: %w", err)
	}
	inst.raw = string(raw)
	return inst, nil
}

func (s *Store) decodeInstance(raw string) (Instance, error) {
	var inst Instance
	if err := json.Unmarshal([]byte(raw), &inst); err != nil || inst.ID == "" {
		return Instance{}, fmt.Errorf("the instance marker %s is not valid (%q)", s.InstanceKey(), raw)
	}
	inst.raw = raw
	return inst, nil
}

// initScript writes the marker unless there is one with its counter, and
// raises the counter to at least ARGV[2]-1, never lowering it. KEYS:
// marker, counter. ARGV: marker value, first incident number. Returns {1,
// first number} when it wrote the marker, {0, the marker} when the store
// was whole.
var initScript = goredis.NewScript(`
local marker = redis.call('GET', KEYS[1])
if marker and redis.call('EXISTS', KEYS[2]) == 1 then return {0, marker} end
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
if floor > cur then cur = floor end
local first = tonumber(ARGV[2])
if first - 1 > cur then cur = first - 1 end
redis.call('SET', KEYS[2], cur)
redis.call('SET', KEYS[1], ARGV[1])
return {1, cur + 1}
`)

// ErrInitialised is returned by InitInstance when the store has a marker
// already: nothing was changed.
var ErrInitialised = errors.New("the store is initialised already")

// InitInstance accepts the store for Firebreak: it writes a new instance
// marker and raises the incident counter so that the next incident is
// YQ-<next> or later (never lower than the counter, nor than the last ID a
// running Firebreak knew handed out when it found the data lost: LostSeq;
// so an ID is never handed out twice). by says who does it (InitByOperator ...). It returns
// the instance and the number of the next incident. A store that has a
// marker and its counter is left alone: ErrInitialised, with that
// instance. (A marker without its counter is a partial loss, which it
// accepts like an empty store.)
func (s *Store) InitInstance(ctx context.Context, next int64, by string) (inst Instance, first int64, err error) {
	if next < 1 {
		return Instance{}, 0, fmt.Errorf("init store: the next incident number must be at least 1, not %d", next)
	}
	inst, err = newInstance(by, time.Now())
	if err != nil {
		return Instance{}, 0, err
	}
	res, err := initScript.Run(ctx, s.client, []string{s.InstanceKey(), s.seqKey(), s.LostSeqKey()}, inst.raw, next).Slice()
	if err != nil {
		return Instance{}, 0, failOn("init store", s.InstanceKey(), err)
	}
	if len(res) != 2 {
		return Instance{}, 0, fmt.Errorf("init store: unexpected reply %v", res)
	}
	if wrote, _ := res[0].(int64); wrote == 0 {
		raw, _ := res[1].(string)
		existing, err := s.decodeInstance(raw)
		if err != nil {
			return Instance{}, 0, err
		}
		return existing, 0, fmt.Errorf("%w: instance %s, initialised %s by %s (%s)", ErrInitialised,
			existing.ID, existing.Created.Format(time.RFC3339), existing.By, s.InstanceKey())
	}
	first, _ = res[1].(int64)
	inst.seq = first - 1
	inst.Fresh = true
	return inst, first, nil
}

// OpenInstance returns the store's instance, for Options.Instance. A store
// with incidents but no marker (from before markers) is adopted: a marker is
// written and IDs go on from the counter. A store with neither is refused
// with an *InstanceError of ProblemEmpty when initEmpty is "", else
// initialised with the first incident YQ-1 and initEmpty as Instance.By
// (InitEmbedded, InitTest). A marker without its counter is refused
// (ProblemCounter).
func (s *Store) OpenInstance(ctx context.Context, initEmpty string) (Instance, error) {
	for range 3 { // a replica initialising at the same moment: read again
		marker, counter, err := s.readMarker(ctx)
		if err != nil {
			return Instance{}, failOn("read the instance marker", s.InstanceKey(), err)
		}
		seq, hasSeq, err := parseCounter(counter)
		if err != nil {
			return Instance{}, err
		}
		raw, err := marker.Result()
		switch {
		case err == nil:
			inst, err := s.decodeInstance(raw)
			if err != nil {
				return Instance{}, err
			}
			if !hasSeq {
				return Instance{}, &InstanceError{Problem: ProblemCounter, Key: s.InstanceKey(), CounterKey: s.seqKey(), Want: inst, Got: inst}
			}
			inst.seq = seq
			return inst, nil
		case !errors.Is(err, goredis.Nil):
			return Instance{}, failOn("read the instance marker", s.InstanceKey(), err)
		}
		by := InitAdopted
		if !hasSeq {
			if initEmpty == "" {
				return Instance{}, &InstanceError{Problem: ProblemEmpty, Key: s.InstanceKey(), CounterKey: s.seqKey()}
			}
			by = initEmpty
		}
		inst, _, err := s.InitInstance(ctx, 1, by)
		if errors.Is(err, ErrInitialised) {
			continue
		}
		return inst, err
	}
	return Instance{}, fmt.Errorf("open store: the instance marker %s keeps changing", s.InstanceKey())
}

func parseCounter(c *goredis.StringCmd) (n int64, ok bool, err error) {
	raw, err := c.Result()
	if errors.Is(err, goredis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fail("read the incident counter", err)
	}
	n, err = strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("the incident counter is not a number (%q)", raw)
	}
	return n, true, nil
}

// Instance returns the instance the Store was opened on (Options.Instance),
// and false when it has none.
func (s *Store) Instance() (Instance, bool) {
	if s.instance == nil {
		return Instance{}, false
	}
	return *s.instance, true
}

// readMarker reads the instance marker and the incident counter in one
// round trip; either may be missing (goredis.Nil in its Result).
func (s *Store) readMarker(ctx context.Context) (marker, counter *goredis.StringCmd, err error) {
	_, err = s.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		marker = p.Get(ctx, s.InstanceKey())
		counter = p.Get(ctx, s.seqKey())
		return nil
	})
	if errors.Is(err, goredis.Nil) {
		err = nil
	}
	return marker, counter, err
}

// CheckInstance reports whether the store is still the instance it was
// opened on: nil, an *InstanceError naming what changed, or an error
// reaching Redis (CodeUnavailable). It reads the marker and the counter in
// one round trip; a Store without Options.Instance has nothing to check.
func (s *Store) CheckInstance(ctx context.Context) error {
	if s.instance == nil {
		return nil
	}
	// What this Store had handed out before the read: an ID handed out
	// while the read is on its way is above it, and would make a counter
	// read just before look as if it went back.
	seen := s.seen.Load()
	marker, counter, err := s.readMarker(ctx)
	if err != nil {
		return failOn("check the instance marker", s.InstanceKey(), err)
	}
	e := &InstanceError{Key: s.InstanceKey(), CounterKey: s.seqKey(), Want: *s.instance, Seq: seen}
	raw, err := marker.Result()
	switch {
	case errors.Is(err, goredis.Nil):
		e.Problem = ProblemMissing
		return e
	case err != nil:
		return failOn("check the instance marker", s.InstanceKey(), err)
	case raw != s.instance.raw:
		e.Problem = ProblemChanged
		e.Got, _ = s.decodeInstance(raw)
		return e
	}
	seq, hasSeq, err := parseCounter(counter)
	if err != nil {
		return err
	}
	if !hasSeq || seq < seen {
		e.Problem, e.Counter = ProblemCounter, seq
		return e
	}
	s.noteSeq(seq)
	return nil
}

// LostSeqKey is where a running Firebreak that finds the data lost leaves
// the last incident number it knew handed out, beside the marker: the one
// thing of the lost store that `store init` must know to hand out no ID
// twice. It is not the counter (a counter without a marker is adopted as a
// store from before markers).
func (s *Store) LostSeqKey() string { return s.meta + ":lostseq" }

// raiseLostSeq raises LostSeqKey to ARGV[1].
var raiseLostSeq = goredis.NewScript(`
local n = tonumber(ARGV[1])
if n > tonumber(redis.call('GET', KEYS[1]) or '0') then redis.call('SET', KEYS[1], n) end
return 1`)

// KeepLostSeq records, on a store found lost (CheckInstance's
// *InstanceError), the last incident number this Store handed out or saw,
// for InitInstance to continue above it. Nothing when it knew none.
func (s *Store) KeepLostSeq(ctx context.Context) error {
	seen := s.seen.Load()
	if seen < 1 {
		return nil
	}
	if err := raiseLostSeq.Run(ctx, s.client, []string{s.LostSeqKey()}, seen).Err(); err != nil {
		return failOn("keep the last incident number", s.LostSeqKey(), err)
	}
	return nil
}

// lostSeqAsk is the pub/sub channel on which `store init` asks running
// processes for the last incident number they know.
func (s *Store) lostSeqAsk() string { return s.meta + ":lostseq:ask" }

// AnswerLostSeqAsks makes this Store answer, until ctx ends, every
// AskLostSeq of `store init` with KeepLostSeq: a Redis wiped a moment
// before init was run is found lost by no check yet, and init would not
// know the last ID posted.
func (s *Store) AnswerLostSeqAsks(ctx context.Context, log func(error)) (stop func()) {
	return s.subscribe(ctx, s.lostSeqAsk(), func(string) {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := s.KeepLostSeq(actx); err != nil && log != nil {
			log(err)
		}
	}, func() {})
}

// AskLostSeq asks the running processes of this store for the last
// incident number they know (AnswerLostSeqAsks) and, when some listen,
// waits up to wait for their answers to be written.
func (s *Store) AskLostSeq(ctx context.Context, wait time.Duration) error {
	n, err := s.client.Publish(ctx, s.lostSeqAsk(), "1").Result()
	if err != nil {
		return failOn("ask running processes on", s.lostSeqAsk(), err)
	}
	// Each answers with one script call; a few round trips of theirs.
	for deadline := time.Now().Add(wait); n > 0 && time.Now().Before(deadline); {
		if seq, err := s.LostSeq(ctx); err == nil && seq > 0 {
			time.Sleep(wait / 10) // the others' answers, a moment behind the first
			return nil
		}
		time.Sleep(wait / 20)
	}
	return nil
}

// LostSeq is the number KeepLostSeq left (0: none).
func (s *Store) LostSeq(ctx context.Context) (int64, error) {
	n, err := s.client.Get(ctx, s.LostSeqKey()).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, failOn("read", s.LostSeqKey(), err)
	}
	return n, nil
}

// noteSeq remembers that incident number n was handed out.
func (s *Store) noteSeq(n int64) {
	for {
		cur := s.seen.Load()
		if n <= cur || s.seen.CompareAndSwap(cur, n) {
			return
		}
	}
}

// nextIDScript allocates an incident number and, when ARGV[3] is '1', a
// turn of a rotation; first, when ARGV[4] is not '0', it takes a request's
// guard (Once) for ARGV[4] milliseconds, with the guard's token ARGV[5]
// (the guard is this request's when it holds that token already: the
// script was sent again after a reply that timed out). On an instance (ARGV[1] not
// empty) it allocates only while the marker is ARGV[1] and the counter is
// at least ARGV[2]. KEYS: marker, counter, then the rotation's counter
// and the guard, each when asked for. Returns {0, n, turn}; {1, 0} when
// the marker is missing, {2, marker} when it is another, {3, counter}
// when the counter went back, {4, 0} when the guard was taken already.
var nextIDScript = goredis.NewScript(`
local i = 3
local rr, guard
if ARGV[3] == '1' then rr = KEYS[i]; i = i + 1 end
if ARGV[4] ~= '0' then guard = KEYS[i] end
if guard and not redis.call('SET', guard, ARGV[5], 'PX', ARGV[4], 'NX')
    and redis.call('GET', guard) ~= ARGV[5] then return {4, 0} end
if ARGV[1] ~= '' then
  local marker = redis.call('GET', KEYS[1])
  if not marker then return {1, 0} end
  if marker ~= ARGV[1] then return {2, marker} end
  local cur = redis.call('GET', KEYS[2])
  if not cur or tonumber(cur) < tonumber(ARGV[2]) then return {3, tonumber(cur or '0')} end
end
local n = redis.call('INCR', KEYS[2])
local turn = 0
if rr then turn = redis.call('INCR', rr) - 1 end
return {0, n, turn}
`)

// NextID allocates a new incident ID ("YQ-1", "YQ-2", ...) and, when
// rotation is not "", the next turn of that rotation (as RoundRobin), in
// one round trip, which also takes the guard of the request when ctx
// carries one (Once): a copy of a request that was not first allocates
// nothing. On a Store opened on an instance (Options.Instance) it refuses,
// CodeUnavailable with a message for people, when the marker is gone or
// another or the counter went back: the ID could repeat one already
// posted.
func (s *Store) NextID(ctx context.Context, rotation string) (string, int64, error) {
	keys := []string{s.InstanceKey(), s.seqKey()}
	args := []any{"", int64(0), "0", int64(0), ""}
	seen := s.seen.Load()
	if s.instance != nil {
		args[0], args[1] = s.instance.raw, seen
	}
	if rotation != "" {
		keys, args[2] = append(keys, s.rotationKey(rotation)), "1"
	}
	o := s.onceOf(ctx)
	if o != nil {
		o.mu.Lock()
		defer o.mu.Unlock()
		ctx = bare(ctx)
		if o.settled {
			if err := o.verdict(); err != nil {
				return "", 0, err
			}
			o = nil
		} else {
			keys, args[3], args[4] = append(keys, o.key), o.ttl.Milliseconds(), o.token
		}
	}
	res, err := nextIDScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		err = fail("allocate incident id", err)
		if o != nil {
			o.settled, o.err = true, err
		}
		return "", 0, err
	}
	if len(res) < 2 {
		return "", 0, fmt.Errorf("allocate incident id: unexpected reply %v", res)
	}
	status, _ := res[0].(int64)
	if o != nil {
		o.settle(status != 4, nil)
		if err := o.verdict(); err != nil {
			return "", 0, err
		}
	}
	if status == 0 {
		n, _ := res[1].(int64)
		var turn int64
		if len(res) > 2 {
			turn, _ = res[2].(int64)
		}
		s.noteSeq(n)
		return incidentID(n), turn, nil
	}
	e := &InstanceError{Key: s.InstanceKey(), CounterKey: s.seqKey(), Seq: seen}
	if s.instance != nil {
		e.Want = *s.instance
	}
	switch status {
	case 1:
		e.Problem = ProblemMissing
	case 2:
		e.Problem = ProblemChanged
		raw, _ := res[1].(string)
		e.Got, _ = s.decodeInstance(raw)
	default:
		e.Problem = ProblemCounter
		e.Counter, _ = res[1].(int64)
	}
	return "", 0, e.lost("allocate incident id")
}
