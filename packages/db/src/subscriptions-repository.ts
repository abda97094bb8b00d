import { and, desc, eq, isNull, lt } from 'drizzle-orm';
import type { Db } from './client.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { subscriptions } from './schema.ts';

export type Subscription = typeof subscriptions.$inferSelect;
export type SubscriptionInput = Pick<
  typeof subscriptions.$inferInsert,
  | 'url'
  | 'eventTypes'
  | 'description'
  | 'secret'
  | 'headers'
  | 'retryPolicy'
  | 'enabled'
  | 'metadata'
  | 'rateLimit'
  | 'maxInFlight'
  | 'disableOnGone'
>;

const live = (tenantId: string, id: string) =>
  and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.id, id), isNull(subscriptions.deletedAt));

export async function createSubscription(db: Db, tenantId: string, input: SubscriptionInput): Promise<Subscription> {
  const [row] = await db.orm
    .insert(subscriptions)
    .values({ ...input, id: newId(), tenantId })
    .returning();
  return row!;
}

export async function getSubscription(db: Db, tenantId: string, id: string): Promise<Subscription | undefined> {
  const [row] = await db.orm.select().from(subscriptions).where(live(tenantId, id));
  return row;
}

export async function listSubscriptions(db: Db, tenantId: string, page: PageRequest) {
  const after = decodeCursor(page.cursor);
  const rows = await db.orm
    .select()
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.tenantId, tenantId),
        isNull(subscriptions.deletedAt),
        after ? lt(subscriptions.id, after) : undefined,
      ),
    )
    .orderBy(desc(subscriptions.id))
    .limit(page.limit + 1);
  return toPage(rows, page.limit);
}

export async function updateSubscription(
  db: Db,
  tenantId: string,
  id: string,
  patch: Partial<SubscriptionInput>,
): Promise<Subscription | undefined> {
  const [row] = await db.orm
    .update(subscriptions)
    // Enabling again clears the reason Hookrelay disabled it for.
    .set({ ...patch, ...(patch.enabled === true ? { disabledReason: null } : {}), updatedAt: new Date() })
    .where(live(tenantId, id))
    .returning();
  return row;
}

/** Disables an enabled subscription on Hookrelay's own initiative; answers whether it was enabled. */
export async function disableSubscription(db: Db, tenantId: string, id: string, reason: string): Promise<boolean> {
  const rows = await db.orm
    .update(subscriptions)
    .set({ enabled: false, disabledReason: reason, updatedAt: new Date() })
    .where(and(live(tenantId, id), eq(subscriptions.enabled, true)))
    .returning({ id: subscriptions.id });
  return rows.length > 0;
}

/**
 * Soft delete: the row stays so delivery history keeps its subscription; pending deliveries
 * to it end as dead with a clear reason when a worker next picks them up.
 */
export async function deleteSubscription(db: Db, tenantId: string, id: string): Promise<boolean> {
  const rows = await db.orm
    .update(subscriptions)
    .set({ deletedAt: new Date(), enabled: false })
    .where(live(tenantId, id))
    .returning({ id: subscriptions.id });
  return rows.length > 0;
}

/** The filters of every subscription that can receive a tenant's new events. */
export async function listFanoutTargets(db: Db, tenantId: string) {
  return db.orm
    .select({ id: subscriptions.id, eventTypes: subscriptions.eventTypes })
    .from(subscriptions)
    .where(and(eq(subscriptions.tenantId, tenantId), eq(subscriptions.enabled, true), isNull(subscriptions.deletedAt)));
}
