import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, Stack, deleteRedisKeys, eventually, freePort, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { deliveriesOf, publish, settled, subscribe } from './helpers.ts';

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

describe('nothing accepted is lost', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('delivers events whose API process died after the commit, before anything reached Redis', async () => {
    await subscribe(tenant, { url: receiver.url, eventTypes: ['crash.after.commit'] });
    const port = await freePort();
    // This API process cannot reach Redis at all: it commits to Postgres, then fails to enqueue.
    const api = stack.spawn('api', { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    const client = new ApiClient(`http://127.0.0.1:${port}`, tenant.apiKey);
    await eventually(() => client.get('/healthz').then((r) => r.status === 200, () => false), 20_000);

    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await client.post('/v1/events', { type: 'crash.after.commit', data: { i } });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    api.kill('SIGKILL');
    await exited(api);
    expect(await stack.queues.deliveries.count()).toBe(0);

    await stack.startWorker();
    await receiver.waitFor(5, 20_000);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(ids));
    for (const id of ids) {
      const [summary] = await deliveriesOf(tenant, id);
      await settled(stack, tenant, summary!.id, 'succeeded');
    }
    await stack.stopWorkers();
  });

  it('redelivers a job whose worker was killed in the middle of the HTTP call', async () => {
    const slow = await startReceiver();
    let first = true;
    slow.respond((_req, res) => {
      if (first) {
        first = false; // hold the first request open: the worker dies while waiting for it
        return;
      }
      res.writeHead(200);
      res.end('second time lucky');
    });
    try {
      await subscribe(tenant, { url: slow.url, eventTypes: ['kill.worker'] });
      const worker = stack.spawn('worker');
      const event = await publish(tenant, 'kill.worker', { important: true });
      await slow.waitFor(1, 20_000);
      worker.kill('SIGKILL');
      await exited(worker);

      await stack.startWorker();
      await slow.waitFor(2, 20_000);
      const [summary] = await deliveriesOf(tenant, event.id);
      const done = await settled(stack, tenant, summary!.id, 'succeeded');
      // The interrupted call never produced a result, so it is not counted as an attempt.
      expect(done.attempts.map((a) => [a.attempt, a.statusCode])).toEqual([[1, 200]]);
      expect(slow.requests.every((r) => r.headers['webhook-id'] === event.id)).toBe(true);
    } finally {
      await stack.stopWorkers();
      await slow.close();
    }
  });

  it('rebuilds the queue from Postgres when Redis lost every job', async () => {
    const target = await startReceiver();
    try {
      await subscribe(tenant, { url: target.url, eventTypes: ['redis.lost'] });
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await publish(tenant, 'redis.lost', { i })).id);
      expect(await stack.queues.deliveries.count()).toBe(3);
      await deleteRedisKeys(stack.config.HOOKRELAY_REDIS_PREFIX);
      expect(await stack.queues.deliveries.count()).toBe(0);

      await stack.startWorker();
      await target.waitFor(3, 20_000);
      expect(new Set(target.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set(ids));
    } finally {
      await stack.stopWorkers();
      await target.close();
    }
  });

  it('lets an in-flight delivery finish when a worker shuts down gracefully', async () => {
    const slow = await startReceiver((_req, res) => {
      setTimeout(() => {
        res.writeHead(200);
        res.end('slow but fine');
      }, 800);
    });
    try {
      await subscribe(tenant, { url: slow.url, eventTypes: ['graceful.stop'] });
      const worker = stack.spawn('worker');
      const event = await publish(tenant, 'graceful.stop', {});
      await slow.waitFor(1, 20_000);
      worker.kill('SIGTERM');
      await exited(worker);
      expect(worker.exitCode).toBe(0);
      const [summary] = await deliveriesOf(tenant, event.id);
      // Committed before the process exited: no other worker is running.
      const d = await settled(stack, tenant, summary!.id, 'succeeded', 1_000);
      expect(d.attempts).toHaveLength(1);
      expect(slow.requests).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });
});
