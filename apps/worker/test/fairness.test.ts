import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { publish, subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const summary = (values: number[]) => ({ p50: percentile(values, 50), p95: percentile(values, 95), max: Math.max(...values) });

/**
 * Publishes one event and answers how long the webhook took to reach the receiver after the API
 * answered 202 (0 when it was already there by the time the 202 was read).
 */
async function timedDelivery(tenant: Tenant, receiver: Receiver, type: string): Promise<number> {
  const event = await publish(tenant, type, { at: Date.now() });
  const accepted = Date.now();
  const req = await eventually(() => receiver.requests.find((r) => r.headers['webhook-id'] === event.id), 20_000, 5);
  return Math.max(0, req.receivedAt - accepted);
}

/**
 * The most requests open at once, from when each arrived until its connection closed. The worker
 * gives up on a request (closing it) before it starts the next, but under load the receiver may
 * see the new request a few milliseconds before it sees the old one close: that is not an overlap.
 */
function mostConcurrent(spans: { start: number; end: number }[], slackMs = 50): number {
  let most = 0;
  for (const s of spans) {
    const open = spans.filter((o) => o.start <= s.start && o.end > s.start + slackMs).length;
    most = Math.max(most, open);
  }
  return most;
}

/**
 * Healthy deliveries one after another, `gapMs` apart; `before` (if any) runs ahead of each, so
 * the neighbour's events are already queued when the healthy one is published.
 */
async function measure(tenant: Tenant, receiver: Receiver, type: string, count: number, gapMs: number, before?: () => Promise<void>) {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    await before?.();
    latencies.push(await timedDelivery(tenant, receiver, type));
    await sleep(gapMs);
  }
  return latencies;
}

