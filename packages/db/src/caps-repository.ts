import { and, count, eq, isNull, sql } from 'drizzle-orm';
import type { Db, Orm } from './client.ts';
import { sources, subscriptions } from './schema.ts';

const TABLES = { subscriptions, sources } as const;
export type CappedKind = keyof typeof TABLES;

/** A tenant already has as many live rows of a kind as it may have. */
export class TenantCapError extends Error {
  override name = 'TenantCapError';
  constructor(
    readonly kind: CappedKind,
    readonly max: number,
  ) {
    super(`the tenant already has ${max} ${kind}, the most it may have: delete one it no longer needs first`);
  }
}

/**
 * Runs `create` only while the tenant has fewer than `max` live (not deleted) rows of `kind`;
 * otherwise throws a TenantCapError and writes nothing. The count and the insert share a
 * transaction and a per-tenant advisory lock, so concurrent creates cannot overshoot the cap.
 * `max` 0 means no cap.
 */
export async function createWithinCap<T>(
  db: Db,
  tenantId: string,
  kind: CappedKind,
  max: number,
  create: (db: Db) => Promise<T>,
): Promise<T> {
  if (max <= 0) return create(db);
  const table = TABLES[kind];
  return db.orm.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`hookrelay:cap:${kind}:${tenantId}`}, 0))`);
    const [row] = await tx
      .select({ n: count() })
      .from(table)
      .where(and(eq(table.tenantId, tenantId), isNull(table.deletedAt)));
    if ((row?.n ?? 0) >= max) throw new TenantCapError(kind, max);
    return create({ ...db, orm: tx as unknown as Orm });
  });
}
