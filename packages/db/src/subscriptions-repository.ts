import { and, desc, eq, inArray, isNull, lt } from 'drizzle-orm';
import type { Db, Orm } from './client.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { reencryptRows, type ReencryptOptions, type ReencryptProgress } from './reencrypt.ts';
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

/** How long deliveries are still signed with the previous secret after a rotation. */
export const SECRET_ROTATION_OVERLAP_MS = 24 * 60 * 60_000;

/**
 * Secrets are encrypted here and nowhere else: rows are written with ciphertext and read back with
 * plain text, so routes and the worker only ever see plain text. A previous secret whose overlap
 * has ended reads as null (with its expiry), whatever key it was written under.
 */
function opened(db: Db, row: Subscription): Subscription;
function opened(db: Db, row: Subscription | undefined): Subscription | undefined;
function opened(db: Db, row: Subscription | undefined): Subscription | undefined {
  if (!row) return undefined;
  const previousActive = row.previousSecret !== null && row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > new Date();
  return {
    ...row,
    secret: db.secrets.decrypt(row.secret),
    previousSecret: previousActive ? db.secrets.decrypt(row.previousSecret!) : null,
    previousSecretExpiresAt: previousActive ? row.previousSecretExpiresAt : null,
  };
}

export async function createSubscription(db: Db, tenantId: string, input: SubscriptionInput): Promise<Subscription> {
  const [row] = await db.orm
    .insert(subscriptions)
    .values({ ...input, secret: db.secrets.encrypt(input.secret), id: newId(), tenantId })
    .returning();
  return opened(db, row!);
}

export async function getSubscription(db: Db, tenantId: string, id: string): Promise<Subscription | undefined> {
  const [row] = await db.orm.select().from(subscriptions).where(live(tenantId, id));
  return opened(db, row);
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
  return toPage(
    rows.map((row) => opened(db, row)),
    page.limit,
  );
}

export async function updateSubscription(
  db: Db,
  tenantId: string,
  id: string,
  patch: Partial<SubscriptionInput>,
): Promise<Subscription | undefined> {
  const [row] = await db.orm
    .update(subscriptions)
    .set({
      ...patch,
      // Setting the secret outright replaces it at once: any rotation overlap ends with it.
      ...(patch.secret !== undefined
        ? { secret: db.secrets.encrypt(patch.secret), previousSecret: null, previousSecretExpiresAt: null }
        : {}),
      // Enabling again clears the reason Hookrelay disabled it for.
      ...(patch.enabled === true ? { disabledReason: null } : {}),
      updatedAt: new Date(),
    })
    .where(live(tenantId, id))
    .returning();
  return opened(db, row);
}

/**
 * Makes `secret` the signing secret and keeps the current one as the previous secret for
 * `overlapMs`: deliveries carry both signatures until then. A rotation during an overlap replaces
 * the older previous secret.
 */
export async function rotateSubscriptionSecret(
  db: Db,
  tenantId: string,
  id: string,
  secret: string,
  overlapMs = SECRET_ROTATION_OVERLAP_MS,
): Promise<Subscription | undefined> {
  return db.orm.transaction(async (tx) => {
    const [current] = await tx.select({ secret: subscriptions.secret }).from(subscriptions).where(live(tenantId, id)).for('update');
    if (!current) return undefined;
    const now = new Date();
    const [row] = await tx
      .update(subscriptions)
      .set({
        secret: db.secrets.encrypt(secret),
        // Decrypted and encrypted again: a value under an old key (or in plain text) is rewritten too.
        previousSecret: db.secrets.encrypt(db.secrets.decrypt(current.secret)),
        previousSecretExpiresAt: new Date(now.getTime() + overlapMs),
        updatedAt: now,
      })
      .where(live(tenantId, id))
      .returning();
    return opened(db, row);
  });
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

/** The live subscriptions of the given tenants, with the event types each wants. */
/** A tenant's live subscriptions as fan-out sees them, with the version they were read at. */
export interface FanoutTargets {
  /** The tenant's `subscriptions_version` in the same snapshot as the list. */
  version: string;
  subscriptions: { id: string; eventTypes: string[] }[];
}

/** The enabled, undeleted subscriptions of each tenant, by tenant id (every tenant asked for that exists). */
export async function readFanoutTargets(db: Db, tenantIds: readonly string[]): Promise<Map<string, FanoutTargets>> {
  // Raw postgres.js, as on the other per-publish paths: building the query through drizzle cost
  // more CPU than running it.
  const rows = await db.sql<{ tenantId: string; version: string; id: string | null; eventTypes: string[] | null }[]>`
    select t.id as "tenantId", t.subscriptions_version::text as version, s.id, s.event_types as "eventTypes"
    from tenants t
    left join subscriptions s on s.tenant_id = t.id and s.enabled and s.deleted_at is null
    where t.id = any(${tenantIds as string[]}::uuid[])`;
  const byTenant = new Map<string, FanoutTargets>();
  for (const row of rows) {
    let targets = byTenant.get(row.tenantId);
    if (!targets) byTenant.set(row.tenantId, (targets = { version: row.version, subscriptions: [] }));
    if (row.id !== null) targets.subscriptions.push({ id: row.id, eventTypes: row.eventTypes! });
  }
  return byTenant;
}

/**
 * Rewrites every subscription's secrets (deleted ones too) that are not yet under the current key,
 * so old keys can be retired; a previous secret whose overlap has ended is cleared instead.
 */
export async function reencryptSubscriptionSecrets(db: Db, options: ReencryptOptions = {}): Promise<ReencryptProgress> {
  const box = db.secrets;
  type Row = { id: string; secret: string; previousSecret: string | null; previousActive: boolean };
  const columns = db.sql`id, secret, previous_secret as "previousSecret", coalesce(previous_secret_expires_at > now(), false) as "previousActive"`;
  const current = (stored: string) => (box.isCurrent(stored) ? stored : box.encrypt(box.decrypt(stored)));
  return reencryptRows<Row>(
    {
      batch: (afterId, limit) => db.sql<Row[]>`select ${columns} from subscriptions where id > ${afterId}::uuid order by id limit ${limit}`,
      one: async (id) => (await db.sql<Row[]>`select ${columns} from subscriptions where id = ${id}::uuid`)[0],
    },
    async (row) => {
      const keepPrevious = row.previousSecret !== null && row.previousActive;
      const stale = !box.isCurrent(row.secret) || (row.previousSecret !== null && (!keepPrevious || !box.isCurrent(row.previousSecret)));
      if (!stale) return 'current';
      const secret = current(row.secret);
      const previous = keepPrevious ? current(row.previousSecret!) : null;
      const updated = await db.sql`
        update subscriptions set secret = ${secret}, previous_secret = ${previous}::text,
          previous_secret_expires_at = case when ${previous}::text is null then null else previous_secret_expires_at end
        where id = ${row.id}::uuid and secret = ${row.secret} and previous_secret is not distinct from ${row.previousSecret}::text`;
      return updated.count === 1 ? 'written' : 'changed';
    },
    options,
  );
}
