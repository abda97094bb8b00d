import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack, eventually, startReceiver, type Receiver, type Tenant } from '@hookrelay/testing';
import { publish, subscribe } from './helpers.ts';

const SKEW = fileURLToPath(new URL('../../../packages/testing/src/clock-skew.mjs', import.meta.url));
const SKEW_MS = 1_500;
const SCHEDULE_MS = 4_000;

describe('workers whose clocks disagree', () => {
  let stack: Stack;
  let tenant: Tenant;
  let receiver: Receiver;
  let secret: string;
  const calls = new Map<string, number>();

  beforeAll(async () => {
    stack = await Stack.start({ workers: 0 });
    tenant = await stack.createTenant();
    // Every event fails once, then succeeds: each delivery needs one scheduled retry.
    receiver = await startReceiver((req, res) => {
      const id = req.headers['webhook-id'] as string;
      calls.set(id, (calls.get(id) ?? 0) + 1);
      res.writeHead(calls.get(id) === 1 ? 500 : 200);
      res.end();
    });
    // Every event fails once on purpose: the breaker must not take that for an outage.
    await tenant.client.patch('/v1/settings', { breaker: { windowSize: 1000, minimumAttempts: 1000, consecutiveFailures: 1000 } });
    secret = (await subscribe(tenant, { url: receiver.url, eventTypes: ['skew.*'], retryPolicy: { schedule: [SCHEDULE_MS] } })).secret;
  });
  afterAll(async () => {
    await receiver?.close();
    await stack?.close();
  });

  it('still signs verifiably and keeps retry schedules within the skew', async () => {
    for (const skew of [SKEW_MS, -SKEW_MS]) {
      stack.spawn('worker', { NODE_OPTIONS: `--import=${SKEW}`, HOOKRELAY_TEST_CLOCK_SKEW_MS: String(skew) });
    }
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await publish(tenant, 'skew.e', { i })).id);
    await eventually(() => ids.every((id) => (calls.get(id) ?? 0) >= 2), 30_000, 100);

    const verifier = new Webhook(secret);
    for (const id of ids) {
      const requests = receiver.requests.filter((r) => r.headers['webhook-id'] === id);
      expect(requests.length).toBeGreaterThanOrEqual(2);
      for (const r of requests) {
        // A receiver on the true clock accepts signatures from both skewed workers (±5 min).
        expect(() =>
          verifier.verify(r.body, {
            'webhook-id': id,
            'webhook-timestamp': r.headers['webhook-timestamp'] as string,
            'webhook-signature': r.headers['webhook-signature'] as string,
          }),
        ).not.toThrow();
      }
      const gap = requests[1]!.receivedAt - requests[0]!.receivedAt;
      // Whichever worker scheduled or picked the retry, it lands within twice the skew of the schedule.
      expect(gap).toBeGreaterThanOrEqual(SCHEDULE_MS - 2 * SKEW_MS - 100);
      expect(gap).toBeLessThanOrEqual(SCHEDULE_MS + 2 * SKEW_MS + 1_500);
    }
    // The receiver sees the last request before the worker has committed its result.
    await eventually(async () => {
      const [row] = await stack.db.sql`select count(*) filter (where status = 'succeeded')::int as ok from deliveries where tenant_id = ${tenant.id}`;
      return row!.ok === ids.length;
    });
  });
});
