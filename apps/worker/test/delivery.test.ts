import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { Stack, eventually, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { USER_AGENT } from '@hookrelay/worker';
import { delivery, deliveriesOf, publish, settled, subscribe } from './helpers.ts';

describe('delivering an event', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;

  beforeAll(async () => {
    stack = await Stack.start({ workers: 1 });
    tenant = await stack.createTenant('acme');
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('posts a Standard Webhooks signed request that a peer implementation verifies', async () => {
    const sub = await subscribe(tenant, {
      url: `${receiver.url}/hooks?x=1`,
      eventTypes: ['invoice.*'],
      headers: { 'X-Team': 'billing' },
    });
    const event = await publish(tenant, 'invoice.paid', { amount: 1250, currency: 'EUR', lines: [{ sku: 'a' }] });
    expect(event.deliveries).toBe(1);

    const [req] = await receiver.waitFor(1);
    expect(req!.method).toBe('POST');
    expect(req!.path).toBe('/hooks?x=1');
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['user-agent']).toBe(USER_AGENT);
    expect(req!.headers['x-team']).toBe('billing');
    expect(req!.headers['webhook-id']).toBe(event.id);
    expect(Math.abs(Number(req!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(30);

    const verified = new Webhook(sub.secret).verify(req!.body, {
      'webhook-id': req!.headers['webhook-id'] as string,
      'webhook-timestamp': req!.headers['webhook-timestamp'] as string,
      'webhook-signature': req!.headers['webhook-signature'] as string,
    });
    expect(verified).toEqual({
      id: event.id,
      type: 'invoice.paid',
      timestamp: event.timestamp,
      data: { amount: 1250, currency: 'EUR', lines: [{ sku: 'a' }] },
    });
    // The same body signed with another secret must not verify.
    expect(() =>
      new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64')).verify(req!.body, {
        'webhook-id': req!.headers['webhook-id'] as string,
        'webhook-timestamp': req!.headers['webhook-timestamp'] as string,
        'webhook-signature': req!.headers['webhook-signature'] as string,
      }),
    ).toThrow();

    const [summary] = await deliveriesOf(tenant, event.id);
    const done = await settled(stack, tenant, summary!.id, 'succeeded');
    expect(done.attemptCount).toBe(1);
    expect(done.lastStatusCode).toBe(200);
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ attempt: 1, statusCode: 200, responseBody: 'ok', error: null });
  });

  it('fans out to every matching subscription and to no other', async () => {
    const other = await stack.createTenant('other');
    const a = await startReceiver();
    const b = await startReceiver();
    const c = await startReceiver();
    const d = await startReceiver();
    try {
      await subscribe(other, { url: a.url, eventTypes: ['user.created'] });
      await subscribe(other, { url: b.url, eventTypes: ['user.*'] });
      await subscribe(other, { url: c.url, eventTypes: ['order.*'] });
      await subscribe(other, { url: d.url, eventTypes: ['user.created'], enabled: false });
      const event = await publish(other, 'user.created', { id: 1 });
      expect(event.deliveries).toBe(2);
      await a.waitFor(1);
      await b.waitFor(1);
      await new Promise((r) => setTimeout(r, 300));
      expect(c.requests).toHaveLength(0);
      expect(d.requests).toHaveLength(0);
      expect(JSON.parse(a.requests[0]!.body).id).toBe(event.id);
    } finally {
      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    }
  });

  it('retries failed attempts on the schedule with the same webhook-id, recording each attempt', async () => {
    const flaky = await startReceiver();
    let calls = 0;
    flaky.respond((_req, res) => {
      calls += 1;
      res.writeHead(calls < 3 ? 500 : 204);
      res.end(calls < 3 ? `boom ${calls}` : '');
    });
    try {
      await subscribe(tenant, { url: flaky.url, eventTypes: ['retry.me'], retryPolicy: { schedule: [200, 400] } });
      const event = await publish(tenant, 'retry.me', { n: 1 });
      const [summary] = await deliveriesOf(tenant, event.id);
      const done = await settled(stack, tenant, summary!.id, 'succeeded');
      expect(done.attempts.map((a) => [a.attempt, a.statusCode, a.responseBody])).toEqual([
        [1, 500, 'boom 1'],
        [2, 500, 'boom 2'],
        [3, 204, ''],
      ]);
      expect(done.attempts[0]!.error).toBe('receiver answered 500');
      expect(new Set(flaky.requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([event.id]));
      // The second retry waited at least its scheduled 400 ms after the second attempt.
      expect(flaky.requests[2]!.receivedAt - flaky.requests[1]!.receivedAt).toBeGreaterThanOrEqual(350);
    } finally {
      await flaky.close();
    }
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    const target = await startReceiver();
    const redirecting = await startReceiver((_req, res) => {
      res.writeHead(307, { location: `${target.url}/elsewhere` });
      res.end();
    });
    try {
      await subscribe(tenant, { url: redirecting.url, eventTypes: ['redirect.test'], retryPolicy: { schedule: [] } });
      const event = await publish(tenant, 'redirect.test', {});
      const [summary] = await deliveriesOf(tenant, event.id);
      const dead = await settled(stack, tenant, summary!.id, 'dead');
      expect(dead.lastStatusCode).toBe(307);
      expect(dead.attempts).toHaveLength(1);
      expect(target.requests).toHaveLength(0);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });

  it('records a timeout as a failed attempt and keeps only the first 4 KiB of an answer', async () => {
    const silent = await startReceiver(() => {
      // never answers
    });
    const chatty = await startReceiver((_req, res) => {
      res.writeHead(500);
      res.end('x'.repeat(200_000));
    });
    try {
      await subscribe(tenant, { url: silent.url, eventTypes: ['slow.test'], retryPolicy: { schedule: [] } });
      await subscribe(tenant, { url: chatty.url, eventTypes: ['big.test'], retryPolicy: { schedule: [] } });
      const slow = await publish(tenant, 'slow.test', {});
      const big = await publish(tenant, 'big.test', {});
      const [slowDelivery] = await deliveriesOf(tenant, slow.id);
      const [bigDelivery] = await deliveriesOf(tenant, big.id);

      const timedOut = await settled(stack, tenant, slowDelivery!.id, 'dead');
      expect(timedOut.attempts[0]!.error).toMatch(/timed out after 2000 ms/);
      expect(timedOut.attempts[0]!.statusCode).toBeNull();
      expect(timedOut.attempts[0]!.durationMs).toBeGreaterThanOrEqual(1900);

      const truncated = await settled(stack, tenant, bigDelivery!.id, 'dead');
      expect(truncated.attempts[0]!.responseBody).toHaveLength(4096);
    } finally {
      await Promise.all([silent.close(), chatty.close()]);
    }
  });

  it('moves a delivery that gives up to the dead-letter queue, and a retry delivers it', async () => {
    const down = await startReceiver((_req, res) => {
      res.writeHead(503);
      res.end('down');
    });
    try {
      const sub = await subscribe(tenant, { url: down.url, eventTypes: ['dlq.test'], retryPolicy: { schedule: [100] } });
      const event = await publish(tenant, 'dlq.test', { k: 'v' });
      const [summary] = await deliveriesOf(tenant, event.id);
      const dead = await settled(stack, tenant, summary!.id, 'dead');
      expect(dead.attemptCount).toBe(2);
      expect(dead.lastStatusCode).toBe(503);
      expect(dead.lastError).toMatch(/gave up after 2 attempts/);

      const { eventually } = await import('@hookrelay/testing');
      const job = await eventually(async () => {
        const j = await stack.queues.deadLetters.getJob(summary!.id);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      });
      expect(job.data).toMatchObject({ deliveryId: summary!.id, eventId: event.id, subscriptionId: sub.id, attempts: 2, lastStatusCode: 503 });
      expect(job.failedReason).toMatch(/gave up after 2 attempts: receiver answered 503/);

      // The endpoint is fixed; one call starts a fresh round.
      down.respond((_req, res) => {
        res.writeHead(200);
        res.end('back');
      });
      const retry = await tenant.client.post(`/v1/deliveries/${summary!.id}/retry`);
      expect(retry.status).toBe(202);
      const revived = await settled(stack, tenant, summary!.id, 'succeeded');
      expect(revived.attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(revived.attempts[2]!.statusCode).toBe(200);
      expect(await stack.queues.deadLetters.getJob(summary!.id)).toBeUndefined();

      // A succeeded delivery can be sent again too; a pending one cannot.
      expect((await tenant.client.post(`/v1/deliveries/${summary!.id}/retry`)).status).toBe(202);
      await down.waitFor(4);
      await settled(stack, tenant, summary!.id, 'succeeded');
    } finally {
      await down.close();
    }
  });

  it('replays a dead letter when an operator retries it from the dead-letter queue', async () => {
    const receiverDown = await startReceiver((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    try {
      await subscribe(tenant, { url: receiverDown.url, eventTypes: ['board.retry'], retryPolicy: { schedule: [] } });
      const event = await publish(tenant, 'board.retry', {});
      const [summary] = await deliveriesOf(tenant, event.id);
      await settled(stack, tenant, summary!.id, 'dead');
      const { eventually } = await import('@hookrelay/testing');
      const job = await eventually(async () => {
        const j = await stack.queues.deadLetters.getJob(summary!.id);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      });
      receiverDown.respond((_req, res) => {
        res.writeHead(200);
        res.end();
      });
      await job.retry('failed');
      const revived = await settled(stack, tenant, summary!.id, 'succeeded');
      expect(revived.attemptCount).toBe(2);
    } finally {
      await receiverDown.close();
    }
  });

  it('queues each attempt as a small job that Redis keeps as a listpack and drops once it ran', async () => {
    const failing = await startReceiver((_req, res) => {
      res.writeHead(500);
      res.end();
    });
    await stack.stopWorkers();
    try {
      const sub = await subscribe(tenant, { url: failing.url, eventTypes: ['compact.job'], retryPolicy: { schedule: [60_000] } });
      const event = await publish(tenant, 'compact.job', { padding: 'x'.repeat(2_000) });
      const [summary] = await deliveriesOf(tenant, event.id);
      const firstId = `${summary!.id}.1`;
      const first = await stack.queues.deliveries.getJob(firstId);
      expect(first?.data).toEqual({ delivery: summary!.id, attempt: 1 });
      expect(first?.name).toBe(`deliver:${sub.id}`);
      // Every field fits hash-max-listpack-value: a hashtable would cost several times the memory
      // for each job of a backlog.
      expect(await stack.redis.object('ENCODING', stack.queues.deliveries.toKey(firstId))).toBe('listpack');

      await stack.startWorker();
      await failing.waitFor(1);
      // The next attempt is a job of its own on the retry queue; the finished one leaves Redis.
      const retry = await eventually(() => stack.queues.retries.getJob(`${summary!.id}.2`));
      expect(retry.data).toEqual({ delivery: summary!.id, attempt: 2 });
      expect(retry.name).toBe(`deliver:${sub.id}`);
      await eventually(async () => (await stack.redis.exists(stack.queues.deliveries.toKey(firstId))) === 0);
    } finally {
      if (stack.workers.length === 0) await stack.startWorker();
      await failing.close();
    }
  });

  it('ends deliveries to a subscription deleted before they ran as dead, with the reason', async () => {
    const target = await startReceiver();
    await stack.stopWorkers();
    try {
      const sub = await subscribe(tenant, { url: target.url, eventTypes: ['gone.test'] });
      const event = await publish(tenant, 'gone.test', {});
      expect((await tenant.client.delete(`/v1/subscriptions/${sub.id}`)).status).toBe(204);
      await stack.startWorker();
      const [summary] = await deliveriesOf(tenant, event.id);
      const dead = await settled(stack, tenant, summary!.id, 'dead');
      expect(dead.lastError).toBe('subscription was deleted');
      expect(dead.attempts).toHaveLength(0);
      expect(target.requests).toHaveLength(0);
    } finally {
      await target.close();
    }
  });

  it('uses the current secret and URL after a PATCH', async () => {
    const first = await startReceiver();
    const second = await startReceiver();
    try {
      const sub = await subscribe(tenant, { url: first.url, eventTypes: ['patch.test'] });
      const secret = 'whsec_' + Buffer.alloc(32, 9).toString('base64');
      const patched = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { url: second.url, secret });
      expect(patched.status).toBe(200);
      const event = await publish(tenant, 'patch.test', { after: true });
      const [req] = await second.waitFor(1);
      expect(first.requests).toHaveLength(0);
      const payload = new Webhook(secret).verify(req!.body, {
        'webhook-id': req!.headers['webhook-id'] as string,
        'webhook-timestamp': req!.headers['webhook-timestamp'] as string,
        'webhook-signature': req!.headers['webhook-signature'] as string,
      });
      expect(payload).toMatchObject({ id: event.id, data: { after: true } });
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
