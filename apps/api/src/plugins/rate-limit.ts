import rateLimit, { normalizeIP, type CreateRateLimitOptions, type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import { isUuid } from '@hookrelay/db';
import { queuePrefix } from '@hookrelay/queue';
import { CountLeases } from './count-leases.ts';
import type { ApiLimits } from '../limits.ts';

/** A rate-limit check never holds a request up longer than this: past it the request goes through. */
export const LIMITER_TIMEOUT_MS = 500;
/** After a failure Redis is left alone this long: a hanging Redis costs one wait, not one per request. */
const PAUSE_AFTER_FAILURE_MS = 1_000;
const WARN_EVERY_MS = 10_000;
/** How long an address found under the wrong-credentials limit is trusted to stay under it without asking Redis. */
const CLEAR_ADDRESS_MS = 1_000;

// Fixed windows: the first request of a window starts its expiry. A key left without one (it
// cannot happen through these scripts, but costs nothing to mend) gets it on the next request.
const INCR = `
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`;
const READ = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
return {current, ttl}`;

type StoreCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;

/**
 * The counters live in Redis under `{prefix}:ratelimit:`, beside the queues. The API's Redis
 * client fails fast (no offline queue), and each call is bounded by LIMITER_TIMEOUT_MS: when
 * Redis is down or slow the error is logged (at most every 10 s) and the plugin's `skipOnError`
 * lets the request through; for a second after a failure Redis is not asked at all. An outage
 * must not turn every call into a 500 or a 429, nor hold every call up.
 */
function redisStore(redis: Redis, keyPrefix: string, log: FastifyBaseLogger) {
  // Defined commands run by EVALSHA: the script text crosses the wire (and is hashed) once per connection, not per request.
  redis.defineCommand('hookrelayLimitIncr', { numberOfKeys: 1, lua: INCR });
  redis.defineCommand('hookrelayLimitRead', { numberOfKeys: 1, lua: READ });
  const commands = redis as unknown as Record<'hookrelayLimitIncr' | 'hookrelayLimitRead', (key: string, windowMs: number, count: number) => Promise<unknown>>;
  let lastWarning = 0;
  let pausedUntil = 0;
  const run = (script: 'hookrelayLimitIncr' | 'hookrelayLimitRead', key: string, windowMs: number, count: number, cb: StoreCallback) => {
    if (Date.now() < pausedUntil) return cb(new Error('Redis failed a moment ago: not asked'));
    let settled = false;
    const finish = (err: Error | null, result?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        pausedUntil = Date.now() + PAUSE_AFTER_FAILURE_MS;
        if (Date.now() - lastWarning > WARN_EVERY_MS) {
          lastWarning = Date.now();
          log.warn({ err: err.message }, 'rate limiter cannot reach Redis: requests go through unlimited');
        }
        return cb(err);
      }
      const [current, ttl] = result as [number, number];
      cb(null, { current: Number(current), ttl: Number(ttl) });
    };
    const timer = setTimeout(() => finish(new Error(`Redis did not answer within ${LIMITER_TIMEOUT_MS} ms`)), LIMITER_TIMEOUT_MS);
    commands[script](keyPrefix + key, windowMs, count).then(
      (result) => finish(null, result),
      (err: Error) => finish(err),
    );
  };
  const leases = new CountLeases(
    (key, count, windowMs) =>
      new Promise((resolve, reject) =>
        run('hookrelayLimitIncr', key, windowMs, count, (err, result) => (err ? reject(err) : resolve({ counter: result!.current, ttl: result!.ttl }))),
      ),
  );
  return class RedisLimitStore implements FastifyRateLimitStore {
    constructor(private readonly options: LimitOptions = {}) {}
    incr(key: string, cb: StoreCallback, timeWindow: number, max: number): void {
      if (this.options.leaseCounts) leases.take(key, timeWindow, max, cb);
      else run('hookrelayLimitIncr', key, timeWindow, 1, cb);
    }
    /** Reads a counter without counting (the plugin's `{ increment: false }`). */
    read(key: string, cb: StoreCallback): void {
      run('hookrelayLimitRead', key, 0, 0, cb);
    }
    /** A store for one limiter, with its options (the plugin passes them merged with its own). */
    child(options: object): FastifyRateLimitStore {
      return new RedisLimitStore(options as LimitOptions);
    }
  };
}

/**
 * `leaseCounts`: counts are taken from Redis in runs (CountLeases), for the per-tenant and
 * per-source limits; the wrong-credentials limit counts each failure in Redis at once, so that
 * every API process sees it.
 */
interface LimitOptions {
  leaseCounts?: boolean;
}

/** 429 with Retry-After and the API's usual JSON error body. */
export function tooManyRequests(reply: FastifyReply, limit: number, retryAfterSeconds: number, message: string): FastifyReply {
  const after = Math.max(1, retryAfterSeconds);
  return reply
    .code(429)
    .header('retry-after', String(after))
    .header('x-ratelimit-limit', String(limit))
    .header('x-ratelimit-remaining', '0')
    .header('x-ratelimit-reset', String(after))
    .send({ statusCode: 429, error: 'Too Many Requests', message: `${message}; retry in ${after} s` });
}

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Counts wrong credentials per client IP, so API keys and the admin token cannot be guessed at speed. */
export interface AuthFailureLimiter {
  /** Sends a 429 and answers true while the caller's address has sent too many wrong credentials. */
  blocked(request: FastifyRequest, reply: FastifyReply): Promise<boolean>;
  /** Counts one wrong credential from the caller's address. */
  failed(request: FastifyRequest): Promise<void>;
}

export interface RateLimiting {
  /** onRequest hook for /v1, after tenant authentication: counts per tenant. */
  perTenant: Hook | undefined;
  /** onRequest hook for /in/:sourceId: counts per source. */
  perSource: Hook | undefined;
  authFailures: AuthFailureLimiter | undefined;
}

/**
 * Registers @fastify/rate-limit (not globally: each limit is applied where it belongs) and
 * answers the hooks that apply the configured limits; a limit set to 0 answers undefined.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  { redis, redisPrefix, limits }: { redis: Redis; redisPrefix: string; limits: ApiLimits },
): Promise<RateLimiting> {
  await app.register(rateLimit, {
    global: false,
    skipOnError: true,
    store: redisStore(redis, `${queuePrefix(redisPrefix)}:ratelimit:`, app.log),
  });

  const windowMs = limits.rateWindowSeconds * 1000;
  const perWindow = limits.ratePerSecond * limits.rateWindowSeconds;
  const windowText = `${perWindow} requests per ${limits.rateWindowSeconds} s`;

  const counting = (what: string, keyOf: (request: FastifyRequest) => string | undefined): Hook | undefined => {
    if (limits.ratePerSecond <= 0) return undefined;
    const options: CreateRateLimitOptions & LimitOptions = {
      max: perWindow,
      timeWindow: windowMs,
      keyGenerator: (request) => keyOf(request) ?? '',
      leaseCounts: true,
    };
    const limiter = app.createRateLimit(options);
    return async (request, reply) => {
      if (keyOf(request) === undefined) return;
      const result = await limiter(request);
      if (result.isAllowed) return;
      if (result.isExceeded) return tooManyRequests(reply, result.max, result.ttlInSeconds, `rate limit of ${windowText} ${what} exceeded`);
      // A counter Redis could not answer for has ttl 0: no headers that would mislead.
      if (result.ttl > 0) {
        reply.header('x-ratelimit-limit', String(result.max));
        reply.header('x-ratelimit-remaining', String(result.remaining));
        reply.header('x-ratelimit-reset', String(result.ttlInSeconds));
      }
    };
  };

  let authFailures: AuthFailureLimiter | undefined;
  if (limits.authFailuresPerMinute > 0) {
    const max = limits.authFailuresPerMinute;
    const addressOf = (request: FastifyRequest) => normalizeIP(request.ip);
    const limiter = app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (request) => `authfail:${addressOf(request)}` });
    // Addresses found under the limit a moment ago: a busy client's every request would otherwise
    // cost a Redis round trip. Failures this process counts itself take effect at once (the entry
    // is dropped when the limit is reached); those counted by another API process, within a second.
    const clear = new LRUCache<string, true>({ max: 10_000, ttl: CLEAR_ADDRESS_MS });
    authFailures = {
      async blocked(request, reply) {
        if (clear.has(addressOf(request))) return false;
        const result = await limiter(request, { increment: false });
        if (result.isAllowed || result.remaining > 0) {
          clear.set(addressOf(request), true);
          return false;
        }
        request.log.warn({ ip: request.ip }, 'too many wrong credentials from this address: answered 429');
        tooManyRequests(reply, max, result.ttlInSeconds, 'too many requests with a wrong API key or admin token from this address');
        return true;
      },
      async failed(request) {
        const result = await limiter(request);
        if (!result.isAllowed && result.remaining <= 0) clear.delete(addressOf(request));
      },
    };
  }

  return {
    perTenant: counting('for this tenant', (request) => (request.tenantId ? `tenant:${request.tenantId}` : undefined)),
    perSource: counting('for this source', (request) => {
      const { sourceId } = request.params as { sourceId?: string };
      // Anything else is answered 404 without a lookup: no counter for it.
      return sourceId && isUuid(sourceId) ? `source:${sourceId.toLowerCase()}` : undefined;
    }),
    authFailures,
  };
}
