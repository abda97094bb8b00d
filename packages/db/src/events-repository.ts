import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
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

export async function listEvents(db: Db, tenantId: string, filter: { type?: string | undefined } & PageRequest) {
  const after = decodeCursor(filter.cursor);
  const rows = await db.orm
    .select(eventColumns)
    .from(events)
    .where(
      and(
        eq(events.tenantId, tenantId),
        filter.type ? eq(events.type, filter.type) : undefined,
        after ? lt(events.id, after) : undefined,
      ),
    )
    .orderBy(desc(events.id))
    .limit(filter.limit + 1);
  return toPage(rows, filter.limit);
}
