import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './connection.ts';
import { createMaintenanceQueue, type ReplayDeadJobData } from './maintenance-queue.ts';

/** First attempts of each round: never stuck behind a backlog of retries. */
export const DELIVERY_QUEUE = 'deliveries';
/** Second and later attempts, released when their backoff delay is over. */
export const RETRY_QUEUE = 'retries';
export const DEAD_LETTER_QUEUE = 'dead-letters';

/**
 * A delivery job carries ids only: the payload and the secret stay in Postgres, so jobs are small
 * and nothing secret sits in Redis.
 */
export interface DeliveryJobData {
  deliveryId: string;
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  /** Attempt number (1-based, over the delivery's life) of this job's first run. */
  attempt: number;
  /** Position of that run within the current round of the retry policy (1-based). */
  roundAttempt: number;
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
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  attemptCount: number;
  roundStart: number;
}

export function toDeliveryJob(ref: DeliveryRefLike): DeliveryJobData {
  return {
    deliveryId: ref.id,
    tenantId: ref.tenantId,
    eventId: ref.eventId,
    subscriptionId: ref.subscriptionId,
    attempt: ref.attemptCount + 1,
    roundAttempt: ref.attemptCount - ref.roundStart + 1,
  };
}

/**
 * One job per attempt, keyed `<delivery id>.<attempt number>`: enqueueing an attempt that is
 * already queued is a no-op, whichever process (API, worker, reconciler) does it.
 */
export const attemptJobId = (deliveryId: string, attempt: number): string => `${deliveryId}.${attempt}`;

export function deliveryJobOptions(data: DeliveryJobData, delayMs = 0): JobsOptions {
  return {
    jobId: attemptJobId(data.deliveryId, data.attempt),
    // The worker decides about retries itself (from the subscription's policy) and schedules
    // them as new jobs on the retry queue, so BullMQ never retries a job on its own.
    attempts: 1,
    ...(delayMs > 0 ? { delay: Math.round(delayMs) } : {}),
    // Postgres keeps the history; finished jobs leave Redis at once so memory stays flat.
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export interface Queues {
  deliveries: Queue<DeliveryJobData>;
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
  const deadLetters = new Queue<DeadLetterJobData>(DEAD_LETTER_QUEUE, { connection, prefix });
  // Connection errors surface here too; the owner logs them (an unhandled 'error' would crash).
  const maintenance = createMaintenanceQueue(connection, prefixName, onError);
  for (const q of [deliveries, retries, deadLetters]) q.on('error', onError);
  return {
    deliveries,
    retries,
    deadLetters,
    maintenance,
    connected: () => connection.status === 'ready',
    async close() {
      await Promise.all([deliveries.close(), retries.close(), deadLetters.close(), maintenance.close()]);
    },
  };
}

/** The queue an attempt belongs on: the first of a round goes ahead of every retry. */
export const queueFor = (queues: Queues, data: DeliveryJobData): Queue<DeliveryJobData> =>
  data.roundAttempt === 1 ? queues.deliveries : queues.retries;

/** Schedules the next attempt of a delivery that just failed. */
export async function enqueueRetry(queues: Queues, data: DeliveryJobData, delayMs: number): Promise<void> {
  await queueFor(queues, data).add('deliver', data, deliveryJobOptions(data, delayMs));
}

/**
 * Adds the due attempt of each delivery. With `timeoutMs`, gives up waiting after that long
 * (BullMQ would otherwise wait for Redis to come back); jobs that land later are harmless, being
 * keyed by attempt.
 */
export async function enqueueDeliveries(
  queues: Queues,
  refs: readonly DeliveryRefLike[],
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<void> {
  if (refs.length === 0) return;
  const jobs = refs.map(toDeliveryJob);
  const firsts = jobs.filter((j) => j.roundAttempt === 1);
  const later = jobs.filter((j) => j.roundAttempt !== 1);
  const bulk = (data: DeliveryJobData[]) => data.map((d) => ({ name: 'deliver', data: d, opts: deliveryJobOptions(d) }));
  const adding = Promise.all([
    firsts.length > 0 ? queues.deliveries.addBulk(bulk(firsts)) : undefined,
    later.length > 0 ? queues.retries.addBulk(bulk(later)) : undefined,
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
