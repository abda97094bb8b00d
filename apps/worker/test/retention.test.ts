import { pino } from 'pino';
import { v7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, type Tenant } from '@hookrelay/testing';
import { runRetention } from '@hookrelay/worker';

const DAY = 24 * 60 * 60_000;

describe('retention', () => {
  let stack: Stack;
  let tenant: Tenant;
  let subscriptionId: string;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    subscriptionId = (await tenant.client.post('/v1/subscriptions', { url: 'http://127.0.0.1:9/' })).body.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** An event created `ageMs` ago (id and timestamp alike), with one delivery in `status` and an attempt. */
  async function eventAged(ageMs: number, status: 'pending' | 'succeeded' | 'dead') {
    const at = new Date(Date.now() - ageMs);
    const eventId = v7({ msecs: at.getTime() });
    const deliveryId = v7({ msecs: at.getTime() });
    await stack.db.sql`insert into events (id, tenant_id, type, data, delivery_count, created_at)
      values (${eventId}, ${tenant.id}, 'aged.event', '{}'::json, 1, ${at.toISOString()})`;
    await stack.db.sql`insert into deliveries (id, tenant_id, event_id, subscription_id, status, attempt_count, created_at, updated_at)
      values (${deliveryId}, ${tenant.id}, ${eventId}, ${subscriptionId}, ${status}, 1, ${at.toISOString()}, ${at.toISOString()})`;
    await stack.db.sql`insert into attempts (tenant_id, delivery_id, attempt, started_at, duration_ms, status_code)
      values (${tenant.id}, ${deliveryId}, 1, ${at.toISOString()}, 12, ${status === 'succeeded' ? 200 : 500})`;
    return eventId;
  }

  const exists = async (table: string, id: string) =>
    (await stack.db.sql.unsafe(`select 1 from ${table} where id = $1`, [id])).length === 1;

  it('removes exactly what is past the horizon, keeping anything still pending', async () => {
    const expiredSucceeded = await eventAged(40 * DAY, 'succeeded');
    const expiredDead = await eventAged(31 * DAY, 'dead');
    const expiredButPending = await eventAged(45 * DAY, 'pending');
    const justInside = await eventAged(29 * DAY, 'succeeded');
    const recent = await eventAged(1 * DAY, 'dead');
    await stack.db.sql`insert into idempotency_keys (tenant_id, key, event_id, created_at) values
      (${tenant.id}, 'old-key', ${recent}, now() - interval '25 hours'),
      (${tenant.id}, 'live-key', ${recent}, now() - interval '1 hour')`;
    const [source] = await stack.db.sql`insert into sources (id, tenant_id, provider, name, secrets)
      values (gen_random_uuid(), ${tenant.id}, 'github', 'gh', ${['s']}) returning id`;
    await stack.db.sql`insert into source_receipts (source_id, dedup_key, event_id, received_at) values
      (${source!.id}, 'old', ${recent}, now() - interval '31 days'), (${source!.id}, 'new', ${recent}, now())`;
    const attemptsBefore = Number((await stack.db.sql`select count(*)::int as n from attempts`)[0]!.n);

    const result = await runRetention(stack.db, stack.queues, 30, pino({ level: 'silent' }));

    expect(result).toMatchObject({ events: 2, idempotencyKeys: 1, receipts: 1 });
    expect(await exists('events', expiredSucceeded)).toBe(false);
    expect(await exists('events', expiredDead)).toBe(false);
    expect(await exists('events', expiredButPending)).toBe(true);
    expect(await exists('events', justInside)).toBe(true);
    expect(await exists('events', recent)).toBe(true);
    // Their deliveries and attempts went with them.
    const attemptsAfter = Number((await stack.db.sql`select count(*)::int as n from attempts`)[0]!.n);
    expect(attemptsBefore - attemptsAfter).toBe(2);
    const orphans = await stack.db.sql`select 1 from deliveries d left join events e on e.id = d.event_id where e.id is null`;
    expect(orphans).toHaveLength(0);
    expect((await stack.db.sql`select key from idempotency_keys`).map((r) => r.key)).toEqual(['live-key']);
    expect((await stack.db.sql`select dedup_key from source_receipts`).map((r) => r.dedup_key)).toEqual(['new']);

    // A second pass finds nothing more.
    expect(await runRetention(stack.db, stack.queues, 30, pino({ level: 'silent' }))).toMatchObject({ events: 0, idempotencyKeys: 0, receipts: 0 });
  });

  it('deletes in batches larger than one', async () => {
    const ids = [];
    for (let i = 0; i < 1_205; i++) ids.push(v7({ msecs: Date.now() - 60 * DAY + i }));
    await stack.db.sql`insert into events ${stack.db.sql(ids.map((id) => ({ id, tenant_id: tenant.id, type: 'bulk.old', data: '{}', delivery_count: 0, created_at: new Date(Date.now() - 60 * DAY).toISOString() })))}`;
    const result = await runRetention(stack.db, stack.queues, 30, pino({ level: 'silent' }));
    expect(result.events).toBe(1_205);
    expect((await stack.db.sql`select count(*)::int as n from events where type = 'bulk.old'`)[0]!.n).toBe(0);
  });

  it('is scheduled hourly by the workers, once for the fleet', async () => {
    await stack.startWorker();
    await stack.startWorker();
    const schedulers = await stack.queues.maintenance.getJobSchedulers();
    expect(schedulers.filter((s) => s.key === 'retention')).toHaveLength(1);
    expect(Number(schedulers.find((s) => s.key === 'retention')!.every)).toBe(60 * 60_000);
    await stack.stopWorkers();
  });
});
