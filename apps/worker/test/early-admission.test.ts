import { beforeAll, describe, expect, it } from 'vitest';
import { enqueueRetry, queuePrefix } from '@hookrelay/queue';
import { eventually, type Stack, type Tenant } from '@hookrelay/testing';
import { publish, publishTogether, settled, slowAnswers, subscribe, suiteStack } from './helpers.ts';

// The worker asks the gate while it reads a delivery, with the endpoint's limits as its last read
// found them; the read has the last word.
describe('admission asked while the delivery is read', () => {
  const suite = suiteStack({ startWorker: true });
  let stack: Stack;
  let tenant: Tenant;
  beforeAll(() => ({ stack, tenant } = suite));

  const leasesOf = (subscriptionId: string) =>
    stack.redis.zrange(`${queuePrefix(stack.config.HOOKRELAY_REDIS_PREFIX)}:endpoint:${subscriptionId}:leases`, 0, -1);

  it('judges each attempt by the limits just read when they changed since the last read', async () => {
    const answers = slowAnswers(150);
    const slow = await suite.receiver(answers.handler);
    const sub = await subscribe(tenant, { url: slow.url, eventTypes: ['early.limits'], maxInFlight: 5 });
    // Read once with a cap of 5, which the worker now remembers for this endpoint.
    const warm = await publish(tenant, 'early.limits', { warm: true });
    await slow.waitFor(1, 10_000);
    expect(warm.deliveries).toBe(1);

    const patched = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { maxInFlight: 1 });
    expect(patched.status).toBe(200);
    const { refs } = await publishTogether(stack, tenant, 'early.limits', 4);
    for (const ref of refs) {
      const d = await settled(stack, tenant, ref.id, 'succeeded', 20_000);
      expect(d.attempts).toHaveLength(1);
    }
    // Asked early under the remembered cap of 5, the batch's requests would have been open together.
    expect(answers.most()).toBe(1);
    expect(slow.requests).toHaveLength(5);
    expect(await leasesOf(sub.id)).toEqual([]);
  });

  it('frees the lease it was given early when the read finds the attempt no longer owed', async () => {
    const r = await suite.receiver();
    const sub = await subscribe(tenant, { url: r.url, eventTypes: ['early.leftover'], maxInFlight: 1 });
    const sent = await publish(tenant, 'early.leftover', { n: 1 });
    await r.waitFor(1, 10_000);
    const [done] = (await tenant.client.get(`/v1/deliveries?eventId=${sent.id}`)).body.data as { id: string }[];
    await settled(stack, tenant, done!.id, 'succeeded');

    // A leftover job for the attempt already made: admitted early (the cap's one slot), then dropped.
    await enqueueRetry(stack.queues, { delivery: done!.id, attempt: 1 }, 0, sub.id);
    await eventually(async () => (await stack.queues.retries.getJobCounts('waiting', 'active', 'delayed')).active === 0 &&
      (await stack.queues.retries.getJobCounts('waiting')).waiting === 0, 10_000, 10);
    expect(await leasesOf(sub.id)).toEqual([]);
    // The endpoint's only slot is free: the next event goes at once, not once a lease expires.
    const next = await publish(tenant, 'early.leftover', { n: 2 });
    await r.waitFor(2, 5_000);
    expect(r.requests.map((q) => q.headers['webhook-id'])).toEqual([sent.id, next.id]);
  });
});
