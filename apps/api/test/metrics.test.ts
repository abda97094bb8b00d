import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '@hookrelay/api';
import { createQueues, createRedis } from '@hookrelay/queue';
import { Stack, freePort, metricValue, parseMetrics, samplesOf, scrapeMetrics, startTcpProxy, type MetricSample, type Tenant } from '@hookrelay/testing';
import { publish, subscribe } from './helpers.ts';

const INGESTED = 'hookrelay_events_ingested_total';
const REQUESTS = 'hookrelay_http_request_duration_seconds_count';
const QUEUE_JOBS = 'hookrelay_queue_jobs';

describe('GET /metrics on the API', () => {
  let stack: Stack;
  let tenant: Tenant;
  const scrape = () => scrapeMetrics(`${stack.baseUrl}/metrics`);

  beforeAll(async () => {
    // No worker: whatever is enqueued stays waiting, so queue depths are known exactly.
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant('metrics');
    await subscribe(tenant, { url: 'https://hooks.example.com/metrics', eventTypes: ['metric.*'] });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers without credentials in the Prometheus text format, with process metrics', async () => {
    const res = await stack.anonymous.get('/metrics');
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(res.text);
    expect(metricValue(samples, 'hookrelay_process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metricValue(samples, 'hookrelay_nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(res.text).toContain('# TYPE hookrelay_events_ingested_total counter');
    // Every exported name carries the prefix.
    expect(samples.filter((s) => !s.name.startsWith('hookrelay_'))).toEqual([]);
  });

  it('counts each published event once, and not its idempotent replays', async () => {
    const before = metricValue(await scrape(), INGESTED, { origin: 'api' })!;
    const N = 5;
    for (let i = 0; i < N; i++) await publish(tenant, 'metric.counted', { i }, { idempotencyKey: `counted-${i}` });
    // The same key again: answered 202 with the first event, nothing new stored.
    const replay = await tenant.client.post('/v1/events', { type: 'metric.counted', data: { i: 0 }, idempotencyKey: 'counted-0' });
    expect(replay.status).toBe(202);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const after = await scrape();
    expect(metricValue(after, INGESTED, { origin: 'api' })! - before).toBe(N);
    expect(metricValue(after, INGESTED, { origin: 'source' })).toBe(0);
  });

  it('counts events taken in through a source under origin="source", duplicates not', async () => {
    const secret = `sk_test_${randomUUID()}`;
    const created = await tenant.client.post('/v1/sources', { provider: 'paystack', name: 'paystack', secret, eventTypePrefix: 'in' });
    expect(created.status, created.text).toBe(201);
    const body = JSON.stringify({ event: 'charge.success', data: { id: 4242, reference: 'ref_4242' } });
    const headers = { 'content-type': 'application/json', 'x-paystack-signature': createHmac('sha512', secret).update(body).digest('hex') };
    const before = metricValue(await scrape(), INGESTED, { origin: 'source' })!;

    const first = await stack.anonymous.request('POST', `/in/${created.body.id}`, body, headers);
    expect(first.body).toMatchObject({ received: true, duplicate: false });
    const again = await stack.anonymous.request('POST', `/in/${created.body.id}`, body, headers);
    expect(again.body).toMatchObject({ received: true, duplicate: true });

    expect(metricValue(await scrape(), INGESTED, { origin: 'source' })! - before).toBe(1);
  });

  it('times requests by route template and status code, never by raw URL', async () => {
    const event = await publish(tenant, 'metric.timed', {});
    expect((await tenant.client.get(`/v1/events/${event.id}`)).status).toBe(200);
    expect((await tenant.client.get(`/v1/events/${randomUUID()}`)).status).toBe(404);
    expect((await stack.anonymous.get(`/no/such/path/${event.id}`)).status).toBe(404);

    // onResponse runs once the answer is sent, so the last request may land a moment later.
    let samples: MetricSample[] = [];
    await expect
      .poll(async () => {
        samples = await scrape();
        return metricValue(samples, REQUESTS, { method: 'GET', route: '/v1/events/:id', status_code: '404' });
      })
      .toBe(1);
    // Every POST /v1/events of this file so far answered 202: five, one replay, this one.
    expect(metricValue(samples, REQUESTS, { method: 'POST', route: '/v1/events', status_code: '202' })).toBe(7);
    expect(metricValue(samples, REQUESTS, { method: 'GET', route: '/v1/events/:id', status_code: '200' })).toBe(1);
    expect(metricValue(samples, REQUESTS, { method: 'POST', route: '/in/:sourceId', status_code: '200' })).toBe(2);
    expect(metricValue(samples, REQUESTS, { route: 'unmatched', status_code: '404' })).toBe(1);
    expect(samples.filter((s) => JSON.stringify(s.labels).includes(event.id))).toEqual([]);
    // A histogram: cumulative buckets ending in +Inf, equal to the count.
    const inf = samplesOf(samples, 'hookrelay_http_request_duration_seconds_bucket', { route: '/v1/events', status_code: '202', le: '+Inf' });
    expect(inf.map((s) => s.value)).toEqual([7]);
  });

  it('reports queue depths read from Redis at scrape time', async () => {
    // 6 events published to one subscription (the replay made none), 1 source event matching
    // none: 6 jobs waiting.
    expect(await stack.queues.deliveries.getWaitingCount()).toBe(6);
    const samples = await scrape();
    expect(metricValue(samples, QUEUE_JOBS, { queue: 'deliveries', state: 'waiting' })).toBe(6);
    for (const state of ['active', 'delayed', 'failed']) {
      expect(metricValue(samples, QUEUE_JOBS, { queue: 'deliveries', state }), state).toBe(0);
    }
    for (const queue of ['retries', 'dead-letters', 'maintenance']) {
      expect(samplesOf(samples, QUEUE_JOBS, { queue }).map((s) => s.labels.state).sort(), queue).toEqual(['active', 'delayed', 'failed', 'waiting']);
    }
    expect(metricValue(samples, QUEUE_JOBS, { queue: 'retries', state: 'waiting' })).toBe(0);

    await publish(tenant, 'metric.depth', {});
    expect(metricValue(await scrape(), QUEUE_JOBS, { queue: 'deliveries', state: 'waiting' })).toBe(7);
  });

  it('still answers while Redis is down, keeping the last depths', async () => {
    // A second API over the same database and prefix, reaching Redis through a proxy we can cut.
    const proxy = await startTcpProxy(await freePort(), 6379);
    const redis = createRedis(`redis://127.0.0.1:${proxy.port}`, 'producer');
    redis.on('error', () => {});
    const queues = createQueues(redis, stack.config.HOOKRELAY_REDIS_PREFIX);
    const app = await buildApp({ db: stack.db, queues, redis, redisPrefix: stack.config.HOOKRELAY_REDIS_PREFIX, adminToken: stack.config.ADMIN_TOKEN, logger: false });
    try {
      await expect.poll(() => queues.connected()).toBe(true);
      const depth = async () => {
        const res = await app.inject({ method: 'GET', url: '/metrics' });
        expect(res.statusCode, res.body).toBe(200);
        return metricValue(parseMetrics(res.body), QUEUE_JOBS, { queue: 'deliveries', state: 'waiting' });
      };
      const seen = await depth();
      expect(seen).toBe(await stack.queues.deliveries.getWaitingCount());

      await proxy.close();
      await expect.poll(() => queues.connected()).toBe(false);
      await publish(tenant, 'metric.depth', {}); // through the stack's API: Redis itself is fine
      const started = Date.now();
      expect(await depth()).toBe(seen);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await app.close();
      redis.disconnect();
      await proxy.close();
    }
  });

  it('observes how many publishes each committed transaction held', async () => {
    const BATCHES = 'hookrelay_publish_batch_events';
    const read = (samples: MetricSample[]) => ({
      count: metricValue(samples, `${BATCHES}_count`)!,
      sum: metricValue(samples, `${BATCHES}_sum`)!,
      alone: metricValue(samples, `${BATCHES}_bucket`, { le: '1' })!,
    });
    const before = read(await scrape());
    // One at a time: each publish is a transaction of its own.
    for (let i = 0; i < 3; i++) await publish(tenant, 'metric.batched', { i });
    const sequential = read(await scrape());
    expect(sequential).toEqual({ count: before.count + 3, sum: before.sum + 3, alone: before.alone + 3 });

    // Side by side: every publish is counted once, in whichever transaction took it.
    const N = 24;
    await Promise.all(Array.from({ length: N }, (_, i) => publish(tenant, 'metric.batched', { i })));
    const together = read(await scrape());
    expect(together.sum - sequential.sum).toBe(N);
    expect(together.count - sequential.count).toBeGreaterThanOrEqual(1);
    expect(together.count - sequential.count).toBeLessThanOrEqual(N);
    const le = samplesOf(await scrape(), `${BATCHES}_bucket`).map((s) => s.labels.le);
    expect(le).toEqual(['1', '2', '4', '8', '16', '32', '64', '128', '256', '500', '+Inf']);
  });
});
