-- Reclaims reservations whose owner vanished: open reservations older than their stale time.
-- KEYS: 1 active
-- ARGV: 1 nowMs, 2 recordKeyPrefix, 3 retentionS, 4 batch
-- Returns a flat list {requestId, tokens, ...} of reclaimed reservations.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
local function incr(key, field, by)
  if key and by ~= 0 and redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, field, by) end
end
for _, id in ipairs(ids) do
  local rk = ARGV[2] .. id
  local rec = redis.call('HMGET', rk, 'state', 'tokens', 'km', 'kd', 'kM')
  if rec[1] == 'reserved' then
    local tokens = tonumber(rec[2]) or 0
    incr(rec[3], 'req_res', -1)
    incr(rec[4], 'req_res', -1)
    incr(rec[4], 'tok_res', -tokens)
    incr(rec[5], 'tok_res', -tokens)
    redis.call('HSET', rk, 'state', 'expired')
    redis.call('EXPIRE', rk, ARGV[3])
    table.insert(out, id)
    table.insert(out, tostring(tokens))
  end
  redis.call('ZREM', KEYS[1], id)
end
return out
