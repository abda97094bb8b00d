import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, freePort, startReceiver, startTcpProxy, type Receiver, type TcpProxy, type Tenant } from '@hookrelay/testing';
import { startWorker, type WorkerHandle } from '@hookrelay/worker';
import { deliveriesOf, publish, settled, subscribe } from './helpers.ts';

describe('a worker whose database goes away mid-delivery', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;
  let proxy: TcpProxy;
  let worker: WorkerHandle | undefined;
  let answer: (() => void) | undefined;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    // Holds each request until the test lets it answer.
    receiver = await startReceiver((_req, res) => {
      answer = () => {
        res.writeHead(200);
        res.end('got it');
      };
    });
  });
  afterAll(async () => {
    await worker?.close();
    await proxy?.close();
    await receiver?.close();
    await stack?.close();
  });

  it('holds the attempt result until Postgres is back instead of losing it or sending again', async () => {
    await subscribe(tenant, { url: receiver.url, eventTypes: ['outage.*'] });
    const port = await freePort();
    proxy = await startTcpProxy(port, 5432);
    const url = new URL(stack.config.DATABASE_URL);
    url.port = String(port);
    worker = await startWorker({ ...stack.config, DATABASE_URL: url.toString() }, pino({ level: 'silent' }));

    const event = await publish(tenant, 'outage.write', { n: 1 });
    await receiver.waitFor(1);
    await proxy.close(); // Postgres is gone while the receiver is answering
    answer!();
    await new Promise((r) => setTimeout(r, 2_000));
    const [summary] = await deliveriesOf(tenant, event.id);
    expect(summary!.status).toBe('pending'); // nothing could be written yet

    proxy = await startTcpProxy(port, 5432);
    const done = await settled(stack, tenant, summary!.id, 'succeeded', 20_000);
    expect(done.attempts.map((a) => [a.attempt, a.statusCode, a.responseBody])).toEqual([[1, 200, 'got it']]);
    // The receiver was not called a second time to earn the same result again.
    await eventually(async () => (await stack.queues.deliveries.getActiveCount()) === 0);
    expect(receiver.requests).toHaveLength(1);
  });
});
