import { publishEvents, type DeliveryRef } from '@hookrelay/db';
import { enqueueDeliveries } from '@hookrelay/queue';
import { afterAll, beforeAll } from 'vitest';
import { Stack, startReceiver, type Receiver, type ReceiverHandler, type Tenant } from '@hookrelay/testing';

export async function subscribe(tenant: Tenant, body: Record<string, unknown>) {
  const res = await tenant.client.post('/v1/subscriptions', body);
  if (res.status !== 201) throw new Error(`subscription failed: ${res.status} ${res.text}`);
  return res.body as { id: string; secret: string; url: string };
}

export async function publish(tenant: Tenant, type: string, data: unknown, extra: Record<string, unknown> = {}) {
  const res = await tenant.client.post('/v1/events', { type, data, ...extra });
  if (res.status !== 202) throw new Error(`publish failed: ${res.status} ${res.text}`);
  return res.body as { id: string; type: string; timestamp: string; deliveries: number };
}

export async function deliveriesOf(tenant: Tenant, eventId: string) {
  const res = await tenant.client.get(`/v1/events/${eventId}`);
  return res.body.deliveries as { id: string; subscriptionId: string; status: string; attemptCount: number; lastStatusCode: number | null }[];
}

export async function delivery(tenant: Tenant, id: string) {
  return (await tenant.client.get(`/v1/deliveries/${id}`)).body as {
    id: string;
    status: string;
    attemptCount: number;
    lastStatusCode: number | null;
    lastError: string | null;
    nextAttemptAt: string | null;
    attempts: { attempt: number; startedAt: string; statusCode: number | null; responseBody: string | null; error: string | null; durationMs: number }[];
  };
}

/** Waits until the delivery reaches `status`, returning it. */
export async function settled(stack: Stack, tenant: Tenant, id: string, status: string, timeoutMs = 15_000) {
  const { eventually } = await import('@hookrelay/testing');
  return eventually(async () => {
    const d = await delivery(tenant, id);
    return d.status === status ? d : undefined;
  }, timeoutMs);
}

/** What the API's group commit does with publishes that arrive together: one commit, then their jobs. */
export async function publishTogether(stack: Stack, tenant: Tenant, type: string, count: number): Promise<{ events: string[]; refs: DeliveryRef[] }> {
  const requests = Array.from({ length: count }, (_, i) => ({ tenantId: tenant.id, input: { type, data: { i } } }));
  const results = await publishEvents(stack.db, requests);
  const refs = results.flatMap((r) => r.deliveries);
  await enqueueDeliveries(stack.queues, refs);
  return { events: results.map((r) => r.event.id), refs };
}

/** A receiver's handler that answers its first request 429 with `Retry-After: <seconds>`, then 200 for ever. */
export function pausingOnce(seconds: number): ReceiverHandler {
  let paused = false;
  return (_req, res) => {
    if (!paused) {
      paused = true;
      res.writeHead(429, { 'retry-after': String(seconds) });
      res.end();
      return;
    }
    res.writeHead(200);
    res.end('ok');
  };
}

/** A receiver's handler that answers 200 after `delayMs`, counting the most requests it held open at once. */
export function slowAnswers(delayMs: number): { handler: ReceiverHandler; most: () => number } {
  let inFlight = 0;
  let most = 0;
  const handler: ReceiverHandler = (_req, res) => {
    most = Math.max(most, ++inFlight);
    setTimeout(() => {
      inFlight--;
      res.writeHead(200);
      res.end('ok');
    }, delayMs);
  };
  return { handler, most: () => most };
}

/** A suite's stack (no workers started unless asked) with one tenant; its receivers close with it. */
export interface SuiteStack {
  stack: Stack;
  tenant: Tenant;
  receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver>;
}

export function suiteStack({ startWorker = false }: { startWorker?: boolean } = {}): SuiteStack {
  const receivers: Receiver[] = [];
  const suite = {
    async receiver(...args: Parameters<typeof startReceiver>) {
      const r = await startReceiver(...args);
      receivers.push(r);
      return r;
    },
  } as SuiteStack;
  beforeAll(async () => {
    suite.stack = await Stack.start({ workers: 0 });
    suite.tenant = await suite.stack.createTenant();
    if (startWorker) await suite.stack.startWorker();
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await suite.stack?.close();
  });
  return suite;
}
