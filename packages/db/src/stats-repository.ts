import type { Db } from './client.ts';
import { idBoundsFor } from './events-repository.ts';

export interface StatsQuery {
  /** Deliveries created, and attempts started, at or after `since` and before `until`. */
  since: Date;
  until: Date;
  subscriptionId?: string | undefined;
}

export interface DeliveryStats {
  deliveries: { total: number; pending: number; succeeded: number; dead: number };
  attempts: {
    total: number;
    /** No HTTP answer (status code null) or an answer outside 2xx. */
    failed: number;
    /** Continuous percentiles (interpolated) of duration_ms; null when the window has no attempts. */
    latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  };
  /** At most 5, most failed attempts first, ties by subscription id. */
  topFailingSubscriptions: FailingSubscription[];
}

export interface FailingSubscription {
  subscriptionId: string;
  url: string;
  failedAttempts: number;
  /** Status code of the subscription's latest failed attempt in the window; null when it got no answer. */
  lastStatusCode: number | null;
}

interface StatsRow {
  known: boolean;
  total: number;
  pending: number;
  succeeded: number;
  dead: number;
  attemptsTotal: number;
  attemptsFailed: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  top: FailingSubscription[] | string | null;
}

export const TOP_FAILING_LIMIT = 5;

/**
 * A tenant's delivery figures over a window, in one statement (one snapshot): deliveries by the time
 * they were created, attempts by the time they started. Undefined when `subscriptionId` names no
 * subscription of the tenant; a deleted one still counts as the tenant's, since its history stays.
 *
 * Every table is filtered on tenant_id, looked-up ones included. Deliveries are found through the
 * UUIDv7 id bounds of the window (see createdWithin in events-repository.ts), attempts through
 * attempts_tenant_started_idx.
 */
export async function getDeliveryStats(db: Db, tenantId: string, q: StatsQuery): Promise<DeliveryStats | undefined> {
  const { sql } = db;
  const since = q.since.toISOString();
  const until = q.until.toISOString();
  const sub = q.subscriptionId;
  const bounds = idBoundsFor(q);
  const none = sql``;
  const failed = sql`(a.status_code is null or a.status_code < 200 or a.status_code > 299)`;
  // An attempt's subscription, looked up by primary key per attempt: a correlated subquery is never
  // turned into a join, so the cost follows the attempts in the window, where a hash join could
  // read every delivery the tenant ever had.
  const subscriptionOf = sql`(select d.subscription_id from deliveries d where d.id = a.delivery_id and d.tenant_id = ${tenantId})`;

  const [row] = await sql<StatsRow[]>`
    with d as (
      select count(*)::int as total,
             (count(*) filter (where status = 'pending'))::int as pending,
             (count(*) filter (where status = 'succeeded'))::int as succeeded,
             (count(*) filter (where status = 'dead'))::int as dead
      from deliveries
      where tenant_id = ${tenantId}
        and created_at >= ${since}::timestamptz and created_at < ${until}::timestamptz
        ${bounds.from ? sql`and id >= ${bounds.from}::uuid` : none}
        ${bounds.before ? sql`and id < ${bounds.before}::uuid` : none}
        ${sub ? sql`and subscription_id = ${sub}::uuid` : none}
    ),
    a as (
      select count(*)::int as total,
             (count(*) filter (where ${failed}))::int as failed,
             percentile_cont(array[0.5, 0.95, 0.99]::float8[]) within group (order by a.duration_ms) as pct
      from attempts a
      where a.tenant_id = ${tenantId}
        and a.started_at >= ${since}::timestamptz and a.started_at < ${until}::timestamptz
        ${sub ? sql`and ${subscriptionOf} = ${sub}::uuid` : none}
    ),
    failing as (
      -- The latest failed attempt's status code without keeping every row per group: the largest
      -- [start time, attempt id, status code] array is the latest attempt's (id breaks a tie).
      select f.subscription_id, count(*)::int as failed_attempts,
             (max(array[extract(epoch from f.started_at), f.id::numeric, f.status_code::numeric]))[3]::int as last_status_code
      from (
        select a.started_at, a.id, a.status_code, ${subscriptionOf} as subscription_id
        from attempts a
        where a.tenant_id = ${tenantId}
          and a.started_at >= ${since}::timestamptz and a.started_at < ${until}::timestamptz
          and ${failed}
        offset 0 -- keeps the subquery whole, so the lookup runs once per attempt, not once per use
      ) f
      where f.subscription_id is not null ${sub ? sql`and f.subscription_id = ${sub}::uuid` : none}
      group by f.subscription_id
      order by failed_attempts desc, f.subscription_id
      limit ${TOP_FAILING_LIMIT}
    ),
    top as (
      select coalesce(json_agg(json_build_object(
               'subscriptionId', f.subscription_id, 'url', s.url,
               'failedAttempts', f.failed_attempts, 'lastStatusCode', f.last_status_code)
             order by f.failed_attempts desc, f.subscription_id), '[]'::json) as list
      from failing f
      join subscriptions s on s.id = f.subscription_id and s.tenant_id = ${tenantId}
    )
    select ${sub ? sql`exists (select 1 from subscriptions where tenant_id = ${tenantId} and id = ${sub}::uuid)` : sql`true`} as known,
           d.total, d.pending, d.succeeded, d.dead,
           a.total as "attemptsTotal", a.failed as "attemptsFailed",
           a.pct[1] as p50, a.pct[2] as p95, a.pct[3] as p99,
           top.list as top
    from d, a, top`;

  if (!row || !row.known) return undefined;
  const top = typeof row.top === 'string' ? (JSON.parse(row.top) as FailingSubscription[]) : (row.top ?? []);
  return {
    deliveries: { total: row.total, pending: row.pending, succeeded: row.succeeded, dead: row.dead },
    attempts: {
      total: row.attemptsTotal,
      failed: row.attemptsFailed,
      latencyMs: { p50: row.p50, p95: row.p95, p99: row.p99 },
    },
    topFailingSubscriptions: top,
  };
}
