import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';
import {
  loadDeliveryProgress,
  loadEventsForDelivery,
  loadSubscriptionsForDelivery,
  type Db,
  type DeliveryProgress,
  type EventForDelivery,
  type SubscriptionForDelivery,
} from '@hookrelay/db';

function byId<T extends { id: string }>(ids: readonly string[], rows: T[]): (T | undefined)[] {
  const map = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => map.get(id));
}

/**
 * Loads the rows a delivery needs, batching the lookups of every job that starts in the same tick
 * into one query. Events never change, so they are also cached (bounded by payload bytes);
 * subscriptions are read fresh each time so a PATCH (new URL, secret, disable) applies at once.
 */
export function createLoaders(db: Db, eventCacheBytes = 64 * 1024 * 1024) {
  const eventCache = new LRUCache<string, EventForDelivery>({
    maxSize: eventCacheBytes,
    sizeCalculation: (e) => e.dataJson.length + 256,
    ttl: 10 * 60_000,
  });
  const events = new DataLoader<string, EventForDelivery | undefined>(
    async (ids) => byId(ids, await loadEventsForDelivery(db, ids)),
    { cache: false },
  );
  const subscriptions = new DataLoader<string, SubscriptionForDelivery | undefined>(
    async (ids) => byId(ids, await loadSubscriptionsForDelivery(db, ids)),
    { cache: false },
  );
  const progress = new DataLoader<string, DeliveryProgress | undefined>(
    async (ids) => byId(ids, await loadDeliveryProgress(db, ids)),
    { cache: false },
  );
  return {
    loadDeliveryProgress: (id: string) => progress.load(id),
    async loadEvent(id: string): Promise<EventForDelivery | undefined> {
      const cached = eventCache.get(id);
      if (cached) return cached;
      const event = await events.load(id);
      if (event) eventCache.set(id, event);
      return event;
    },
    loadSubscription: (id: string) => subscriptions.load(id),
  };
}
