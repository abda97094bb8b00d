-- Records the outcome of one attempt: frees its lease, applies Retry-After, and moves the breaker.
-- KEYS: 1 breaker hash, 2 lease zset, 3 Retry-After pause, 4 outcome window list
-- ARGV: 1 lease id, 2 outcome ('success' | 'failure' | 'neutral'), 3 retry-after ms (0: none),
--       4 window size, 5 minimum attempts, 6 failure rate %, 7 consecutive failures,
--       8 cooldown ms, 9 max cooldown ms, 10 auto-disable after ms (0: never), 11 disable now (1/0)
-- Returns {transition, failing since ms}; transition is '', 'opened', 'reopened', 'recovered' or 'disable'.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = ARGV[1]
local outcome = ARGV[2]
local retryAfter = tonumber(ARGV[3])

redis.call('ZREM', KEYS[2], lease)
local wasProbe = redis.call('HGET', KEYS[1], 'probeLease') == lease
if wasProbe then redis.call('HDEL', KEYS[1], 'probeUntil', 'probeLease') end

if retryAfter > 0 then
  local untilMs = now + retryAfter
  if untilMs > tonumber(redis.call('GET', KEYS[3]) or '0') then
    redis.call('SET', KEYS[3], untilMs, 'PX', retryAfter)
  end
end

local function trip(kind)
  local trips = redis.call('HINCRBY', KEYS[1], 'trips', 1)
  local cooldown = math.min(tonumber(ARGV[8]) * 2 ^ (trips - 1), tonumber(ARGV[9]))
  if kind == 'opened' then redis.call('HSET', KEYS[1], 'openedAt', now) end
  redis.call('HSET', KEYS[1], 'state', 'open', 'nextProbeAt', now + cooldown)
  redis.call('DEL', KEYS[4])
  return kind
end

local transition = ''
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if outcome == 'success' then
  redis.call('HDEL', KEYS[1], 'failingSince', 'disabledAt')
  redis.call('HSET', KEYS[1], 'consecutive', 0)
  if state == 'open' then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'trips', 0)
    redis.call('HDEL', KEYS[1], 'openedAt', 'nextProbeAt')
    redis.call('DEL', KEYS[4])
    transition = 'recovered'
  else
    redis.call('LPUSH', KEYS[4], '1')
    redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
  end
elseif outcome == 'failure' then
  local failingSince = tonumber(redis.call('HGET', KEYS[1], 'failingSince') or '0')
  if failingSince == 0 then
    failingSince = now
    redis.call('HSET', KEYS[1], 'failingSince', now)
  end
  local consecutive = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
  local autoDisable = tonumber(ARGV[10])
  if ARGV[11] == '1' or (autoDisable > 0 and now - failingSince >= autoDisable) then
    if not redis.call('HGET', KEYS[1], 'disabledAt') then
      redis.call('HSET', KEYS[1], 'disabledAt', now)
      return {'disable', failingSince}
    end
  end
  if state == 'open' then
    -- Only the probe's failure counts while open; stragglers that were already in flight do not.
    if wasProbe then transition = trip('reopened') end
  else
    redis.call('LPUSH', KEYS[4], '0')
    redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
    local window = redis.call('LRANGE', KEYS[4], 0, -1)
    local failures = 0
    for _, v in ipairs(window) do if v == '0' then failures = failures + 1 end end
    local n = #window
    if consecutive >= tonumber(ARGV[7])
      or (n >= tonumber(ARGV[5]) and failures * 100 >= tonumber(ARGV[6]) * n) then
      transition = trip('opened')
    end
  end
end
return {transition, redis.call('HGET', KEYS[1], 'failingSince') or 0}
