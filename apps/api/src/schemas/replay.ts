import { Type } from 'typebox';
import { DateTime } from './common.ts';

const window = {
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Only deliveries created at or after this time' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Only deliveries created before this time' })),
};

export const ReplayBody = Type.Object(
  { status: Type.Literal('dead', { description: 'Which deliveries to replay; only dead ones can be' }), ...window },
  { additionalProperties: false },
);

export const AdminReplayBody = Type.Object(
  { tenantId: Type.Optional(Type.String({ format: 'uuid' })), subscriptionId: Type.Optional(Type.String({ format: 'uuid' })), ...window },
  { additionalProperties: false },
);

export const ReplayAccepted = Type.Object({
  count: Type.Integer({ description: 'Dead deliveries matching now; they are replayed in the background, in batches' }),
  jobId: Type.String({ description: 'The replay job in the maintenance queue; the same request while it runs reuses it' }),
  requestedAt: DateTime,
});
