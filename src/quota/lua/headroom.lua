#!lua flags=no-writes
-- Read-only: would one more request of ARGV[1] tokens fit every limit of the tenant right now?
-- Reserves nothing. The same check as reserve.lua (lib/limit-check.lua), so a refusal here is the
-- refusal reserve.lua would give; 'ok' promises nothing
-- (reserve.lua decides atomically later). Every key is declared and carries the tenant's {t:<id>}
-- hash tag: one cluster slot.
-- KEYS: 1 limits, 2 minute, 3 day, 4 month, 5 active (zset of open reservations)
-- ARGV: 1 tokens, 2 'tokens' to check the token limits only (a whole batch) or absent
-- Returns {'ok'} | {'not_ready'} | {'refused', limitName, limit, used, reserved}
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_ready'} end

local refusal = first_refusal(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], tonumber(ARGV[1]), ARGV[2] == 'tokens')
if refusal then return refusal end
return {'ok'}
