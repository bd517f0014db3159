#!lua flags=no-writes
-- Read-only: would one more request of ARGV[1] tokens fit every limit of the tenant right now?
-- Reserves nothing. Same limits, same order and same rule as reserve.lua (used + reserved + need >
-- limit is refused), so a refusal here is the refusal reserve.lua would give; 'ok' promises nothing
-- (reserve.lua decides atomically later). Every key is declared and carries the tenant's {t:<id>}
-- hash tag: one cluster slot.
-- KEYS: 1 limits, 2 minute, 3 day, 4 month, 5 active (zset of open reservations)
-- ARGV: 1 tokens
-- Returns {'ok'} | {'not_ready'} | {'refused', limitName, limit, used, reserved}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end

local tokens = tonumber(ARGV[1])
local lim = redis.call('HMGET', KEYS[1], 'max_in_flight', 'requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month')
local m = redis.call('HMGET', KEYS[2], 'req_used', 'req_res')
local d = redis.call('HMGET', KEYS[3], 'req_used', 'req_res', 'tok_used', 'tok_res')
local mo = redis.call('HMGET', KEYS[4], 'tok_used', 'tok_res')
local n = function(v) return tonumber(v) or 0 end

local checks = {
  {'max_in_flight', n(lim[1]), redis.call('ZCARD', KEYS[5]), 0, 1},
  {'requests_per_minute', n(lim[2]), n(m[1]), n(m[2]), 1},
  {'requests_per_day', n(lim[3]), n(d[1]), n(d[2]), 1},
  {'tokens_per_day', n(lim[4]), n(d[3]), n(d[4]), tokens},
  {'tokens_per_month', n(lim[5]), n(mo[1]), n(mo[2]), tokens},
}
for _, c in ipairs(checks) do
  if c[3] + c[4] + c[5] > c[2] then
    return {'refused', c[1], tostring(c[2]), tostring(c[3]), tostring(c[4])}
  end
end
return {'ok'}
