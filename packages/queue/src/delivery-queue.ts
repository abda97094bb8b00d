import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './connection.ts';

export const DELIVERY_QUEUE = 'deliveries';
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

/** Retries are decided by the worker from the subscription's policy; BullMQ only schedules them. */
export const RETRY_BACKOFF_TYPE = 'subscription-policy';
const ATTEMPTS_CEILING = 1_000;

export function deliveryJobOptions(deliveryId: string): JobsOptions {
  return {
    // Keyed by delivery id: enqueueing a delivery that already has a job is a no-op.
    jobId: deliveryId,
    attempts: ATTEMPTS_CEILING,
    backoff: { type: RETRY_BACKOFF_TYPE },
    // Postgres keeps the history; finished jobs leave Redis at once so memory stays flat and the
    // id is free for a later round.
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export interface Queues {
  deliveries: Queue<DeliveryJobData>;
  deadLetters: Queue<DeadLetterJobData>;
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
  const deadLetters = new Queue<DeadLetterJobData>(DEAD_LETTER_QUEUE, { connection, prefix });
  // Connection errors surface here too; the owner logs them (an unhandled 'error' would crash).
  deliveries.on('error', onError);
  deadLetters.on('error', onError);
  return {
    deliveries,
    deadLetters,
    connected: () => connection.status === 'ready',
    async close() {
      await Promise.all([deliveries.close(), deadLetters.close()]);
    },
  };
}

/**
 * Adds one job per delivery. With `timeoutMs`, gives up waiting after that long (BullMQ would
 * otherwise wait for Redis to come back); jobs that land later are harmless, being keyed by id.
 */
export async function enqueueDeliveries(
  queue: Queue<DeliveryJobData>,
  refs: readonly DeliveryRefLike[],
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<void> {
  if (refs.length === 0) return;
  const adding = queue.addBulk(
    refs.map((ref) => ({ name: 'deliver', data: toDeliveryJob(ref), opts: deliveryJobOptions(ref.id) })),
  );
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
