import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { MALFORMED_IDS, expectNotFound, publish, subscribe, walkPages } from './helpers.ts';

interface Rows {
  subscription: string;
  event: string;
  /** A pending delivery. */
  delivery: string;
  /** A dead delivery, which its owner could retry: a 404 for anyone else is not a 409 in disguise. */
  deadDelivery: string;
}

describe('tenant isolation', () => {
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;
  let rowsA: Rows;
  let rowsB: Rows;

  const seed = async (tenant: Tenant): Promise<Rows> => {
    const subscription = (await subscribe(tenant, { eventTypes: ['*'], description: 'owned' })).id;
    const event = await publish(tenant, 'shared.type', { owner: tenant.id }, { idempotencyKey: 'same-key-everywhere' });
    expect(event.deliveries).toBe(1);
    const delivery = (await tenant.client.get(`/v1/events/${event.id}`)).body.deliveries[0].id;
    const dead = await publish(tenant, 'shared.dead', {});
    const deadDelivery = (await tenant.client.get(`/v1/events/${dead.id}`)).body.deliveries[0].id;
    await stack.db.sql`update deliveries set status = 'dead', next_attempt_at = null where id = ${deadDelivery}`;
    return { subscription, event: event.id, delivery, deadDelivery };
  };

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    a = await stack.createTenant('tenant-a');
    b = await stack.createTenant('tenant-b');
    rowsA = await seed(a);
    rowsB = await seed(b);
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** What the owner sees, to show that nothing the other tenant did changed it. */
  const snapshot = async (owner: Tenant, rows: Rows) => ({
    subscription: (await owner.client.get(`/v1/subscriptions/${rows.subscription}`)).body,
    event: (await owner.client.get(`/v1/events/${rows.event}`)).body,
    delivery: (await owner.client.get(`/v1/deliveries/${rows.delivery}`)).body,
    deadDelivery: (await owner.client.get(`/v1/deliveries/${rows.deadDelivery}`)).body,
  });

  it.each([
    ['GET', (r: Rows) => `/v1/subscriptions/${r.subscription}`, undefined],
    ['PATCH', (r: Rows) => `/v1/subscriptions/${r.subscription}`, { enabled: false, url: 'https://attacker.example.com/' }],
    ['DELETE', (r: Rows) => `/v1/subscriptions/${r.subscription}`, undefined],
    ['POST', (r: Rows) => `/v1/subscriptions/${r.subscription}/rotate-secret`, { secret: `whsec_${Buffer.alloc(32, 1).toString('base64')}` }],
    ['GET', (r: Rows) => `/v1/events/${r.event}`, undefined],
    ['GET', (r: Rows) => `/v1/deliveries/${r.delivery}`, undefined],
    ['GET', (r: Rows) => `/v1/deliveries/${r.deadDelivery}`, undefined],
    ['POST', (r: Rows) => `/v1/deliveries/${r.delivery}/retry`, undefined],
    ['POST', (r: Rows) => `/v1/deliveries/${r.deadDelivery}/retry`, undefined],
  ] as const)('%s on another tenant’s row answers 404 and changes nothing', async (method, path, body) => {
    const beforeA = await snapshot(a, rowsA);
    const beforeB = await snapshot(b, rowsB);
    expectNotFound(await b.client.request(method, path(rowsA), body));
    expectNotFound(await a.client.request(method, path(rowsB), body));
    expect(await snapshot(a, rowsA)).toEqual(beforeA);
    expect(await snapshot(b, rowsB)).toEqual(beforeB);
    expect(beforeA.subscription.url).toBe('https://hooks.example.com/in');
    expect(beforeA.deadDelivery.status).toBe('dead');
  });

  it('lists never include the other tenant’s rows', async () => {
    for (const [me, mine, theirs] of [
      [a, rowsA, rowsB],
      [b, rowsB, rowsA],
    ] as const) {
      const subs = (await walkPages(me.client, '/v1/subscriptions', 100)).items.map((s) => s.id);
      expect(subs).toEqual([mine.subscription]);

      const events = (await walkPages(me.client, '/v1/events', 100)).items.map((e) => e.id);
      expect(events).toHaveLength(2);
      expect(events).toContain(mine.event);
      expect(events).not.toContain(theirs.event);
      expect((await walkPages(me.client, '/v1/events?type=shared.type', 100)).items.map((e) => e.id)).toEqual([mine.event]);

      const deliveries = (await walkPages(me.client, '/v1/deliveries', 100)).items.map((d) => d.id).sort();
      expect(deliveries).toEqual([mine.delivery, mine.deadDelivery].sort());
      expect((await walkPages(me.client, '/v1/deliveries?status=dead', 100)).items.map((d) => d.id)).toEqual([mine.deadDelivery]);

      // Filtering by the other tenant's ids finds nothing.
      expect((await walkPages(me.client, `/v1/deliveries?subscriptionId=${theirs.subscription}`, 100)).items).toEqual([]);
      expect((await walkPages(me.client, `/v1/deliveries?eventId=${theirs.event}`, 100)).items).toEqual([]);
    }
  });

  it('an event fans out only to its own tenant’s subscriptions', async () => {
    const lonely = await stack.createTenant('no-subscriptions');
    // A and B both subscribe to '*', yet an event of a third tenant goes nowhere.
    const event = await publish(lonely, 'shared.type', {});
    expect(event.deliveries).toBe(0);
    expect((await walkPages(a.client, `/v1/deliveries?eventId=${event.id}`, 100)).items).toEqual([]);
    expect((await walkPages(b.client, `/v1/deliveries?eventId=${event.id}`, 100)).items).toEqual([]);
    expect((await walkPages(lonely.client, '/v1/deliveries', 100)).items).toEqual([]);
  });

  it('an idempotency key belongs to one tenant', async () => {
    expect(rowsA.event).not.toBe(rowsB.event);
    const eventA = (await a.client.get(`/v1/events/${rowsA.event}`)).body;
    const eventB = (await b.client.get(`/v1/events/${rowsB.event}`)).body;
    expect(eventA.data).toEqual({ owner: a.id });
    expect(eventB.data).toEqual({ owner: b.id });
    const replay = await b.client.post('/v1/events', { type: 'shared.type', data: {}, idempotencyKey: 'same-key-everywhere' });
    expect(replay.status).toBe(202);
    expect(replay.body.id).toBe(rowsB.event);
  });

  it('a cursor from another tenant’s list does not reveal its rows', async () => {
    const pageA = await a.client.get('/v1/events?limit=1');
    expect(pageA.body.nextCursor).toEqual(expect.any(String));
    const res = await b.client.get(`/v1/events?limit=100&cursor=${encodeURIComponent(pageA.body.nextCursor)}`);
    // A cursor is only a position (or refused): whatever B gets is B's own.
    expect([200, 400]).toContain(res.status);
    const own = (await walkPages(b.client, '/v1/events', 100)).items.map((e) => e.id);
    for (const e of res.status === 200 ? res.body.data : []) expect(own).toContain(e.id);
  });

  it.each([
    ['GET', (id: string) => `/v1/subscriptions/${id}`, undefined],
    ['PATCH', (id: string) => `/v1/subscriptions/${id}`, { enabled: false }],
    ['DELETE', (id: string) => `/v1/subscriptions/${id}`, undefined],
    ['POST', (id: string) => `/v1/subscriptions/${id}/rotate-secret`, undefined],
    ['GET', (id: string) => `/v1/events/${id}`, undefined],
    ['GET', (id: string) => `/v1/deliveries/${id}`, undefined],
    ['POST', (id: string) => `/v1/deliveries/${id}/retry`, undefined],
  ] as const)('%s with a malformed id answers 404', async (method, path, body) => {
    for (const id of MALFORMED_IDS) expectNotFound(await a.client.request(method, path(encodeURIComponent(id)), body));
  });
});
