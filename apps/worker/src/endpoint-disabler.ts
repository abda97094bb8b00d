import type { Logger } from 'pino';
import { OPERATIONAL_EVENTS } from '@hookrelay/domain';
import { disableSubscription, endPendingDeliveries, type Db } from '@hookrelay/db';
import { attemptJobId, type DeadLetterJobData, type Queues } from '@hookrelay/queue';
import type { OperationalEvents } from './operational-events.ts';

const BATCH = 500;

/**
 * Disables an endpoint on Hookrelay's initiative: the subscription stops receiving, every pending
 * delivery ends as dead with the reason (and appears in the dead-letter queue), its queued jobs
 * are withdrawn, and the tenant gets `hookrelay.endpoint.disabled`.
 */
export function createEndpointDisabler(db: Db, queues: Queues, emit: OperationalEvents, logger: Logger) {
  return async function disable(sub: { id: string; tenantId: string; url: string }, reason: string): Promise<void> {
    if (!(await disableSubscription(db, sub.tenantId, sub.id, reason))) return;
    let ended = 0;
    for (;;) {
      const batch = await endPendingDeliveries(db, sub.id, reason, BATCH);
      ended += batch.length;
      const diedAt = new Date().toISOString();
      // An entry left from an earlier death of the same delivery would block the new one.
      await Promise.all(batch.map((d) => queues.deadLetters.remove(d.id)));
      await queues.deadLetters.addBulk(
        batch.map((d) => ({
          name: 'dead',
          data: {
            deliveryId: d.id,
            tenantId: d.tenantId,
            eventId: d.eventId,
            subscriptionId: d.subscriptionId,
            attempts: d.attemptCount,
            lastStatusCode: d.lastStatusCode,
            reason,
            diedAt,
          } satisfies DeadLetterJobData,
          opts: { jobId: d.id, removeOnComplete: true, removeOnFail: false },
        })),
      );
      // Withdraw the queued next attempts; one that is running right now finds the subscription disabled.
      await Promise.all(
        batch.flatMap((d) => {
          const jobId = attemptJobId(d.id, d.attemptCount + 1);
          return [queues.deliveries.remove(jobId), queues.retries.remove(jobId)];
        }),
      );
      if (batch.length < BATCH) break;
    }
    logger.warn({ tenantId: sub.tenantId, subscriptionId: sub.id, reason, ended }, 'endpoint disabled');
    await emit(sub.tenantId, OPERATIONAL_EVENTS.endpointDisabled, {
      subscriptionId: sub.id,
      url: sub.url,
      reason,
      deliveriesEnded: ended,
    });
  };
}
