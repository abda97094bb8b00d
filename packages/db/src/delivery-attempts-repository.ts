import type { RateLimit, RetryPolicy, TenantProtectionDefaults } from '@hookrelay/domain';
import type { Db } from './client.ts';

/** An event as the worker sends it: `data` stays the exact JSON text that was published. */
export interface EventForDelivery {
  id: string;
  tenantId: string;
  type: string;
  timestamp: Date;
  dataJson: string;
}

export interface SubscriptionForDelivery {
  id: string;
  tenantId: string;
  url: string;
  /** Plain text (decrypted here). */
  secret: string;
  /** The secret before the last rotation while its overlap lasts (plain text), else null: sign with both. */
  previousSecret: string | null;
  headers: Record<string, string>;
  retryPolicy: RetryPolicy | null;
  enabled: boolean;
  deleted: boolean;
  disabledReason: string | null;
  rateLimit: RateLimit | null;
  maxInFlight: number | null;
  disableOnGone: boolean;
  tenantSettings: TenantProtectionDefaults;
}

type Columns = readonly (readonly [expression: string, name: string])[];

/**
 * The subscription columns a delivery needs, read from `subscriptions s join tenants t`. The JSON
 * columns come as text, parsed by `subscriptionOf` once per subscription.
 */
const SUBSCRIPTION_COLUMNS: Columns = [
  ['s.id', 'id'],
  ['s.tenant_id', 'tenantId'],
  ['s.url', 'url'],
  ['s.secret', 'secret'],
  ['case when s.previous_secret_expires_at > now() then s.previous_secret end', 'previousSecret'],
  ['s.headers::text', 'headers'],
  ['s.retry_policy::text', 'retryPolicy'],
  ['s.enabled', 'enabled'],
  ['s.deleted_at is not null', 'deleted'],
  ['s.disabled_reason', 'disabledReason'],
  ['s.rate_limit::text', 'rateLimit'],
  ['s.max_in_flight', 'maxInFlight'],
  ['s.disable_on_gone', 'disableOnGone'],
  ['t.settings::text', 'tenantSettings'],
];
/** A select list, and the same names as nulls (the other kind's columns in a row of the attempt read); built once. */
const selectList = (columns: Columns) => columns.map(([expression, name]) => `${expression} as "${name}"`).join(', ');
const nullList = (columns: Columns) => columns.map(([, name]) => `null as "${name}"`).join(', ');
const SUBSCRIPTION_SELECT = selectList(SUBSCRIPTION_COLUMNS);
const SUBSCRIPTION_NULLS = nullList(SUBSCRIPTION_COLUMNS);

/** A row of `SUBSCRIPTION_COLUMNS`: its JSON columns still text. */
type SubscriptionRow = Omit<SubscriptionForDelivery, 'headers' | 'retryPolicy' | 'rateLimit' | 'tenantSettings'> & {
  headers: string;
  retryPolicy: string | null;
  rateLimit: string | null;
  tenantSettings: string;
};

const parsed = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T));

/**
 * The subscription of a row read with `SUBSCRIPTION_COLUMNS`, its secrets decrypted (stored
 * encrypted; the worker signs with the plain text). Built field by field: rest and spread copies
 * of postgres.js rows were the costliest part of the attempt read.
 */
const subscriptionOf = (db: Db, row: SubscriptionRow): SubscriptionForDelivery => ({
  id: row.id,
  tenantId: row.tenantId,
  url: row.url,
  secret: db.secrets.decrypt(row.secret),
  previousSecret: row.previousSecret === null ? null : db.secrets.decrypt(row.previousSecret),
  headers: JSON.parse(row.headers) as Record<string, string>,
  retryPolicy: parsed<RetryPolicy>(row.retryPolicy),
  enabled: row.enabled,
  deleted: row.deleted,
  disabledReason: row.disabledReason,
  rateLimit: parsed<RateLimit>(row.rateLimit),
  maxInFlight: row.maxInFlight,
  disableOnGone: row.disableOnGone,
  tenantSettings: JSON.parse(row.tenantSettings) as TenantProtectionDefaults,
});

