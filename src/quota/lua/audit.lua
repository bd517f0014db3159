-- Compares one tenant's Redis usage with the ledger and optionally corrects it, atomically.
-- Ledger rows whose reservation is still open in Redis (commit not applied yet) are not expected
-- in Redis usage, so an in-progress commit is never mistaken for drift.
-- KEYS: 1 limits
-- ARGV: 1 JSON {buckets:[{key, req, tok, check_req, check_tok, recent:[{record, tokens}]}], fix:{key:{req,tok}} | nil}
-- Returns JSON [{key, req_drift, tok_drift, fixed}]
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_ready' end
local p = cjson.decode(ARGV[1])
local out = {}
for _, b in ipairs(p.buckets) do
  local expReq, expTok = b.req, b.tok
  for _, r in ipairs(b.recent) do
    local st = redis.call('HGET', r.record, 'state')
    if st == 'reserved' or st == 'expired' then
      expReq = expReq - 1
      expTok = expTok - r.tokens
    end
  end
  local cur = redis.call('HMGET', b.key, 'req_used', 'tok_used')
  -- Minute buckets count requests only, month buckets tokens only.
  local dReq, dTok = 0, 0
  if b.check_req then dReq = expReq - (tonumber(cur[1]) or 0) end
  if b.check_tok then dTok = expTok - (tonumber(cur[2]) or 0) end
  local fixed = false
  local want = nil
  if type(p.fix) == 'table' then want = p.fix[b.key] end
  if want and want.req == dReq and want.tok == dTok and (dReq ~= 0 or dTok ~= 0) and redis.call('EXISTS', b.key) == 1 then
    redis.call('HINCRBY', b.key, 'req_used', dReq)
    redis.call('HINCRBY', b.key, 'tok_used', dTok)
    fixed = true
  end
  table.insert(out, {key = b.key, req_drift = dReq, tok_drift = dTok, fixed = fixed})
end
return cjson.encode(out)
