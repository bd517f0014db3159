#!lua
-- Atomically checks every window of a tenant and reserves a request in all of them.
-- KEYS: 1 limits, 2 record, 3 minute, 4 day, 5 month, 6 active (zset of open reservations)
-- ARGV: 1 requestId, 2 tokens, 3 staleAtMs, 4 minuteTtl, 5 dayTtl, 6 monthTtl, 7 nowMs
-- Returns {'ok'} | {'exists', state} | {'not_ready'} | {'refused', limitName, limit, used, reserved}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end
local state = redis.call('HGET', KEYS[2], 'state')
if state then return {'exists', state} end

local tokens = tonumber(ARGV[2])
local refusal = first_refusal(KEYS[1], KEYS[3], KEYS[4], KEYS[5], KEYS[6], tokens)
if refusal then return refusal end

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
