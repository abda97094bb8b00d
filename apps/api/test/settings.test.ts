import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BREAKER } from '@hookrelay/domain';
import { Stack, type Tenant } from '@hookrelay/testing';
import { expectBadRequest, expectUnauthorized, subscribe } from './helpers.ts';

const DAY = 24 * 60 * 60_000;
const DEFAULTS = { rateLimit: null, maxInFlight: 10, breaker: DEFAULT_BREAKER, autoDisableAfterMs: 5 * DAY };

/** Settings bodies the API must refuse, and the field its message must name. */
const BAD_SETTINGS: [string, Record<string, unknown>, string][] = [
  ['an empty patch', {}, 'body'],
  ['an unknown property', { retries: 3 }, 'retries'],
  ['maxInFlight 0', { maxInFlight: 0 }, 'body/maxInFlight'],
  ['a fractional maxInFlight', { maxInFlight: 1.5 }, 'body/maxInFlight'],
  ['a rate limit of 0 per second', { rateLimit: { perSecond: 0 } }, 'body/rateLimit'],
  ['a negative rate limit', { rateLimit: { perSecond: -2 } }, 'body/rateLimit'],
  ['a burst of 0', { rateLimit: { perSecond: 5, burst: 0 } }, 'body/rateLimit'],
  ['a rate limit without perSecond', { rateLimit: { burst: 2 } }, 'body/rateLimit'],
  ['a rate limit of false', { rateLimit: false }, 'body/rateLimit'],
  ['a negative auto-disable period', { autoDisableAfterMs: -1 }, 'body/autoDisableAfterMs'],
  ['an auto-disable period over a year', { autoDisableAfterMs: 366 * DAY }, 'body/autoDisableAfterMs'],
  ['breaker windowSize 0', { breaker: { windowSize: 0 } }, 'body/breaker/windowSize'],
  ['breaker failureRatePercent over 100', { breaker: { failureRatePercent: 101 } }, 'body/breaker/failureRatePercent'],
  ['breaker consecutiveFailures 0', { breaker: { consecutiveFailures: 0 } }, 'body/breaker/consecutiveFailures'],
  ['a breaker cooldown under 100 ms', { breaker: { cooldownMs: 50 } }, 'body/breaker/cooldownMs'],
  ['a breaker cooldown given as text', { breaker: { cooldownMs: 'soon' } }, 'body/breaker/cooldownMs'],
  ['an unknown breaker property', { breaker: { halfOpenProbes: 2 } }, 'halfOpenProbes'],
  ['minimumAttempts above windowSize', { breaker: { windowSize: 5, minimumAttempts: 6 } }, 'body/breaker'],
  ['minimumAttempts above the default windowSize', { breaker: { minimumAttempts: 21 } }, 'body/breaker'],
  ['maxCooldownMs below cooldownMs', { breaker: { cooldownMs: 5_000, maxCooldownMs: 1_000 } }, 'body/breaker'],
];

