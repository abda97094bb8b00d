import DataLoader from 'dataloader';
import { loadDeliveriesForAttempt, type Db, type DeliveryForAttempt } from '@hookrelay/db';

function byId<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | undefined)[] {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id));
}

/**
 * Loads what an attempt needs in one joined query, batching the lookups of every job that starts
 * in the same turn of the event loop (BullMQ hands jobs over one by one as Redis answers arrive,
 * so waiting for the turn to end, not just the tick, is what gathers them). Nothing is cached: the row decides whether the attempt is still owed, and a
 * subscription PATCH (new URL, secret, disable) must apply at once.
 */
export function createLoaders(db: Db) {
  const deliveries = new DataLoader<string, DeliveryForAttempt | undefined>(
    async (ids) => byId(ids, await loadDeliveriesForAttempt(db, ids)),
    { cache: false, batchScheduleFn: (run) => setImmediate(run) },
  );
  return {
    loadDelivery: (id: string) => deliveries.load(id),
  };
}
