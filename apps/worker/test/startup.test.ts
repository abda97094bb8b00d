import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, freePort, startReceiver, startTcpProxy, type Receiver, type Tenant } from '@hookrelay/testing';
import { publish, subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

describe('a worker started before its dependencies are up', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    receiver = await startReceiver();
    await subscribe(tenant, { url: receiver.url, eventTypes: ['startup.*'] });
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('waits for Redis, then delivers', async () => {
    const event = await publish(tenant, 'startup.redis', {});
    const port = await freePort();
    const worker = stack.spawn('worker', { REDIS_URL: `redis://127.0.0.1:${port}` });
    await sleep(2_000);
    expect(running(worker)).toBe(true);
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === event.id)).toHaveLength(0);

    const proxy = await startTcpProxy(port, 6379);
    try {
      await expect.poll(() => receiver.requests.some((r) => r.headers['webhook-id'] === event.id), { timeout: 20_000 }).toBe(true);
    } finally {
      worker.kill('SIGKILL');
      await proxy.close();
    }
  });

  it('waits for Postgres, then delivers', async () => {
    const event = await publish(tenant, 'startup.postgres', {});
    const port = await freePort();
    const url = new URL(stack.env.DATABASE_URL!);
    url.port = String(port);
    const worker = stack.spawn('worker', { DATABASE_URL: url.toString() });
    await sleep(2_000);
    expect(running(worker)).toBe(true);
    expect(receiver.requests.filter((r) => r.headers['webhook-id'] === event.id)).toHaveLength(0);

    const proxy = await startTcpProxy(port, 5432);
    try {
      await expect.poll(() => receiver.requests.some((r) => r.headers['webhook-id'] === event.id), { timeout: 30_000 }).toBe(true);
    } finally {
      worker.kill('SIGKILL');
      await proxy.close();
    }
  });
});
