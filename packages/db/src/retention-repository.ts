import type { Db } from './client.ts';

/** The smallest UUIDv7 of millisecond `ms`: every id below it belongs to an older row. */
export function uuidV7Floor(ms: number): string {
  const hex = Math.floor(ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * Deletes up to `limit` events created before `before`, with their deliveries and attempts (by
 * cascade), oldest first. Events with a delivery still pending are kept: nothing still owed is
 * dropped. Event ids are UUIDv7, so "older than" is a range scan of the primary key.
 */
export async function deleteExpiredEvents(db: Db, before: Date, limit: number): Promise<number> {
  const rows = await db.sql`
    delete from events where id in (
      select e.id from events e
      where e.id < ${uuidV7Floor(before.getTime())}::uuid
        and not exists (select 1 from deliveries d where d.event_id = e.id and d.status = 'pending')
      order by e.id
      limit ${limit})
    returning id`;
  return rows.length;
}

/** Idempotency keys only matter for 24 hours. */
export async function deleteExpiredIdempotencyKeys(db: Db, limit: number): Promise<number> {
  const rows = await db.sql`
    delete from idempotency_keys where ctid in (
      select ctid from idempotency_keys where created_at < now() - interval '24 hours' limit ${limit})
    returning 1`;
  return rows.length;
}

/** Provider de-duplication receipts older than the horizon: a provider does not retry for that long. */
export async function deleteExpiredReceipts(db: Db, before: Date, limit: number): Promise<number> {
  const rows = await db.sql`
    delete from source_receipts where ctid in (
      select ctid from source_receipts where received_at < ${before.toISOString()}::timestamptz limit ${limit})
    returning 1`;
  return rows.length;
}
