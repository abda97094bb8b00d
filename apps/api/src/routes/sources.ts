import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OPERATIONAL_EVENT_PREFIX, PROVIDERS, type GenericHmacConfig, type ProviderName } from '@hookrelay/domain';
import {
  createSource,
  createWithinCap,
  deleteSource,
  getSource,
  isUuid,
  listSources,
  updateSource,
  type Source,
} from '@hookrelay/db';
import { badField, notFound } from '../plugins/errors.ts';
import { IdParams, Page, PageQuery, errorResponses } from '../schemas/common.ts';
import { CreateSourceBody, SourceResponse, SourceTestResponse, UpdateSourceBody } from '../schemas/sources.ts';
import type { RouteDeps } from './deps.ts';

interface SecretFields {
  secret?: string | undefined;
  secrets?: string[] | undefined;
}

/** `secret` and `secrets` are two spellings of one field; answers the list, or undefined. */
function secretsOf(body: SecretFields): string[] | undefined {
  if (body.secret !== undefined && body.secrets !== undefined) throw badField('body', 'takes secret or secrets, not both');
  return body.secrets ?? (body.secret !== undefined ? [body.secret] : undefined);
}

function checkProviderFields(provider: ProviderName, secrets: string[] | undefined, config: GenericHmacConfig | null | undefined) {
  if (provider === 'generic_hmac' && !config) throw badField('body/config', 'is required for the generic_hmac provider');
  if (provider !== 'generic_hmac' && config) throw badField('body/config', 'is only for the generic_hmac provider');
  if (provider === 'standard_webhooks' && secrets) {
    for (const s of secrets) {
      const b64 = s.startsWith('whsec_') ? s.slice(6) : s;
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || Buffer.from(b64, 'base64').length === 0) {
        throw badField('body/secrets', 'Standard Webhooks secrets are base64, optionally prefixed with "whsec_"');
      }
    }
  }
}

function checkPrefix(prefix: string | null | undefined) {
  if (prefix && `${prefix}.`.toLowerCase().startsWith(OPERATIONAL_EVENT_PREFIX)) {
    throw badField('body/eventTypePrefix', `must not start with "${OPERATIONAL_EVENT_PREFIX}": it is reserved`);
  }
}

export function ingestUrlFor(request: FastifyRequest, publicUrl: string | undefined, id: string): string {
  const base = publicUrl ?? `${request.protocol}://${request.host}`;
  return `${base.replace(/\/+$/, '')}/in/${id}`;
}

export const sourceRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, { db, publicUrl, limits }) => {
  const present = (request: FastifyRequest, s: Source) => ({
    id: s.id,
    provider: s.provider,
    name: s.name,
    ingestUrl: ingestUrlFor(request, publicUrl, s.id),
    eventTypePrefix: s.eventTypePrefix,
    config: (s.config as GenericHmacConfig | null) ?? null,
    enabled: s.enabled,
    secretCount: s.secrets.length,
    stats: {
      accepted: s.acceptedCount,
      duplicate: s.duplicateCount,
      rejected: s.rejectedCount,
      lastReceivedAt: s.lastReceivedAt?.toISOString() ?? null,
    },
    createdAt: s.createdAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
  });
  const load = async (tenantId: string, id: string) => {
    const source = isUuid(id) ? await getSource(db, tenantId, id) : undefined;
    if (!source) throw notFound('source');
    return source;
  };

  app.post(
    '/sources',
    { schema: { tags: ['sources'], body: CreateSourceBody, response: { 201: SourceResponse, ...errorResponses } } },
    async (request, reply) => {
      const body = request.body;
      const secrets = secretsOf(body);
      if (!secrets) throw badField('body/secret', 'is required: the provider signs its calls with it');
      checkProviderFields(body.provider, secrets, body.config);
      checkPrefix(body.eventTypePrefix);
      // At most HOOKRELAY_MAX_SOURCES_PER_TENANT live ones: a 409 past it, and nothing written.
      const cap = limits?.maxSourcesPerTenant ?? 0;
      const source = await createWithinCap(db, request.tenantId, 'sources', cap, (db) => createSource(db, request.tenantId, {
        provider: body.provider,
        name: body.name,
        secrets,
        eventTypePrefix: body.eventTypePrefix ?? null,
        config: body.config ?? null,
        enabled: body.enabled ?? true,
      }));
      return reply.code(201).send(present(request, source));
    },
  );

  app.get(
    '/sources',
    {
      schema: {
        tags: ['sources'],
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(SourceResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listSources(db, request.tenantId, { limit: request.query.limit ?? 50, cursor: request.query.cursor });
      return { data: page.data.map((s) => present(request, s)), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/sources/:id',
    { schema: { tags: ['sources'], params: IdParams, response: { 200: SourceResponse, ...errorResponses } } },
    async (request) => present(request, await load(request.tenantId, request.params.id)),
  );

  app.patch(
    '/sources/:id',
    {
      schema: { tags: ['sources'], params: IdParams, body: UpdateSourceBody, response: { 200: SourceResponse, ...errorResponses } },
    },
    async (request) => {
      const source = await load(request.tenantId, request.params.id);
      const { secret: _secret, secrets: _secrets, ...rest } = request.body;
      const secrets = secretsOf(request.body);
      checkProviderFields(source.provider as ProviderName, secrets, rest.config === undefined ? source.config as GenericHmacConfig | null : rest.config);
      checkPrefix(rest.eventTypePrefix);
      const updated = await updateSource(db, request.tenantId, source.id, { ...rest, ...(secrets ? { secrets } : {}) });
      if (!updated) throw notFound('source');
      return present(request, updated);
    },
  );

  app.delete(
    '/sources/:id',
    { schema: { tags: ['sources'], params: IdParams, response: { 204: Type.Null(), ...errorResponses } } },
    async (request, reply) => {
      const ok = isUuid(request.params.id) && (await deleteSource(db, request.tenantId, request.params.id));
      if (!ok) throw notFound('source');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/sources/:id/test',
    {
      schema: {
        tags: ['sources'],
        description: "Sends a correctly signed sample call, as the provider would, to the source's ingest endpoint.",
        params: IdParams,
        response: { 200: SourceTestResponse, ...errorResponses },
      },
    },
    async (request) => {
      const source = await load(request.tenantId, request.params.id);
      const adapter = PROVIDERS[source.provider as ProviderName];
      const sample = adapter.signedSample(source.secrets[0]!, Date.now(), (source.config as GenericHmacConfig | null) ?? undefined);
      // Through the real ingest route, in process: the same checks a provider's call meets.
      const res = await app.inject({
        method: 'POST',
        url: `/in/${source.id}`,
        headers: { ...sample.headers, 'content-type': sample.contentType },
        payload: sample.body,
      });
      let response: unknown = res.body;
      try {
        response = res.json();
      } catch {
        // not JSON: keep the text
      }
      return { statusCode: res.statusCode, response };
    },
  );
};
