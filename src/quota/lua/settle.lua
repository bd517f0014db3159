#!lua
-- Commits (actual usage) or releases a reservation. Idempotent: only a 'reserved' or 'expired'
-- record changes; commit after release and release after commit are no-ops.
-- A commit takes the next number of the tenant's commit sequence and stores it (with the rebuild
-- epoch) in the record, so an audit can tell which commits its counter snapshot includes.
-- KEYS: 1 limits, 2 record, 3 minute, 4 day, 5 month, 6 active
-- ARGV: 1 requestId, 2 action ('commit'|'release'), 3 actualTokens, 4 retentionS
-- Returns {'ok', previousState} | {'noop', state} | {'missing'} | {'not_ready'}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end
local rec = redis.call('HMGET', KEYS[2], 'state', 'tokens')
local state = rec[1]
if not state then return {'missing'} end
if state ~= 'reserved' and state ~= 'expired' then return {'noop', state} end

local tokens = tonumber(rec[2]) or 0
-- A bucket that already expired is past caring about; never recreate it without a TTL.
local function incr(key, field, by)
  if by ~= 0 and redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, field, by) end
end

if state == 'reserved' then
  incr(KEYS[3], 'req_res', -1)
  incr(KEYS[4], 'req_res', -1)
  incr(KEYS[4], 'tok_res', -tokens)
  incr(KEYS[5], 'tok_res', -tokens)
  redis.call('ZREM', KEYS[6], ARGV[1])
end

if ARGV[2] == 'commit' then
  local actual = tonumber(ARGV[3])
  incr(KEYS[3], 'req_used', 1)
  incr(KEYS[4], 'req_used', 1)
  incr(KEYS[4], 'tok_used', actual)
  incr(KEYS[5], 'tok_used', actual)
  local seq = redis.call('HINCRBY', KEYS[1], 'commit_seq', 1)
  local epoch = redis.call('HGET', KEYS[1], 'epoch') or ''
  redis.call('HSET', KEYS[2], 'state', 'committed', 'actual', actual, 'cseq', seq, 'cep', epoch)
else
  redis.call('HSET', KEYS[2], 'state', 'released')
end
-- What only an open reservation needs (its estimate, its time, its bucket keys) goes: a settled
-- record is kept for QUOTA_RECORD_RETENTION_S, about half the memory without them (360 -> 200 bytes).
redis.call('HDEL', KEYS[2], 'tokens', 'slices', 'at', 'km', 'kd', 'kM')
redis.call('EXPIRE', KEYS[2], ARGV[4])
return {'ok', state}
