import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, freePort, metricValue, samplesOf, scrapeMetrics, startReceiver, type MetricSample, type Receiver, type Tenant } from '@hookrelay/testing';
import { deliveriesOf, pausingOnce, publish, publishTogether, settled, subscribe } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answer = (res: ServerResponse, status: number) => {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(String(status));
};
/** A receiver answering with `statuses` in turn, then 200 for ever. */
const scripted = (...statuses: number[]) => {
  let n = 0;
  return startReceiver((_req, res) => answer(res, statuses[n++] ?? 200));
};

describe("the worker's /metrics server", () => {
  let stack: Stack;
  let port: number;
  let url: string;
  const receivers: Receiver[] = [];
  const scrape = () => scrapeMetrics(url);

  beforeAll(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}/metrics`;
    stack = await Stack.start({ workers: 1, env: { HOOKRELAY_WORKER_METRICS_PORT: String(port), HOST: '127.0.0.1' } });
  });
  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await stack?.close();
  });

  it('counts outcomes, attempts, latencies, deferrals and breaker transitions of a known set of deliveries', async () => {
    const tenant = await stack.createTenant('metrics');
    // Opens at the first failure, so one endpoint walks through opened, reopened and recovered.
    const touchy = await stack.createTenant('touchy');
    const patched = await touchy.client.patch('/v1/settings', { breaker: { consecutiveFailures: 1, cooldownMs: 300, maxCooldownMs: 1_000 } });
    expect(patched.status, patched.text).toBe(200);

    const ok = await startReceiver();
    const flaky = await scripted(500); // fails once, then succeeds on its retry
    const down = await scripted(500); // no retries left after the first failure: dead
    const gone = await scripted(410); // 410 with disableOnGone: dead, and the endpoint disabled
    const limited = await startReceiver();
    const breaking = await scripted(500, 500); // trips, its probe fails, the next probe succeeds
    receivers.push(ok, flaky, down, gone, limited, breaking);

    await subscribe(tenant, { url: ok.url, eventTypes: ['m.ok'] });
    await subscribe(tenant, { url: flaky.url, eventTypes: ['m.flaky'], retryPolicy: { schedule: [100] } });
    await subscribe(tenant, { url: down.url, eventTypes: ['m.down'], retryPolicy: { schedule: [] } });
    await subscribe(tenant, { url: gone.url, eventTypes: ['m.gone'], disableOnGone: true });
    await subscribe(tenant, { url: limited.url, eventTypes: ['m.limited'], rateLimit: { perSecond: 2, burst: 1 } });
    await subscribe(touchy, { url: breaking.url, eventTypes: ['m.breaking'], retryPolicy: { schedule: [0, 0] } });

    const expectations: [Tenant, string, string][] = [];
    const send = async (t: Tenant, type: string, status: string) => {
      const event = await publish(t, type, { at: Date.now() });
      expectations.push([t, event.id, status]);
    };
    const OK = 4;
    const LIMITED = 3;
    for (let i = 0; i < OK; i++) await send(tenant, 'm.ok', 'succeeded');
    await send(tenant, 'm.flaky', 'succeeded');
    await send(tenant, 'm.down', 'dead');
    await send(tenant, 'm.gone', 'dead');
    await Promise.all(Array.from({ length: LIMITED }, () => send(tenant, 'm.limited', 'succeeded')));
    await send(touchy, 'm.breaking', 'succeeded');

    for (const [t, eventId, status] of expectations) {
      const [d] = await deliveriesOf(t, eventId);
      await settled(stack, t, d!.id, status);
    }
    const attempts = receivers.reduce((n, r) => n + r.requests.length, 0);
    expect(attempts).toBe(OK + 2 + 1 + 1 + LIMITED + 3);

    const counters = (s: MetricSample[]) => ({
      succeeded: metricValue(s, 'hookrelay_deliveries_total', { outcome: 'succeeded' }),
      failed_will_retry: metricValue(s, 'hookrelay_deliveries_total', { outcome: 'failed_will_retry' }),
      dead: metricValue(s, 'hookrelay_deliveries_total', { outcome: 'dead' }),
      opened: metricValue(s, 'hookrelay_breaker_transitions_total', { transition: 'opened' }),
      reopened: metricValue(s, 'hookrelay_breaker_transitions_total', { transition: 'reopened' }),
      recovered: metricValue(s, 'hookrelay_breaker_transitions_total', { transition: 'recovered' }),
      disable: metricValue(s, 'hookrelay_breaker_transitions_total', { transition: 'disable' }),
      attempts: metricValue(s, 'hookrelay_delivery_attempt_duration_seconds_count'),
      latencies: metricValue(s, 'hookrelay_delivery_latency_seconds_count'),
      // Every attempt's result is written once, in whichever group-committed statement took it.
      recorded: metricValue(s, 'hookrelay_attempt_record_batch_size_sum'),
    });
    const expected = {
      succeeded: OK + 1 + LIMITED + 1,
      failed_will_retry: 1 + 2,
      dead: 2,
      opened: 1,
      reopened: 1,
      recovered: 1,
      disable: 1,
      attempts,
      latencies: OK + 1 + LIMITED + 1,
      recorded: attempts,
    };
    // A counter moves just after the row it describes is committed (and a transition after the
    // operational event), so the API can show the outcome a moment before the scrape does.
    await expect.poll(async () => counters(await scrape()), { timeout: 5_000 }).toEqual(expected);
    await sleep(300);
    const samples = await scrape();
    expect(counters(samples)).toEqual(expected);

    // Held back without using an attempt: how often depends on timing, but at least once each.
    expect(metricValue(samples, 'hookrelay_delivery_deferrals_total', { reason: 'rate_limited' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'hookrelay_delivery_deferrals_total', { reason: 'circuit_open' })).toBeGreaterThanOrEqual(1);
    expect(samplesOf(samples, 'hookrelay_delivery_deferrals_total').map((s) => s.labels.reason).sort()).toEqual([
      'circuit_open',
      'circuit_probing',
      'max_in_flight',
      'rate_limited',
      'retry_after',
    ]);

    // Attempt durations: HTTP-sized buckets from 5 ms to 15 s; local receivers answer fast.
    const le = samplesOf(samples, 'hookrelay_delivery_attempt_duration_seconds_bucket').map((s) => s.labels.le);
    expect(le).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '15', '+Inf']);
    expect(metricValue(samples, 'hookrelay_delivery_attempt_duration_seconds_bucket', { le: '1' })).toBe(attempts);
    // End-to-end: at least the flaky delivery's 100 ms retry delay and the breaker's 300 + 600 ms
    // cooldowns went into the sum; nothing took a minute.
    expect(metricValue(samples, 'hookrelay_delivery_latency_seconds_sum')).toBeGreaterThanOrEqual(1.0);
    expect(metricValue(samples, 'hookrelay_delivery_latency_seconds_bucket', { le: '60' })).toBe(expected.latencies);
    expect(metricValue(samples, 'hookrelay_delivery_latency_seconds_bucket', { le: '0.5' })).toBeLessThan(expected.latencies);

    const statements = metricValue(samples, 'hookrelay_attempt_record_batch_size_count')!;
    expect(statements).toBeGreaterThanOrEqual(1);
    expect(statements).toBeLessThanOrEqual(attempts);

    expect(metricValue(samples, 'hookrelay_process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(samples.filter((s) => !s.name.startsWith('hookrelay_'))).toEqual([]);
  });

  it("holds back a paused endpoint's next batches from the gate's last answer, without asking it again", async () => {
    const tenant = await stack.createTenant('paused');
    const r = await startReceiver(pausingOnce(2));
    receivers.push(r);
    await subscribe(tenant, { url: r.url, eventTypes: ['m.paused'] });
    const remembered = async () => metricValue(await scrape(), 'hookrelay_delivery_deferrals_remembered_total', { reason: 'retry_after' }) ?? 0;
    const delayedBatchOf = (ids: string[]) =>
      eventually(async () => (await stack.queues.batches.getJobs(['delayed'])).find((j) => j.data.deliveries[0] === ids[0]), 5_000, 10);

    await publish(tenant, 'm.paused', {});
    await r.waitFor(1, 10_000); // the 429 pauses the endpoint for 2 s
    const before = await remembered();
    // The first batch asks the gate and is held back whole; the worker remembers the answer.
    const first = await publishTogether(stack, tenant, 'm.paused', 5);
    await delayedBatchOf(first.refs.map((x) => x.id));
    expect(await remembered()).toBe(before);
    // The next ones, a moment later (within the second the worker trusts that answer), wait
    // without a read or a gate call, a batch and a job of its own alike (named after their
    // subscription, as every delivery job is); neither is sent before the pause ends (below).
    const [second, single] = await Promise.all([publishTogether(stack, tenant, 'm.paused', 3), publishTogether(stack, tenant, 'm.paused', 1)]);
    await delayedBatchOf(second.refs.map((x) => x.id));
    const singleId = `${single.refs[0]!.id}.1`;
    await eventually(async () => (await stack.queues.deliveries.getJobState(singleId)) === 'delayed', 5_000, 10);
    expect(await remembered()).toBe(before + 4);
    expect(r.requests).toHaveLength(1);

    for (const ref of [...first.refs, ...second.refs, ...single.refs]) {
      const d = await settled(stack, tenant, ref.id, 'succeeded', 20_000);
      expect(d.attempts).toHaveLength(1);
      expect(Date.parse(d.attempts[0]!.startedAt)).toBeGreaterThanOrEqual(r.requests[0]!.receivedAt + 2_000 - 50);
    }
  });

  it('holds back the next jobs to an endpoint slow to free its one slot, for the time a slot is expected to take', async () => {
    const tenant = await stack.createTenant('slow');
    const r = await startReceiver((_req, res) => void setTimeout(() => answer(res, 200), 1_500));
    receivers.push(r);
    await subscribe(tenant, { url: r.url, eventTypes: ['m.slow'], maxInFlight: 1 });
    const remembered = async () => metricValue(await scrape(), 'hookrelay_delivery_deferrals_remembered_total', { reason: 'max_in_flight' }) ?? 0;
    const delayed = (ref: { id: string }) =>
      eventually(async () => (await stack.queues.deliveries.getJobState(`${ref.id}.1`)) === 'delayed', 5_000, 10);

    const [first] = (await publishTogether(stack, tenant, 'm.slow', 1)).refs;
    await r.waitFor(1, 5_000);
    // The slot has been held 600 ms: the gate guesses a slot frees every 600 ms or more, and the
    // worker trusts that for as long.
    await sleep(600);
    const before = await remembered();
    const [second] = (await publishTogether(stack, tenant, 'm.slow', 1)).refs;
    await delayed(second!);
    expect(await remembered()).toBe(before);
    const [third] = (await publishTogether(stack, tenant, 'm.slow', 1)).refs;
    await delayed(third!);
    expect(await remembered()).toBe(before + 1);

    for (const ref of [first!, second!, third!]) {
      const d = await settled(stack, tenant, ref.id, 'succeeded', 20_000);
      expect(d.attempts).toHaveLength(1);
    }
    // Never two at once: each request began after the one before it was answered.
    const starts = r.requests.map((q) => q.receivedAt).sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(1_500 - 50);
  });

  it('serves nothing but /metrics', async () => {
    const other = await fetch(`http://127.0.0.1:${port}/`);
    expect(other.status).toBe(404);
    await other.text();
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    await post.text();
  });

  it('starts a second worker on a port already taken without a metrics server, leaving the first one serving', async () => {
    await stack.startWorker();
    expect(stack.workers).toHaveLength(2);
    // The first one still answers on the port, with the deliveries it made.
    expect(metricValue(await scrape(), 'hookrelay_deliveries_total')).toBeGreaterThan(0);
  });

  it('closes the metrics server when the workers close', async () => {
    await stack.stopWorkers();
    await expect(fetch(url)).rejects.toThrow();
  });
});
