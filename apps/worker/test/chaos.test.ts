import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, deleteRedisKeys, eventually, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LEDGER_WAIT_MS = 90_000;

/**
 * Ledger check: every accepted event's deliveries end `succeeded`, each reached its receiver at
 * least once, and duplicates (allowed: at-least-once) are counted and reported.
 */
async function ledger(stack: Stack, tenant: Tenant, receivers: Receiver[], published: string[], label: string) {
  await eventually(
    async () => {
      // A publish whose commit reached Postgres as its connection was cut is stored though its
      // caller was told 503: such extra events must be delivered too, but are not counted here.
      const [row] = await stack.db.sql`select count(*) filter (where status <> 'succeeded')::int as open,
        count(*) filter (where event_id = any(${published}::uuid[]))::int as accepted
        from deliveries where tenant_id = ${tenant.id}`;
      return row!.open === 0 && row!.accepted === published.length * receivers.length;
    },
    LEDGER_WAIT_MS,
    250,
  ).catch(async (err: Error) => {
    // Say what is left open, so a slow drain can be told from a lost delivery.
    const open = await stack.db.sql`select status, attempt_count, (batch_id is not null) as batched, count(*)::int as n
      from deliveries where tenant_id = ${tenant.id} and status <> 'succeeded' group by 1, 2, 3 order by 4 desc`;
    throw new Error(`${label}: ledger did not balance (${published.length * receivers.length} expected): ${JSON.stringify(open)}; ${err.message}`);
  });
  let duplicates = 0;
  for (const receiver of receivers) {
    const seen = new Map<string, number>();
    for (const r of receiver.requests) seen.set(r.headers['webhook-id'] as string, (seen.get(r.headers['webhook-id'] as string) ?? 0) + 1);
    for (const id of published) expect(seen.get(id) ?? 0, `event ${id} never reached ${receiver.url}`).toBeGreaterThanOrEqual(1);
    duplicates += [...seen.values()].reduce((n, c) => n + c - 1, 0);
  }
  console.log(`${label}: ${published.length * receivers.length} deliveries, all succeeded; ${duplicates} duplicate request(s) at the receivers`);
  return duplicates;
}

describe('chaos', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function setup(type: string) {
    const tenant = await stack.createTenant(type);
    const receivers = [await startReceiver(), await startReceiver()];
    for (const r of receivers) await subscribe(tenant, { url: r.url, eventTypes: [`${type}.*`] });
    return { tenant, receivers };
  }

  async function publishMany(tenant: Tenant, type: string, n: number) {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await tenant.client.post('/v1/events', { type: `${type}.e`, data: { i } });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    return ids;
  }

  // Up to the ledger's own 90 s: a killed worker's leases keep its endpoints' slots until they
  // expire (the HTTP timeout plus 5 s), and the gate spreads the jobs it turns away meanwhile as it
  // would for an endpoint that holds every slot, so a run can take 45 s or more to drain.
  it('loses nothing when worker processes are killed with SIGKILL again and again under load', async () => {
    const { tenant, receivers } = await setup('chaos-kill');
    try {
      const slow = 20; // ms per answer, so kills land in the middle of deliveries
      for (const r of receivers) r.respond((_req, res) => void setTimeout(() => res.writeHead(200).end('ok'), slow));
      let workers: ChildProcess[] = [stack.spawn('worker'), stack.spawn('worker')];
      const publishing = publishMany(tenant, 'chaos-kill', 150);
      for (let round = 0; round < 6; round++) {
        await sleep(900);
        const victim = workers[round % 2]!;
        victim.kill('SIGKILL');
        workers[round % 2] = stack.spawn('worker');
      }
      const published = await publishing;
      const duplicates = await ledger(stack, tenant, receivers, published, 'repeated kill -9');
      expect(duplicates).toBeGreaterThanOrEqual(0);
      for (const w of workers) w.kill('SIGKILL');
      workers = [];
    } finally {
      await Promise.all(receivers.map((r) => r.close()));
    }
  }, 120_000);

  it('rebuilds everything from Postgres when Redis is flushed in the middle of delivering', async () => {
    const { tenant, receivers } = await setup('chaos-flush');
    try {
      await stack.startWorker();
      const publishing = publishMany(tenant, 'chaos-flush', 120);
      await sleep(500);
      await deleteRedisKeys(stack.config.HOOKRELAY_REDIS_PREFIX); // everything queued is gone
      const published = await publishing;
      await deleteRedisKeys(stack.config.HOOKRELAY_REDIS_PREFIX);
      await ledger(stack, tenant, receivers, published, 'Redis flushed twice');
    } finally {
      await stack.stopWorkers();
      await Promise.all(receivers.map((r) => r.close()));
    }
  });
});

