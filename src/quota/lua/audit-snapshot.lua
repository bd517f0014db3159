#!lua flags=no-writes
-- First half of an audit: one tenant's usage counters, read atomically together with the commit
-- sequence they include, the rebuild epoch and the correction sequence (see audit-fix.lua).
-- KEYS: 1 limits, 2 minute, 3 day, 4 month
-- Returns {'not_ready'} | {'ok', epoch, commitSeq, fixSeq, req_used, tok_used (minute), (day), (month)}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'commit_seq', 'fix_seq')
local out = {'ok', meta[1] or '', meta[2] or '0', meta[3] or '0'}
for i = 2, 4 do
  local c = redis.call('HMGET', KEYS[i], 'req_used', 'tok_used')
  table.insert(out, c[1] or '0')
  table.insert(out, c[2] or '0')
end
return out
