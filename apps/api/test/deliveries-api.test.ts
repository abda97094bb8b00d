import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { MALFORMED_IDS, UUID, expectBadRequest, expectNotFound, isIsoDate, publish, subscribe, unknownId, walkPages } from './helpers.ts';

const SUMMARY_FIELDS = ['attemptCount', 'createdAt', 'eventId', 'id', 'lastError', 'lastStatusCode', 'nextAttemptAt', 'status', 'subscriptionId', 'updatedAt'];

describe('deliveries', () => {
  let stack: Stack;
  let tenant: Tenant;
  let subAll: string;
  let subOrders: string;
  let orderEvent: string;
  let userEvent: string;
  /** delivery ids by `${eventId}/${subscriptionId}` */
  const deliveryOf = new Map<string, string>();

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('deliveries');
    subAll = (await subscribe(tenant, { url: 'https://all.example.com/' })).id;
    subOrders = (await subscribe(tenant, { url: 'https://orders.example.com/', eventTypes: ['order.*'] })).id;
    orderEvent = (await publish(tenant, 'order.created', { order: 1 })).id;
    userEvent = (await publish(tenant, 'user.created', { user: 1 })).id;
    for (const eventId of [orderEvent, userEvent]) {
      const event = (await tenant.client.get(`/v1/events/${eventId}`)).body;
      for (const d of event.deliveries) deliveryOf.set(`${eventId}/${d.subscriptionId}`, d.id);
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  const list = async (query = '') => (await walkPages(tenant.client, `/v1/deliveries${query}`, 100)).items;
  const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

  describe('GET /v1/deliveries', () => {
    it('lists one pending delivery per event and matching subscription', async () => {
      expect(deliveryOf.size).toBe(3);
      const rows = await list();
      expect(ids(rows)).toEqual([...deliveryOf.values()].sort());
      for (const d of rows) {
        expect(Object.keys(d).sort()).toEqual(SUMMARY_FIELDS);
        expect(d.id).toMatch(UUID);
        expect(deliveryOf.get(`${d.eventId}/${d.subscriptionId}`)).toBe(d.id);
        expect(d.status).toBe('pending');
        expect(d.attemptCount).toBe(0);
        expect(d.lastStatusCode).toBeNull();
        expect(d.lastError).toBeNull();
        expect(d.nextAttemptAt === null || isIsoDate(d.nextAttemptAt)).toBe(true);
        expect(isIsoDate(d.createdAt)).toBe(true);
        expect(isIsoDate(d.updatedAt)).toBe(true);
      }
    });

    it('filters by eventId, subscriptionId and status, alone and together', async () => {
      expect(ids(await list(`?eventId=${orderEvent}`))).toEqual(
        [deliveryOf.get(`${orderEvent}/${subAll}`)!, deliveryOf.get(`${orderEvent}/${subOrders}`)!].sort(),
      );
      expect(ids(await list(`?eventId=${userEvent}`))).toEqual([deliveryOf.get(`${userEvent}/${subAll}`)!]);
      expect(ids(await list(`?subscriptionId=${subOrders}`))).toEqual([deliveryOf.get(`${orderEvent}/${subOrders}`)!]);
      expect(ids(await list(`?subscriptionId=${subAll}`))).toHaveLength(2);
      expect(ids(await list(`?subscriptionId=${subAll}&eventId=${userEvent}`))).toEqual([deliveryOf.get(`${userEvent}/${subAll}`)!]);
      expect(await list(`?subscriptionId=${subOrders}&eventId=${userEvent}`)).toEqual([]);
      expect(await list('?status=pending')).toHaveLength(3);
      expect(await list('?status=succeeded')).toEqual([]);
      expect(await list('?status=dead')).toEqual([]);
      expect(await list(`?status=pending&eventId=${orderEvent}`)).toHaveLength(2);
      expect(await list(`?eventId=${unknownId()}`)).toEqual([]);
      expect(await list(`?subscriptionId=${unknownId()}`)).toEqual([]);
    });

    it('pages through every delivery exactly once', async () => {
      const { items, pages } = await walkPages(tenant.client, '/v1/deliveries', 1);
      expect(pages).toHaveLength(3);
      expect(ids(items)).toEqual([...deliveryOf.values()].sort());
      const filtered = await walkPages(tenant.client, `/v1/deliveries?subscriptionId=${subAll}`, 1);
      expect(ids(filtered.items)).toEqual([deliveryOf.get(`${orderEvent}/${subAll}`)!, deliveryOf.get(`${userEvent}/${subAll}`)!].sort());
    });

    it.each([
      ['status=failed', 'status'],
      ['subscriptionId=not-a-uuid', 'subscriptionId'],
      ['eventId=42', 'eventId'],
      ['limit=0', 'limit'],
      ['cursor=garbage', 'cursor'],
      ['tenantId=x', 'tenantId'],
    ])('rejects ?%s with a 400 naming the parameter', async (query, field) => {
      expectBadRequest(await tenant.client.get(`/v1/deliveries?${query}`), field);
    });
  });

  describe('GET /v1/deliveries/:id', () => {
    it('returns the delivery with an empty attempt history', async () => {
      const id = deliveryOf.get(`${orderEvent}/${subOrders}`)!;
      const res = await tenant.client.get(`/v1/deliveries/${id}`);
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual([...SUMMARY_FIELDS, 'attempts'].sort());
      expect(res.body).toMatchObject({
        id,
        eventId: orderEvent,
        subscriptionId: subOrders,
        status: 'pending',
        attemptCount: 0,
        lastStatusCode: null,
        lastError: null,
        attempts: [],
      });
      const [listed] = await list(`?eventId=${orderEvent}&subscriptionId=${subOrders}`);
      const { attempts, ...rest } = res.body;
      expect(attempts).toEqual([]);
      expect(rest).toEqual(listed);
    });

    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await tenant.client.get(`/v1/deliveries/${unknownId()}`));
      for (const id of MALFORMED_IDS) expectNotFound(await tenant.client.get(`/v1/deliveries/${encodeURIComponent(id)}`));
    });
  });

  describe('POST /v1/deliveries/:id/retry', () => {
    it('answers 409 for a pending delivery and leaves it as it was', async () => {
      const id = deliveryOf.get(`${userEvent}/${subAll}`)!;
      const before = (await tenant.client.get(`/v1/deliveries/${id}`)).body;
      const res = await tenant.client.post(`/v1/deliveries/${id}/retry`);
      expect(res.status, res.text).toBe(409);
      expect(res.body).toMatchObject({ statusCode: 409 });
      expect(typeof res.body.message).toBe('string');
      expect((await tenant.client.get(`/v1/deliveries/${id}`)).body).toEqual(before);
    });

    it('puts a finished delivery back to pending, after which it is pending again (409)', async () => {
      // Workers are not running here, so the delivery is finished by hand.
      const id = deliveryOf.get(`${orderEvent}/${subAll}`)!;
      await stack.db.sql`update deliveries set status = 'dead', next_attempt_at = null, last_error = 'gave up' where id = ${id}`;
      expect((await tenant.client.get(`/v1/deliveries/${id}`)).body.status).toBe('dead');
      expect(await list('?status=dead')).toHaveLength(1);

      const res = await tenant.client.post(`/v1/deliveries/${id}/retry`);
      expect(res.status, res.text).toBe(202);
      expect(res.body).toEqual({ id, status: 'pending' });
      const after = (await tenant.client.get(`/v1/deliveries/${id}`)).body;
      expect(after.status).toBe('pending');
      expect(isIsoDate(after.nextAttemptAt)).toBe(true);
      expect(await list('?status=dead')).toEqual([]);

      expect((await tenant.client.post(`/v1/deliveries/${id}/retry`)).status).toBe(409);
    });

    it('answers 404 for unknown and malformed ids', async () => {
      expectNotFound(await tenant.client.post(`/v1/deliveries/${unknownId()}/retry`));
      for (const id of MALFORMED_IDS) expectNotFound(await tenant.client.post(`/v1/deliveries/${encodeURIComponent(id)}/retry`));
    });
  });
});
