package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/realtime-go/realtime/adapter"
)

// Presence keys (see the names in codec.go):
//
//	{p}:u:<user>  hash: node -> record, the user's record on each node
//	{p}:n:<node>  set: the users the node has records of
//	{p}:nodes     sorted set: node -> deadline, unix ms by the Redis clock
//
// A node is live until its deadline; one that has records but never
// heartbeat gets a deadline gc away. The hashes and sets expire after gc
// without renewal (garbage collection of what no node claims, such as the
// keys of a whole cluster that stopped): SetPresence renews a hash, and
// Heartbeat the set and hashes of its node once half of gc has passed. A
// hash never expires before the set that names it, nor the sorted set before
// the records of its nodes, so no record outlives its node's deadline.

const (
	// gcFactor times the heartbeat ttl, and at least minGC, is how long
	// presence keys live without renewal.
	gcFactor = 10
	minGC    = time.Minute
	// defaultGC applies until the adapter's first Heartbeat tells the ttl.
	defaultGC = time.Hour
)

// luaNow is the Redis server's time in unix ms, so that deadlines do not
// depend on the clocks of the nodes.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

const luaHex = `
local function hex(s)
  return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
`

// setPresenceLua: KEYS user hash, node set, nodes; ARGV node, user, record,
// gc ms.
const setPresenceLua = luaNow + `
local gc = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if redis.call('PTTL', KEYS[1]) < gc then redis.call('PEXPIRE', KEYS[1], gc) end
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], gc) end
redis.call('ZADD', KEYS[3], 'NX', now + gc, ARGV[1])
if redis.call('PTTL', KEYS[3]) < 2 * gc then redis.call('PEXPIRE', KEYS[3], 2 * gc) end
return 1
`

// presenceLua: KEYS nodes, then the hash of each user asked; returns
// (index of the user from 1, node, record) for each live record.
const presenceLua = luaNow + `
local out = {}
for i = 2, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  for j = 1, #h, 2 do
    local deadline = redis.call('ZSCORE', KEYS[1], h[j])
    if not deadline or tonumber(deadline) >= now then
      out[#out + 1] = i - 1
      out[#out + 1] = h[j]
      out[#out + 1] = h[j + 1]
    end
  end
end
return out
`

// heartbeatLua: KEYS nodes; ARGV node, ttl ms, gc ms, presence key prefix.
// It moves the node's deadline, renews its keys, and claims every node whose
// deadline passed: being one script, a claim happens once. Returns (node,
// user, record) for each record of the claimed nodes, which it deletes.
const heartbeatLua = luaNow + luaHex + `
local ttl, gc, pre = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < 2 * gc then redis.call('PEXPIRE', KEYS[1], 2 * gc) end
local idx = pre .. 'n:' .. hex(ARGV[1])
local left = redis.call('PTTL', idx)
if left >= 0 and left < gc / 2 then
  for _, u in ipairs(redis.call('SMEMBERS', idx)) do
    local h = pre .. 'u:' .. hex(u)
    if redis.call('PTTL', h) < gc then redis.call('PEXPIRE', h, gc) end
  end
  redis.call('PEXPIRE', idx, gc)
end
local out = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)) do
  redis.call('ZREM', KEYS[1], n)
  local nidx = pre .. 'n:' .. hex(n)
  for _, u in ipairs(redis.call('SMEMBERS', nidx)) do
    local h = pre .. 'u:' .. hex(u)
    local v = redis.call('HGET', h, n)
    if v then
      redis.call('HDEL', h, n)
      out[#out + 1] = n
      out[#out + 1] = u
      out[#out + 1] = v
    end
  end
  redis.call('DEL', nidx)
end
return out
`

// record is the stored form of a PresenceRecord; the key and field give
// the user and the node.
type record struct {
	Status string `json:"s"`
	Custom string `json:"c,omitempty"`
	At     int64  `json:"t,omitempty"` // StatusAt in unix ns; 0 when zero
}

func encodeRecord(r adapter.PresenceRecord) (string, error) {
	rec := record{Status: r.Status, Custom: r.CustomStatus}
	if !r.StatusAt.IsZero() {
		rec.At = r.StatusAt.UnixNano()
	}
	b, err := json.Marshal(rec)
	return string(b), err
}

