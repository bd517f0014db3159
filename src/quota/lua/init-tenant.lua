#!lua
-- Installs a tenant's quota state rebuilt from PostgreSQL (limits, ledger sums, open reservations).
-- Runs only if the tenant is not initialised: every other script answers 'not_ready' until then, so
-- nothing changes between the PostgreSQL snapshot and this install. A new random epoch marks the
-- install, so an audit snapshot taken before it can no longer correct anything (audit-fix.lua).
-- Every key is declared (the payload refers to keys by their index in KEYS) and carries the
-- tenant's {t:<id>} hash tag; the global tenants set is written by the caller, not here.
-- KEYS: 1 limits, 2 active, 3.. every bucket and open reservation record the payload names
-- ARGV: 1 JSON {epoch, limits:{name:value}, buckets:[{k, ttl, req_used, tok_used}],
--              open:[{k, id, tokens, at, staleAt, km, kd, kM}]}  (k, km, kd, kM: indexes into KEYS)
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p = cjson.decode(ARGV[1])
for _, b in ipairs(p.buckets) do
  local key = KEYS[b.k]
  redis.call('DEL', key)
  redis.call('HSET', key, 'req_used', b.req_used, 'tok_used', b.tok_used, 'req_res', 0, 'tok_res', 0)
  redis.call('EXPIRE', key, b.ttl)
end
redis.call('DEL', KEYS[2])
for _, r in ipairs(p.open) do
  local km, kd, kM = KEYS[r.km], KEYS[r.kd], KEYS[r.kM]
  redis.call('DEL', KEYS[r.k])
  redis.call('HSET', KEYS[r.k], 'state', 'reserved', 'tokens', r.tokens, 'at', r.at, 'km', km, 'kd', kd, 'kM', kM)
  redis.call('ZADD', KEYS[2], r.staleAt, r.id)
  redis.call('HINCRBY', km, 'req_res', 1)
  redis.call('HINCRBY', kd, 'req_res', 1)
  redis.call('HINCRBY', kd, 'tok_res', r.tokens)
  redis.call('HINCRBY', kM, 'tok_res', r.tokens)
end
for name, value in pairs(p.limits) do redis.call('HSET', KEYS[1], name, value) end
redis.call('HSET', KEYS[1], 'epoch', p.epoch)
return 1
