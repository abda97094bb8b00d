import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { IncomingHttpHeaders } from 'node:http';
import { Type } from 'typebox';
import {
  MAX_JSON_DEPTH,
  OPERATIONAL_EVENT_PREFIX,
  PROVIDERS,
  jsonDepthExceeds,
  normalizeEventType,
  storableKey,
  type GenericHmacConfig,
  type ProviderName,
} from '@hookrelay/domain';
import { countRejectedCall, findSourceForIngest, ingestSourceCall, isUuid } from '@hookrelay/db';
import { HttpError, notFound } from '../plugins/errors.ts';
import { ErrorResponse } from '../schemas/common.ts';
import { IngestResponse } from '../schemas/sources.ts';
import { enqueueCommitted, type RouteDeps } from './deps.ts';

/** Providers send larger payloads than tenants publish (a GitHub push can be big). */
export const INGEST_BODY_LIMIT = 1024 * 1024;

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/**
 * `POST /in/:sourceId`: a provider's webhook. The provider's signature is the authentication, so
 * the body is kept as raw bytes, verified before anything is stored, and only then parsed.
 */
export const ingestRoutes: FastifyPluginAsyncTypebox<RouteDeps> = async (app, deps) => {
  const { db, metrics } = deps;
  // Encapsulated to this plugin: every content type arrives as the exact bytes that were signed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: INGEST_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.post(
    '/:sourceId',
    {
      bodyLimit: INGEST_BODY_LIMIT,
      schema: {
        tags: ['sources'],
        description: 'Where a provider sends its webhooks. No API key: the provider signature authenticates the call.',
        params: Type.Object({ sourceId: Type.String() }),
        response: { 200: Type.Union([IngestResponse, Type.Object({ challenge: Type.String() })]), 401: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { sourceId } = request.params;
      const source = isUuid(sourceId) ? await findSourceForIngest(db, sourceId) : undefined;
      if (!source || !source.enabled) throw notFound('source');

      const provider = source.provider as ProviderName;
      const adapter = PROVIDERS[provider];
      const config = (source.config as GenericHmacConfig | null) ?? undefined;
      const call = {
        rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
        headers: flatHeaders(request.headers),
        nowMs: Date.now(),
      };
      const verification = adapter.verify(call, source.secrets, config);
      if (!verification.ok) {
        request.log.warn({ sourceId, provider, reason: verification.reason }, 'inbound call rejected');
        await countRejectedCall(db, sourceId);
        throw new HttpError(401, verification.message);
      }

      let data: unknown;
      try {
        data = adapter.parseBody(call);
      } catch {
        throw new HttpError(400, 'body is signed correctly but is not a payload this provider sends');
      }
      // Thousands of nested arrays would overflow JSON.stringify when stored: a 500 before this check.
      if (jsonDepthExceeds(data)) throw new HttpError(400, `body is signed correctly but nested deeper than ${MAX_JSON_DEPTH} levels`);
      // Slack confirms a new endpoint by asking it to echo a challenge.
      if (provider === 'slack' && (data as { type?: unknown })?.type === 'url_verification') {
        return reply.send({ challenge: String((data as { challenge?: unknown }).challenge ?? '') });
      }

      const description = adapter.describe(call, data, config);
      let type = normalizeEventType(description.eventType, source.eventTypePrefix);
      // A provider's type cannot pass for one of Hookrelay's own events.
      if (type.toLowerCase().startsWith(OPERATIONAL_EVENT_PREFIX)) type = normalizeEventType(type, provider);
      const result = await ingestSourceCall(db, {
        sourceId,
        tenantId: source.tenantId,
        type,
        data,
        // A key too long for the receipts index, or with NUL in it, is kept as its digest: a 500 before.
        source: { sourceId, provider, dedupKey: description.dedupKey === null ? null : storableKey(description.dedupKey), headers: description.sourceHeaders },
      });
      if (!result.duplicate) metrics?.eventsIngested.inc({ origin: 'source' });
      await enqueueCommitted(deps, result.deliveries, request.log, { eventId: result.eventId });
      return reply.send({ received: true, eventId: result.eventId, duplicate: result.duplicate });
    },
  );
};
