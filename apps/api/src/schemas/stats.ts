import { Type } from 'typebox';
import { DateTime, Nullable } from './common.ts';

/** A creation-time window for GET /v1/deliveries, GET /v1/events and GET /v1/stats. */
export const WindowQuery = {
  since: Type.Optional(Type.String({ format: 'date-time', description: 'At or after this time' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Before this time' })),
};

export const StatsQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({ format: 'date-time', description: 'Window start, inclusive; default: 24 hours before until' }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Window end, exclusive; default: now' })),
    subscriptionId: Type.Optional(Type.String({ format: 'uuid', description: 'Only this subscription' })),
  },
  { additionalProperties: false },
);

const Count = Type.Integer({ minimum: 0 });
const Millis = Nullable(Type.Number());

export const StatsResponse = Type.Object({
  since: DateTime,
  until: DateTime,
  deliveries: Type.Object(
    { total: Count, pending: Count, succeeded: Count, dead: Count },
    { description: 'Deliveries created in the window, by their status now' },
  ),
  successRate: Nullable(
    Type.Number({ minimum: 0, maximum: 1, description: 'succeeded / (succeeded + dead); null when both are 0' }),
  ),
  attempts: Type.Object(
    {
      total: Count,
      failed: Type.Integer({ minimum: 0, description: 'No answer, or a status code outside 2xx' }),
      latencyMs: Type.Object(
        { p50: Millis, p95: Millis, p99: Millis },
        { description: 'Interpolated percentiles of attempt durations; null without attempts' },
      ),
    },
    { description: 'Attempts started in the window' },
  ),
  topFailingSubscriptions: Type.Array(
    Type.Object({
      subscriptionId: Type.String(),
      url: Type.String(),
      failedAttempts: Type.Integer({ minimum: 1 }),
      lastStatusCode: Type.Optional(
        Type.Integer({
          description: "Status code of the latest failed attempt in the window; absent when that attempt got no answer",
        }),
      ),
    }),
    { maxItems: 5, description: 'Most failed attempts in the window first; ties by subscription id' },
  ),
});