describe('tenant protection settings', () => {
  let stack: Stack;
  let tenant: Tenant;
  let other: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('settings');
    other = await stack.createTenant('neighbour');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers the built-in defaults before anything is set', async () => {
    const res = await tenant.client.get('/v1/settings');
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual(DEFAULTS);
    expect(res.body.breaker).toEqual({
      windowSize: 20,
      minimumAttempts: 10,
      failureRatePercent: 50,
      consecutiveFailures: 5,
      cooldownMs: 30_000,
      maxCooldownMs: 30 * 60_000,
    });
  });

  it('requires a tenant key', async () => {
    expectUnauthorized(await stack.anonymous.get('/v1/settings'));
    expectUnauthorized(await stack.anonymous.patch('/v1/settings', { maxInFlight: 3 }));
    expectUnauthorized(await stack.admin.get('/v1/settings'));
  });

  it.each(BAD_SETTINGS)('refuses %s with a 400 naming the field', async (_name, body, field) => {
    const before = (await tenant.client.get('/v1/settings')).body;
    expectBadRequest(await tenant.client.patch('/v1/settings', body), field);
    // Nothing of a refused patch is stored.
    expect((await tenant.client.get('/v1/settings')).body).toEqual(before);
  });

  it('explains which breaker rule a refused patch breaks', async () => {
    const tooMany = await tenant.client.patch('/v1/settings', { breaker: { windowSize: 4, minimumAttempts: 8 } });
    expectBadRequest(tooMany, 'body/breaker');
    expect(tooMany.body.message).toContain('minimumAttempts cannot exceed windowSize');
    const shortMax = await tenant.client.patch('/v1/settings', { breaker: { maxCooldownMs: 200 } });
    expectBadRequest(shortMax, 'body/breaker');
    expect(shortMax.body.message).toContain('maxCooldownMs cannot be below cooldownMs');
  });

  it('merges partial patches into the stored settings and always answers the full effective values', async () => {
    const first = await tenant.client.patch('/v1/settings', { breaker: { consecutiveFailures: 3, cooldownMs: 1_000 } });
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ ...DEFAULTS, breaker: { ...DEFAULT_BREAKER, consecutiveFailures: 3, cooldownMs: 1_000 } });

    // A later patch of other breaker fields keeps the earlier ones.
    const second = await tenant.client.patch('/v1/settings', {
      breaker: { maxCooldownMs: 2_000, windowSize: 8, minimumAttempts: 8 },
      rateLimit: { perSecond: 2.5, burst: 4 },
      maxInFlight: 3,
      autoDisableAfterMs: 0,
    });
    expect(second.status, second.text).toBe(200);
    const expected = {
      rateLimit: { perSecond: 2.5, burst: 4 },
      maxInFlight: 3,
      breaker: { ...DEFAULT_BREAKER, consecutiveFailures: 3, cooldownMs: 1_000, maxCooldownMs: 2_000, windowSize: 8, minimumAttempts: 8 },
      autoDisableAfterMs: 0,
    };
    expect(second.body).toEqual(expected);
    expect((await tenant.client.get('/v1/settings')).body).toEqual(expected);

    // The merged value is what the rules are checked against: windowSize 8 now bounds minimumAttempts.
    expectBadRequest(await tenant.client.patch('/v1/settings', { breaker: { minimumAttempts: 9 } }), 'body/breaker');
    // ...and cooldownMs cannot pass the stored maxCooldownMs.
    expectBadRequest(await tenant.client.patch('/v1/settings', { breaker: { cooldownMs: 2_001 } }), 'body/breaker');

    // null removes the tenant's rate limit again.
    const cleared = await tenant.client.patch('/v1/settings', { rateLimit: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body).toEqual({ ...expected, rateLimit: null });
  });

  it('keeps each tenant to its own settings', async () => {
    await tenant.client.patch('/v1/settings', { maxInFlight: 7 });
    expect((await tenant.client.get('/v1/settings')).body.maxInFlight).toBe(7);
    expect((await other.client.get('/v1/settings')).body).toEqual(DEFAULTS);

    const changed = await other.client.patch('/v1/settings', { maxInFlight: 42, breaker: { cooldownMs: 60_000 } });
    expect(changed.status, changed.text).toBe(200);
    const mine = (await tenant.client.get('/v1/settings')).body;
    expect(mine.maxInFlight).toBe(7);
    expect(mine.breaker.cooldownMs).toBe(1_000);
    expect((await other.client.get('/v1/settings')).body).toMatchObject({ maxInFlight: 42, breaker: { cooldownMs: 60_000 } });
  });
});

