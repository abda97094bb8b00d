import type { Db } from '@hookrelay/db';
import type { ApiMetrics } from '@hookrelay/metrics';
import type { EndpointGuard, EndpointHolds } from '@hookrelay/protection';
import { enqueueDeliveries, type Queues } from '@hookrelay/queue';
import type { FastifyBaseLogger } from 'fastify';
import type { ApiLimits } from '../limits.ts';
import type { ApiKeyCache } from '../api-key-cache.ts';
import type { Publisher } from '../publisher.ts';

export interface RouteDeps {
  db: Db;
  queues: Queues;
  guard: EndpointGuard;
  /** Holds the workers told of (`listenForHolds`): jobs to such endpoints are queued already delayed. */
  holds: EndpointHolds;
  /** Publishes events through the group commit. */
  publisher: Publisher;
  /** Tenant API key lookups, cached briefly; revoking a key must clear it. */
  apiKeys: ApiKeyCache;
  /** Public base URL of the API, for the ingest URLs shown to tenants; derived from the request when unset. */
  publicUrl?: string | undefined;
  /** Counts ingested events; absent, nothing is counted. */
  metrics?: ApiMetrics | undefined;
  /** Per-tenant caps on subscriptions and sources; none when absent. */
  limits?: ApiLimits | undefined;
}

/** How long a request waits for Redis before leaving the enqueue to the reconciler. */
const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * Enqueues deliveries a request has just committed. The commit already made them owed, so a
 * Redis that is down or slow is logged, not answered with an error: the reconciler enqueues them
 * from Postgres later. `before` runs first under the same rule (dropping a stale dead letter, say).
 * Jobs to an endpoint a worker said takes nothing for now are added delayed to when that worker
 * would have sent them back, so no worker fetches them only to put them back.
 */
export async function enqueueCommitted(
  deps: Pick<RouteDeps, 'queues' | 'holds' | 'metrics'>,
  refs: Parameters<typeof enqueueDeliveries>[1],
  log: FastifyBaseLogger,
  context: Record<string, unknown>,
  before?: () => Promise<unknown>,
): Promise<void> {
  const { queues, holds, metrics } = deps;
  const holdFor = (subscriptionId: string, jobs: number) => {
    const held = holds.holdBack(subscriptionId, jobs);
    if (held) metrics?.heldAtEnqueue.inc({ reason: held.reason }, jobs);
    return held?.waitMs;
  };
  try {
    if (!queues.connected()) throw new Error('Redis is not connected');
    await before?.();
    await enqueueDeliveries(queues, refs, { timeoutMs: ENQUEUE_TIMEOUT_MS, holdFor });
  } catch (err) {
    log.warn({ err, ...context }, 'enqueue failed; the reconciler will pick the deliveries up');
  }
}
