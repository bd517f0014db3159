#!lua
-- Updates an initialised tenant's limits in place (an uninitialised one loads them from PostgreSQL).
-- KEYS: 1 limits; ARGV: name, value, name, value, ...
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
