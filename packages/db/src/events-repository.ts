import { and, asc, desc, eq, gte, lt, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { assignBatches, matchesEventType } from '@hookrelay/domain';
import { inTransaction, type Db, type Sql } from './client.ts';
import { newId } from './ids.ts';
import { pgArray } from './pg-array.ts';
import { decodeCursor, toPage, type PageRequest } from './pagination.ts';
import { deliveries, events, type EventSource } from './schema.ts';
import type { FanoutCache } from './fanout-cache.ts';
import { readFanoutTargets, type FanoutTargets } from './subscriptions-repository.ts';

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
  /** The batch job carrying the first attempt, when it was queued in one (see schema). */
  batchId?: string | null;
}

export interface PublishResult {
  event: PublishedEvent;
  /** Deliveries created by this call: empty when an idempotency key replayed an earlier event. */
  deliveries: DeliveryRef[];
  replayed: boolean;
}

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
  return ((await readFanoutTargets(db, [tenantId])).get(tenantId)?.subscriptions ?? []).filter((s) => matchesEventType(s.eventTypes, type));
}

const deliveryRefs = (event: NewEvent, targets: { id: string }[]): DeliveryRef[] =>
  targets.map((t) => ({ id: newId(), tenantId: event.tenantId, eventId: event.id, subscriptionId: t.id, attemptCount: 0, roundStart: 0 }));

/** An event to insert with its deliveries; `expectVersion`: insert it only while its tenant's subscriptions_version is this. */
interface EventRow {
  event: NewEvent;
  refs: DeliveryRef[];
  expectVersion?: string | undefined;
}

/**
 * Inserts events and their pending deliveries in one statement (the deliveries' insert rides in a
 * CTE), so it is atomic on its own and costs one round trip inside a transaction or out of one.
 * Every column goes in as one array parameter: a multi-row VALUES list costs a parameter per
 * cell to build and to bind. An event whose `expectVersion` no longer matches its tenant's is
 * left out with its deliveries (its targets were remembered from before a change); answers the
 * ids of the events inserted.
 */