describe('chaos: Redis restarted', () => {
  it('delivers everything after Redis (with AOF) is killed and restarted under load', async () => {
    const { spawn } = await import('node:child_process');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { freePort } = await import('@hookrelay/testing');
    const dir = await mkdtemp(join(tmpdir(), 'hookrelay-aof-'));
    const port = await freePort();
    // A Redis of this test's own, persisting every write, so it can be killed without harming others.
    const startRedis = () =>
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir], { stdio: 'ignore' });
    let redis = startRedis();
    const { Redis } = await import('ioredis');
    const ping = async () => {
      const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        c.disconnect();
      }
    };
    await eventually(ping, 10_000, 100);
    const stack = await Stack.start({ workers: 0, env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    const tenant = await stack.createTenant('chaos-restart');
    const receivers = [await startReceiver(), await startReceiver()];
    try {
      for (const r of receivers) await subscribe(tenant, { url: r.url, eventTypes: ['chaos-restart.*'] });
      await stack.startWorker();
      const published: string[] = [];
      for (let i = 0; i < 60; i++) published.push((await tenant.client.post('/v1/events', { type: 'chaos-restart.e', data: { i } })).body.id);
      redis.kill('SIGKILL');
      for (let i = 60; i < 100; i++) {
        // Redis is down: events are still accepted and committed; the reconciler enqueues them later.
        const res = await tenant.client.post('/v1/events', { type: 'chaos-restart.e', data: { i } });
        expect(res.status).toBe(202);
        published.push(res.body.id);
      }
      await sleep(500);
      redis = startRedis();
      await eventually(ping, 10_000, 100);
      await ledger(stack, tenant, receivers, published, 'Redis killed and restarted with AOF');
    } finally {
      await stack.close().catch(() => {});
      redis.kill('SIGKILL');
      await Promise.all(receivers.map((r) => r.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('chaos: Postgres unavailable for 30 s under load', () => {
  it('answers 503 to what it cannot store, delivers everything it accepted, and loses no attempt result', async () => {
    const { pino } = await import('pino');
    const { createDb } = await import('@hookrelay/db');
    const { buildApp } = await import('@hookrelay/api');
    const { startWorker } = await import('@hookrelay/worker');
    const { ApiClient, freePort, startTcpProxy } = await import('@hookrelay/testing');
    const stack = await Stack.start({ workers: 0 });
    const tenant = await stack.createTenant('chaos-pg');
    const receivers = [await startReceiver(), await startReceiver()];
    for (const r of receivers) await subscribe(tenant, { url: r.url, eventTypes: ['chaos-pg.*'] });
    // The API and the worker under test reach Postgres through a proxy the test cuts.
    const port = await freePort();
    let proxy = await startTcpProxy(port, 5432);
    const url = new URL(stack.config.DATABASE_URL);
    url.port = String(port);
    const config = { ...stack.config, DATABASE_URL: url.toString() };
    const db = createDb(config.DATABASE_URL, { max: 4, encryptionKeys: config.encryptionKeys });
    const app = await buildApp({ db, queues: stack.queues, redis: stack.redis, redisPrefix: config.HOOKRELAY_REDIS_PREFIX, adminToken: config.ADMIN_TOKEN, logger: false });
    const client = new ApiClient(await app.listen({ port: 0, host: '127.0.0.1' }), tenant.apiKey);
    const worker = await startWorker(config, pino({ level: 'silent' }));
    try {
      const accepted: string[] = [];
      let refused = 0;
      let stop = false;
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          const res = await client.post('/v1/events', { type: 'chaos-pg.e', data: { i } });
          if (res.status === 202) accepted.push(res.body.id);
          else if (res.status === 503) refused++;
          else throw new Error(`unexpected ${res.status}: ${res.text}`);
          await sleep(100);
        }
      })();
      await sleep(2_000);
      await proxy.close();
      await sleep(30_000);
      proxy = await startTcpProxy(port, 5432);
      await sleep(2_000);
      stop = true;
      await load;
      expect(refused).toBeGreaterThan(0);
      await ledger(stack, tenant, receivers, accepted, `Postgres away 30 s (${refused} publishes refused with 503)`);
    } finally {
      await worker.close().catch(() => {});
      await app.close();
      await db.close().catch(() => {});
      await proxy.close();
      await Promise.all(receivers.map((r) => r.close()));
      await stack.close().catch(() => {});
    }
  }, 34_000 + LEDGER_WAIT_MS + 20_000); // the load's 34 s, the ledger's wait, set-up and teardown
});
