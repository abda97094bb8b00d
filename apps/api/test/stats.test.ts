import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { expectBadRequest, expectNotFound, isIsoDate, subscribe, unknownId } from './helpers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A UUIDv7 minted at `ms`, as the API's own ids are. */
const v7At = (ms: number): string => v7({ msecs: ms });

type Status = 'pending' | 'succeeded' | 'dead';

interface AttemptSpec {
  at: number;
  durationMs: number;
  statusCode: number | null;
}

interface DeliverySpec {
  subscriptionId: string;
  /** created_at, epoch ms */
  at: number;
  status: Status;
  attempts: AttemptSpec[];
}

/** What the stats endpoint should answer, worked out here in plain code from the rows written. */
interface Seeded {
  subscriptionId: string;
  deliveryAt: number;
  status: Status;
  attempt: AttemptSpec;
  /** Insertion order: attempt ids follow it. */
  seq: number;
}

const isFailed = (code: number | null) => code === null || code < 200 || code > 299;

/** Linear interpolation between the closest ranks, as percentile_cont defines it. */
function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

describe('GET /v1/stats', () => {
  let stack: Stack;
  let tenant: Tenant;
  let other: Tenant;
  let empty: Tenant;
  /** tenant's subscriptions s[0] … s[6], ids ascending (UUIDv7, created in order) */
  const subs: { id: string; url: string }[] = [];
  let otherSub: { id: string; url: string };
  /** Every delivery and attempt written for `tenant`, for the expected figures. */
  const deliveriesOf = new Map<Tenant, DeliverySpec[]>();
  /** Every subscription's url, by id. */
  const urls = new Map<string, string>();
  let seq = 0;

  // The main window: two hours, three days ago, at an exact millisecond.
  const S = Date.now() - 3 * DAY;
  const U = S + 2 * HOUR;
  const m = (minutes: number) => S + minutes * MINUTE;

  async function seed(owner: Tenant, specs: DeliverySpec[]) {
    const list = deliveriesOf.get(owner) ?? [];
    deliveriesOf.set(owner, list);
    for (const d of specs) {
      list.push(d);
      const at = new Date(d.at).toISOString();
      const eventId = v7At(d.at);
      const deliveryId = v7At(d.at);
      const last = d.attempts.at(-1);
      await stack.db.sql`insert into events (id, tenant_id, type, data, delivery_count, created_at)
        values (${eventId}, ${owner.id}, 'stats.check', '{}'::json, 1, ${at})`;
      await stack.db.sql`insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count,
          last_status_code, created_at, updated_at)
        values (${deliveryId}, ${owner.id}, ${eventId}, ${d.subscriptionId}, ${d.status}, ${d.attempts.length},
          ${last?.statusCode ?? null}, ${at}, ${at})`;
      for (const [i, a] of d.attempts.entries()) {
        await stack.db.sql`insert into attempts (tenant_id, delivery_id, attempt, started_at, duration_ms, status_code)
          values (${owner.id}, ${deliveryId}, ${i + 1}, ${new Date(a.at).toISOString()}, ${a.durationMs}, ${a.statusCode})`;
        (a as AttemptSpec & { seq?: number }).seq = seq++;
      }
    }
  }

  /** The figures for `owner` over [since, until), optionally for one subscription, from the specs alone. */
  function expected(owner: Tenant, since: number, until: number, subscriptionId?: string) {
    const mine = (deliveriesOf.get(owner) ?? []).filter((d) => !subscriptionId || d.subscriptionId === subscriptionId);
    const created = mine.filter((d) => d.at >= since && d.at < until);
    const count = (status: Status) => created.filter((d) => d.status === status).length;
    const attempts: Seeded[] = mine.flatMap((d) =>
      d.attempts
        .filter((a) => a.at >= since && a.at < until)
        .map((a) => ({ subscriptionId: d.subscriptionId, deliveryAt: d.at, status: d.status, attempt: a, seq: (a as AttemptSpec & { seq: number }).seq })),
    );
    const failed = attempts.filter((a) => isFailed(a.attempt.statusCode));
    const bySub = new Map<string, Seeded[]>();
    for (const a of failed) bySub.set(a.subscriptionId, [...(bySub.get(a.subscriptionId) ?? []), a]);
    const top = [...bySub.entries()]
      .map(([id, rows]) => {
        const latest = rows.reduce((x, y) => (y.attempt.at > x.attempt.at || (y.attempt.at === x.attempt.at && y.seq > x.seq) ? y : x));
        return {
          subscriptionId: id,
          url: urls.get(id)!,
          failedAttempts: rows.length,
          ...(latest.attempt.statusCode === null ? {} : { lastStatusCode: latest.attempt.statusCode }),
        };
      })
      .sort((x, y) => y.failedAttempts - x.failedAttempts || (x.subscriptionId < y.subscriptionId ? -1 : 1))
      .slice(0, 5);
    const durations = attempts.map((a) => a.attempt.durationMs);
    const succeeded = count('succeeded');
    const dead = count('dead');
    return {
      since: new Date(since).toISOString(),
      until: new Date(until).toISOString(),
      deliveries: { total: created.length, pending: count('pending'), succeeded, dead },
      successRate: succeeded + dead === 0 ? null : succeeded / (succeeded + dead),
      attempts: {
        total: attempts.length,
        failed: failed.length,
        latencyMs: { p50: percentile(durations, 0.5), p95: percentile(durations, 0.95), p99: percentile(durations, 0.99) },
      },
      topFailingSubscriptions: top,
    };
  }

  const stats = async (t: Tenant, query: Record<string, string | number>) => {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, typeof v === 'number' ? new Date(v).toISOString() : v]));
    const res = await t.client.get(`/v1/stats${qs.size ? `?${qs}` : ''}`);
    expect(res.status, res.text).toBe(200);
    return res.body;
  };

  const attempt = (at: number, statusCode: number | null, durationMs: number): AttemptSpec => ({ at, statusCode, durationMs });

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('stats');
    other = await stack.createTenant('stats-other');
    empty = await stack.createTenant('stats-empty');
    for (let i = 0; i < 7; i++) {
      const sub = await subscribe(tenant, { url: `https://s${i}.example.com/hook` });
      subs.push({ id: sub.id, url: sub.url });
      urls.set(sub.id, sub.url);
    }
    const otherCreated = await subscribe(other, { url: 'https://other.example.com/hook' });
    otherSub = { id: otherCreated.id, url: otherCreated.url };
    urls.set(otherSub.id, otherSub.url);
    const [s0, s1, s2, s3, s4, s5, s6] = subs.map((s) => s.id) as [string, string, string, string, string, string, string];

    await seed(tenant, [
      // s0: 6 failed attempts in the window, the latest a 503.
      { subscriptionId: s0, at: S, status: 'succeeded', attempts: [attempt(m(1), 500, 120), attempt(m(2), 200, 35)] },
      {
        subscriptionId: s0,
        at: m(10),
        status: 'dead',
        attempts: [attempt(m(11), 500, 250), attempt(m(12), 502, 300), attempt(m(13), null, 2000), attempt(m(14), 503, 410)],
      },
      // Created before the window (not counted), retried inside it (its second attempt counts).
      { subscriptionId: s0, at: m(-30), status: 'dead', attempts: [attempt(m(-29), 500, 90), attempt(m(5), 404, 60)] },
      // s1: 5 failed, the latest without an answer (no lastStatusCode).
      {
        subscriptionId: s1,
        at: m(20),
        status: 'dead',
        attempts: [attempt(m(21), 500, 100), attempt(m(22), 500, 100), attempt(m(23), 429, 15), attempt(m(24), 300, 70), attempt(m(25), null, 5000)],
      },
      // s2: 4 failed (199 is not a success); two failures start at the same instant, the later row wins.
      { subscriptionId: s2, at: m(30), status: 'pending', attempts: [attempt(m(31), 199, 10), attempt(m(32), 500, 20), attempt(m(45), 500, 30)] },
      { subscriptionId: s2, at: m(40), status: 'succeeded', attempts: [attempt(m(45), 502, 25), attempt(m(46), 299, 45)] },
      // s3: 3 failed; and a delivery created 1 ms before the window ends.
      { subscriptionId: s3, at: m(50), status: 'dead', attempts: [attempt(m(51), 500, 11), attempt(m(52), 500, 12), attempt(m(53), 500, 13)] },
      { subscriptionId: s3, at: U - 1, status: 'pending', attempts: [] },
      // s4 and s5: 2 failed each; the tie goes to the smaller subscription id, s4, and s5 is sixth.
      { subscriptionId: s4, at: m(60), status: 'dead', attempts: [attempt(m(61), 410, 7), attempt(m(62), 410, 9)] },
      { subscriptionId: s5, at: m(70), status: 'succeeded', attempts: [attempt(m(71), 500, 5), attempt(m(72), 503, 6), attempt(m(73), 201, 8)] },
      // s6: no failures inside the window; one after it.
      { subscriptionId: s6, at: m(80), status: 'succeeded', attempts: [attempt(m(81), 200, 50), attempt(U + MINUTE, 500, 1)] },
      { subscriptionId: s6, at: U, status: 'pending', attempts: [attempt(U, 500, 999)] },
      { subscriptionId: s6, at: m(90), status: 'pending', attempts: [] },
    ]);
    // Another tenant's rows in the same window must never show up in `tenant`'s figures.
    await seed(other, [
      {
        subscriptionId: otherSub.id,
        at: m(15),
        status: 'dead',
        attempts: [attempt(m(16), 500, 1), attempt(m(17), 500, 2), attempt(m(18), 500, 100_000)],
      },
    ]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers every figure of the window exactly', async () => {
    const body = await stats(tenant, { since: S, until: U });
    expect(body).toEqual(expected(tenant, S, U));
    // The same figures, written out by hand, so the model above is checked too.
    expect(body.deliveries).toEqual({ total: 11, pending: 3, succeeded: 4, dead: 4 });
    expect(body.successRate).toBe(0.5);
    expect(body.attempts.total).toBe(26);
    expect(body.attempts.failed).toBe(22);
    const durations = [120, 35, 250, 300, 2000, 410, 60, 100, 100, 15, 70, 5000, 10, 20, 30, 25, 45, 11, 12, 13, 7, 9, 5, 6, 8, 50];
    const sorted = [...durations].sort((a, b) => a - b);
    // 26 values: p50 sits halfway between the 13th and 14th, p95 at 23.75, p99 at 24.75 (0-based ranks).
    expect(body.attempts.latencyMs.p50).toBe((sorted[12]! + sorted[13]!) / 2);
    expect(body.attempts.latencyMs.p50).toBe(32.5);
    expect(body.attempts.latencyMs.p95).toBeCloseTo(sorted[23]! + 0.75 * (sorted[24]! - sorted[23]!), 9);
    expect(body.attempts.latencyMs.p95).toBeCloseTo(1602.5, 9);
    expect(body.attempts.latencyMs.p99).toBeCloseTo(2000 + 0.75 * 3000, 9);
    expect(body.topFailingSubscriptions).toEqual([
      { subscriptionId: subs[0]!.id, url: 'https://s0.example.com/hook', failedAttempts: 6, lastStatusCode: 503 },
      { subscriptionId: subs[1]!.id, url: 'https://s1.example.com/hook', failedAttempts: 5 },
      { subscriptionId: subs[2]!.id, url: 'https://s2.example.com/hook', failedAttempts: 4, lastStatusCode: 502 },
      { subscriptionId: subs[3]!.id, url: 'https://s3.example.com/hook', failedAttempts: 3, lastStatusCode: 500 },
      { subscriptionId: subs[4]!.id, url: 'https://s4.example.com/hook', failedAttempts: 2, lastStatusCode: 410 },
    ]);
  });

  it('counts by created_at and started_at, since inclusive and until exclusive, to the millisecond', async () => {
    for (const [since, until] of [
      [S, U],
      [S + 1, U],
      [S, U - 1],
      [S - 1, U + 1],
      [m(30), m(50)],
      [m(45), m(45) + 1],
      [m(-30), S],
      [m(-60), U + HOUR],
      [U - 1, U],
    ] as const) {
      expect(await stats(tenant, { since, until }), `${since - S}..${until - S}`).toEqual(expected(tenant, since, until));
    }
    // A few by hand: the delivery created exactly at since is in, the one at until is out.
    expect((await stats(tenant, { since: S + 1, until: U })).deliveries.total).toBe(10);
    expect((await stats(tenant, { since: S, until: U + 1 })).deliveries.total).toBe(12);
    expect((await stats(tenant, { since: S, until: U + 1 })).attempts.total).toBe(27);
  });

  it('answers nulls for percentiles and successRate when there is nothing to measure', async () => {
    // One pending delivery, no attempts.
    expect(await stats(tenant, { since: U - 1, until: U })).toEqual({
      since: new Date(U - 1).toISOString(),
      until: new Date(U).toISOString(),
      deliveries: { total: 1, pending: 1, succeeded: 0, dead: 0 },
      successRate: null,
      attempts: { total: 0, failed: 0, latencyMs: { p50: null, p95: null, p99: null } },
      topFailingSubscriptions: [],
    });
  });

  it('narrows every figure to one subscription', async () => {
    for (const sub of subs) expect(await stats(tenant, { since: S, until: U, subscriptionId: sub.id })).toEqual(expected(tenant, S, U, sub.id));
    const s2 = await stats(tenant, { since: S, until: U, subscriptionId: subs[2]!.id });
    expect(s2.deliveries).toEqual({ total: 2, pending: 1, succeeded: 1, dead: 0 });
    expect(s2.successRate).toBe(1);
    // Durations 10, 20, 25, 30, 45: p95 at rank 3.8, p99 at rank 3.96.
    expect(s2.attempts).toMatchObject({ total: 5, failed: 4, latencyMs: { p50: 25 } });
    expect(s2.attempts.latencyMs.p95).toBeCloseTo(42, 9);
    expect(s2.attempts.latencyMs.p99).toBeCloseTo(44.4, 9);
    expect(s2.topFailingSubscriptions).toEqual([
      { subscriptionId: subs[2]!.id, url: 'https://s2.example.com/hook', failedAttempts: 4, lastStatusCode: 502 },
    ]);
    // Only dead ones: a success rate of 0, not null.
    expect((await stats(tenant, { since: S, until: U, subscriptionId: subs[1]!.id })).successRate).toBe(0);
    // No failures: an empty top list, percentiles of one attempt.
    const s6 = await stats(tenant, { since: S, until: U, subscriptionId: subs[6]!.id });
    expect(s6.deliveries).toEqual({ total: 2, pending: 1, succeeded: 1, dead: 0 });
    expect(s6.attempts).toEqual({ total: 1, failed: 0, latencyMs: { p50: 50, p95: 50, p99: 50 } });
    expect(s6.topFailingSubscriptions).toEqual([]);
  });

  it('keeps tenants apart: others see their own figures or zeros, and 404 for a foreign subscription', async () => {
    const mine = await stats(other, { since: S, until: U });
    expect(mine).toEqual(expected(other, S, U));
    expect(mine.deliveries).toEqual({ total: 1, pending: 0, succeeded: 0, dead: 1 });
    expect(mine.attempts.total).toBe(3);
    expect(mine.attempts.latencyMs.p50).toBe(2);
    expect(mine.topFailingSubscriptions).toEqual([{ subscriptionId: otherSub.id, url: otherSub.url, failedAttempts: 3, lastStatusCode: 500 }]);

    for (const query of [{ since: S, until: U }, { since: m(-60), until: U + HOUR }, {}] as Record<string, number>[]) {
      expect(await stats(empty, query)).toMatchObject({
        deliveries: { total: 0, pending: 0, succeeded: 0, dead: 0 },
        successRate: null,
        attempts: { total: 0, failed: 0, latencyMs: { p50: null, p95: null, p99: null } },
        topFailingSubscriptions: [],
      });
    }
    expectNotFound(await empty.client.get(`/v1/stats?subscriptionId=${subs[0]!.id}`));
    expectNotFound(await other.client.get(`/v1/stats?subscriptionId=${subs[0]!.id}&since=${new Date(S).toISOString()}`));
    expectNotFound(await tenant.client.get(`/v1/stats?subscriptionId=${otherSub.id}`));
    expectNotFound(await tenant.client.get(`/v1/stats?subscriptionId=${unknownId()}`));
  });

  it('defaults to the last 24 hours, and to 24 hours before until or up to now when one end is given', async () => {
    const fresh = await stack.createTenant('stats-default');
    const sub = await subscribe(fresh, { url: 'https://default.example.com/hook' });
    urls.set(sub.id, sub.url);
    const now = Date.now();
    await seed(fresh, [
      { subscriptionId: sub.id, at: now - HOUR, status: 'succeeded', attempts: [attempt(now - HOUR, 200, 100)] },
      { subscriptionId: sub.id, at: now - 25 * HOUR, status: 'dead', attempts: [attempt(now - 25 * HOUR, 500, 300)] },
    ]);

    const before = Date.now();
    const body = await stats(fresh, {});
    const after = Date.now();
    expect(isIsoDate(body.since) && isIsoDate(body.until)).toBe(true);
    expect(Date.parse(body.until)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.until)).toBeLessThanOrEqual(after);
    expect(Date.parse(body.until) - Date.parse(body.since)).toBe(DAY);
    expect(body).toEqual(expected(fresh, Date.parse(body.since), Date.parse(body.until)));
    expect(body.deliveries).toEqual({ total: 1, pending: 0, succeeded: 1, dead: 0 });
    expect(body.attempts).toEqual({ total: 1, failed: 0, latencyMs: { p50: 100, p95: 100, p99: 100 } });

    // Only since: until is now.
    const sinceOnly = await stats(fresh, { since: now - 26 * HOUR });
    expect(Date.parse(sinceOnly.until)).toBeGreaterThanOrEqual(before);
    expect(sinceOnly.since).toBe(new Date(now - 26 * HOUR).toISOString());
    expect(sinceOnly.deliveries).toEqual({ total: 2, pending: 0, succeeded: 1, dead: 1 });
    expect(sinceOnly.successRate).toBe(0.5);
    expect(sinceOnly.topFailingSubscriptions).toEqual([{ subscriptionId: sub.id, url: sub.url, failedAttempts: 1, lastStatusCode: 500 }]);

    // Only until: since is 24 hours before it.
    const untilOnly = await stats(fresh, { until: now - 2 * HOUR });
    expect(untilOnly.since).toBe(new Date(now - 26 * HOUR).toISOString());
    expect(untilOnly).toEqual(expected(fresh, now - 26 * HOUR, now - 2 * HOUR));
    expect(untilOnly.deliveries).toEqual({ total: 1, pending: 0, succeeded: 0, dead: 1 });

    // A deleted subscription keeps its history, so its figures are still there.
    expect((await fresh.client.delete(`/v1/subscriptions/${sub.id}`)).status).toBe(204);
    const deleted = await stats(fresh, { since: now - 26 * HOUR, subscriptionId: sub.id });
    expect(deleted.deliveries.total).toBe(2);
    expect(deleted.topFailingSubscriptions).toEqual([{ subscriptionId: sub.id, url: sub.url, failedAttempts: 1, lastStatusCode: 500 }]);
  });

  it.each([
    ['since=yesterday', 'since'],
    ['since=2024-01-01', 'since'],
    ['until=2024-02-30T00:00:00Z', 'until'],
    ['until=1700000000000', 'until'],
    ['since=0000-01-01T00:00:00Z', 'since'],
    ['until=2016-12-31T23:59:60Z', 'until'],
    ['subscriptionId=not-a-uuid', 'subscriptionId'],
    ['tenantId=x', 'tenantId'],
    ['since=2024-01-02T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
    ['since=2024-01-01T00:00:00Z&until=2024-01-01T00:00:00Z', 'since'],
    ['since=2024-01-01T01:00:00%2B01:00&until=2024-01-01T00:00:00Z', 'since'],
    [`since=${new Date(Date.now() + DAY).toISOString()}`, 'since'],
  ])('rejects ?%s with a 400 naming the parameter', async (query, field) => {
    expectBadRequest(await tenant.client.get(`/v1/stats?${query}`), field);
  });

  it('requires an API key', async () => {
    expect((await stack.anonymous.get('/v1/stats')).status).toBe(401);
  });
});
