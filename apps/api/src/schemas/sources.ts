import { Type } from 'typebox';
import { MAX_SOURCE_SECRETS, PROVIDER_NAMES } from '@hookrelay/domain';
import { DateTime, Nullable } from './common.ts';

const Secret = Type.String({ minLength: 1, maxLength: 512 });

export const GenericHmacConfig = Type.Object(
  {
    header: Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$", description: 'Header carrying the signature' }),
    algorithm: Type.Union([Type.Literal('sha256'), Type.Literal('sha512')]),
    encoding: Type.Union([Type.Literal('hex'), Type.Literal('base64')]),
    prefix: Type.Optional(Type.String({ maxLength: 50, description: 'Text before the signature, e.g. `sha256=`' })),
    idHeader: Type.Optional(Type.String({ pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$", description: 'Header with a unique delivery id, for de-duplication' })),
  },
  { additionalProperties: false },
);

const fields = {
  provider: Type.Union(PROVIDER_NAMES.map((p) => Type.Literal(p))),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  secret: Secret,
  secrets: Type.Array(Secret, { minItems: 1, maxItems: MAX_SOURCE_SECRETS, description: 'Newest first; two while rotating' }),
  eventTypePrefix: Nullable(Type.String({ pattern: '^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$' })),
  config: Nullable(GenericHmacConfig),
  enabled: Type.Boolean(),
};

export const CreateSourceBody = Type.Object(
  {
    provider: fields.provider,
    name: fields.name,
    secret: Type.Optional(fields.secret),
    secrets: Type.Optional(fields.secrets),
    eventTypePrefix: Type.Optional(fields.eventTypePrefix),
    config: Type.Optional(fields.config),
    enabled: Type.Optional(fields.enabled),
  },
  { additionalProperties: false },
);

export const UpdateSourceBody = Type.Object(
  {
    name: Type.Optional(fields.name),
    secret: Type.Optional(fields.secret),
    secrets: Type.Optional(fields.secrets),
    eventTypePrefix: Type.Optional(fields.eventTypePrefix),
    config: Type.Optional(fields.config),
    enabled: Type.Optional(fields.enabled),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const SourceResponse = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  name: Type.String(),
  ingestUrl: Type.String({ description: 'Give this URL to the provider' }),
  eventTypePrefix: Nullable(Type.String()),
  config: Nullable(GenericHmacConfig),
  enabled: Type.Boolean(),
  secretCount: Type.Integer({ description: 'Active secrets; the secrets themselves are never shown' }),
  stats: Type.Object({
    accepted: Type.Integer(),
    duplicate: Type.Integer(),
    rejected: Type.Integer(),
    lastReceivedAt: Nullable(DateTime),
  }),
  createdAt: DateTime,
  updatedAt: DateTime,
});

export const IngestResponse = Type.Object({
  received: Type.Boolean(),
  eventId: Type.String(),
  duplicate: Type.Boolean(),
});

export const SourceTestResponse = Type.Object({
  statusCode: Type.Integer({ description: 'What the ingest endpoint answered the signed sample call' }),
  response: Type.Unknown(),
});
