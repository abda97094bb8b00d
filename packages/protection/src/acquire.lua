-- Decides, atomically for the whole fleet, whether deliveries to an endpoint may go now: one
-- request per attempt, several asked in one call answered in order as if asked one by one.
-- KEYS: 1 breaker hash, 2 lease zset, 3 GCRA tat, 4 Retry-After pause, 5 waiting counter,
--       6 next free rate-limit slot for a waiting job, 7 attempts admitted in the current second
-- ARGV: 1 lease ms, 2 max in flight (0: no cap), 3 rate per second (0: none), 4 burst, 5 probe lease ms,
--       then per request: lease id, how many jobs it stands for (a batch held back whole waits as
--       all of its members; '0' when it asks again after a short wait of its own: no more jobs waiting),
--       and the lease id of the batch's first request that it follows ('' for none)
-- Returns {allowed (1/0), wait ms, reason, hold ms, spacing ms} per request, flattened. For a
-- refusal by a Retry-After pause, an open breaker or a full in-flight cap, hold ms is how long the
-- endpoint takes nothing for sure or as expected (the pause, the cooldown, the time one slot is
-- expected to take to free) and spacing ms how much later than the last each further job is sent
-- back, so a worker can hold back that endpoint's next jobs the same way without asking; 0 and 0
-- otherwise. A request that follows its batch's first is answered only if that first was asked
-- earlier in this call and was admitted or merely rate-limited; otherwise its answer is
-- {0, 0, 'follows', 0, 0}, with nothing changed, and it asks again once the first's answer is
-- known. Time is Redis's, so worker clocks do not matter.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local leaseMs = tonumber(ARGV[1])
local maxInFlight = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local probeLeaseMs = tonumber(ARGV[5])
-- A guess of how fast the endpoint serves waiting jobs when it has not been seen to: a few
-- completions per slot per second (ten slots' worth for an endpoint without a cap).
local expectedPerSecond = (maxInFlight > 0 and maxInFlight or 10) * 4

-- Jobs turned away in the current second up to the caller's first: an estimate of how many wait
-- ahead of it (1 for the first). A job asking again after a short wait of its own is not one more;
-- a batch held back whole stands for all of its members.
local jobs = 1
local function waitingNow()
  if jobs == 0 then return tonumber(redis.call('GET', KEYS[5]) or '1') end
  local waiting = redis.call('INCRBY', KEYS[5], jobs)
  if waiting == jobs then redis.call('PEXPIRE', KEYS[5], 1000) end
  return waiting - jobs + 1
end

-- How fast the endpoint serves waiting jobs: what it was seen to admit in the current second, and
-- at least a guess (for an endpoint just starting, or one that holds its slots).
local function servedPerSecond(guess)
  return math.max(guess or expectedPerSecond, tonumber(redis.call('GET', KEYS[7]) or '0'))
end

-- How long a job held back by the endpoint's own capacity should wait. Spreading the jobs waiting
-- over the time the endpoint needs to serve them keeps a large backlog from polling the gate (and
-- taking worker slots from other endpoints) many times a second.
local function backlogWait(leaseWait, oldestAge)
  local waiting = waitingNow()
  -- Requests that take D ms free about maxInFlight slots per D, and the oldest lease is about D
  -- old. So an endpoint holding every request open (until the timeout, for one that hangs) is
  -- guessed slower than the default, and its backlog is not looked at again many times a second
  -- while nothing frees; slots seen to turn over this second still count (servedPerSecond).
  local perSecond = servedPerSecond(math.min(expectedPerSecond, 1000 * maxInFlight / math.max(oldestAge, 1)))
  local minimum = math.min(leaseWait, math.max(1, math.floor(1000 / perSecond)))
  return math.min(math.max(minimum, math.floor(1000 * waiting / perSecond)), 60000), minimum, math.floor(1000 / perSecond)
end

-- A crowd held back by an open breaker or a Retry-After would otherwise come back together: at
-- the pause's end or the next probe, then every second while the probe is out (up to the HTTP
-- timeout, for an endpoint that hangs). The n-th job turned away this second comes back n slots
-- later, at the pace the endpoint is expected to take them once it recovers.
local function crowdSpread(pace)
  return math.min(math.floor(1000 * (waitingNow() - 1) / pace), 60000)
