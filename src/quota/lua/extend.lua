#!lua
-- Extends an open reservation by one slice as its tokens stream (reservation in slices): the
-- reservation grows to `target` tokens (prompt + slice x slice size, at most prompt + max_tokens),
-- or by as much as the tenant's token limits leave free (a partial grant), never past a limit.
-- Idempotent per slice: each slice index has one target, and a target the record's `tokens` already
-- cover grants nothing, so a retried extension never counts twice (also after a rebuild from
-- PostgreSQL, which keeps `tokens` but not `slices`, the highest slice index granted, kept for
-- operators). Only the token limits
-- are looked at: the request is already counted in flight and in the request limits. What it adds
-- is in the record's `tokens`, which settle.lua and sweep.lua give back whole.
-- KEYS: 1 limits, 2 record, 3 minute, 4 day, 5 month, 6 active (unused: settle.lua's key list)
-- ARGV: 1 requestId, 2 slice index, 3 target tokens
-- Returns {'ok', reserved} | {'partial', reserved} | {'refused', limitName, limit, used, reserved, reservedByThis}
--   | {'settled', state} | {'missing'} | {'not_ready'}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end
local rec = redis.call('HMGET', KEYS[2], 'state', 'tokens')
local state = rec[1]
if not state then return {'missing'} end
if state ~= 'reserved' then return {'settled', state} end

local tokens = tonumber(rec[2]) or 0
local slice, target = tonumber(ARGV[2]), tonumber(ARGV[3])
if tokens >= target then return {'ok', tostring(tokens)} end

local room, name, limit, used, reserved = token_room(KEYS[1], KEYS[4], KEYS[5])
local grant = math.min(target - tokens, room)
if grant <= 0 then
  return {'refused', name, tostring(limit), tostring(used), tostring(reserved), tostring(tokens)}
end
-- As settle.lua: the buckets of the request's acceptance time, never recreated without a TTL.
local function incr(key, by)
  if redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, 'tok_res', by) end
end
incr(KEYS[4], grant)
incr(KEYS[5], grant)
tokens = tokens + grant
redis.call('HSET', KEYS[2], 'tokens', tokens)
if tokens >= target then
  if slice > (tonumber(redis.call('HGET', KEYS[2], 'slices')) or 1) then redis.call('HSET', KEYS[2], 'slices', slice) end
  return {'ok', tostring(tokens)}
end
return {'partial', tostring(tokens)}
