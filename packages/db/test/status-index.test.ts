import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, deliveriesPageQuery, listDeliveries, newId, type Db, type DeliveryStatus } from '@hookrelay/db';
import { createTestDatabase, type TestDatabase } from '@hookrelay/testing';

// deliveries_tenant_status_idx holds only the deliveries that have not succeeded.
describe('the status index', () => {
  let database: TestDatabase;
  let db: Db;
  const tenantId = newId();
  const counts: Record<DeliveryStatus, number> = { succeeded: 40, dead: 3, pending: 2 };

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection: the session settings below apply to the statements that follow them.
    db = createDb(database.url, { max: 1 });
    const subscriptionId = newId();
    await db.sql`insert into tenants (id, name) values (${tenantId}, 'status-index')`;
    await db.sql`
      insert into subscriptions (id, tenant_id, url, secret, event_types)
      values (${subscriptionId}, ${tenantId}, 'https://hooks.example.com/in', 'never read', ${['a']})`;
    for (const [status, n] of Object.entries(counts)) {
      for (let i = 0; i < n; i++) {
        const eventId = newId();
        await db.sql`insert into events (id, tenant_id, type, data, delivery_count) values (${eventId}, ${tenantId}, 'a', '{}', 1)`;
        await db.sql`
          insert into deliveries (id, tenant_id, event_id, subscription_id, status)
          values (${newId()}, ${tenantId}, ${eventId}, ${subscriptionId}, ${status}::delivery_status)`;
      }
    }
    await db.sql`analyze deliveries`;
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  /** The plan Postgres makes for the listing without knowing its parameters, as a generic plan. */
  async function genericPlan(status: DeliveryStatus): Promise<string> {
    const { sql, params } = deliveriesPageQuery(db, tenantId, { status, limit: 10 }).toSQL();
    const literal = (p: unknown) => (typeof p === 'number' ? String(p) : `'${String(p).replaceAll("'", "''")}'`);
    await db.sql.unsafe(`prepare page as ${sql}`);
    try {
      await db.sql`set plan_cache_mode = force_generic_plan`;
      // A table this small is read whole by choice; the question is whether the index may be used.
      await db.sql`set enable_seqscan = off`;
      const rows = await db.sql.unsafe(`explain (costs off) execute page(${params.map(literal).join(', ')})`);
      return rows.map((r) => String(r['QUERY PLAN'])).join('\n');
    } finally {
      await db.sql`reset all`;
      await db.sql`deallocate page`;
    }
  }

  it.each(['dead', 'pending'] as const)('serves ?status=%s from the index, even in a plan made without the value', async (status) => {
    expect(await genericPlan(status)).toContain('deliveries_tenant_status_idx');
    const page = await listDeliveries(db, tenantId, { status, limit: 10 });
    expect(page.data.map((d) => d.status)).toEqual(Array(counts[status]).fill(status));
  });

  it('lists succeeded deliveries, which the index leaves out, from the tenant index', async () => {
    expect(await genericPlan('succeeded')).not.toContain('deliveries_tenant_status_idx');
    const page = await listDeliveries(db, tenantId, { status: 'succeeded', limit: 50 });
    expect(page.data).toHaveLength(counts.succeeded);
    expect(new Set(page.data.map((d) => d.status))).toEqual(new Set(['succeeded']));
  });
});
