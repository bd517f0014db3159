-- Installs a tenant's quota state rebuilt from PostgreSQL (limits, ledger sums, open reservations).
-- Runs only if the tenant is not initialised: every other script answers 'not_ready' until then, so
-- nothing changes between the PostgreSQL snapshot and this install.
-- KEYS: 1 limits, 2 active, 3 tenants set
-- ARGV: 1 JSON {tenant, limits:{name:value}, buckets:[{key, ttl, req_used, tok_used}],
--              open:[{key, id, tokens, at, staleAt, km, kd, kM}], retention}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local p = cjson.decode(ARGV[1])
for _, b in ipairs(p.buckets) do
  redis.call('DEL', b.key)
  redis.call('HSET', b.key, 'req_used', b.req_used, 'tok_used', b.tok_used, 'req_res', 0, 'tok_res', 0)
  redis.call('EXPIRE', b.key, b.ttl)
end
redis.call('DEL', KEYS[2])
for _, r in ipairs(p.open) do
  redis.call('DEL', r.key)
  redis.call('HSET', r.key, 'state', 'reserved', 'tokens', r.tokens, 'at', r.at, 'km', r.km, 'kd', r.kd, 'kM', r.kM)
  redis.call('ZADD', KEYS[2], r.staleAt, r.id)
  redis.call('HINCRBY', r.km, 'req_res', 1)
  redis.call('HINCRBY', r.kd, 'req_res', 1)
  redis.call('HINCRBY', r.kd, 'tok_res', r.tokens)
  redis.call('HINCRBY', r.kM, 'tok_res', r.tokens)
end
for name, value in pairs(p.limits) do redis.call('HSET', KEYS[1], name, value) end
redis.call('SADD', KEYS[3], p.tenant)
return 1
