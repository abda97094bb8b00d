import type { Logger } from 'pino';
import { deleteExpiredEvents, deleteExpiredIdempotencyKeys, deleteExpiredReceipts, type Db } from '@hookrelay/db';
import type { Queues } from '@hookrelay/queue';

const BATCH = 1_000;
const DAY_MS = 24 * 60 * 60_000;

export interface RetentionResult {
  events: number;
  idempotencyKeys: number;
  receipts: number;
  deadLetters: number;
}

/**
 * Removes what is older than the horizon in small batches, each its own short transaction, so no
 * long lock is held and autovacuum can keep up; dead letters past the horizon leave Redis too.
 */
export async function runRetention(db: Db, queues: Queues, horizonDays: number, logger: Logger): Promise<RetentionResult> {
  const before = new Date(Date.now() - horizonDays * DAY_MS);
  const drain = async (step: () => Promise<number>) => {
    let total = 0;
    for (;;) {
      const n = await step();
      total += n;
      if (n < BATCH) return total;
    }
  };
  const result: RetentionResult = {
    events: await drain(() => deleteExpiredEvents(db, before, BATCH)),
    idempotencyKeys: await drain(() => deleteExpiredIdempotencyKeys(db, BATCH)),
    receipts: await drain(() => deleteExpiredReceipts(db, before, BATCH)),
    deadLetters: (await queues.deadLetters.clean(horizonDays * DAY_MS, 0, 'failed')).length,
  };
  logger.info({ ...result, before: before.toISOString() }, 'retention pass finished');
  return result;
}
