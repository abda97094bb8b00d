import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FanoutCache, createDb, newId, publishEvents, readFanoutTargets, type Db } from '@hookrelay/db';
import { createTestDatabase, type TestDatabase } from '@hookrelay/testing';

describe('fan-out targets remembered between publish batches', () => {
  let database: TestDatabase;
  let db: Db;
  let tenantId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url);
    tenantId = newId();
    await db.sql`insert into tenants (id, name) values (${tenantId}, 'cached')`;
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  const subscribe = async (eventTypes: string[]) => {
    const id = newId();
    await db.sql`
      insert into subscriptions (id, tenant_id, url, secret, event_types)
      values (${id}, ${tenantId}, 'https://hooks.example.com/in', 'fan-out never reads it', ${eventTypes})`;
    return id;
  };
  const publishOne = async (cache: FanoutCache, type = 'a.b') => (await publishEvents(db, [{ tenantId, input: { type, data: {} } }], cache))[0]!;

  it('trusts a remembered list exactly while the tenant version it was read at is current', async () => {
    const first = await subscribe(['a.b']);
    const cache = new FanoutCache();
    expect((await publishOne(cache)).deliveries.map((d) => d.subscriptionId)).toEqual([first]);
    const remembered = cache.get(tenantId)!;
    expect(remembered.subscriptions.map((s) => s.id)).toEqual([first]);

    // A list that disagrees with the table but carries the current version is used as it is:
    // the version, not a read, decides.
    cache.set(tenantId, { version: remembered.version, subscriptions: [] });
    expect((await publishOne(cache)).deliveries).toEqual([]);

    // A new subscription bumps the version: the remembered list is stale, read again, and the
    // event gets both, with the new version remembered.
    const second = await subscribe(['a.*']);
    const published = await publishOne(cache);
    expect(published.deliveries.map((d) => d.subscriptionId).sort()).toEqual([first, second].sort());
    expect(published.event.deliveryCount).toBe(2);
    const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from deliveries where event_id = ${published.event.id}`;
    expect(row!.n).toBe(2);
    expect(Number(cache.get(tenantId)!.version)).toBeGreaterThan(Number(remembered.version));
    expect((await readFanoutTargets(db, [tenantId])).get(tenantId)).toEqual(cache.get(tenantId));
  });

  it('re-reads a stale list inside an idempotency-key transaction without losing the key', async () => {
    const cache = new FanoutCache();
    await publishOne(cache);
    await subscribe(['a.b']);
    const [withKey] = await publishEvents(db, [{ tenantId, input: { type: 'a.b', data: {}, idempotencyKey: 'k-1' } }], cache);
    expect(withKey!.replayed).toBe(false);
    expect(withKey!.deliveries).toHaveLength(3);
    const [again] = await publishEvents(db, [{ tenantId, input: { type: 'a.b', data: {}, idempotencyKey: 'k-1' } }], cache);
    expect(again!.replayed).toBe(true);
    expect(again!.event.id).toBe(withKey!.event.id);
  });
});