export async function loadSubscriptionsForDelivery(db: Db, ids: readonly string[]): Promise<SubscriptionForDelivery[]> {
  const rows = await db.sql<SubscriptionRow[]>`
    select ${db.sql.unsafe(SUBSCRIPTION_SELECT)}
    from subscriptions s join tenants t on t.id = s.tenant_id
    where s.id = any(${ids as string[]}::uuid[])`;
  return rows.map((row) => subscriptionOf(db, row));
}

/**
 * Everything one attempt needs: the delivery's progress (a job may outlive its delivery's round),
 * its event and its subscription. Subscriptions are read fresh each time, so a PATCH (new URL,
 * secret, disable) applies at once.
 */
export interface DeliveryForAttempt {
  id: string;
  tenantId: string;
  eventId: string;
  subscriptionId: string;
  status: string;
  attemptCount: number;
  roundStart: number;
  /** The batch job its first attempt was queued in, while it still belongs to it. */
  batchId: string | null;
  event: EventForDelivery;
  subscription: SubscriptionForDelivery;
}

/** A delivery's row of the attempt read; its subscription comes in a row of its own. */
interface AttemptRow {
  deliveryId: string;
  batchId: string | null;
  status: string;
  attemptCount: number;
  roundStart: number;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  epochMs: number;
  dataJson: string;
}
/** The columns of `AttemptRow`, from the attempt read's CTE `d`. */
const DELIVERY_COLUMNS: Columns = [
  ['d.id', 'deliveryId'],
  ['d.batch_id', 'batchId'],
  ['d.status', 'status'],
  ['d.attempt_count', 'attemptCount'],
  ['d.round_start', 'roundStart'],
  ['d.subscription_id', 'subscriptionId'],
  ['d.event_id', 'eventId'],
  ['d.type', 'eventType'],
  ['d.epoch_ms', 'epochMs'],
  ['d.data_json', 'dataJson'],
];
const DELIVERY_SELECT = selectList(DELIVERY_COLUMNS);
const DELIVERY_NULLS = nullList(DELIVERY_COLUMNS);

/**
 * One round trip per batch of attempts. The deliveries (with their events) and their
 * subscriptions come as rows of their own in one statement: a batch's members share a
 * subscription, and the subscription's columns on every member's row (its JSON as text among
 * them) were most of what Postgres wrote and the worker parsed. Inner joins lose nothing: events
 * and subscriptions are only ever removed with their deliveries (a deleted subscription keeps its
 * row, marked deleted).
 */
export async function loadDeliveriesForAttempt(db: Db, ids: readonly string[]): Promise<DeliveryForAttempt[]> {
  const { sql } = db;
  // The shared pool leaves timestamps as text (drizzle's setting), so epoch milliseconds it is.
  const rows = await sql<((AttemptRow & Partial<Record<keyof SubscriptionRow, null>>) | (SubscriptionRow & { deliveryId: null }))[]>`
    with d as (
      select d.id, d.batch_id, d.status, d.attempt_count, d.round_start, d.subscription_id, e.id as event_id, e.type,
             (extract(epoch from e.created_at) * 1000)::float8 as epoch_ms, e.data::text as data_json
      from deliveries d
      join events e on e.id = d.event_id
      where d.id = any(${ids as string[]}::uuid[])
    )
    select ${sql.unsafe(DELIVERY_SELECT)}, ${sql.unsafe(SUBSCRIPTION_NULLS)}
    from d
    union all
    select ${sql.unsafe(DELIVERY_NULLS)}, ${sql.unsafe(SUBSCRIPTION_SELECT)}
    from subscriptions s
    join tenants t on t.id = s.tenant_id
    where s.id in (select subscription_id from d)`;
  const subscriptions = new Map<string, SubscriptionForDelivery>();
  for (const row of rows) if (row.deliveryId === null) subscriptions.set(row.id, subscriptionOf(db, row));
  const found: DeliveryForAttempt[] = [];
  for (const row of rows) {
    if (row.deliveryId === null) continue;
    // Rows of one subscription (a batch's members) share one object. A delivery, its event and
    // its subscription always belong to one tenant.
    const subscription = subscriptions.get(row.subscriptionId);
    if (!subscription) continue;
    found.push({
      id: row.deliveryId,
      batchId: row.batchId,
      tenantId: subscription.tenantId,
      eventId: row.eventId,
      subscriptionId: row.subscriptionId,
      status: row.status,
      attemptCount: row.attemptCount,
      roundStart: row.roundStart,
      event: { id: row.eventId, tenantId: subscription.tenantId, type: row.eventType, timestamp: new Date(Math.round(row.epochMs)), dataJson: row.dataJson },
      subscription,
    });
  }
  return found;
}

