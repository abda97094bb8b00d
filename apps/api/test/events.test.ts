import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { BODY_LIMIT } from '../src/app.ts';
import {
  MALFORMED_IDS,
  UUID,
  expectBadRequest,
  expectNotFound,
  isIsoDate,
  publish,
  subscribe,
  unknownId,
  walkPages,
} from './helpers.ts';

describe('events', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('events');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const eventCount = async (t: Tenant = tenant) => (await walkPages(t.client, '/v1/events', 100)).items.length;
  const deliveryCount = async (t: Tenant = tenant) => (await walkPages(t.client, '/v1/deliveries', 100)).items.length;
  const getEvent = async (id: string, t: Tenant = tenant) => {
    const res = await t.client.get(`/v1/events/${id}`);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  describe('POST /v1/events', () => {
    it('answers 202 with id, type, timestamp and the number of deliveries', async () => {
      const before = Date.now();
      const res = await tenant.client.post('/v1/events', { type: 'order.created', data: { orderId: 42 } });
      expect(res.status, res.text).toBe(202);
      expect(Object.keys(res.body).sort()).toEqual(['deliveries', 'id', 'timestamp', 'type']);
      expect(res.body.id).toMatch(UUID);
      expect(res.body.type).toBe('order.created');
      expect(isIsoDate(res.body.timestamp)).toBe(true);
      expect(Date.parse(res.body.timestamp)).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(res.body.timestamp)).toBeLessThanOrEqual(Date.now() + 5_000);
      expect(res.body.deliveries).toBe(0);
    });

    it('returns the event as published on GET /v1/events/:id', async () => {
      const data = { z: 1, a: [1, 2.5, 'three', null, { deep: { é: 'ünïcødé ✓' } }], b: false, big: 12345678901234, empty: {} };
      const published = await publish(tenant, 'payload.check', data);
      const event = await getEvent(published.id);
      expect(event).toEqual({
        id: published.id,
        type: 'payload.check',
        timestamp: published.timestamp,
        data,
        idempotencyKey: null,
        source: null,
        deliveries: [],
      });
      // Keys keep the order they were published in.
      const text = (await tenant.client.get(`/v1/events/${published.id}`)).text;
      expect(text).toContain(JSON.stringify(data));
    });

    it('keeps each payload of publishes committed together with its own event, quotes and escapes intact', async () => {
      // Published at once, so they share group commits: each must come back with its own data.
      const payloads = Array.from({ length: 24 }, (_, i) => ({
        i,
        quote: `say "${i}"`,
        backslash: `C:\\dir\\${i}\\`,
        lines: 'a\nb\tc\r\n',
        control: '\u0001\u2028\u2029',
        braces: '{"not":"json"}, [1,2]',
        nested: i % 3 === 0 ? null : [{ '"key"': i }, 'é✓'],
      }));
      const published = await Promise.all(payloads.map((data) => publish(tenant, 'payload.batch', data)));
      for (const [i, event] of published.entries()) {
        const stored = await getEvent(event.id);
        expect(stored.data, `event ${i}`).toEqual(payloads[i]);
      }
    });

    it.each([
      ['null', null],
      ['a number', 0],
      ['false', false],
      ['an empty string', ''],
      ['a string', 'hello'],
      ['an array', [1, { a: null }]],
    ])('accepts %s as data and stores it unchanged', async (_label, data) => {
      const published = await publish(tenant, 'payload.kinds', data);
      expect((await getEvent(published.id)).data).toEqual(data);
    });

    it('accepts a type of 255 characters and a body just below the size limit', async () => {
      const long = 'a'.repeat(255);
      expect((await publish(tenant, long, {})).type).toBe(long);
      const res = await tenant.client.post('/v1/events', { type: 'big.ok', data: 'x'.repeat(BODY_LIMIT - 1024) });
      expect(res.status, res.text.slice(0, 200)).toBe(202);
    });

    it.each([
      ['an empty type', { type: '', data: {} }, 'type'],
      ['a type with a space', { type: 'order created', data: {} }, 'type'],
      ['a type with a slash', { type: 'order/created', data: {} }, 'type'],
      ['a type with a wildcard', { type: 'order.*', data: {} }, 'type'],
      ['a type with a non-ASCII letter', { type: 'ordér.created', data: {} }, 'type'],
      ['a type of 256 characters', { type: 'a'.repeat(256), data: {} }, 'type'],
      ['a type that is an object', { type: { name: 'x' }, data: {} }, 'type'],
      ['a missing type', { data: {} }, 'type'],
      ['missing data', { type: 'order.created' }, 'data'],
      ['an unknown property', { type: 'order.created', data: {}, priority: 'high' }, 'priority'],
      ['an empty idempotencyKey', { type: 'order.created', data: {}, idempotencyKey: '' }, 'idempotencyKey'],
      ['an idempotencyKey of 256 characters', { type: 'order.created', data: {}, idempotencyKey: 'k'.repeat(256) }, 'idempotencyKey'],
    ])('rejects %s with a 400 naming the field and records nothing', async (_label, body, field) => {
      const before = await eventCount();
      expectBadRequest(await tenant.client.post('/v1/events', body), field);
      expect(await eventCount()).toBe(before);
    });

    it('rejects malformed JSON and a body that is not an object with 400', async () => {
      const before = await eventCount();
      for (const body of ['{"type":"order.created","data":', '{type: "order.created", data: {}}', '[]', '"order.created"']) {
        const res = await tenant.client.post('/v1/events', body);
        expect(res.status, `${body}: ${res.text}`).toBe(400);
        expect(res.body.statusCode).toBe(400);
      }
      expect(await eventCount()).toBe(before);
    });

    it('rejects a body above 256 KiB with 413 and records nothing', async () => {
      const before = await eventCount();
      const res = await tenant.client.post('/v1/events', { type: 'big.no', data: 'x'.repeat(256 * 1024 + 1) });
      expect(res.status).toBe(413);
      expect(res.body).toMatchObject({ statusCode: 413 });
      expect(await eventCount()).toBe(before);
    });
  });

  describe('fan-out to subscriptions', () => {
    let fan: Tenant;
    const subs: Record<string, string> = {};

    beforeAll(async () => {
      fan = await stack.createTenant('fan-out');
      subs.exact = (await subscribe(fan, { eventTypes: ['invoice.paid'] })).id;
      subs.prefix = (await subscribe(fan, { eventTypes: ['invoice.*'] })).id;
      subs.all = (await subscribe(fan)).id;
      subs.star = (await subscribe(fan, { eventTypes: ['*'] })).id;
      subs.other = (await subscribe(fan, { eventTypes: ['customer.created', 'customer.deleted'] })).id;
      subs.disabled = (await subscribe(fan, { eventTypes: ['invoice.paid'], enabled: false })).id;
      subs.deleted = (await subscribe(fan, { eventTypes: ['invoice.paid'] })).id;
      expect((await fan.client.delete(`/v1/subscriptions/${subs.deleted}`)).status).toBe(204);
    });

    it.each([
      ['invoice.paid', ['exact', 'prefix', 'all', 'star']],
      ['invoice.refund.created', ['prefix', 'all', 'star']],
      ['customer.created', ['other', 'all', 'star']],
      ['customer.updated', ['all', 'star']],
      ['invoice', ['all', 'star']],
      ['invoices.paid', ['all', 'star']],
      ['invoice.paid.late', ['prefix', 'all', 'star']],
    ])('%s goes to exactly the matching enabled subscriptions', async (type, expected) => {
      const published = await publish(fan, type, { n: 1 });
      expect(published.deliveries).toBe(expected.length);

      const event = await getEvent(published.id, fan);
      expect(event.deliveries).toHaveLength(expected.length);
      expect(event.deliveries.map((d: { subscriptionId: string }) => d.subscriptionId).sort()).toEqual(expected.map((k) => subs[k]).sort());
      for (const d of event.deliveries) {
        expect(Object.keys(d).sort()).toEqual(['attemptCount', 'id', 'lastStatusCode', 'nextAttemptAt', 'status', 'subscriptionId']);
        expect(d.id).toMatch(UUID);
        expect(d.status).toBe('pending');
        expect(d.attemptCount).toBe(0);
        expect(d.lastStatusCode).toBeNull();
        expect(d.nextAttemptAt === null || isIsoDate(d.nextAttemptAt)).toBe(true);
      }
    });

    it('counts a subscription once it is enabled, and no longer once it is disabled', async () => {
      expect((await fan.client.patch(`/v1/subscriptions/${subs.disabled}`, { enabled: true })).status).toBe(200);
      expect((await publish(fan, 'invoice.paid')).deliveries).toBe(5);
      expect((await fan.client.patch(`/v1/subscriptions/${subs.disabled}`, { enabled: false })).status).toBe(200);
      expect((await fan.client.patch(`/v1/subscriptions/${subs.exact}`, { eventTypes: ['invoice.voided'] })).status).toBe(200);
      expect((await publish(fan, 'invoice.paid')).deliveries).toBe(3);
      expect((await publish(fan, 'invoice.voided')).deliveries).toBe(4);
    });

    it('follows subscription changes made by another process (a worker, an operator), from the next publish on', async () => {
      const elsewhere = await stack.createTenant('changed-elsewhere');
      const sub = await subscribe(elsewhere, { eventTypes: ['order.paid'] });
      const other = await subscribe(elsewhere, { eventTypes: ['order.*'] });
      expect((await publish(elsewhere, 'order.paid')).deliveries).toBe(2);
      // Written straight to the database, as a worker disabling an endpoint does.
      await stack.db.sql`update subscriptions set enabled = false where id = ${sub.id}`;
      expect((await publish(elsewhere, 'order.paid')).deliveries).toBe(1);
      await stack.db.sql`update subscriptions set enabled = true, event_types = ${['order.refunded']} where id = ${sub.id}`;
      await stack.db.sql`update subscriptions set deleted_at = now() where id = ${other.id}`;
      expect((await publish(elsewhere, 'order.paid')).deliveries).toBe(0);
      expect((await publish(elsewhere, 'order.refunded')).deliveries).toBe(1);
      // Columns fan-out does not read leave the version alone.
      const [before] = await stack.db.sql<{ v: string }[]>`select subscriptions_version::text as v from tenants where id = ${elsewhere.id}`;
      await stack.db.sql`update subscriptions set url = 'https://hooks.example.com/moved' where id = ${sub.id}`;
      const [after] = await stack.db.sql<{ v: string }[]>`select subscriptions_version::text as v from tenants where id = ${elsewhere.id}`;
      expect(after!.v).toBe(before!.v);
    });

    it('creates no deliveries for a tenant without subscriptions', async () => {
      const lonely = await stack.createTenant('lonely');
      const published = await publish(lonely, 'invoice.paid');
      expect(published.deliveries).toBe(0);
      expect((await getEvent(published.id, lonely)).deliveries).toEqual([]);
      expect(await deliveryCount(lonely)).toBe(0);
    });
  });

  describe('idempotency', () => {
    let idem: Tenant;

    beforeAll(async () => {
      idem = await stack.createTenant('idempotency');
      await subscribe(idem);
    });

    it('replays the first response for a repeated idempotencyKey and records nothing new', async () => {
      const first = await idem.client.post('/v1/events', { type: 'order.created', data: { v: 1 }, idempotencyKey: 'order-1' });
      expect(first.status).toBe(202);
      expect(first.body.deliveries).toBe(1);
      const events = await eventCount(idem);
      const deliveries = await deliveryCount(idem);

      const again = await idem.client.post('/v1/events', { type: 'order.created', data: { v: 1 }, idempotencyKey: 'order-1' });
      expect(again.status).toBe(202);
      expect(again.body).toEqual(first.body);

      // Even with another type and payload, the key wins.
      const changed = await idem.client.post('/v1/events', { type: 'order.cancelled', data: { v: 2 }, idempotencyKey: 'order-1' });
      expect(changed.status).toBe(202);
      expect(changed.body).toEqual(first.body);

      expect(await eventCount(idem)).toBe(events);
      expect(await deliveryCount(idem)).toBe(deliveries);
      const stored = await getEvent(first.body.id, idem);
      expect(stored.data).toEqual({ v: 1 });
      expect(stored.idempotencyKey).toBe('order-1');
      expect(stored.deliveries).toHaveLength(1);
    });

    it('treats the Idempotency-Key header like the body field', async () => {
      const first = await idem.client.post('/v1/events', { type: 'order.created', data: {} }, { 'Idempotency-Key': 'order-2' });
      expect(first.status).toBe(202);
      const events = await eventCount(idem);

      const viaHeader = await idem.client.post('/v1/events', { type: 'order.created', data: {} }, { 'Idempotency-Key': 'order-2' });
      const viaBody = await idem.client.post('/v1/events', { type: 'order.created', data: {}, idempotencyKey: 'order-2' });
      expect(viaHeader.status).toBe(202);
      expect(viaBody.status).toBe(202);
      expect(viaHeader.body).toEqual(first.body);
      expect(viaBody.body).toEqual(first.body);
      expect(await eventCount(idem)).toBe(events);
      expect((await getEvent(first.body.id, idem)).idempotencyKey).toBe('order-2');
    });

    it('rejects a header and body key that differ', async () => {
      const before = await eventCount(idem);
      const res = await idem.client.post('/v1/events', { type: 'a', data: {}, idempotencyKey: 'x-1' }, { 'Idempotency-Key': 'x-2' });
      expectBadRequest(res, 'dempotency');
      expect(await eventCount(idem)).toBe(before);
    });

    it('creates a new event for a new key, and for the same key from another tenant', async () => {
      const a = await publish(idem, 'order.created', {}, { idempotencyKey: 'shared-key' });
      const b = await publish(idem, 'order.created', {}, { idempotencyKey: 'other-key' });
      expect(b.id).not.toBe(a.id);

      const stranger = await stack.createTenant('stranger');
      await subscribe(stranger, { eventTypes: ['order.*'] });
      const c = await publish(stranger, 'order.created', { mine: true }, { idempotencyKey: 'shared-key' });
      expect(c.id).not.toBe(a.id);
      expect(c.deliveries).toBe(1);
      expect((await getEvent(c.id, stranger)).data).toEqual({ mine: true });
      expect(await eventCount(stranger)).toBe(1);
      // And the first tenant's key still replays its own event.
      expect((await publish(idem, 'order.created', {}, { idempotencyKey: 'shared-key' })).id).toBe(a.id);
    });

    it('records one event when the same key arrives concurrently', async () => {
      const before = await eventCount(idem);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => idem.client.post('/v1/events', { type: 'race.won', data: { i } }, { 'Idempotency-Key': 'race-1' })),
      );
      for (const r of results) expect(r.status, r.text).toBe(202);
      expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      expect(await eventCount(idem)).toBe(before + 1);
      expect((await getEvent(results[0]!.body.id, idem)).deliveries).toHaveLength(1);
    });
  });

  describe('GET /v1/events', () => {
    let lister: Tenant;
    const published: { id: string; type: string }[] = [];

    beforeAll(async () => {
      lister = await stack.createTenant('lister');
      for (let i = 0; i < 7; i++) published.push(await publish(lister, i % 3 === 0 ? 'user.signed_up' : 'user.logged_in', { i }));
    });

    it('pages through every event exactly once', async () => {
      const { items, pages } = await walkPages(lister.client, '/v1/events', 3);
      expect(pages).toHaveLength(3);
      expect(items.map((e) => e.id).sort()).toEqual(published.map((e) => e.id).sort());
      for (const e of items) {
        expect(Object.keys(e).sort()).toEqual(['data', 'id', 'idempotencyKey', 'source', 'timestamp', 'type']);
        expect(isIsoDate(e.timestamp)).toBe(true);
      }
      const byId = new Map(items.map((e) => [e.id, e]));
      published.forEach((p, i) => expect(byId.get(p.id)!.data).toEqual({ i }));
    });

    it('filters by type', async () => {
      const { items } = await walkPages(lister.client, '/v1/events?type=user.signed_up', 2);
      const expected = published.filter((e) => e.type === 'user.signed_up').map((e) => e.id);
      expect(expected.length).toBe(3);
      expect(items.map((e) => e.id).sort()).toEqual(expected.sort());
      for (const e of items) expect(e.type).toBe('user.signed_up');

      const none = await lister.client.get('/v1/events?type=user.deleted');
      expect(none.status).toBe(200);
      expect(none.body).toEqual({ data: [], nextCursor: null });
    });

    it('rejects a bad type filter, limit or cursor with 400', async () => {
      expectBadRequest(await lister.client.get('/v1/events?type=user.*'), 'type');
      expectBadRequest(await lister.client.get('/v1/events?limit=0'), 'limit');
      expectBadRequest(await lister.client.get('/v1/events?limit=1000'), 'limit');
      expectBadRequest(await lister.client.get('/v1/events?cursor=nope'), 'cursor');
      expectBadRequest(await lister.client.get('/v1/events?colour=red'), 'colour');
    });
  });

  describe('GET /v1/events/:id', () => {
    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await tenant.client.get(`/v1/events/${unknownId()}`));
      for (const id of MALFORMED_IDS) expectNotFound(await tenant.client.get(`/v1/events/${encodeURIComponent(id)}`));
    });
  });
});
