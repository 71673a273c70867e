// Package redisstore keeps routing state in Redis so that several careline nodes share
// agents and queues: a routing.Store whose claims and state changes are atomic Lua
// scripts (one agent, one call, whichever node asks), and a store for SIP registrar
// bindings.
//
// Keys (P is the prefix, e.g. "careline:"):
//
//	P agents         set of agent ids
//	P agent:<id>     hash: id state reason call queue node since idle until ver
//	                 (times as Unix nanoseconds, 0 = none)
//	P q:<queue>      hash: entry id → JSON routing.Entry
//	P changes        pub/sub channel: a message after every change
//	P b:<aor>        sorted set: binding key → expiry (Unix ms)
//	P bv:<aor>       hash: binding key → JSON {v: value, u: put time}
package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careline/careline/routing"
	"github.com/redis/go-redis/v9"
)

// NewClient connects to url ("redis://host:port/db") with the short timeouts the call
// path needs: a Redis that does not answer within 200 ms fails the operation instead of
// stalling routing.
func NewClient(url string) (*redis.Client, error) {
	opts, err := ClientOptions(url)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

// ClientOptions returns NewClient's options, for callers that adjust them.
func ClientOptions(url string) (*redis.Options, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisstore: parse url: %w", err)
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 200 * time.Millisecond
	opts.WriteTimeout = 200 * time.Millisecond
	opts.PoolTimeout = 500 * time.Millisecond
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = 1
	return opts, nil
}

// Store is a routing.Store in Redis.
type Store struct {
	c      redis.UniversalClient
	prefix string
}

var _ routing.Store = (*Store)(nil)

// New returns a store using keys under prefix.
func New(c redis.UniversalClient, prefix string) *Store { return &Store{c: c, prefix: prefix} }

func (s *Store) agentsKey() string         { return s.prefix + "agents" }
func (s *Store) agentKey(id string) string { return s.prefix + "agent:" + id }
func (s *Store) queueKey(q string) string  { return s.prefix + "q:" + q }
func (s *Store) channel() string           { return s.prefix + "changes" }

var initScript = redis.NewScript(`
local n = 0
for i = 2, #KEYS do
  local id = ARGV[i + 1]
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HSET', KEYS[i], 'id', id, 'state', 'logged_out', 'since', ARGV[2], 'ver', 1)
    n = n + 1
  end
  redis.call('SADD', KEYS[1], id)
end
redis.call('PUBLISH', ARGV[1], 'init')
return n`)

// swapScript: KEYS[1] agent; ARGV channel, expected version, field/value pairs.
var swapScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, {}} end
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver'))
if ver ~= tonumber(ARGV[2]) then return {0, redis.call('HGETALL', KEYS[1])} end
local fv = {}
for i = 3, #ARGV do fv[#fv + 1] = ARGV[i] end
fv[#fv + 1] = 'ver'
fv[#fv + 1] = tostring(ver + 1)
redis.call('HSET', KEYS[1], unpack(fv))
redis.call('PUBLISH', ARGV[1], 'agent')
return {1, redis.call('HGETALL', KEYS[1])}`)

// claimScript: KEYS[1] agent; ARGV channel, call, queue, node, since, until. Ready with
// no call → offered, atomically.
var claimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, {}} end
local st = redis.call('HGET', KEYS[1], 'state')
local call = redis.call('HGET', KEYS[1], 'call')
if st ~= 'ready' or (call and call ~= '') then return {0, redis.call('HGETALL', KEYS[1])} end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('HSET', KEYS[1], 'state', 'offered', 'reason', '', 'call', ARGV[2], 'queue', ARGV[3], 'node', ARGV[4],
  'since', ARGV[5], 'until', ARGV[6])
redis.call('PUBLISH', ARGV[1], 'claim')
return {1, redis.call('HGETALL', KEYS[1])}`)

// delIfSame: KEYS[1] hash; ARGV field, value. Deletes an expired entry unless it was
// refreshed meanwhile.
var delIfSameScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`)

func nanos(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func fromNanos(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func decodeAgent(m map[string]string) routing.AgentRecord {
	ver, _ := strconv.ParseInt(m["ver"], 10, 64)
	return routing.AgentRecord{ID: m["id"], State: routing.State(m["state"]), Reason: m["reason"], Call: m["call"],
		Queue: m["queue"], Node: m["node"], Since: fromNanos(m["since"]), IdleSince: fromNanos(m["idle"]),
		Until: fromNanos(m["until"]), Version: ver}
}

// pairs turns a script's HGETALL reply into a map.
func pairs(v any) map[string]string {
	arr, _ := v.([]any)
	m := make(map[string]string, len(arr)/2)
	for i := 0; i+1 < len(arr); i += 2 {
		k, _ := arr[i].(string)
		val, _ := arr[i+1].(string)
		m[k] = val
	}
	return m
}

// scriptReply splits a {status, HGETALL} reply.
func scriptReply(v any) (int64, routing.AgentRecord, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 2 {
		return 0, routing.AgentRecord{}, fmt.Errorf("redisstore: unexpected script reply %T", v)
	}
	code, _ := arr[0].(int64)
	return code, decodeAgent(pairs(arr[1])), nil
}

// InitAgents implements routing.Store.
func (s *Store) InitAgents(ctx context.Context, ids []string, now time.Time) error {
	keys := []string{s.agentsKey()}
	args := []any{s.channel(), nanos(now)}
	for _, id := range ids {
		keys = append(keys, s.agentKey(id))
		args = append(args, id)
	}
	if err := initScript.Run(ctx, s.c, keys, args...).Err(); err != nil {
		return fmt.Errorf("redisstore: init agents: %w", err)
	}
	return nil
}

// Agent implements routing.Store.
func (s *Store) Agent(ctx context.Context, id string) (routing.AgentRecord, error) {
	m, err := s.c.HGetAll(ctx, s.agentKey(id)).Result()
	if err != nil {
		return routing.AgentRecord{}, fmt.Errorf("redisstore: agent %s: %w", id, err)
	}
	if len(m) == 0 {
		return routing.AgentRecord{}, fmt.Errorf("%w: %s", routing.ErrUnknownAgent, id)
	}
	return decodeAgent(m), nil
}

// Agents implements routing.Store.
func (s *Store) Agents(ctx context.Context) ([]routing.AgentRecord, error) {
	ids, err := s.c.SMembers(ctx, s.agentsKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: agents: %w", err)
	}
	slices.Sort(ids)
	pipe := s.c.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, s.agentKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("redisstore: agents: %w", err)
		}
	}
	out := make([]routing.AgentRecord, 0, len(ids))
	for _, c := range cmds {
		if m := c.Val(); len(m) > 0 {
			out = append(out, decodeAgent(m))
		}
	}
	return out, nil
}

// Swap implements routing.Store.
func (s *Store) Swap(ctx context.Context, next routing.AgentRecord) (routing.AgentRecord, error) {
	v, err := swapScript.Run(ctx, s.c, []string{s.agentKey(next.ID)}, s.channel(), next.Version,
		"state", string(next.State), "reason", next.Reason, "call", next.Call, "queue", next.Queue, "node", next.Node,
		"since", nanos(next.Since), "idle", nanos(next.IdleSince), "until", nanos(next.Until)).Result()
	if err != nil {
		return routing.AgentRecord{}, fmt.Errorf("redisstore: swap agent %s: %w", next.ID, err)
	}
	code, rec, err := scriptReply(v)
	switch {
	case err != nil:
		return routing.AgentRecord{}, err
	case code < 0:
		return routing.AgentRecord{}, fmt.Errorf("%w: %s", routing.ErrUnknownAgent, next.ID)
	case code == 0:
		return rec, fmt.Errorf("%w: agent %s at version %d, not %d", routing.ErrConflict, next.ID, rec.Version, next.Version)
	}
	return rec, nil
}

// Claim implements routing.Store.
func (s *Store) Claim(ctx context.Context, id string, c routing.Claim) (routing.AgentRecord, error) {
	v, err := claimScript.Run(ctx, s.c, []string{s.agentKey(id)}, s.channel(), c.Call, c.Queue, c.Node,
		nanos(c.Now), nanos(c.Until)).Result()
	if err != nil {
		return routing.AgentRecord{}, fmt.Errorf("redisstore: claim agent %s: %w", id, err)
	}
	code, rec, err := scriptReply(v)
	switch {
	case err != nil:
		return routing.AgentRecord{}, err
	case code < 0:
		return routing.AgentRecord{}, fmt.Errorf("%w: %s", routing.ErrUnknownAgent, id)
	case code == 0:
		return rec, fmt.Errorf("%w: agent %s is %s", routing.ErrNotAvailable, id, rec.State)
	}
	return rec, nil
}

// PutEntry implements routing.Store.
func (s *Store) PutEntry(ctx context.Context, e routing.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("redisstore: entry: %w", err)
	}
	pipe := s.c.TxPipeline()
	pipe.HSet(ctx, s.queueKey(e.Queue), e.ID, b)
	pipe.Publish(ctx, s.channel(), "entry")
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisstore: put entry: %w", err)
	}
	return nil
}

// RemoveEntry implements routing.Store.
func (s *Store) RemoveEntry(ctx context.Context, queue, id string) error {
	n, err := s.c.HDel(ctx, s.queueKey(queue), id).Result()
	if err != nil {
		return fmt.Errorf("redisstore: remove entry: %w", err)
	}
	if n > 0 {
		if err := s.c.Publish(ctx, s.channel(), "entry").Err(); err != nil {
			return fmt.Errorf("redisstore: remove entry: %w", err)
		}
	}
	return nil
}

// Entries implements routing.Store.
func (s *Store) Entries(ctx context.Context, queue string, now time.Time) ([]routing.Entry, error) {
	key := s.queueKey(queue)
	m, err := s.c.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: entries: %w", err)
	}
	out := make([]routing.Entry, 0, len(m))
	for id, raw := range m {
		var e routing.Entry
		if err := json.Unmarshal([]byte(raw), &e); err != nil || !now.Before(e.Expires) {
			if err := delIfSameScript.Run(ctx, s.c, []string{key}, id, raw).Err(); err != nil {
				return nil, fmt.Errorf("redisstore: drop expired entry: %w", err)
			}
			continue
		}
		out = append(out, e)
	}
	routing.SortEntries(out)
	return out, nil
}

// Subscribe implements routing.Store. If the subscription cannot be made at once, it
// keeps trying in the background (the Router also polls).
func (s *Store) Subscribe(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	ps := s.c.Subscribe(ctx, s.channel())
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	_, _ = ps.Receive(rctx) // wait for the subscription to be confirmed
	cancel()
	go func() {
		defer ps.Close()
		msgs := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-msgs:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out
}

// Bindings keeps SIP registrar bindings with a per-binding expiry. It has the shape of
// sip.BindingStore with the binding as opaque bytes (its JSON), so the glue adapts it
// in a few lines and routing stays free of sip. It also answers routing.Presence.
type Bindings struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewBindings returns a binding store under prefix; now may be nil (time.Now).
func NewBindings(c redis.UniversalClient, prefix string, now func() time.Time) *Bindings {
	if now == nil {
		now = time.Now
	}
	return &Bindings{c: c, prefix: prefix, now: now}
}

func (b *Bindings) keys(aor string) []string {
	aor = strings.ToLower(aor)
	return []string{b.prefix + "b:" + aor, b.prefix + "bv:" + aor}
}

// putBinding: KEYS zset, hash; ARGV key, expiry ms, value. Both keys expire with the
// last binding.
var putBindingScript = redis.NewScript(`
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
redis.call('PEXPIREAT', KEYS[2], last[2])
return 1`)

// listBindings: KEYS zset, hash; ARGV now ms. Drops expired bindings, returns the rest.
var listBindingsScript = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, k in ipairs(dead) do redis.call('HDEL', KEYS[2], k) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('HGETALL', KEYS[2])`)

