import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '@hookrelay/api';
import { createQueues, createRedis, queuePrefix } from '@hookrelay/queue';
import { Stack, TEST_REDIS_URL, freePort, startTcpProxy, type ApiResponse, type Tenant } from '@hookrelay/testing';
import { expectUnauthorized } from './helpers.ts';

function expectTooManyRequests(res: ApiResponse, { windowSeconds, message }: { windowSeconds: number; message: RegExp }): void {
  expect(res.status, res.text).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
  expect(res.body.message).toMatch(message);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.body.message).toContain(`retry in ${retryAfter} s`);
  expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const REDIS_PORT = Number(new URL(TEST_REDIS_URL).port || 6379);

describe('per-tenant and per-source rate limits', () => {
  // 2 requests per second over windows of 5 s: 10 requests per window.
  const WINDOW = 5;
  const PER_WINDOW = 10;
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      workers: 0,
      env: { HOOKRELAY_API_RATE_LIMIT: '2', HOOKRELAY_API_RATE_WINDOW_SECONDS: String(WINDOW), HOOKRELAY_AUTH_FAILURE_LIMIT: '0' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const eventCount = async (tenantId: string) =>
    Number((await stack.db.sql`select count(*)::int as n from events where tenant_id = ${tenantId}`)[0]!.n);

  it('answers 429 with Retry-After and a JSON error once a tenant has used its window, and only that tenant', async () => {
    const tenant = await stack.createTenant('busy');
    const other = await stack.createTenant('quiet');
    for (let i = 1; i <= PER_WINDOW; i++) {
      const res = await tenant.client.get('/v1/subscriptions');
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('x-ratelimit-limit')).toBe(String(PER_WINDOW));
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(PER_WINDOW - i));
    }
    const limited = await tenant.client.get('/v1/subscriptions');
    expectTooManyRequests(limited, { windowSeconds: WINDOW, message: /^rate limit of 10 requests per 5 s for this tenant exceeded/ });

    // A refused write writes nothing.
    const publish = await tenant.client.post('/v1/events', { type: 'order.created', data: {} });
    expect(publish.status).toBe(429);
    expect(await eventCount(tenant.id)).toBe(0);

    // Another tenant has a budget of its own.
    expect((await other.client.get('/v1/subscriptions')).status).toBe(200);
    expect((await other.client.post('/v1/events', { type: 'order.created', data: {} })).status).toBe(202);

    // After Retry-After the tenant is served again.
    await sleep(Number(limited.headers.get('retry-after')) * 1000 + 200);
    const again = await tenant.client.get('/v1/subscriptions');
    expect(again.status, again.text).toBe(200);
  });

  it('keeps its counters under the stack prefix, with the window as expiry', async () => {
    const tenant = await stack.createTenant('keys');
    expect((await tenant.client.get('/v1/events')).status).toBe(200);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const key = `{${stack.config.HOOKRELAY_REDIS_PREFIX}}:ratelimit:tenant:${tenant.id}`;
      expect(await redis.get(key)).toBe('1');
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(WINDOW * 1000);
    } finally {
      redis.disconnect();
    }
  });

  it('limits each ingest source on its own, before the signature is checked', async () => {
    const tenant = await stack.createTenant('ingest');
    const create = (name: string) => tenant.client.post('/v1/sources', { provider: 'github', name, secret: 'gh-secret' });
    const [first, second] = [(await create('one')).body.id as string, (await create('two')).body.id as string];
    const call = (id: string) => stack.anonymous.post(`/in/${id}`, { zen: 'hi' }, { 'x-github-event': 'ping', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` });
    for (let i = 0; i < PER_WINDOW; i++) expectUnauthorized(await call(first));
    expectTooManyRequests(await call(first), { windowSeconds: WINDOW, message: /^rate limit of 10 requests per 5 s for this source exceeded/ });
    expectUnauthorized(await call(second));
  });
});

describe('per-tenant limits of a busy tenant, counted in runs', () => {
  // 20 requests per second over windows of 10 s: 200 per window, runs of at most 4 (a 50th).
  const PER_WINDOW = 200;
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      workers: 0,
      env: { HOOKRELAY_API_RATE_LIMIT: '20', HOOKRELAY_API_RATE_WINDOW_SECONDS: '10', HOOKRELAY_AUTH_FAILURE_LIMIT: '0' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const counterOf = async (tenant: Tenant) =>
    Number(await stack.redis.get(`${queuePrefix(stack.config.HOOKRELAY_REDIS_PREFIX)}:ratelimit:tenant:${tenant.id}`));

  it('takes counts from Redis ahead of use, a few at a time, and still counts every request', async () => {
    const tenant = await stack.createTenant('sequential');
    for (let i = 1; i <= 20; i++) {
      const res = await tenant.client.get('/v1/subscriptions');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(PER_WINDOW - i));
    }
    // Runs of 1, 2, 4, 4, 4, 4, 4: 23 counts taken for 20 requests.
    expect(await counterOf(tenant)).toBe(23);
  });

  it('admits exactly the allowance of a burst of concurrent requests, each with a count of its own', async () => {
    const tenant = await stack.createTenant('burst');
    const answers = await Promise.all(Array.from({ length: PER_WINDOW + 60 }, () => tenant.client.get('/v1/subscriptions')));
    const admitted = answers.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(PER_WINDOW);
    expect(answers.filter((r) => r.status === 429)).toHaveLength(60);
    const remaining = admitted.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: PER_WINDOW }, (_, i) => i));
  });

  it('never admits more than the allowance across two API processes, and leaves at most a run each unused', async () => {
    const tenant = await stack.createTenant('two-apis');
    const second = await buildApp({
      db: stack.db,
      queues: stack.queues,
      redis: stack.redis,
      redisPrefix: stack.config.HOOKRELAY_REDIS_PREFIX,
      adminToken: stack.config.ADMIN_TOKEN,
      logger: false,
      limits: { ratePerSecond: 20, rateWindowSeconds: 10, authFailuresPerMinute: 0, maxSubscriptionsPerTenant: 0, maxSourcesPerTenant: 0 },
    });
    try {
      const viaSecond = () =>
        second.inject({ method: 'GET', url: '/v1/subscriptions', headers: { authorization: `Bearer ${tenant.apiKey}` } }).then((r) => r.statusCode);
      const viaFirst = () => tenant.client.get('/v1/subscriptions').then((r) => r.status);
      // Waves through both at once, until both refuse.
      const statuses: number[] = [];
      for (let wave = 0; wave < 12; wave++) {
        statuses.push(...(await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? viaFirst() : viaSecond())))));
      }
      const admitted = statuses.filter((s) => s === 200).length;
      expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
      expect(admitted).toBeLessThanOrEqual(PER_WINDOW);
      expect(admitted).toBeGreaterThanOrEqual(PER_WINDOW - 2 * 4);
    } finally {
      await second.close();
    }
  });
});

describe('wrong credentials per client address', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0, env: { HOOKRELAY_AUTH_FAILURE_LIMIT: '5' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers 429 to every credential, even a right one, after too many wrong API keys or admin tokens', async () => {
    const tenant: Tenant = await stack.createTenant('victim');
    // Missing credentials are not guesses: they are not counted.
    for (let i = 0; i < 10; i++) expectUnauthorized(await stack.anonymous.get('/v1/subscriptions'));
    // Four wrong ones of the five allowed: the right key still works.
    for (let i = 0; i < 3; i++) expectUnauthorized(await stack.anonymous.withToken(`hr_guess${i}`).get('/v1/subscriptions'));
    expectUnauthorized(await stack.anonymous.withToken('admin-guess-1').get('/admin/tenants'));
    expect((await tenant.client.get('/v1/subscriptions')).status).toBe(200);
    // The fifth is still answered 401; from then on the address is refused.
    expectUnauthorized(await stack.anonymous.withToken('admin-guess-2').get('/admin/tenants'));

    const message = /^too many requests with a wrong API key or admin token from this address/;
    expectTooManyRequests(await stack.anonymous.withToken('hr_guess-next').get('/v1/subscriptions'), { windowSeconds: 60, message });
    expectTooManyRequests(await tenant.client.get('/v1/subscriptions'), { windowSeconds: 60, message });
    expectTooManyRequests(await stack.admin.get('/admin/tenants'), { windowSeconds: 60, message });
    const basic = `Basic ${Buffer.from(`ops:${stack.config.ADMIN_TOKEN}`).toString('base64')}`;
    expectTooManyRequests(await stack.anonymous.get('/admin/queues', { authorization: basic }), { windowSeconds: 60, message });
  });
});

describe('wrong credentials counted by another API process', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0, env: { HOOKRELAY_AUTH_FAILURE_LIMIT: '5' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('refuses a right key within a second once the shared count reaches the limit', async () => {
    const tenant: Tenant = await stack.createTenant('behind-a-shared-address');
    expectUnauthorized(await stack.anonymous.withToken('hr_guess').get('/v1/subscriptions'));
    // This process has just found the address under the limit.
    expect((await tenant.client.get('/v1/subscriptions')).status).toBe(200);
    // Another API process counts the remaining four wrong keys in the shared counter.
    const [counter] = await stack.redis.keys(`${queuePrefix(stack.config.HOOKRELAY_REDIS_PREFIX)}:ratelimit:authfail:*`);
    expect(counter).toBeDefined();
    await stack.redis.incrby(counter!, 4);

    await sleep(1_100);
    const message = /^too many requests with a wrong API key or admin token from this address/;
    expectTooManyRequests(await tenant.client.get('/v1/subscriptions'), { windowSeconds: 60, message });
  });
});

describe('per-tenant caps', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({
      workers: 0,
      env: { HOOKRELAY_API_RATE_LIMIT: '0', HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT: '3', HOOKRELAY_MAX_SOURCES_PER_TENANT: '2' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const count = async (table: 'subscriptions' | 'sources', tenantId: string) =>
    Number((await stack.db.sql`select count(*)::int as n from ${stack.db.sql(table)} where tenant_id = ${tenantId}`)[0]!.n);
  const subscribe = (tenant: Tenant) => tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in' });
  const addSource = (tenant: Tenant) => tenant.client.post('/v1/sources', { provider: 'github', name: 'gh', secret: 's' });

  function expectCapReached(res: ApiResponse, what: string, max: number): void {
    expect(res.status, res.text).toBe(409);
    expect(res.body).toEqual({
      statusCode: 409,
      error: 'Conflict',
      code: 'TENANT_CAP_REACHED',
      message: `the tenant already has ${max} ${what}, the most it may have: delete one it no longer needs first`,
    });
  }

  it('refuses a subscription past HOOKRELAY_MAX_SUBSCRIPTIONS_PER_TENANT with 409, counting only live ones', async () => {
    const tenant = await stack.createTenant('capped');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await subscribe(tenant);
      expect(res.status, res.text).toBe(201);
      ids.push(res.body.id);
    }
    expectCapReached(await subscribe(tenant), 'subscriptions', 3);
    expect(await count('subscriptions', tenant.id)).toBe(3);

    // Per tenant: another one is not affected.
    const other = await stack.createTenant('other');
    expect((await subscribe(other)).status).toBe(201);

    // A deleted subscription (soft-deleted: its row stays) frees its place.
    expect((await tenant.client.delete(`/v1/subscriptions/${ids[0]}`)).status).toBe(204);
    expect((await subscribe(tenant)).status).toBe(201);
    expectCapReached(await subscribe(tenant), 'subscriptions', 3);
    expect(await count('subscriptions', tenant.id)).toBe(4);
  });

  it('holds under concurrent creates', async () => {
    const tenant = await stack.createTenant('racing');
    const results = await Promise.all(Array.from({ length: 8 }, () => subscribe(tenant)));
    expect(results.map((r) => r.status).sort()).toEqual([201, 201, 201, 409, 409, 409, 409, 409]);
    expect(await count('subscriptions', tenant.id)).toBe(3);
  });

  it('refuses a source past HOOKRELAY_MAX_SOURCES_PER_TENANT with 409, counting only live ones', async () => {
    const tenant = await stack.createTenant('sources');
    const first = await addSource(tenant);
    expect(first.status, first.text).toBe(201);
    expect((await addSource(tenant)).status).toBe(201);
    expectCapReached(await addSource(tenant), 'sources', 2);
    expect(await count('sources', tenant.id)).toBe(2);
    expect((await tenant.client.delete(`/v1/sources/${first.body.id}`)).status).toBe(204);
    expect((await addSource(tenant)).status).toBe(201);
    expectCapReached(await addSource(tenant), 'sources', 2);
  });
});


describe('rate limits when Redis fails', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** A second API over the stack's database whose Redis goes through `proxy`, with its warnings captured. */
  async function apiThrough(proxyPort: number) {
    // A tenant of its own: counters from an earlier test stay in Redis for their window.
    const tenant = await stack.createTenant('outage');
    const lines: string[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const redis = createRedis(`redis://127.0.0.1:${proxyPort}`, 'producer');
    redis.on('error', () => {});
    const queues = createQueues(redis, stack.config.HOOKRELAY_REDIS_PREFIX);
    const app = await buildApp({
      db: stack.db,
      queues,
      redis,
      redisPrefix: stack.config.HOOKRELAY_REDIS_PREFIX,
      adminToken: stack.config.ADMIN_TOKEN,
      logger,
      limits: { ratePerSecond: 1, rateWindowSeconds: 3, authFailuresPerMinute: 2, maxSubscriptionsPerTenant: 0, maxSourcesPerTenant: 0 },
    });
    await expect.poll(() => redis.status).toBe('ready');
    const get = (token = tenant.apiKey) => app.inject({ method: 'GET', url: '/v1/subscriptions', headers: { authorization: `Bearer ${token}` } });
    const close = async () => {
      await app.close();
      redis.disconnect();
    };
    return { app, redis, lines, get, close };
  }

  it('lets requests through, unlimited and without a 500, while Redis is down, and says so in the log', async () => {
    const proxy = await startTcpProxy(await freePort(), REDIS_PORT);
    const api = await apiThrough(proxy.port);
    try {
      // The limiter works through the proxy: 3 requests per window.
      for (let i = 0; i < 3; i++) expect((await api.get()).statusCode).toBe(200);
      expect((await api.get()).statusCode).toBe(429);

      await proxy.close();
      await expect.poll(() => api.redis.status).not.toBe('ready');
      const started = Date.now();
      for (let i = 0; i < 10; i++) {
        const res = await api.get();
        expect(res.statusCode, res.body).toBe(200);
      }
      expect(Date.now() - started).toBeLessThan(2_000);
      // Wrong keys are still refused as such, not as a 500.
      for (let i = 0; i < 4; i++) expect((await api.get('hr_wrong')).statusCode).toBe(401);

      const warnings = api.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'rate limiter cannot reach Redis: requests go through unlimited');
      // Logged, but not once per request.
      expect(warnings.length).toBeGreaterThanOrEqual(1);
      expect(warnings.length).toBeLessThan(5);
    } finally {
      await api.close();
      await proxy.close();
    }
  });

  it('does not hold requests up for long while Redis hangs', async () => {
    const proxy = await startTcpProxy(await freePort(), REDIS_PORT);
    const api = await apiThrough(proxy.port);
    try {
      expect((await api.get()).statusCode).toBe(200);
      proxy.freeze();
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        const res = await api.get();
        expect(res.statusCode, res.body).toBe(200);
        timings.push(Date.now() - started);
      }
      // The first waits out one bounded check (500 ms); Redis is then left alone for a second.
      expect(timings[0]).toBeGreaterThanOrEqual(450);
      expect(timings[0]).toBeLessThan(1_500);
      for (const ms of timings.slice(1)) expect(ms).toBeLessThan(400);
      await sleep(1_100);
      const later = Date.now();
      expect((await api.get()).statusCode).toBe(200);
      expect(Date.now() - later, 'asked again after the pause').toBeGreaterThanOrEqual(450);
      expect(api.lines.some((l) => JSON.parse(l).err === 'Redis did not answer within 500 ms')).toBe(true);
    } finally {
      await api.close();
      await proxy.close();
    }
  });
});
