-- authgate's revocation record, written atomically. `authgate revoke` runs this script,
-- and so should anything else that revokes (a Better Auth hook: see the README).
--
-- KEYS[1] <prefix>revoked:sub      sorted set: subject -> unix second before which its
--                                   tokens are refused
-- KEYS[2] <prefix>revoked:jti      sorted set: token id -> unix second it was revoked
-- KEYS[3] <prefix>revoked:version  counter, one step per revocation
-- ARGV[1] "sub" or "jti"
-- ARGV[2] the subject or the token id
-- ARGV[3] the moment (unix seconds), or "" for now (Redis's clock, rounded up: a token
--         issued in this second is refused too)
-- ARGV[4] retention: seconds an entry counts after its moment (the longest token
--         lifetime plus authgate's leeway)
-- ARGV[5] the channel replicas follow
-- Publishes "<version> <kind> <moment> <id>" and returns {version, moment}.
local kind, id = ARGV[1], ARGV[2]
local retention = tonumber(ARGV[4])
local set
if kind == 'sub' then set = KEYS[1] elseif kind == 'jti' then set = KEYS[2]
else return redis.error_reply('kind must be sub or jti') end
if id == '' or not retention or retention < 1 then
  return redis.error_reply('an id and a positive retention are required')
end
local time = redis.call('TIME')
local now = tonumber(time[1])
local at = tonumber(ARGV[3])
if not at then
  at = now
  if tonumber(time[2]) > 0 then at = now + 1 end
end
if at + retention <= now then
  return redis.error_reply('that moment is older than the retention: every token it would refuse has expired')
end
-- Entries every token they refused has outlived are dropped as new ones come.
redis.call('ZREMRANGEBYSCORE', set, '-inf', '(' .. (now - retention))
local current = tonumber(redis.call('ZSCORE', set, id))
if not current or current < at then
  redis.call('ZADD', set, at, id)
end
-- The set goes when its last entry has stopped counting.
local ttl = at + retention - now
if ttl > redis.call('TTL', set) then redis.call('EXPIRE', set, ttl) end
local version = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[5], version .. ' ' .. kind .. ' ' .. at .. ' ' .. id)
return {version, at}