async function insertEventsWithDeliveries(pg: Sql, rows: EventRow[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const column = (pick: (row: EventRow) => string | number | null) => pgArray(rows.map(pick));
  const refs = rows.flatMap(({ event, refs }) => refs.map((ref) => ({ ref, at: event.timestamp.toISOString() })));
  const of = (pick: (d: (typeof refs)[number]) => string | null) => pgArray(refs.map(pick));
  // The payloads go in as one JSON array of their texts, which json_array_elements hands back
  // unchanged, so a json column keeps exactly what was serialised. As elements of a text[]
  // literal every quote in them had to be escaped, 2–3 % of the API's CPU under ingest load.
  const payloads = `[${rows.map((r) => JSON.stringify(r.event.data) ?? 'null').join(',')}]`;
  const inserted = await pg<{ id: string }[]>`
    with new_events as (
      insert into events (id, tenant_id, type, data, idempotency_key, source, delivery_count, created_at)
      select u.id, u.tenant_id, u.type, u.data, u.idempotency_key, u.source, u.delivery_count, u.created_at
      from rows from (
        unnest(${column((r) => r.event.id)}::uuid[]), unnest(${column((r) => r.event.tenantId)}::uuid[]),
        unnest(${column((r) => r.event.type)}::text[]), json_array_elements(${payloads}::json),
        unnest(${column((r) => r.event.idempotencyKey ?? null)}::text[]),
        unnest(${column((r) => (r.event.source ? JSON.stringify(r.event.source) : null))}::text[]::jsonb[]),
        unnest(${column((r) => r.refs.length)}::int[]), unnest(${column((r) => r.event.timestamp.toISOString())}::timestamptz[]),
        unnest(${column((r) => r.expectVersion ?? null)}::bigint[]))
        as u(id, tenant_id, type, data, idempotency_key, source, delivery_count, created_at, expect_version)
      -- Read in this statement's snapshot: a change committed before it started has bumped the version.
      where u.expect_version is null
         or exists (select 1 from tenants t where t.id = u.tenant_id and t.subscriptions_version = u.expect_version)
      returning id
    ),
    new_deliveries as (
      insert into deliveries (id, tenant_id, event_id, subscription_id, batch_id, next_attempt_at, created_at, updated_at)
      select d.id, d.tenant_id, d.event_id, d.subscription_id, d.batch_id, d.at, d.at, d.at
      from unnest(${of((d) => d.ref.id)}::uuid[], ${of((d) => d.ref.tenantId)}::uuid[], ${of((d) => d.ref.eventId)}::uuid[],
                  ${of((d) => d.ref.subscriptionId)}::uuid[], ${of((d) => d.ref.batchId ?? null)}::uuid[], ${of((d) => d.at)}::timestamptz[])
        as d(id, tenant_id, event_id, subscription_id, batch_id, at)
      -- Joined so the events are written first (their foreign key) and so a delivery never outlives a failed or skipped event insert.
      join new_events e on e.id = d.event_id
    )
    select id from new_events`;
  return new Set(inserted.map((r) => r.id));
}

async function insertEventWithDeliveries(tx: Sql, event: NewEvent, targets: { id: string }[]): Promise<DeliveryRef[]> {
  const refs = deliveryRefs(event, targets);
  await insertEventsWithDeliveries(tx, [{ event, refs }]);
  return refs;
}

export interface PublishRequest {
  tenantId: string;
  input: PublishInput;
}

const keyOf = (r: PublishRequest) => (r.input.idempotencyKey === undefined ? undefined : `${r.tenantId}\u0000${r.input.idempotencyKey}`);

/**
 * Records events, each with one pending delivery per matching subscription, all atomically: the
 * API gathers the publishes that arrive together into one commit (group commit). Without
 * idempotency keys that is a single statement; with them, a transaction around the key claims
 * and that statement. Nothing is enqueued here: Postgres is the source of truth and the queue is
 * rebuilt from it. Results come back in the order of `requests`.
 *
 * Idempotency keys: each key is claimed in the same transaction, or taken over once the previous
 * holder's 24 h have passed; a key already held answers with the earlier event (replayed). A
 * concurrent transaction claiming the same key waits for ours to commit, then sees it as taken.
 * Keys are claimed in sorted order, so two batches never wait on each other in a cycle.
 */
export async function publishEvents(db: Db, requests: readonly PublishRequest[], cache?: FanoutCache): Promise<PublishResult[]> {
  if (requests.length === 0) return [];
  const timestamp = new Date();
  const ids = requests.map(() => newId());
  // The first request with a key claims it; later ones in the same batch replay the first.
  const firstWithKey = new Map<string, number>();
  requests.forEach((r, i) => {
    const key = keyOf(r);
    if (key !== undefined && !firstWithKey.has(key)) firstWithKey.set(key, i);
  });

  // Each tenant's targets: remembered by this process (the insert checks they are still current),
  // or read once every request of the batch has arrived, so a subscription created before a
  // publish was answered is one of its targets.
  const targetsOf = new Map<string, { targets: FanoutTargets; remembered: boolean }>();
  const readTargets = async (tenantIds: string[]) => {
    const read = await readFanoutTargets(db, tenantIds);
    for (const tenantId of tenantIds) {
      const targets = read.get(tenantId);
      if (targets) cache?.set(tenantId, targets);
      targetsOf.set(tenantId, { targets: targets ?? { version: '0', subscriptions: [] }, remembered: false });
    }
  };
  const unknown: string[] = [];
  for (const tenantId of new Set(requests.map((r) => r.tenantId))) {
    const remembered = cache?.get(tenantId);
    if (remembered) targetsOf.set(tenantId, { targets: remembered, remembered: true });
    else unknown.push(tenantId);
  }
  if (unknown.length > 0) await readTargets(unknown);
  const rowFor = (index: number, event: NewEvent): EventRow & { index: number } => {
    const { targets, remembered } = targetsOf.get(event.tenantId)!;
    const matching = targets.subscriptions.filter((s) => matchesEventType(s.eventTypes, event.type));
    return { index, event, refs: deliveryRefs(event, matching), expectVersion: remembered ? targets.version : undefined };
  };

  const write = async (tx: Sql): Promise<PublishResult[]> => {
    const results: (PublishResult | undefined)[] = new Array(requests.length);
    const claims = [...firstWithKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (claims.length > 0) {
      const claimed = await tx<{ tenantId: string; key: string }[]>`
        insert into idempotency_keys (tenant_id, key, event_id, created_at)
        select k.tenant_id, k.key, k.event_id, ${timestamp.toISOString()}::timestamptz
        from unnest(${pgArray(claims.map(([, i]) => requests[i]!.tenantId))}::uuid[], ${pgArray(claims.map(([, i]) => requests[i]!.input.idempotencyKey!))}::text[],
                    ${pgArray(claims.map(([, i]) => ids[i]!))}::uuid[]) as k(tenant_id, key, event_id)
        on conflict (tenant_id, key) do update set event_id = excluded.event_id, created_at = excluded.created_at
          where idempotency_keys.created_at < now() - interval '24 hours'
        returning tenant_id as "tenantId", key`;
      const won = new Set(claimed.map((c) => `${c.tenantId}\u0000${c.key}`));
      const held = claims.filter(([key]) => !won.has(key));
      if (held.length > 0) {
        const earlier = await tx<{ tenantId: string; key: string; id: string; type: string; epochMs: number; deliveryCount: number }[]>`
          select i.tenant_id as "tenantId", i.key, e.id, e.type, (extract(epoch from e.created_at) * 1000)::float8 as "epochMs", e.delivery_count as "deliveryCount"
          from unnest(${pgArray(held.map(([, i]) => requests[i]!.tenantId))}::uuid[], ${pgArray(held.map(([, i]) => requests[i]!.input.idempotencyKey!))}::text[]) as h(tenant_id, key)
          join idempotency_keys i on i.tenant_id = h.tenant_id and i.key = h.key
          join events e on e.id = i.event_id and e.tenant_id = i.tenant_id`;
        for (const e of earlier) {
          const i = firstWithKey.get(`${e.tenantId}\u0000${e.key}`)!;
          results[i] = { event: { id: e.id, type: e.type, timestamp: new Date(Math.round(e.epochMs)), deliveryCount: e.deliveryCount }, deliveries: [], replayed: true };
        }
      }
    }

    let fresh: (EventRow & { index: number })[] = [];
    requests.forEach((r, i) => {
      const key = keyOf(r);
      if (results[i] || (key !== undefined && firstWithKey.get(key) !== i)) return;
      fresh.push(rowFor(i, { id: ids[i]!, tenantId: r.tenantId, type: r.input.type, data: r.input.data, timestamp, idempotencyKey: r.input.idempotencyKey }));
    });
    assignBatches(fresh.flatMap((f) => f.refs));
    const inserted = await insertEventsWithDeliveries(tx, fresh);
    const stale = fresh.filter((f) => !inserted.has(f.event.id));
    if (stale.length > 0) {
      // Remembered targets a subscription change has made stale: read again and insert those
      // events now, unchecked (a change after this read is concurrent with the publish).
      const tenantIds = [...new Set(stale.map((f) => f.event.tenantId))];
      for (const tenantId of tenantIds) cache?.forget(tenantId);
      await readTargets(tenantIds);
      const again = stale.map((f) => rowFor(f.index, f.event));
      assignBatches(again.flatMap((f) => f.refs));
      await insertEventsWithDeliveries(tx, again);
      fresh = [...fresh.filter((f) => inserted.has(f.event.id)), ...again];
    }
    for (const { index, event, refs } of fresh) {
      results[index] = { event: { id: event.id, type: event.type, timestamp, deliveryCount: refs.length }, deliveries: refs, replayed: false };
    }
    // A repeated key within the batch answers as its first holder did.
    return requests.map((r, i) => {
      if (results[i]) return results[i];
      const first = results[firstWithKey.get(keyOf(r)!)!]!;
      return { event: first.event, deliveries: [], replayed: true };
    });
  };
  return firstWithKey.size === 0 ? write(db.sql) : inTransaction(db, write);
}

/** Records one event with its deliveries; see publishEvents. */
export async function publishEvent(db: Db, tenantId: string, input: PublishInput): Promise<PublishResult> {
  const [result] = await publishEvents(db, [{ tenantId, input }]);
  return result!;
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
  return inTransaction(db, async (tx) => {
    const count = (duplicate: boolean) => tx`
      update sources set accepted_count = accepted_count + ${duplicate ? 0 : 1}, duplicate_count = duplicate_count + ${duplicate ? 1 : 0},
        last_received_at = ${timestamp.toISOString()}::timestamptz
      where id = ${call.sourceId}::uuid`;
    if (call.source.dedupKey !== null) {
      const claimed = await tx<{ eventId: string }[]>`
        insert into source_receipts (source_id, dedup_key, event_id, received_at)
        values (${call.sourceId}::uuid, ${call.source.dedupKey}, ${id}::uuid, ${timestamp.toISOString()}::timestamptz)
        on conflict do nothing
        returning event_id as "eventId"`;
      if (claimed.length === 0) {
        const [first] = await tx<{ eventId: string }[]>`
          select event_id as "eventId" from source_receipts where source_id = ${call.sourceId}::uuid and dedup_key = ${call.source.dedupKey}`;
        await count(true);
        return { duplicate: true, eventId: first!.eventId, deliveries: [] };
      }
    }
    const refs = await insertEventWithDeliveries(
      tx,
      { id, tenantId: call.tenantId, type: call.type, data: call.data, timestamp, source: call.source },
      targets,
    );
    await count(false);
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
