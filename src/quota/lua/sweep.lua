#!lua
-- Reclaims one tenant's abandoned reservations: open ones whose stale time has passed.
-- Exactly once by record state: only a 'reserved' record is reclaimed, and it turns 'expired' in the
-- same atomic step, so any number of sweepers (one per worker replica) racing on a tenant reclaim
-- each reservation once. The caller names every key (read from the records beforehand); a record
-- whose stored bucket keys differ from the declared ones is left for the next pass, so no key is
-- ever derived from record contents here. Every key carries the tenant's {t:<id>} hash tag.
-- KEYS: 1 limits, 2 active, then for candidate i = 0..n-1: 3+4i record, 4+4i minute, 5+4i day, 6+4i month
-- ARGV: 1 nowMs, 2 retentionS, then 3+i requestId of candidate i
-- Returns a flat list {requestId, tokens, ...} of the reservations this call reclaimed.
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local now = tonumber(ARGV[1])
local out = {}
local function incr(key, field, by)
  if by ~= 0 and redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, field, by) end
end
for i = 3, #ARGV do
  local id = ARGV[i]
  local k = 3 + (i - 3) * 4
  local score = redis.call('ZSCORE', KEYS[2], id)
  if score and tonumber(score) <= now then
    local rec = redis.call('HMGET', KEYS[k], 'state', 'tokens', 'km', 'kd', 'kM')
    if rec[1] ~= 'reserved' then
      -- Settled (or gone) meanwhile: only the index entry is left over.
      redis.call('ZREM', KEYS[2], id)
    elseif rec[3] == KEYS[k + 1] and rec[4] == KEYS[k + 2] and rec[5] == KEYS[k + 3] then
      local tokens = tonumber(rec[2]) or 0
      incr(KEYS[k + 1], 'req_res', -1)
      incr(KEYS[k + 2], 'req_res', -1)
      incr(KEYS[k + 2], 'tok_res', -tokens)
      incr(KEYS[k + 3], 'tok_res', -tokens)
      redis.call('HSET', KEYS[k], 'state', 'expired')
      redis.call('EXPIRE', KEYS[k], ARGV[2])
      redis.call('ZREM', KEYS[2], id)
      table.insert(out, id)
      table.insert(out, tostring(tokens))
    end
  end
end
return out
