import { and, asc, desc, eq, lt, sql } from 'drizzle-orm';
import { matchesEventType } from '@hookrelay/domain';
import type { Db } from './client.ts';
import { newId } from './ids.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { deliveries, events, idempotencyKeys } from './schema.ts';
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

/**
 * Records an event and one pending delivery per matching subscription in a single transaction.
 * Nothing is enqueued here: Postgres is the source of truth and the queue is rebuilt from it.
 */
export async function publishEvent(db: Db, tenantId: string, input: PublishInput): Promise<PublishResult> {
  const targets = (await listFanoutTargets(db, tenantId)).filter((s) => matchesEventType(s.eventTypes, input.type));
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

    await tx.insert(events).values({
      id,
      tenantId,
      type: input.type,
      // A JSON null is a payload like any other; passed as is it would become SQL NULL.
      data: input.data === null ? sql`'null'::json` : input.data,
      idempotencyKey: input.idempotencyKey ?? null,
      deliveryCount: targets.length,
      createdAt: timestamp,
    });
    const refs: DeliveryRef[] = targets.map((t) => ({
      id: newId(),
      tenantId,
      eventId: id,
      subscriptionId: t.id,
      attemptCount: 0,
      roundStart: 0,
    }));
    if (refs.length > 0) {
      await tx.insert(deliveries).values(
        refs.map((r) => ({
          id: r.id,
          tenantId,
          eventId: id,
          subscriptionId: r.subscriptionId,
          nextAttemptAt: timestamp,
          createdAt: timestamp,
          updatedAt: timestamp,
        })),
      );
    }
    return {
      event: { id, type: input.type, timestamp, deliveryCount: targets.length },
      deliveries: refs,
      replayed: false,
    };
  });
}

const eventColumns = {
  id: events.id,
  type: events.type,
  timestamp: events.createdAt,
  data: events.data,
  idempotencyKey: events.idempotencyKey,
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
