import { and, asc, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { matchesEventType } from '@hookrelay/domain';
import type { Db } from './client.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { deliveries, events, idempotencyKeys, sourceReceipts, sources, type EventSource } from './schema.ts';
import { listFanoutTargets } from './subscriptions-repository.ts';

export interface PublishInput {
  type: string;
  data: unknown;
  idempotencyKey?: string | undefined;
}

export interface PublishedEvent {
  id: string;
  type: string;
  timestamp: Date;
  deliveryCount: number;
}

/** What a queue needs to schedule a delivery; see the queue package's job payload. */
export interface DeliveryRef {
  id: string;
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  attemptCount: number;
  roundStart: number;
}

export interface PublishResult {
  event: PublishedEvent;
  /** Deliveries created by this call: empty when an idempotency key replayed an earlier event. */
  deliveries: DeliveryRef[];
  replayed: boolean;
}

const IDEMPOTENCY_WINDOW = sql`interval '24 hours'`;

type Tx = Parameters<Parameters<Db['orm']['transaction']>[0]>[0];

interface NewEvent {
  id: string;
  tenantId: string;
  type: string;
  data: unknown;
  timestamp: Date;
  idempotencyKey?: string | null;
  source?: EventSource | null;
}

/** The subscriptions of a tenant that a new event of `type` goes to. */
async function fanOutTargets(db: Db, tenantId: string, type: string) {
  return (await listFanoutTargets(db, tenantId)).filter((s) => matchesEventType(s.eventTypes, type));
}

/** Inserts an event and one pending delivery per target, inside the caller's transaction. */
async function insertEventWithDeliveries(tx: Tx, event: NewEvent, targets: { id: string }[]): Promise<DeliveryRef[]> {
  await tx.insert(events).values({
    id: event.id,
    tenantId: event.tenantId,
    type: event.type,
    // A JSON null is a payload like any other; passed as is it would become SQL NULL.
    data: event.data === null ? sql`'null'::json` : event.data,
    idempotencyKey: event.idempotencyKey ?? null,
    source: event.source ?? null,
    deliveryCount: targets.length,
    createdAt: event.timestamp,
  });
  const refs: DeliveryRef[] = targets.map((t) => ({
    id: newId(),
    tenantId: event.tenantId,
    eventId: event.id,
    subscriptionId: t.id,
    attemptCount: 0,
    roundStart: 0,
  }));
  if (refs.length > 0) {
    await tx.insert(deliveries).values(
      refs.map((r) => ({
        id: r.id,
        tenantId: event.tenantId,
        eventId: event.id,
        subscriptionId: r.subscriptionId,
        nextAttemptAt: event.timestamp,
        createdAt: event.timestamp,
        updatedAt: event.timestamp,
      })),
    );
  }
  return refs;
}

/**
 * Records an event and one pending delivery per matching subscription in a single transaction.
 * Nothing is enqueued here: Postgres is the source of truth and the queue is rebuilt from it.
 */
export async function publishEvent(db: Db, tenantId: string, input: PublishInput): Promise<PublishResult> {
  const targets = await fanOutTargets(db, tenantId, input.type);
  const id = newId();
  const timestamp = new Date();

  return db.orm.transaction(async (tx) => {
    if (input.idempotencyKey !== undefined) {
      // Claims the key, or takes it over once the previous holder's 24 h have passed. A concurrent
      // request with the same key waits here for ours to commit, then sees the key as taken.
      const claimed = await tx
        .insert(idempotencyKeys)
        .values({ tenantId, key: input.idempotencyKey, eventId: id, createdAt: timestamp })
        .onConflictDoUpdate({
          target: [idempotencyKeys.tenantId, idempotencyKeys.key],
          set: { eventId: id, createdAt: timestamp },
          setWhere: sql`${idempotencyKeys.createdAt} < now() - ${IDEMPOTENCY_WINDOW}`,
        })
        .returning({ eventId: idempotencyKeys.eventId });
      if (claimed.length === 0) {
        const [earlier] = await tx
          .select({ id: events.id, type: events.type, timestamp: events.createdAt, deliveryCount: events.deliveryCount })
          .from(events)
          .innerJoin(idempotencyKeys, eq(idempotencyKeys.eventId, events.id))
          .where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, input.idempotencyKey)));
        if (earlier) return { event: earlier, deliveries: [], replayed: true };
      }
    }
    const refs = await insertEventWithDeliveries(
      tx,
      { id, tenantId, type: input.type, data: input.data, timestamp, idempotencyKey: input.idempotencyKey },
      targets,
    );
    return { event: { id, type: input.type, timestamp, deliveryCount: refs.length }, deliveries: refs, replayed: false };
  });
}

export interface SourceCall {
  sourceId: string;
  tenantId: string;
  type: string;
  data: unknown;
  source: EventSource;
}

/**
 * Records a verified provider call as an event with its deliveries, unless the provider already
 * delivered this notification (same dedup key): then nothing is created and the first event's id
 * is returned. Counts the call on the source either way.
 */
