import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { delivery, publish, subscribe } from './helpers.ts';

describe('replaying dead deliveries', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;
  let failing = true;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
    tenant = await stack.createTenant();
    receiver = await startReceiver((_req, res) => {
      res.writeHead(failing ? 500 : 200);
      res.end();
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  const deadOf = async (subscriptionId: string) =>
    (await tenant.client.get(`/v1/deliveries?status=dead&subscriptionId=${subscriptionId}`)).body.data as { id: string }[];
  const statuses = async (subscriptionId: string) =>
    ((await tenant.client.get(`/v1/deliveries?subscriptionId=${subscriptionId}`)).body.data as { status: string }[]).map((d) => d.status);

  async function deadSubscription(type: string, n: number) {
    failing = true;
    const sub = await subscribe(tenant, { url: receiver.url, eventTypes: [type], retryPolicy: { schedule: [] } });
    for (let i = 0; i < n; i++) await publish(tenant, type, { i });
    await eventually(async () => (await deadOf(sub.id)).length === n);
    return sub;
  }

  it('replays every dead delivery of a subscription in one call, and a second call replays nothing twice', async () => {
    const sub = await deadSubscription('bulk.replay', 4);
    failing = false;
    const first = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'dead' });
    const second = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'dead' });
    expect(first.status, first.text).toBe(202);
    expect(first.body.count).toBe(4);
    expect(second.status).toBe(202);

    await eventually(async () => (await statuses(sub.id)).every((s) => s === 'succeeded'));
    const dead = await tenant.client.get(`/v1/deliveries?subscriptionId=${sub.id}`);
    for (const d of dead.body.data) {
      const detail = await delivery(tenant, d.id);
      // One failed attempt, then exactly one replayed attempt: never two.
      expect(detail.attempts.map((a) => a.statusCode)).toEqual([500, 200]);
      expect(await stack.queues.deadLetters.getJob(d.id)).toBeUndefined();
    }
    const again = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'dead' });
    expect(again.body.count).toBe(0);
  });

  it('replays only inside the since/until window', async () => {
    const sub = await deadSubscription('window.replay', 2);
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    failing = true;
    await publish(tenant, 'window.replay', { late: true });
    await eventually(async () => (await deadOf(sub.id)).length === 3);
    failing = false;
    const res = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'dead', since: cut });
    expect(res.body.count).toBe(1);
    await eventually(async () => (await statuses(sub.id)).filter((s) => s === 'succeeded').length === 1);
    expect((await deadOf(sub.id)).length).toBe(2);

    const bad = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'pending' });
    expect(bad.status).toBe(400);
    const reversed = await tenant.client.post(`/v1/subscriptions/${sub.id}/replay`, { status: 'dead', since: cut, until: cut });
    expect(reversed.status).toBe(400);
  });

  it("replays a dead letter retried through Bull Board's own HTTP API, and Postgres follows", async () => {
    const sub = await deadSubscription('board.http', 1);
    const [dead] = await deadOf(sub.id);
    await eventually(async () => (await stack.queues.deadLetters.getJob(dead!.id))?.failedReason);
    failing = false;
    const res = await stack.admin.request('PUT', `/admin/queues/api/queues/dead-letters/${dead!.id}/retry`);
    expect(res.status, res.text).toBe(204);
    await eventually(async () => (await delivery(tenant, dead!.id)).status === 'succeeded');
    expect((await delivery(tenant, dead!.id)).attempts).toHaveLength(2);
  });

  it('lets an operator replay across a tenant, and only operators', async () => {
    const sub = await deadSubscription('operator.replay', 2);
    failing = false;
    expect((await tenant.client.post('/admin/replay', { tenantId: tenant.id })).status).toBe(401);
    const res = await stack.admin.post('/admin/replay', { tenantId: tenant.id, subscriptionId: sub.id });
    expect(res.status, res.text).toBe(202);
    expect(res.body.count).toBe(2);
    await eventually(async () => (await statuses(sub.id)).every((s) => s === 'succeeded'));
  });
});
