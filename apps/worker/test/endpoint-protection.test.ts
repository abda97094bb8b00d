import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, startReceiver, type ReceivedRequest, type Receiver, type Tenant } from '@hookrelay/testing';
import { delivery, deliveriesOf, publish, settled, subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every delivery of a subscription (one page is plenty here). */
async function deliveriesTo(tenant: Tenant, subscriptionId: string) {
  const res = await tenant.client.get(`/v1/deliveries?subscriptionId=${subscriptionId}&limit=100`);
  expect(res.status, res.text).toBe(200);
  return res.body.data as { id: string; eventId: string; status: string; attemptCount: number; lastError: string | null }[];
}

const subscription = async (tenant: Tenant, id: string) => {
  const res = await tenant.client.get(`/v1/subscriptions/${id}`);
  expect(res.status, res.text).toBe(200);
  return res.body as {
    enabled: boolean;
    disabledReason: string | null;
    health: { state: string; failureRate: number | null; openedAt: string | null; nextProbeAt: string | null; failingSince: string | null };
  };
};

const answer = (status: number, headers: Record<string, string> = {}) => (_req: ReceivedRequest, res: ServerResponse) => {
  res.writeHead(status, headers);
  res.end(String(status));
};

/** The operational events a `hookrelay.*` subscriber has received so far. */
const operationalEvents = (receiver: Receiver) =>
  receiver.requests.map((r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> });

/** The most requests that fall into any window of `windowMs`, from each request onwards. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0; i < sorted.length; i++) {
    let n = 0;
    for (let j = i; j < sorted.length && sorted[j]! < sorted[i]! + windowMs; j++) n++;
    most = Math.max(most, n);
  }
  return most;
}

describe('endpoint protection across worker processes', () => {
  let stack: Stack;
  const receivers: Receiver[] = [];

  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    // Two real worker processes share the work: every limit must hold across both.
    stack.spawn('worker');
    stack.spawn('worker');
    await eventually(
      async () =>
        (await stack.queues.deliveries.getWorkersCount()) >= 2 && (await stack.queues.retries.getWorkersCount()) >= 2,
      25_000,
      50,
    );
  }, 40_000);
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.close();
  });

  it('has both worker processes delivering at once', async () => {
    // Each process runs at most 10 attempts at a time: more than 10 open requests take both.
    const tenant = await stack.createTenant('fleet');
    let open = 0;
    let mostOpen = 0;
    const slow = await receiver((_req, res) => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      setTimeout(() => {
        open -= 1;
        res.writeHead(200);
        res.end();
      }, 1_000);
    });
    await subscribe(tenant, { url: slow.url, eventTypes: ['fleet.test'], maxInFlight: 100 });
    // One at a time, so each delivery is a job of its own: publishes sent together would share a
    // batch job, which one process runs within its own 10 slots.
    for (let i = 0; i < 16; i++) await publish(tenant, 'fleet.test', { i });
    await slow.waitFor(16, 15_000);
    expect(mostOpen).toBeGreaterThan(10);
  });

  it('holds a rate limit and an in-flight cap fleet-wide without slowing an unlimited endpoint or using attempts', async () => {
    const tenant = await stack.createTenant('limits');
    const rated = await receiver();
    let open = 0;
    let mostOpen = 0;
    const capped = await receiver((_req, res) => {
      open += 1;
      mostOpen = Math.max(mostOpen, open);
      setTimeout(() => {
        open -= 1;
        res.writeHead(200);
        res.end('slow ok');
      }, 300);
    });
    const free = await receiver();
    const ratedSub = await subscribe(tenant, { url: rated.url, eventTypes: ['load.test'], rateLimit: { perSecond: 5 } });
    const cappedSub = await subscribe(tenant, { url: capped.url, eventTypes: ['load.test'], maxInFlight: 2 });
    const freeSub = await subscribe(tenant, { url: free.url, eventTypes: ['load.test'] });

    const EVENTS = 20;
    const ids: string[] = [];
    for (let i = 0; i < EVENTS; i++) ids.push((await publish(tenant, 'load.test', { i })).id);
    const published = Date.now();

    await free.waitFor(EVENTS, 20_000);
    await capped.waitFor(EVENTS, 30_000);
    await rated.waitFor(EVENTS, 30_000);

    // The rate limit: 5 a second with a burst of 1, measured where it matters, at the receiver.
    const times = rated.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    const span = times.at(-1)! - times[0]!;
    const rate = ((EVENTS - 1) / span) * 1000;
    console.log(`rate-limited endpoint: ${EVENTS} requests over ${span} ms (${rate.toFixed(2)}/s), busiest second ${busiestWindow(times, 1000)}`);
    // One extra for the time each request spends between admission and arrival.
    expect(busiestWindow(times, 1000)).toBeLessThanOrEqual(6);
    expect(busiestWindow(times, 2000)).toBeLessThanOrEqual(11);
    expect(span).toBeGreaterThanOrEqual((EVENTS - 1) * 200 - 150);
    // ...and the limit is used, not just respected: deferred deliveries come back in time for their slot.
    expect(rate).toBeGreaterThan(3.5);

    // The in-flight cap: never more than 2 requests open at once, and it does get to 2.
    expect(mostOpen).toBe(2);
    const cappedSpan = capped.requests.at(-1)!.receivedAt - capped.requests[0]!.receivedAt;
    expect(cappedSpan).toBeGreaterThanOrEqual(((EVENTS - 2) / 2) * 300 - 100);

    // The unlimited endpoint is not held up by its throttled neighbours.
    const freeDone = Math.max(...free.requests.map((r) => r.receivedAt));
    console.log(
      `unlimited endpoint done ${freeDone - published} ms after publishing; capped ${capped.requests.at(-1)!.receivedAt - published} ms; rate-limited ${times.at(-1)! - published} ms`,
    );
    expect(freeDone - published).toBeLessThan(2_000);
    expect(freeDone).toBeLessThan(times.at(-1)! - 1_500);
    expect(freeDone).toBeLessThan(capped.requests.at(-1)!.receivedAt - 1_000);

    // Each endpoint got each event exactly once, and held-back deliveries spent no attempts.
    for (const [r, sub] of [
      [rated, ratedSub],
      [capped, cappedSub],
      [free, freeSub],
    ] as const) {
      expect(new Set(r.requests.map((q) => q.headers['webhook-id']))).toEqual(new Set(ids));
      const rows = await eventually(async () => {
        const all = await deliveriesTo(tenant, sub.id);
        return all.length === EVENTS && all.every((d) => d.status === 'succeeded') ? all : undefined;
      });
      expect(rows.map((d) => d.attemptCount)).toEqual(Array(EVENTS).fill(1));
    }
    expect(rated.requests).toHaveLength(EVENTS);
    expect(capped.requests).toHaveLength(EVENTS);
  });

  it('opens the breaker after consecutive failures, probes once per cooldown across workers, and recovers', { timeout: 60_000 }, async () => {
    const tenant = await stack.createTenant('breaker');
    const settings = await tenant.client.patch('/v1/settings', { breaker: { consecutiveFailures: 3, cooldownMs: 1_500, maxCooldownMs: 3_000 } });
    expect(settings.status, settings.text).toBe(200);
    const ops = await receiver();
    await subscribe(tenant, { url: ops.url, eventTypes: ['hookrelay.*'] });
    // Slow to fail, so a probe is in flight for a while: long enough for a second one to show up if it could.
    const slowly = (status: number) => (req: ReceivedRequest, res: ServerResponse) => void setTimeout(() => answer(status)(req, res), 300);
    const failing = await receiver(slowly(500));
    // Retries every 300 ms: without the breaker each delivery would hit the endpoint every 0.6 s.
    const sub = await subscribe(tenant, { url: failing.url, eventTypes: ['flaky.test'], retryPolicy: { schedule: Array(40).fill(300) } });
    const spent = (rows: { attemptCount: number }[]) => rows.reduce((n, d) => n + d.attemptCount, 0);
    /** The subscription's deliveries once every request the receiver saw is recorded as an attempt. */
    const recorded = (count: number) =>
      eventually(async () => {
        const seen = failing.requests.length;
        const rows = await deliveriesTo(tenant, sub.id);
        return rows.length === count && spent(rows) === seen && failing.requests.length === seen ? { rows, seen } : undefined;
      }, 10_000, 50);

    const first = await Promise.all([0, 1, 2, 3].map(async (i) => (await publish(tenant, 'flaky.test', { i })).id));
    const opened = await eventually(async () => {
      const s = await subscription(tenant, sub.id);
      return s.health.state === 'open' ? s.health : undefined;
    }, 10_000, 50);
    const openedAt = Date.parse(opened.openedAt!);
    expect(Date.parse(opened.nextProbeAt!) - openedAt).toBe(1_500);
    const circuitOpened = await eventually(() => operationalEvents(ops).find((e) => e.type === 'hookrelay.endpoint.circuit_opened'));
    expect(circuitOpened.data).toMatchObject({ subscriptionId: sub.id, url: failing.url, lastStatusCode: 500 });

    // What reached the receiver came before the breaker opened (with any attempts in flight alongside).
    await sleep(Math.max(0, openedAt + 400 - Date.now()));
    const failed = failing.requests.length;
    expect(failed).toBeGreaterThanOrEqual(3);
    for (const r of failing.requests) expect(r.receivedAt).toBeLessThanOrEqual(openedAt);

    // Events published while it is open wait too, without using attempts.
    const later = await Promise.all([0, 1, 2].map(async (i) => (await publish(tenant, 'flaky.test', { later: i })).id));
    const before = await recorded(7);
    const laterAttempts = before.rows.filter((d) => later.includes(d.eventId)).reduce((n, d) => n + d.attemptCount, 0);
    // (A probe, due 1.5 s after opening, may have picked one of them on a slow machine.)
    expect(laterAttempts).toBeLessThanOrEqual(before.seen - failed);
    // Held back in Redis, off the workers: the first four as retries, the later ones as the batch
    // jobs they were published in (a batch the breaker holds back waits whole).
    // (A job being re-deferred is active for a moment, so look until the count settles.)
    const delayed = async () =>
      (await Promise.all([stack.queues.deliveries, stack.queues.retries, stack.queues.batches].map((q) => q.getDelayedCount()))).reduce((a, b) => a + b);
    await eventually(
      async () => (await delayed()) >= 5,
      1_000,
      20,
    );

    // Two cooldowns (1.5 s, then doubled to the 3 s maximum): exactly one probe each, from either worker.
    await failing.waitFor(failed + 2, 15_000);
    const during = await recorded(7);
    expect(during.seen).toBe(failed + 2);
    const [probe1, probe2] = failing.requests.slice(failed).map((r) => r.receivedAt) as [number, number];
    expect(probe1).toBeGreaterThanOrEqual(openedAt + 1_500 - 5);
    expect(probe1).toBeLessThan(openedAt + 1_500 + 2_500);
    expect(probe2 - probe1).toBeGreaterThanOrEqual(3_000 - 5);
    expect(probe2 - probe1).toBeLessThan(3_000 + 2_500);
    // Only the probes spent attempts; every other delivery kept its count.
    const changed = during.rows.filter((d) => d.attemptCount !== before.rows.find((b) => b.id === d.id)!.attemptCount);
    expect(spent(during.rows) - spent(before.rows)).toBe(during.seen - before.seen);
    expect(changed.length).toBeLessThanOrEqual(2);
    expect(during.rows.length - changed.length).toBeGreaterThanOrEqual(5);
    expect(['open', 'half_open']).toContain((await subscription(tenant, sub.id)).health.state);

    // The endpoint comes back: the next probe succeeds, the breaker closes, everything is delivered.
    failing.respond(slowly(200));
    const closed = await eventually(async () => {
      const s = await subscription(tenant, sub.id);
      return s.health.state === 'closed' ? s.health : undefined;
    }, 15_000, 50);
    expect(closed).toMatchObject({ openedAt: null, nextProbeAt: null, failingSince: null });
    const probe3 = failing.requests[failed + 2]!;
    expect(probe3.receivedAt - probe2).toBeGreaterThanOrEqual(3_000 - 5);
    const recovered = await eventually(() => operationalEvents(ops).find((e) => e.type === 'hookrelay.endpoint.recovered'));
    expect(recovered.data).toMatchObject({ subscriptionId: sub.id, url: failing.url });

    const done = await eventually(async () => {
      const rows = await deliveriesTo(tenant, sub.id);
      return rows.every((d) => d.status === 'succeeded') ? rows : undefined;
    }, 25_000, 200);
    // Each request was one attempt: the failures before and while open, then one success per delivery.
    expect(spent(done)).toBe(failing.requests.length);
    expect(failing.requests.length).toBe(failed + 2 + 7);
    expect(new Set(failing.requests.slice(failed + 2).map((r) => r.headers['webhook-id']))).toEqual(new Set([...first, ...later]));
    expect(operationalEvents(ops).filter((e) => e.type === 'hookrelay.endpoint.circuit_opened')).toHaveLength(1);
    expect(operationalEvents(ops).filter((e) => e.type === 'hookrelay.endpoint.recovered')).toHaveLength(1);
  });

  it('honours 429 Retry-After for the whole endpoint without counting it as a failure', async () => {
    const tenant = await stack.createTenant('backpressure');
    // A breaker this touchy would open on any single failure.
    await tenant.client.patch('/v1/settings', { breaker: { consecutiveFailures: 1, windowSize: 1, minimumAttempts: 1 } });
    const ops = await receiver();
    await subscribe(tenant, { url: ops.url, eventTypes: ['hookrelay.*'] });
    let calls = 0;
    const busy = await receiver((req, res) => {
      calls += 1;
      if (calls === 1) answer(429, { 'retry-after': '2' })(req, res);
      else answer(200)(req, res);
    });
    const sub = await subscribe(tenant, { url: busy.url, eventTypes: ['busy.test'], retryPolicy: { schedule: [100, 100, 100] } });

    const a = await publish(tenant, 'busy.test', { n: 'a' });
    const [throttled] = await busy.waitFor(1);
    const t1 = throttled!.receivedAt;
    const [aDelivery] = await deliveriesOf(tenant, a.id);
    // Once the 429 is recorded (the pause is set before that), other deliveries to the endpoint wait it out too.
    await eventually(async () => (await delivery(tenant, aDelivery!.id)).attemptCount === 1, 5_000, 20);
    const b = await publish(tenant, 'busy.test', { n: 'b' });
    const c = await publish(tenant, 'busy.test', { n: 'c' });
    await busy.waitFor(4, 10_000);
    const after = busy.requests.slice(1).map((r) => r.receivedAt - t1);
    console.log(`after a 429 with Retry-After: 2, the next requests came ${after.join(', ')} ms later`);
    for (const dt of after) {
      expect(dt).toBeGreaterThanOrEqual(2_000 - 5);
      expect(dt).toBeLessThan(2_000 + 2_500);
    }

    const done = await settled(stack, tenant, aDelivery!.id, 'succeeded');
    expect(done.attempts.map((x) => x.statusCode)).toEqual([429, 200]);
    for (const e of [b, c]) {
      const [d] = await deliveriesOf(tenant, e.id);
      expect((await settled(stack, tenant, d!.id, 'succeeded')).attemptCount).toBe(1);
    }
    const health = (await subscription(tenant, sub.id)).health;
    expect(health).toMatchObject({ state: 'closed', openedAt: null, failingSince: null });
    expect(health.failureRate).toBe(0);
    await sleep(300);
    expect(operationalEvents(ops).map((e) => e.type)).not.toContain('hookrelay.endpoint.circuit_opened');

    // The same settings do open on a real failure, so the 429 was judged, not ignored.
    busy.respond(answer(500));
    await publish(tenant, 'busy.test', { n: 'd' });
    await eventually(async () => (await subscription(tenant, sub.id)).health.state === 'open', 10_000);
    await eventually(() => operationalEvents(ops).some((e) => e.type === 'hookrelay.endpoint.circuit_opened'));
  });

  it('disables an endpoint that keeps failing for the auto-disable period, ending its deliveries, and re-enables it fresh', async () => {
    const tenant = await stack.createTenant('autodisable');
    const patched = await tenant.client.patch('/v1/settings', {
      autoDisableAfterMs: 1_500,
      // Thresholds the breaker cannot reach here, so it is the auto-disable that acts.
      breaker: { consecutiveFailures: 10_000, windowSize: 1_000, minimumAttempts: 1_000, failureRatePercent: 100 },
    });
    expect(patched.status, patched.text).toBe(200);
    const ops = await receiver();
    await subscribe(tenant, { url: ops.url, eventTypes: ['hookrelay.*'] });
    const broken = await receiver(answer(500));
    const sub = await subscribe(tenant, { url: broken.url, eventTypes: ['doomed.test'], retryPolicy: { schedule: Array(40).fill(200) } });

    const events = [];
    for (let i = 0; i < 3; i++) events.push(await publish(tenant, 'doomed.test', { i }));
    const disabled = await eventually(async () => {
      const s = await subscription(tenant, sub.id);
      return s.enabled ? undefined : s;
    }, 15_000, 50);
    const reason = 'endpoint kept failing for the auto-disable period';
    expect(disabled.disabledReason).toBe(reason);
    // It took the whole period of failing: well more than one attempt per delivery, and no fewer than 1.5 s.
    const firstFailure = broken.requests[0]!.receivedAt;
    expect(broken.requests.at(-1)!.receivedAt - firstFailure).toBeGreaterThanOrEqual(1_500 - 5);
    expect(broken.requests.length).toBeGreaterThan(6);

    // Every pending delivery ended dead with the reason, and sits in the dead-letter queue.
    const dead = await eventually(async () => {
      const rows = await deliveriesTo(tenant, sub.id);
      return rows.length === 3 && rows.every((d) => d.status === 'dead') ? rows : undefined;
    });
    // Most are ended by the disabling itself. One whose next attempt a worker was just starting (or
    // whose row was being written) is ended by that worker instead, seeing the subscription disabled.
    const endedByWorker = `subscription was disabled: ${reason}`;
    for (const d of dead) {
      expect([reason, endedByWorker]).toContain(d.lastError);
      const job = await eventually(async () => {
        // A job read just before it moved to failed has no failedReason in that copy: wait for one read after.
        const j = await stack.queues.deadLetters.getJob(d.id);
        return j?.failedReason && (await j.getState()) === 'failed' ? j : undefined;
      });
      expect(job.data).toMatchObject({ deliveryId: d.id, subscriptionId: sub.id, attempts: d.attemptCount });
      expect([reason, endedByWorker]).toContain(job.data.reason);
      expect(job.failedReason).toBe(job.data.reason);
    }
    const notice = await eventually(() => operationalEvents(ops).find((e) => e.type === 'hookrelay.endpoint.disabled'));
    expect(notice.data).toMatchObject({ subscriptionId: sub.id, url: broken.url, reason });
    expect(notice.data.deliveriesEnded).toBe(dead.filter((d) => d.lastError === reason).length);
    expect(notice.data.deliveriesEnded).toBeGreaterThanOrEqual(1);

    // Nothing more is sent to it, and new events pass it by.
    await sleep(500);
    const sent = broken.requests.length;
    await sleep(1_000);
    expect(broken.requests.length).toBe(sent);
    expect((await publish(tenant, 'doomed.test', { after: true })).deliveries).toBe(0);
    expect(operationalEvents(ops).filter((e) => e.type === 'hookrelay.endpoint.disabled')).toHaveLength(1);

    // Re-enabling starts afresh: no reason, a closed breaker, no failing streak.
    broken.respond(answer(200));
    const enabled = await tenant.client.patch(`/v1/subscriptions/${sub.id}`, { enabled: true });
    expect(enabled.status, enabled.text).toBe(200);
    expect(enabled.body).toMatchObject({
      enabled: true,
      disabledReason: null,
      health: { state: 'closed', failureRate: null, openedAt: null, nextProbeAt: null, failingSince: null },
    });
    const revived = await publish(tenant, 'doomed.test', { revived: true });
    expect(revived.deliveries).toBe(1);
    const [d] = await deliveriesOf(tenant, revived.id);
    expect((await settled(stack, tenant, d!.id, 'succeeded')).attemptCount).toBe(1);
  });

  it('disables at once on 410 Gone when the subscription asks for it, and only then', async () => {
    const tenant = await stack.createTenant('gone');
    const ops = await receiver();
    await subscribe(tenant, { url: ops.url, eventTypes: ['hookrelay.*'] });
    let calls = 0;
    const gone = await receiver((req, res) => {
      calls += 1;
      answer(calls === 1 ? 500 : 410)(req, res);
    });
    const sub = await subscribe(tenant, { url: gone.url, eventTypes: ['gone.test'], disableOnGone: true, retryPolicy: { schedule: [30_000] } });
    const keeper = await subscribe(tenant, { url: gone.url, eventTypes: ['kept.test'], retryPolicy: { schedule: [] } });

    // The first delivery fails with a 500 and waits for its retry...
    const first = await publish(tenant, 'gone.test', { n: 1 });
    const [firstDelivery] = await deliveriesOf(tenant, first.id);
    await eventually(async () => (await delivery(tenant, firstDelivery!.id)).attemptCount === 1);
    // ...then a 410 for the next one disables the subscription and ends both.
    const second = await publish(tenant, 'gone.test', { n: 2 });
    const [secondDelivery] = await deliveriesOf(tenant, second.id);
    const disabled = await eventually(async () => {
      const s = await subscription(tenant, sub.id);
      return s.enabled ? undefined : s;
    });
    const reason = 'receiver answered 410 Gone';
    expect(disabled.disabledReason).toBe(reason);
    const a = await settled(stack, tenant, firstDelivery!.id, 'dead');
    const b = await settled(stack, tenant, secondDelivery!.id, 'dead');
    expect(a).toMatchObject({ attemptCount: 1, lastError: reason });
    expect(b).toMatchObject({ attemptCount: 1, lastStatusCode: 410, lastError: reason });
    // The queued retry of the first was withdrawn.
    expect(await stack.queues.retries.getJob(`${firstDelivery!.id}.2`)).toBeUndefined();
    expect(gone.requests).toHaveLength(2);
    const notice = await eventually(() => operationalEvents(ops).find((e) => e.type === 'hookrelay.endpoint.disabled'));
    expect(notice.data).toMatchObject({ subscriptionId: sub.id, reason });

    // Without disableOnGone, a 410 is just a failed attempt.
    const kept = await publish(tenant, 'kept.test', {});
    const [keptDelivery] = await deliveriesOf(tenant, kept.id);
    const keptDead = await settled(stack, tenant, keptDelivery!.id, 'dead');
    expect(keptDead.lastError).toBe('gave up after 1 attempt: receiver answered 410');
    expect((await subscription(tenant, keeper.id)).enabled).toBe(true);
  });

  it('tells hookrelay.* subscribers when a delivery gives up', async () => {
    const tenant = await stack.createTenant('dead-notice');
    const ops = await receiver();
    const opsSub = await subscribe(tenant, { url: ops.url, eventTypes: ['hookrelay.*'] });
    const down = await receiver(answer(500));
    const sub = await subscribe(tenant, { url: down.url, eventTypes: ['order.created'], retryPolicy: { schedule: [] } });

    const event = await publish(tenant, 'order.created', { order: 42 });
    const [d] = await deliveriesOf(tenant, event.id);
    await settled(stack, tenant, d!.id, 'dead');
    const [req] = await ops.waitFor(1);
    const body = JSON.parse(req!.body);
    expect(body).toMatchObject({
      type: 'hookrelay.delivery.dead',
      data: {
        deliveryId: d!.id,
        eventId: event.id,
        eventType: 'order.created',
        subscriptionId: sub.id,
        attempts: 1,
        lastStatusCode: 500,
        reason: 'gave up after 1 attempt: receiver answered 500',
      },
    });
    // It is an ordinary event of the tenant's, with its own delivery record.
    expect(req!.headers['webhook-id']).toBe(body.id);
    const published = await eventually(async () => {
      const res = await tenant.client.get(`/v1/events/${body.id}`);
      return res.status === 200 && res.body.deliveries[0]?.status === 'succeeded' ? res.body : undefined;
    });
    expect(published).toMatchObject({ type: 'hookrelay.delivery.dead', deliveries: [{ subscriptionId: opsSub.id, attemptCount: 1 }] });
    expect(published.deliveries).toHaveLength(1);
    await sleep(300);
    expect(ops.requests).toHaveLength(1);
  });
});
