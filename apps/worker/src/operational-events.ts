import type { Logger } from 'pino';
import { OPERATIONAL_EVENT_PREFIX } from '@hookrelay/domain';
import { publishEvent, type Db } from '@hookrelay/db';
import { enqueueDeliveries, type Queues } from '@hookrelay/queue';

export type OperationalEvents = (tenantId: string, type: string, data: Record<string, unknown>) => Promise<void>;

/**
 * Publishes Hookrelay's own events (`hookrelay.*`) to a tenant, as ordinary events: they fan out
 * to the tenant's subscriptions like any other. A failure is logged, never thrown: reporting on a
 * delivery must not break the delivery itself.
 */
export function createOperationalEvents(db: Db, queues: Queues, logger: Logger): OperationalEvents {
  return async (tenantId, type, data) => {
    if (!type.startsWith(OPERATIONAL_EVENT_PREFIX)) throw new Error(`not an operational event type: ${type}`);
    try {
      const result = await publishEvent(db, tenantId, { type, data });
      await enqueueDeliveries(queues, result.deliveries);
    } catch (err) {
      logger.error({ err, tenantId, type }, 'could not publish operational event');
    }
  };
}
