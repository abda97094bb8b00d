import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, newId, publishEvents, type Db } from '@hookrelay/db';
import { createTestDatabase, type TestDatabase } from '@hookrelay/testing';

// One connection, so every statement below and the look at pg_prepared_statements share a session.
describe('publish statements are prepared once per connection', () => {
  let database: TestDatabase;
  let db: Db;
  let tenantId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 1 });
    tenantId = newId();
    await db.sql`insert into tenants (id, name) values (${tenantId}, 'prepared')`;
    await db.sql`
      insert into subscriptions (id, tenant_id, url, secret, event_types)
      values (${newId()}, ${tenantId}, 'https://hooks.example.com/in', 'fan-out never reads it', ${['a.*']})`;
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  const prepared = async (startsWith: string) => {
    const rows = await db.sql<{ statement: string }[]>`select statement from pg_prepared_statements`;
    return rows.filter((r) => r.statement.trimStart().startsWith(startsWith)).length;
  };
  const publish = (count: number, key?: (i: number) => string) =>
    publishEvents(
      db,
      Array.from({ length: count }, (_, i) => ({ tenantId, input: { type: 'a.b', data: { i }, idempotencyKey: key?.(i) } })),
    );

  it('reuses one prepared insert for batches of any size, with and without idempotency keys', async () => {
    const before = Number((await db.sql<{ n: string }[]>`select count(*) as n from events`)[0]!.n);
    for (const size of [1, 7, 30]) await publish(size);
    const keyed = await publish(3, (i) => `key-${i}`);
    const replayed = await publish(3, (i) => `key-${i}`);

    expect(await prepared('with new_events as')).toBe(1);
    expect(await prepared('insert into idempotency_keys')).toBe(1);
    expect(await prepared('select i.tenant_id')).toBe(1);
    // Every event went in once, with its delivery; the replay answered the first events.
    const [counts] = await db.sql<{ events: string; deliveries: string }[]>`
      select (select count(*) from events) as events, (select count(*) from deliveries) as deliveries`;
    expect(Number(counts!.events) - before).toBe(1 + 7 + 30 + 3);
    expect(Number(counts!.deliveries)).toBe(Number(counts!.events));
    expect(replayed.map((r) => r.replayed)).toEqual([true, true, true]);
    expect(replayed.map((r) => r.event)).toEqual(keyed.map((r) => r.event));
  });
});
