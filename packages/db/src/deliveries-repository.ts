import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import type { Db } from './client.ts';
import { createdWithin, type CreatedWindow, type DeliveryRef } from './events-repository.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { attempts, deliveries, events } from './schema.ts';

export type DeliveryStatus = (typeof deliveries.$inferSelect)['status'];

const deliveryColumns = {
  id: deliveries.id,
  eventId: deliveries.eventId,
  subscriptionId: deliveries.subscriptionId,
  status: deliveries.status,
  attemptCount: deliveries.attemptCount,
  nextAttemptAt: deliveries.nextAttemptAt,
  lastStatusCode: deliveries.lastStatusCode,
  lastError: deliveries.lastError,
  createdAt: deliveries.createdAt,
  updatedAt: deliveries.updatedAt,
};

/** since/until bound the delivery's created_at (see createdWithin). */
export interface DeliveryFilter extends PageRequest, CreatedWindow {
  status?: DeliveryStatus | undefined;
  subscriptionId?: string | undefined;
  eventId?: string | undefined;
  /** The status code of the delivery's last attempt. */
  statusCode?: number | undefined;
  /** The exact type of the delivery's event. */
  eventType?: string | undefined;
}

/**
 * `status = …`, and for a status that deliveries_tenant_status_idx holds (any but `succeeded`) the
 * index's own condition beside it: a plan made without the value (a generic plan) cannot tell
 * that the index holds the rows asked for, and would walk every delivery of the tenant instead.
 */
function statusIs(status: DeliveryStatus) {
  const eqStatus = eq(deliveries.status, status);
  return status === 'succeeded' ? eqStatus : and(eqStatus, sql`${deliveries.status} <> 'succeeded'`);
}

/** The page query of `listDeliveries`, unexecuted (its plan is checked in the tests). */
export function deliveriesPageQuery(db: Db, tenantId: string, filter: DeliveryFilter) {
  const after = decodeCursor(filter.cursor);
  return db.orm
    .select(deliveryColumns)
    .from(deliveries)
    .where(
      and(
        eq(deliveries.tenantId, tenantId),
        filter.status ? statusIs(filter.status) : undefined,
        filter.subscriptionId ? eq(deliveries.subscriptionId, filter.subscriptionId) : undefined,
        filter.eventId ? eq(deliveries.eventId, filter.eventId) : undefined,
        filter.statusCode !== undefined ? eq(deliveries.lastStatusCode, filter.statusCode) : undefined,
        // A semi-join rather than a join: the planner may walk deliveries newest first and probe
        // each event by primary key, or start from events_tenant_type_idx and deliveries_event_idx.
        filter.eventType !== undefined
          ? sql`exists (select 1 from ${events} where ${events.id} = ${deliveries.eventId} and ${events.tenantId} = ${tenantId} and ${events.type} = ${filter.eventType})`
          : undefined,
        createdWithin(deliveries.id, deliveries.createdAt, filter),
        after ? lt(deliveries.id, after) : undefined,
      ),
    )
    .orderBy(desc(deliveries.id))
    .limit(filter.limit + 1);
}

export async function listDeliveries(db: Db, tenantId: string, filter: DeliveryFilter) {
  return toPage(await deliveriesPageQuery(db, tenantId, filter), filter.limit);
}

export async function getDelivery(db: Db, tenantId: string, id: string) {
  const [delivery] = await db.orm
    .select(deliveryColumns)
    .from(deliveries)
    .where(and(eq(deliveries.tenantId, tenantId), eq(deliveries.id, id)));
  if (!delivery) return undefined;
  const history = await db.orm
    .select({
      attempt: attempts.attempt,
      startedAt: attempts.startedAt,
      durationMs: attempts.durationMs,
      statusCode: attempts.statusCode,
      responseBody: attempts.responseBody,
      error: attempts.error,
    })
    .from(attempts)
    .where(and(eq(attempts.tenantId, tenantId), eq(attempts.deliveryId, id)))
    .orderBy(asc(attempts.attempt), asc(attempts.id));
  return { ...delivery, attempts: history };
}

/**
 * A fresh round of attempts. The delivery leaves its batch: a batch job still queued from its
 * first round must not send it beside the new round's own job.
 */
const newRound = () =>
  ({ status: 'pending', roundStart: sql`${deliveries.attemptCount}`, batchId: null, nextAttemptAt: new Date(), updatedAt: new Date() }) as const;

export type NewRoundResult =
  | { outcome: 'started'; delivery: DeliveryRef }
  | { outcome: 'not_found' }
  | { outcome: 'pending' };

/**
 * Puts a finished (succeeded or dead) delivery back to pending for a fresh round of attempts.
 * A pending delivery is left alone: it already has a round in progress.
 */
