import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import { findOverdueDeliveries, type Db } from '@hookrelay/db';
import { enqueueDeliveries, queuePrefix, type Queues } from '@hookrelay/queue';

export interface ReconcilerOptions {
  db: Db;
  redis: Redis;
  queues: Queues;
  prefix: string;
  intervalMs: number;
  graceMs: number;
  logger: Logger;
  batchSize?: number;
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
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let stopped = false;

  async function runOnce(): Promise<number> {
    const acquired = await redis.set(lockKey, owner, 'PX', opts.intervalMs * 2, 'NX');
    if (acquired !== 'OK' && (await redis.get(lockKey)) !== owner) return 0;
    const overdue = await findOverdueDeliveries(db, opts.graceMs, batchSize);
    // Jobs that still exist are left as they are: the queue ignores a duplicate job id.
    await enqueueDeliveries(queues, overdue);
    if (overdue.length > 0) logger.info({ count: overdue.length }, 'reconciler checked overdue deliveries');
    await redis.pexpire(lockKey, opts.intervalMs * 2);
    return overdue.length;
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
