#!lua
-- Atomically checks every window of a tenant and reserves a request in all of them.
-- KEYS: 1 limits, 2 record, 3 minute, 4 day, 5 month, 6 active (zset of open reservations)
-- ARGV: 1 requestId, 2 tokens, 3 staleAtMs, 4 minuteTtl, 5 dayTtl, 6 monthTtl, 7 nowMs
-- Returns {'ok'} | {'exists', state} | {'not_ready'} | {'refused', limitName, limit, used, reserved}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end
local state = redis.call('HGET', KEYS[2], 'state')
if state then return {'exists', state} end

local tokens = tonumber(ARGV[2])
local lim = redis.call('HMGET', KEYS[1], 'max_in_flight', 'requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month')
local m = redis.call('HMGET', KEYS[3], 'req_used', 'req_res')
local d = redis.call('HMGET', KEYS[4], 'req_used', 'req_res', 'tok_used', 'tok_res')
local mo = redis.call('HMGET', KEYS[5], 'tok_used', 'tok_res')
local n = function(v) return tonumber(v) or 0 end

local inflight = redis.call('ZCARD', KEYS[6])
local checks = {
  {'max_in_flight', n(lim[1]), inflight, 0, 1},
  {'requests_per_minute', n(lim[2]), n(m[1]), n(m[2]), 1},
  {'requests_per_day', n(lim[3]), n(d[1]), n(d[2]), 1},
  {'tokens_per_day', n(lim[4]), n(d[3]), n(d[4]), tokens},
  {'tokens_per_month', n(lim[5]), n(mo[1]), n(mo[2]), tokens},
}
for _, c in ipairs(checks) do
  if c[3] + c[4] + c[5] > c[2] then
    return {'refused', c[1], tostring(c[2]), tostring(c[3]), tostring(c[4])}
  end
end

redis.call('HINCRBY', KEYS[3], 'req_res', 1)
redis.call('HINCRBY', KEYS[4], 'req_res', 1)
redis.call('HINCRBY', KEYS[4], 'tok_res', tokens)
redis.call('HINCRBY', KEYS[5], 'tok_res', tokens)
redis.call('EXPIRE', KEYS[3], ARGV[4], 'NX')
redis.call('EXPIRE', KEYS[4], ARGV[5], 'NX')
redis.call('EXPIRE', KEYS[5], ARGV[6], 'NX')
redis.call('HSET', KEYS[2], 'state', 'reserved', 'tokens', tokens, 'at', ARGV[7], 'km', KEYS[3], 'kd', KEYS[4], 'kM', KEYS[5])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
return {'ok'}
