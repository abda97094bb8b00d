import { Type } from 'typebox';
import { DateTime, Nullable } from './common.ts';

export const CreateTenantBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200 }) },
  { additionalProperties: false },
);

export const TenantResponse = Type.Object({ id: Type.String(), name: Type.String(), createdAt: DateTime });

export const CreatedTenantResponse = Type.Object({
  ...TenantResponse.properties,
  apiKey: Type.String({ description: 'Shown once; only its hash is stored' }),
});

export const ApiKeyResponse = Type.Object({
  id: Type.String(),
  hint: Type.String({ description: 'The first characters of the key, to tell keys apart' }),
  createdAt: DateTime,
  revokedAt: Nullable(DateTime),
});

export const CreatedApiKeyResponse = Type.Object({ ...ApiKeyResponse.properties, apiKey: Type.String() });