/** One finished attempt and the delivery state it leads to. */
export interface AttemptResult {
  deliveryId: string;
  tenantId: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  statusCode: number | null;
  responseBody: string | null;
  error: string | null;
  /** Outcome for the delivery: still pending (retry at nextAttemptAt), succeeded, or dead. */
  status: 'pending' | 'succeeded' | 'dead';
  nextAttemptAt: Date | null;
  /** What the delivery row shows as its last error, when it differs from the attempt's (why it died). */
  deliveryError?: string | null;
  /** Set when the delivery ends without an HTTP attempt (subscription deleted, say). */
  skipAttemptRow?: boolean;
}

/**
 * Writes many attempt results in one statement, whatever the batch size (the attempts' insert
 * rides in a CTE, so the statement is atomic without a transaction and costs one round trip where
 * BEGIN, two statements and COMMIT cost four): the worker's group commit calls this with
 * everything that finished since the last flush.
 */
export async function recordAttemptResults(db: Db, results: readonly AttemptResult[]): Promise<void> {
  if (results.length === 0) return;
  // One record per result, for the attempt row and the delivery's update alike: `attempt` is null
  // for a delivery ended without an attempt (no row then), and `last_error` is set only when the
  // delivery shows another error than its attempt's (why it died).
  const records = JSON.stringify(
    results.map((r) => ({
      id: r.deliveryId,
      tenant_id: r.tenantId,
      attempt: r.skipAttemptRow ? null : r.attempt,
      status: r.status,
      next_attempt_at: r.nextAttemptAt?.toISOString() ?? null,
      started_at: r.startedAt.toISOString(),
      duration_ms: r.durationMs,
      status_code: r.statusCode,
      response_body: r.responseBody,
      error: r.error,
      last_error: r.deliveryError ?? undefined,
    })),
  );
  // A duplicate run of an already-finished delivery (at-least-once) must not drag it back to
  // pending, so only a success may overwrite a finished row. A data-modifying CTE runs exactly
  // once, whether or not the main statement reads it, and a CTE read twice is computed once. The
  // planner guesses 100 rows for json_to_recordset and, on a young table, would join it by
  // scanning every delivery; the redundant `= any(ids)` lets it estimate the batch and look each
  // row up by primary key.
  await db.sql`
    with r as (
      select * from json_to_recordset(${records}::json) as r(
        id uuid, tenant_id uuid, attempt int, status text, next_attempt_at timestamptz, started_at timestamptz,
        duration_ms int, status_code int, response_body text, error text, last_error text)
    ), new_attempts as (
      insert into attempts (tenant_id, delivery_id, attempt, started_at, duration_ms, status_code, response_body, error)
      select tenant_id, id, attempt, started_at, duration_ms, status_code, response_body, error
      from r where attempt is not null
    )
    update deliveries d set
      status = u.status::delivery_status,
      attempt_count = greatest(d.attempt_count, coalesce(u.attempt, d.attempt_count)),
      next_attempt_at = u.next_attempt_at,
      last_status_code = case when u.attempt is null then d.last_status_code else u.status_code end,
      last_error = coalesce(u.last_error, u.error),
      updated_at = now()
    from r u
    where d.id = u.id and d.id = any(${results.map((r) => r.deliveryId)}::uuid[])
      and (d.status = 'pending' or u.status = 'succeeded')`;
}