export async function startNewRound(db: Db, tenantId: string, id: string): Promise<NewRoundResult> {
  const [row] = await db.orm
    .update(deliveries)
    .set(newRound())
    .where(and(eq(deliveries.tenantId, tenantId), eq(deliveries.id, id), sql`${deliveries.status} <> 'pending'`))
    .returning(refColumns);
  if (row) return { outcome: 'started', delivery: row };
  const [exists] = await db.orm
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.tenantId, tenantId), eq(deliveries.id, id)));
  return exists ? { outcome: 'pending' } : { outcome: 'not_found' };
}

const refColumns = {
  id: deliveries.id,
  tenantId: deliveries.tenantId,
  eventId: deliveries.eventId,
  subscriptionId: deliveries.subscriptionId,
  attemptCount: deliveries.attemptCount,
  roundStart: deliveries.roundStart,
};

/**
 * Pending deliveries that were due more than `graceMs` ago. Their job may have been lost (the API
 * died between commit and enqueue, or Redis lost data); re-enqueueing them by delivery id is
 * harmless when the job still exists, because the queue ignores a duplicate job id.
 */
export interface OverdueCursor {
  nextAttemptAt: Date;
  id: string;
}

export async function findOverdueDeliveries(
  db: Db,
  graceMs: number,
  limit: number,
  after?: OverdueCursor,
): Promise<(DeliveryRef & { nextAttemptAt: Date })[]> {
  return db.orm
    .select({ ...refColumns, batchId: deliveries.batchId, nextAttemptAt: sql<Date>`${deliveries.nextAttemptAt}`.mapWith(deliveries.nextAttemptAt) })
    .from(deliveries)
    .where(
      and(
        eq(deliveries.status, 'pending'),
        lt(deliveries.nextAttemptAt, sql`now() - make_interval(secs => ${graceMs / 1000})`),
        after
          ? sql`(${deliveries.nextAttemptAt}, ${deliveries.id}) > (${after.nextAttemptAt.toISOString()}::timestamptz, ${after.id}::uuid)`
          : undefined,
      ),
    )
    .orderBy(asc(deliveries.nextAttemptAt), asc(deliveries.id))
    .limit(limit);
}

/** A delivery that was ended in bulk, with what the dead-letter queue shows about it. */
export interface EndedDelivery extends DeliveryRef {
  lastStatusCode: number | null;
}

/**
 * Ends up to `limit` pending deliveries of a subscription as dead with `reason` (it was disabled);
 * call until it returns fewer than `limit`.
 */
export async function endPendingDeliveries(
  db: Db,
  subscriptionId: string,
  reason: string,
  limit: number,
): Promise<EndedDelivery[]> {
  return db.sql<EndedDelivery[]>`
    update deliveries d set status = 'dead', next_attempt_at = null, last_error = ${reason}, updated_at = now()
    where d.id in (
      select id from deliveries where subscription_id = ${subscriptionId} and status = 'pending' limit ${limit}
      for update skip locked)
    returning d.id, d.tenant_id as "tenantId", d.event_id as "eventId", d.subscription_id as "subscriptionId",
              d.attempt_count as "attemptCount", d.round_start as "roundStart", d.last_status_code as "lastStatusCode"`;
}

/** Which dead deliveries a bulk replay takes; times bound when the delivery was created. */
export interface DeadDeliveryFilter {
  tenantId?: string | undefined;
  subscriptionId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

function deadWhere(f: DeadDeliveryFilter) {
  return and(
    statusIs('dead'),
    f.tenantId ? eq(deliveries.tenantId, f.tenantId) : undefined,
    f.subscriptionId ? eq(deliveries.subscriptionId, f.subscriptionId) : undefined,
    f.since ? sql`${deliveries.createdAt} >= ${f.since.toISOString()}` : undefined,
    f.until ? sql`${deliveries.createdAt} < ${f.until.toISOString()}` : undefined,
  );
}

export async function countDeadDeliveries(db: Db, f: DeadDeliveryFilter): Promise<number> {
  const [row] = await db.orm.select({ n: sql<number>`count(*)::int` }).from(deliveries).where(deadWhere(f));
  return row?.n ?? 0;
}

/**
 * Starts a fresh round for up to `limit` dead deliveries matching `f` and returns them for
 * enqueueing. Rows another replay is taking right now are skipped, so two replays never double up.
 */
export async function reviveDeadDeliveries(db: Db, f: DeadDeliveryFilter, limit: number): Promise<DeliveryRef[]> {
  const picked = db.orm
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(deadWhere(f))
    .limit(limit)
    .for('update', { skipLocked: true });
  return db.orm
    .update(deliveries)
    .set(newRound())
    .where(sql`${deliveries.id} in ${picked}`)
    .returning(refColumns);
}
