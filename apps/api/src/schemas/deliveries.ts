import { Type } from 'typebox';
import { DateTime, Nullable } from './common.ts';

export const DeliveryStatus = Type.Union([Type.Literal('pending'), Type.Literal('succeeded'), Type.Literal('dead')]);

export const DeliverySummary = Type.Object({
  id: Type.String(),
  subscriptionId: Type.String(),
  status: DeliveryStatus,
  attemptCount: Type.Integer(),
  nextAttemptAt: Nullable(DateTime),
  lastStatusCode: Nullable(Type.Integer()),
});

export const DeliveryResponse = Type.Object({
  ...DeliverySummary.properties,
  eventId: Type.String(),
  lastError: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const Attempt = Type.Object({
  attempt: Type.Integer(),
  startedAt: DateTime,
  durationMs: Type.Integer(),
  statusCode: Nullable(Type.Integer()),
  responseBody: Nullable(Type.String({ description: 'First 4 KiB of the answer' })),
  error: Nullable(Type.String()),
});

export const DeliveryWithAttempts = Type.Object({
  ...DeliveryResponse.properties,
  attempts: Type.Array(Attempt),
});
