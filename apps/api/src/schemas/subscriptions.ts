import { Type } from 'typebox';
import { EVENT_FILTER_PATTERN_SOURCE, RETRY_LIMITS } from '@hookrelay/domain';
import { DateTime, Nullable, NullableInput } from './common.ts';

const Delay = Type.Integer({ minimum: 0, maximum: RETRY_LIMITS.maxDelayMs });

export const RetryPolicy = Type.Union(
  [
    Type.Object(
      { schedule: Type.Array(Delay, { maxItems: RETRY_LIMITS.maxAttempts - 1, description: 'Delays in ms before each retry' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      {
        maxAttempts: Type.Integer({ minimum: 1, maximum: RETRY_LIMITS.maxAttempts }),
        backoff: Type.Object(
          { type: Type.Literal('exponential'), baseMs: Delay, maxMs: Delay },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
  ],
  { description: 'Explicit schedule, or exponential backoff with full jitter. Omit for the default schedule.' },
);

const EventTypes = Type.Array(Type.String({ pattern: EVENT_FILTER_PATTERN_SOURCE }), {
  maxItems: 100,
  description: 'Exact event types, `prefix.*` wildcards, or `*`. Omit for all events.',
});
const Headers = Type.Record(Type.String(), Type.String(), { description: 'Extra headers sent with every delivery' });
const Metadata = Type.Record(Type.String(), Type.Unknown());

export const RateLimit = Type.Object(
  {
    perSecond: Type.Number({ exclusiveMinimum: 0, maximum: 10_000, description: 'Sustained deliveries per second, fleet-wide' }),
    burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000, description: 'Deliveries allowed at once after a quiet spell' })),
  },
  { additionalProperties: false },
);
export const MaxInFlight = Type.Integer({ minimum: 1, maximum: 1_000, description: 'Deliveries in flight at once, fleet-wide' });

export const Health = Type.Object({
  state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')]),
  failureRate: Nullable(Type.Number()),
  openedAt: Nullable(DateTime),
  nextProbeAt: Nullable(DateTime),
  failingSince: Nullable(DateTime),
});

const fields = {
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  eventTypes: EventTypes,
  description: Type.String({ maxLength: 1024 }),
  secret: Type.String({ maxLength: 200, description: '`whsec_` + base64 of 24–64 bytes; generated when omitted' }),
  headers: Headers,
  retryPolicy: NullableInput(RetryPolicy),
  enabled: Type.Boolean(),
  metadata: Metadata,
  rateLimit: NullableInput(RateLimit),
  maxInFlight: NullableInput(MaxInFlight),
  disableOnGone: Type.Boolean({ description: 'Disable the subscription at once when the receiver answers 410 Gone' }),
};

export const CreateSubscriptionBody = Type.Object(
  {
    url: fields.url,
    eventTypes: Type.Optional(fields.eventTypes),
    description: Type.Optional(fields.description),
    secret: Type.Optional(fields.secret),
    headers: Type.Optional(fields.headers),
    retryPolicy: Type.Optional(fields.retryPolicy),
    enabled: Type.Optional(fields.enabled),
    metadata: Type.Optional(fields.metadata),
    rateLimit: Type.Optional(fields.rateLimit),
    maxInFlight: Type.Optional(fields.maxInFlight),
    disableOnGone: Type.Optional(fields.disableOnGone),
  },
  { additionalProperties: false },
);

export const UpdateSubscriptionBody = Type.Partial(CreateSubscriptionBody, { additionalProperties: false, minProperties: 1 });

export const RotateSecretBody = Type.Object(
  { secret: Type.Optional(Type.String({ maxLength: 200, description: 'The new secret: `whsec_` + base64 of 24–64 bytes; generated when omitted' })) },
  { additionalProperties: false },
);

export const SubscriptionResponse = Type.Object({
  id: Type.String(),
  url: Type.String(),
  eventTypes: Type.Array(Type.String()),
  description: Nullable(Type.String()),
  secret: Type.Optional(Type.String()),
  previousSecretExpiresAt: Type.Union([DateTime, Type.Null()], {
    description: 'Until when deliveries also carry a signature made with the secret before the last rotation; null when they do not',
  }),
  headers: Headers,
  retryPolicy: Nullable(RetryPolicy),
  enabled: Type.Boolean(),
  metadata: Metadata,
  rateLimit: Nullable(RateLimit),
  maxInFlight: Nullable(MaxInFlight),
  disableOnGone: Type.Boolean(),
  disabledReason: Nullable(Type.String({ description: 'Why Hookrelay disabled it; cleared when re-enabled' })),
  health: Type.Optional(Nullable(Health)),
  createdAt: DateTime,
  updatedAt: DateTime,
});
