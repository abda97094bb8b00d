import { Type } from 'typebox';
import { EVENT_TYPE_PATTERN_SOURCE } from '@hookrelay/domain';
import { DateTime, Nullable } from './common.ts';
import { DeliverySummary } from './deliveries.ts';

export const PublishEventBody = Type.Object(
  {
    type: Type.String({ pattern: EVENT_TYPE_PATTERN_SOURCE }),
    data: Type.Unknown({ description: 'Any JSON value; sent to receivers as is' }),
    idempotencyKey: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  },
  { additionalProperties: false, required: ['type', 'data'] },
);

export const PublishEventHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
});

export const PublishEventResponse = Type.Object({
  id: Type.String(),
  type: Type.String(),
  timestamp: DateTime,
  deliveries: Type.Integer({ description: 'How many subscriptions the event fanned out to' }),
});

export const EventResponse = Type.Object({
  id: Type.String(),
  type: Type.String(),
  timestamp: DateTime,
  data: Type.Unknown(),
  idempotencyKey: Nullable(Type.String()),
  source: Nullable(
    Type.Object(
      {
        sourceId: Type.String(),
        provider: Type.String(),
        dedupKey: Nullable(Type.String()),
        headers: Type.Record(Type.String(), Type.String()),
      },
      { description: 'Set when a provider sent the event through an inbound source' },
    ),
  ),
});

export const EventWithDeliveries = Type.Object({
  ...EventResponse.properties,
  deliveries: Type.Array(DeliverySummary),
});
