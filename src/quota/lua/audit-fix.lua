#!lua
-- Second half of an audit: applies a correction as a compare-and-set. It applies only if neither a
-- rebuild (epoch) nor another correction (fix_seq) happened since the snapshot the correction was
-- computed from, and bumps fix_seq, so two auditors (one per worker replica) can never both apply a
-- correction of the same drift. Commits after the snapshot add to the ledger and to the counters
-- alike, so they do not invalidate it.
-- KEYS: 1 limits, 2.. buckets to correct
-- ARGV: 1 epoch, 2 fixSeq, then for bucket KEYS[i] (i >= 2): ARGV[2i-1] requests delta, ARGV[2i] tokens delta
-- Returns 1 (applied) | 0 (superseded: rebuilt or corrected meanwhile, or not initialised)
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'fix_seq')
if (meta[1] or '') ~= ARGV[1] or (tonumber(meta[2]) or 0) ~= tonumber(ARGV[2]) then return 0 end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local dReq, dTok = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
    if dReq ~= 0 then redis.call('HINCRBY', KEYS[i], 'req_used', dReq) end
    if dTok ~= 0 then redis.call('HINCRBY', KEYS[i], 'tok_used', dTok) end
  end
end
redis.call('HINCRBY', KEYS[1], 'fix_seq', 1)
return 1
