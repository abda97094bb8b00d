import type { Db } from '@hookrelay/db';
import type { ApiMetrics } from '@hookrelay/metrics';
import type { EndpointGuard } from '@hookrelay/protection';
import type { Queues } from '@hookrelay/queue';
import type { ApiLimits } from '../limits.ts';

export interface RouteDeps {
  db: Db;
  queues: Queues;
  guard: EndpointGuard;
  /** Public base URL of the API, for the ingest URLs shown to tenants; derived from the request when unset. */
  publicUrl?: string | undefined;
  /** Counts ingested events; absent, nothing is counted. */
  metrics?: ApiMetrics | undefined;
  /** Per-tenant caps on subscriptions and sources; none when absent. */
  limits?: ApiLimits | undefined;
}

/** How long a request waits for Redis before leaving the enqueue to the reconciler. */
export const ENQUEUE_TIMEOUT_MS = 2_000;
