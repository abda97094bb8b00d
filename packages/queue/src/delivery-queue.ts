import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './connection.ts';
import { createMaintenanceQueue, type ReplayDeadJobData } from './maintenance-queue.ts';

/** First attempts of each round: never stuck behind a backlog of retries. */
export const DELIVERY_QUEUE = 'deliveries';
/** Second and later attempts, released when their backoff delay is over. */
export const RETRY_QUEUE = 'retries';
export const DEAD_LETTER_QUEUE = 'dead-letters';
/** First attempts of deliveries published together to one subscription, one job per batch. */
export const BATCH_QUEUE = 'delivery-batches';

/**
 * A delivery job carries the delivery id and the attempt it is for: the worker reads everything
 * else (event, subscription, round) from Postgres, so nothing secret sits in Redis. Kept this
 * small on purpose: its JSON (`{"delivery":"<uuid>","attempt":1}`, at most 64 bytes below
 * attempt 100) fits Redis's hash-max-listpack-value (64 bytes), so each job hash stays a compact
 * listpack instead of becoming a hashtable several times its size.
 */
export interface DeliveryJobData {
  delivery: string;
  /** Attempt number (1-based, over the delivery's life) of this job's first run. */
  attempt: number;
}

/**
 * The first attempts of up to MAX_DELIVERY_BATCH deliveries to one subscription, published
 * together. Keyed by the batch id (its first delivery's id), which each delivery row also holds.
 * A delivery the batch cannot attempt at once (its endpoint's limits hold it back) leaves the
 * batch as a job of its own on the first-attempt queue.
 */
export interface DeliveryBatchJobData {
  deliveries: string[];
}

/**
 * Delivery jobs are named after their subscription (`deliver:<id>`, `deliver-batch:<id>`: 44 and
 * 50 bytes, within the listpack's limit like the data): a worker that knows the endpoint takes
 * nothing for now holds the job back without reading its delivery, and Bull Board shows whose job
 * it is. A name without an id (`deliver`) is as good, only never held back that way.
 */
export const deliveryJobName = (subscriptionId: string | undefined) => (subscriptionId ? `deliver:${subscriptionId}` : 'deliver');
export const batchJobName = (subscriptionId: string | undefined) => (subscriptionId ? `deliver-batch:${subscriptionId}` : 'deliver-batch');

/** The subscription a delivery job's name carries, if it does. */
export function subscriptionOfJob(name: string): string | undefined {
  const at = name.indexOf(':');
  return at < 0 ? undefined : name.slice(at + 1);
}

/** What the dead-letter queue shows an operator about a delivery that gave up. */
export interface DeadLetterJobData {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  attempts: number;
  lastStatusCode: number | null;
  reason: string;
  diedAt: string;
}

/** Postgres row fields a job is built from; see the db package's DeliveryRef. */
export interface DeliveryRefLike {
  id: string;
  attemptCount: number;
  /** attempt_count when the current round of attempts began. */
  roundStart: number;
  /** Set when the first attempt was queued in a batch job. */
  batchId?: string | null;
  /** Names its job (see deliveryJobName). */
  subscriptionId: string;
}

export const toDeliveryJob = (ref: DeliveryRefLike): DeliveryJobData => ({ delivery: ref.id, attempt: ref.attemptCount + 1 });

/**
 * One job per attempt, keyed `<delivery id>.<attempt number>`: enqueueing an attempt that is
 * already queued is a no-op, whichever process (API, worker, reconciler) does it.
 */
export const attemptJobId = (deliveryId: string, attempt: number): string => `${deliveryId}.${attempt}`;

/**
 * Only the job id (and a delay). Like the data, the opts JSON BullMQ stores
 * (`{"jobId":"<uuid>.1","attempts":0}`, at most 64 bytes below attempt 100) must fit in
 * hash-max-listpack-value for the job hash to stay a listpack, so removal on completion and
 * failure is set on the workers instead. Without `attempts` BullMQ never retries a job on its
 * own: the worker schedules retries itself (from the subscription's policy) as new jobs on the
 * retry queue.
 */
export function deliveryJobOptions(data: DeliveryJobData, delayMs = 0): JobsOptions {
  return {
    jobId: attemptJobId(data.delivery, data.attempt),
    ...(delayMs > 0 ? { delay: Math.round(delayMs) } : {}),
  };
}

export interface Queues {
  deliveries: Queue<DeliveryJobData>;
  batches: Queue<DeliveryBatchJobData>;
  retries: Queue<DeliveryJobData>;
  deadLetters: Queue<DeadLetterJobData>;
  maintenance: Queue<ReplayDeadJobData>;
  /** False while the Redis connection is down: callers that must not wait can skip enqueueing. */
  connected(): boolean;
  close(): Promise<void>;
}