export async function ingestSourceCall(
  db: Db,
  call: SourceCall,
): Promise<{ duplicate: boolean; eventId: string; deliveries: DeliveryRef[] }> {
  const targets = await fanOutTargets(db, call.tenantId, call.type);
  const id = newId();
  const timestamp = new Date();
  return db.orm.transaction(async (tx) => {
    const count = (column: 'acceptedCount' | 'duplicateCount') =>
      tx
        .update(sources)
        .set({ [column]: sql`${sources[column]} + 1`, lastReceivedAt: timestamp })
        .where(eq(sources.id, call.sourceId));
    if (call.source.dedupKey !== null) {
      const claimed = await tx
        .insert(sourceReceipts)
        .values({ sourceId: call.sourceId, dedupKey: call.source.dedupKey, eventId: id, receivedAt: timestamp })
        .onConflictDoNothing()
        .returning({ eventId: sourceReceipts.eventId });
      if (claimed.length === 0) {
        const [first] = await tx
          .select({ eventId: sourceReceipts.eventId })
          .from(sourceReceipts)
          .where(and(eq(sourceReceipts.sourceId, call.sourceId), eq(sourceReceipts.dedupKey, call.source.dedupKey)));
        await count('duplicateCount');
        return { duplicate: true, eventId: first!.eventId, deliveries: [] };
      }
    }
    const refs = await insertEventWithDeliveries(
      tx,
      { id, tenantId: call.tenantId, type: call.type, data: call.data, timestamp, source: call.source },
      targets,
    );
    await count('acceptedCount');
    return { duplicate: false, eventId: id, deliveries: refs };
  });
}

const eventColumns = {
  id: events.id,
  type: events.type,
  timestamp: events.createdAt,
  data: events.data,
  idempotencyKey: events.idempotencyKey,
  source: events.source,
  deliveryCount: events.deliveryCount,
};

export async function getEvent(db: Db, tenantId: string, id: string) {
  const [event] = await db.orm
    .select(eventColumns)
    .from(events)
    .where(and(eq(events.tenantId, tenantId), eq(events.id, id)));
  if (!event) return undefined;
  const summaries = await db.orm
    .select({
      id: deliveries.id,
      subscriptionId: deliveries.subscriptionId,
      status: deliveries.status,
      attemptCount: deliveries.attemptCount,
      nextAttemptAt: deliveries.nextAttemptAt,
      lastStatusCode: deliveries.lastStatusCode,
    })
    .from(deliveries)
    .where(and(eq(deliveries.tenantId, tenantId), eq(deliveries.eventId, id)))
    .orderBy(asc(deliveries.id));
  return { ...event, deliveries: summaries };
}

/** A creation-time window: at or after `since`, before `until`; either end may be open. */
export interface CreatedWindow {
  since?: Date | undefined;
  until?: Date | undefined;
}

/**
 * How far a row's id time may stray from its created_at. Events and deliveries get both from the
 * same process clock in the same call (events-repository's insertEventWithDeliveries): the event id
 * is minted just before the timestamp, the delivery ids just after it, inside the transaction
 * (so after a pool wait or an idempotency-key lock wait) — milliseconds in practice, well within this.
 */
export const ID_TIME_SLACK_MS = 5 * 60_000;
const MAX_UUIDV7_MS = 2 ** 48 - 1;

/**
 * The smallest UUID whose UUIDv7 time is `ms` (the 48-bit millisecond prefix followed by zeros):
 * every v7 id minted at `ms` or later sorts at or above it, every earlier one below it.
 * Undefined outside the 48-bit range, where no bound is needed.
 */
function idFloorAt(ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_UUIDV7_MS) return undefined;
  const hex = Math.floor(ms).toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** The id range that holds every row created in `w`, widened by ID_TIME_SLACK_MS on both sides. */
export function idBoundsFor(w: CreatedWindow): { from?: string | undefined; before?: string | undefined } {
  return {
    from: w.since ? idFloorAt(w.since.getTime() - ID_TIME_SLACK_MS) : undefined,
    before: w.until ? idFloorAt(w.until.getTime() + ID_TIME_SLACK_MS) : undefined,
  };
}

/**
 * Rows of an events- or deliveries-like table created in `w`.
 *
 * The created_at predicates decide membership exactly. The id bounds beside them are there for
 * speed, in place of a created_at index: ids are UUIDv7, time-ordered, and an id's time is within
 * ID_TIME_SLACK_MS of its row's created_at, so the bounds never drop a row the window holds. With
 * them every existing (…, id) index — (tenant_id, id), (tenant_id, status, id),
 * (subscription_id, id), (tenant_id, type, id) — seeks straight to the window and still yields rows
 * in the newest-first id order that keyset pagination walks, however old the window is. A created_at
 * index could only do one of the two (find the window, or give id order), and would be one more
 * index for every delivery update to maintain.
 */
export function createdWithin(id: PgColumn, createdAt: PgColumn, w: CreatedWindow): SQL | undefined {
  const { from, before } = idBoundsFor(w);
  return and(
    w.since ? gte(createdAt, w.since) : undefined,
    w.until ? lt(createdAt, w.until) : undefined,
    from ? gte(id, from) : undefined,
    before ? lt(id, before) : undefined,
  );
}

export interface EventFilter extends PageRequest, CreatedWindow {
  type?: string | undefined;
}

export async function listEvents(db: Db, tenantId: string, filter: EventFilter) {
  const after = decodeCursor(filter.cursor);
  const rows = await db.orm
    .select(eventColumns)
    .from(events)
    .where(
      and(
        eq(events.tenantId, tenantId),
        filter.type ? eq(events.type, filter.type) : undefined,
        createdWithin(events.id, events.createdAt, filter),
        after ? lt(events.id, after) : undefined,
      ),
    )
    .orderBy(desc(events.id))
    .limit(filter.limit + 1);
  return toPage(rows, filter.limit);
}
