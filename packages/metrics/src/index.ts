import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus metric Hookrelay exports, defined in one place. Each `create*Metrics` call makes
 * a fresh Registry holding its own metric objects, so a process (or a test) can have several sets
 * side by side without name clashes. docs/operations.md lists them all.
 */

export const METRIC_PREFIX = 'hookrelay_';

export type { Registry };

export interface MetricsOptions {
  /** Node.js process metrics (CPU, memory, event loop lag, GC), prefixed too; default true. */
  defaultMetrics?: boolean;
}

function newRegistry(options: MetricsOptions): Registry {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

// ---------------------------------------------------------------------------------------------
// API

export const EVENT_ORIGINS = ['api', 'source'] as const;
export type EventOrigin = (typeof EVENT_ORIGINS)[number];

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** What the queue-depth gauges read at scrape time: a name and BullMQ's `getJobCounts`. */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...states: QueueState[]): Promise<Record<string, number>>;
}

export interface QueueDepthSource {
  queues: () => readonly CountableQueue[];
  /** False skips the read at once (Redis is known to be down). */
  connected?: () => boolean;
  /** Longest a scrape waits for Redis; default 1000 ms. */
  timeoutMs?: number;
  /** Told why the gauges were not refreshed. */
  onError?: (err: Error) => void;
}

/**
 * Items per group-committed write: how well a process's batching groups its work. Each batch is
 * a statement and a round trip (and, for publishes, an addBulk and a batch job downstream), so at
 * a steady rate smaller batches mean more CPU per event in every process.
 */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 500];

export function createApiMetrics(options: MetricsOptions & { queueDepth?: QueueDepthSource } = {}) {
  const registry = newRegistry(options);
  const eventsIngested = new Counter({
    name: `${METRIC_PREFIX}events_ingested_total`,
    help: 'Events accepted and stored (idempotent replays and duplicate provider calls not counted), by origin: api = POST /v1/events, source = an inbound provider webhook',
    labelNames: ['origin'] as const,
    registers: [registry],
  });
  for (const origin of EVENT_ORIGINS) eventsIngested.inc({ origin }, 0);

  const httpRequestDuration = new Histogram({
    name: `${METRIC_PREFIX}http_request_duration_seconds`,
    help: 'API request duration in seconds, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const source = options.queueDepth;
  const queueJobs = new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'Jobs in each queue by state, read from Redis at scrape time (left unchanged when Redis does not answer)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!source) return;
      try {
        if (source.connected && !source.connected()) throw new Error('Redis is not connected');
        const queues = source.queues();
        const counts = await withTimeout(
          Promise.all(queues.map((q) => q.getJobCounts(...QUEUE_STATES))),
          source.timeoutMs ?? 1_000,
        );
        queues.forEach((q, i) => {
          for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[i]![state] ?? 0);
        });
      } catch (err) {
        // A scrape must not fail because Redis does: the gauges keep their last values.
        source.onError?.(err as Error);
      }
    },
  });

  const heldAtEnqueue = new Counter({
    name: `${METRIC_PREFIX}deliveries_held_at_enqueue_total`,
    help: "Deliveries the API queued already delayed, told by a worker that their endpoint takes nothing for a while, by the admission gate's reason",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REMEMBERED_DEFERRAL_REASONS) heldAtEnqueue.inc({ reason }, 0);

  const publishBatchEvents = new Histogram({
    name: `${METRIC_PREFIX}publish_batch_events`,
    help: 'Publishes (POST /v1/events) committed together in one transaction by its group commit, observed per committed transaction; idempotent replays count as the publishes they answer',
    buckets: BATCH_SIZE_BUCKETS,
    registers: [registry],
  });

  return { registry, eventsIngested, httpRequestDuration, queueJobs, heldAtEnqueue, publishBatchEvents };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  promise.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker

export const DELIVERY_OUTCOMES = ['succeeded', 'failed_will_retry', 'dead'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];

/** The admission gate's deny reasons (protection's DenyReason). */
export const DEFERRAL_REASONS = ['rate_limited', 'max_in_flight', 'circuit_open', 'circuit_probing', 'retry_after'] as const;
export type DeferralReason = (typeof DEFERRAL_REASONS)[number];
/** The holds a worker remembers: a pause or an open breaker, or a full cap slow to free a slot. */
export const REMEMBERED_DEFERRAL_REASONS = ['circuit_open', 'retry_after', 'max_in_flight'] as const;

/** The breaker's transitions (protection's Transition, less the empty "no change"). */
export const BREAKER_TRANSITIONS = ['opened', 'reopened', 'recovered', 'disable'] as const;
export type BreakerTransition = (typeof BREAKER_TRANSITIONS)[number];

/** Seconds: from a fast local receiver to the longest HTTP timeout. */
export const ATTEMPT_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
/** Seconds: from an immediate first attempt to retries hours or days later. */
export const DELIVERY_LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3_600, 21_600, 86_400, 259_200];

export function createWorkerMetrics(options: MetricsOptions = {}) {
  const registry = newRegistry(options);
  const deliveries = new Counter({
    name: `${METRIC_PREFIX}deliveries_total`,
    help: 'Deliveries by what an attempt made of them: succeeded, failed_will_retry (another attempt is scheduled) or dead (gave up, or could no longer be attempted at all)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  for (const outcome of DELIVERY_OUTCOMES) deliveries.inc({ outcome }, 0);

  const attemptDuration = new Histogram({
    name: `${METRIC_PREFIX}delivery_attempt_duration_seconds`,
    help: 'Duration of each HTTP delivery attempt in seconds, whatever its result (timeouts included)',
    buckets: ATTEMPT_DURATION_BUCKETS,
    registers: [registry],
  });

  const deliveryLatency = new Histogram({
    name: `${METRIC_PREFIX}delivery_latency_seconds`,
    help: "Seconds from the event's timestamp to the first byte of the receiver's successful answer, retries included",
    buckets: DELIVERY_LATENCY_BUCKETS,
    registers: [registry],
  });

  const deferrals = new Counter({
    name: `${METRIC_PREFIX}delivery_deferrals_total`,
    help: "Jobs held back by an endpoint's protection (no attempt used up), by the admission gate's reason",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of DEFERRAL_REASONS) deferrals.inc({ reason }, 0);

  const rememberedDeferrals = new Counter({
    name: `${METRIC_PREFIX}delivery_deferrals_remembered_total`,
    help: "Of the deferrals, those the worker made from the gate's last answer about an endpoint that takes nothing for a while, without asking it",
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REMEMBERED_DEFERRAL_REASONS) rememberedDeferrals.inc({ reason }, 0);

  const breakerTransitions = new Counter({
    name: `${METRIC_PREFIX}breaker_transitions_total`,
    help: 'Circuit breaker transitions caused by attempts: opened, reopened (a probe failed), recovered, disable (auto-disable)',
    labelNames: ['transition'] as const,
    registers: [registry],
  });
  for (const transition of BREAKER_TRANSITIONS) breakerTransitions.inc({ transition }, 0);

  const attemptRecordBatchSize = new Histogram({
    name: `${METRIC_PREFIX}attempt_record_batch_size`,
    help: 'Attempt results written to Postgres together in one statement (group commit), observed per committed statement',
    buckets: BATCH_SIZE_BUCKETS,
    registers: [registry],
  });

  return { registry, deliveries, attemptDuration, deliveryLatency, deferrals, rememberedDeferrals, breakerTransitions, attemptRecordBatchSize };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
