import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { startNewRound, type Db } from '@hookrelay/db';
import { enqueueDeliveries, type DeadLetterJobData, type Queues } from '@hookrelay/queue';

type ParkedJobData = DeadLetterJobData & { parkedAt?: string };

/**
 * Dead letters rest in the dead-letter queue's failed set, with the reason as the failure, so
 * operators see them in Bull Board. The first run parks the job there; a later run can only come
 * from an operator pressing "retry", and replays the delivery.
 */
export function createDeadLetterProcessor(db: Db, queues: Queues, logger: Logger) {
  return async function process(job: Job<ParkedJobData>): Promise<string> {
    if (!job.data.parkedAt) {
      await job.updateData({ ...job.data, parkedAt: new Date().toISOString() });
      throw new UnrecoverableError(job.data.reason);
    }
    const result = await startNewRound(db, job.data.tenantId, job.data.deliveryId);
    if (result.outcome === 'started') await enqueueDeliveries(queues, [result.delivery]);
    logger.info({ deliveryId: job.data.deliveryId, outcome: result.outcome }, 'dead letter replayed');
    return result.outcome;
  };
}
