-- GCRA over Redis's clock, atomic: the arithmetic of gcra.rs again, so that every
-- replica's requests draw on one bucket. One call per request and policy.
-- KEYS[1]: the partition's key. ARGV[1]: interval, ARGV[2]: tolerance (microseconds).
-- Returns {allowed (1 or 0), remaining, retry_after, reset} (microseconds).
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0) or 0
if tat < now then tat = now end
local ahead = tat - now
if ahead > tolerance then
  return {0, 0, ahead - tolerance, ahead}
end
local new_tat = tat + interval
ahead = new_tat - now
local remaining = 0
if ahead <= tolerance then
  remaining = math.floor((tolerance - ahead) / interval) + 1
end
-- The key lives while it holds more than "a full bucket".
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000))
return {1, remaining, 0, ahead}