export function createQueues(
  connection: Redis,
  prefixName: string,
  onError: (err: Error) => void = () => {},
): Queues {
  const prefix = queuePrefix(prefixName);
  const deliveries = new Queue<DeliveryJobData>(DELIVERY_QUEUE, { connection, prefix });
  const retries = new Queue<DeliveryJobData>(RETRY_QUEUE, { connection, prefix });
  const batches = new Queue<DeliveryBatchJobData>(BATCH_QUEUE, { connection, prefix });
  const deadLetters = new Queue<DeadLetterJobData>(DEAD_LETTER_QUEUE, { connection, prefix });
  // Connection errors surface here too; the owner logs them (an unhandled 'error' would crash).
  const maintenance = createMaintenanceQueue(connection, prefixName, onError);
  for (const q of [deliveries, retries, batches, deadLetters]) q.on('error', onError);
  return {
    deliveries,
    batches,
    retries,
    deadLetters,
    maintenance,
    connected: () => connection.status === 'ready',
    async close() {
      await Promise.all([deliveries.close(), retries.close(), batches.close(), deadLetters.close(), maintenance.close()]);
    },
  };
}

/** The first attempt of a round goes ahead of every retry. */
const isFirstOfRound = (ref: DeliveryRefLike) => ref.attemptCount === ref.roundStart;

/** Whether the delivery's due attempt may be waiting in its batch job: only its very first attempt ever is. */
export const mayBeInBatch = (ref: DeliveryRefLike): ref is DeliveryRefLike & { batchId: string } =>
  !!ref.batchId && ref.attemptCount === 0 && ref.roundStart === 0;

/** Single jobs plus one job per batch of first attempts. */
function splitBatches(refs: readonly DeliveryRefLike[]) {
  const batches = new Map<string, { subscriptionId: string | undefined; deliveries: string[] }>();
  const singles: DeliveryRefLike[] = [];
  for (const ref of refs) {
    if (!mayBeInBatch(ref)) {
      singles.push(ref);
      continue;
    }
    const batch = batches.get(ref.batchId);
    if (batch) batch.deliveries.push(ref.id);
    else batches.set(ref.batchId, { subscriptionId: ref.subscriptionId, deliveries: [ref.id] });
  }
  return { singles, batches };
}

/** The queue a delivery's due attempt belongs on. */
export const queueForRef = (queues: Queues, ref: DeliveryRefLike): Queue<DeliveryJobData> =>
  isFirstOfRound(ref) ? queues.deliveries : queues.retries;

/** Schedules the next attempt of a delivery that just failed: never the first of its round. */
export async function enqueueRetry(queues: Queues, data: DeliveryJobData, delayMs: number, subscriptionId: string | undefined): Promise<void> {
  await queues.retries.add(deliveryJobName(subscriptionId), data, deliveryJobOptions(data, delayMs));
}

/** Queues a first attempt that leaves its batch (held back, or interrupted) as a job of its own. */
export async function enqueueFirstAttempt(queues: Queues, data: DeliveryJobData, delayMs: number, subscriptionId: string | undefined): Promise<void> {
  await queues.deliveries.add(deliveryJobName(subscriptionId), data, deliveryJobOptions(data, delayMs));
}

export interface EnqueueOptions {
  /** Gives up waiting for Redis after this long (BullMQ would otherwise wait for it to come back). */
  timeoutMs?: number;
  /**
   * How long jobs to a subscription should wait before a worker looks at them (`jobs` of them in
   * one job: a batch), when its endpoint is known to take nothing for now; 0 or undefined: none.
   */
  holdFor?: (subscriptionId: string, jobs: number) => number | undefined;
}

/**
 * Adds the due attempt of each delivery: first attempts published together to one subscription
 * (refs with a batchId) as one batch job, the rest as one job each. A batch must come whole in
 * one call: the job of a batch already queued is not added again. With `timeoutMs`, jobs that land
 * after it are harmless, being keyed by attempt.
 */
export async function enqueueDeliveries(queues: Queues, refs: readonly DeliveryRefLike[], { timeoutMs, holdFor }: EnqueueOptions = {}): Promise<void> {
  if (refs.length === 0) return;
  const { singles, batches } = splitBatches(refs);
  const firsts = singles.filter(isFirstOfRound);
  const later = singles.filter((r) => !isFirstOfRound(r));
  const delayOf = (subscriptionId: string | undefined, jobs: number) => (subscriptionId && holdFor?.(subscriptionId, jobs)) || 0;
  const bulk = (batch: readonly DeliveryRefLike[]) =>
    batch.map((ref) => {
      const data = toDeliveryJob(ref);
      return { name: deliveryJobName(ref.subscriptionId), data, opts: deliveryJobOptions(data, delayOf(ref.subscriptionId, 1)) };
    });
  const batchJobs = [...batches].map(([batchId, { subscriptionId, deliveries }]) => {
    const delay = Math.round(delayOf(subscriptionId, deliveries.length));
    return { name: batchJobName(subscriptionId), data: { deliveries }, opts: delay > 0 ? { jobId: batchId, delay } : { jobId: batchId } };
  });
  const adding = Promise.all([
    firsts.length > 0 ? queues.deliveries.addBulk(bulk(firsts)) : undefined,
    later.length > 0 ? queues.retries.addBulk(bulk(later)) : undefined,
    batchJobs.length > 0 ? queues.batches.addBulk(batchJobs) : undefined,
  ]);
  if (timeoutMs === undefined) {
    await adding;
    return;
  }
  adding.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not accept the jobs within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([adding, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
