import { countDeadDeliveries, type Db, type DeadDeliveryFilter } from '@hookrelay/db';
import { requestDeadReplay, type Queues } from '@hookrelay/queue';
import { HttpError } from '../plugins/errors.ts';
import { parseWindow } from './stats.ts';

/** Counts what a bulk replay will take, then hands the work to the workers' maintenance queue. */
export interface ReplayRequest extends Pick<DeadDeliveryFilter, 'tenantId' | 'subscriptionId'> {
  since?: string | undefined;
  until?: string | undefined;
}

export async function startDeadReplay(db: Db, queues: Queues, filter: ReplayRequest) {
  const { since, until, ...ids } = filter;
  const window = parseWindow({ since, until }, 'body');
  const count = await countDeadDeliveries(db, { ...ids, ...window });
  if (!queues.connected()) throw new HttpError(503, 'the queue is unavailable; try again shortly');
  const jobId = await requestDeadReplay(queues.maintenance, {
    ...(ids.tenantId ? { tenantId: ids.tenantId } : {}),
    ...(ids.subscriptionId ? { subscriptionId: ids.subscriptionId } : {}),
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  });
  return { count, jobId, requestedAt: new Date().toISOString() };
}
