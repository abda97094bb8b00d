import { createHash } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { queuePrefix } from './connection.ts';

/** Background work that is not a delivery attempt: bulk replays and the hourly retention pass. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** Replays every dead delivery that matches; ISO times bound when the delivery was created. */
export interface ReplayDeadJobData {
  tenantId?: string;
  subscriptionId?: string;
  since?: string;
  until?: string;
}

export function createMaintenanceQueue(connection: Redis, prefixName: string, onError: (err: Error) => void = () => {}) {
  const queue = new Queue<ReplayDeadJobData>(MAINTENANCE_QUEUE, { connection, prefix: queuePrefix(prefixName) });
  queue.on('error', onError);
  return queue;
}

/**
 * Queues a bulk replay. The same request while one is still running is the same job (its id is
 * derived from the filter), so calling twice does not replay twice.
 */
export async function requestDeadReplay(queue: Queue<ReplayDeadJobData>, data: ReplayDeadJobData): Promise<string> {
  const canonical = JSON.stringify([data.tenantId ?? null, data.subscriptionId ?? null, data.since ?? null, data.until ?? null]);
  const jobId = `replay-dead-${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
  await queue.add('replay-dead', data, { jobId, removeOnComplete: true, removeOnFail: { age: 3600 }, attempts: 5, backoff: { type: 'exponential', delay: 5_000 } });
  return jobId;
}
