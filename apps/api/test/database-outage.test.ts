import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '@hookrelay/db';
import { buildApp } from '@hookrelay/api';
import { ApiClient, Stack, createTestDatabase, freePort, startTcpProxy, type TcpProxy, type Tenant } from '@hookrelay/testing';

describe('while Postgres is unreachable', () => {
  let stack: Stack;
  let tenant: Tenant;
  let proxy: TcpProxy;
  let port: number;
  let client: ApiClient;
  let app: Awaited<ReturnType<typeof buildApp>>;
  let db: ReturnType<typeof createDb>;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    await tenant.client.post('/v1/subscriptions', { url: 'http://127.0.0.1:9/' });
    // A second API whose database connection goes through a proxy the test can cut.
    port = await freePort();
    proxy = await startTcpProxy(port, 5432);
    const url = new URL(stack.config.DATABASE_URL);
    url.port = String(port);
    db = createDb(url.toString(), { max: 2, encryptionKeys: stack.config.encryptionKeys });
    app = await buildApp({
      db,
      queues: stack.queues,
      redis: stack.redis,
      redisPrefix: stack.config.HOOKRELAY_REDIS_PREFIX,
      adminToken: stack.config.ADMIN_TOKEN,
      logger: false,
    });
    client = new ApiClient(await app.listen({ port: 0, host: '127.0.0.1' }), tenant.apiKey);
  });
  afterAll(async () => {
    await app?.close();
    await db?.close().catch(() => {});
    await proxy?.close();
    await stack?.close();
  });

  const events = async () => Number((await stack.db.sql`select count(*)::int as n from events`)[0]!.n);
  const deliveries = async () => Number((await stack.db.sql`select count(*)::int as n from deliveries`)[0]!.n);

  it('answers 503 with Retry-After and stores nothing, then works again when it is back', async () => {
    expect((await client.post('/v1/events', { type: 'outage.before', data: {} })).status).toBe(202);
    const before = [await events(), await deliveries()];

    await proxy.close();
    const during = await client.post('/v1/events', { type: 'outage.during', data: { lost: false } });
    expect(during.status, during.text).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
    expect(during.body.message).toMatch(/database is unavailable; nothing was stored/);
    expect([await events(), await deliveries()]).toEqual(before);

    proxy = await startTcpProxy(port, 5432);
    const after = await client.post('/v1/events', { type: 'outage.after', data: {} });
    expect(after.status, after.text).toBe(202);
    expect(await events()).toBe(before[0]! + 1);
  });
});

describe('a Postgres connection lost in the middle of a transaction', () => {
  it('fails that transaction with an error the caller can catch, and the process lives on', async () => {
    const port = await freePort();
    const proxy = await startTcpProxy(port, 5432);
    const database = await createTestDatabase();
    const url = new URL(database.url);
    url.port = String(port);
    const db = createDb(url.toString(), { max: 1 });
    // A deferred write on a socket the driver had already dropped used to throw from a timer.
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', record);
    try {
      const outcome = await db.sql
        .begin(async (tx) => {
          await tx`select 1`;
          const slow = tx`select pg_sleep(0.3)`;
          setTimeout(() => void proxy.close(), 50);
          await slow.catch(() => {});
          await tx`select 2`;
        })
        .then(
          () => 'committed',
          (err: { code?: string }) => err.code,
        );
      await new Promise((r) => setTimeout(r, 100));
      expect(outcome).toBe('CONNECTION_CLOSED');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
      await db.close().catch(() => {});
      await proxy.close();
      await database.drop();
    }
  });
});