describe('subscription protection fields', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('subs');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const BAD: [string, Record<string, unknown>, string][] = [
    ['perSecond 0', { rateLimit: { perSecond: 0 } }, 'body/rateLimit'],
    ['a negative perSecond', { rateLimit: { perSecond: -1 } }, 'body/rateLimit'],
    ['perSecond as text', { rateLimit: { perSecond: 'fast' } }, 'body/rateLimit'],
    ['burst 0', { rateLimit: { perSecond: 1, burst: 0 } }, 'body/rateLimit'],
    ['a fractional burst', { rateLimit: { perSecond: 1, burst: 1.5 } }, 'body/rateLimit'],
    ['an unknown rate limit property', { rateLimit: { perSecond: 1, perMinute: 60 } }, 'body/rateLimit'],
    ['maxInFlight 0', { maxInFlight: 0 }, 'body/maxInFlight'],
    ['a negative maxInFlight', { maxInFlight: -3 }, 'body/maxInFlight'],
    ['a fractional maxInFlight', { maxInFlight: 2.5 }, 'body/maxInFlight'],
    ['disableOnGone as text', { disableOnGone: 'yes' }, 'body/disableOnGone'],
    // Ajv's type coercion must not turn these into null ("use the defaults").
    ['rateLimit false', { rateLimit: false }, 'body/rateLimit'],
    ['rateLimit 0', { rateLimit: 0 }, 'body/rateLimit'],
    ['maxInFlight false', { maxInFlight: false }, 'body/maxInFlight'],
    ['retryPolicy 0', { retryPolicy: 0 }, 'body/retryPolicy'],
  ];

  it.each(BAD)('refuses %s on create and on update', async (_name, body, field) => {
    expectBadRequest(await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in', ...body }), field);
    const sub = await subscribe(tenant);
    expectBadRequest(await tenant.client.patch(`/v1/subscriptions/${sub.id}`, body), field);
    const after = (await tenant.client.get(`/v1/subscriptions/${sub.id}`)).body;
    expect(after).toMatchObject({ rateLimit: null, maxInFlight: null, disableOnGone: false });
  });

  it('round-trips the rate limit, in-flight cap and disableOnGone, and shows a fresh endpoint as healthy', async () => {
    const created = await tenant.client.post('/v1/subscriptions', {
      url: 'https://hooks.example.com/limited',
      rateLimit: { perSecond: 0.5, burst: 3 },
      maxInFlight: 1,
      disableOnGone: true,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toMatchObject({
      rateLimit: { perSecond: 0.5, burst: 3 },
      maxInFlight: 1,
      disableOnGone: true,
      enabled: true,
      disabledReason: null,
      health: { state: 'closed', failureRate: null, openedAt: null, nextProbeAt: null, failingSince: null },
    });

    const fetched = await tenant.client.get(`/v1/subscriptions/${created.body.id}`);
    expect(fetched.body).toMatchObject({ rateLimit: { perSecond: 0.5, burst: 3 }, maxInFlight: 1, disableOnGone: true });
    const listed = (await tenant.client.get('/v1/subscriptions')).body.data.find((s: { id: string }) => s.id === created.body.id);
    expect(listed).toMatchObject({ rateLimit: { perSecond: 0.5, burst: 3 }, maxInFlight: 1, disableOnGone: true });

    const changed = await tenant.client.patch(`/v1/subscriptions/${created.body.id}`, { rateLimit: { perSecond: 200 }, maxInFlight: 50 });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body).toMatchObject({ rateLimit: { perSecond: 200 }, maxInFlight: 50, disableOnGone: true });
    expect(changed.body.rateLimit).not.toHaveProperty('burst');

    // null hands the subscription back to the tenant's defaults.
    const cleared = await tenant.client.patch(`/v1/subscriptions/${created.body.id}`, {
      rateLimit: null,
      maxInFlight: null,
      disableOnGone: false,
    });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body).toMatchObject({ rateLimit: null, maxInFlight: null, disableOnGone: false });
    expect((await tenant.client.get(`/v1/subscriptions/${created.body.id}`)).body).toMatchObject({ rateLimit: null, maxInFlight: null });
  });

  it('says what is wrong with a refused cap, rather than that it is not null', async () => {
    const zero = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in', maxInFlight: 0 });
    expectBadRequest(zero, 'body/maxInFlight');
    expect(zero.body.message).toBe('body/maxInFlight must be >= 1');
    const slow = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in', rateLimit: { perSecond: 0 } });
    expectBadRequest(slow, 'body/rateLimit/perSecond');
  });

  it('leaves the fields null when they are not given', async () => {
    const sub = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/plain' });
    expect(sub.status, sub.text).toBe(201);
    expect(sub.body).toMatchObject({ rateLimit: null, maxInFlight: null, disableOnGone: false, disabledReason: null });
  });
});

describe('the reserved hookrelay. event prefix', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('publisher');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it.each(['hookrelay.anything', 'hookrelay.endpoint.disabled', 'hookrelay.delivery.dead'])(
    'refuses to publish %s',
    async (type) => {
      await subscribe(tenant, { eventTypes: ['hookrelay.*'] });
      const res = await tenant.client.post('/v1/events', { type, data: {} });
      expectBadRequest(res, 'body/type');
      expect(res.body.message).toContain('hookrelay.');
      const listed = await tenant.client.get(`/v1/events?type=${encodeURIComponent(type)}`);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.body.data).toEqual([]);
    },
  );

  it('still accepts types that merely start with the same letters', async () => {
    const res = await tenant.client.post('/v1/events', { type: 'hookrelayish.created', data: {} });
    expect(res.status, res.text).toBe(202);
  });

  it('lets a subscription ask for hookrelay.* events', async () => {
    const sub = await subscribe(tenant, { eventTypes: ['hookrelay.*', 'order.created'] });
    expect(sub.eventTypes).toEqual(['hookrelay.*', 'order.created']);
  });
});
