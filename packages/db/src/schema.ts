import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  json,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { RateLimit, RetryPolicy, TenantProtectionDefaults } from '@hookrelay/domain';

export interface EventSource {
  sourceId: string;
  provider: string;
  dedupKey: string | null;
  headers: Record<string, string>;
}

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  /** Endpoint-protection defaults for the tenant's subscriptions. */
  settings: jsonb('settings').$type<TenantProtectionDefaults>().notNull().default({}),
  /**
   * Bumped by a trigger whenever one of the tenant's subscriptions is created, deleted, enabled,
   * disabled or given other event types: an API process's remembered fan-out targets are valid
   * while it holds (see `FanoutCache`).
   */
  subscriptionsVersion: bigint('subscriptions_version', { mode: 'number' }).notNull().default(0),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    keyHash: text('key_hash').notNull(),
    hint: text('hint').notNull(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('api_keys_key_hash_idx').on(t.keyHash), index('api_keys_tenant_idx').on(t.tenantId, t.id)],
);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().notNull(),
    description: text('description'),
    /** The signing secret, encrypted at rest (`enc:v1:…`; plain `whsec_…` in rows from before encryption). */
    secret: text('secret').notNull(),
    /** The secret before the last rotation, encrypted; deliveries are signed with it too until it expires. */
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    headers: jsonb('headers').$type<Record<string, string>>().notNull().default({}),
    retryPolicy: jsonb('retry_policy').$type<RetryPolicy>(),
    enabled: boolean('enabled').notNull().default(true),
    /** Why Hookrelay disabled it (null when enabled, or disabled by the tenant). */
    disabledReason: text('disabled_reason'),
    rateLimit: jsonb('rate_limit').$type<RateLimit>(),
    maxInFlight: integer('max_in_flight'),
    /** Disable at once when the receiver answers 410 Gone. */
    disableOnGone: boolean('disable_on_gone').notNull().default(false),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('subscriptions_tenant_idx').on(t.tenantId, t.id).where(sql`${t.deletedAt} is null`)],
);

export const events = pgTable(
  'events',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    // json, not jsonb: receivers get the payload exactly as it was published.
    data: json('data').notNull(),
    idempotencyKey: text('idempotency_key'),
    /** Set when the event came from an inbound source: provider, source id, headers, dedup key. */
    source: jsonb('source').$type<EventSource>(),
    deliveryCount: integer('delivery_count').notNull(),
    createdAt: createdAt(),
  },
  (t) => [index('events_tenant_idx').on(t.tenantId, t.id), index('events_tenant_type_idx').on(t.tenantId, t.type, t.id)],
);

/** Idempotency keys live 24 h; an expired key is taken over by the next event that uses it. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    eventId: uuid('event_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.key] })],
);

export const deliveryStatus = pgEnum('delivery_status', ['pending', 'succeeded', 'dead']);

export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id, { onDelete: 'cascade' }),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => subscriptions.id, { onDelete: 'cascade' }),
    status: deliveryStatus('status').notNull().default('pending'),
    attemptCount: integer('attempt_count').notNull().default(0),
    /** attempt_count when the current round of attempts began (a manual retry starts a new round). */
    roundStart: integer('round_start').notNull().default(0),
    /**
     * The batch job that carries this delivery's first attempt (its id is the first delivery's of
     * the batch); null when the first attempt was queued as a job of its own. Lets the reconciler
     * tell a delivery whose job is lost from one waiting in a batch.
     */
    batchId: uuid('batch_id'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('deliveries_tenant_idx').on(t.tenantId, t.id),
    index('deliveries_event_idx').on(t.eventId),
    index('deliveries_subscription_idx').on(t.subscriptionId, t.id),
    // ?status=pending and ?status=dead, and dead-letter replays. Succeeded rows, nearly all of a
    // table, stay out: the index stays small, and a delivery's success (its commonest update)
    // writes one index entry fewer. ?status=succeeded walks deliveries_tenant_idx instead, where
    // nearly every row matches. Queries name the index's condition beside the status they ask
    // for (statusIs in deliveries-repository.ts), so that any plan may use it.
    index('deliveries_tenant_status_idx').on(t.tenantId, t.status, t.id).where(sql`${t.status} <> 'succeeded'`),
    // The reconciler's scan: only pending rows, ordered by when they were due.
    index('deliveries_pending_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    // GET /v1/deliveries?statusCode=: newest first among one code. Rows without an attempt yet
    // (null) can never match, so they stay out of the index.
    index('deliveries_tenant_status_code_idx')
      .on(t.tenantId, t.lastStatusCode, t.id)
      .where(sql`${t.lastStatusCode} is not null`),
    // No created_at index: since/until windows on deliveries (and events) become id bounds, as ids
    // are time-ordered UUIDv7, and use the (…, id) indexes above; see createdWithin in
    // events-repository.ts. ?eventType= uses events_tenant_type_idx and deliveries_event_idx.
  ],
);

export const attempts = pgTable(
  'attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id').notNull(),
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => deliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    durationMs: integer('duration_ms').notNull(),
    statusCode: integer('status_code'),
    responseBody: text('response_body'),
    error: text('error'),
  },
  (t) => [
    index('attempts_delivery_idx').on(t.deliveryId, t.attempt),
    // GET /v1/stats: a tenant's attempts started in a time window (attempt ids are not time-ordered).
    index('attempts_tenant_started_idx').on(t.tenantId, t.startedAt),
  ],
);

/** Where a provider (Stripe, GitHub, …) sends its webhooks; each verified call becomes an event. */
export const sources = pgTable(
  'sources',
  {
    // Random (v4), not time-ordered: the id is the unguessable part of the ingest URL.
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    provider: text('provider').notNull(),
    name: text('name').notNull(),
    /** One or two active secrets, newest first: two while a provider secret is being rotated. Encrypted at rest. */
    secrets: text('secrets').array().notNull(),
    eventTypePrefix: text('event_type_prefix'),
    config: jsonb('config').$type<Record<string, unknown>>(),
    enabled: boolean('enabled').notNull().default(true),
    acceptedCount: bigint('accepted_count', { mode: 'number' }).notNull().default(0),
    duplicateCount: bigint('duplicate_count', { mode: 'number' }).notNull().default(0),
    rejectedCount: bigint('rejected_count', { mode: 'number' }).notNull().default(0),
    lastReceivedAt: timestamp('last_received_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('sources_tenant_idx').on(t.tenantId, t.id).where(sql`${t.deletedAt} is null`)],
);

/** One row per accepted provider notification: a provider's retry of it finds the row and creates nothing. */
export const sourceReceipts = pgTable(
  'source_receipts',
  {
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    dedupKey: text('dedup_key').notNull(),
    eventId: uuid('event_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.sourceId, t.dedupKey] })],
);
