import { createDb, newId, schema, type Db, type DeliveryRef } from '@hookrelay/db';
import { assignBatches } from '@hookrelay/domain';
import { createQueues, enqueueDeliveries } from '@hookrelay/queue';
import { Redis } from 'ioredis';
import type { Api } from './services.ts';
import { REDIS_URL } from './infra.ts';
import { samplePayload } from './payload.ts';

async function call(api: Api, token: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${api.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = (await res.json()) as any;
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

export interface BenchTenant {
  id: string;
  apiKey: string;
  subscriptionIds: string[];
}

export interface SubscriptionSpec {
  url: string;
  eventTypes?: string[];
  /** Per-endpoint settings: the bench raises maxInFlight where one endpoint takes a whole run. */
  maxInFlight?: number;
}

/** A tenant and its subscriptions, made through the API as a user would. */
export async function createTenant(api: Api, subscriptions: SubscriptionSpec[]): Promise<BenchTenant> {
  const tenant = await call(api, api.adminToken, 'POST', '/admin/tenants', { name: 'bench' });
  const subscriptionIds: string[] = [];
  for (const spec of subscriptions) {
    const sub = await call(api, tenant.apiKey, 'POST', '/v1/subscriptions', spec);
    subscriptionIds.push(sub.id);
  }
  return { id: tenant.id, apiKey: tenant.apiKey, subscriptionIds };
}

/**
 * Puts `events × subscriptions` deliveries in the state a publish leaves them in (event and
 * pending delivery rows committed, the first attempts queued in batch jobs of up to 50 per
 * subscription, as a busy publisher's group commits leave them), in bulk: filling a backlog
 * through the API would take longer than draining it.
 */
export async function seedBacklog(
  databaseUrl: string,
  redisPrefix: string,
  tenant: BenchTenant,
  events: number,
  onProgress?: (queued: number) => void,
): Promise<number> {
  const db: Db = createDb(databaseUrl, { max: 4 });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues = createQueues(redis, redisPrefix);
  const data = samplePayload();
  const chunk = Math.max(1, Math.floor(5_000 / tenant.subscriptionIds.length));
  let queued = 0;
  try {
    for (let done = 0; done < events; done += chunk) {
      const now = new Date();
      const eventRows = Array.from({ length: Math.min(chunk, events - done) }, () => ({
        id: newId(),
        tenantId: tenant.id,
        type: 'bench.backlog',
        data,
        deliveryCount: tenant.subscriptionIds.length,
        createdAt: now,
      }));
      const refs: DeliveryRef[] = eventRows.flatMap((e) =>
        tenant.subscriptionIds.map((subscriptionId) => ({ id: newId(), tenantId: tenant.id, eventId: e.id, subscriptionId, attemptCount: 0, roundStart: 0 })),
      );
      assignBatches(refs);
      await db.orm.transaction(async (tx) => {
        await tx.insert(schema.events).values(eventRows);
        await tx.insert(schema.deliveries).values(
          refs.map((r) => ({ id: r.id, tenantId: r.tenantId, eventId: r.eventId, subscriptionId: r.subscriptionId, batchId: r.batchId, nextAttemptAt: now, createdAt: now, updatedAt: now })),
        );
      });
      // Whole batches at once: a batch split over two calls would be queued as its first half only.
      await enqueueDeliveries(queues, refs);
      queued += refs.length;
      onProgress?.(queued);
    }
  } finally {
    await queues.close();
    redis.disconnect();
    await db.close();
  }
  return queued;
}
