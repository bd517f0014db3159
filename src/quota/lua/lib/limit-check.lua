-- Shared by reserve.lua, headroom.lua and extend.lua (scripts.ts puts it after their first line).
-- reserve.lua and headroom.lua refuse by one rule: the first limit that one more request of `tokens` would pass (used + reserved
-- + need > limit), as {'refused', limitName, limit, used, reserved}; nil when every limit fits.
-- tokens_only: only the token limits (a batch's total, whose items are requests later, one by one).
local function first_refusal(limits, minute, day, month, active, tokens, tokens_only)
  local lim = redis.call('HMGET', limits, 'max_in_flight', 'requests_per_minute', 'requests_per_day', 'tokens_per_day', 'tokens_per_month')
  local m = redis.call('HMGET', minute, 'req_used', 'req_res')
  local d = redis.call('HMGET', day, 'req_used', 'req_res', 'tok_used', 'tok_res')
  local mo = redis.call('HMGET', month, 'tok_used', 'tok_res')
  local n = function(v) return tonumber(v) or 0 end
  local checks = {
    {'max_in_flight', n(lim[1]), redis.call('ZCARD', active), 0, 1},
    {'requests_per_minute', n(lim[2]), n(m[1]), n(m[2]), 1},
    {'requests_per_day', n(lim[3]), n(d[1]), n(d[2]), 1},
    {'tokens_per_day', n(lim[4]), n(d[3]), n(d[4]), tokens},
    {'tokens_per_month', n(lim[5]), n(mo[1]), n(mo[2]), tokens},
  }
  for i, c in ipairs(checks) do
    if (not tokens_only or i >= 4) and c[3] + c[4] + c[5] > c[2] then
      return {'refused', c[1], tostring(c[2]), tostring(c[3]), tostring(c[4])}
    end
  end
  return nil
end

-- Shared by extend.lua: the tokens still free under the tenant's token limits (per day, per month),
-- as (room, limitName, limit, used, reserved) of the tightest of them; room is never negative.
local function token_room(limits, day, month)
  local lim = redis.call('HMGET', limits, 'tokens_per_day', 'tokens_per_month')
  local d = redis.call('HMGET', day, 'tok_used', 'tok_res')
  local mo = redis.call('HMGET', month, 'tok_used', 'tok_res')
  local n = function(v) return tonumber(v) or 0 end
  local best = nil
  for _, c in ipairs({
    {'tokens_per_day', n(lim[1]), n(d[1]), n(d[2])},
    {'tokens_per_month', n(lim[2]), n(mo[1]), n(mo[2])},
  }) do
    local room = c[2] - c[3] - c[4]
    if room < 0 then room = 0 end
    if best == nil or room < best[1] then best = {room, c[1], c[2], c[3], c[4]} end
  end
  return best[1], best[2], best[3], best[4], best[5]
end
