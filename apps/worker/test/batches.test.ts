import type { ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { endPendingDeliveries, findOverdueDeliveries } from '@hookrelay/db';
import { TEST_REDIS_URL, eventually, type Stack, type Tenant } from '@hookrelay/testing';
import { startReconciler } from '../src/reconciler.ts';
import { delivery, pausingOnce, publishTogether, settled, slowAnswers, subscribe, suiteStack } from './helpers.ts';

const batchIdsInDb = async (stack: Stack, ids: string[]) =>
  (await stack.db.sql<{ batch_id: string | null }[]>`select batch_id from deliveries where id = any(${ids}::uuid[])`).map((r) => r.batch_id);

describe('batch jobs for first attempts published together', () => {
  const suite = suiteStack();
  let stack: Stack;
  let tenant: Tenant;
  beforeAll(() => ({ stack, tenant } = suite));
  const receiver = suite.receiver;

  it('queues one batch job per endpoint and delivers each delivery once, with one attempt', async () => {
    const [a, b] = [await receiver(), await receiver()];
    const subA = await subscribe(tenant, { url: a.url, eventTypes: ['batch.pair'] });
    const subB = await subscribe(tenant, { url: b.url, eventTypes: ['batch.pair'] });
    const { events, refs } = await publishTogether(stack, tenant, 'batch.pair', 7);

    const jobs = await stack.queues.batches.getJobs(['waiting']);
    expect(jobs).toHaveLength(2);
    const bySub = new Map(refs.map((r) => [r.id, r.subscriptionId]));
    for (const job of jobs) {
      expect(job.data.deliveries).toHaveLength(7);
      // One endpoint per batch, named after its first delivery, as the rows record.
      expect(new Set(job.data.deliveries.map((id) => bySub.get(id))).size).toBe(1);
      expect(job.name).toBe(`deliver-batch:${bySub.get(job.data.deliveries[0]!)}`);
      expect(job.id).toBe(job.data.deliveries[0]);
      expect(new Set(await batchIdsInDb(stack, job.data.deliveries))).toEqual(new Set([job.id]));
    }
    expect(await stack.queues.deliveries.count()).toBe(0);

    await stack.startWorker();
    try {
      await a.waitFor(7, 15_000);
      await b.waitFor(7, 15_000);
      for (const ref of refs) {
        const d = await settled(stack, tenant, ref.id, 'succeeded');
        expect(d.attempts).toHaveLength(1);
      }
      for (const r of [a, b]) expect(r.requests.map((q) => q.headers['webhook-id']).sort()).toEqual([...events].sort());
      expect(new Set(refs.map((r) => r.subscriptionId))).toEqual(new Set([subA.id, subB.id]));
      await eventually(async () => (await stack.queues.batches.count()) === 0);
    } finally {
      await stack.stopWorkers();
    }
  });

  it('puts every delivery published through the API in exactly one job', async () => {
    const r = await receiver();
    await subscribe(tenant, { url: r.url, eventTypes: ['batch.api'] });
    const published = await Promise.all(
      Array.from({ length: 40 }, (_, i) => tenant.client.post('/v1/events', { type: 'batch.api', data: { i } })),
    );
    expect(published.every((res) => res.status === 202)).toBe(true);
    const rows = await stack.db.sql<{ id: string; batch_id: string | null }[]>`
      select d.id, d.batch_id from deliveries d join events e on e.id = d.event_id where e.type = 'batch.api'`;
    expect(rows).toHaveLength(40);
    const inBatches = (await stack.queues.batches.getJobs(['waiting'])).flatMap((j) => j.data.deliveries);
    const single = (await stack.queues.deliveries.getJobs(['waiting'])).map((j) => j.data.delivery);
    expect([...inBatches, ...single].sort()).toEqual(rows.map((row) => row.id).sort());
    // The row says which batch (if any) carries the first attempt.
    const batchOf = new Map(rows.map((row) => [row.id, row.batch_id]));
    for (const id of inBatches) expect(batchOf.get(id)).not.toBeNull();
    for (const id of single) expect(batchOf.get(id)).toBeNull();

    await stack.startWorker();
    try {
      await r.waitFor(40, 15_000);
      await eventually(async () => {
        const [row] = await stack.db.sql<{ n: number }[]>`
          select count(*)::int as n from deliveries d join events e on e.id = d.event_id where e.type = 'batch.api' and d.status = 'succeeded'`;
        return row!.n === 40;
      });
      expect(new Set(r.requests.map((q) => q.headers['webhook-id'])).size).toBe(40);
    } finally {
      await stack.stopWorkers();
    }
  });

  it("admits a batch's members at the gate in one script call with its first", async () => {
    const r = await receiver();
    const sub = await subscribe(tenant, { url: r.url, eventTypes: ['batch.together'] });
    await publishTogether(stack, tenant, 'batch.together', 8);
    // Every command Redis runs, from any client; the gate's admissions for this endpoint are the
    // script calls naming its key of attempts admitted this second. A first EVALSHA on a connection
    // may be sent again as EVAL: the same call.
    const monitored = new Redis(TEST_REDIS_URL);
    const monitor = await monitored.monitor();
    const admissions = new Map<string, string[]>();
    monitor.on('monitor', (_time: string, args: string[]) => {
      const script = args[0]?.toLowerCase() === 'evalsha' || args[0]?.toLowerCase() === 'eval';
      if (script && args.some((a) => a.endsWith(`:endpoint:${sub.id}:admitted`))) admissions.set(args.slice(2).join(' '), args.slice(2));
    });
    await stack.startWorker();
    try {
      await r.waitFor(8, 15_000);
      expect(admissions.size).toBe(1);
      // The key count, 7 keys, 5 settings, then 3 arguments per request: the first and seven behind it.
      expect([...admissions.values()][0]!.length - 1 - 7 - 5).toBe(8 * 3);
    } finally {
      await stack.stopWorkers();
      monitored.disconnect();
    }
  });

  it('hands members the endpoint cannot take now to jobs of their own, without spending attempts', async () => {
    const answers = slowAnswers(250);
    const slow = await receiver(answers.handler);
    await subscribe(tenant, { url: slow.url, eventTypes: ['batch.capped'], maxInFlight: 1 });
    const { refs } = await publishTogether(stack, tenant, 'batch.capped', 6);
    expect(await stack.queues.batches.count()).toBe(1);

    await stack.startWorker();
    try {
      // The batch cannot hold its members back for long: they leave it, delayed, as jobs of their own.
      await eventually(async () => (await stack.queues.deliveries.getDelayedCount()) > 0, 10_000, 20);
      await slow.waitFor(6, 20_000);
      for (const ref of refs) {
        const d = await settled(stack, tenant, ref.id, 'succeeded', 20_000);
        expect(d.attempts).toHaveLength(1);
      }
      expect(answers.most()).toBe(1);
      expect(slow.requests).toHaveLength(6);
    } finally {
      await stack.stopWorkers();
    }
  });

  it('holds a batch back whole while its endpoint is paused: one delayed job, no attempts spent', async () => {
    const r = await receiver(pausingOnce(2));
    await subscribe(tenant, { url: r.url, eventTypes: ['batch.paused'] });
    await publishTogether(stack, tenant, 'batch.paused', 1);
    await stack.startWorker();
    try {
      // The 429 pauses the endpoint for 2 s, fleet-wide.
      await r.waitFor(1, 10_000);
      const { refs } = await publishTogether(stack, tenant, 'batch.paused', 6);
      const ids = refs.map((ref) => ref.id).sort();
      const held = await eventually(async () => {
        const jobs = await stack.queues.batches.getJobs(['delayed']);
        return jobs.find((j) => j.data.deliveries.length === 6);
      }, 5_000, 10);
      expect([...held.data.deliveries].sort()).toEqual(ids);
      // None of its members was handed on as a job of its own, or sent.
      const own = (await stack.queues.deliveries.getJobs(['delayed', 'waiting', 'active'])).filter((j) => ids.includes(j.data.delivery));
      expect(own).toHaveLength(0);
      expect(r.requests).toHaveLength(1);

      for (const ref of refs) {
        const d = await settled(stack, tenant, ref.id, 'succeeded', 20_000);
        expect(d.attempts).toHaveLength(1);
        // Not before the pause was over (Redis's clock and the receiver's are this machine's).
        expect(Date.parse(d.attempts[0]!.startedAt)).toBeGreaterThanOrEqual(r.requests[0]!.receivedAt + 2_000 - 50);
      }
    } finally {
      await stack.stopWorkers();
    }
  });

  it("re-runs a crashed worker's batch, leaving alone the members it had already handed on", async () => {
    // The first two requests hang until the worker that sent them is killed; later ones are answered.
    const hanging: ServerResponse[] = [];
    const r = await receiver((_req, res) => {
      if (hanging.length < 2) {
        hanging.push(res);
        return;
      }
      res.writeHead(200);
      res.end('ok');
    });
    await subscribe(tenant, { url: r.url, eventTypes: ['batch.crash'], maxInFlight: 2 });
    const { events, refs } = await publishTogether(stack, tenant, 'batch.crash', 6);
    // A longer HTTP timeout than the tests' own, so the hanging requests are still waiting when it dies.
    const worker = stack.spawn('worker', { HOOKRELAY_DELIVERY_TIMEOUT_MS: '5000', HOOKRELAY_JOB_LOCK_MS: '6000' });
    try {
      await r.waitFor(2, 20_000);
      // Two members hold the endpoint's slots; the other four leave the batch as jobs of their own.
      const handedOn = await eventually(async () => {
        const jobs = await stack.queues.deliveries.getJobs(['delayed', 'waiting', 'active']);
        return jobs.length === 4 ? jobs.map((j) => j.data.delivery) : undefined;
      }, 4_000, 20);
      worker.kill('SIGKILL');
      await new Promise((resolve) => worker.once('exit', resolve));
      for (const res of hanging) res.destroy();

      await stack.startWorker();
      for (const ref of refs) {
        const d = await settled(stack, tenant, ref.id, 'succeeded', 30_000);
        // The killed worker's attempts left no result: each delivery has one recorded attempt.
        expect(d.attempts).toHaveLength(1);
      }
      const byEvent = new Map<string, number>();
      for (const q of r.requests) byEvent.set(String(q.headers['webhook-id']), (byEvent.get(String(q.headers['webhook-id'])) ?? 0) + 1);
      const eventOf = new Map(refs.map((ref) => [ref.id, ref.eventId]));
      // Handed-on members went once, by their own job; the two cut off went again when the batch re-ran.
      for (const id of handedOn) expect(byEvent.get(eventOf.get(id)!)).toBe(1);
      expect([...byEvent.values()].reduce((a, b) => a + b, 0)).toBe(8);
      expect(new Set(byEvent.keys())).toEqual(new Set(events));
    } finally {
      worker.kill('SIGKILL');
      await stack.stopWorkers();
    }
    // It waits out the dead worker's in-flight leases (the 5 s HTTP timeout and margin) and its
    // 6 s job lock: about 18 s on an idle machine, more beside the smoke bench.
  }, 90_000);

  it('does not send a member that was ended and retried in a round of its own while its batch was queued', async () => {
    const r = await receiver();
    const sub = await subscribe(tenant, { url: r.url, eventTypes: ['batch.revived'] });
    const { events, refs } = await publishTogether(stack, tenant, 'batch.revived', 3);
    expect(await stack.queues.batches.count()).toBe(1);
    // The endpoint is disabled while the batch waits (its pending deliveries end dead), then the
    // tenant retries one of them: a round of its own, with a job of its own.
    const ended = await endPendingDeliveries(stack.db, sub.id, 'disabled for the test', 100);
    expect(ended).toHaveLength(3);
    const retry = await tenant.client.post(`/v1/deliveries/${refs[0]!.id}/retry`, {});
    expect(retry.status, retry.text).toBe(202);
    expect(await batchIdsInDb(stack, [refs[0]!.id])).toEqual([null]);

    await stack.startWorker();
    try {
      await r.waitFor(1, 15_000);
      await settled(stack, tenant, refs[0]!.id, 'succeeded');
      await eventually(async () => (await stack.queues.batches.count()) === 0);
      // Give a wrongly sent duplicate time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([events[0]]);
      const d = await settled(stack, tenant, refs[0]!.id, 'succeeded');
      expect(d.attempts).toHaveLength(1);
      for (const ref of refs.slice(1)) expect((await delivery(tenant, ref.id)).status).toBe('dead');
    } finally {
      await stack.stopWorkers();
    }
  });

  it('lets the reconciler see a waiting batch, and re-enqueue its deliveries one by one once the batch is lost', async () => {
    const r = await receiver();
    await subscribe(tenant, { url: r.url, eventTypes: ['batch.lost'] });
    const { refs } = await publishTogether(stack, tenant, 'batch.lost', 5);
    const reconciler = startReconciler({
      db: stack.db,
      redis: stack.redis,
      queues: stack.queues,
      prefix: stack.config.HOOKRELAY_REDIS_PREFIX,
      intervalMs: 60_000,
      graceMs: 0,
      logger: pino({ level: 'silent' }),
    });
    try {
      // The earlier tests' workers may still hold the fleet's reconciler lease.
      await stack.redis.del(`{${stack.config.HOOKRELAY_REDIS_PREFIX}}:reconciler:lock`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const overdue = await findOverdueDeliveries(stack.db, 0, 100);
      expect(overdue.filter((d) => refs.some((r) => r.id === d.id)).map((d) => d.batchId)).toEqual(refs.map((r) => r.batchId));
      expect(await reconciler.runOnce()).toBe(0);
      expect(await stack.queues.deliveries.count()).toBe(0);

      const [batch] = await stack.queues.batches.getJobs(['waiting']);
      await batch!.remove();
      expect(await reconciler.runOnce()).toBe(5);
      const singles = (await stack.queues.deliveries.getJobs(['waiting'])).map((j) => j.id);
      expect(singles.sort()).toEqual(refs.map((ref) => `${ref.id}.1`).sort());
    } finally {
      await reconciler.stop();
    }

    await stack.startWorker();
    try {
      await r.waitFor(5, 15_000);
      for (const ref of refs) expect((await settled(stack, tenant, ref.id, 'succeeded')).attempts).toHaveLength(1);
      expect(r.requests).toHaveLength(5);
      expect((await delivery(tenant, refs[0]!.id)).attemptCount).toBe(1);
    } finally {
      await stack.stopWorkers();
    }
  });
});
