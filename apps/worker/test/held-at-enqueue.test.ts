import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attemptJobId } from '@hookrelay/queue';
import { Stack, eventually, metricValue, scrapeMetrics, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { deliveriesOf, pausingOnce, publish, settled, subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('jobs to an endpoint a worker found held back', () => {
  let stack: Stack;
  const receivers: Receiver[] = [];
  const heldAtEnqueue = async () =>
    metricValue(await scrapeMetrics(`${stack.baseUrl}/metrics`), 'hookrelay_deliveries_held_at_enqueue_total', { reason: 'retry_after' }) ?? 0;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack.close();
  });

  /** The job of an event's one delivery (published alone, it is a job of its own, not a batch). */
  async function jobOf(tenant: Tenant, eventId: string) {
    const [d] = await deliveriesOf(tenant, eventId);
    return { deliveryId: d!.id, job: () => stack.queues.deliveries.getJob(attemptJobId(d!.id, 1)) };
  }

  /** An endpoint paused by a 429 with Retry-After, and a worker that has been refused by the gate for it since. */
  async function pausedEndpoint(name: string, seconds: number) {
    const tenant = await stack.createTenant(name);
    const r = await startReceiver(pausingOnce(seconds));
    receivers.push(r);
    const sub = await subscribe(tenant, { url: r.url, eventTypes: ['m.paused'] });
    const first = await publish(tenant, 'm.paused', {});
    await r.waitFor(1, 10_000);
    const pausedAt = r.requests[0]!.receivedAt;
    // The worker asks the gate for this one, is refused, and tells the API processes.
    const second = await jobOf(tenant, (await publish(tenant, 'm.paused', {})).id);
    await eventually(async () => (await (await second.job())?.getState()) === 'delayed', 5_000, 10);
    expect((await second.job())?.processedOn).toBeGreaterThan(0);
    await sleep(50); // the notice crosses Redis
    return { tenant, r, sub, pausedAt, first, second };
  }

  it('are queued already delayed by the API, never taken by a worker before the pause ends, and then delivered', async () => {
    const { tenant, r, pausedAt, first, second } = await pausedEndpoint('held', 2);
    const before = await heldAtEnqueue();
    const third = await jobOf(tenant, (await publish(tenant, 'm.paused', {})).id);
    const job = await third.job();
    expect(await job?.getState()).toBe('delayed');
    // No worker took it: it was added with its delay.
    expect(job?.processedOn).toBeUndefined();
    expect(job?.delay).toBeGreaterThan(1_000);
    expect(await heldAtEnqueue()).toBe(before + 1);

    const [firstDelivery] = await deliveriesOf(tenant, first.id);
    for (const id of [firstDelivery!.id, second.deliveryId, third.deliveryId]) {
      const d = await settled(stack, tenant, id, 'succeeded', 20_000);
      expect(Date.parse(d.attempts.at(-1)!.startedAt)).toBeGreaterThanOrEqual(pausedAt + 2_000 - 50);
    }
    expect(r.requests.filter((q) => q.receivedAt < pausedAt + 2_000 - 50)).toHaveLength(1);
  });

  it('are queued as usual once the subscription is re-enabled, which resets its endpoint', async () => {
    const { tenant, sub } = await pausedEndpoint('reset', 30);
    for (const enabled of [false, true]) {
      const res = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { enabled });
      expect(res.status).toBe(200);
    }
    await sleep(50); // the reset's notice crosses Redis
    const before = await heldAtEnqueue();
    const next = await jobOf(tenant, (await publish(tenant, 'm.paused', {})).id);
    // Sent at once: the pause is gone from Redis and from what the API remembers.
    await settled(stack, tenant, next.deliveryId, 'succeeded', 5_000);
    expect(await heldAtEnqueue()).toBe(before);
  });
});