end

-- A refusal for `holdMs` more, whatever the endpoint's slots: the crowd's spread on top.
local function holdFor(holdMs, reason)
  local pace = servedPerSecond()
  return {0, holdMs + crowdSpread(pace), reason, holdMs, math.floor(1000 / pace)}
end

local function admit(leaseId)
  local pauseUntil = tonumber(redis.call('GET', KEYS[4]) or '0')
  if pauseUntil > now then return holdFor(pauseUntil - now, 'retry_after') end

  local probe = false
  if redis.call('HGET', KEYS[1], 'state') == 'open' then
    local nextProbeAt = tonumber(redis.call('HGET', KEYS[1], 'nextProbeAt') or '0')
    if now < nextProbeAt then return holdFor(nextProbeAt - now, 'circuit_open') end
    local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
    -- Look again soon rather than at the lease's end: a probe usually answers in milliseconds.
    if probeUntil > now then return {0, math.min(probeUntil - now, 1000 + crowdSpread(servedPerSecond())), 'circuit_probing', 0, 0} end
    probe = true
  end

  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if maxInFlight > 0 and redis.call('ZCARD', KEYS[2]) >= maxInFlight then
    local expiry = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
    -- Leases usually end long before they expire: look again soon (a slot frees about four times a
    -- second per slot, as a guess, fewer once every lease is old), later the more jobs are waiting.
    local wait, minimum, spacing = backlogWait(expiry - now, now - (expiry - leaseMs))
    return {0, wait, 'max_in_flight', minimum, spacing}
  end

  if rate > 0 then
    local interval = 1000 / rate
    local stored = tonumber(redis.call('GET', KEYS[3]) or '0')
    local tat = math.max(stored, now)
    local allowAt = tat - interval * (burst - 1)
    if now < allowAt then
      -- Each job turned away gets the next free slot after those already handed out, so a
      -- backlog comes back one slot at a time instead of all at once at the next slot.
      local slot = math.max(tonumber(redis.call('GET', KEYS[6]) or '0'), allowAt)
      redis.call('SET', KEYS[6], tostring(slot + interval), 'PX', math.ceil(slot + interval - now) + 1000)
      return {0, math.min(math.ceil(slot - now), 3600000), 'rate_limited', 0, 0}
    end
    -- While jobs wait for slots, one that comes back a little late (queue latency) keeps up to half
    -- an interval of its slot, so lateness does not pile up into a lower rate. With nobody waiting
    -- the limiter is exact.
    local backlog = tonumber(redis.call('GET', KEYS[6]) or '0') > now
    local nextTat = (backlog and math.max(stored, now - interval / 2) or tat) + interval
    redis.call('SET', KEYS[3], tostring(nextTat), 'PX', math.ceil(nextTat - now) + 1000)
  end

  if probe then
    redis.call('HSET', KEYS[1], 'probeUntil', now + probeLeaseMs, 'probeLease', leaseId)
  end
  redis.call('ZADD', KEYS[2], now + leaseMs, leaseId)
  redis.call('PEXPIRE', KEYS[2], leaseMs * 2)
  if redis.call('INCR', KEYS[7]) == 1 then redis.call('PEXPIRE', KEYS[7], 1000) end
  if probe then return {1, 0, 'probe', 0, 0} end
  return {1, 0, 'ok', 0, 0}
end

-- Whether each first request of this call left its batch free to ask: admitted or rate-limited
-- (a rate limit holds back each member on its own), not held back as a whole.
local batchMayAsk = {}
local replies = {}
for i = 6, #ARGV, 3 do
  jobs = tonumber(ARGV[i + 1])
  local lease, first = ARGV[i], ARGV[i + 2]
  local reply
  if first ~= '' and not batchMayAsk[first] then
    reply = {0, 0, 'follows', 0, 0}
  else
    reply = admit(lease)
    if first == '' then batchMayAsk[lease] = reply[1] == 1 or reply[3] == 'rate_limited' end
  end
  for _, v in ipairs(reply) do replies[#replies + 1] = v end
end
return replies