func decodeRecord(node, user, v string) (adapter.PresenceRecord, error) {
	var rec record
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return adapter.PresenceRecord{}, fmt.Errorf("redisadapter: presence record of %q on %q: %w", user, node, err)
	}
	r := adapter.PresenceRecord{Node: node, UserID: user, Status: rec.Status, CustomStatus: rec.Custom}
	if rec.At != 0 {
		r.StatusAt = time.Unix(0, rec.At)
	}
	return r, nil
}

// SetPresence stores r as what r.Node knows of r.UserID, in one round trip.
func (a *Adapter) SetPresence(ctx context.Context, r adapter.PresenceRecord) error {
	v, err := encodeRecord(r)
	if err != nil {
		return err
	}
	keys := []string{a.userKey(r.UserID), a.nodeKey(r.Node), a.nodesKey()}
	gc := time.Duration(a.gc.Load())
	if err := a.setScript.Run(ctx, a.rdb, keys, r.Node, r.UserID, v, gc.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("redisadapter: set presence: %w", err)
	}
	return nil
}

// DeletePresence removes node's record of userID, in one round trip.
func (a *Adapter) DeletePresence(ctx context.Context, node, userID string) error {
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, a.userKey(userID), node)
		p.SRem(ctx, a.nodeKey(node), userID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisadapter: delete presence: %w", err)
	}
	return nil
}

// Presence returns the records of the users from every live node, in one
// round trip.
func (a *Adapter) Presence(ctx context.Context, userIDs []string) ([]adapter.PresenceRecord, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 1+len(userIDs))
	keys = append(keys, a.nodesKey())
	for _, id := range userIDs {
		keys = append(keys, a.userKey(id))
	}
	res, err := a.presenceScript.Run(ctx, a.rdb, keys).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisadapter: presence: %w", err)
	}
	var out []adapter.PresenceRecord
	for t := range triples(res) {
		i, ok := t[0].(int64)
		node, ok2 := t[1].(string)
		v, ok3 := t[2].(string)
		if !ok || !ok2 || !ok3 || i < 1 || int(i) > len(userIDs) {
			return nil, errors.New("redisadapter: presence: unexpected reply")
		}
		r, err := decodeRecord(node, userIDs[i-1], v)
		if err != nil {
			a.log.Warn("redisadapter: presence record skipped", "err", err)
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// Heartbeat keeps node's records alive for ttl more, by the Redis server's
// clock, and removes and returns the records of every node whose deadline
// has passed. It is one Lua script, so each expired record is returned to
// one caller only.
func (a *Adapter) Heartbeat(ctx context.Context, node string, ttl time.Duration) ([]adapter.PresenceRecord, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("redisadapter: heartbeat ttl %v is not positive", ttl)
	}
	gc := max(gcFactor*ttl, minGC)
	a.gc.Store(int64(gc))
	res, err := a.heartbeatScript.Run(ctx, a.rdb, []string{a.nodesKey()},
		node, max(ttl.Milliseconds(), 1), gc.Milliseconds(), a.presencePrefix()).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisadapter: heartbeat: %w", err)
	}
	var expired []adapter.PresenceRecord
	for t := range triples(res) {
		n, ok := t[0].(string)
		user, ok2 := t[1].(string)
		v, ok3 := t[2].(string)
		if !ok || !ok2 || !ok3 {
			// Redis deleted what it returned: keep the rest.
			a.log.Warn("redisadapter: heartbeat: unexpected reply skipped", "reply", t)
			continue
		}
		r, err := decodeRecord(n, user, v)
		if err != nil {
			// Still expired: announce the departure with what is known.
			a.log.Warn("redisadapter: expired presence record undecodable", "err", err)
			r = adapter.PresenceRecord{Node: n, UserID: user, Status: "online"}
		}
		expired = append(expired, r)
	}
	return expired, nil
}

// triples yields res three by three.
func triples(res []any) func(func([3]any) bool) {
	return func(yield func([3]any) bool) {
		for i := 0; i+2 < len(res); i += 3 {
			if !yield([3]any{res[i], res[i+1], res[i+2]}) {
				return
			}
		}
	}
}
