import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { expectBadRequest, publish, subscribe, walkPages } from './helpers.ts';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** A UUIDv7 minted at `ms`, as the API's own ids are. */
const v7At = (ms: number): string => v7({ msecs: ms });

type Status = 'pending' | 'succeeded' | 'dead';

interface EventRow {
  id: string;
  type: string;
  at: number;
}

interface DeliveryRow {
  id: string;
  eventId: string;
  eventType: string;
  subscriptionId: string;
  status: Status;
  statusCode: number | null;
  at: number;
}

interface Filter {
  statusCode?: number;
  eventType?: string;
  since?: number;
  until?: number;
  subscriptionId?: string;
  status?: Status;
  type?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const newestFirst = <T extends { id: string }>(rows: T[]) => rows.map((r) => r.id).sort().reverse();

function queryString(f: Filter): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(f)) {
    if (value === undefined) continue;
    params.set(key, key === 'since' || key === 'until' ? iso(value as number) : String(value));
  }
  return params.size ? `?${params}` : '';
}

const inWindow = (at: number, f: Filter) => (f.since === undefined || at >= f.since) && (f.until === undefined || at < f.until);

describe('list filters', () => {
  let stack: Stack;
  let tenant: Tenant;
  let other: Tenant;
  let subA: string;
  let subB: string;
  const events = new Map<Tenant, EventRow[]>();
  const deliveries = new Map<Tenant, DeliveryRow[]>();

  // Two days ago, at an exact millisecond; rows every 10 minutes from there.
  const base = Date.now() - 2 * DAY;
  const at = (k: number) => base + k * 10 * MINUTE;
  const TYPES = ['order.created', 'order.created.v2', 'user.created', 'Order.Created'];
  const CODES = [500, 200, null, 503, 500, 404];
  /** A delivery whose id was minted 3 s after its created_at, as in a publish that waited for a connection. */
  let lateId: DeliveryRow;

  async function insertEvent(owner: Tenant, type: string, createdAt: number, id = v7At(createdAt)): Promise<EventRow> {
    const row = { id, type, at: createdAt };
    await stack.db.sql`insert into events (id, tenant_id, type, data, delivery_count, created_at)
      values (${id}, ${owner.id}, ${type}, '{}'::json, 0, ${iso(createdAt)})`;
    events.set(owner, [...(events.get(owner) ?? []), row]);
    return row;
  }

  async function insertDelivery(owner: Tenant, event: EventRow, subscriptionId: string, status: Status, statusCode: number | null, id = v7At(event.at)) {
    await stack.db.sql`insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count, last_status_code, created_at, updated_at)
      values (${id}, ${owner.id}, ${event.id}, ${subscriptionId}, ${status}, ${statusCode === null ? 0 : 1}, ${statusCode},
        ${iso(event.at)}, ${iso(event.at)})`;
    await stack.db.sql`update events set delivery_count = delivery_count + 1 where id = ${event.id}`;
    const row: DeliveryRow = { id, eventId: event.id, eventType: event.type, subscriptionId, status, statusCode, at: event.at };
    deliveries.set(owner, [...(deliveries.get(owner) ?? []), row]);
    return row;
  }

  /** The rows a filter should list, newest first, worked out from what was written. */
  function expectedDeliveries(f: Filter, owner: Tenant = tenant): string[] {
    return newestFirst(
      (deliveries.get(owner) ?? []).filter(
        (d) =>
          (f.statusCode === undefined || d.statusCode === f.statusCode) &&
          (f.eventType === undefined || d.eventType === f.eventType) &&
          (f.subscriptionId === undefined || d.subscriptionId === f.subscriptionId) &&
          (f.status === undefined || d.status === f.status) &&
          inWindow(d.at, f),
      ),
    );
  }

  function expectedEvents(f: Filter, owner: Tenant = tenant): string[] {
    return newestFirst((events.get(owner) ?? []).filter((e) => (f.type === undefined || e.type === f.type) && inWindow(e.at, f)));
  }

  /** Walks every page at several page sizes: each walk must give exactly `ids`, in order, each once. */
  async function expectListing(path: string, ids: string[], owner: Tenant = tenant) {
    for (const limit of [1, 2, 5, 100]) {
      const { items, pages } = await walkPages<{ id: string }>(owner.client, path, limit);
      expect(
        items.map((r) => r.id),
        `${path} limit=${limit}`,
      ).toEqual(ids);
      expect(pages.length).toBe(Math.max(1, Math.ceil(ids.length / limit)));
    }
  }

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('filters');
    other = await stack.createTenant('filters-other');
    subA = (await subscribe(tenant, { url: 'https://a.example.com/' })).id;
    subB = (await subscribe(tenant, { url: 'https://b.example.com/' })).id;
    const otherSub = (await subscribe(other, { url: 'https://other.example.com/' })).id;

    for (let k = 0; k < 18; k++) {
      const type = TYPES[k % TYPES.length]!;
      const code = CODES[k % CODES.length]!;
      const status: Status = code === null ? 'pending' : code === 200 ? 'succeeded' : k % 2 ? 'dead' : 'pending';
      const event = await insertEvent(tenant, type, at(k));
      await insertDelivery(tenant, event, k % 3 === 0 ? subB : subA, status, code);
      // Every third event fans out to both subscriptions.
      if (k % 3 === 1) await insertDelivery(tenant, event, subB, 'dead', 500);
      // The other tenant has the same kinds of rows at the same times.
      const theirs = await insertEvent(other, type, at(k));
      await insertDelivery(other, theirs, otherSub, status, code);
    }
    // An event without deliveries, for the events list.
    await insertEvent(tenant, 'order.created', at(18));
    const late = await insertEvent(tenant, 'order.created', at(19));
    lateId = await insertDelivery(tenant, late, subA, 'dead', 500, v7At(at(19) + 3_000));
  });
  afterAll(async () => {
    await stack?.close();
  });

  describe('GET /v1/deliveries', () => {
    it('has the rows these tests expect', () => {
      const rows = deliveries.get(tenant)!;
      expect(rows).toHaveLength(25);
      expect(rows.filter((d) => d.statusCode === 500)).toHaveLength(13);
      expect(rows.filter((d) => d.eventType === 'order.created')).toHaveLength(8);
    });

    it.each([500, 503, 200, 404, 502])('filters by statusCode=%i', async (statusCode) => {
      const ids = expectedDeliveries({ statusCode });
      if (statusCode !== 502) expect(ids.length).toBeGreaterThan(0);
      await expectListing(`/v1/deliveries?statusCode=${statusCode}`, ids);
    });

    it('accepts the lowest and highest status codes', async () => {
      for (const code of [100, 599]) {
        const res = await tenant.client.get(`/v1/deliveries?statusCode=${code}&limit=100`);
        expect(res.status, res.text).toBe(200);
        expect(res.body.data).toEqual([]);
      }
    });

    it.each(['order.created', 'order.created.v2', 'user.created', 'Order.Created', 'order', 'nothing.here'])(
      'filters by the exact eventType=%s',
      async (eventType) => {
        const ids = expectedDeliveries({ eventType });
        if (TYPES.includes(eventType)) expect(ids.length).toBeGreaterThan(0);
        else expect(ids).toEqual([]);
        await expectListing(`/v1/deliveries?eventType=${encodeURIComponent(eventType)}`, ids);
      },
    );

    it('filters by since and until, since inclusive and until exclusive, to the millisecond', async () => {
      const windows: Filter[] = [
        { since: at(5) },
        { since: at(5) + 1 },
        { until: at(5) },
        { until: at(5) + 1 },
        { since: at(3), until: at(9) },
        { since: at(3) - 1, until: at(9) + 1 },
        { since: at(4), until: at(4) + 1 },
        { since: at(5), until: at(5) + 1 },
        { since: base - DAY, until: base },
        { since: at(30) },
      ];
      for (const w of windows) {
        const ids = expectedDeliveries(w);
        await expectListing(`/v1/deliveries${queryString(w)}`, ids);
      }
      // By hand: at(5) has one delivery; the window [at(3), at(9)) holds k = 3..8 (k = 4, 7 fan out to both).
      expect(expectedDeliveries({ since: at(5), until: at(5) + 1 })).toHaveLength(1);
      expect(expectedDeliveries({ since: at(3), until: at(9) })).toHaveLength(8);
      expect(expectedDeliveries({ since: base - DAY, until: base })).toEqual([]);
    });

    it('bounds created_at exactly even when an id was minted a little after its created_at', async () => {
      const ids = (f: Filter) => walkPages<{ id: string }>(tenant.client, `/v1/deliveries${queryString(f)}`, 100).then((r) => r.items.map((d) => d.id));
      expect(await ids({ since: at(19), until: at(19) + 1 })).toEqual([lateId.id]);
      expect(await ids({ since: at(19) + 1 })).toEqual([]);
      expect(await ids({ until: at(19) })).not.toContain(lateId.id);
      expect(await ids({ since: at(19) - 1, until: at(19) + 1, statusCode: 500, eventType: 'order.created' })).toEqual([lateId.id]);
    });

    it('combines the new filters with each other, the old ones and pagination', async () => {
      const combos: Filter[] = [
        { statusCode: 500, eventType: 'order.created' },
        { statusCode: 500, since: at(2), until: at(14) },
        { eventType: 'user.created', since: at(2) },
        { eventType: 'order.created', subscriptionId: subB },
        { statusCode: 500, status: 'dead', subscriptionId: subB, until: at(12) },
        { statusCode: 500, eventType: 'order.created.v2', status: 'dead', subscriptionId: subB, since: at(0), until: at(20) },
        { statusCode: 200, eventType: 'user.created', status: 'succeeded', since: at(1), until: at(8) },
        { statusCode: 200, status: 'dead' },
        { eventType: 'order.created', since: at(100) },
      ];
      let nonEmpty = 0;
      for (const f of combos) {
        const ids = expectedDeliveries(f);
        if (ids.length > 1) nonEmpty++;
        await expectListing(`/v1/deliveries${queryString(f)}`, ids);
      }
      expect(nonEmpty).toBeGreaterThanOrEqual(5);
      // By hand for one combination: order.created with code 500 at k = 0, 4, 12, 16, the fan-outs at
      // k = 4, 16, and the late one.
      expect(expectedDeliveries({ statusCode: 500, eventType: 'order.created' })).toHaveLength(7);
    });

    it('keeps a cursor from one page valid with the same filters, and never leaks other tenants', async () => {
      const f: Filter = { statusCode: 500, since: at(0), until: at(18) };
      const first = await tenant.client.get(`/v1/deliveries${queryString(f)}&limit=3`);
      expect(first.status, first.text).toBe(200);
      expect(first.body.data.map((d: { id: string }) => d.id)).toEqual(expectedDeliveries(f).slice(0, 3));
      const second = await tenant.client.get(`/v1/deliveries${queryString(f)}&limit=3&cursor=${first.body.nextCursor}`);
      expect(second.body.data.map((d: { id: string }) => d.id)).toEqual(expectedDeliveries(f).slice(3, 6));
      for (const d of [...first.body.data, ...second.body.data]) {
        expect(d.lastStatusCode).toBe(500);
        expect(Date.parse(d.createdAt)).toBeGreaterThanOrEqual(at(0));
        expect(Date.parse(d.createdAt)).toBeLessThan(at(18));
      }

      // The other tenant sees its own rows only, under the same filters.
      const theirs: Filter = { statusCode: 500, eventType: 'order.created', since: at(0) };
      expect(expectedDeliveries(theirs, other).length).toBeGreaterThan(0);
      await expectListing(`/v1/deliveries${queryString(theirs)}`, expectedDeliveries(theirs, other), other);
    });

    it('finds deliveries the API created in a window around their creation', async () => {
      const live = await stack.createTenant('filters-live');
      await subscribe(live, { url: 'https://a.example.com/' });
      await subscribe(live, { url: 'https://b.example.com/' });
      const before = Date.now();
      const published = await publish(live, 'live.event', { n: 1 });
      const after = Date.now() + 1;
      expect(published.deliveries).toBe(2);
      const found = await walkPages<{ id: string; eventId: string }>(live.client, `/v1/deliveries?eventType=live.event&since=${iso(before)}&until=${iso(after)}`, 1);
      expect(found.items).toHaveLength(2);
      expect(found.items.every((d) => d.eventId === published.id)).toBe(true);
      expect((await live.client.get(`/v1/deliveries?eventType=live.event&until=${iso(before)}`)).body.data).toEqual([]);
      expect((await live.client.get(`/v1/deliveries?eventType=live.event&since=${iso(after)}`)).body.data).toEqual([]);
      const events = await live.client.get(`/v1/events?type=live.event&since=${iso(before)}&until=${iso(after)}`);
      expect(events.body.data.map((e: { id: string }) => e.id)).toEqual([published.id]);
      expect((await live.client.get(`/v1/events?until=${iso(before)}`)).body.data).toEqual([]);
    });

    it.each([
      ['statusCode=abc', 'statusCode'],
      ['statusCode=99', 'statusCode'],
      ['statusCode=600', 'statusCode'],
      ['statusCode=500.5', 'statusCode'],
      ['statusCode=500&statusCode=503', 'statusCode'],
      ['eventType=order.*', 'eventType'],
      ['eventType=has%20space', 'eventType'],
      [`eventType=${'a'.repeat(256)}`, 'eventType'],
      ['since=yesterday', 'since'],
      ['since=2024-01-01', 'since'],
      ['until=2024-13-01T00:00:00Z', 'until'],
      ['until=2016-12-31T23:59:60Z', 'until'],
      ['since=0000-06-01T00:00:00Z', 'since'],
      ['since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
      ['since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00.000Z', 'since'],
      ['since=2024-01-01T00:00:00Z&until=2023-12-31T23:00:00-01:00', 'since'],
    ])('rejects ?%s with a 400 naming the parameter', async (query, field) => {
      expectBadRequest(await tenant.client.get(`/v1/deliveries?${query}`), field);
    });
  });

  describe('GET /v1/events', () => {
    it('filters by since and until, alone, with type and with pagination', async () => {
      const filters: Filter[] = [
        { since: at(5) },
        { since: at(5) + 1 },
        { until: at(5) },
        { until: at(5) + 1 },
        { since: at(3), until: at(9) },
        { since: at(18), until: at(20) },
        { since: at(0), until: at(19), type: 'order.created' },
        { since: at(7), type: 'Order.Created' },
        { until: at(0), type: 'order.created' },
        { since: base - DAY, until: base },
      ];
      for (const f of filters) await expectListing(`/v1/events${queryString(f)}`, expectedEvents(f));
      // By hand: at(18) and at(19) are order.created; at(0), (4), (8), (12), (16) too.
      expect(expectedEvents({ since: at(18), until: at(20) })).toHaveLength(2);
      expect(expectedEvents({ since: at(0), until: at(19), type: 'order.created' })).toHaveLength(6);
      expect(expectedEvents({ since: at(5), until: at(5) + 1 })).toHaveLength(1);
    });

    it('keeps tenants apart', async () => {
      const f: Filter = { since: at(0), until: at(10), type: 'user.created' };
      expect(expectedEvents(f, other).length).toBeGreaterThan(0);
      await expectListing(`/v1/events${queryString(f)}`, expectedEvents(f, other), other);
      await expectListing(`/v1/events${queryString(f)}`, expectedEvents(f), tenant);
    });

    it.each([
      ['since=yesterday', 'since'],
      ['until=2024-02-30T00:00:00Z', 'until'],
      ['until=0000-01-01T00:00:00Z', 'until'],
      ['since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
      ['since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
    ])('rejects ?%s with a 400 naming the parameter', async (query, field) => {
      expectBadRequest(await tenant.client.get(`/v1/events?${query}`), field);
    });
  });
});