type storedBinding struct {
	V json.RawMessage `json:"v"`
	U int64           `json:"u"` // put time, Unix ns
}

// Put stores (or replaces) binding key of aor until expires; value must be JSON.
func (b *Bindings) Put(ctx context.Context, aor, key string, value []byte, expires time.Time) error {
	if !json.Valid(value) {
		return errors.New("redisstore: binding value must be JSON")
	}
	raw, err := json.Marshal(storedBinding{V: value, U: b.now().UnixNano()})
	if err != nil {
		return fmt.Errorf("redisstore: binding: %w", err)
	}
	if err := putBindingScript.Run(ctx, b.c, b.keys(aor), key, expires.UnixMilli(), raw).Err(); err != nil {
		return fmt.Errorf("redisstore: put binding: %w", err)
	}
	return nil
}

// Remove deletes one binding.
func (b *Bindings) Remove(ctx context.Context, aor, key string) error {
	k := b.keys(aor)
	pipe := b.c.TxPipeline()
	pipe.ZRem(ctx, k[0], key)
	pipe.HDel(ctx, k[1], key)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisstore: remove binding: %w", err)
	}
	return nil
}

// RemoveAll deletes every binding of aor.
func (b *Bindings) RemoveAll(ctx context.Context, aor string) error {
	if err := b.c.Del(ctx, b.keys(aor)...).Err(); err != nil {
		return fmt.Errorf("redisstore: remove bindings: %w", err)
	}
	return nil
}

// List returns the unexpired bindings of aor, most recently put first.
func (b *Bindings) List(ctx context.Context, aor string) ([][]byte, error) {
	v, err := listBindingsScript.Run(ctx, b.c, b.keys(aor), b.now().UnixMilli()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list bindings: %w", err)
	}
	var got []storedBinding
	for _, raw := range pairs(v) {
		var sb storedBinding
		if json.Unmarshal([]byte(raw), &sb) == nil {
			got = append(got, sb)
		}
	}
	slices.SortFunc(got, func(x, y storedBinding) int { return cmp.Compare(y.U, x.U) })
	out := make([][]byte, len(got))
	for i, sb := range got {
		out[i] = sb.V
	}
	return out, nil
}

// Registered implements routing.Presence: aor has an unexpired binding. A Redis error
// counts as not registered.
func (b *Bindings) Registered(ctx context.Context, aor string) bool {
	bs, err := b.List(ctx, aor)
	return err == nil && len(bs) > 0
}
