import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { findOverdueDeliveries, type Db } from '@hookrelay/db';
import { attemptJobId, enqueueDeliveries, mayBeInBatch, queueForRef, queuePrefix, toDeliveryJob, type Queues } from '@hookrelay/queue';

export interface ReconcilerOptions {
  db: Db;
  redis: Redis;
  queues: Queues;
  prefix: string;
  intervalMs: number;
  graceMs: number;
  logger: Logger;
  batchSize?: number;
  /** Pages looked at per pass, bounding one pass's work however large the backlog. */
  maxPages?: number;
}

/**
 * Postgres is the source of truth: any pending delivery overdue by more than the grace period is
 * re-enqueued. This recovers jobs the API committed but never enqueued (it died, or Redis was
 * down) and everything Redis lost. One worker at a time does it, under a Redis lease.
 */
export function startReconciler(opts: ReconcilerOptions) {
  const { db, redis, queues, logger } = opts;
  const lockKey = `${queuePrefix(opts.prefix)}:reconciler:lock`;
  const owner = randomUUID();
  const batchSize = opts.batchSize ?? 1_000;
  const maxPages = opts.maxPages ?? 50;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  /**
   * The overdue deliveries whose due attempt has no job in Redis: neither one of its own nor, for
   * a first attempt published in a batch, the batch's. They are re-enqueued as jobs of their own.
   */
  async function withoutJobs(refs: Parameters<typeof enqueueDeliveries>[1]) {
    const pipeline = redis.pipeline();
    for (const ref of refs) {
      const job = toDeliveryJob(ref);
      const keys = [queueForRef(queues, ref).toKey(attemptJobId(job.delivery, job.attempt))];
      if (mayBeInBatch(ref)) keys.push(queues.batches.toKey(ref.batchId));
      pipeline.exists(...keys);
    }
    const results = (await pipeline.exec()) ?? [];
    return refs.filter((_, i) => results[i]?.[1] === 0).map((ref) => ({ ...ref, batchId: null }));
  }

  /**
   * One pass: pages through every pending delivery overdue by more than the grace period (held
   * back by endpoint limits, waiting in a deep queue, or lost) and enqueues those whose job is
   * missing. Answers how many it enqueued.
   */
  async function runOnce(): Promise<number> {
    const acquired = await redis.set(lockKey, owner, 'PX', opts.intervalMs * 2, 'NX');
    if (acquired !== 'OK' && (await redis.get(lockKey)) !== owner) return 0;
    let enqueued = 0;
    let after: { nextAttemptAt: Date; id: string } | undefined;
    for (let page = 0; page < maxPages && !stopped; page++) {
      const overdue = await findOverdueDeliveries(db, opts.graceMs, batchSize, after);
      const missing = await withoutJobs(overdue);
      await enqueueDeliveries(queues, missing);
      enqueued += missing.length;
      await redis.pexpire(lockKey, opts.intervalMs * 2);
      if (overdue.length < batchSize) break;
      const last = overdue.at(-1)!;
      after = { nextAttemptAt: last.nextAttemptAt, id: last.id };
    }
    if (enqueued > 0) logger.warn({ count: enqueued }, 'reconciler re-enqueued deliveries that had no job');
    return enqueued;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(async () => {
      running = runOnce().catch((err) => {
        logger.error({ err }, 'reconciler pass failed');
        return 0;
      });
      await running;
      running = undefined;
      schedule();
    }, opts.intervalMs);
    timer.unref();
  }
  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
