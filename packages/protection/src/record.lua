-- Records the outcomes of attempts to one endpoint: frees each lease, applies Retry-After, and
-- moves the breaker; several outcomes in one call are applied in order, as if recorded one by one.
-- KEYS: 1 breaker hash, 2 lease zset, 3 Retry-After pause, 4 outcome window list
-- ARGV: 1 window size, 2 minimum attempts, 3 failure rate %, 4 consecutive failures,
--       5 cooldown ms, 6 max cooldown ms, 7 auto-disable after ms (0: never),
--       then per outcome: lease id, outcome ('success' | 'failure' | 'neutral'), retry-after ms (0: none), disable now (1/0)
-- Returns {transition, failing since ms} per outcome, flattened; transition is '', 'opened',
-- 'reopened', 'recovered' or 'disable'.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local windowSize = tonumber(ARGV[1])
local minimumAttempts = tonumber(ARGV[2])
local failureRatePercent = tonumber(ARGV[3])
local consecutiveFailures = tonumber(ARGV[4])
local cooldownMs = tonumber(ARGV[5])
local maxCooldownMs = tonumber(ARGV[6])
local autoDisable = tonumber(ARGV[7])

local function trip(kind)
  local trips = redis.call('HINCRBY', KEYS[1], 'trips', 1)
  local cooldown = math.min(cooldownMs * 2 ^ (trips - 1), maxCooldownMs)
  if kind == 'opened' then redis.call('HSET', KEYS[1], 'openedAt', now) end
  redis.call('HSET', KEYS[1], 'state', 'open', 'nextProbeAt', now + cooldown)
  redis.call('DEL', KEYS[4])
  return kind
end

local function record(lease, outcome, retryAfter, disableNow)
  redis.call('ZREM', KEYS[2], lease)
  local wasProbe = redis.call('HGET', KEYS[1], 'probeLease') == lease
  if wasProbe then redis.call('HDEL', KEYS[1], 'probeUntil', 'probeLease') end

  if retryAfter > 0 then
    local untilMs = now + retryAfter
    if untilMs > tonumber(redis.call('GET', KEYS[3]) or '0') then
      redis.call('SET', KEYS[3], untilMs, 'PX', retryAfter)
    end
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
      redis.call('LTRIM', KEYS[4], 0, windowSize - 1)
    end
  elseif outcome == 'failure' then
    local failingSince = tonumber(redis.call('HGET', KEYS[1], 'failingSince') or '0')
    if failingSince == 0 then
      failingSince = now
      redis.call('HSET', KEYS[1], 'failingSince', now)
    end
    local consecutive = redis.call('HINCRBY', KEYS[1], 'consecutive', 1)
    if disableNow == '1' or (autoDisable > 0 and now - failingSince >= autoDisable) then
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
      redis.call('LTRIM', KEYS[4], 0, windowSize - 1)
      local window = redis.call('LRANGE', KEYS[4], 0, -1)
      local failures = 0
      for _, v in ipairs(window) do if v == '0' then failures = failures + 1 end end
      local n = #window
      if consecutive >= consecutiveFailures
        or (n >= minimumAttempts and failures * 100 >= failureRatePercent * n) then
        transition = trip('opened')
      end
    end
  end
  return {transition, redis.call('HGET', KEYS[1], 'failingSince') or 0}
end

local replies = {}
for i = 8, #ARGV, 4 do
  local reply = record(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3])
  replies[#replies + 1] = reply[1]
  replies[#replies + 1] = reply[2]
end
return replies