describe('fairness between endpoints', () => {
  let stack: Stack;
  const receivers: Receiver[] = [];
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0, env: { HOOKRELAY_WORKER_CONCURRENCY: '20' } });
    stack.spawn('worker');
    await eventually(
      async () => (await stack.queues.deliveries.getWorkersCount()) >= 1 && (await stack.queues.retries.getWorkersCount()) >= 1,
      25_000,
      50,
    );
  }, 40_000);
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.close();
  });

  it('keeps a healthy endpoint fast while a neighbour that never answers takes 90% of the traffic', { timeout: 60_000 }, async () => {
    const tenant = await stack.createTenant('neighbours');
    // A breaker would soon shut the hanging endpoint off (5 timeouts in a row); keep it in play, so
    // it is the in-flight cap (the tenant default of 10) that keeps it from taking every worker slot.
    const patched = await tenant.client.patch('/v1/settings', {
      breaker: { consecutiveFailures: 10_000, windowSize: 1_000, minimumAttempts: 1_000, failureRatePercent: 100 },
    });
    expect(patched.status, patched.text).toBe(200);
    const healthy = await receiver();
    // Never answers: every attempt runs into the 2 s delivery timeout.
    const spans: { start: number; end: number }[] = [];
    const hanging = await receiver((_req, res) => {
      const span = { start: Date.now(), end: Infinity };
      spans.push(span);
      res.on('close', () => (span.end = Date.now()));
    });
    await subscribe(tenant, { url: healthy.url, eventTypes: ['quiet.tick'] });
    const noisySub = await subscribe(tenant, { url: hanging.url, eventTypes: ['noisy.tick'], retryPolicy: { schedule: [] } });

    // Warm up connections and code paths, then measure the healthy endpoint alone.
    await measure(tenant, healthy, 'quiet.tick', 5, 20);
    const baseline = await measure(tenant, healthy, 'quiet.tick', 20, 100);

    // The neighbour floods: a backlog first, then nine of its events for every healthy one. (Each
    // held-back delivery is looked at again within ~0.3 s, so this cost grows with the backlog:
    // with ~1,000 of them waiting the healthy p95 reached 230-370 ms on a 2-core machine.)
    let noisy = 0;
    const flood = async (n: number) => {
      await Promise.all(Array.from({ length: n }, () => publish(tenant, 'noisy.tick', { i: noisy++ })));
    };
    for (let i = 0; i < 6; i++) await flood(10);
    const floodStarted = Date.now();
    const loaded = await measure(tenant, healthy, 'quiet.tick', 20, 100, () => flood(9));
    const floodMs = Date.now() - floodStarted;

    const mostOpen = mostConcurrent(spans);
    const base = summary(baseline);
    const busy = summary(loaded);
    console.log(
      `healthy endpoint latency alone: p50 ${base.p50} ms, p95 ${base.p95} ms, max ${base.max} ms; ` +
        `with a hanging neighbour taking ${noisy} of ${noisy + loaded.length} events: p50 ${busy.p50} ms, p95 ${busy.p95} ms, max ${busy.max} ms; ` +
        `hanging endpoint got ${hanging.requests.length} requests in ${floodMs} ms, at most ${mostOpen} open at once`,
      baseline.join(' '), '|', loaded.join(' '),
    );
    // The neighbour really was saturated all along: 10 requests open, replaced as each timed out...
    expect(mostOpen).toBe(10);
    expect(hanging.requests.length).toBeGreaterThanOrEqual(10 * Math.floor(floodMs / 2_000));
    expect(hanging.requests.length).toBeLessThan(noisy);
    expect((await tenant.client.get(`/v1/subscriptions/${noisySub.id}`)).body.health.state).toBe('closed');
    // ...while the healthy endpoint kept its latency.
    expect(busy.p95).toBeLessThanOrEqual(2 * base.p95 + 250);
  });

  it('sends a first attempt promptly while the retry queue holds a large backlog', { timeout: 60_000 }, async () => {
    const tenant = await stack.createTenant('backlog');
    // Let the failing endpoint take every retry: no breaker, no cap, no auto-disable.
    const patched = await tenant.client.patch('/v1/settings', {
      maxInFlight: 1_000,
      autoDisableAfterMs: 0,
      breaker: { consecutiveFailures: 10_000, windowSize: 1_000, minimumAttempts: 1_000, failureRatePercent: 100 },
    });
    expect(patched.status, patched.text).toBe(200);
    const healthy = await receiver();
    // First attempts fail at once (so the backlog builds quickly), retries only after 0.5 s each.
    const seen = new Set<string>();
    const failing = await receiver((req, res) => {
      const id = String(req.headers['webhook-id']);
      const delay = seen.has(id) ? 500 : 0;
      seen.add(id);
      setTimeout(() => {
        res.writeHead(500);
        res.end('still broken');
      }, delay);
    });
    await subscribe(tenant, { url: healthy.url, eventTypes: ['fresh.tick'] });
    for (let i = 0; i < 10; i++) {
      await subscribe(tenant, { url: failing.url, eventTypes: ['stuck.tick'], retryPolicy: { schedule: Array(49).fill(20) } });
    }

    await measure(tenant, healthy, 'fresh.tick', 3, 20);
    const baseline = await measure(tenant, healthy, 'fresh.tick', 20, 100);

    for (let i = 0; i < 20; i++) await publish(tenant, 'stuck.tick', { i });
    // 200 failing deliveries, each always due again 20 ms after its last failure. Their first
    // attempts are done (the first-attempt queue is empty again); their retries pile up.
    const backlog = await eventually(async () => {
      const waiting = await stack.queues.retries.getWaitingCount();
      const firsts = await stack.queues.deliveries.getWaitingCount();
      return waiting >= 120 && firsts === 0 ? waiting : undefined;
    }, 20_000, 50);
    const loaded = await measure(tenant, healthy, 'fresh.tick', 20, 100);
    const backlogAfter = await stack.queues.retries.getWaitingCount();

    const base = summary(baseline);
    const busy = summary(loaded);
    console.log(
      `first attempts alone: p50 ${base.p50} ms, p95 ${base.p95} ms; with ${backlog} retries waiting (${backlogAfter} after): ` +
        `p50 ${busy.p50} ms, p95 ${busy.p95} ms, max ${busy.max} ms; failing endpoint got ${failing.requests.length} requests`,
      loaded.join(' '),
    );
    expect(backlogAfter).toBeGreaterThanOrEqual(80);
    expect(failing.requests.length).toBeGreaterThan(200);
    // Had first attempts queued behind those retries, each would have waited seconds (~180 jobs, 20 at a time, 0.5 s each).
    expect(busy.p95).toBeLessThanOrEqual(2 * base.p95 + 250);
  });
});
