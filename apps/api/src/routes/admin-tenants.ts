import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createApiKey, createTenant, getTenant, isUuid, listApiKeys, listTenants, revokeApiKey } from '@hookrelay/db';
import { notFound } from '../plugins/errors.ts';
import { IdParams, Page, PageQuery, errorResponses } from '../schemas/common.ts';
import {
  ApiKeyResponse,
  CreateTenantBody,
  CreatedApiKeyResponse,
  CreatedTenantResponse,
  TenantResponse,
} from '../schemas/tenants.ts';
import { AdminReplayBody, ReplayAccepted } from '../schemas/replay.ts';
import type { RouteDeps } from './deps.ts';
import { startDeadReplay } from './replay.ts';

const presentKey = (k: { id: string; hint: string; createdAt: Date; revokedAt: Date | null }) => ({
  id: k.id,
  hint: k.hint,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
});
const presentTenant = (t: { id: string; name: string; createdAt: Date }) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() });

export const adminTenantRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, queues, apiKeys }) => {
  const existingTenant = async (id: string) => {
    const tenant = isUuid(id) ? await getTenant(db, id) : undefined;
    if (!tenant) throw notFound('tenant');
    return tenant;
  };

  app.post(
    '/tenants',
    { schema: { tags: ['admin'], body: CreateTenantBody, response: { 201: CreatedTenantResponse, ...errorResponses } } },
    async (request, reply) => {
      const { tenant, apiKey } = await createTenant(db, request.body.name);
      return reply.code(201).send({ ...presentTenant(tenant), apiKey });
    },
  );

  app.get(
    '/tenants',
    {
      schema: {
        tags: ['admin'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(TenantResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listTenants(db, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
      return { data: page.data.map(presentTenant), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/tenants/:id',
    { schema: { tags: ['admin'], params: IdParams, response: { 200: TenantResponse, ...errorResponses } } },
    async (request) => presentTenant(await existingTenant(request.params.id)),
  );

  app.get(
    '/tenants/:id/api-keys',
    { schema: { tags: ['admin'], params: IdParams, response: { 200: Type.Object({ data: Type.Array(ApiKeyResponse) }), ...errorResponses } } },
    async (request) => {
      await existingTenant(request.params.id);
      return { data: (await listApiKeys(db, request.params.id)).map(presentKey) };
    },
  );

  app.post(
    '/tenants/:id/api-keys',
    { schema: { tags: ['admin'], params: IdParams, response: { 201: CreatedApiKeyResponse, ...errorResponses } } },
    async (request, reply) => {
      const created = isUuid(request.params.id) ? await createApiKey(db, request.params.id) : undefined;
      if (!created) throw notFound('tenant');
      return reply.code(201).send({ ...presentKey(created), apiKey: created.apiKey });
    },
  );

  app.delete(
    '/tenants/:id/api-keys/:keyId',
    {
      schema: {
        tags: ['admin'],
        description: 'Revokes a key: requests with it answer 401, at once on the API process that revoked it and within 5 s on any other.',
        params: Type.Object({ id: Type.String(), keyId: Type.String() }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id, keyId } = request.params;
      const ok = isUuid(id) && isUuid(keyId) && (await revokeApiKey(db, id, keyId));
      if (!ok) throw notFound('api key');
      apiKeys.forgetAll();
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/replay',
    {
      schema: {
        tags: ['admin'],
        description: 'Replays dead deliveries across tenants, optionally narrowed to a tenant, a subscription and a time window.',
        body: AdminReplayBody,
        response: { 202: ReplayAccepted, ...errorResponses },
      },
    },
    async (request, reply) => reply.code(202).send(await startDeadReplay(db, queues, request.body)),
  );
};
